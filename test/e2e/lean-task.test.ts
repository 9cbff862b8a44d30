/**
 * The lean profile's task size (0.5 vCPU, 1 GiB: one MLflow worker) on the real runtime: MLflow and the proxy must leave
 * headroom in 1 GiB idle and after a burst of tracking and UI-like traffic, or Fargate would kill the task
 * (out of memory) in the cheapest deployment. Same measure as the platform test's, with the lean task definition.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createExperimentAndRun, MLFLOW_LAZY_AUTH_IMPORT_RACE, trackingLoad, unexplainedFailures } from './support/http';
import { startStack, type E2eStack } from './support/stack';

/** The lean profile: its task is 0.5 vCPU and 1 GiB by default. */
const LEAN = { profile: 'lean' } as const;
/** Share of the task's memory MLflow and the proxy may use: 25 % headroom for spikes (a large search, an artifact upload). */
const MEMORY_BUDGET = 0.75;

let stack: E2eStack;

before(async () => {
  stack = await startStack({ settings: LEAN });
});

after(async () => {
  await stack?.stop();
});

describe('the lean task size', () => {
  it('the task definition is the lean one: 512 CPU units, 1024 MiB and one MLflow worker', () => {
    assert.equal(stack.task.cpu, 512);
    assert.equal(stack.task.memoryMiB, 1024);
    assert.equal(stack.task.mlflow.environment.MLFLOW_WORKERS, '1');
  });

  it(`MLflow and the proxy stay under ${MEMORY_BUDGET * 100} % of 1 GiB, idle and after load`, async () => {
    const limitMiB = stack.task.memoryMiB;
    const auth = { authorization: stack.authorization() };
    const url = stack.proxy!.url;
    const measure = (when: string): number => {
      const mlflow = stack.servers[0].memory();
      const proxy = stack.proxy!.memory();
      const rss = mlflow.rssMiB + proxy.rssMiB;
      console.log(`${when}: MLflow ${mlflow.processes} processes RSS ${mlflow.rssMiB.toFixed(0)} MiB (PSS ${mlflow.pssMiB.toFixed(0)}), `
        + `proxy RSS ${proxy.rssMiB.toFixed(0)} MiB; together ${(100 * rss / limitMiB).toFixed(0)} % of ${limitMiB} MiB`);
      return rss;
    };
    const idle = measure('idle');
    const target = await createExperimentAndRun(url, 'e2e-lean-memory', auth);
    const result = await trackingLoad(url, auth, target, { logMetric: 2000, searchRuns: 300, concurrency: 8 });
    assert.deepEqual(unexplainedFailures([result.logMetric, result.searchRuns], stack.servers[0].service.output()), [], 'failed requests under load');
    const excused = result.logMetric.failures + result.searchRuns.failures;
    if (excused > 0) console.log(`${excused} search_runs 500(s) from MLflow's lazy-import race (${MLFLOW_LAZY_AUTH_IMPORT_RACE})`);
    const loaded = measure('after 2,000 log_metric and 300 search_runs requests');
    for (const rss of [idle, loaded]) assert.ok(rss <= MEMORY_BUDGET * limitMiB, `${rss.toFixed(0)} MiB is over ${MEMORY_BUDGET * 100} % of ${limitMiB} MiB`);
  });
});
