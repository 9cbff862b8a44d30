/**
 * The sleep function (src/lib/operations/sleep-function/handler.js) with its real logic against aws-sdk-client-mock:
 * what it reads, what it decides and the calls it makes, on the schedule (sleep, and where the gateway's routes point)
 * and on the gateway's requests while the routes point at it (wake, the starting page, the routes back).
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ApiGatewayV2Client, GetRouteCommand, UpdateRouteCommand } from '@aws-sdk/client-apigatewayv2';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient, ListTasksCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetInstancesHealthStatusCommand, ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { mockClient } from 'aws-sdk-client-mock';
import { createClients, onRequest, onSchedule } from '../../src/lib/operations/sleep-function/handler';

const ROUTES = [{ id: 'r-default', target: 'integrations/vpc1' }, { id: 'r-proxy', target: 'integrations/vpc1' }, { id: 'r-iam', target: 'integrations/vpc2' }];
const ENV = {
  CLUSTER: 'c', SERVICE: 's', SLEEP_AFTER_MINUTES: '30', WAKE_TASKS: '1', METRIC_NAMESPACE: 'MLflowOnAWS', METRIC_NAME: 'ActivityRequests',
  API_ID: 'api1', ROUTES: JSON.stringify(ROUTES), STARTING_INTEGRATION: 'start1', READINESS: JSON.stringify({ targetGroupArn: 'arn:tg' }), RETRY_AFTER_SECONDS: '30',
};
const CLOUD_MAP_ENV = { ...ENV, READINESS: JSON.stringify({ cloudMapServiceId: 'srv-1' }) };
const NOW = new Date('2026-12-07T10:00:00Z');

const ecs = mockClient(ECSClient);
const aas = mockClient(ApplicationAutoScalingClient);
const cw = mockClient(CloudWatchClient);
const apigw = mockClient(ApiGatewayV2Client);
const elb = mockClient(ElasticLoadBalancingV2Client);
const sd = mockClient(ServiceDiscoveryClient);
const clients = createClients({ region: 'us-west-2' });

function capacity(min: number, max: number, desired: number, options: { suspended?: boolean; deploying?: boolean; running?: number } = {}): void {
  const s = options.suspended === true;
  aas.on(DescribeScalableTargetsCommand, { ServiceNamespace: 'ecs', ResourceIds: ['service/c/s'], ScalableDimension: 'ecs:service:DesiredCount' }).resolves({
    ScalableTargets: [{
      ServiceNamespace: 'ecs', ResourceId: 'service/c/s', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: min, MaxCapacity: max, RoleARN: 'r', CreationTime: NOW,
      SuspendedState: { DynamicScalingInSuspended: s, DynamicScalingOutSuspended: s, ScheduledScalingSuspended: s },
    }],
  });
  ecs.on(DescribeServicesCommand, { cluster: 'c', services: ['s'] }).resolves({
    services: [{ desiredCount: desired, runningCount: options.running ?? desired, deployments: [{ status: 'PRIMARY', rolloutState: options.deploying ? 'IN_PROGRESS' : 'COMPLETED' }] }],
  });
}

/** The service's tasks, each started that many minutes before NOW. */
function tasksStarted(...minutesAgo: number[]): void {
  const arns = minutesAgo.map((_, i) => `arn:aws:ecs:us-west-2:123456789012:task/c/t${i}`);
  ecs.on(ListTasksCommand, { cluster: 'c', serviceName: 's', desiredStatus: 'RUNNING' }).resolves({ taskArns: arns });
  ecs.on(DescribeTasksCommand, { cluster: 'c', tasks: arns }).resolves({
    tasks: minutesAgo.map((minutes, i) => ({ taskArn: arns[i], startedAt: new Date(NOW.getTime() - minutes * 60_000) })),
  });
}

function activity(values: number[]): void {
  cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'activity', Values: values, Timestamps: values.map(() => NOW) }] });
}

