/**
 * `pause` and `resume`: the MLflow service's task count to 0 and back, without a deploy.
 *
 * The service's count is owned by Application Auto Scaling (its scalable target has a minimum, a maximum, CPU target
 * tracking and, with active hours, scheduled actions), so setting the ECS desired count alone would be undone by the
 * next scaling activity. `pause` therefore holds the scalable target at 0..0 with every kind of scaling suspended, then
 * sets the desired count to 0; `resume` puts back the minimum and maximum of the deployed template (what was deployed,
 * not what this machine's settings say), lifts the suspension, sets the desired count and waits until the endpoint
 * answers. While paused the front door has no target: API Gateway answers 503 at once (with Retry-After, see
 * docs/reference/cli.md), and with no connection the database pauses after `dbAutoPauseMinutes`.
 * A deploy while paused is refused unless `--while-paused` (no task would start, so nothing would validate the new
 * revision, see `checkDeployWhilePaused`); with it, the pause is re-applied after the deploy, since a deploy that changes
 * the scalable target re-registers the template's minimum and maximum (`keepPausedAfterDeploy`).
 */
import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  RegisterScalableTargetCommand,
  ScalableTarget,
} from '@aws-sdk/client-application-auto-scaling';
import { GetTemplateCommand, Stack } from '@aws-sdk/client-cloudformation';
import { DescribeServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { GATEWAY_OUTPUTS, HEALTH_CHECK_PATH, MLFLOW_OUTPUTS, STACK_NAMES } from '../../app/names';
import { serviceState } from '../../lib/operations/sleep-function/logic';
import { connect, errorContext, findStack, stackOutputs, Target } from '../aws';
import { deployedResources } from '../deployed-state';
import { databaseOfResourceTypes } from '../../transition/refused';
import type { DatabaseEngine } from '../../lib/contract';
import { CliDeps } from '../deps';
import { CliError, EXIT, notDeployedError, toCliError } from '../errors';
import { parseCommandOptions } from '../options';
import { PAUSE, RESUME } from './index';

/** How often a wait polls, and for how long at most (a resume covers the container's database wait and grace period). */
export const CAPACITY_POLL_MS = 10_000;
export const CAPACITY_MAX_WAIT_MS = 20 * 60 * 1000;

const DIMENSION = 'ecs:service:DesiredCount';

export interface ServiceRef {
  readonly cluster: string;
  readonly service: string;
  readonly resourceId: string;
  readonly trackingUri?: string;
}

/** The service's capacity as Application Auto Scaling and ECS hold it. */
export interface CapacityState {
  readonly min: number;
  readonly max: number;
  /** Every kind of scaling suspended: what `pause` sets (a schedule's 0..0 outside active hours suspends nothing). */
  readonly suspended: boolean;
  readonly desired: number;
  readonly running: number;
  readonly pending: number;
}

export async function pauseCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, options } = parseCommandOptions(PAUSE, args);
  const target = await connect(deps, options);
  const ref = await serviceRef(target);
  const current = await capacityState(target, ref);
  if (current.min === 0 && current.max === 0 && current.desired === 0) {
    deps.output.out(`MLflow is already paused (service ${ref.service}: 0 tasks). Start it with \`npx mlflow-on-aws resume\`.`);
    return EXIT.ok;
  }
  await holdAtZero(target, ref);
  deps.output.out(`Paused: service ${ref.service} holds 0 tasks (was ${current.desired}; autoscaling and schedules suspended).`);
  deps.output.out('The endpoint answers 503 with Retry-After until `npx mlflow-on-aws resume`; the database pauses once idle.');
  if (values.wait === true) {
    const seconds = await waitUntilStopped(deps, target, ref);
    deps.output.out(`All tasks stopped after ${seconds} s.`);
  }
  return EXIT.ok;
}

/** `pause`'s change: the scalable target held at 0..0 with every kind of scaling suspended, then 0 tasks. */
export async function holdAtZero(target: Target, ref: ServiceRef): Promise<void> {
  await register(target, target.clients.applicationAutoScaling, ref, 0, 0, true);
  await setDesiredCount(target, ref, 0);
}

/** Waits until the service has no task running or starting; returns the seconds waited. */
export async function waitUntilStopped(deps: CliDeps, target: Target, ref: ServiceRef): Promise<number> {
  return waitFor(deps, target, ref, 'the last task to stop', (tasks) => tasks.running + tasks.pending === 0, false);
}

