/**
 * `upgrade` and `upgrade --rollback` against mocked AWS clients (aws-sdk-client-mock) whose answers follow what the
 * calls change (the service's counts, the scalable target, the clusters), a scripted cdk and a local stand-in for the
 * endpoint (health path and the MLflow REST calls of the check). Each test reads the order of the calls off one timeline.
 */
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DescribeScalableTargetsCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, DescribeTasksCommand, RunTaskCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RestoreDBClusterFromSnapshotCommand,
} from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { MIGRATE_ONLY_ENVIRONMENT, UPGRADE_FROM_TAG } from '../../src/cli/commands/upgrade';
import { EXIT } from '../../src/cli/errors';
import { fakeBucket, FakeObjects, harness, Harness, NODE_PATH, outputs, RunnerCall, setStacks } from './helpers';

const TOOLKIT = { CDKToolkit: { Outputs: outputs({ BootstrapVersion: '27' }) } };
const TASK_DEFINITION = 'arn:aws:ecs:us-west-2:123456789012:task-definition/MLflowVpcStackTaskDefinition:8';
const TASK_ARN = 'arn:aws:ecs:us-west-2:123456789012:task/mlflow-cluster/0f1e2d3c4b5a';
const NETWORK = { awsvpcConfiguration: { subnets: ['subnet-1', 'subnet-2'], securityGroups: ['sg-tasks'], assignPublicIp: 'DISABLED' as const } };

/** The endpoint stand-in: /elb-status and the REST calls of the check, with an in-memory store. */
interface Endpoint {
  uri: string;
  calls: string[];
  failRunsCreate: boolean;
  experiments: Map<string, string>;
}

let server: Server;
const endpoint: Endpoint = { uri: '', calls: [], failRunsCreate: false, experiments: new Map() };

before(async () => {
  const runs = new Map<string, unknown>();
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (c: Buffer) => (body += c.toString()));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://x');
      endpoint.calls.push(`${request.method} ${url.pathname}`);
      const send = (status: number, json: unknown): void => {
        response.statusCode = status;
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify(json));
      };
      const input = body ? JSON.parse(body) : {};
      switch (url.pathname) {
        case '/elb-status': return send(200, {});
        case '/api/2.0/mlflow/experiments/get-by-name': {
          const id = endpoint.experiments.get(url.searchParams.get('experiment_name') ?? '');
          return id ? send(200, { experiment: { experiment_id: id } }) : send(404, { error_code: 'RESOURCE_DOES_NOT_EXIST' });
        }
        case '/api/2.0/mlflow/experiments/create':
          endpoint.experiments.set(input.name, '7');
          return send(200, { experiment_id: '7' });
        case '/api/2.0/mlflow/runs/create': {
          if (endpoint.failRunsCreate) return send(500, { error_code: 'INTERNAL_ERROR', message: 'schema mismatch' });
          const run = { info: { run_id: `run${runs.size + 1}`, experiment_id: input.experiment_id }, data: { tags: input.tags } };
          runs.set(run.info.run_id, run);
          return send(200, { run });
        }
        case '/api/2.0/mlflow/runs/get': return send(200, { run: runs.get(url.searchParams.get('run_id') ?? '') });
        case '/api/2.0/mlflow/runs/update': return send(200, {});
        default: return send(404, {});
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint.uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  endpoint.calls = [];
  endpoint.failRunsCreate = false;
  endpoint.experiments = new Map();
});

interface World {
  h: Harness;
  timeline: string[];
  scalable: { min: number; max: number; suspended: boolean };
  service: { desired: number };
}

interface Options {
  deployedVersion?: string;
  snapshotStatuses?: string[];
  migrationExitCode?: number;
  cdkExit?: number;
  yes?: boolean;
  /** database=sqlite: the stack has the replica bucket (these objects, copies recorded on the timeline) and no cluster. */
  sqlite?: { objects: FakeObjects; shortCopies?: boolean };
}

const REPLICA_BUCKET = 'mlflow-db-replica-123456789012';

