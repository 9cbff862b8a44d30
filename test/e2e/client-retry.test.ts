/**
 * How long a start the MLflow client (the configured release, default retries) survives when the deployment answers
 * 503 while MLflow starts, as a sleeping one does: a loopback stand-in answers 503 (with or without `Retry-After`)
 * and then serves. Four clients run at once: two against stand-ins that never serve (their attempts' times give the
 * budget: a start that ends before the last attempt is survived) and two against stand-ins that serve shortly before
 * the budget the retry rules predict (they must succeed). Figures: docs/guides/sleep.md.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { PAUSED_RETRY_AFTER_SECONDS } from '../../src/lib/gateway/http-gateway';
import { ensurePythonEnv } from '../support/python-env';
import { runPython } from './support/stack';

interface StandIn {
  readonly url: string;
  /** Seconds after the first request at which each request came. */
  readonly attempts: number[];
  close(): Promise<void>;
}

/** Answers 503 (with `Retry-After` when given) until `serveAfterSeconds` after the first request, then serves. */
async function standIn(retryAfter: number | undefined, serveAfterSeconds: number): Promise<StandIn> {
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

/** The budgets the client's rules predict (docs/reference/cli.md): 7 retries after Retry-After each, or urllib3's backoff. */
const PREDICTED = { retryAfter: 7 * PAUSED_RETRY_AFTER_SECONDS, backoff: 0 + 4 + 8 + 16 + 32 + 64 + 120 };
/** Seconds before the predicted budget at which the serving stand-ins start to serve. */
const MARGIN = 15;

const standIns: StandIn[] = [];
after(async () => {
  for (const s of standIns) await s.close();
});

describe('the MLflow client against a deployment that answers 503 while it starts', () => {
  it('survives a start up to its last retry: measured with and without Retry-After', async () => {
    const python = ensurePythonEnv();
    const cases = [
      { name: `Retry-After ${PAUSED_RETRY_AFTER_SECONDS}, never serves`, retryAfter: PAUSED_RETRY_AFTER_SECONDS, serveAfter: Infinity },
      { name: 'no Retry-After, never serves', retryAfter: undefined, serveAfter: Infinity },
      { name: `Retry-After ${PAUSED_RETRY_AFTER_SECONDS}, serves after ${PREDICTED.retryAfter - MARGIN} s`, retryAfter: PAUSED_RETRY_AFTER_SECONDS, serveAfter: PREDICTED.retryAfter - MARGIN },
      { name: `no Retry-After, serves after ${PREDICTED.backoff - MARGIN} s`, retryAfter: undefined, serveAfter: PREDICTED.backoff - MARGIN },
    ];
    for (const c of cases) standIns.push(await standIn(c.retryAfter, c.serveAfter));
    const results = await Promise.all(cases.map(async (c, i) => {
      const run = await runPython(python, ['-c', CLIENT], { MLFLOW_TRACKING_URI: standIns[i].url, AWS_EC2_METADATA_DISABLED: 'true', HOME: '/tmp' }, 600_000);
      const line = run.stdout.trim().split('\n').pop() ?? '';
      assert.ok(line.startsWith('{'), `${c.name}: ${run.stdout}\n${run.stderr}`);
      return { ...c, ...JSON.parse(line) as { ok: boolean; seconds: number; error?: string }, attempts: standIns[i].attempts };
    }));
    for (const r of results) console.log(`${r.name}: ${r.ok ? 'ok' : 'failed'} after ${r.seconds.toFixed(1)} s; attempts at ${r.attempts.map((a) => a.toFixed(1)).join(', ')} s`);

    const [withHeader, withoutHeader, servedWith, servedWithout] = results;
    for (const r of [withHeader, withoutHeader]) {
      assert.equal(r.ok, false, `${r.name}: the client gives up`);
      assert.equal(r.attempts.length, 8, `${r.name}: one request and 7 retries`);
      assert.match(r.error ?? '', /503/, `${r.name}: the error names the 503`);
    }
    // Retry-After is followed: 30 s between attempts.
    const gaps = withHeader.attempts.slice(1).map((a, i) => a - withHeader.attempts[i]);
    assert.ok(gaps.every((g) => g >= PAUSED_RETRY_AFTER_SECONDS - 0.5 && g < PAUSED_RETRY_AFTER_SECONDS + 3), gaps.join(', '));
    const budgetWith = withHeader.attempts.at(-1)!;
    const budgetWithout = withoutHeader.attempts.at(-1)!;
    console.log(`longest start survived: ${budgetWith.toFixed(1)} s with Retry-After ${PAUSED_RETRY_AFTER_SECONDS}, ${budgetWithout.toFixed(1)} s without`);
    assert.ok(budgetWith >= PREDICTED.retryAfter - 1, `with Retry-After: ${budgetWith}`);
    assert.ok(budgetWithout >= PREDICTED.backoff - 1, `without: ${budgetWithout}`);
    for (const r of [servedWith, servedWithout]) assert.equal(r.ok, true, `${r.name}: ${r.error}`);
  });
});