/** Where the routes point now: on their VPC-link integrations, or at the starting one. */
function routesAt(where: 'vpc-link' | 'starting'): void {
  for (const route of ROUTES) apigw.on(GetRouteCommand, { ApiId: 'api1', RouteId: route.id }).resolves({ RouteId: route.id, Target: where === 'starting' ? 'integrations/start1' : route.target });
}

function targets(...states: string[]): void {
  elb.on(DescribeTargetHealthCommand, { TargetGroupArn: 'arn:tg' }).resolves({ TargetHealthDescriptions: states.map((State, i) => ({ Target: { Id: `10.0.0.${i}` }, TargetHealth: { State: State as never } })) });
}

function writes(): string[] {
  return [
    ...aas.commandCalls(RegisterScalableTargetCommand).map((c) => `min ${c.args[0].input.MinCapacity} max ${c.args[0].input.MaxCapacity ?? 'kept'} suspension ${c.args[0].input.SuspendedState ? 'changed' : 'kept'}`),
    ...ecs.commandCalls(UpdateServiceCommand).map((c) => `desired ${c.args[0].input.desiredCount}`),
    ...apigw.commandCalls(UpdateRouteCommand).map((c) => `route ${c.args[0].input.ApiId}/${c.args[0].input.RouteId} -> ${c.args[0].input.Target}`),
  ];
}

const FLIP = ROUTES.map((r) => `route api1/${r.id} -> integrations/start1`);
const RESTORE = ROUTES.map((r) => `route api1/${r.id} -> ${r.target}`);

/** A request as API Gateway hands it to the starting integration (payload format 2.0). */
function request(method: string, path: string, headers: Record<string, string> = {}): Record<string, unknown> {
  return { version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: '', headers, requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'test' }, routeKey: '$default', stage: '$default' } };
}

/** The writes in the order they were made, across clients. */
const order: string[] = [];

beforeEach(() => {
  for (const m of [ecs, aas, cw, apigw, elb, sd]) m.reset();
  order.length = 0;
  ecs.on(UpdateServiceCommand).callsFake(async (input) => {
    order.push(`desired ${input.desiredCount}`);
    return {};
  });
  aas.on(RegisterScalableTargetCommand).resolves({});
  apigw.on(UpdateRouteCommand).callsFake(async (input) => {
    order.push(`route ${input.RouteId}`);
    return {};
  });
});