/** A deployment of MLflow `deployedVersion` (default 3.13.0, the configuration's default being newer) running 1 task. */
function world(options: Options = {}): World {
  const timeline: string[] = [];
  const h = harness({
    runner: (call: RunnerCall) => {
      if (call.command === NODE_PATH) timeline.push(`cdk ${call.args.slice(1).join(' ')}`);
      return { exitCode: call.command === NODE_PATH ? (options.cdkExit ?? 0) : 0, stdout: '', stderr: '' };
    },
  });
  const sqlite = options.sqlite;
  const maxTasks = sqlite ? 1 : 2;
  const w: World = { h, timeline, scalable: { min: 1, max: maxTasks, suspended: false }, service: { desired: 1 } };
  if (sqlite) fakeBucket(h.mocks, REPLICA_BUCKET, sqlite.objects, { log: timeline, shortCopies: sqlite.shortCopies });
  setStacks(h.mocks, {
    ...TOOLKIT,
    MLflowVpcStack: {
      Outputs: outputs({
        EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc', MlflowVersion: options.deployedVersion ?? '3.13.0',
        ...(sqlite ? { DatabaseReplicaBucketName: REPLICA_BUCKET } : { DatabaseClusterIdentifier: 'mlflow-backend-store' }),
        MlflowCredentialsSecretName: 'mlflow-server-credentials',
      }),
    },
    HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: endpoint.uri }) },
  });
  h.mocks.cfn.on(GetTemplateCommand).resolves({
    TemplateBody: JSON.stringify({
      Resources: {
        // A standard-profile stack (it has the load balancer), as the configuration's default profile says: deploy's
        // profile check reads the same template.
        LoadBalancer: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer' },
        // database=aurora has the cluster, sqlite the replica bucket (deploy keeps the deployed engine: -c database=...).
        ...(sqlite ? { Replica: { Type: 'AWS::S3::Bucket' } } : { Database: { Type: 'AWS::RDS::DBCluster' } }),
        Service: { Type: 'AWS::ECS::Service', Properties: { DesiredCount: 1 } },
        Target: { Type: 'AWS::ApplicationAutoScaling::ScalableTarget', Properties: { MinCapacity: 1, MaxCapacity: maxTasks, ScalableDimension: 'ecs:service:DesiredCount' } },
      },
    }),
  });
  h.mocks.aas.on(DescribeScalableTargetsCommand).callsFake(async () => ({
    ScalableTargets: [{
      ServiceNamespace: 'ecs', ResourceId: 'service/mlflow-cluster/mlflow-svc', ScalableDimension: 'ecs:service:DesiredCount',
      MinCapacity: w.scalable.min, MaxCapacity: w.scalable.max, RoleARN: 'r', CreationTime: new Date(),
      SuspendedState: { DynamicScalingInSuspended: w.scalable.suspended, DynamicScalingOutSuspended: w.scalable.suspended, ScheduledScalingSuspended: w.scalable.suspended },
    }],
  }));
  h.mocks.aas.on(RegisterScalableTargetCommand).callsFake(async (input) => {
    w.scalable = { min: input.MinCapacity, max: input.MaxCapacity, suspended: input.SuspendedState.ScheduledScalingSuspended };
    timeline.push(`register ${input.MinCapacity}-${input.MaxCapacity}${input.SuspendedState.ScheduledScalingSuspended ? ' suspended' : ''}`);
    return {};
  });
  h.mocks.ecs.on(UpdateServiceCommand).callsFake(async (input) => {
    w.service.desired = input.desiredCount;
    timeline.push(`desired ${input.desiredCount}`);
    return {};
  });
  // The tasks follow the desired count one look later (a stop or a start takes a poll).
  let running = 1;
  let seen = 1;
  h.mocks.ecs.on(DescribeServicesCommand).callsFake(async () => {
    const now = running;
    running = w.service.desired;
    if (now === 0 && seen > 0) w.timeline.push('no task runs');
    seen = now;
    return {
      services: [{
        status: 'ACTIVE', desiredCount: w.service.desired, runningCount: now, pendingCount: 0,
        taskDefinition: TASK_DEFINITION, networkConfiguration: NETWORK, launchType: 'FARGATE', platformVersion: 'LATEST',
      }],
    };
  });
  h.mocks.ecs.on(DescribeTaskDefinitionCommand).resolves({
    taskDefinition: {
      taskDefinitionArn: TASK_DEFINITION,
      containerDefinitions: [
        { name: 'mlflow-server', logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': 'mlflow-logs', 'awslogs-stream-prefix': 'mlflow', 'awslogs-region': 'us-west-2' } } },
        { name: 'nginx-auth-proxy' },
      ],
    },
  });
  h.mocks.ecs.on(RunTaskCommand).callsFake(async () => {
    timeline.push('run migration task');
    return { tasks: [{ taskArn: TASK_ARN }], failures: [] };
  });
  const taskStates = ['PROVISIONING', 'RUNNING', 'STOPPED'];
  h.mocks.ecs.on(DescribeTasksCommand).callsFake(async () => {
    const state = taskStates.length > 1 ? taskStates.shift()! : taskStates[0];
    if (state === 'STOPPED') timeline.push('migration task stopped');
    return {
      tasks: [{
        taskArn: TASK_ARN, lastStatus: state, stoppedReason: state === 'STOPPED' ? 'Essential container in task exited' : undefined,
        containers: [{ name: 'mlflow-server', exitCode: state === 'STOPPED' ? (options.migrationExitCode ?? 0) : undefined }, { name: 'nginx-auth-proxy' }],
      }],
    };
  });
  const logPages = [
    'not-found',
    { events: [{ message: 'mlflow-server: migrating the schema from revision 1b5f0d9ad7c1 to dc11669786a5' }, { message: 'INFO  [alembic.runtime.migration] Running upgrade' }], nextForwardToken: 'f/1' },
    { events: [{ message: options.migrationExitCode ? 'mlflow-server: mlflow db upgrade failed with exit code 1' : 'mlflow-server: database schema is up to date' }], nextForwardToken: 'f/2' },
  ];
  h.mocks.logs.on(GetLogEventsCommand).callsFake(async (input) => {
    if (input.logGroupName !== 'mlflow-logs' || input.logStreamName !== 'mlflow/mlflow-server/0f1e2d3c4b5a') throw new Error(`unexpected stream ${input.logStreamName}`);
    const page = logPages.length > 0 ? logPages.shift()! : { events: [], nextForwardToken: input.nextToken };
    if (page === 'not-found') throw Object.assign(new Error('The specified log stream does not exist.'), { name: 'ResourceNotFoundException' });
    return page;
  });
  h.mocks.secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'admin', password: 'secret-password-1' }) });

  const snapshotStatuses = [...(options.snapshotStatuses ?? ['creating', 'available'])];
  h.mocks.rds.on(CreateDBClusterSnapshotCommand).callsFake(async (input) => {
    timeline.push(`snapshot ${input.DBClusterSnapshotIdentifier} of ${input.DBClusterIdentifier}`);
    return {};
  });
  h.mocks.rds.on(DescribeDBClusterSnapshotsCommand).callsFake(async (input) => {
    const status = snapshotStatuses.length > 1 ? snapshotStatuses.shift()! : snapshotStatuses[0];
    if (status === 'available') timeline.push('snapshot available');
    return { DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: input.DBClusterSnapshotIdentifier, Status: status }] };
  });
  return w;
}

