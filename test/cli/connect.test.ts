/**
 * connect(): the configuration every command works with is the deployed engine's. With `database` not given, a deployed
 * MLflowVpcStack's engine (its outputs) is pinned, so that a lean deployment kept on Aurora (lean's default became
 * sqlite in 0.3.0) is not refused its Aurora settings, and a default never moves what is deployed.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { connect, databaseOfOutputs } from '../../src/cli/aws';
import { CliError, EXIT } from '../../src/cli/errors';
import { harness, outputs, setStacks } from './helpers';

const AURORA_STACK = { Outputs: outputs({ ArtifactBucketName: 'b', DatabaseClusterIdentifier: 'mlflow-db' }) };
const SQLITE_STACK = { Outputs: outputs({ ArtifactBucketName: 'b', DatabaseReplicaBucketName: 'r' }) };

async function connected(context: Record<string, string>, stacks: Record<string, object>, cdkContext: Record<string, unknown> = {}) {
  const h = harness({ cdkContext });
  setStacks(h.mocks, stacks);
  return connect(h.deps, { context, help: false });
}

describe('connect: the deployed database engine', () => {
  it('databaseOfOutputs: the cluster identifier is aurora, the replica bucket sqlite, neither undefined', () => {
    assert.equal(databaseOfOutputs({ DatabaseClusterIdentifier: 'x' }), 'aurora');
    assert.equal(databaseOfOutputs({ DatabaseReplicaBucketName: 'x' }), 'sqlite');
    assert.equal(databaseOfOutputs({ ArtifactBucketName: 'x' }), undefined);
  });

  it('a lean deployment on Aurora, database not given: the configuration is Aurora\'s, pinned', async () => {
    const target = await connected({ profile: 'lean' }, { MLflowVpcStack: AURORA_STACK });
    assert.equal(target.config.database, 'aurora');
    assert.equal(target.config.maxTasks, 2);
    assert.deepEqual(target.databasePin, { engine: 'aurora', defaultEngine: 'sqlite' });
  });

  it('a lean deployment on Aurora with an Aurora setting in cdk.json (refused under sqlite): accepted, pinned to Aurora', async () => {
    const target = await connected({}, { MLflowVpcStack: AURORA_STACK }, { profile: 'lean', dbAutoPauseMinutes: 60 });
    assert.equal(target.config.database, 'aurora');
    assert.equal(target.config.dbAutoPauseMinutes, 60);
    assert.deepEqual(target.databasePin, { engine: 'aurora', defaultEngine: 'sqlite' });
  });

  it('the same settings with nothing deployed, or a sqlite deployment: the sqlite default refuses the Aurora setting', async () => {
    for (const stacks of [{}, { MLflowVpcStack: SQLITE_STACK }] as Array<Record<string, object>>) {
      await assert.rejects(connected({}, stacks, { profile: 'lean', dbAutoPauseMinutes: 60 }), (error: unknown) => {
        assert.ok(error instanceof CliError);
        assert.equal(error.exitCode, EXIT.usage);
        assert.match(error.message, /dbAutoPauseMinutes/);
        return true;
      });
    }
  });

  it('database given: no pin and no read of the stack, whatever is deployed', async () => {
    const h = harness();
    setStacks(h.mocks, { MLflowVpcStack: AURORA_STACK });
    const target = await connect(h.deps, { context: { profile: 'lean', database: 'sqlite' }, help: false });
    assert.equal(target.config.database, 'sqlite');
    assert.equal(target.databasePin, undefined);
    assert.equal(h.mocks.cfn.calls().length, 0);
  });

  it('a sqlite deployment, or none, with the default: no pin', async () => {
    for (const stacks of [{ MLflowVpcStack: SQLITE_STACK }, {}] as Array<Record<string, object>>) {
      const target = await connected({ profile: 'lean' }, stacks);
      assert.equal(target.config.database, 'sqlite');
      assert.equal(target.databasePin, undefined);
    }
  });

  it('a standard deployment on Aurora: its default, no pin', async () => {
    const target = await connected({}, { MLflowVpcStack: AURORA_STACK });
    assert.equal(target.config.database, 'aurora');
    assert.equal(target.databasePin, undefined);
  });
});
