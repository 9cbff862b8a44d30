import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { EXIT } from '../../src/cli/errors';
import { countMlflowContents } from '../../src/cli/mlflow-contents';
import { accessDenied, credentialsError, fakeBucket, harness, Harness, outputs, setStacks, unknownRegionError } from './helpers';

const URI = 'https://abc123.execute-api.us-west-2.amazonaws.com';

function healthy(h: Harness, capacity: number[] = [0]): void {
  setStacks(h.mocks, {
    MLflowVpcStack: {
      StackStatus: 'UPDATE_COMPLETE',
      LastUpdatedTime: new Date('2026-01-10T08:00:00Z'),
      Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc', DatabaseClusterIdentifier: 'mlflow-db', MlflowVersion: '3.13.0' }),
    },
    HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: URI }) },
    SageMakerStudioUserStack: {},
  });
  h.mocks.ecs.on(DescribeServicesCommand, { cluster: 'mlflow-cluster', services: ['mlflow-svc'] }).resolves({
    services: [{ status: 'ACTIVE', runningCount: 2, desiredCount: 2, pendingCount: 0, deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }] }],
  });
  h.mocks.rds.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'mlflow-db' }).resolves({
    DBClusters: [
      {
        Status: 'available',
        ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 3600 },
        DBClusterMembers: [{ DBInstanceIdentifier: 'mlflow-db-reader', IsClusterWriter: false }, { DBInstanceIdentifier: 'mlflow-db-writer', IsClusterWriter: true }],
      },
    ],
  });
  h.mocks.cw.on(GetMetricDataCommand).resolves({
    MetricDataResults: [{ Id: 'capacity', Values: capacity, Timestamps: capacity.map((_, i) => new Date(Date.parse('2026-01-15T11:59:00Z') - i * 60_000)) }],
  });
}