function upgradeArgs(extra: string[] = []): string[] {
  return ['upgrade', '--yes', '-c', 'imageBuild=codebuild', ...extra];
}

describe('upgrade', () => {
  it('stops every task, snapshots, deploys kept at 0, migrates once in a one-off task, starts, and checks a write and a read', async () => {
    const w = world();
    const code = await w.h.run(...upgradeArgs());
    assert.equal(code, EXIT.ok, w.h.text());
    assert.deepEqual(w.timeline, [
      'register 0-0 suspended',
      'desired 0',
      'no task runs',
      'snapshot mlflow-upgrade-3-13-0-to-3-17-2-20260115-120010 of mlflow-backend-store', // after one poll of the stop,
      'snapshot available',
      'cdk deploy --all --require-approval never -c imageBuild=codebuild -c database=aurora',
      // the deploy's pause kept: put back after cdk
      'register 0-0 suspended',
      'desired 0',
      'run migration task',
      'migration task stopped',
      'register 1-2',
      'desired 1',
    ]);
    const snapshot = w.h.mocks.rds.commandCalls(CreateDBClusterSnapshotCommand)[0].args[0].input;
    assert.deepEqual(snapshot.Tags, [{ Key: UPGRADE_FROM_TAG, Value: '3.13.0' }, { Key: 'mlflow-on-aws:upgrade-to', Value: '3.17.2' }]);
    const run = w.h.mocks.ecs.commandCalls(RunTaskCommand)[0].args[0].input;
    assert.equal(run.taskDefinition, TASK_DEFINITION, 'the new task definition the deploy left on the service');
    assert.deepEqual(run.networkConfiguration, NETWORK, 'the service\'s subnets and security groups');
    assert.equal(run.launchType, 'FARGATE');
    assert.deepEqual(run.overrides?.containerOverrides, [{ name: 'mlflow-server', environment: [MIGRATE_ONLY_ENVIRONMENT] }]);
    const text = w.h.text();
    assert.match(text, /\| mlflow-server: migrating the schema from revision 1b5f0d9ad7c1 to dc11669786a5/, 'the task\'s log is streamed');
    assert.match(text, /\| mlflow-server: database schema is up to date/);
    assert.deepEqual(endpoint.calls.filter((c) => c.includes('/api/')), [
      'GET /api/2.0/mlflow/experiments/get-by-name',
      'POST /api/2.0/mlflow/experiments/create',
      'POST /api/2.0/mlflow/runs/create',
      'GET /api/2.0/mlflow/runs/get',
      'POST /api/2.0/mlflow/runs/update',
    ]);
    assert.match(w.h.out.join('\n'), /Upgraded MLflow 3\.13\.0 to 3\.17\.2: MLflow was unavailable for \d+ s/);
  });

  it('a snapshot that fails: no deploy, no migration, MLflow started again, exit 1', async () => {
    const w = world({ snapshotStatuses: ['creating', 'failed'] });
    assert.equal(await w.h.run(...upgradeArgs()), EXIT.failure, w.h.text());
    assert.ok(!w.timeline.some((t) => t.startsWith('cdk') || t === 'run migration task'), w.timeline.join('\n'));
    assert.deepEqual(w.timeline.slice(-2), ['register 1-2', 'desired 1']);
    assert.match(w.h.text(), /Snapshot mlflow-upgrade-3-13-0-to-3-17-2-\S+ of mlflow-backend-store ended failed/);
  });

  it('a migration task that exits 1: the service stays at 0 and the one rollback command is printed', async () => {
    const w = world({ migrationExitCode: 1 });
    assert.equal(await w.h.run(...upgradeArgs(['--region', 'us-west-2'])), EXIT.failure, w.h.text());
    assert.equal(w.timeline.at(-1), 'migration task stopped');
    assert.deepEqual({ ...w.scalable, desired: w.service.desired }, { min: 0, max: 0, suspended: true, desired: 0 });
    const text = w.h.text();
    assert.match(text, /The migration task 0f1e2d3c4b5a failed: exit code 1/);
    assert.match(text, /\| mlflow-server: mlflow db upgrade failed with exit code 1/);
    assert.match(text, /MLflow stays stopped\. To get MLflow 3\.13\.0 back on the data of snapshot mlflow-upgrade-3-13-0-to-3-17-2-\S+ \(taken with every writer stopped\): npx mlflow-on-aws upgrade --rollback --region us-west-2/);
    assert.equal(endpoint.calls.length, 0, 'nothing started, nothing checked');
  });

  it('a failed deploy: nothing migrated, the service stays at 0, the rollback command is printed', async () => {
    const w = world({ cdkExit: 1 });
    assert.equal(await w.h.run(...upgradeArgs()), EXIT.failure, w.h.text());
    assert.ok(!w.timeline.includes('run migration task'));
    assert.equal(w.service.desired, 0);
    assert.match(w.h.text(), /The schema was not migrated/);
    assert.match(w.h.text(), /npx mlflow-on-aws upgrade --rollback/);
  });

  it('a check that fails after the start: exit 1, naming the rollback', async () => {
    const w = world();
    endpoint.failRunsCreate = true;
    assert.equal(await w.h.run(...upgradeArgs()), EXIT.failure, w.h.text());
    assert.match(w.h.text(), /MLflow 3\.17\.2 runs, but the check through the endpoint failed: runs\/create answered 500/);
    assert.match(w.h.text(), /npx mlflow-on-aws upgrade --rollback/);
  });

  it('the configured release is the deployed one: nothing to do, nothing touched', async () => {
    const w = world({ deployedVersion: '3.17.2' });
    assert.equal(await w.h.run(...upgradeArgs()), EXIT.ok, w.h.text());
    assert.deepEqual(w.timeline, []);
    assert.match(w.h.out.join('\n'), /MLflow 3\.17\.2 is deployed already/);
  });

  it('an older release than the deployed one is refused (migrations go forward only), nothing touched', async () => {
    const w = world({ deployedVersion: '3.17.2' });
    assert.equal(await w.h.run(...upgradeArgs(['-c', 'mlflowVersion=3.13.0'])), EXIT.usage, w.h.text());
    assert.deepEqual(w.timeline, []);
    assert.match(w.h.text(), /npx mlflow-on-aws upgrade --rollback/);
  });

  it('without --yes and without a terminal: exit 2, nothing touched', async () => {
    const w = world();
    const { runCli } = await import('../../src/cli/main');
    assert.equal(await runCli(['upgrade', '-c', 'imageBuild=codebuild'], { ...w.h.deps, interactive: false }), EXIT.usage);
    assert.deepEqual(w.timeline, []);
  });
});

