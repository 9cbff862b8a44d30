/**
 * `status`: stack states, the MLflow endpoint, running/desired tasks, and the database (running or paused); with
 * `--counts`, what MLflow holds (experiments, runs, registered models and versions), counted through the endpoint.
 */
import { Stack } from '@aws-sdk/client-cloudformation';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { DBCluster, DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { GATEWAY_OUTPUTS, MLFLOW_OUTPUTS, STACK_NAMES } from '../../app/names';
import { connect, errorContext, expectedStacks, findStack, stackOutputs, Target } from '../aws';
import { CliDeps } from '../deps';
import { EXIT, notDeployedError, toCliError } from '../errors';
import { countMlflowContents, describeContents, MlflowRequestError } from '../mlflow-contents';
import { commonOptions, parseCommandArgs } from '../options';
import { readMlflowSecret } from './credentials';

export const STATUS_HELP = `Usage: npx mlflow-on-aws status [--counts] [--region R] [--profile P] [-c key=value ...]

Shows the stacks, the MLflow endpoint, ECS tasks and the Aurora database state.
  --counts   also count what MLflow holds (experiments, runs, registered models, versions) through the
             endpoint with the MLflow credentials, e.g. to check a migration; this wakes a paused database
Exit code 0 when healthy, 1 when something needs attention, 5 when MLflow is not deployed.`;

const ORDER = [STACK_NAMES.mlflow, STACK_NAMES.gateway, STACK_NAMES.studio, STACK_NAMES.notebook] as const;

export async function statusCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const values = parseCommandArgs('status', args, { counts: { type: 'boolean' } });
  const options = commonOptions(values);
  if (options.help) {
    deps.output.out(STATUS_HELP);
    return EXIT.ok;
  }
  const target = await connect(deps, options);
  const out = deps.output.out;
  const problems: string[] = [];

  out(`MLflow on AWS: account ${target.account}, region ${target.region}`);
  out('');
  out('Stacks');
  const expected = new Set(expectedStacks(target.config));
  const stacks = new Map<string, Stack | undefined>();
  for (const name of ORDER) {
    const stack = await findStack(target, name);
    stacks.set(name, stack);
    if (!stack && !expected.has(name)) continue;
    const state = stack?.StackStatus ?? 'not deployed';
    const when = stack ? ` (${(stack.LastUpdatedTime ?? stack.CreationTime)?.toISOString() ?? 'time unknown'})` : '';
    out(`  ${name.padEnd(32)} ${state}${when}`);
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
  if (outputs[MLFLOW_OUTPUTS.mlflowVersion]) out(`MLflow     ${outputs[MLFLOW_OUTPUTS.mlflowVersion]}`);

  const tasks = await serviceLine(target, outputs[MLFLOW_OUTPUTS.clusterName], outputs[MLFLOW_OUTPUTS.serviceName], problems);
  out(`Tasks      ${tasks}`);
  const database = await databaseLines(target, outputs[MLFLOW_OUTPUTS.databaseClusterIdentifier], problems, deps.now());
  out(`Database   ${database[0]}`);
  for (const line of database.slice(1)) out(`           ${line}`);
  if (values.counts === true) {
    const secretId = outputs[MLFLOW_OUTPUTS.mlflowCredentialsSecretName] ?? target.config.mlflowSecretName;
    out(`Contents   ${await contentsLine(target, trackingUri, secretId, problems)}`);
  }

  if (problems.length > 0) {
    out('');
    out('Needs attention:');
    for (const problem of problems) out(`  - ${problem}`);
    return EXIT.failure;
  }
  return EXIT.ok;
}

/** What MLflow holds, counted through the endpoint; a failure is a problem to report, not a crash of `status`. */
async function contentsLine(target: Target, trackingUri: string | undefined, secretId: string, problems: string[]): Promise<string> {
  if (!trackingUri) {
    problems.push('MLflow\'s contents cannot be counted without the gateway\'s tracking URI');
    return '(unknown: no tracking URI)';
  }
  const credentials = await readMlflowSecret(target, secretId);
  try {
    return describeContents(await countMlflowContents(trackingUri, credentials));
  } catch (error) {
    if (!(error instanceof MlflowRequestError)) throw error;
    problems.push(`counting MLflow's contents failed: ${error.message}`);
    return `(unknown: ${error.message})`;
  }
}

export function isHealthyStackState(state: string): boolean {
  return /_COMPLETE$/.test(state) && !/ROLLBACK|DELETE/.test(state);
}

async function serviceLine(target: Target, cluster: string | undefined, service: string | undefined, problems: string[]): Promise<string> {
  if (!cluster || !service) {
    problems.push('the MLflow stack has no ECS cluster/service outputs');
    return '(unknown: stack outputs missing)';
  }
  try {
    const answer = await target.clients.ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
    const svc = answer.services?.[0];
    if (!svc) {
      problems.push(`ECS service ${service} not found (${answer.failures?.[0]?.reason ?? 'no reason given'})`);
      return `service ${service} not found`;
    }
    const running = svc.runningCount ?? 0;
    const desired = svc.desiredCount ?? 0;
    const pending = svc.pendingCount ?? 0;
    const primary = svc.deployments?.find((d) => d.status === 'PRIMARY');
    if (running < desired) problems.push(`only ${running} of ${desired} MLflow tasks are running`);
    const rollout = primary?.rolloutState ? `, deployment ${primary.rolloutState}` : '';
    if (desired === 0 && running === 0) return `0 running / 0 desired: paused (\`npx mlflow-on-aws resume\` starts it again)`;
    return `${running} running / ${desired} desired${pending ? `, ${pending} pending` : ''} (service ${svc.status ?? 'unknown'}${rollout})`;
  } catch (error) {
    throw toCliError(error, errorContext(target, `reading ECS service ${service} (ecs:DescribeServices)`));
  }
}

async function databaseLines(target: Target, clusterId: string | undefined, problems: string[], now: Date): Promise<string[]> {
  if (!clusterId) {
    problems.push('the MLflow stack has no database cluster output');
    return ['(unknown: stack output missing)'];
  }
  let cluster: DBCluster | undefined;
  try {
    cluster = (await target.clients.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }))).DBClusters?.[0];
  } catch (error) {
    throw toCliError(error, errorContext(target, `reading database cluster ${clusterId} (rds:DescribeDBClusters)`));
  }
  if (!cluster) {
    problems.push(`database cluster ${clusterId} not found`);
    return [`${clusterId}: not found`];
  }
  const status = cluster.Status ?? 'unknown';
  if (status !== 'available') problems.push(`database cluster ${clusterId} is ${status}`);
  const scaling = cluster.ServerlessV2ScalingConfiguration;
  const lines = [`${clusterId}: ${status}`];
  if (scaling) {
    const pause = scaling.SecondsUntilAutoPause !== undefined ? `, auto-pause after ${Math.round(scaling.SecondsUntilAutoPause / 60)} min idle` : '';
    lines.push(`Serverless v2 ${scaling.MinCapacity ?? '?'}-${scaling.MaxCapacity ?? '?'} ACU${pause}`);
  }
  const writer = cluster.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
  if (writer && scaling) lines.push(await writerCapacity(target, writer, scaling.MinCapacity === 0, now));
  return lines;
}

/**
 * A paused Serverless v2 instance keeps the status "available"; what shows it is the ServerlessDatabaseCapacity
 * metric at 0 ACU. Reads the latest one-minute datapoint of the last 15 minutes.
 */
async function writerCapacity(target: Target, instanceId: string, canPause: boolean, now: Date): Promise<string> {
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
    if (latest === undefined) return `writer ${instanceId}: capacity unknown (no ServerlessDatabaseCapacity data in the last 15 min)`;
    const when = at ? ` at ${at.toISOString()}` : '';
    if (latest === 0) return `writer ${instanceId}: paused (0 ACU${when}); it resumes on the next connection, in about 15 s`;
    return `writer ${instanceId}: running at ${latest} ACU${when}${canPause ? '' : ' (minimum above 0: never pauses)'}`;
  } catch (error) {
    const e = toCliError(error, errorContext(target, 'reading the database capacity (cloudwatch:GetMetricData)'));
    if (e.exitCode === EXIT.accessDenied) return `writer ${instanceId}: capacity unknown (${e.message})`;
    throw e;
  }
}
