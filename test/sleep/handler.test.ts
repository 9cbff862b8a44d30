/**
 * The sleep function (src/lib/operations/sleep-function/handler.js) with its real logic against aws-sdk-client-mock: what it reads, what it
 * decides and the calls it makes, on the schedule (sleep) and on a subscription delivery of the gateway's log (wake).
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, it } from 'node:test';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { handle } from '../../src/lib/operations/sleep-function/handler';

const ENV = { CLUSTER: 'c', SERVICE: 's', SLEEP_AFTER_MINUTES: '30', WAKE_TASKS: '1', METRIC_NAMESPACE: 'MLflowOnAWS', METRIC_NAME: 'ActivityRequests' };
const NOW = new Date('2026-12-07T10:00:00Z');

const ecs = mockClient(ECSClient);
const aas = mockClient(ApplicationAutoScalingClient);
const cw = mockClient(CloudWatchClient);
const clients = { ecs: new ECSClient({ region: 'us-west-2' }), autoScaling: new ApplicationAutoScalingClient({ region: 'us-west-2' }), cloudWatch: new CloudWatchClient({ region: 'us-west-2' }) };

function capacity(min: number, max: number, desired: number, options: { suspended?: boolean; deploying?: boolean } = {}): void {
  const s = options.suspended === true;
  aas.on(DescribeScalableTargetsCommand, { ServiceNamespace: 'ecs', ResourceIds: ['service/c/s'], ScalableDimension: 'ecs:service:DesiredCount' }).resolves({
    ScalableTargets: [{
      ServiceNamespace: 'ecs', ResourceId: 'service/c/s', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: min, MaxCapacity: max, RoleARN: 'r', CreationTime: NOW,
      SuspendedState: { DynamicScalingInSuspended: s, DynamicScalingOutSuspended: s, ScheduledScalingSuspended: s },
    }],
  });
  ecs.on(DescribeServicesCommand, { cluster: 'c', services: ['s'] }).resolves({
    services: [{ desiredCount: desired, runningCount: desired, deployments: [{ status: 'PRIMARY', rolloutState: options.deploying ? 'IN_PROGRESS' : 'COMPLETED' }] }],
  });
}

function activity(values: number[]): void {
  cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'activity', Values: values, Timestamps: values.map(() => NOW) }] });
}

function writes(): string[] {
  return [
    ...aas.commandCalls(RegisterScalableTargetCommand).map((c) => `min ${c.args[0].input.MinCapacity} max ${c.args[0].input.MaxCapacity ?? 'kept'} suspension ${c.args[0].input.SuspendedState ? 'changed' : 'kept'}`),
    ...ecs.commandCalls(UpdateServiceCommand).map((c) => `desired ${c.args[0].input.desiredCount}`),
  ];
}

/** A CloudWatch Logs subscription delivery of gateway access-log lines. */
function delivery(...requests: Array<Record<string, string>>): { awslogs: { data: string } } {
  const body = { messageType: 'DATA_MESSAGE', logGroup: 'g', logStream: 's', logEvents: requests.map((r, i) => ({ id: String(i), timestamp: NOW.getTime(), message: JSON.stringify(r) })) };
  return { awslogs: { data: gzipSync(Buffer.from(JSON.stringify(body))).toString('base64') } };
}

beforeEach(() => {
  ecs.reset();
  aas.reset();
  cw.reset();
  ecs.on(UpdateServiceCommand).resolves({});
  aas.on(RegisterScalableTargetCommand).resolves({});
});

