'use strict';
/**
 * The sleep function of the MLflow service (issue 27), one Lambda function with two triggers:
 * - every few minutes (EventBridge schedule): when the service runs and nobody's request came in the last
 *   SLEEP_AFTER_MINUTES (the activity metric counted from the gateway's access log), it goes to sleep: its scalable
 *   target's minimum to 0 (maximum and suspension untouched), then 0 tasks;
 * - a CloudWatch Logs subscription on the gateway's access log, for requests answered 503: when one of them is
 *   someone's activity and the service is asleep, it wakes: the minimum back to WAKE_TASKS, then that many tasks.
 * A paused service (`pause`) and one outside its active hours are never touched. The decisions are logic.js's.
 * Runs as is on Lambda's Node.js runtime (its AWS SDK v3); no build step.
 */
const { gunzipSync } = require('node:zlib');
const { ECSClient, DescribeServicesCommand, UpdateServiceCommand } = require('@aws-sdk/client-ecs');
const { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand } = require('@aws-sdk/client-application-auto-scaling');
const { CloudWatchClient, GetMetricDataCommand } = require('@aws-sdk/client-cloudwatch');
const { decideSleep, decideWake, serviceState } = require('./logic');

const DIMENSION = 'ecs:service:DesiredCount';

/**
 * @typedef {{ ecs: { send(command: any): Promise<any> }, autoScaling: { send(command: any): Promise<any> }, cloudWatch: { send(command: any): Promise<any> } }} Clients
 * @typedef {{ CLUSTER: string, SERVICE: string, SLEEP_AFTER_MINUTES: string, WAKE_TASKS: string, METRIC_NAMESPACE: string, METRIC_NAME: string }} SleepEnv
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
  return {
    cluster: get('CLUSTER'),
    service: get('SERVICE'),
    sleepAfterMinutes: number('SLEEP_AFTER_MINUTES'),
    wakeTasks: number('WAKE_TASKS'),
    metricNamespace: get('METRIC_NAMESPACE'),
    metricName: get('METRIC_NAME'),
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
  };
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

/** The requests of a CloudWatch Logs subscription delivery (gzip, base64), each the gateway's JSON access-log line. */
function requestsOf(/** @type {{ awslogs: { data: string } }} */ event) {
  const delivery = JSON.parse(gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8'));
  /** @type {Array<{ method?: string, path?: string, status?: string }>} */
  const requests = [];
  for (const logEvent of delivery.logEvents ?? []) {
    try {
      requests.push(JSON.parse(logEvent.message));
    } catch {
      // Not an access-log line: nothing to classify.
    }
  }
  return requests;
}

/**
 * One invocation: a subscription delivery (wake) or the schedule (sleep). Returns what was decided, also logged.
 * @param {any} event
 * @param {Clients} clients
 * @param {Record<string, string | undefined>} env
 * @param {Date} now
 */
async function handle(event, clients, env, now) {
  const config = readEnv(env);
  const capacity = await readCapacity(clients, config);
  const state = serviceState(capacity);
  let result;
  if (event && event.awslogs && typeof event.awslogs.data === 'string') {
    const decision = decideWake({ state, requests: requestsOf(event) });
    if (decision.action === 'wake') await setTasks(clients, config, capacity.resourceId, config.wakeTasks);
    result = { trigger: 'request', state, ...decision };
  } else {
    const activity = state === 'running' ? await activityIn(clients, config, now) : 0;
    const decision = decideSleep({ state, activity, deploying: capacity.deploying });
    if (decision.action === 'sleep') await setTasks(clients, config, capacity.resourceId, 0);
    result = { trigger: 'schedule', state, activity, ...decision };
  }
  console.log(JSON.stringify(result));
  return result;
}

/** @type {Clients | undefined} */
let defaultClients;

/** The Lambda entry point. */
async function handler(/** @type {any} */ event) {
  defaultClients ??= { ecs: new ECSClient({}), autoScaling: new ApplicationAutoScalingClient({}), cloudWatch: new CloudWatchClient({}) };
  return handle(event, defaultClients, process.env, new Date());
}

module.exports = { handler, handle, requestsOf };
