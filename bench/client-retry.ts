/**
 * `npm run bench:client-retry`: how long a start the MLflow client (the e2e environment's release, default retries)
 * survives when a deployment answers 503 while MLflow starts, as a sleeping one does (docs/guides/sleep.md). Load
 * generator: four concurrent MLflow Python clients (`MlflowClient().search_experiments()`), each against its own Node
 * `http` stand-in on loopback: two never serve (their attempts' times give the budget: a start that ends before the
 * last attempt is survived), two serve 15 s before the budget the retry rules predict (they must succeed). Bounded: the
 * client gives up after its last retry (about 4 minutes); exits 1 if a figure contradicts the prediction.
 */
import { cpus } from 'node:os';
import { ensurePythonEnv } from '../test/support/python-env';
import { clientAgainst, PAUSED_RETRY_AFTER_SECONDS, PREDICTED, standIn } from '../test/e2e/support/retry-stand-in';

const MARGIN = 15;

async function main(): Promise<void> {
  const python = ensurePythonEnv();
  const cases = [
      { name: `Retry-After ${PAUSED_RETRY_AFTER_SECONDS}, never serves`, retryAfter: PAUSED_RETRY_AFTER_SECONDS, serveAfter: Infinity },
      { name: 'no Retry-After, never serves', retryAfter: undefined, serveAfter: Infinity },
      { name: `Retry-After ${PAUSED_RETRY_AFTER_SECONDS}, serves after ${PREDICTED.retryAfter - MARGIN} s`, retryAfter: PAUSED_RETRY_AFTER_SECONDS, serveAfter: PREDICTED.retryAfter - MARGIN },
      { name: `no Retry-After, serves after ${PREDICTED.backoff - MARGIN} s`, retryAfter: undefined, serveAfter: PREDICTED.backoff - MARGIN },
  ];
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}; four clients at once, loopback stand-ins`);
  const stands = await Promise.all(cases.map((c) => standIn(c.retryAfter, c.serveAfter)));
  try {
    const results = await Promise.all(stands.map((s) => clientAgainst(python, s)));
    results.forEach((r, i) => console.log(`${cases[i].name}: ${r.ok ? 'ok' : 'failed'} after ${r.seconds.toFixed(1)} s; attempts at ${r.attempts.map((a) => a.toFixed(1)).join(', ')} s`));
    const [withHeader, withoutHeader, servedWith, servedWithout] = results;
    const budgetWith = withHeader.attempts.at(-1)!;
    const budgetWithout = withoutHeader.attempts.at(-1)!;
    console.log(`longest start survived: ${budgetWith.toFixed(1)} s with Retry-After ${PAUSED_RETRY_AFTER_SECONDS} (predicted ${PREDICTED.retryAfter}), ${budgetWithout.toFixed(1)} s without (predicted ${PREDICTED.backoff})`);
    const problems = [
      ...(withHeader.ok || withoutHeader.ok ? ['a stand-in that never serves was answered'] : []),
      ...(budgetWith < PREDICTED.retryAfter - 1 ? [`budget with Retry-After ${budgetWith} s below the prediction`] : []),
      ...(budgetWithout < PREDICTED.backoff - 1 ? [`budget without ${budgetWithout} s below the prediction`] : []),
      ...(servedWith.ok && servedWithout.ok ? [] : ['a start shorter than the budget was not survived']),
    ];
    for (const p of problems) console.error(`unexpected: ${p}`);
    process.exitCode = problems.length ? 1 : 0;
  } finally {
    for (const s of stands) await s.close();
  }
}

void main();
