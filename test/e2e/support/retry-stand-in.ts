/**
 * A loopback stand-in for a deployment that answers 503 while MLflow starts (as a sleeping or resuming one does), and
 * the MLflow client call that meets it: shared by test/e2e/client-retry.test.ts and bench/client-retry.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PAUSED_RETRY_AFTER_SECONDS } from '../../../src/lib/gateway/http-gateway';
import type { PythonEnv } from '../../support/python-env';
import { runPython } from './stack';

export { PAUSED_RETRY_AFTER_SECONDS };

export interface StandIn {
  readonly url: string;
  /** Seconds after the first request at which each request came. */
  readonly attempts: number[];
  close(): Promise<void>;
}

/** Answers 503 (with `Retry-After` when given) until `serveAfterSeconds` after the first request, then serves. */
export async function standIn(retryAfter: number | undefined, serveAfterSeconds: number): Promise<StandIn> {
  let first: number | undefined;
  const attempts: number[] = [];
  const server: Server = createServer((request, response) => {
    request.resume();
    const now = Date.now();
    first ??= now;
    attempts.push((now - first) / 1000);
    if ((now - first) / 1000 < serveAfterSeconds) {
      response.writeHead(503, { 'content-type': 'application/json', ...(retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }) });
      response.end('{"message":"Service Unavailable"}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"experiments": []}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const CLIENT = `
import json, time
from mlflow import MlflowClient
start = time.time()
try:
    MlflowClient().search_experiments()
    print(json.dumps({"ok": True, "seconds": time.time() - start}))
except Exception as error:
    print(json.dumps({"ok": False, "seconds": time.time() - start, "error": str(error)[:300]}))
`;


export interface ClientResult { ok: boolean; seconds: number; error?: string; attempts: number[] }

/** One MLflow client (the e2e environment's release, default retries) calling `search_experiments` on the stand-in. */
export async function clientAgainst(python: PythonEnv, stand: StandIn, timeoutMs = 600_000): Promise<ClientResult> {
  const run = await runPython(python, ['-c', CLIENT], { MLFLOW_TRACKING_URI: stand.url, AWS_EC2_METADATA_DISABLED: 'true', HOME: '/tmp' }, timeoutMs);
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`the client printed no result: ${run.stdout}\n${run.stderr}`);
  return { ...(JSON.parse(line) as { ok: boolean; seconds: number; error?: string }), attempts: [...stand.attempts] };
}

/** The budgets the client's rules predict (docs/reference/cli.md): 7 retries after Retry-After each, or urllib3's backoff. */
export const PREDICTED = { retryAfter: 7 * PAUSED_RETRY_AFTER_SECONDS, backoff: 0 + 4 + 8 + 16 + 32 + 64 + 120 };