describe('status', () => {
  it('healthy deployment with a paused database: stacks, endpoint, tasks, paused writer; exit 0', async () => {
    const h = harness();
    healthy(h, [0, 0.5]);
    assert.equal(await h.run('status'), EXIT.ok, h.text());
    const text = h.out.join('\n');
    assert.match(text, /MLflowVpcStack\s+UPDATE_COMPLETE \(2026-01-10T08:00:00.000Z\)/);
    assert.match(text, /HttpGatewayStack\s+CREATE_COMPLETE/);
    assert.match(text, /SageMakerStudioUserStack\s+CREATE_COMPLETE/);
    assert.doesNotMatch(text, /SageMakerNotebookInstanceStack/, 'a stack the configuration does not create and that is not deployed is not listed');
    assert.match(text, new RegExp(`Endpoint\\s+${URI.replace(/\./g, '\\.')}`));
    assert.match(text, /Tasks\s+2 running \/ 2 desired \(service ACTIVE, deployment COMPLETED\)/);
    assert.match(text, /mlflow-db: available/);
    assert.match(text, /Serverless v2 0-2 ACU, auto-pause after 60 min idle/);
    assert.match(text, /writer mlflow-db-writer: paused \(0 ACU at 2026-01-15T11:59:00.000Z\)/);
    const query = h.mocks.cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    assert.equal(query.MetricDataQueries?.[0].MetricStat?.Metric?.MetricName, 'ServerlessDatabaseCapacity');
    assert.deepEqual(query.MetricDataQueries?.[0].MetricStat?.Metric?.Dimensions, [{ Name: 'DBInstanceIdentifier', Value: 'mlflow-db-writer' }]);
  });

  it('auth=sso: the sign-in URL and the Cognito user pool where people and groups are managed; no such line in the other modes', async () => {
    const h = harness({ cdkContext: { auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc' } });
    healthy(h);
    setStacks(h.mocks, {
      MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc', DatabaseClusterIdentifier: 'mlflow-db', SsoUserPoolId: 'us-west-2_AbC123' }) },
      HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: 'https://mlflow.example.com' }) },
      SageMakerStudioUserStack: {},
    });
    assert.equal(await h.run('status'), EXIT.ok, h.text());
    assert.match(h.out.join('\n'), /Sign-in\s+https:\/\/mlflow\.example\.com\/oauth2\/start \(people and groups: Cognito user pool us-west-2_AbC123, https:\/\/us-west-2\.console\.aws\.amazon\.com\/cognito\/v2\/idp\/user-pools\/us-west-2_AbC123\/users\)/);
    const own = harness({ cdkContext: { auth: 'sso', ssoIssuerUrl: 'https://example.okta.com/', ssoClientId: '0oa1' } });
    healthy(own);
    assert.equal(await own.run('status'), EXIT.ok, own.text());
    assert.match(own.out.join('\n'), /Sign-in\s+https:\/\/abc123\.execute-api\.us-west-2\.amazonaws\.com\/oauth2\/start \(people and groups: your OpenID provider\)/);
    const shared = harness();
    healthy(shared);
    assert.equal(await shared.run('status'), EXIT.ok, shared.text());
    assert.doesNotMatch(shared.out.join('\n'), /Sign-in/);
  });

  for (const [name, min, max, suspended, expected] of [
    ['paused (`pause`: 0..0, scaling suspended)', 0, 0, true, /Tasks\s+0 running \/ 0 desired: paused \(`npx mlflow-on-aws resume` starts it again\)/],
    ['outside the active hours (0..0 by the schedule)', 0, 0, false, /Tasks\s+0 running \/ 0 desired: outside activeHours \(0\.\.0 until their next start; `npx mlflow-on-aws resume` opens it early\)/],
    ['asleep (sleepAfterMinutes: minimum 0, maximum kept)', 0, 2, false, /Tasks\s+0 running \/ 0 desired: asleep \(sleepAfterMinutes\): the next request wakes it/],
  ] as const) {
    it(`a service with no task says why, from its scalable target: ${name}; not a problem`, async () => {
      const h = harness();
      healthy(h);
      h.mocks.ecs.on(DescribeServicesCommand, { cluster: 'mlflow-cluster', services: ['mlflow-svc'] }).resolves({
        services: [{ status: 'ACTIVE', runningCount: 0, desiredCount: 0, pendingCount: 0, deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }] }],
      });
      h.mocks.aas.on(DescribeScalableTargetsCommand, { ServiceNamespace: 'ecs', ResourceIds: ['service/mlflow-cluster/mlflow-svc'], ScalableDimension: 'ecs:service:DesiredCount' }).resolves({
        ScalableTargets: [{
          ServiceNamespace: 'ecs', ResourceId: 'service/mlflow-cluster/mlflow-svc', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: min, MaxCapacity: max, RoleARN: 'r', CreationTime: new Date(),
          SuspendedState: { DynamicScalingInSuspended: suspended, DynamicScalingOutSuspended: suspended, ScheduledScalingSuspended: suspended },
        }],
      });
      assert.equal(await h.run('status'), EXIT.ok, h.text());
      assert.match(h.out.join('\n'), expected);
    });
  }

  it('running database shows its capacity', async () => {
    const h = harness();
    healthy(h, [1.5]);
    assert.equal(await h.run('status'), EXIT.ok);
    assert.match(h.out.join('\n'), /writer mlflow-db-writer: running at 1.5 ACU/);
  });

  it('no capacity datapoint: says unknown instead of guessing', async () => {
    const h = harness();
    healthy(h, []);
    assert.equal(await h.run('status'), EXIT.ok);
    assert.match(h.out.join('\n'), /capacity unknown \(no ServerlessDatabaseCapacity data/);
  });

  it('fewer running than desired tasks and a rolled-back stack: listed, exit 1', async () => {
    const h = harness();
    healthy(h);
    h.mocks.ecs.on(DescribeServicesCommand).resolves({ services: [{ status: 'ACTIVE', runningCount: 0, desiredCount: 2, pendingCount: 1 }] });
    setStacks(h.mocks, {
      MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'c', EcsServiceName: 's', DatabaseClusterIdentifier: 'mlflow-db' }) },
      HttpGatewayStack: { StackStatus: 'UPDATE_ROLLBACK_COMPLETE', Outputs: outputs({ MlflowTrackingUri: URI }) },
    });
    assert.equal(await h.run('status'), EXIT.failure);
    const text = h.out.join('\n');
    assert.match(text, /0 running \/ 2 desired, 1 pending/);
    assert.match(text, /Needs attention:/);
    assert.match(text, /only 0 of 2 MLflow tasks are running/);
    assert.match(text, /stack HttpGatewayStack is UPDATE_ROLLBACK_COMPLETE/);
    assert.match(text, /SageMakerStudioUserStack\s+not deployed/);
  });

  it('nothing deployed: exit 5, says where it looked', async () => {
    const h = harness({ env: { AWS_REGION: 'eu-west-1' } });
    assert.equal(await h.run('status'), EXIT.notDeployed);
    assert.match(h.out.join('\n'), /MLflowVpcStack\s+not deployed/);
    assert.match(h.err.join('\n'), /Stack MLflowVpcStack is not deployed in account 123456789012, region eu-west-1/);
    assert.match(h.err.join('\n'), /another region/);
    assert.deepEqual(h.targets.map((t) => t.region), ['eu-west-1']);
  });

  it('--region and --profile choose the clients', async () => {
    const h = harness();
    healthy(h);
    assert.equal(await h.run('status', '--region', 'ap-southeast-2', '--profile', 'mlops'), EXIT.ok);
    assert.deepEqual(h.targets, [{ region: 'ap-southeast-2', profile: 'mlops' }]);
    assert.match(h.out[0], /region ap-southeast-2/);
  });

  it('--json: one JSON document on stdout with the same facts, nothing else on stdout; exit 0', async () => {
    const h = harness();
    healthy(h, [0, 0.5]);
    assert.equal(await h.run('status', '--json'), EXIT.ok, h.text());
    assert.equal(h.out.length, 1, 'one document, nothing else on stdout');
    assert.deepEqual(JSON.parse(h.out[0]), {
      account: '123456789012',
      region: 'us-west-2',
      stacks: [
        { name: 'MLflowVpcStack', status: 'UPDATE_COMPLETE', updated: '2026-01-10T08:00:00.000Z', deployed: true },
        { name: 'HttpGatewayStack', status: 'CREATE_COMPLETE', updated: '2026-01-01T00:00:00.000Z', deployed: true },
        { name: 'SageMakerStudioUserStack', status: 'CREATE_COMPLETE', updated: '2026-01-01T00:00:00.000Z', deployed: true },
      ],
      endpoint: URI,
      mlflowVersion: '3.13.0',
      tasks: { running: 2, desired: 2, pending: 0, serviceStatus: 'ACTIVE', rollout: 'COMPLETED', paused: false, stopped: null },
      database: {
        identifier: 'mlflow-db', status: 'available', minCapacityAcu: 0, maxCapacityAcu: 2, autoPauseMinutes: 60,
        writer: { identifier: 'mlflow-db-writer', capacityAcu: 0, at: '2026-01-15T11:59:00.000Z' },
      },
      databaseEngine: 'aurora',
      databaseReplica: null,
      problems: [],
      healthy: true,
    });
  });

  /** A database=sqlite deployment: the replica bucket output, no cluster; its replica holds `objects`. */
  function sqliteDeployment(h: Harness, objects: Record<string, string>): void {
    healthy(h);
    setStacks(h.mocks, {
      MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc', DatabaseReplicaBucketName: 'mlflow-db-replica', MlflowVersion: '3.13.0' }) },
      HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: URI }) },
      SageMakerStudioUserStack: {},
    });
    fakeBucket(h.mocks, 'mlflow-db-replica', new Map(Object.entries(objects).map(([key, at]) => [key, { size: 10, lastModified: new Date(at) }])));
  }

  it('database=sqlite: the engine, the replica and the time of its newest object (of every page); no RDS call', async () => {
    const h = harness();
    sqliteDeployment(h, {
      'litestream/mlflow/0000/0000000000000001-0000000000000007.ltx': '2026-01-15T11:58:00Z',
      'litestream/mlflow/0000/0000000000000008-0000000000000009.ltx': '2026-01-15T11:59:40Z',
      'litestream/mlflow-auth/0000/0000000000000001-0000000000000002.ltx': '2026-01-15T10:00:00Z',
      'backups/20260115T130000Z-mlflow-3.13.0/litestream/mlflow/0000/0000000000000001-0000000000000009.ltx': '2026-01-15T13:00:00Z',
    });
    assert.equal(await h.run('status'), EXIT.ok, h.text());
    assert.ok(h.out.includes('Database   sqlite, replica s3://mlflow-db-replica/litestream, last upload 2026-01-15T11:59:40.000Z'), h.out.join('\n'));
    assert.equal(h.mocks.rds.calls().length, 0);
    const json = harness();
    sqliteDeployment(json, { 'litestream/mlflow/0000/0000000000000001-0000000000000007.ltx': '2026-01-15T11:58:00Z' });
    assert.equal(await json.run('status', '--json'), EXIT.ok, json.text());
    const report = JSON.parse(json.out[0]);
    assert.deepEqual({ engine: report.databaseEngine, replica: report.databaseReplica, database: report.database },
      { engine: 'sqlite', replica: { url: 's3://mlflow-db-replica/litestream', lastUpload: '2026-01-15T11:58:00.000Z' }, database: null });
  });

  it('database=sqlite with an empty replica: says none yet', async () => {
    const h = harness();
    sqliteDeployment(h, {});
    await h.run('status');
    assert.ok(h.out.includes('Database   sqlite, replica s3://mlflow-db-replica/litestream, last upload none yet'), h.out.join('\n'));
  });

  it('an Aurora deployment: the engine before the cluster line, as before', async () => {
    const h = harness();
    healthy(h);
    await h.run('status');
    assert.ok(h.out.includes('Database   aurora mlflow-db: available'), h.out.join('\n'));
  });

  it('--json with something to attend to: the problems in the document, healthy false, exit 1', async () => {
    const h = harness();
    healthy(h);
    h.mocks.ecs.on(DescribeServicesCommand).resolves({ services: [{ status: 'ACTIVE', runningCount: 0, desiredCount: 2, pendingCount: 1 }] });
    assert.equal(await h.run('status', '--json'), EXIT.failure);
    assert.equal(h.out.length, 1);
    const report = JSON.parse(h.out[0]);
    assert.deepEqual(report.tasks, { running: 0, desired: 2, pending: 1, serviceStatus: 'ACTIVE', rollout: null, paused: false, stopped: null });
    assert.deepEqual(report.problems, ['only 0 of 2 MLflow tasks are running']);
    assert.equal(report.healthy, false);
  });

  it('--json, nothing deployed: exit 5, the error on stderr, nothing on stdout', async () => {
    const h = harness();
    assert.equal(await h.run('status', '--json'), EXIT.notDeployed);
    assert.deepEqual(h.out, []);
    assert.match(h.err.join('\n'), /Stack MLflowVpcStack is not deployed/);
  });

  it('--json, no credentials: exit 3, nothing on stdout', async () => {
    const h = harness();
    h.mocks.sts.on(GetCallerIdentityCommand).rejects(credentialsError());
    assert.equal(await h.run('status', '--json'), EXIT.noCredentials);
    assert.deepEqual(h.out, []);
    assert.match(h.err.join('\n'), /No AWS credentials/);
  });

  it('no credentials: exit 3', async () => {
    const h = harness();
    h.mocks.sts.on(GetCallerIdentityCommand).rejects(credentialsError());
    assert.equal(await h.run('status'), EXIT.noCredentials);
    assert.match(h.err[0], /No AWS credentials found while checking the credentials/);
  });

  it('access denied on DescribeStacks: exit 4 naming the action', async () => {
    const h = harness();
    h.mocks.cfn.reset();
    h.mocks.cfn.rejects(accessDenied('cloudformation:DescribeStacks'));
    assert.equal(await h.run('status'), EXIT.accessDenied);
    assert.match(h.err[0], /Access denied while reading stack MLflowVpcStack \(account 123456789012, region us-west-2\): missing permission cloudformation:DescribeStacks/);
  });

  it('a region that does not exist: exit 6', async () => {
    const h = harness();
    h.mocks.sts.on(GetCallerIdentityCommand).rejects(unknownRegionError('us-west-9'));
    assert.equal(await h.run('status', '--region', 'us-west-9'), EXIT.wrongTarget);
    assert.match(h.err[0], /Cannot reach AWS in region "us-west-9"/);
  });

  it('a malformed region name is a configuration error: exit 2, no AWS call', async () => {
    const h = harness();
    assert.equal(await h.run('status', '--region', 'uswest2'), EXIT.usage);
    assert.match(h.err[0], /Invalid setting "region"/);
    assert.equal(h.mocks.sts.commandCalls(GetCallerIdentityCommand).length, 0);
  });

  it('CloudWatch access denied only degrades the database line', async () => {
    const h = harness();
    healthy(h);
    h.mocks.cw.on(GetMetricDataCommand).rejects(accessDenied('cloudwatch:GetMetricData', 'AccessDenied'));
    assert.equal(await h.run('status'), EXIT.ok);
    assert.match(h.out.join('\n'), /capacity unknown \(Access denied/);
  });
});