describe('sleep function on its schedule', () => {
  it('running with no activity in the window: minimum to 0 (maximum and suspension kept), 0 tasks, then the routes to the starting function', async () => {
    capacity(1, 2, 1);
    activity([]);
    tasksStarted(95);
    routesAt('vpc-link');
    const result = await onSchedule(clients, ENV, NOW);
    assert.equal(result.action, 'sleep');
    assert.equal(result.routes, 'flip');
    assert.deepEqual(writes(), ['min 0 max kept suspension kept', 'desired 0', ...FLIP]);
    // Tasks first: routes flipped while a task still runs would be put back by the next request.
    assert.deepEqual(order, ['desired 0', 'route r-default', 'route r-proxy', 'route r-iam']);
    // The window is sleepAfterMinutes up to now, summed by the minute.
    const query = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    assert.equal(query.EndTime!.getTime(), NOW.getTime());
    assert.equal(NOW.getTime() - query.StartTime!.getTime(), 30 * 60_000);
    assert.deepEqual(query.MetricDataQueries![0].MetricStat, { Metric: { Namespace: 'MLflowOnAWS', MetricName: 'ActivityRequests' }, Period: 60, Stat: 'Sum' });
  });

  it('a start no request made (resume, deploy waking it, the active hours\' start): stays until its youngest task has run sleepAfterMinutes', async () => {
    capacity(1, 2, 2);
    activity([]);
    routesAt('vpc-link');
    tasksStarted(50, 12);
    const young = await onSchedule(clients, ENV, NOW);
    assert.deepEqual([young.action, young.reason], ['none', 'a task started 12 min ago (under 30)']);
    assert.deepEqual(writes(), []);
    tasksStarted(50, 31);
    assert.equal((await onSchedule(clients, ENV, NOW)).action, 'sleep');
  });

  it('tasks starting (fewer running than desired): stays', async () => {
    capacity(1, 2, 1, { running: 0 });
    activity([]);
    routesAt('vpc-link');
    const result = await onSchedule(clients, ENV, NOW);
    assert.deepEqual([result.action, result.reason], ['none', 'tasks are starting']);
    assert.deepEqual(writes(), []);
  });

  it('running with a request of someone\'s in the window: stays, routes untouched', async () => {
    capacity(1, 2, 1);
    activity([0, 1, 0]);
    routesAt('vpc-link');
    const result = await onSchedule(clients, ENV, NOW);
    assert.equal(result.action, 'none');
    assert.deepEqual(writes(), []);
  });

  it('a deployment rolling out: stays, whatever the activity', async () => {
    capacity(1, 2, 1, { deploying: true });
    activity([]);
    routesAt('vpc-link');
    assert.equal((await onSchedule(clients, ENV, NOW)).action, 'none');
    assert.deepEqual(writes(), []);
  });

  for (const [name, min, max, desired, suspended] of [
    ['paused', 0, 0, 0, true],
    ['outside the active hours', 0, 0, 0, false],
    ['asleep with the routes on the VPC link (a flip that failed)', 0, 2, 0, false],
  ] as const) {
    it(`${name}: no task started, the metric not read, the routes to the starting function (its page)`, async () => {
      capacity(min, max, desired, { suspended });
      activity([]);
      routesAt('vpc-link');
      const result = await onSchedule(clients, ENV, NOW);
      assert.equal(result.action, 'none');
      assert.deepEqual(writes(), FLIP);
      assert.equal(cw.commandCalls(GetMetricDataCommand).length, 0);
    });
  }

  it('asleep with the routes flipped already: nothing at all', async () => {
    capacity(0, 2, 0);
    routesAt('starting');
    assert.equal((await onSchedule(clients, ENV, NOW)).routes, 'none');
    assert.deepEqual(writes(), []);
  });

  it('running again (resume, a deploy, the active hours\' start) with the routes flipped: back on the VPC link once a target is healthy', async () => {
    capacity(1, 2, 1);
    activity([1]);
    routesAt('starting');
    targets('initial');
    assert.equal((await onSchedule(clients, ENV, NOW)).routes, 'none');
    assert.deepEqual(writes(), [], 'no healthy target yet: the starting page stays');
    targets('draining', 'healthy');
    assert.equal((await onSchedule(clients, ENV, NOW)).routes, 'restore');
    assert.deepEqual(writes(), RESTORE, 'each route back on its own integration');
  });

  it('lean (Cloud Map): a healthy instance is what a healthy task is', async () => {
    capacity(1, 2, 1);
    activity([1]);
    routesAt('starting');
    sd.on(GetInstancesHealthStatusCommand, { ServiceId: 'srv-1' }).resolves({ Status: { 'task-1': 'UNHEALTHY' } });
    assert.equal((await onSchedule(clients, CLOUD_MAP_ENV, NOW)).routes, 'none');
    sd.on(GetInstancesHealthStatusCommand, { ServiceId: 'srv-1' }).resolves({ Status: { 'task-1': 'UNHEALTHY', 'task-2': 'HEALTHY' } });
    assert.equal((await onSchedule(clients, CLOUD_MAP_ENV, NOW)).routes, 'restore');
    assert.equal(elb.commandCalls(DescribeTargetHealthCommand).length, 0);
  });
});

