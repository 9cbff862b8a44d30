/**
 * The lean profile's task size (0.5 vCPU, 1 GiB: one MLflow worker) on the real runtime: MLflow and the proxy must leave
 * headroom in 1 GiB idle and after a burst of tracking and UI-like traffic, or Fargate would kill the task
 * (out of memory) in the cheapest deployment. Same measure as the platform test's, with the lean task definition.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertMemoryWithin } from './support/memory';
import { startStack, type E2eStack } from './support/stack';

/**
 * The lean profile: its task is 0.5 vCPU and 1 GiB by default. With Aurora (database=aurora), which this suite's stack
 * (MariaDB on loopback) stands in for; the default database=sqlite runs Litestream, which the support does not start yet.
 */
const LEAN = { profile: 'lean', database: 'aurora' } as const;
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
    await assertMemoryWithin(stack, MEMORY_BUDGET, 'e2e-lean-memory');
  });
});