/**
 * A stand-in for MLflow's search endpoints behind the proxy: `experiments` experiments, every `deletedEvery`th one
 * deleted, `runsPerExperiment` runs in each (every 4th deleted), `models` registered models with `versionsPerModel`
 * versions; pages as MLflow does (max_results, next_page_token) and records the requests.
 */
class MlflowStandIn {
  readonly requests: Array<{ method: string; path: string; authorization?: string; body?: any }> = [];
  private server!: Server;
  url = '';
  status = 200;

  constructor(private readonly shape = { experiments: 150, deletedEvery: 10, runsPerExperiment: 7, models: 3, versionsPerModel: 4 }) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.answer(req).then(([status, body]) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async answer(req: IncomingMessage): Promise<[number, unknown]> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const url = new URL(req.url!, 'http://x');
    const body = text ? JSON.parse(text) : undefined;
    this.requests.push({ method: req.method!, path: url.pathname, authorization: req.headers.authorization, body });
    if (this.status !== 200) return [this.status, { error_code: 'X', message: 'stand-in error' }];
    const page = <T>(all: T[], size: number, token: string | undefined): { items: T[]; next?: string } => {
      const start = Number(token ?? 0);
      const next = start + size < all.length ? String(start + size) : undefined;
      return { items: all.slice(start, start + size), next };
    };
    const { experiments, deletedEvery, runsPerExperiment, models, versionsPerModel } = this.shape;
    const stage = (deleted: boolean) => (deleted ? 'deleted' : 'active');
    switch (url.pathname) {
      case '/api/2.0/mlflow/experiments/search': {
        const all = Array.from({ length: experiments }, (_, i) => ({ experiment_id: String(i), lifecycle_stage: stage(i % deletedEvery === 0) }));
        const { items, next } = page(all, Number(url.searchParams.get('max_results')), url.searchParams.get('page_token') ?? undefined);
        return [200, { experiments: items, ...(next ? { next_page_token: next } : {}) }];
      }
      case '/api/2.0/mlflow/runs/search': {
        const all = (body.experiment_ids as string[]).flatMap((id) => Array.from({ length: runsPerExperiment }, (_, r) => ({ info: { run_id: `${id}-${r}`, lifecycle_stage: stage(r % 4 === 3) } })));
        const { items, next } = page(all, body.max_results, body.page_token);
        return [200, { runs: items, ...(next ? { next_page_token: next } : {}) }];
      }
      case '/api/2.0/mlflow/registered-models/search':
        return [200, { registered_models: Array.from({ length: models }, (_, i) => ({ name: `m${i}` })) }];
      case '/api/2.0/mlflow/model-versions/search':
        return [200, { model_versions: Array.from({ length: models * versionsPerModel }, (_, i) => ({ version: String(i) })) }];
      default:
        return [404, { error_code: 'ENDPOINT_NOT_FOUND' }];
    }
  }
}

