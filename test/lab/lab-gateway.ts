/**
 * API Gateway's IAM route on loopback, for the lab's tests: test/e2e/clients/lab_gateway_standin.py (a SigV4 verifier
 * written from AWS's documented algorithm, then the route's integration: path `/iam/{proxy+}` overwritten with
 * `/$request.path.proxy`, the caller's ARN and the gateway token in the two gateway headers) in front of an e2e stack's
 * proxy.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../containers/support/proxy';
import { STANDIN_REGION } from '../e2e/support/aws-standin';
import { startService, waitFor, type Service } from '../e2e/support/service';
import type { E2eStack } from '../e2e/support/stack';
import { REPO_ROOT, SYSTEM_PATH } from '../support/python-env';

const STANDIN = join(REPO_ROOT, 'test', 'e2e', 'clients', 'lab_gateway_standin.py');

/** One request the stand-in received: its verdict, and MLflow's status when it was forwarded. */
export interface Verdict { method: string; target: string; verdict: string; reason?: string; status?: number; principal?: string; canonical_request?: string }

export interface GatewayStandIn { readonly url: string; readonly service: Service; verdicts(): Verdict[] }

/** The IAM route in front of `stack`'s proxy, admitting the principals {access key: {secret, token, arn}}. */
export async function startGatewayStandIn(stack: E2eStack, principals: Record<string, { secret: string; token?: string; arn: string }>): Promise<GatewayStandIn> {
  const dir = mkdtempSync(join(stack.workDir, 'gateway-'));
  writeFileSync(join(dir, 'principals.json'), JSON.stringify(principals));
  writeFileSync(join(dir, 'token'), stack.gatewayToken!);
  const log = join(dir, 'verdicts.jsonl');
  writeFileSync(log, '');
  const selfTest = spawnSync(stack.python.python, [STANDIN, '--self-test'], { encoding: 'utf8' });
  assert.equal(selfTest.status, 0, `the verifier does not verify AWS's documented example: ${selfTest.stdout}${selfTest.stderr}`);
  const port = await freePort();
  const service = startService('gateway stand-in', stack.python.python, [
    STANDIN, '--port', String(port), '--upstream', `127.0.0.1:${stack.proxy!.port}`,
    '--principals', join(dir, 'principals.json'), '--token-file', join(dir, 'token'), '--log', log, '--region', STANDIN_REGION,
  ], { PATH: `${stack.python.bin}:${SYSTEM_PATH}`, PYTHONUNBUFFERED: '1' }, join(stack.workDir, 'gateway.log'));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the gateway stand-in to answer', async () => (await fetch(`${url}/iam/health`)).status === 403, 30_000, service);
  writeFileSync(log, '');
  return {
    url,
    service,
    verdicts: () => readFileSync(log, 'utf8').split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as Verdict),
  };
}