describe('deploy: a change of mlflowVersion', () => {
  it('is refused before cdk runs, pointing to upgrade', async () => {
    const w = world();
    assert.equal(await w.h.run('deploy', '-c', 'imageBuild=codebuild'), EXIT.failure, w.h.text());
    assert.deepEqual(w.timeline, []);
    assert.match(w.h.text(), /MLflowVpcStack runs MLflow 3\.13\.0; the configuration says mlflowVersion=3\.17\.2/);
    assert.match(w.h.text(), /npx mlflow-on-aws upgrade/);
  });

  it('the deployed release deploys as usual', async () => {
    const w = world();
    assert.equal(await w.h.run('deploy', '-c', 'imageBuild=codebuild', '-c', 'mlflowVersion=3.13.0'), EXIT.ok, w.h.text());
    assert.deepEqual(w.timeline, ['cdk deploy --all --require-approval never -c imageBuild=codebuild -c mlflowVersion=3.13.0 -c database=aurora']);
  });
});

describe('upgrade --rollback', () => {
  /** RDS as the rollback sees it: clusters and instances by name, renamed and created by the calls. */
  function rdsWorld(w: World, snapshots: Array<{ id: string; from?: string; created: string }>): void {
    const clusters = new Map<string, string[]>([['mlflow-backend-store', ['available']]]);
    const instances = new Map<string, string[]>([['mlflow-writer-abc', ['available']]]);
    const next = (states: string[] | undefined): string | undefined => (states && states.length > 1 ? states.shift() : states?.[0]);
    const notFound = (name: string, id: string): Error => Object.assign(new Error(`${id} not found`), { name });
    w.h.mocks.rds.on(DescribeDBClusterSnapshotsCommand).resolves({
      DBClusterSnapshots: snapshots.map((s) => ({
        DBClusterSnapshotIdentifier: s.id, DBClusterSnapshotArn: `arn:aws:rds:us-west-2:123456789012:cluster-snapshot:${s.id}`, Status: 'available',
        SnapshotCreateTime: new Date(s.created), TagList: s.from ? [{ Key: UPGRADE_FROM_TAG, Value: s.from }] : [],
      })),
    });
    w.h.mocks.rds.on(DescribeDBClustersCommand).callsFake(async (input) => {
      const status = next(clusters.get(input.DBClusterIdentifier));
      if (!status) throw notFound('DBClusterNotFoundFault', input.DBClusterIdentifier);
      return {
        DBClusters: [{
          DBClusterIdentifier: input.DBClusterIdentifier, Status: status, Engine: 'aurora-mysql', EngineVersion: '8.0.mysql_aurora.3.10.3', Port: 3306,
          DBSubnetGroup: 'mlflow-db-subnets', VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-db' }], DBClusterParameterGroup: 'mlflow-params',
          ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 600 }, DeletionProtection: true,
          BackupRetentionPeriod: 7, PreferredBackupWindow: '03:00-04:00', KmsKeyId: 'arn:aws:kms:us-west-2:123456789012:key/k',
          DBClusterMembers: [{ DBInstanceIdentifier: 'mlflow-writer-abc', IsClusterWriter: true }],
          TagList: [{ Key: 'aws:cloudformation:stack-name', Value: 'MLflowVpcStack' }, { Key: 'project', Value: 'mlflow' }],
        }],
      };
    });
    w.h.mocks.rds.on(DescribeDBInstancesCommand).callsFake(async (input) => {
      const status = next(instances.get(input.DBInstanceIdentifier));
      if (!status) throw notFound('DBInstanceNotFoundFault', input.DBInstanceIdentifier);
      return { DBInstances: [{ DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceStatus: status, DBInstanceClass: 'db.serverless', Engine: 'aurora-mysql', DBParameterGroups: [{ DBParameterGroupName: 'mlflow-instance-params' }], PromotionTier: 1 }] };
    });
    w.h.mocks.rds.on(ModifyDBClusterCommand).callsFake(async (input) => {
      if (input.NewDBClusterIdentifier) {
        clusters.delete(input.DBClusterIdentifier);
        clusters.set(input.NewDBClusterIdentifier, ['renaming', 'available']);
        w.timeline.push(`rename cluster ${input.DBClusterIdentifier} -> ${input.NewDBClusterIdentifier}`);
      } else {
        w.timeline.push(`modify cluster ${input.DBClusterIdentifier} backup ${input.BackupRetentionPeriod}`);
      }
      return {};
    });
    w.h.mocks.rds.on(ModifyDBInstanceCommand).callsFake(async (input) => {
      instances.delete(input.DBInstanceIdentifier);
      instances.set(input.NewDBInstanceIdentifier, ['available']);
      w.timeline.push(`rename instance ${input.DBInstanceIdentifier} -> ${input.NewDBInstanceIdentifier}`);
      return {};
    });
    w.h.mocks.rds.on(RestoreDBClusterFromSnapshotCommand).callsFake(async (input) => {
      clusters.set(input.DBClusterIdentifier, ['creating', 'available']);
      w.timeline.push(`restore ${input.SnapshotIdentifier} as ${input.DBClusterIdentifier}`);
      return {};
    });
    w.h.mocks.rds.on(CreateDBInstanceCommand).callsFake(async (input) => {
      instances.set(input.DBInstanceIdentifier, ['creating', 'available']);
      w.timeline.push(`create instance ${input.DBInstanceIdentifier} in ${input.DBClusterIdentifier}`);
      return {};
    });
  }

  it('stops, renames the cluster aside, restores the newest upgrade snapshot under its name, deploys the old release at 0, starts and checks it', async () => {
    const w = world({ deployedVersion: '3.17.2' });
    rdsWorld(w, [
      { id: 'mlflow-upgrade-3-12-0-to-3-13-0-20251201-100000', from: '3.12.0', created: '2025-12-01T10:00:00Z' },
      { id: 'mlflow-upgrade-3-13-0-to-3-17-2-20260115-110000', from: '3.13.0', created: '2026-01-15T11:00:00Z' },
      { id: 'my-own-snapshot', created: '2026-01-15T11:30:00Z' },
    ]);
    assert.equal(await w.h.run('upgrade', '--rollback', '--yes', '-c', 'imageBuild=codebuild'), EXIT.ok, w.h.text());
    assert.deepEqual(w.timeline, [
      'register 0-0 suspended',
      'desired 0',
      'no task runs',
      'rename cluster mlflow-backend-store -> mlflow-backend-store-failed-20260115-120000',
      'rename instance mlflow-writer-abc -> mlflow-writer-abc-failed-20260115-120000',
      'restore arn:aws:rds:us-west-2:123456789012:cluster-snapshot:mlflow-upgrade-3-13-0-to-3-17-2-20260115-110000 as mlflow-backend-store',
      'modify cluster mlflow-backend-store backup 7',
      'create instance mlflow-writer-abc in mlflow-backend-store',
      'cdk deploy --all --require-approval never -c imageBuild=codebuild -c mlflowVersion=3.13.0 -c database=aurora',
      'register 0-0 suspended',
      'desired 0',
      'register 1-2',
      'desired 1',
    ]);
    const restore = w.h.mocks.rds.commandCalls(RestoreDBClusterFromSnapshotCommand)[0].args[0].input;
    assert.deepEqual(
      { subnets: restore.DBSubnetGroupName, groups: restore.VpcSecurityGroupIds, params: restore.DBClusterParameterGroupName, scaling: restore.ServerlessV2ScalingConfiguration, protection: restore.DeletionProtection, tags: restore.Tags },
      { subnets: 'mlflow-db-subnets', groups: ['sg-db'], params: 'mlflow-params', scaling: { MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 600 }, protection: true, tags: [{ Key: 'project', Value: 'mlflow' }] },
      'the restored cluster has the settings of the one it replaces (no reserved aws: tags)',
    );
    assert.ok(endpoint.calls.includes('POST /api/2.0/mlflow/runs/create'), 'a write through the endpoint');
    assert.match(w.h.out.join('\n'), /Rolled back: MLflow 3\.13\.0 serves the data of snapshot mlflow-upgrade-3-13-0-to-3-17-2-20260115-110000/);
    assert.match(w.h.out.join('\n'), /kept as mlflow-backend-store-failed-20260115-120000/);
  });

  it('no snapshot taken by an upgrade: exit 1 before anything is touched, pointing to destroy + restore', async () => {
    const w = world({ deployedVersion: '3.17.2' });
    rdsWorld(w, [{ id: 'my-own-snapshot', created: '2026-01-15T11:30:00Z' }]);
    assert.equal(await w.h.run('upgrade', '--rollback', '--yes'), EXIT.failure, w.h.text());
    assert.deepEqual(w.timeline, []);
    assert.match(w.h.text(), /no available snapshot taken by `npx mlflow-on-aws upgrade`/);
    assert.match(w.h.text(), /restore --snapshot/);
  });

  it('--snapshot without --rollback is a usage error', async () => {
    const w = world();
    assert.equal(await w.h.run('upgrade', '--snapshot', 'x'), EXIT.usage);
    assert.deepEqual(w.timeline, []);
  });
});

