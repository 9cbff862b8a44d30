/**
 * `status`: stack states, the MLflow endpoint, running/desired tasks, and the database (running or paused); with
 * `--counts`, what MLflow holds (experiments, runs, registered models and versions), counted through the endpoint;
 * with `--json`, the same as one JSON document (`StatusReport`) on stdout.
 */
import { Stack } from '@aws-sdk/client-cloudformation';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { DBCluster, DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { GATEWAY_OUTPUTS, MLFLOW_OUTPUTS, STACK_NAMES } from '../../app/names';
import { serviceState as scalableTargetState } from '../../lib/operations/sleep-function/logic';
import { connect, errorContext, expectedStacks, findStack, stackOutputs, Target } from '../aws';
import { CliDeps } from '../deps';
import { EXIT, notDeployedError, toCliError } from '../errors';
import { countMlflowContents, describeContents, MlflowContents, MlflowRequestError } from '../mlflow-contents';
import { parseCommandOptions } from '../options';
import { STATUS } from './index';
import { readMlflowSecret } from './credentials';
import { newestUpload, replicaUrl, SqliteReplica, sqliteReplicaOf } from '../sqlite-replica';
import type { DatabaseEngine } from '../../lib/contract';

const ORDER = [STACK_NAMES.mlflow, STACK_NAMES.gateway, STACK_NAMES.studio, STACK_NAMES.notebook] as const;

/**
 * What `status --json` prints: one JSON document, the same facts as the text. Documented in docs/reference/cli.md;
 * fields are only ever added. A value that could not be read is null; `problems` says why.
 */
export interface StatusReport {
  readonly account: string;
  readonly region: string;
  /** The stacks the configuration creates, and the others that are deployed. */
  readonly stacks: ReadonlyArray<{ readonly name: string; readonly status: string; readonly updated: string | null; readonly deployed: boolean }>;
  /** The tracking URI (the gateway stack's output). */
  readonly endpoint: string | null;
  readonly mlflowVersion: string | null;
  readonly tasks: {
    readonly running: number;
    readonly desired: number;
    readonly pending: number;
    readonly serviceStatus: string | null;
    readonly rollout: string | null;
    /** 0 desired and 0 running: after `pause`, outside activeHours, or asleep (`stopped` says which). */
    readonly paused: boolean;
    /** Why no task runs, read from the scalable target: `paused`, `off-hours` or `asleep`; null while tasks run. */
    readonly stopped: StoppedKind | null;
  } | null;
  readonly database: {
    readonly identifier: string;
    readonly status: string;
    readonly minCapacityAcu: number | null;
    readonly maxCapacityAcu: number | null;
    readonly autoPauseMinutes: number | null;
    readonly writer: {
      readonly identifier: string;
      /** The latest ServerlessDatabaseCapacity datapoint of the last 15 minutes; 0 is paused. */
      readonly capacityAcu: number | null;
      readonly at: string | null;
    } | null;
  } | null;
  /** The deployed database engine: `aurora` (`database` above) or `sqlite` (`databaseReplica`; `database` is null). */
  readonly databaseEngine: DatabaseEngine;
  /** database=sqlite: Litestream's replica and the time of its newest object (null: none yet, or unknown). */
  readonly databaseReplica: {
    readonly url: string;
    readonly lastUpload: string | null;
  } | null;
  /** With --counts: what MLflow holds; otherwise absent. null when it could not be counted. */
  readonly contents?: MlflowContents | null;
  /** What needs attention; empty when healthy. */
  readonly problems: readonly string[];
  readonly healthy: boolean;
}

interface Part<T> {
  readonly lines: readonly string[];
  readonly value: T;
}

export async function statusCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, options } = parseCommandOptions(STATUS, args);
  const target = await connect(deps, options);
  const json = values.json === true;
  const out = json ? () => undefined : deps.output.out;
  const problems: string[] = [];

  out(`MLflow on AWS: account ${target.account}, region ${target.region}`);
  out('');
  out('Stacks');
  const expected = new Set(expectedStacks(target.config));
  const stacks = new Map<string, Stack | undefined>();
  const stackStates: Array<StatusReport['stacks'][number]> = [];
  for (const name of ORDER) {
    const stack = await findStack(target, name);
    stacks.set(name, stack);
    if (!stack && !expected.has(name)) continue;
    const state = stack?.StackStatus ?? 'not deployed';
    const updated = stack ? ((stack.LastUpdatedTime ?? stack.CreationTime)?.toISOString() ?? null) : null;
    stackStates.push({ name, status: state, updated, deployed: stack !== undefined });
    out(`  ${name.padEnd(32)} ${state}${stack ? ` (${updated ?? 'time unknown'})` : ''}`);
    if (stack && !isHealthyStackState(state)) problems.push(`stack ${name} is ${state}${stack.StackStatusReason ? `: ${stack.StackStatusReason}` : ''}`);
    if (!stack && name !== STACK_NAMES.mlflow) problems.push(`stack ${name} is not deployed`);
  }

  const mlflow = stacks.get(STACK_NAMES.mlflow);
  if (!mlflow) {
    const error = notDeployedError(STACK_NAMES.mlflow, errorContext(target));
    deps.output.err('');
    deps.output.err(`${error.message}\n${error.hint}`);
    return EXIT.notDeployed;
  }
  const outputs = stackOutputs(mlflow);
  const trackingUri = stackOutputs(stacks.get(STACK_NAMES.gateway))[GATEWAY_OUTPUTS.trackingUri];
  out('');
  out(`Endpoint   ${trackingUri ?? '(no gateway output yet)'}`);
  if (target.config.auth === 'sso') out(`Sign-in    ${signInLine(trackingUri, outputs[MLFLOW_OUTPUTS.ssoUserPoolId], target.region)}`);
  if (outputs[MLFLOW_OUTPUTS.mlflowVersion]) out(`MLflow     ${outputs[MLFLOW_OUTPUTS.mlflowVersion]}`);

  const tasks = await serviceState(target, outputs[MLFLOW_OUTPUTS.clusterName], outputs[MLFLOW_OUTPUTS.serviceName], problems);
  out(`Tasks      ${tasks.lines[0]}`);
  const replica = outputs[MLFLOW_OUTPUTS.databaseClusterIdentifier] ? undefined : sqliteReplicaOf(mlflow);
  const database: Part<StatusReport['database']> = replica
    ? { lines: [], value: null }
    : await databaseState(target, outputs[MLFLOW_OUTPUTS.databaseClusterIdentifier], problems, deps.now());
  const replicaState = replica ? await databaseReplicaState(target, replica) : undefined;
  out(`Database   ${replicaState ? replicaState.lines[0] : `aurora ${database.lines[0]}`}`);
  for (const line of database.lines.slice(1)) out(`           ${line}`);
  let contents: Part<MlflowContents | null> | undefined;
  if (values.counts === true) {
    const secretId = outputs[MLFLOW_OUTPUTS.mlflowCredentialsSecretName] ?? target.config.mlflowSecretName;
    contents = await contentsState(target, trackingUri, secretId, problems);
    out(`Contents   ${contents.lines[0]}`);
  }

  if (json) {
    const report: StatusReport = {
      account: target.account,
      region: target.region,
      stacks: stackStates,
      endpoint: trackingUri ?? null,
      mlflowVersion: outputs[MLFLOW_OUTPUTS.mlflowVersion] ?? null,
      tasks: tasks.value,
      database: database.value,
      databaseEngine: replica ? 'sqlite' : 'aurora',
      databaseReplica: replicaState?.value ?? null,
      ...(contents ? { contents: contents.value } : {}),
      problems,
      healthy: problems.length === 0,
    };
    deps.output.out(JSON.stringify(report, null, 2));
  } else if (problems.length > 0) {
    out('');
    out('Needs attention:');
    for (const problem of problems) out(`  - ${problem}`);
  }
  return problems.length > 0 ? EXIT.failure : EXIT.ok;
}