export async function resumeCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, options } = parseCommandOptions(RESUME, args);
  const target = await connect(deps, options);
  const ref = await serviceRef(target);
  const wait = values['no-wait'] !== true;
  const { desired, seconds } = await startAsDeployed(deps, target, ref, wait);
  if (!wait) return EXIT.ok;
  deps.output.out(`MLflow answers at ${ref.trackingUri ?? '(no tracking URI output)'}: resumed in ${seconds} s (${desired} task${desired === 1 ? '' : 's'}).`);
  return EXIT.ok;
}

/**
 * `resume`'s change: the deployed template's minimum and maximum with the suspension lifted, its desired count; with
 * `wait`, until that many tasks run and the endpoint answers (seconds waited).
 */
export async function startAsDeployed(deps: CliDeps, target: Target, ref: ServiceRef, wait: boolean): Promise<{ desired: number; seconds?: number }> {
  const deployed = await deployedCapacity(target);
  await register(target, target.clients.applicationAutoScaling, ref, deployed.min, deployed.max, false);
  await setDesiredCount(target, ref, deployed.desired);
  deps.output.out(`Resuming: service ${ref.service} to ${deployed.desired} task${deployed.desired === 1 ? '' : 's'} `
    + `(autoscaling ${deployed.min}-${deployed.max}, as deployed); schedules apply again.`);
  if (!wait) return { desired: deployed.desired };
  deps.output.out('Waiting for MLflow to answer (typically 2 to 4 minutes) ...');
  const seconds = await waitFor(deps, target, ref, 'MLflow to answer', (tasks) => tasks.running >= deployed.desired, true);
  return { desired: deployed.desired, seconds };
}

/** The service's capacity now: the scalable target and the service's counts. */
export async function capacityState(target: Target, ref: ServiceRef): Promise<CapacityState> {
  const scalable = await scalableTarget(target, target.clients.applicationAutoScaling, ref);
  const tasks = await describeService(target, ref);
  const suspended = scalable.SuspendedState;
  return {
    min: scalable.MinCapacity ?? 0,
    max: scalable.MaxCapacity ?? 0,
    suspended: suspended?.DynamicScalingInSuspended === true && suspended.DynamicScalingOutSuspended === true && suspended.ScheduledScalingSuspended === true,
    ...tasks,
  };
}

/** A service the deploy found running no task: its reference and capacity, to put back after the deploy. */
export interface HeldCapacity {
  readonly ref: ServiceRef;
  readonly state: CapacityState;
}

/** A service the deploy found asleep and woke: once deployed, its gateway's routes go back on the VPC link (`routesBackAfterDeploy`). */
export interface WokenService {
  readonly woken: ServiceRef;
}

/** Probes of the endpoint after a deploy that woke the service, `CAPACITY_POLL_MS` apart: about 2 minutes. */
export const ROUTES_BACK_PROBES = 12;

/** Probes before a deploy that turns sleep off on a service it woke: its start, about 6 minutes. */
export const ROUTES_BACK_BEFORE_SLEEP_OFF_PROBES = 36;

/**
 * Before `deploy`: with the MLflow service deployed and running no task (held by `pause`, or 0..0 outside
 * `activeHours`), a deploy validates nothing (no task starts: neither the ECS circuit breaker nor CloudFormation's
 * stability wait sees a bad image or a start that fails, which would show only at the next start, with no rollback).
 * Refused unless `whilePaused`; then returns the capacity that `keepPausedAfterDeploy` puts back. Undefined when the
 * service runs tasks or is not deployed.
 */
