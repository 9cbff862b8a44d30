import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DBClusterSnapshot, DBClusterSnapshotNotFoundFault, DescribeDBClusterSnapshotsCommand } from '@aws-sdk/client-rds';
import { AURORA_MYSQL_VERSION as CLUSTER_ENGINE_VERSION } from '../../src/app/names';
import { EXIT } from '../../src/cli/errors';
import { DATABASE_NAME, STACK_NAMES } from '../../src/app/names';
import { SAMPLE_DATABASE } from '../../src/app/config/settings';
import { RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { DescribeServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { ACCOUNT, fakeBucket, harness, Harness, HarnessOptions, NODE_PATH, outputs, setStacks } from './helpers';

const SNAPSHOT = 'mlflow-before-restore';
const BUCKET = 'mlflow-artifacts-kept';
/** A bootstrapped target, with no MLflow stack. */
const TOOLKIT = { CDKToolkit: { Outputs: outputs({ BootstrapVersion: '27' }) } };

function available(overrides: Partial<DBClusterSnapshot> = {}): DBClusterSnapshot {
  return {
    DBClusterSnapshotIdentifier: SNAPSHOT,
    DBClusterSnapshotArn: `arn:aws:rds:us-west-2:${ACCOUNT}:cluster-snapshot:${SNAPSHOT}`,
    Status: 'available',
    SnapshotType: 'manual',
    Engine: 'aurora-mysql',
    EngineVersion: `8.0.mysql_aurora.${CLUSTER_ENGINE_VERSION}`,
    MasterUsername: 'mlflow',
    SnapshotCreateTime: new Date('2026-01-14T03:10:00Z'),
    ...overrides,
  };
}

function setup(snapshot: DBClusterSnapshot | Error, options: HarnessOptions = {}): Harness {
  const h = harness(options);
  setStacks(h.mocks, TOOLKIT);
  const rds = h.mocks.rds.on(DescribeDBClusterSnapshotsCommand);
  if (snapshot instanceof Error) rds.rejects(snapshot);
  else rds.resolves({ DBClusterSnapshots: [snapshot] });
  return h;
}

/** The cdk invocations the command ran (node <cdk> ...args). */
function cdkRuns(h: Harness): string[][] {
  return h.runs.filter((r) => r.command === NODE_PATH).map((r) => [...r.args.slice(1)]);
}

describe('restore', () => {
  it('checks the snapshot and deploys on it with the kept artifact bucket', async () => {
    const h = setup(available());
    const code = await h.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET, '--yes');
    assert.equal(code, EXIT.ok, h.text());
    // restore's own check, then deploy's check of the settings against the snapshot.
    assert.deepEqual(h.mocks.rds.commandCalls(DescribeDBClusterSnapshotsCommand).map((c) => c.args[0].input), [{ DBClusterSnapshotIdentifier: SNAPSHOT }, { DBClusterSnapshotIdentifier: SNAPSHOT }]);
    const runs = cdkRuns(h);
    assert.equal(runs.length, 1, JSON.stringify(runs));
    const args = runs[0].join(' ');
    assert.match(args, /^deploy --all --require-approval never /);
    for (const setting of [`dbSnapshot=${SNAPSHOT}`, 'dbSnapshotUsername=mlflow', `dbSnapshotDatabaseName=${DATABASE_NAME}`, `artifactBucketName=${BUCKET}`]) {
      assert.ok(runs[0].includes(setting) && runs[0][runs[0].indexOf(setting) - 1] === '-c', `-c ${setting} in: ${args}`);
    }
    assert.match(h.text(), /Put these settings in cdk.json/);
  });

  it('a snapshot of the original sample (master user master) is deployed with its database mlflowdb, not this project\'s', async () => {
    const h = setup(available({ MasterUsername: SAMPLE_DATABASE.username }));
    assert.equal(await h.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET, '--yes'), EXIT.ok, h.text());
    const run = cdkRuns(h)[0];
    for (const setting of [`dbSnapshotUsername=${SAMPLE_DATABASE.username}`, `dbSnapshotDatabaseName=${SAMPLE_DATABASE.databaseName}`]) {
      assert.ok(run.includes(setting), `-c ${setting} in: ${run.join(' ')}`);
    }
  });

  it('a snapshot with another master user needs the database named, and then takes it', async () => {
    const h = setup(available({ MasterUsername: 'admin' }));
    assert.equal(await h.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET, '--yes'), EXIT.usage);
    assert.match(h.text(), /master user admin, neither this project's \(mlflow: .*\) nor the original sample's \(master: in mlflowdb\)/);
    assert.match(h.text(), /--database-name/);
    assert.deepEqual(cdkRuns(h), []);
    const named = setup(available({ MasterUsername: 'admin' }));
    assert.equal(await named.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET, '--database-name', 'tracking', '--yes'), EXIT.ok, named.text());
    assert.ok(cdkRuns(named)[0].includes('dbSnapshotDatabaseName=tracking'));
  });

  it('asks before deploying, and deploys nothing when the user declines', async () => {
    const h = setup(available(), { answers: ['no'] });
    const code = await h.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET);
    assert.equal(code, EXIT.failure);
    assert.equal(h.questions.length, 1);
    assert.deepEqual(cdkRuns(h), []);
    assert.match(h.text(), /Nothing was deployed/);
  });

  it('a user who answers yes gets the deploy', async () => {
    const h = setup(available(), { answers: ['yes'] });
    assert.equal(await h.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET), EXIT.ok, h.text());
    assert.equal(cdkRuns(h).length, 1);
  });

  it('without a terminal it needs --yes', async () => {
    const h = setup(available(), { interactive: false });
    assert.equal(await h.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET), EXIT.usage);
    assert.match(h.text(), /Pass --yes/);
    assert.deepEqual(cdkRuns(h), []);
  });

  it('the artifact bucket may come from the artifactBucketName setting', async () => {
    const h = setup(available());
    assert.equal(await h.run('restore', '--snapshot', SNAPSHOT, '-c', `artifactBucketName=${BUCKET}`, '--yes'), EXIT.ok, h.text());
    assert.ok(cdkRuns(h)[0].includes(`artifactBucketName=${BUCKET}`));
  });

  it('refuses a running deployment: the database would have to be replaced; destroy keeps a final snapshot first', async () => {
    const h = setup(available());
    setStacks(h.mocks, { ...TOOLKIT, [STACK_NAMES.mlflow]: {} });
    assert.equal(await h.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET, '--yes'), EXIT.failure);
    assert.match(h.text(), /MLflowVpcStack is deployed .* cannot replace a running one/);
    assert.match(h.text(), /mlflow-on-aws destroy` first: it keeps a final snapshot/);
    assert.deepEqual(cdkRuns(h), []);
  });

  const faults: Array<[string, DBClusterSnapshot | Error, RegExp, number, string[]?]> = [
    ['a snapshot that does not exist', new DBClusterSnapshotNotFoundFault({ $metadata: { httpStatusCode: 404 }, message: `DBClusterSnapshot ${SNAPSHOT} not found.` }), /No DB cluster snapshot mlflow-before-restore in account 123456789012, region us-west-2/, EXIT.usage],
    ['a snapshot still being created', available({ Status: 'creating' }), /is creating, not available/, EXIT.failure],
    ['a snapshot of another engine', available({ Engine: 'postgres', EngineVersion: '16.4' }), /engine postgres; the MLflow database is Aurora MySQL/, EXIT.usage],
    ['a snapshot of a newer Aurora MySQL', available({ EngineVersion: '8.0.mysql_aurora.3.11.0' }), /Aurora MySQL 8.0.mysql_aurora.3.11.0; the cluster runs 3.10.3/, EXIT.usage],
    ['a snapshot in another region', available({ DBClusterSnapshotArn: `arn:aws:rds:eu-west-1:${ACCOUNT}:cluster-snapshot:${SNAPSHOT}` }), /is in eu-west-1, the deployment in us-west-2/, EXIT.usage],
    ['an automated snapshot found by its name', available({ SnapshotType: 'automated' }), /automated snapshot/, EXIT.usage],
    ['an automated snapshot (rds:)', available(), /rds:mlflow-backend-store-2026-01-14 is an automated snapshot.*\n.*copy-db-cluster-snapshot/, EXIT.usage, ['--snapshot', 'rds:mlflow-backend-store-2026-01-14']],
    ['an AWS Backup recovery point', available(), /is an AWS Backup recovery point.*\n.*copy-db-cluster-snapshot/, EXIT.usage, ['--snapshot', `arn:aws:rds:us-west-2:${ACCOUNT}:cluster-snapshot:awsbackup:job-1234`]],
  ];
  for (const [name, answer, message, exit, args] of faults) {
    it(`refuses ${name}, deploying nothing`, async () => {
      const h = setup(answer);
      const code = await h.run('restore', ...(args ?? ['--snapshot', SNAPSHOT]), '--artifact-bucket', BUCKET, '--yes');
      assert.equal(code, exit, h.text());
      assert.match(h.text(), message);
      assert.deepEqual(cdkRuns(h), []);
    });
  }

  it('usage errors: no --snapshot, no artifact bucket', async () => {
    const h = setup(available());
    assert.equal(await h.run('restore', '--yes'), EXIT.usage);
    assert.match(h.text(), /restore needs --snapshot/);
    const h2 = setup(available());
    assert.equal(await h2.run('restore', '--snapshot', SNAPSHOT, '--yes'), EXIT.usage);
    assert.match(h2.text(), /needs the existing artifact bucket/);
    assert.deepEqual([...cdkRuns(h), ...cdkRuns(h2)], []);
  });

  it('--dry-run checks everything and prints the cdk command only', async () => {
    const h = setup(available());
    assert.equal(await h.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET, '--dry-run'), EXIT.ok, h.text());
    assert.deepEqual(cdkRuns(h), []);
    assert.match(h.text(), /\$ cdk deploy --all .*-c dbSnapshot=mlflow-before-restore/);
  });
});

describe('restore, database=sqlite (copies of the replica)', () => {
  const REPLICA = 'mlflow-db-replica-123456789012';
  const at = new Date('2026-01-15T11:00:00Z');

  /** A deployed sqlite stack (MLflow 3.17.2) running one task, its replica bucket with two copies; writes on `timeline`. */
  function sqliteWorld(): { h: Harness; timeline: string[]; objects: Map<string, { size: number; lastModified: Date }> } {
    const h = harness();
    const timeline: string[] = [];
    setStacks(h.mocks, {
      ...TOOLKIT,
      MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc', MlflowVersion: '3.17.2', DatabaseReplicaBucketName: REPLICA }) },
    });
    const objects = fakeBucket(h.mocks, REPLICA, new Map(Object.entries({
      'litestream/mlflow/0000/0000000000000001-0000000000000009.ltx': 900,
      'backups/20260110T080000Z-mlflow-3.13.0/litestream/mlflow/0000/0000000000000001-0000000000000002.ltx': 200,
      'backups/20260114T090000Z-mlflow-3.17.2/litestream/mlflow/0000/0000000000000001-0000000000000004.ltx': 400,
      'backups/20260114T090000Z-mlflow-3.17.2/litestream/mlflow-auth/0000/0000000000000001-0000000000000001.ltx': 100,
    }).map(([key, size]) => [key, { size, lastModified: at }])), { log: timeline });
    h.mocks.cfn.on(GetTemplateCommand).resolves({ TemplateBody: JSON.stringify({ Resources: {
      Replica: { Type: 'AWS::S3::Bucket' },
      Service: { Type: 'AWS::ECS::Service', Properties: { DesiredCount: 1 } },
      Target: { Type: 'AWS::ApplicationAutoScaling::ScalableTarget', Properties: { MinCapacity: 0, MaxCapacity: 1, ScalableDimension: 'ecs:service:DesiredCount' } },
    } }) });
    let desired = 1;
    let running = 1;
    h.mocks.aas.on(RegisterScalableTargetCommand).callsFake(async (input) => {
      timeline.push(`register ${input.MinCapacity}-${input.MaxCapacity}`);
      return {};
    });
    h.mocks.ecs.on(UpdateServiceCommand).callsFake(async (input) => {
      desired = input.desiredCount;
      timeline.push(`desired ${desired}`);
      return {};
    });
    h.mocks.ecs.on(DescribeServicesCommand).callsFake(async () => {
      const now = running;
      running = desired;
      return { services: [{ status: 'ACTIVE', desiredCount: desired, runningCount: now, pendingCount: 0 }] };
    });
    return { h, timeline, objects };
  }

  it('--list: the copies under backups/, newest first, with their size and release; nothing changed', async () => {
    const { h, timeline } = sqliteWorld();
    assert.equal(await h.run('restore', '--list'), EXIT.ok, h.text());
    assert.deepEqual(h.out, [
      `Copies of the database replica s3://${REPLICA}/litestream, newest first (s3://${REPLICA}/backups/<id>/):`,
      '  20260114T090000Z-mlflow-3.17.2  2 object(s), 500 bytes, written by MLflow 3.17.2',
      '  20260110T080000Z-mlflow-3.13.0  1 object(s), 200 bytes, written by MLflow 3.13.0',
      'Put one back: npx mlflow-on-aws restore --backup <id>',
    ]);
    assert.deepEqual(timeline, []);
  });

  it('--backup <id>: stops every task, replaces litestream/ by the copy (checked), starts MLflow again', async () => {
    const { h, timeline, objects } = sqliteWorld();
    assert.equal(await h.run('restore', '--backup', '20260114T090000Z-mlflow-3.17.2', '--yes'), EXIT.ok, h.text());
    const from = 'backups/20260114T090000Z-mlflow-3.17.2/litestream/';
    assert.deepEqual(timeline, [
      'register 0-0',
      'desired 0',
      'delete litestream/mlflow/0000/0000000000000001-0000000000000009.ltx',
      `copy ${from}mlflow-auth/0000/0000000000000001-0000000000000001.ltx -> litestream/mlflow-auth/0000/0000000000000001-0000000000000001.ltx`,
      `copy ${from}mlflow/0000/0000000000000001-0000000000000004.ltx -> litestream/mlflow/0000/0000000000000001-0000000000000004.ltx`,
      'register 0-1',
      'desired 1',
    ]);
    assert.deepEqual([...objects.keys()].filter((k) => k.startsWith('litestream/')).sort(), [
      'litestream/mlflow-auth/0000/0000000000000001-0000000000000001.ltx', 'litestream/mlflow/0000/0000000000000001-0000000000000004.ltx',
    ]);
    assert.match(h.text(), /the bucket is versioned: they stay as earlier versions, nothing is lost/);
    assert.match(h.out.join('\n'), /Restored: MLflow serves the data of the copy 20260114T090000Z-mlflow-3\.17\.2/);
    assert.equal(cdkRuns(h).length, 0, 'no deploy');
  });

  it('--backup of a copy another MLflow release wrote: refused, naming upgrade --rollback; nothing changed', async () => {
    const { h, timeline } = sqliteWorld();
    assert.equal(await h.run('restore', '--backup', '20260110T080000Z-mlflow-3.13.0', '--yes'), EXIT.usage, h.text());
    assert.deepEqual(timeline, []);
    assert.match(h.text(), /upgrade --rollback --snapshot 20260110T080000Z-mlflow-3\.13\.0/);
  });

  it('--backup of no such copy: usage error, nothing changed', async () => {
    const { h, timeline } = sqliteWorld();
    assert.equal(await h.run('restore', '--backup', '20990101T000000Z-mlflow-9.9.9', '--yes'), EXIT.usage, h.text());
    assert.deepEqual(timeline, []);
  });

  it('--snapshot on a sqlite deployment is refused in one line, before any RDS call', async () => {
    const { h, timeline } = sqliteWorld();
    assert.equal(await h.run('restore', '--snapshot', SNAPSHOT, '--artifact-bucket', BUCKET, '--yes'), EXIT.usage, h.text());
    assert.equal(h.mocks.rds.calls().length, 0);
    assert.deepEqual(timeline, []);
    assert.match(h.err[0], /^Error: MLflowVpcStack keeps its database with database=sqlite \(replica s3:\/\/mlflow-db-replica-123456789012\/litestream\): there is no database snapshot to restore from, and --snapshot is Aurora's\.$/);
  });

  it('--backup with --snapshot: usage error before any AWS call', async () => {
    const { h } = sqliteWorld();
    assert.equal(await h.run('restore', '--backup', 'x', '--snapshot', SNAPSHOT), EXIT.usage);
    assert.deepEqual(h.targets, []);
  });

  it('--list on an Aurora deployment: refused, naming --snapshot', async () => {
    const h = harness();
    setStacks(h.mocks, { ...TOOLKIT, MLflowVpcStack: { Outputs: outputs({ DatabaseClusterIdentifier: 'mlflow-backend-store' }) } });
    assert.equal(await h.run('restore', '--list'), EXIT.usage, h.text());
    assert.match(h.text(), /keeps its database in Aurora, whose backups are snapshots/);
  });
});