/**
 * auth=sso: where people sign in (the endpoint's sign-in path, which sends them to the provider) and where they are
 * managed: the stack's Cognito user pool, or the provider named by ssoIssuerUrl.
 */
export function signInLine(trackingUri: string | undefined, userPoolId: string | undefined, region: string): string {
  const url = trackingUri ? `${trackingUri}/oauth2/start` : '(no gateway output yet)';
  if (!userPoolId) return `${url} (people and groups: your OpenID provider)`;
  return `${url} (people and groups: Cognito user pool ${userPoolId}, https://${region}.console.aws.amazon.com/cognito/v2/idp/user-pools/${userPoolId}/users)`;
}

/** What MLflow holds, counted through the endpoint; a failure is a problem to report, not a crash of `status`. */
async function contentsState(target: Target, trackingUri: string | undefined, secretId: string, problems: string[]): Promise<Part<MlflowContents | null>> {
  if (!trackingUri) {
    problems.push('MLflow\'s contents cannot be counted without the gateway\'s tracking URI');
    return { lines: ['(unknown: no tracking URI)'], value: null };
  }
  const credentials = await readMlflowSecret(target, secretId);
  try {
    const contents = await countMlflowContents(trackingUri, credentials);
    return { lines: [describeContents(contents)], value: contents };
  } catch (error) {
    if (!(error instanceof MlflowRequestError)) throw error;
    problems.push(`counting MLflow's contents failed: ${error.message}`);
    return { lines: [`(unknown: ${error.message})`], value: null };
  }
}