export async function checkDeployWhilePaused(target: Target, whilePaused: boolean, log: (line: string) => void): Promise<HeldCapacity | WokenService | undefined> {
  const ref = await deployedServiceRef(target);
  if (!ref) return undefined;
  let tasks: { desired: number };
  try {
    tasks = await describeService(target, ref);
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.notDeployed) return undefined; // no service to validate anything
    throw error;
  }
  if (tasks.desired > 0) return undefined;
  const state = await capacityState(target, ref);
  if (serviceState(state) === 'asleep') {
    // Asleep (sleepAfterMinutes) is no decision to keep it off: woken, so that the new revision starts and is
    // validated as with a running service; it sleeps again once nobody uses it.
    const deployed = await deployedCapacity(target);
    checkOneWriter(deployed.database, state.max, `waking service ${ref.service} with its scalable target's maximum`);
    await register(target, target.clients.applicationAutoScaling, ref, deployed.min, state.max, false);
    await setDesiredCount(target, ref, deployed.desired);
    log(`Service ${ref.service} was asleep (sleepAfterMinutes): woken (${deployed.desired} task${deployed.desired === 1 ? '' : 's'}) so that the deploy validates the new revision; it sleeps again once nobody uses it.`);
    return { woken: ref };
  }
  const why = state.suspended ? 'held at 0 by `npx mlflow-on-aws pause`' : 'at 0 tasks (outside activeHours, or scaled to 0)';
  if (!whilePaused) {
    throw new CliError(`MLflow runs no task (service ${ref.service} is ${why}): a deploy now would validate nothing. No task would start, so neither `
      + 'the ECS circuit breaker nor CloudFormation would see a bad image or a start that fails; it would show only at the next start, with no rollback.',
    EXIT.failure,
    'Resume first (`npx mlflow-on-aws resume`), deploy, then `npx mlflow-on-aws pause` again; or deploy anyway with --while-paused '
      + '(the service stays at 0: the pause is re-applied after the deploy, and the new revision first runs at the next start).');
  }
  log(`--while-paused: service ${ref.service} is ${why}; it stays so after the deploy, and the new revision is not validated until the next start.`);
  return { ref, state };
}

/**
 * A deploy with `--while-paused` that turns sleep off (sleepAfterMinutes=0) while the deployed gateway has the sleep
 * function's starting integration (its only Lambda proxy integration): the routes of a paused service, or of one outside
 * its active hours, point at that integration (docs/guides/sleep.md), and the deploy removes it and the function, which
 * would leave the routes leading nowhere with nothing to put them back. Refused, naming the way through `resume`.
 */
export async function checkSleepOffWhileHeld(target: Target, held: HeldCapacity): Promise<void> {
  if (target.config.sleepAfterMinutes !== 0 || !(await findStack(target, STACK_NAMES.gateway))) return;
  const resources = await deployedResources(target, STACK_NAMES.gateway);
  if (!resources.some((r) => r.Type === 'AWS::ApiGatewayV2::Integration' && r.Properties?.IntegrationType === 'AWS_PROXY')) return;
  const why = held.state.suspended ? 'paused' : 'outside activeHours';
  throw new CliError(`MLflow is ${why}, so its gateway's routes point at the sleep function's starting integration, which this deploy `
    + '(sleepAfterMinutes=0) removes with the function: the routes would lead nowhere, with nothing left to put them back.', EXIT.failure,
  'Resume first (`npx mlflow-on-aws resume`: MLflow answering puts the routes back on the VPC link), deploy with sleepAfterMinutes=0, then pause again if you want it off.');
}

/**
 * After a deploy that found the service running no task: puts back the scalable target's minimum, maximum and
 * suspension and the desired count of 0 (a deploy that changes the scalable target re-registers the template's range,
 * which would start tasks), then says whether anything had moved.
 */
export async function keepPausedAfterDeploy(target: Target, held: HeldCapacity, log: (line: string) => void): Promise<void> {
  const { ref, state } = held;
  const now = await capacityState(target, ref);
  await register(target, target.clients.applicationAutoScaling, ref, state.min, state.max, state.suspended);
  await setDesiredCount(target, ref, 0);
  const moved = now.min !== state.min || now.max !== state.max || now.suspended !== state.suspended || now.desired !== 0;
  log(moved
    ? `The deploy had changed the service's scaling (now ${now.min}-${now.max}, ${now.desired} desired): put back to ${state.min}-${state.max}, 0 tasks${state.suspended ? ', scaling suspended' : ''}.`
    : `Service ${ref.service} kept at 0 tasks (${state.min}-${state.max}${state.suspended ? ', scaling suspended' : ''}).`);
}

/**
 * After a deploy that woke an asleep service: the gateway's routes still point at the sleep function's starting
 * integration (docs/guides/sleep.md). A request through the gateway once a healthy task runs puts them back on the VPC
 * link (its health path wakes nothing), so the endpoint's health path is probed until it answers 200, at most
 * `ROUTES_BACK_PROBES` times; if it does not, the sleep function's next scheduled run puts them back.
 */
