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
 * The lean profile with its defaults: a task of 0.5 vCPU and 1 GiB, database=sqlite (MLflow's files replicated by
 * Litestream, which runs in the MLflow container and counts in its memory).
 */
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
  it('the task definition is the lean one: 512 CPU units, 1024 MiB, one MLflow worker, database=sqlite', () => {
    assert.equal(stack.task.cpu, 512);
    assert.equal(stack.task.memoryMiB, 1024);
    assert.equal(stack.task.mlflow.environment.MLFLOW_WORKERS, '1');
    assert.equal(stack.task.mlflow.environment.DATABASE_ENGINE, 'sqlite');
    assert.ok(stack.replicaBucket, 'the stack replicates to a bucket of the stand-in');
  });

  it(`MLflow and the proxy stay under ${MEMORY_BUDGET * 100} % of 1 GiB, idle and after load`, async () => {
    await assertMemoryWithin(stack, MEMORY_BUDGET, 'e2e-lean-memory');
  });
});