/** A replica as Litestream leaves it (two databases), and copies an upgrade took before. */
function replicaObjects(extra: Record<string, number> = {}): FakeObjects {
  const at = new Date('2026-01-15T11:59:50Z');
  return new Map(Object.entries({
    'litestream/mlflow/0000/0000000000000001-0000000000000007.ltx': 4096,
    'litestream/mlflow/0000/0000000000000008-0000000000000009.ltx': 512,
    'litestream/mlflow-auth/0000/0000000000000001-0000000000000003.ltx': 2048,
    ...extra,
  }).map(([key, size]) => [key, { size, lastModified: at }]));
}

const keysUnder = (objects: FakeObjects, prefix: string): string[] => [...objects.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)).sort();

describe('upgrade, database=sqlite', () => {
  it('stops every task, copies the replica to backups/<time>-mlflow-<from>/ (checked), deploys at 0, migrates once, starts, checks; no RDS call', async () => {
    const objects = replicaObjects();
    const w = world({ sqlite: { objects } });
    assert.equal(await w.h.run(...upgradeArgs()), EXIT.ok, w.h.text());
    const copy = 'backups/20260115T120010Z-mlflow-3.13.0/litestream/';
    assert.deepEqual(w.timeline, [
      'register 0-0 suspended',
      'desired 0',
      'no task runs',
      `copy litestream/mlflow-auth/0000/0000000000000001-0000000000000003.ltx -> ${copy}mlflow-auth/0000/0000000000000001-0000000000000003.ltx`,
      `copy litestream/mlflow/0000/0000000000000001-0000000000000007.ltx -> ${copy}mlflow/0000/0000000000000001-0000000000000007.ltx`,
      `copy litestream/mlflow/0000/0000000000000008-0000000000000009.ltx -> ${copy}mlflow/0000/0000000000000008-0000000000000009.ltx`,
      'cdk deploy --all --require-approval never -c imageBuild=codebuild -c database=sqlite',
      'register 0-0 suspended',
      'desired 0',
      'run migration task',
      'migration task stopped',
      'register 1-1',
      'desired 1',
    ]);
    assert.deepEqual(keysUnder(objects, copy), keysUnder(objects, 'litestream/'));
    assert.equal(w.h.mocks.rds.calls().length, 0, 'no snapshot, no RDS call');
    assert.deepEqual(w.h.mocks.ecs.commandCalls(RunTaskCommand)[0].args[0].input.overrides?.containerOverrides, [{ name: 'mlflow-server', environment: [MIGRATE_ONLY_ENVIRONMENT] }]);
    assert.match(w.h.out.join('\n'), new RegExp(`Copy of the database replica before the upgrade: s3://${REPLICA_BUCKET}/backups/20260115T120010Z-mlflow-3\\.13\\.0/ \\(kept until you delete it\\)`));
  });

  it('the copy leaves out the writer marker (a task that did not stop left it): the copy is Litestream\'s objects only', async () => {
    const objects = replicaObjects({ 'litestream/writer.json': 64 });
    const w = world({ sqlite: { objects } });
    assert.equal(await w.h.run(...upgradeArgs()), EXIT.ok, w.h.text());
    const copy = 'backups/20260115T120010Z-mlflow-3.13.0/litestream/';
    assert.deepEqual(keysUnder(objects, copy), keysUnder(objects, 'litestream/').filter((key) => key !== 'writer.json'));
    assert.ok(!w.timeline.some((t) => t.includes('writer.json')), w.timeline.join('\n'));
  });

  it('a copy that does not list as the source (sizes differ): exit 1, no deploy, no migration, the tasks left stopped', async () => {
    const w = world({ sqlite: { objects: replicaObjects(), shortCopies: true } });
    assert.equal(await w.h.run(...upgradeArgs()), EXIT.failure, w.h.text());
    assert.ok(!w.timeline.some((t) => t.startsWith('cdk') || t === 'run migration task'), w.timeline.join('\n'));
    assert.deepEqual({ ...w.scalable, desired: w.service.desired }, { min: 0, max: 0, suspended: true, desired: 0 });
    assert.match(w.h.text(), /does not match s3:\/\/mlflow-db-replica-123456789012\/litestream\/: 3 object\(s\) differ/);
    assert.match(w.h.text(), /stays stopped: start it again with `npx mlflow-on-aws resume`/);
  });

  it('an empty replica: nothing to copy, exit 1 before any deploy', async () => {
    const w = world({ sqlite: { objects: new Map() } });
    assert.equal(await w.h.run(...upgradeArgs()), EXIT.failure, w.h.text());
    assert.ok(!w.timeline.some((t) => t.startsWith('cdk')));
    assert.match(w.h.text(), /holds no object: there is nothing to copy/);
  });
});