export async function routesBackAfterDeploy(deps: CliDeps, woken: WokenService, log: (line: string) => void, probes = ROUTES_BACK_PROBES): Promise<boolean> {
  const uri = woken.woken.trackingUri;
  if (!uri) return false;
  for (let probe = 1; probe <= probes; probe++) {
    if (await answers(`${uri}${HEALTH_CHECK_PATH}`)) {
      log(`MLflow answers through the gateway: its routes are back on the VPC link (${probe} probe${probe === 1 ? '' : 's'}).`);
      return true;
    }
    if (probe < probes) await deps.sleep(CAPACITY_POLL_MS);
  }
  log(`MLflow did not answer through the gateway after ${probes} probes: the sleep function puts the routes back on the VPC link `
    + 'within 5 minutes of a healthy task (npx mlflow-on-aws status shows the tasks).');
  return false;
}

/** The service's reference when MLflowVpcStack is deployed with its cluster and service outputs, else undefined. */
export async function deployedServiceRef(target: Target): Promise<ServiceRef | undefined> {
  const stack = await findStack(target, STACK_NAMES.mlflow);
  const outputs = stackOutputs(stack);
  if (!outputs[MLFLOW_OUTPUTS.clusterName] || !outputs[MLFLOW_OUTPUTS.serviceName]) return undefined;
  return serviceRef(target, stack);
}

/** The service's reference from the deployed MLflowVpcStack (`stack`: when the caller has described it already). */
export async function serviceRef(target: Target, stack?: Stack): Promise<ServiceRef> {
  stack ??= await findStack(target, STACK_NAMES.mlflow);
  if (!stack) throw notDeployedError(STACK_NAMES.mlflow, errorContext(target));
  const outputs = stackOutputs(stack);
  const cluster = outputs[MLFLOW_OUTPUTS.clusterName];
  const service = outputs[MLFLOW_OUTPUTS.serviceName];
  if (!cluster || !service) {
    throw new CliError(`Stack ${STACK_NAMES.mlflow} has no ${MLFLOW_OUTPUTS.clusterName}/${MLFLOW_OUTPUTS.serviceName} outputs.`, EXIT.failure,
      'Deploy again (`npx mlflow-on-aws deploy`) so that the outputs exist.');
  }
  const trackingUri = stackOutputs(await findStack(target, STACK_NAMES.gateway))[GATEWAY_OUTPUTS.trackingUri];
  return { cluster, service, resourceId: `service/${cluster}/${service}`, trackingUri };
}

async function scalableTarget(target: Target, client: ApplicationAutoScalingClient, ref: ServiceRef): Promise<ScalableTarget> {
  let found: ScalableTarget | undefined;
  try {
    const answer = await client.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [ref.resourceId], ScalableDimension: DIMENSION }));
    found = answer.ScalableTargets?.[0];
  } catch (error) {
    throw toCliError(error, errorContext(target, `reading the scalable target of ${ref.service} (application-autoscaling:DescribeScalableTargets)`));
  }
  if (!found) {
    throw new CliError(`Service ${ref.service} has no scalable target in Application Auto Scaling.`, EXIT.failure,
      'The stack registers one; deploy again (`npx mlflow-on-aws deploy`) to restore it.');
  }
  return found;
}

async function register(target: Target, client: ApplicationAutoScalingClient, ref: ServiceRef, min: number, max: number, suspend: boolean): Promise<void> {
  try {
    await client.send(new RegisterScalableTargetCommand({
      ServiceNamespace: 'ecs',
      ResourceId: ref.resourceId,
      ScalableDimension: DIMENSION,
      MinCapacity: min,
      MaxCapacity: max,
      SuspendedState: { DynamicScalingInSuspended: suspend, DynamicScalingOutSuspended: suspend, ScheduledScalingSuspended: suspend },
    }));
  } catch (error) {
    throw toCliError(error, errorContext(target, `setting the scalable target of ${ref.service} to ${min}-${max} (application-autoscaling:RegisterScalableTarget)`));
  }
}

async function describeService(target: Target, ref: ServiceRef): Promise<{ desired: number; running: number; pending: number }> {
  try {
    const svc = (await target.clients.ecs.send(new DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service] }))).services?.[0];
    if (!svc) throw new CliError(`ECS service ${ref.service} not found in cluster ${ref.cluster}.`, EXIT.notDeployed);
    return { desired: svc.desiredCount ?? 0, running: svc.runningCount ?? 0, pending: svc.pendingCount ?? 0 };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw toCliError(error, errorContext(target, `reading ECS service ${ref.service} (ecs:DescribeServices)`));
  }
}

