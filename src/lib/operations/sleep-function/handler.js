'use strict';
/**
 * The sleep function of the MLflow service (issue 27), one Lambda function with two triggers:
 * - every few minutes (EventBridge schedule): when the service runs and nobody's request came in the last
 *   SLEEP_AFTER_MINUTES (the activity metric counted from the gateway's access log), it goes to sleep: its scalable
 *   target's minimum to 0 (maximum and suspension untouched), then 0 tasks. Then the gateway's routes: to the
 *   starting integration (this function) while the service runs no task (asleep, paused, outside the active hours),
 *   back to their VPC-link integrations once it runs with a healthy task (after `resume`, a deploy, the start of the
 *   active hours);
 * - the gateway's requests (API Gateway's payload 2.0) while the routes point at it: someone's request (not a health
 *   check, not the UI's auto-refresh) wakes an asleep service (the minimum back to WAKE_TASKS, then that many tasks);
 *   every request gets 503 with `Retry-After` (a browser's page load: a page that says MLflow is starting and reloads
 *   itself); once a healthy task runs, the routes go back to the VPC link.
 * A paused service (`pause`) and one outside its active hours are never started. The decisions are logic.js's.
 * Runs as is on Lambda's Node.js runtime (its AWS SDK v3); no build step.
 */
const { ECSClient, DescribeServicesCommand, DescribeTasksCommand, ListTasksCommand, UpdateServiceCommand } = require('@aws-sdk/client-ecs');
const { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand } = require('@aws-sdk/client-application-auto-scaling');
const { CloudWatchClient, GetMetricDataCommand } = require('@aws-sdk/client-cloudwatch');
const { ApiGatewayV2Client, GetRouteCommand, UpdateRouteCommand } = require('@aws-sdk/client-apigatewayv2');
const { ElasticLoadBalancingV2Client, DescribeTargetHealthCommand } = require('@aws-sdk/client-elastic-load-balancing-v2');
const { ServiceDiscoveryClient, GetInstancesHealthStatusCommand } = require('@aws-sdk/client-servicediscovery');
const { decideRoutes, decideSleep, decideWake, serviceState, startingResponse } = require('./logic');

const DIMENSION = 'ecs:service:DesiredCount';

/**
 * @typedef {{ send(command: any): Promise<any> }} Client
 * @typedef {{ ecs: Client, autoScaling: Client, cloudWatch: Client, apiGateway: Client, loadBalancing: Client, serviceDiscovery: Client }} Clients
 */

/** The environment the construct sets, checked: a missing or bad value is an error naming it. */
function readEnv(/** @type {Record<string, string | undefined>} */ env) {
  const get = (/** @type {string} */ name) => {
    const value = env[name];
    if (!value) throw new Error(`sleep function: environment variable ${name} is not set`);
    return value;
  };
  const number = (/** @type {string} */ name) => {
    const value = Number(get(name));
    if (!Number.isInteger(value) || value < 1) throw new Error(`sleep function: ${name} must be a whole number of at least 1, got ${env[name]}`);
    return value;
  };
  const json = (/** @type {string} */ name) => {
    try {
      return JSON.parse(get(name));
    } catch {
      throw new Error(`sleep function: ${name} must be JSON, got ${env[name]}`);
    }
  };
  /** @type {Array<{ id: string, target: string }>} */
  const routes = json('ROUTES');
  if (!Array.isArray(routes) || routes.length === 0 || !routes.every((r) => typeof r?.id === 'string' && /^integrations\/\S+$/.test(String(r?.target)))) {
    throw new Error(`sleep function: ROUTES must list the gateway's routes as [{"id": ..., "target": "integrations/<id>"}], got ${env.ROUTES}`);
  }
  /** @type {{ targetGroupArn?: string, cloudMapServiceId?: string }} */
  const readiness = json('READINESS');
  if (typeof readiness?.targetGroupArn !== 'string' && typeof readiness?.cloudMapServiceId !== 'string') {
    throw new Error(`sleep function: READINESS must name a targetGroupArn or a cloudMapServiceId, got ${env.READINESS}`);
  }
  return {
    cluster: get('CLUSTER'),
    service: get('SERVICE'),
    sleepAfterMinutes: number('SLEEP_AFTER_MINUTES'),
    wakeTasks: number('WAKE_TASKS'),
    metricNamespace: get('METRIC_NAMESPACE'),
    metricName: get('METRIC_NAME'),
    apiId: get('API_ID'),
    routes,
    startingTarget: `integrations/${get('STARTING_INTEGRATION')}`,
    readiness,
    retryAfterSeconds: number('RETRY_AFTER_SECONDS'),
  };
}

