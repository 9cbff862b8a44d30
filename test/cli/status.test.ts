import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { EXIT } from '../../src/cli/errors';
import { accessDenied, credentialsError, harness, Harness, outputs, setStacks, unknownRegionError } from './helpers';

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