async function setDesiredCount(target: Target, ref: ServiceRef, count: number): Promise<void> {
  try {
    await target.clients.ecs.send(new UpdateServiceCommand({ cluster: ref.cluster, service: ref.service, desiredCount: count }));
  } catch (error) {
    throw toCliError(error, errorContext(target, `setting ${ref.service} to ${count} tasks (ecs:UpdateService)`));
  }
}

/**
 * The task counts as deployed: the scalable target's MinCapacity/MaxCapacity and the service's DesiredCount in the
 * stack's template (numbers in this app's templates). Read from CloudFormation, not from local settings, so that
 * resume gives back exactly what the last deploy set.
 */
export async function deployedCapacity(target: Target): Promise<{ min: number; max: number; desired: number; database: DatabaseEngine }> {
  let body: string | undefined;
  try {
    body = (await target.clients.cloudFormation.send(new GetTemplateCommand({ StackName: STACK_NAMES.mlflow, TemplateStage: 'Original' }))).TemplateBody;
  } catch (error) {
    throw toCliError(error, errorContext(target, `reading the template of ${STACK_NAMES.mlflow} (cloudformation:GetTemplate)`));
  }
  const resources = Object.values((JSON.parse(body ?? '{}') as { Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> }> }).Resources ?? {});
  const scalable = resources.filter((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget' && r.Properties?.ScalableDimension === DIMENSION);
  const services = resources.filter((r) => r.Type === 'AWS::ECS::Service');
  const min = scalable[0]?.Properties?.MinCapacity;
  const max = scalable[0]?.Properties?.MaxCapacity;
  if (scalable.length !== 1 || services.length !== 1 || typeof min !== 'number' || typeof max !== 'number') {
    throw new CliError(`The deployed template of ${STACK_NAMES.mlflow} does not have exactly one ECS service with one scalable target of fixed capacity.`,
      EXIT.failure, 'Deploy this version of the app (`npx mlflow-on-aws deploy`), then resume.');
  }
  const templateDesired = services[0].Properties?.DesiredCount;
  // At least one task: a resume that starts nothing would be a pause.
  const desired = Math.max(1, min, typeof templateDesired === 'number' ? Math.min(templateDesired, max) : min);
  const database = databaseOfResourceTypes(resources.map((r) => r.Type));
  checkOneWriter(database, Math.max(max, desired), `starting ${STACK_NAMES.mlflow}'s service with the deployed task counts (${min}-${max})`);
  return { min, max: Math.max(max, desired), desired, database };
}

/**
 * database=sqlite: one task at most. The SQLite file is on the task's own storage and Litestream replicates it from
 * there, so a second task would be a second writer over the same replica. Refuses any count above 1 before it is set.
 */
export function checkOneWriter(database: DatabaseEngine, tasks: number, what: string): void {
  if (database !== 'sqlite' || tasks <= 1) return;
  throw new CliError(`Refused: ${what} would allow ${tasks} MLflow tasks, and with database=sqlite there is exactly one (one writer of the SQLite file and its replica).`,
    EXIT.failure, `Deploy again (\`npx mlflow-on-aws deploy\`): with database=sqlite the stack sets at most 1 task.`);
}

/**
 * Polls the service until `done(runningCount)`; with `probe`, then also until the endpoint's health path answers 200
 * (the whole way in: API Gateway, front door, proxy, MLflow). Returns the seconds waited.
 */
async function waitFor(deps: CliDeps, target: Target, ref: ServiceRef, what: string, done: (tasks: { running: number; pending: number }) => boolean, probe: boolean): Promise<number> {
  const start = deps.now().getTime();
  const elapsed = (): number => deps.now().getTime() - start;
  let tasksDone = false;
  for (;;) {
    if (!tasksDone) tasksDone = done(await describeService(target, ref));
    if (tasksDone && (!probe || !ref.trackingUri || (await answers(`${ref.trackingUri}${HEALTH_CHECK_PATH}`)))) {
      return Math.round(elapsed() / 1000);
    }
    if (elapsed() >= CAPACITY_MAX_WAIT_MS) {
      throw new CliError(`Gave up waiting for ${what} after ${Math.round(CAPACITY_MAX_WAIT_MS / 60_000)} minutes.`, EXIT.failure,
        'See `npx mlflow-on-aws status` and the service\'s events in the ECS console (stopped tasks say why).');
    }
    await deps.sleep(CAPACITY_POLL_MS);
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}