/** The service's capacity: its scalable target and ECS counts, and whether a deployment is rolling out. */
async function readCapacity(/** @type {Clients} */ clients, /** @type {ReturnType<typeof readEnv>} */ config) {
  const resourceId = `service/${config.cluster}/${config.service}`;
  const targets = await clients.autoScaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [resourceId], ScalableDimension: DIMENSION }));
  const target = targets.ScalableTargets?.[0];
  if (!target) throw new Error(`sleep function: service ${config.service} has no scalable target`);
  const services = await clients.ecs.send(new DescribeServicesCommand({ cluster: config.cluster, services: [config.service] }));
  const service = services.services?.[0];
  if (!service) throw new Error(`sleep function: ECS service ${config.service} not found in cluster ${config.cluster}`);
  const suspended = target.SuspendedState ?? {};
  return {
    resourceId,
    min: target.MinCapacity ?? 0,
    max: target.MaxCapacity ?? 0,
    suspended: suspended.DynamicScalingInSuspended === true && suspended.DynamicScalingOutSuspended === true && suspended.ScheduledScalingSuspended === true,
    desired: service.desiredCount ?? 0,
    deploying: (service.deployments ?? []).some((/** @type {any} */ d) => d.rolloutState === 'IN_PROGRESS'),
    starting: (service.runningCount ?? 0) < (service.desiredCount ?? 0) || (service.pendingCount ?? 0) > 0,
  };
}

/** Minutes since the youngest of the service's tasks started (a task not started yet counts from its creation); undefined with none. */
async function youngestTaskMinutes(/** @type {Clients} */ clients, /** @type {ReturnType<typeof readEnv>} */ config, /** @type {Date} */ now) {
  const listed = await clients.ecs.send(new ListTasksCommand({ cluster: config.cluster, serviceName: config.service, desiredStatus: 'RUNNING' }));
  const arns = listed?.taskArns ?? [];
  if (arns.length === 0) return undefined;
  const described = await clients.ecs.send(new DescribeTasksCommand({ cluster: config.cluster, tasks: arns.slice(0, 100) }));
  const starts = (described?.tasks ?? []).map((/** @type {any} */ t) => t.startedAt ?? t.createdAt).filter(Boolean).map((/** @type {any} */ d) => new Date(d).getTime());
  return starts.length === 0 ? undefined : (now.getTime() - Math.max(...starts)) / 60_000;
}

/** Activity requests counted in the last `minutes` (the metric filter's sum; no data is 0). */
async function activityIn(/** @type {Clients} */ clients, /** @type {ReturnType<typeof readEnv>} */ config, /** @type {Date} */ now) {
  const answer = await clients.cloudWatch.send(new GetMetricDataCommand({
    StartTime: new Date(now.getTime() - config.sleepAfterMinutes * 60_000),
    EndTime: now,
    MetricDataQueries: [{
      Id: 'activity',
      MetricStat: { Metric: { Namespace: config.metricNamespace, MetricName: config.metricName }, Period: 60, Stat: 'Sum' },
      ReturnData: true,
    }],
  }));
  const values = answer.MetricDataResults?.find((/** @type {any} */ r) => r.Id === 'activity')?.Values ?? [];
  return values.reduce((/** @type {number} */ sum, /** @type {number} */ v) => sum + v, 0);
}

/** Sets the scalable target's minimum (maximum and suspension unchanged), then the desired count. */
async function setTasks(/** @type {Clients} */ clients, /** @type {ReturnType<typeof readEnv>} */ config, /** @type {string} */ resourceId, /** @type {number} */ count) {
  await clients.autoScaling.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: resourceId, ScalableDimension: DIMENSION, MinCapacity: count }));
  await clients.ecs.send(new UpdateServiceCommand({ cluster: config.cluster, service: config.service, desiredCount: count }));
}

/** Whether a task is healthy behind the front door: a healthy target of the load balancer, or a healthy Cloud Map instance. */
async function healthy(/** @type {Clients} */ clients, /** @type {ReturnType<typeof readEnv>} */ config) {
  if (config.readiness.targetGroupArn) {
    const answer = await clients.loadBalancing.send(new DescribeTargetHealthCommand({ TargetGroupArn: config.readiness.targetGroupArn }));
    return (answer.TargetHealthDescriptions ?? []).some((/** @type {any} */ d) => d.TargetHealth?.State === 'healthy');
  }
  const answer = await clients.serviceDiscovery.send(new GetInstancesHealthStatusCommand({ ServiceId: config.readiness.cloudMapServiceId }));
  return Object.values(answer.Status ?? {}).some((status) => status === 'HEALTHY');
}

/** Whether any of the gateway's routes points at the starting integration. */
async function routesFlipped(/** @type {Clients} */ clients, /** @type {ReturnType<typeof readEnv>} */ config) {
  for (const route of config.routes) {
    const answer = await clients.apiGateway.send(new GetRouteCommand({ ApiId: config.apiId, RouteId: route.id }));
    if (answer.Target === config.startingTarget) return true;
  }
  return false;
}

/** Points every route at the starting integration ('flip') or back at its own VPC-link integration ('restore'). */
async function pointRoutes(/** @type {Clients} */ clients, /** @type {ReturnType<typeof readEnv>} */ config, /** @type {'flip' | 'restore'} */ action) {
  for (const route of config.routes) {
    await clients.apiGateway.send(new UpdateRouteCommand({ ApiId: config.apiId, RouteId: route.id, Target: action === 'flip' ? config.startingTarget : route.target }));
  }
}

