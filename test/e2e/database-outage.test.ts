/**
 * A database that stops answering without refusing connections (frozen, or a network path that drops packets): the
 * kernel still accepts TCP connections, nothing answers. MLflow must answer with an error once `dbReadTimeoutSeconds`
 * (plus the driver's connect timeout) has passed, not hold the request and the worker serving it until the proxy
 * gives up after 300 s; once the database answers again, MLflow serves without a restart. (A database that refuses
 * connections, as a stopped one does, is covered by platform.test.ts with the default settings.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { http, mlflowApi } from './support/http';
import { waitFor } from './support/service';
import { startStack, type E2eStack } from './support/stack';

/** Short, so that the test is quick; the default is 60 s. */
const READ_TIMEOUT_SECONDS = 5;
let stack: E2eStack;

before(async () => {
  stack = await startStack({ settings: { dbReadTimeoutSeconds: READ_TIMEOUT_SECONDS } });
});

after(async () => {
  stack?.db.thaw();
  await stack?.stop();
});

describe('a database that stops answering', () => {
  it('gets errors from MLflow after the read timeout, not requests hung until the proxy gives up; then recovers', async () => {
    const auth = { authorization: stack.authorization() };
    assert.equal(stack.task.mlflow.environment.DB_READ_TIMEOUT_SECONDS, String(READ_TIMEOUT_SECONDS));
    // Pooled connections in both workers, as a busy server has.
    const warm = await Promise.all(Array.from({ length: 8 }, () => http(stack.proxy!.url, mlflowApi.searchExperiments, { headers: auth })));
    assert.deepEqual(warm.map((r) => r.status), Array(8).fill(200));

    stack.db.freeze();
    try {
      const answers = await Promise.all(Array.from({ length: 2 }, () => http(stack.proxy!.url, mlflowApi.searchExperiments, { headers: auth, timeoutMs: 330_000 })));
      for (const answer of answers) {
        console.log(`frozen database: ${answer.status} after ${(answer.ms / 1000).toFixed(1)} s`);
        // 504 would be the proxy giving up after its 300 s read timeout: MLflow itself must answer.
        assert.ok(answer.status >= 500 && answer.status !== 504, `${answer.status} ${answer.body.slice(0, 200)}`);
      }
      assert.equal((await http(stack.proxy!.url, '/elb-status')).status, 200, 'the health check does not touch the database');
    } finally {
      stack.db.thaw();
    }
    await waitFor('MLflow to serve again', async () => (await http(stack.proxy!.url, mlflowApi.searchExperiments, { headers: auth })).status === 200, 60_000);
    assert.ok(stack.servers[0].service.running(), 'MLflow was not restarted');
  });
});