describe('sleep function on the gateway\'s requests (the starting integration)', () => {
  it('asleep, someone\'s request: minimum back to WAKE_TASKS, that many tasks; 503 with Retry-After and MLflow\'s JSON error', async () => {
    capacity(0, 2, 0);
    const answer = await onRequest(request('POST', '/api/2.0/mlflow/runs/create', { 'content-type': 'application/json' }), clients, { ...ENV, WAKE_TASKS: '2' });
    assert.deepEqual(writes(), ['min 2 max kept suspension kept', 'desired 2']);
    assert.equal(answer.statusCode, 503);
    assert.equal(answer.headers['retry-after'], '30');
    assert.equal(answer.headers['content-type'], 'application/json');
    assert.deepEqual(Object.keys(JSON.parse(answer.body)), ['error_code', 'message']);
    assert.match(JSON.parse(answer.body).message, /^MLflow is starting\./);
  });

  it('a browser\'s page load: the page that says MLflow is starting and reloads itself', async () => {
    capacity(0, 2, 0);
    const answer = await onRequest(request('GET', '/', { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }), clients, ENV);
    assert.deepEqual(writes(), ['min 1 max kept suspension kept', 'desired 1']);
    assert.equal(answer.statusCode, 503);
    assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(answer.body, /<h1>MLflow is starting<\/h1>/);
    assert.match(answer.body, /<meta http-equiv="refresh" content="5">/);
  });

  it('asleep, only the UI\'s auto-refresh or a health check: stays asleep, still 503', async () => {
    capacity(0, 2, 0);
    for (const [method, path] of [['POST', '/ajax-api/2.0/mlflow/runs/search'], ['GET', '/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval'], ['GET', '/elb-status']]) {
      assert.equal((await onRequest(request(method, path), clients, ENV)).statusCode, 503);
    }
    assert.deepEqual(writes(), []);
  });

  for (const [name, min, max, suspended, title] of [['paused', 0, 0, true, 'MLflow is paused'], ['outside the active hours', 0, 0, false, 'MLflow is off outside its active hours']] as const) {
    it(`${name}: someone's request does not start it; the page says so and does not reload`, async () => {
      capacity(min, max, 0, { suspended });
      const answer = await onRequest(request('GET', '/', { accept: 'text/html' }), clients, ENV);
      assert.deepEqual(writes(), []);
      assert.match(answer.body, new RegExp(`<h1>${title}</h1>`));
      assert.doesNotMatch(answer.body, /http-equiv="refresh"/);
      if (suspended) assert.match(answer.body, /npx mlflow-on-aws resume/);
    });
  }

  it('starting (woken, no healthy task yet): nothing changes, the page again', async () => {
    capacity(1, 2, 1);
    targets('initial');
    const answer = await onRequest(request('GET', '/', { accept: 'text/html' }), clients, ENV);
    assert.deepEqual(writes(), []);
    assert.match(answer.body, /MLflow is starting/);
  });

  it('a healthy task runs: the routes back on the VPC link; this request still 503 (the retry reaches MLflow)', async () => {
    capacity(1, 2, 1);
    targets('healthy');
    const answer = await onRequest(request('GET', '/api/2.0/mlflow/experiments/search'), clients, ENV);
    assert.deepEqual(writes(), RESTORE);
    assert.equal(answer.statusCode, 503);
  });
});

describe('sleep function configuration', () => {
  it('a missing or bad variable is an error naming it', async () => {
    await assert.rejects(onSchedule(clients, { ...ENV, SERVICE: '' }, NOW), /SERVICE is not set/);
    await assert.rejects(onSchedule(clients, { ...ENV, SLEEP_AFTER_MINUTES: 'soon' }, NOW), /SLEEP_AFTER_MINUTES must be a whole number/);
    await assert.rejects(onSchedule(clients, { ...ENV, ROUTES: '[{"id":"r"}]' }, NOW), /ROUTES must list the gateway's routes/);
    await assert.rejects(onSchedule(clients, { ...ENV, READINESS: '{}' }, NOW), /READINESS must name a targetGroupArn or a cloudMapServiceId/);
  });
});
