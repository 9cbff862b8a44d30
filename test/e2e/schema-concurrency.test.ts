/**
 * Two MLflow tasks starting at the same moment against an empty database, as a first deployment with two tasks does:
 * each runs the container's entrypoint, whose schema step takes a MySQL named lock, so the schema is created once,
 * the other task only finds it at its release's revision (nothing to migrate), and both serve.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createExperimentAndRun, http, mlflowApi } from './support/http';
import { startStack, type E2eStack } from './support/stack';

let stack: E2eStack;

before(async () => {
  stack = await startStack({ servers: 2, proxy: false });
});

after(async () => {
  await stack?.stop();
});

describe('two MLflow servers started together on an empty database', () => {
  it('create the schema once, one after the other, without errors: the second finds it at its release\'s revision', () => {
    const logs = stack.servers.map((server) => server.service.output());
    const created = logs.filter((log) => log.includes("empty database: creating MLflow's tables"));
    const upgraded = logs.filter((log) => log.includes('running mlflow db upgrade'));
    assert.equal(created.length, 1, 'exactly one server created the tables');
    assert.equal(upgraded.length, 0, 'the other found them at its head revision: nothing to migrate');
    for (const log of logs) {
      assert.match(log, /database schema is up to date|database schema is at revision \w+, the one MLflow \S+ expects/);
      assert.doesNotMatch(log, /Traceback|\bERROR\b|OperationalError|IntegrityError|failed with exit code/, log);
    }
    assert.equal(stack.db.query(`SELECT COUNT(*) FROM \`${stack.db.database}\`.alembic_version`), '1');
    assert.equal(stack.db.query(`SELECT COUNT(*) FROM \`${stack.db.database}\`.experiments`), '1', 'one Default experiment');
    assert.equal(stack.db.query('SELECT IS_FREE_LOCK(\'mlflow-on-aws.schema-upgrade\')'), '1', 'the schema lock was released');
  });

  it('both serve the same data', async () => {
    const [first, second] = stack.servers;
    const created = await createExperimentAndRun(first.url, 'created-on-the-first-server', {});
    const seen = await http(second.url, mlflowApi.getRun(created.runId));
    assert.equal(seen.status, 200, seen.body);
    assert.equal(JSON.parse(seen.body).run.info.experiment_id, created.experimentId);
    const other = await createExperimentAndRun(second.url, 'created-on-the-second-server', {});
    assert.equal((await http(first.url, mlflowApi.getRun(other.runId))).status, 200);
  });
});