describe('upgrade --rollback, database=sqlite', () => {
  it('stops, replaces litestream/ by the newest upgrade copy (deleted objects stay as versions), deploys its release at 0, starts and checks it', async () => {
    const objects = replicaObjects({
      'backups/20251201T100000Z-mlflow-3.12.0/litestream/mlflow/0000/0000000000000001-0000000000000002.ltx': 100,
      'backups/20260115T110000Z-mlflow-3.13.0/litestream/mlflow/0000/0000000000000001-0000000000000005.ltx': 300,
      'backups/20260115T110000Z-mlflow-3.13.0/litestream/mlflow-auth/0000/0000000000000001-0000000000000002.ltx': 200,
    });
    const w = world({ deployedVersion: '3.17.2', sqlite: { objects } });
    assert.equal(await w.h.run('upgrade', '--rollback', '--yes', '-c', 'imageBuild=codebuild'), EXIT.ok, w.h.text());
    const from = 'backups/20260115T110000Z-mlflow-3.13.0/litestream/';
    assert.deepEqual(w.timeline, [
      'register 0-0 suspended',
      'desired 0',
      'no task runs',
      'delete litestream/mlflow-auth/0000/0000000000000001-0000000000000003.ltx',
      'delete litestream/mlflow/0000/0000000000000001-0000000000000007.ltx',
      'delete litestream/mlflow/0000/0000000000000008-0000000000000009.ltx',
      `copy ${from}mlflow-auth/0000/0000000000000001-0000000000000002.ltx -> litestream/mlflow-auth/0000/0000000000000001-0000000000000002.ltx`,
      `copy ${from}mlflow/0000/0000000000000001-0000000000000005.ltx -> litestream/mlflow/0000/0000000000000001-0000000000000005.ltx`,
      'cdk deploy --all --require-approval never -c imageBuild=codebuild -c mlflowVersion=3.13.0 -c database=sqlite',
      'register 0-0 suspended',
      'desired 0',
      'register 1-1',
      'desired 1',
    ]);
    assert.deepEqual(keysUnder(objects, 'litestream/'), keysUnder(objects, from));
    assert.ok(endpoint.calls.includes('POST /api/2.0/mlflow/runs/create'), 'a write through the endpoint');
    assert.match(w.h.text(), /the bucket is versioned, so the deleted ones stay as earlier versions: nothing is lost/);
    assert.match(w.h.out.join('\n'), /Rolled back: MLflow 3\.13\.0 serves the data of the copy 20260115T110000Z-mlflow-3\.13\.0/);
    assert.equal(w.h.mocks.rds.calls().length, 0);
  });

  it('no copy taken by an upgrade: exit 1 before anything is touched', async () => {
    const objects = replicaObjects();
    const w = world({ deployedVersion: '3.17.2', sqlite: { objects } });
    assert.equal(await w.h.run('upgrade', '--rollback', '--yes'), EXIT.failure, w.h.text());
    assert.deepEqual(w.timeline, []);
    assert.equal(objects.size, 3);
    assert.match(w.h.text(), /holds no copy taken by `npx mlflow-on-aws upgrade`/);
  });
});