describe('sleep function on its schedule', () => {
  it('running with no activity in the window: minimum to 0 (maximum and suspension kept), then 0 tasks', async () => {
    capacity(1, 2, 1);
    activity([]);
    const result = await handle({ source: 'aws.events' }, clients, ENV, NOW);
    assert.equal(result.action, 'sleep');
    assert.deepEqual(writes(), ['min 0 max kept suspension kept', 'desired 0']);
    // The window is sleepAfterMinutes up to now, summed by the minute.
    const query = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    assert.equal(query.EndTime!.getTime(), NOW.getTime());
    assert.equal(NOW.getTime() - query.StartTime!.getTime(), 30 * 60_000);
    assert.deepEqual(query.MetricDataQueries![0].MetricStat, { Metric: { Namespace: 'MLflowOnAWS', MetricName: 'ActivityRequests' }, Period: 60, Stat: 'Sum' });
  });

  it('running with a request of someone\'s in the window: stays', async () => {
    capacity(1, 2, 1);
    activity([0, 1, 0]);
    const result = await handle({}, clients, ENV, NOW);
    assert.equal(result.action, 'none');
    assert.deepEqual(writes(), []);
  });

  it('a deployment rolling out: stays, whatever the activity', async () => {
    capacity(1, 2, 1, { deploying: true });
    activity([]);
    assert.equal((await handle({}, clients, ENV, NOW)).action, 'none');
    assert.deepEqual(writes(), []);
  });

  for (const [name, min, max, desired, suspended] of [
    ['paused', 0, 0, 0, true],
    ['outside the active hours', 0, 0, 0, false],
    ['already asleep', 0, 2, 0, false],
  ] as const) {
    it(`${name}: nothing changes and the metric is not read`, async () => {
      capacity(min, max, desired, { suspended });
      activity([]);
      const result = await handle({}, clients, ENV, NOW);
      assert.equal(result.action, 'none');
      assert.deepEqual(writes(), []);
      assert.equal(cw.commandCalls(GetMetricDataCommand).length, 0);
    });
  }
});

describe('sleep function on requests answered 503 (subscription on the gateway access log)', () => {
  it('asleep, someone\'s request: minimum back to WAKE_TASKS, then that many tasks', async () => {
    capacity(0, 2, 0);
    const result = await handle(delivery({ method: 'GET', path: '/ajax-api/2.0/mlflow/experiments/search', status: '503' }), clients, { ...ENV, WAKE_TASKS: '2' }, NOW);
    assert.equal(result.action, 'wake');
    assert.deepEqual(writes(), ['min 2 max kept suspension kept', 'desired 2']);
  });

  it('asleep, only the UI\'s auto-refresh and health checks: stays asleep', async () => {
    capacity(0, 2, 0);
    const result = await handle(delivery(
      { method: 'POST', path: '/ajax-api/2.0/mlflow/runs/search', status: '503' },
      { method: 'GET', path: '/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval', status: '503' },
      { method: 'GET', path: '/health', status: '503' },
    ), clients, ENV, NOW);
    assert.equal(result.action, 'none');
    assert.deepEqual(writes(), []);
  });

  for (const [name, min, max, suspended] of [['paused', 0, 0, true], ['outside the active hours', 0, 0, false]] as const) {
    it(`${name}: someone's request does not start it`, async () => {
      capacity(min, max, 0, { suspended });
      const result = await handle(delivery({ method: 'POST', path: '/api/2.0/mlflow/runs/create', status: '503' }), clients, ENV, NOW);
      assert.equal(result.action, 'none');
      assert.deepEqual(writes(), []);
    });
  }

  it('running already (a 503 of MLflow\'s own): nothing changes', async () => {
    capacity(1, 2, 1);
    assert.equal((await handle(delivery({ method: 'POST', path: '/api/2.0/mlflow/runs/create', status: '503' }), clients, ENV, NOW)).action, 'none');
    assert.deepEqual(writes(), []);
  });
});

describe('sleep function configuration', () => {
  it('a missing or bad variable is an error naming it', async () => {
    await assert.rejects(handle({}, clients, { ...ENV, SERVICE: '' }, NOW), /SERVICE is not set/);
    await assert.rejects(handle({}, clients, { ...ENV, SLEEP_AFTER_MINUTES: 'soon' }, NOW), /SLEEP_AFTER_MINUTES must be a whole number/);
  });
});
