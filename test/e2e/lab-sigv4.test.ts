/**
 * The lab's SigV4 signer (lab/training/mlflow-sigv4, an MLflow request-auth provider, MLFLOW_TRACKING_AUTH=aws-sigv4)
 * through the IAM route as API Gateway runs it, on loopback: test/e2e/clients/lab_gateway_standin.py checks every
 * request's signature with a verifier written from AWS's documented SigV4 algorithm (it verifies AWS's own worked
 * example first) and then does what the route's integration does (path `/iam/{proxy+}` overwritten with
 * `/$request.path.proxy`, the caller's ARN and the gateway token in the two gateway headers), in front of the real
 * nginx proxy and MLflow started from the synthesized task definition (the notebook role on the IAM route, proxied
 * artifacts). MLflow's client runs in the e2e environment with the provider installed from its source.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../support/python-env';
import { startGatewayStandIn, type GatewayStandIn, type Verdict } from '../lab/lab-gateway';
import { installSigV4Provider, sigv4ClientEnv } from '../lab/lab-tools';
import { STANDIN_REGION } from './support/aws-standin';
import { startStack, type E2eStack } from './support/stack';
import { LOOPBACK_ACCOUNT } from './support/task-definition';

const CLIENTS = join(REPO_ROOT, 'test', 'e2e', 'clients');
/** The notebook instance's role (sagemaker=notebook) as the IAM route reports a session of it. */
const NOTEBOOK_SESSION_ARN = `arn:aws:sts::${LOOPBACK_ACCOUNT}:assumed-role/mlflow-lab-notebook-${STANDIN_REGION}/SageMaker`;
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'ASIALABNOTEBOOK00001', AWS_SECRET_ACCESS_KEY: 'lab/notebook+secret=key', AWS_SESSION_TOKEN: 'session-token-of-the-notebook' };


let stack: E2eStack;
let gateway: GatewayStandIn;
let provider: string;

function runClient(script: string, args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(stack.python.python, [join(CLIENTS, script), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.once('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

/** A client of the IAM route as the lab configures one: the provider, the role's credentials, no password. */
function signingEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...sigv4ClientEnv({ pythonBin: stack.python.bin, home: stack.workDir, provider, trackingUri: `${gateway.url}/iam`, region: STANDIN_REGION, credentials: CREDENTIALS }),
    ...extra,
  };
}

before(async () => {
  stack = await startStack({ settings: { sagemaker: 'notebook', proxyArtifacts: true } });
  assert.ok(stack.gatewayToken, 'the task definition gives the proxy a gateway token with a SageMaker role');
  provider = installSigV4Provider(stack.python.python, stack.workDir);
  gateway = await startGatewayStandIn(stack, {
    [CREDENTIALS.AWS_ACCESS_KEY_ID]: { secret: CREDENTIALS.AWS_SECRET_ACCESS_KEY, token: CREDENTIALS.AWS_SESSION_TOKEN, arn: NOTEBOOK_SESSION_ARN },
  });
});

after(async () => {
  await gateway?.service.stop();
  await stack?.stop();
});

describe('SigV4 from the lab\'s provider, verified as API Gateway\'s IAM route verifies it', () => {
  let result: any;
  let verdicts: Verdict[];

  before(async () => {
    const out = join(mkdtempSync(join(stack.workDir, 'sigv4-client-')), 'result.json');
    const run = await runClient('lab_sigv4_client.py', ['--out', out], signingEnv());
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    result = JSON.parse(readFileSync(out, 'utf8'));
    verdicts = gateway.verdicts();
  });

  it('every MLflow call with spaces, unicode, reserved characters and repeated parameters succeeds', () => {
    assert.equal(result.error, null, JSON.stringify(result.error, null, 1) + '\n' + JSON.stringify(verdicts.filter((v) => v.verdict !== 'verified'), null, 1));
    assert.equal(result.experiment_name, 'California housing é+&=%\'ü');
    assert.deepEqual(result.experiments_found, [result.experiment_name]);
    assert.equal(result.runs_found, 1);
    assert.equal(result.model_version, '1');
    assert.equal(result.versions_found, 1);
    assert.ok(result.models_found.includes('California housing RF é+&=%\'ü'), result.models_found);
    assert.equal(result.alias_version, '1');
    assert.equal(result.description, 'described é+&=%\'ü');
    assert.deepEqual(result.logged_model_tags, {});
  });

  it('artifact uploads (file bodies, PUT) and downloads through the proxied artifact store keep names and content', () => {
    assert.deepEqual(result.artifacts, ['dir with space/ü & +/my file (1) +&=%\'é.txt']);
    assert.equal(result.artifact_round_trip, true);
  });

  it('the gateway verified every request, of every method MLflow uses, as the notebook role, and MLflow answered each', () => {
    assert.ok(verdicts.length > 20, `${verdicts.length} requests`);
    assert.deepEqual(verdicts.filter((v) => v.verdict !== 'verified'), []);
    assert.deepEqual([...new Set(verdicts.map((v) => v.method))].sort(), ['DELETE', 'GET', 'PATCH', 'POST', 'PUT']);
    assert.deepEqual([...new Set(verdicts.map((v) => v.principal))], [NOTEBOOK_SESSION_ARN]);
    assert.deepEqual(verdicts.filter((v) => (v.status ?? 0) >= 400 && !(v.status === 404 && /get-by-name/.test(v.target))), []);
    // The cases that need re-encoding did occur: a space written %20 (never "+"), a repeated parameter, a path escape.
    assert.ok(verdicts.some((v) => /experiment_name=California%20housing%20%C3%A9%2B%26%3D%25%27%C3%BC/.test(v.target)), 'get-by-name with the name encoded');
    assert.ok(verdicts.some((v) => /order_by=[^&]*&(.*&)?order_by=/.test(v.target)), 'two order_by values');
    assert.ok(verdicts.some((v) => v.method === 'PUT' && /my%20file%20%281%29%20%2B%26%3D%25%27%C3%A9\.txt$/.test(v.target)), 'the upload path');
    assert.ok(verdicts.every((v) => !/\+/.test(v.target)), 'no "+" on the wire');
  });

  it('a request changed after it was signed, or signed with another key, is refused with 403', async () => {
    const run = await runClient('lab_sigv4_client.py', ['--tamper'], signingEnv());
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.deepEqual(JSON.parse(run.stdout.trim().split('\n').pop()!), { tampered_query: 403, tampered_body: 403, other_secret: 403, untouched: 200 });
  });
});