export function isHealthyStackState(state: string): boolean {
  return /_COMPLETE$/.test(state) && !/ROLLBACK|DELETE/.test(state);
}

async function serviceState(target: Target, cluster: string | undefined, service: string | undefined, problems: string[]): Promise<Part<StatusReport['tasks']>> {
  if (!cluster || !service) {
    problems.push('the MLflow stack has no ECS cluster/service outputs');
    return { lines: ['(unknown: stack outputs missing)'], value: null };
  }
  try {
    const answer = await target.clients.ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
    const svc = answer.services?.[0];
    if (!svc) {
      problems.push(`ECS service ${service} not found (${answer.failures?.[0]?.reason ?? 'no reason given'})`);
      return { lines: [`service ${service} not found`], value: null };
    }
    const running = svc.runningCount ?? 0;
    const desired = svc.desiredCount ?? 0;
    const pending = svc.pendingCount ?? 0;
    const primary = svc.deployments?.find((d) => d.status === 'PRIMARY');
    if (running < desired) problems.push(`only ${running} of ${desired} MLflow tasks are running`);
    const paused = desired === 0 && running === 0;
    const value = { running, desired, pending, serviceStatus: svc.status ?? null, rollout: primary?.rolloutState ?? null, paused };
    const rollout = primary?.rolloutState ? `, deployment ${primary.rolloutState}` : '';
    if (paused) {
      const stopped = await stoppedState(target, cluster, service);
      return { lines: [`0 running / 0 desired: ${STOPPED_TEXT[stopped]}`], value: { ...value, stopped } };
    }
    return { lines: [`${running} running / ${desired} desired${pending ? `, ${pending} pending` : ''} (service ${svc.status ?? 'unknown'}${rollout})`], value: { ...value, stopped: null } };
  } catch (error) {
    throw toCliError(error, errorContext(target, `reading ECS service ${service} (ecs:DescribeServices)`));
  }
}

/**
 * Why a service runs no task, from its scalable target (the sleep function's and the CLI's one reading, src/lib/operations/sleep-function/logic.js):
 * paused, outside its active hours, or asleep. Without a scalable target, "paused" as before.
 */
async function stoppedState(target: Target, cluster: string, service: string): Promise<StoppedKind> {
  let scalable;
  try {
    scalable = (await target.clients.applicationAutoScaling.send(new DescribeScalableTargetsCommand({
      ServiceNamespace: 'ecs', ResourceIds: [`service/${cluster}/${service}`], ScalableDimension: 'ecs:service:DesiredCount',
    }))).ScalableTargets?.[0];
  } catch (error) {
    throw toCliError(error, errorContext(target, `reading the scalable target of ${service} (application-autoscaling:DescribeScalableTargets)`));
  }
  if (!scalable) return 'paused';
  const suspended = scalable.SuspendedState;
  const state = scalableTargetState({
    min: scalable.MinCapacity ?? 0,
    max: scalable.MaxCapacity ?? 0,
    suspended: suspended?.DynamicScalingInSuspended === true && suspended.DynamicScalingOutSuspended === true && suspended.ScheduledScalingSuspended === true,
    desired: 0,
  });
  return state === 'asleep' || state === 'off-hours' ? state : 'paused';
}

/** Why a service runs no task, as `status` prints it. */
export type StoppedKind = 'paused' | 'off-hours' | 'asleep';

const STOPPED_TEXT: Record<StoppedKind, string> = {
  paused: 'paused (`npx mlflow-on-aws resume` starts it again)',
  'off-hours': 'outside activeHours (0..0 until their next start; `npx mlflow-on-aws resume` opens it early)',
  asleep: 'asleep (sleepAfterMinutes): the next request wakes it, answered 503 with Retry-After for about 2 minutes; `npx mlflow-on-aws pause` keeps it off',
};