/** The routes' decision for a service in `state`, applied; reads the front door's health only when it matters. */
async function settleRoutes(/** @type {Clients} */ clients, /** @type {ReturnType<typeof readEnv>} */ config, /** @type {string} */ state) {
  const flipped = await routesFlipped(clients, config);
  const isHealthy = state === 'running' && flipped ? await healthy(clients, config) : false;
  const decision = decideRoutes({ state, healthy: isHealthy, flipped });
  if (decision.action !== 'none') await pointRoutes(clients, config, decision.action);
  return decision;
}

/** A request of the gateway's (API Gateway's payload format 2.0), as the starting integration receives it. */
function isGatewayRequest(/** @type {any} */ event) {
  return Boolean(event && event.requestContext && event.requestContext.http && typeof event.requestContext.http.method === 'string');
}

/**
 * One request while the routes point here: wake an asleep service for someone's request, put the routes back once a
 * healthy task runs, and answer 503 with Retry-After (a page for a browser).
 */
async function answerRequest(/** @type {any} */ event, /** @type {Clients} */ clients, /** @type {ReturnType<typeof readEnv>} */ config) {
  const capacity = await readCapacity(clients, config);
  let state = serviceState(capacity);
  const request = { method: event.requestContext.http.method, path: event.rawPath ?? event.requestContext.http.path };
  const wake = decideWake({ state, requests: [request] });
  let routes = { action: 'none', reason: state === 'running' ? 'no healthy task behind the front door yet' : `the service is ${state}` };
  if (wake.action === 'wake') {
    await setTasks(clients, config, capacity.resourceId, config.wakeTasks);
    state = 'starting';
  } else if (state === 'running' && await healthy(clients, config)) {
    // Back on the VPC link (the routes were flipped, or the request would not be here); the next retry reaches MLflow.
    await pointRoutes(clients, config, 'restore');
    routes = { action: 'restore', reason: 'a healthy task runs: the routes back on the VPC link' };
  }
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const response = startingResponse({ state, method: request.method, accept: headers.accept, retryAfterSeconds: config.retryAfterSeconds });
  console.log(JSON.stringify({ trigger: 'request', method: request.method, path: request.path, state, wake: wake.action, routes: routes.action, reason: wake.action === 'wake' ? wake.reason : routes.reason }));
  return response;
}

/**
 * The schedule's run: sleep when nobody's request came in the window, then settle the routes. Returns what was
 * decided (also logged).
 * @param {Clients} clients
 * @param {Record<string, string | undefined>} env
 * @param {Date} now
 */
async function onSchedule(clients, env, now) {
  const config = readEnv(env);
  const capacity = await readCapacity(clients, config);
  let state = serviceState(capacity);
  const activity = state === 'running' ? await activityIn(clients, config, now) : 0;
  const input = { state, activity, deploying: capacity.deploying, starting: capacity.starting, sleepAfterMinutes: config.sleepAfterMinutes };
  let decision = decideSleep(input);
  // The tasks' age only when everything else says sleep (two more ECS calls).
  if (decision.action === 'sleep') decision = decideSleep({ ...input, youngestTaskMinutes: await youngestTaskMinutes(clients, config, now) });
  if (decision.action === 'sleep') {
    // Tasks first: routes flipped while a task still runs would be put back by the next request.
    await setTasks(clients, config, capacity.resourceId, 0);
    state = 'asleep';
  }
  const routes = await settleRoutes(clients, config, state);
  const result = { trigger: 'schedule', state, activity, ...decision, routes: routes.action, routesReason: routes.reason };
  console.log(JSON.stringify(result));
  return result;
}

/**
 * One request of the gateway's (payload format 2.0) while the routes point here; returns the answer.
 * @param {any} event
 * @param {Clients} clients
 * @param {Record<string, string | undefined>} env
 */
async function onRequest(event, clients, env) {
  return answerRequest(event, clients, readEnv(env));
}

/**
 * One invocation: a request of the gateway's, or the schedule.
 * @param {any} event
 * @param {Clients} clients
 * @param {Record<string, string | undefined>} env
 * @param {Date} now
 */
async function handle(event, clients, env, now) {
  return isGatewayRequest(event) ? onRequest(event, clients, env) : onSchedule(clients, env, now);
}

/**
 * The AWS clients the function calls, each with `config` (on Lambda none: the runtime's region and credentials).
 * @param {{ region?: string }} [config]
 * @returns {Clients}
 */
function createClients(config = {}) {
  return {
    ecs: new ECSClient(config),
    autoScaling: new ApplicationAutoScalingClient(config),
    cloudWatch: new CloudWatchClient(config),
    apiGateway: new ApiGatewayV2Client(config),
    loadBalancing: new ElasticLoadBalancingV2Client(config),
    serviceDiscovery: new ServiceDiscoveryClient(config),
  };
}

/** @type {Clients | undefined} */
let defaultClients;

/** The Lambda entry point. */
async function handler(/** @type {any} */ event) {
  defaultClients ??= createClients();
  return handle(event, defaultClients, process.env, new Date());
}

module.exports = { handler, handle, onSchedule, onRequest, createClients };