describe('status --counts: what MLflow holds, counted through the endpoint', () => {
  let mlflow: MlflowStandIn;
  before(async () => {
    mlflow = new MlflowStandIn();
    await mlflow.start();
  });
  after(() => mlflow.stop());

  function withEndpoint(h: Harness, trackingUri: string): void {
    healthy(h);
    setStacks(h.mocks, {
      MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc', DatabaseClusterIdentifier: 'mlflow-db', MlflowCredentialsSecretName: 'mlflow-on-aws-credentials' }) },
      HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: trackingUri }) },
      SageMakerStudioUserStack: {},
    });
    h.mocks.secrets.on(GetSecretValueCommand, { SecretId: 'mlflow-on-aws-credentials' }).resolves({ SecretString: JSON.stringify({ username: 'admin', password: 'pa:ss' }) });
  }

  it('counts experiments, runs, registered models and versions, active and deleted, through every page, with the secret\'s credentials', async () => {
    const h = harness();
    withEndpoint(h, mlflow.url);
    mlflow.requests.length = 0;
    assert.equal(await h.run('status', '--counts'), EXIT.ok, h.text());
    assert.match(h.out.join('\n'), /Contents\s+150 experiments \(15 deleted\), 1,050 runs \(150 deleted\), 3 registered models with 12 versions/);
    assert.ok(mlflow.requests.every((r) => r.authorization === `Basic ${Buffer.from('admin:pa:ss').toString('base64')}`));
    assert.equal(mlflow.requests.filter((r) => r.path.endsWith('/experiments/search')).length, 1);
    const runSearches = mlflow.requests.filter((r) => r.path.endsWith('/runs/search'));
    assert.ok(runSearches.every((r) => r.body.experiment_ids.length <= 100 && r.body.run_view_type === 'ALL'));
    assert.deepEqual([...new Set(runSearches.flatMap((r) => r.body.experiment_ids))].length, 150, 'every experiment, the deleted ones too');
  });

  it('--counts --json: the counts under "contents" of the document', async () => {
    const h = harness();
    withEndpoint(h, mlflow.url);
    assert.equal(await h.run('status', '--counts', '--json'), EXIT.ok, h.text());
    assert.equal(h.out.length, 1);
    assert.deepEqual(JSON.parse(h.out[0]).contents, {
      experiments: { active: 135, deleted: 15 }, runs: { active: 900, deleted: 150, complete: true }, registeredModels: 3, modelVersions: 12,
    });
  });

  it('without --counts MLflow is not asked (a count would wake a paused database)', async () => {
    const h = harness();
    withEndpoint(h, mlflow.url);
    mlflow.requests.length = 0;
    assert.equal(await h.run('status'), EXIT.ok);
    assert.equal(mlflow.requests.length, 0);
    assert.doesNotMatch(h.out.join('\n'), /Contents/);
    assert.equal(h.mocks.secrets.commandCalls(GetSecretValueCommand).length, 0);
  });

  it('a tracking URI with a path keeps it', async () => {
    const h = harness();
    withEndpoint(h, `${mlflow.url}/prefix/`);
    mlflow.requests.length = 0;
    await h.run('status', '--counts');
    assert.ok(mlflow.requests.length > 0 && mlflow.requests.every((r) => r.path.startsWith('/prefix/api/2.0/mlflow/')), JSON.stringify(mlflow.requests.map((r) => r.path)));
  });

  it('refused credentials or an error answer: reported under "Needs attention", exit 1', async () => {
    for (const [status, pattern] of [[401, /refused the credentials \(401\)/], [503, /answered \/api\/2\.0\/mlflow\/experiments\/search with 503/]] as const) {
      const h = harness();
      withEndpoint(h, mlflow.url);
      mlflow.status = status;
      try {
        assert.equal(await h.run('status', '--counts'), EXIT.failure);
      } finally {
        mlflow.status = 200;
      }
      const text = h.out.join('\n');
      assert.match(text, /Contents\s+\(unknown: MLflow at http:\/\/127\.0\.0\.1:\d+ /);
      assert.match(text, new RegExp(`Needs attention:[\\s\\S]*counting MLflow's contents failed: .*${pattern.source}`));
    }
  });

  it('an endpoint that does not answer: reported, exit 1', async () => {
    const closed = new MlflowStandIn();
    await closed.start();
    const url = closed.url;
    await closed.stop();
    const h = harness();
    withEndpoint(h, url);
    assert.equal(await h.run('status', '--counts'), EXIT.failure);
    assert.match(h.out.join('\n'), /did not answer \/api\/2\.0\/mlflow\/experiments\/search: ECONNREFUSED/);
  });

  it('runs are counted within a time budget; past it the count says it is a lower bound', async () => {
    let clock = 0;
    const contents = await countMlflowContents(mlflow.url, { username: 'admin', password: 'x' }, { runPageSize: 100, runBudgetMs: 5, now: () => (clock += 1) });
    assert.equal(contents.runs.complete, false);
    assert.ok(contents.runs.active + contents.runs.deleted < 1050);
    assert.equal(contents.registeredModels, 3);
  });
});