async function databaseState(target: Target, clusterId: string | undefined, problems: string[], now: Date): Promise<Part<StatusReport['database']>> {
  if (!clusterId) {
    problems.push('the MLflow stack has no database cluster output');
    return { lines: ['(unknown: stack output missing)'], value: null };
  }
  let cluster: DBCluster | undefined;
  try {
    cluster = (await target.clients.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }))).DBClusters?.[0];
  } catch (error) {
    throw toCliError(error, errorContext(target, `reading database cluster ${clusterId} (rds:DescribeDBClusters)`));
  }
  if (!cluster) {
    problems.push(`database cluster ${clusterId} not found`);
    return { lines: [`${clusterId}: not found`], value: { identifier: clusterId, status: 'not found', minCapacityAcu: null, maxCapacityAcu: null, autoPauseMinutes: null, writer: null } };
  }
  const status = cluster.Status ?? 'unknown';
  if (status !== 'available') problems.push(`database cluster ${clusterId} is ${status}`);
  const scaling = cluster.ServerlessV2ScalingConfiguration;
  const autoPauseMinutes = scaling?.SecondsUntilAutoPause !== undefined ? Math.round(scaling.SecondsUntilAutoPause / 60) : null;
  const lines = [`${clusterId}: ${status}`];
  if (scaling) {
    const pause = autoPauseMinutes !== null ? `, auto-pause after ${autoPauseMinutes} min idle` : '';
    lines.push(`Serverless v2 ${scaling.MinCapacity ?? '?'}-${scaling.MaxCapacity ?? '?'} ACU${pause}`);
  }
  const writerId = cluster.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
  let writer: NonNullable<StatusReport['database']>['writer'] = null;
  if (writerId && scaling) {
    const capacity = await writerCapacity(target, writerId, scaling.MinCapacity === 0, now);
    lines.push(...capacity.lines);
    writer = capacity.value;
  }
  return {
    lines,
    value: { identifier: clusterId, status, minCapacityAcu: scaling?.MinCapacity ?? null, maxCapacityAcu: scaling?.MaxCapacity ?? null, autoPauseMinutes, writer },
  };
}

/** database=sqlite: where Litestream replicates, and when it last uploaded (its newest object under the replica prefix). */
async function databaseReplicaState(target: Target, replica: SqliteReplica): Promise<Part<NonNullable<StatusReport['databaseReplica']>>> {
  const url = replicaUrl(replica);
  try {
    const newest = await newestUpload(target, replica);
    const lastUpload = newest?.lastModified?.toISOString() ?? null;
    return { lines: [`sqlite, replica ${url}, last upload ${lastUpload ?? (newest ? 'at an unknown time' : 'none yet')}`], value: { url, lastUpload } };
  } catch (error) {
    const e = toCliError(error, errorContext(target, `listing the database replica ${url} (s3:ListBucket)`));
    if (e.exitCode === EXIT.accessDenied) return { lines: [`sqlite, replica ${url}, last upload unknown (${e.message})`], value: { url, lastUpload: null } };
    throw e;
  }
}

/**
 * A paused Serverless v2 instance keeps the status "available"; what shows it is the ServerlessDatabaseCapacity
 * metric at 0 ACU. Reads the latest one-minute datapoint of the last 15 minutes.
 */
async function writerCapacity(target: Target, instanceId: string, canPause: boolean, now: Date): Promise<Part<{ identifier: string; capacityAcu: number | null; at: string | null }>> {
  const unknown = (line: string) => ({ lines: [line], value: { identifier: instanceId, capacityAcu: null, at: null } });
  try {
    const answer = await target.clients.cloudWatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(now.getTime() - 15 * 60_000),
        EndTime: now,
        ScanBy: 'TimestampDescending',
        MetricDataQueries: [
          {
            Id: 'capacity',
            MetricStat: {
              Metric: { Namespace: 'AWS/RDS', MetricName: 'ServerlessDatabaseCapacity', Dimensions: [{ Name: 'DBInstanceIdentifier', Value: instanceId }] },
              Period: 60,
              Stat: 'Average',
            },
          },
        ],
      }),
    );
    const result = answer.MetricDataResults?.find((r) => r.Id === 'capacity');
    const latest = result?.Values?.[0];
    const at = result?.Timestamps?.[0];
    if (latest === undefined) return unknown(`writer ${instanceId}: capacity unknown (no ServerlessDatabaseCapacity data in the last 15 min)`);
    const when = at ? ` at ${at.toISOString()}` : '';
    const value = { identifier: instanceId, capacityAcu: latest, at: at?.toISOString() ?? null };
    if (latest === 0) return { lines: [`writer ${instanceId}: paused (0 ACU${when}); it resumes on the next connection, in about 15 s`], value };
    return { lines: [`writer ${instanceId}: running at ${latest} ACU${when}${canPause ? '' : ' (minimum above 0: never pauses)'}`], value };
  } catch (error) {
    const e = toCliError(error, errorContext(target, 'reading the database capacity (cloudwatch:GetMetricData)'));
    if (e.exitCode === EXIT.accessDenied) return unknown(`writer ${instanceId}: capacity unknown (${e.message})`);
    throw e;
  }
}
