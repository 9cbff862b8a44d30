/**
 * `upgrade`: a change of MLflow release done as MLflow requires it for SQL-backed servers (3.17.0 release notes: a
 * coordinated schema upgrade with every writer stopped and a restorable backup, `mlflow db upgrade` before the new
 * release's servers start). `deploy` refuses a change of `mlflowVersion` and points here (`checkMlflowVersionChange`):
 * the upgrade stops MLflow for a while, so it is a command of its own that a person runs knowingly, not a side effect of
 * a deploy that is otherwise without downtime.
 *
 * Steps: stop every task (the pause of `pause`, waited for), a manual snapshot of the Aurora cluster (taken after the
 * writers stopped, so it holds every acknowledged write; waited for), the deploy of the new release with the service kept
 * at 0, `mlflow db upgrade` once in a one-off task of the new task definition (the MLflow container with
 * MLFLOW_MIGRATE_ONLY=true migrates under the schema lock and exits; its log is streamed here), then the start of the new
 * release and a write and a read through the endpoint. Meanwhile clients get 503 with Retry-After (the gateway's mapping,
 * docs/reference/cli.md), which MLflow's client retries.
 *
 * When the migration fails, the service stays at 0 and one command brings the old release back on the old data:
 * `upgrade --rollback` restores the snapshot in place (the failed cluster is renamed aside and kept, the snapshot is
 * restored under the cluster's own identifier, so the stack, the endpoint and the secret stay as they are), deploys the
 * old release with the service at 0, starts it and checks it. `restore` cannot do this: it needs the stacks deleted.
 *
 * database=sqlite (the stack has the database replica bucket): the backup is a copy of the Litestream replica, taken
 * with every task stopped (so Litestream's final sync is in it), under `backups/<UTC time>-mlflow-<from>/` of the replica
 * bucket, checked by listing (src/cli/sqlite-replica.ts); the one-off task migrates the SQLite file (the container
 * restores it, migrates, and Litestream uploads the result before the task exits). `--rollback` replaces the replica by
 * the newest such copy and deploys the release it names.
 */
import {
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  DBCluster,
  DBClusterSnapshot,
  DBInstance,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RestoreDBClusterFromSnapshotCommand,
  Tag,
} from '@aws-sdk/client-rds';
import { DescribeServicesCommand, DescribeTasksCommand, DescribeTaskDefinitionCommand, RunTaskCommand, Service } from '@aws-sdk/client-ecs';
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CONTAINER_NAMES, MLFLOW_OUTPUTS, STACK_NAMES } from '../../app/names';
import { compareVersions } from '../../app/versions';
import { connect, errorContext, findStack, stackOutputs, Target } from '../aws';
import { CliDeps } from '../deps';
import { CliError, EXIT, notDeployedError, toCliError } from '../errors';
import { mlflowRequest } from '../mlflow-contents';
import { CommonOptions, confirmed, parseCommandOptions } from '../options';
import { UPGRADE } from './index';
import { holdAtZero, serviceRef, ServiceRef, startAsDeployed, waitUntilStopped } from './capacity';
import { mlflowAdmin } from './credentials';
import { deployCommand } from './deploy';
import { backupFolder, backupId, copyReplicaToBackup, listBackups, replaceReplicaByBackup, ReplicaBackup, replicaUrl, SqliteReplica, sqliteReplicaOf } from '../sqlite-replica';

/** How often the snapshot, the database and the migration task are polled, and the longest each wait lasts. */
export const UPGRADE_POLL_MS = 10_000;
export const MIGRATION_LOG_POLL_MS = 5_000;
export const UPGRADE_MAX_WAIT_MS = 60 * 60 * 1000;

/** Tags of the snapshot an upgrade takes: the releases before and after. `--rollback` reads the first. */
export const UPGRADE_FROM_TAG = 'mlflow-on-aws:upgrade-from';
export const UPGRADE_TO_TAG = 'mlflow-on-aws:upgrade-to';
/** Start of the identifiers of the snapshots an upgrade takes. */
export const UPGRADE_SNAPSHOT_PREFIX = 'mlflow-upgrade-';
/** The experiment the check after an upgrade writes a run into. */
export const UPGRADE_CHECK_EXPERIMENT = 'mlflow-on-aws-upgrade-checks';
/** What makes the MLflow container migrate and exit (containers/mlflow/entrypoint.sh). */
export const MIGRATE_ONLY_ENVIRONMENT = { name: 'MLFLOW_MIGRATE_ONLY', value: 'true' } as const;

const ROLLBACK_COMMAND = 'npx mlflow-on-aws upgrade --rollback';

/**
 * For `deploy`: refuses a configured mlflowVersion other than the deployed one (the MLflowVpcStack output), unless the
 * caller is the upgrade itself. Nothing to check when the stack or its output is not there (a first deploy).
 */
export async function checkMlflowVersionChange(target: Target, allowed: boolean): Promise<void> {
  if (allowed) return;
  const deployed = stackOutputs(await findStack(target, STACK_NAMES.mlflow))[MLFLOW_OUTPUTS.mlflowVersion];
  const configured = target.config.mlflowVersion;
  if (!deployed || deployed === configured) return;
  throw new CliError(`${STACK_NAMES.mlflow} runs MLflow ${deployed}; the configuration says mlflowVersion=${configured}. A deploy does not change the MLflow release: `
    + 'MLflow requires its database schema to be upgraded with every writer stopped and a restorable backup, and the old release cannot run on the migrated schema.',
  EXIT.failure,
  `Upgrade with \`npx mlflow-on-aws upgrade\` (stops MLflow, takes a snapshot, migrates once, starts ${configured} and checks it), or keep mlflowVersion=${deployed} to deploy other changes.`);
}

export async function upgradeCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, options } = parseCommandOptions(UPGRADE, args);
  if (values.snapshot !== undefined && values.rollback !== true) {
    throw new CliError('--snapshot goes with --rollback: an upgrade takes its own snapshot.', EXIT.usage, `Usage: npx mlflow-on-aws upgrade ${UPGRADE.synopsis![1]}`);
  }
  const target = await connect(deps, options);
  return values.rollback === true
    ? rollback(deps, target, options, values.snapshot as string | undefined, values.yes === true)
    : upgrade(deps, target, options, values.yes === true);
}

/** What the upgrade and the rollback read of the deployed MLflowVpcStack: the Aurora cluster, or (database=sqlite) the replica. */
type Deployed = {
  readonly version: string;
  readonly ref: ServiceRef;
} & ({ readonly clusterId: string; readonly replica?: undefined } | { readonly replica: SqliteReplica; readonly clusterId?: undefined });

async function readDeployed(target: Target): Promise<Deployed> {
  const stack = await findStack(target, STACK_NAMES.mlflow);
  if (!stack) throw notDeployedError(STACK_NAMES.mlflow, errorContext(target));
  const outputs = stackOutputs(stack);
  const version = outputs[MLFLOW_OUTPUTS.mlflowVersion];
  const clusterId = outputs[MLFLOW_OUTPUTS.databaseClusterIdentifier];
  const replica = sqliteReplicaOf(stack);
  if (!version || (!clusterId && !replica)) {
    throw new CliError(`Stack ${STACK_NAMES.mlflow} has no ${MLFLOW_OUTPUTS.mlflowVersion}/${MLFLOW_OUTPUTS.databaseClusterIdentifier} (or ${MLFLOW_OUTPUTS.databaseReplicaBucketName}) outputs.`, EXIT.failure,
      'Deploy this release of the app with the deployed mlflowVersion first (`npx mlflow-on-aws deploy -c mlflowVersion=<deployed>`), then upgrade.');
  }
  const ref = await serviceRef(target, stack);
  return clusterId ? { version, ref, clusterId } : { version, ref, replica: replica! };
}

async function upgrade(deps: CliDeps, target: Target, options: CommonOptions, yes: boolean): Promise<number> {
  const log = deps.output.err;
  const deployed = await readDeployed(target);
  const from = deployed.version;
  const to = target.config.mlflowVersion;
  if (from === to) {
    deps.output.out(`MLflow ${to} is deployed already: nothing to upgrade. Other changes go through \`npx mlflow-on-aws deploy\`.`);
    return EXIT.ok;
  }
  if (compareVersions(to, from) < 0) {
    throw new CliError(`mlflowVersion=${to} is older than the deployed MLflow ${from}: MLflow's schema migrations go forward only, and ${to} cannot run on ${from}'s schema.`,
      EXIT.usage, `To go back to the release and the data of before an upgrade: ${ROLLBACK_COMMAND}. Otherwise set mlflowVersion=${from} (or newer).`);
  }
  log(`Upgrading MLflow ${from} to ${to} in account ${target.account}, region ${target.region}:`);
  log(`  stop every task, ${deployed.replica ? `copy the database replica (${replicaUrl(deployed.replica)})` : 'snapshot the database'}, deploy, migrate once, start, check. MLflow is unavailable meanwhile: clients get 503 with Retry-After.`);
  await confirm(deps, yes, `Stop MLflow and upgrade it to ${to}? Type "yes" to continue: `);

  const stoppedAt = deps.now().getTime();
  log(`[1/6] Stopping every MLflow task (service ${deployed.ref.service}) ...`);
  await holdAtZero(target, deployed.ref);
  log(`      no task runs (after ${await waitUntilStopped(deps, target, deployed.ref)} s)`);

  let snapshot: string;
  if (deployed.replica) {
    const id = backupId(deps.now(), from);
    log(`[2/6] Copying the database replica ${replicaUrl(deployed.replica)} to s3://${deployed.replica.bucket}/${backupFolder(id)} ...`);
    try {
      const copy = await copyReplicaToBackup(target, deployed.replica, id);
      log(`      ${copy.objects} object(s), ${copy.bytes} bytes, copied and checked`);
    } catch (error) {
      // As for a failed snapshot: nothing was changed, but the copy is not known to be whole, so MLflow stays stopped.
      const e = toCliError(error, errorContext(target, 'copying the database replica'));
      throw new CliError(`${e.message} Nothing was upgraded.`, e.exitCode,
        `${e.hint ? `${e.hint}\n` : ''}MLflow ${from} stays stopped: start it again with \`npx mlflow-on-aws resume\`${regionArgs(options)}, or fix the cause and run \`npx mlflow-on-aws upgrade\` again.`);
    }
    snapshot = `copy ${backupFolder(id)}`;
  } else {
    log(`[2/6] Snapshot of the database cluster ${deployed.clusterId} ...`);
    try {
      snapshot = await takeSnapshot(deps, target, deployed.clusterId, from, to);
    } catch (error) {
      log('The snapshot failed: nothing was changed. Starting MLflow ' + from + ' again ...');
      await startAsDeployed(deps, target, deployed.ref, false).catch(() => log('Could not start it: run `npx mlflow-on-aws resume`.'));
      throw error;
    }
  }
  const rollbackHint = `MLflow stays stopped. To get MLflow ${from} back on the data of ${deployed.replica ? '' : 'snapshot '}${snapshot} (taken with every writer stopped): ${ROLLBACK_COMMAND}${regionArgs(options)}`;

  log(`[3/6] Deploying MLflow ${to} with the service kept at 0 tasks ...`);
  try {
    await deployCommand(forwardedArgs(options), deps, { allowVersionChange: true, whilePaused: true });
  } catch (error) {
    const e = toCliError(error, errorContext(target, 'deploying the new release'));
    throw new CliError(`${e.message} The schema was not migrated.`, e.exitCode,
      `${e.hint ? `${e.hint}\n` : ''}Fix the cause and run \`npx mlflow-on-aws upgrade\` again. ${rollbackHint}`);
  }

  log(`[4/6] Migrating the schema: mlflow db upgrade in a one-off task of MLflow ${to} ...`);
  const migration = await runMigrationTask(deps, target, deployed.ref);
  if (migration.exitCode !== 0) {
    throw new CliError(`The migration task ${migration.taskId} failed: ${migration.detail}.`, EXIT.failure,
      `Its log is above (and in CloudWatch Logs, ${migration.logGroup}). ${rollbackHint}`);
  }
  log(`      migrated (task ${migration.taskId}, exit code 0)`);

  log(`[5/6] Starting MLflow ${to} ...`);
  await startAsDeployed(deps, target, deployed.ref, true);
  const downtime = Math.round((deps.now().getTime() - stoppedAt) / 1000);

  log('[6/6] Checking a write and a read through the endpoint ...');
  try {
    await checkWriteAndRead(target, from, to);
  } catch (error) {
    const e = toCliError(error, errorContext(target, 'checking MLflow through the endpoint'));
    throw new CliError(`MLflow ${to} runs, but the check through the endpoint failed: ${e.message}`, EXIT.failure,
      `See \`npx mlflow-on-aws status\` and the tasks' logs. To go back to MLflow ${from} on the data of ${deployed.replica ? '' : 'snapshot '}${snapshot}: ${ROLLBACK_COMMAND}${regionArgs(options)}`);
  }
  deps.output.out(`Upgraded MLflow ${from} to ${to}: MLflow was unavailable for ${downtime} s; a write and a read through the endpoint passed.`);
  deps.output.out(deployed.replica
    ? `Copy of the database replica before the upgrade: s3://${deployed.replica.bucket}/${snapshot.replace(/^copy /, '')} (kept until you delete it).`
    : `Snapshot of the data before the upgrade: ${snapshot} (kept; delete it when no longer needed).`);
  if (options.context.mlflowVersion !== undefined) deps.output.out(`Put mlflowVersion=${to} in cdk.json (context): a deploy with another mlflowVersion is refused.`);
  return EXIT.ok;
}

async function rollback(deps: CliDeps, target: Target, options: CommonOptions, snapshotArg: string | undefined, yes: boolean): Promise<number> {
  const log = deps.output.err;
  const deployed = await readDeployed(target);
  if (deployed.replica) return rollbackReplica(deps, target, options, { ...deployed, replica: deployed.replica }, snapshotArg, yes);
  const snapshot = await upgradeSnapshot(target, deployed.clusterId, snapshotArg);
  const from = tagValue(snapshot.TagList, UPGRADE_FROM_TAG)!;
  const name = snapshot.DBClusterSnapshotIdentifier!;
  const stamp = timestamp(deps.now());
  const aside = `${deployed.clusterId}-failed-${stamp}`;
  log(`Rolling back to MLflow ${from} on the data of snapshot ${name} (taken ${snapshot.SnapshotCreateTime?.toISOString() ?? 'at an unknown time'}):`);
  log(`  the database cluster ${deployed.clusterId} (MLflow ${deployed.version}) is renamed ${aside} and kept; the snapshot is restored as ${deployed.clusterId};`);
  log(`  MLflow ${from} is deployed on it, started and checked. Writes made after the snapshot are not in it.`);
  await confirm(deps, yes, `Replace the database by snapshot ${name} and deploy MLflow ${from}? Type "yes" to continue: `);

  log(`[1/6] Stopping every MLflow task (service ${deployed.ref.service}) ...`);
  await holdAtZero(target, deployed.ref);
  await waitUntilStopped(deps, target, deployed.ref);

  const cluster = await describeCluster(target, deployed.clusterId);
  const instances = await Promise.all((cluster.DBClusterMembers ?? []).map((member) => describeInstance(target, member.DBInstanceIdentifier!)));
  log(`[2/6] Renaming the cluster ${deployed.clusterId} to ${aside}${instances.length ? ` and its instances (${instances.map((i) => i.DBInstanceIdentifier).join(', ')})` : ''} ...`);
  await rds(target, `renaming ${deployed.clusterId} (rds:ModifyDBCluster)`, () => target.clients.rds.send(new ModifyDBClusterCommand({
    DBClusterIdentifier: deployed.clusterId, NewDBClusterIdentifier: aside, ApplyImmediately: true,
  })));
  await waitForCluster(deps, target, aside);
  for (const instance of instances) {
    const renamed = asideName(instance.DBInstanceIdentifier!, stamp);
    await rds(target, `renaming ${instance.DBInstanceIdentifier} (rds:ModifyDBInstance)`, () => target.clients.rds.send(new ModifyDBInstanceCommand({
      DBInstanceIdentifier: instance.DBInstanceIdentifier, NewDBInstanceIdentifier: renamed, ApplyImmediately: true,
    })));
    await waitForInstance(deps, target, renamed);
  }

  log(`[3/6] Restoring snapshot ${name} as ${deployed.clusterId} ...`);
  await rds(target, `restoring ${name} (rds:RestoreDBClusterFromSnapshot)`, () => target.clients.rds.send(new RestoreDBClusterFromSnapshotCommand({
    DBClusterIdentifier: deployed.clusterId,
    SnapshotIdentifier: snapshot.DBClusterSnapshotArn ?? name,
    Engine: cluster.Engine,
    EngineVersion: cluster.EngineVersion,
    Port: cluster.Port,
    DBSubnetGroupName: cluster.DBSubnetGroup,
    VpcSecurityGroupIds: (cluster.VpcSecurityGroups ?? []).map((group) => group.VpcSecurityGroupId!),
    DBClusterParameterGroupName: cluster.DBClusterParameterGroup,
    KmsKeyId: cluster.KmsKeyId,
    ServerlessV2ScalingConfiguration: cluster.ServerlessV2ScalingConfiguration,
    EnableCloudwatchLogsExports: cluster.EnabledCloudwatchLogsExports,
    EnableIAMDatabaseAuthentication: cluster.IAMDatabaseAuthenticationEnabled,
    DeletionProtection: cluster.DeletionProtection,
    CopyTagsToSnapshot: cluster.CopyTagsToSnapshot,
    Tags: ownTags(cluster.TagList),
  })));
  await waitForCluster(deps, target, deployed.clusterId);
  await rds(target, `restoring the backup settings of ${deployed.clusterId} (rds:ModifyDBCluster)`, () => target.clients.rds.send(new ModifyDBClusterCommand({
    DBClusterIdentifier: deployed.clusterId,
    BackupRetentionPeriod: cluster.BackupRetentionPeriod,
    PreferredBackupWindow: cluster.PreferredBackupWindow,
    PreferredMaintenanceWindow: cluster.PreferredMaintenanceWindow,
    ApplyImmediately: true,
  })));
  for (const instance of instances) {
    await rds(target, `creating ${instance.DBInstanceIdentifier} (rds:CreateDBInstance)`, () => target.clients.rds.send(new CreateDBInstanceCommand({
      DBInstanceIdentifier: instance.DBInstanceIdentifier,
      DBClusterIdentifier: deployed.clusterId,
      DBInstanceClass: instance.DBInstanceClass,
      Engine: instance.Engine,
      DBParameterGroupName: instance.DBParameterGroups?.[0]?.DBParameterGroupName,
      PromotionTier: instance.PromotionTier,
      PubliclyAccessible: instance.PubliclyAccessible,
      AutoMinorVersionUpgrade: instance.AutoMinorVersionUpgrade,
      EnablePerformanceInsights: instance.PerformanceInsightsEnabled,
      PerformanceInsightsKMSKeyId: instance.PerformanceInsightsEnabled ? instance.PerformanceInsightsKMSKeyId : undefined,
      PerformanceInsightsRetentionPeriod: instance.PerformanceInsightsEnabled ? instance.PerformanceInsightsRetentionPeriod : undefined,
      MonitoringInterval: instance.MonitoringInterval,
      MonitoringRoleArn: instance.MonitoringInterval ? instance.MonitoringRoleArn : undefined,
      CACertificateIdentifier: instance.CACertificateIdentifier,
      AvailabilityZone: instance.AvailabilityZone,
      Tags: ownTags(instance.TagList),
    })));
  }
  for (const instance of instances) await waitForInstance(deps, target, instance.DBInstanceIdentifier!);

  log(`[4/6] Deploying MLflow ${from} with the service kept at 0 tasks ...`);
  await deployCommand([...forwardedArgs(options), '-c', `mlflowVersion=${from}`], deps, { allowVersionChange: true, whilePaused: true });

  log(`[5/6] Starting MLflow ${from} ...`);
  await startAsDeployed(deps, target, deployed.ref, true);
  log('[6/6] Checking a write and a read through the endpoint ...');
  await checkWriteAndRead(target, deployed.version, from);
  deps.output.out(`Rolled back: MLflow ${from} serves the data of snapshot ${name}; a write and a read through the endpoint passed.`);
  deps.output.out(`Put mlflowVersion=${from} in cdk.json (context): a deploy with another mlflowVersion is refused.`);
  deps.output.out(`The cluster of the failed upgrade is kept as ${aside} (deletion protection as before): inspect it, then delete its instances and it.`);
  return EXIT.ok;
}

/**
 * database=sqlite: `--rollback` replaces the replica by the newest copy an upgrade took (or `--snapshot <copy id>`),
 * deploys the release that copy was written by with the service at 0, starts it and checks it.
 */
async function rollbackReplica(deps: CliDeps, target: Target, options: CommonOptions, deployed: Deployed & { replica: SqliteReplica }, requested: string | undefined, yes: boolean): Promise<number> {
  const log = deps.output.err;
  const { replica } = deployed;
  const backups = (await listBackups(target, replica)).filter((b) => b.mlflowVersion !== undefined);
  const backup: ReplicaBackup | undefined = requested ? backups.find((b) => b.id === requested) : backups[0];
  if (!backup) {
    throw new CliError(requested
      ? `No copy ${requested} taken by \`npx mlflow-on-aws upgrade\` in s3://${replica.bucket}/${backupFolder('')}.`
      : `The database replica bucket ${replica.bucket} holds no copy taken by \`npx mlflow-on-aws upgrade\` (under ${backupFolder('')}).`,
    EXIT.failure, 'List the copies: npx mlflow-on-aws restore --list');
  }
  const from = backup.mlflowVersion!;
  log(`Rolling back to MLflow ${from} on the data of the copy ${backupFolder(backup.id)} (${backup.objects} object(s)):`);
  log(`  the objects under ${replicaUrl(replica)} (MLflow ${deployed.version}) are deleted and the copy's put in their place; the bucket is versioned, so the deleted ones stay as earlier versions: nothing is lost.`);
  log(`  MLflow ${from} is deployed on it, started and checked. Writes made after the copy are not in it.`);
  await confirm(deps, yes, `Replace the database replica by the copy ${backup.id} and deploy MLflow ${from}? Type "yes" to continue: `);

  log(`[1/5] Stopping every MLflow task (service ${deployed.ref.service}) ...`);
  await holdAtZero(target, deployed.ref);
  await waitUntilStopped(deps, target, deployed.ref);
  log(`[2/5] Replacing ${replicaUrl(replica)} by the copy ${backup.id} ...`);
  const replaced = await replaceReplicaByBackup(target, replica, backup.id);
  log(`      ${replaced.deleted} object(s) deleted (kept as earlier versions), ${replaced.copied} copied and checked`);
  log(`[3/5] Deploying MLflow ${from} with the service kept at 0 tasks ...`);
  await deployCommand([...forwardedArgs(options), '-c', `mlflowVersion=${from}`], deps, { allowVersionChange: true, whilePaused: true });
  log(`[4/5] Starting MLflow ${from} ...`);
  await startAsDeployed(deps, target, deployed.ref, true);
  log('[5/5] Checking a write and a read through the endpoint ...');
  await checkWriteAndRead(target, deployed.version, from);
  deps.output.out(`Rolled back: MLflow ${from} serves the data of the copy ${backup.id}; a write and a read through the endpoint passed.`);
  deps.output.out(`Put mlflowVersion=${from} in cdk.json (context): a deploy with another mlflowVersion is refused.`);
  deps.output.out(`The replica of the failed upgrade is kept as the earlier versions of the objects under ${replicaUrl(replica)} (S3 versioning).`);
  return EXIT.ok;
}

/** The snapshot `--rollback` restores: `requested`, or the newest available upgrade snapshot of the cluster. */
async function upgradeSnapshot(target: Target, clusterId: string, requested: string | undefined): Promise<DBClusterSnapshot> {
  let snapshots: DBClusterSnapshot[];
  try {
    const answer = await target.clients.rds.send(new DescribeDBClusterSnapshotsCommand(requested
      ? { DBClusterSnapshotIdentifier: requested }
      : { DBClusterIdentifier: clusterId, SnapshotType: 'manual' }));
    snapshots = answer.DBClusterSnapshots ?? [];
  } catch (error) {
    if ((error as { name?: string }).name !== 'DBClusterSnapshotNotFoundFault') {
      throw toCliError(error, errorContext(target, 'listing the snapshots of the database (rds:DescribeDBClusterSnapshots)'));
    }
    snapshots = [];
  }
  const candidates = snapshots
    .filter((s) => tagValue(s.TagList, UPGRADE_FROM_TAG) && s.Status === 'available')
    .sort((a, b) => (b.SnapshotCreateTime?.getTime() ?? 0) - (a.SnapshotCreateTime?.getTime() ?? 0));
  if (candidates.length === 0) {
    throw new CliError(requested
      ? `Snapshot ${requested} is not an available snapshot taken by \`npx mlflow-on-aws upgrade\` (tag ${UPGRADE_FROM_TAG}).`
      : `The database cluster ${clusterId} has no available snapshot taken by \`npx mlflow-on-aws upgrade\` (tag ${UPGRADE_FROM_TAG}).`,
    EXIT.failure,
    'A rollback restores the snapshot an upgrade took. For another snapshot: `npx mlflow-on-aws destroy`, then `npx mlflow-on-aws restore --snapshot <id>`.');
  }
  return candidates[0];
}

/** A manual snapshot of the cluster, tagged with both releases; waits until it is available and returns its identifier. */
async function takeSnapshot(deps: CliDeps, target: Target, clusterId: string, from: string, to: string): Promise<string> {
  const id = `${UPGRADE_SNAPSHOT_PREFIX}${from.replace(/\./g, '-')}-to-${to.replace(/\./g, '-')}-${timestamp(deps.now())}`;
  await rds(target, `creating snapshot ${id} of ${clusterId} (rds:CreateDBClusterSnapshot)`, () => target.clients.rds.send(new CreateDBClusterSnapshotCommand({
    DBClusterIdentifier: clusterId,
    DBClusterSnapshotIdentifier: id,
    Tags: [{ Key: UPGRADE_FROM_TAG, Value: from }, { Key: UPGRADE_TO_TAG, Value: to }],
  })));
  const seconds = await poll(deps, `snapshot ${id} to be available`, async () => {
    const snapshot = (await rds(target, `reading snapshot ${id} (rds:DescribeDBClusterSnapshots)`, () => target.clients.rds.send(
      new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id })))).DBClusterSnapshots?.[0];
    if (snapshot?.Status === 'failed' || snapshot?.Status === 'error') {
      throw new CliError(`Snapshot ${id} of ${clusterId} ended ${snapshot.Status}.`, EXIT.failure, 'See the RDS console\'s events of the cluster.');
    }
    return snapshot?.Status === 'available';
  });
  deps.output.err(`      snapshot ${id} is available (after ${seconds} s)`);
  return id;
}

interface MigrationResult {
  readonly taskId: string;
  readonly exitCode: number | undefined;
  readonly detail: string;
  readonly logGroup: string;
}

/**
 * Runs the service's task definition once with the MLflow container told to migrate and exit (MLFLOW_MIGRATE_ONLY),
 * in the service's subnets and security groups, prints its MLflow container's log as it comes, and returns once the task
 * has stopped with the container's exit code.
 */
async function runMigrationTask(deps: CliDeps, target: Target, ref: ServiceRef): Promise<MigrationResult> {
  const ecs = target.clients.ecs;
  const ecsCall = <T>(what: string, call: () => Promise<T>): Promise<T> => call().catch((error: unknown) => {
    throw toCliError(error, errorContext(target, what));
  });
  const service: Service | undefined = (await ecsCall('reading the service (ecs:DescribeServices)', () => ecs.send(new DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service] })))).services?.[0];
  if (!service?.taskDefinition || !service.networkConfiguration) throw new CliError(`ECS service ${ref.service} has no task definition or network configuration.`, EXIT.failure);
  const definition = (await ecsCall(`reading ${service.taskDefinition} (ecs:DescribeTaskDefinition)`, () => ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition })))).taskDefinition;
  const container = definition?.containerDefinitions?.find((c) => c.name === CONTAINER_NAMES.mlflow);
  const logOptions = container?.logConfiguration?.options ?? {};
  const logGroup = logOptions['awslogs-group'];
  const streamPrefix = logOptions['awslogs-stream-prefix'];
  if (!container || !logGroup || !streamPrefix) throw new CliError(`The task definition ${service.taskDefinition} has no ${CONTAINER_NAMES.mlflow} container logging to CloudWatch Logs.`, EXIT.failure);

  const run = await ecsCall('starting the migration task (ecs:RunTask)', () => ecs.send(new RunTaskCommand({
    cluster: ref.cluster,
    taskDefinition: service.taskDefinition,
    count: 1,
    ...(service.capacityProviderStrategy?.length ? { capacityProviderStrategy: service.capacityProviderStrategy } : { launchType: service.launchType ?? 'FARGATE' }),
    ...(service.platformVersion ? { platformVersion: service.platformVersion } : {}),
    networkConfiguration: service.networkConfiguration,
    overrides: { containerOverrides: [{ name: CONTAINER_NAMES.mlflow, environment: [MIGRATE_ONLY_ENVIRONMENT] }] },
    startedBy: 'mlflow-on-aws-upgrade',
  })));
  const taskArn = run.tasks?.[0]?.taskArn;
  if (!taskArn) {
    const failure = run.failures?.map((f) => `${f.arn ?? ''} ${f.reason ?? ''} ${f.detail ?? ''}`.trim()).join('; ');
    throw new CliError(`ECS did not start the migration task${failure ? `: ${failure}` : ''}.`, EXIT.failure, 'Nothing was migrated.');
  }
  const taskId = taskArn.split('/').pop()!;
  const logStreamName = `${streamPrefix}/${CONTAINER_NAMES.mlflow}/${taskId}`;
  deps.output.err(`      task ${taskId}; its log (${logGroup}, ${logStreamName}):`);

  let token: string | undefined;
  const printNewLines = async (): Promise<void> => {
    for (;;) {
      let answer;
      try {
        answer = await target.clients.cloudWatchLogs.send(new GetLogEventsCommand({ logGroupName: logGroup, logStreamName, startFromHead: true, nextToken: token }));
      } catch (error) {
        if ((error as { name?: string }).name === 'ResourceNotFoundException') return; // the stream appears when the container starts
        throw toCliError(error, errorContext(target, `reading the migration task's log (logs:GetLogEvents on ${logGroup})`));
      }
      for (const event of answer.events ?? []) deps.output.err(`      | ${event.message ?? ''}`);
      const same = answer.nextForwardToken === undefined || answer.nextForwardToken === token;
      token = answer.nextForwardToken;
      if (same || (answer.events ?? []).length === 0) return;
    }
  };

  const start = deps.now().getTime();
  for (;;) {
    await printNewLines();
    const task = (await ecsCall('reading the migration task (ecs:DescribeTasks)', () => ecs.send(new DescribeTasksCommand({ cluster: ref.cluster, tasks: [taskArn] })))).tasks?.[0];
    if (task?.lastStatus === 'STOPPED') {
      await printNewLines();
      const mlflow = task.containers?.find((c) => c.name === CONTAINER_NAMES.mlflow);
      const exitCode = mlflow?.exitCode;
      const detail = exitCode === undefined
        ? `its MLflow container did not run (${[task.stoppedReason, mlflow?.reason].filter(Boolean).join('; ') || 'no reason given'})`
        : `exit code ${exitCode}${task.stoppedReason ? ` (${task.stoppedReason})` : ''}`;
      return { taskId, exitCode, detail, logGroup };
    }
    if (deps.now().getTime() - start >= UPGRADE_MAX_WAIT_MS) {
      throw new CliError(`The migration task ${taskId} still runs after ${UPGRADE_MAX_WAIT_MS / 60_000} minutes.`, EXIT.failure,
        `It goes on (large databases migrate for long): follow its log in ${logGroup}. When it has stopped with exit code 0, \`npx mlflow-on-aws resume\`; otherwise ${ROLLBACK_COMMAND}.`);
    }
    await deps.sleep(MIGRATION_LOG_POLL_MS);
  }
}

/**
 * A write and a read through the endpoint, as a client makes them: a run in the experiment UPGRADE_CHECK_EXPERIMENT
 * (created when missing) with a tag naming both releases, read back, then ended.
 */
async function checkWriteAndRead(target: Target, from: string, to: string): Promise<void> {
  const admin = await mlflowAdmin(target);
  if (!admin.trackingUri) throw new CliError(`Stack ${STACK_NAMES.gateway} has no tracking URI output.`, EXIT.failure);
  const authorization = `Basic ${Buffer.from(`${admin.username}:${admin.password}`, 'utf8').toString('base64')}`;
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const answer = await mlflowRequest(admin.trackingUri!, authorization, { method, path, body, timeoutMs: 60_000 });
    let json: any;
    try {
      json = JSON.parse(answer.text || '{}');
    } catch {
      json = {};
    }
    return { status: answer.status, json };
  };
  const expect = (what: string, answer: { status: number; json: any }): any => {
    if (answer.status !== 200) throw new CliError(`${what} answered ${answer.status}: ${JSON.stringify(answer.json).slice(0, 300)}`, EXIT.failure);
    return answer.json;
  };
  const found = await call('GET', `api/2.0/mlflow/experiments/get-by-name?${new URLSearchParams({ experiment_name: UPGRADE_CHECK_EXPERIMENT })}`);
  const experimentId: string = found.status === 200
    ? found.json.experiment?.experiment_id
    : expect('experiments/create', await call('POST', 'api/2.0/mlflow/experiments/create', { name: UPGRADE_CHECK_EXPERIMENT })).experiment_id;
  const value = `${from} -> ${to}`;
  const created = expect('runs/create', await call('POST', 'api/2.0/mlflow/runs/create', {
    experiment_id: experimentId, start_time: Date.now(), run_name: `upgrade ${value}`, tags: [{ key: 'mlflow-on-aws.upgrade', value }],
  }));
  const runId: string = created.run?.info?.run_id;
  const read = expect('runs/get', await call('GET', `api/2.0/mlflow/runs/get?${new URLSearchParams({ run_id: runId })}`));
  const tag = (read.run?.data?.tags ?? []).find((t: { key: string }) => t.key === 'mlflow-on-aws.upgrade')?.value;
  if (tag !== value) throw new CliError(`runs/get returned the run ${runId} without the tag written (${JSON.stringify(tag)}).`, EXIT.failure);
  expect('runs/update', await call('POST', 'api/2.0/mlflow/runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.now() }));
}

async function describeCluster(target: Target, id: string): Promise<DBCluster> {
  const cluster = (await rds(target, `reading cluster ${id} (rds:DescribeDBClusters)`, () => target.clients.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id })))).DBClusters?.[0];
  if (!cluster) throw new CliError(`No database cluster ${id}.`, EXIT.notDeployed);
  return cluster;
}

async function describeInstance(target: Target, id: string): Promise<DBInstance> {
  const instance = (await rds(target, `reading instance ${id} (rds:DescribeDBInstances)`, () => target.clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })))).DBInstances?.[0];
  if (!instance) throw new CliError(`No database instance ${id}.`, EXIT.notDeployed);
  return instance;
}

/** Waits until the cluster `id` exists and is available (after a rename or a restore). */
async function waitForCluster(deps: CliDeps, target: Target, id: string): Promise<void> {
  await poll(deps, `cluster ${id} to be available`, async () => (await findRds(() => describeCluster(target, id)))?.Status === 'available');
}

async function waitForInstance(deps: CliDeps, target: Target, id: string): Promise<void> {
  await poll(deps, `instance ${id} to be available`, async () => (await findRds(() => describeInstance(target, id)))?.DBInstanceStatus === 'available');
}

/** The answer, or undefined while RDS does not know the name yet (a rename or a creation under way). */
async function findRds<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof CliError && (error.exitCode === EXIT.notDeployed || /NotFound/.test(error.message))) return undefined;
    throw error;
  }
}

async function rds<T>(target: Target, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toCliError(error, errorContext(target, what));
  }
}

/** Polls `done` every UPGRADE_POLL_MS for at most UPGRADE_MAX_WAIT_MS; returns the seconds waited. */
async function poll(deps: CliDeps, what: string, done: () => Promise<boolean>): Promise<number> {
  const start = deps.now().getTime();
  for (;;) {
    if (await done()) return Math.round((deps.now().getTime() - start) / 1000);
    if (deps.now().getTime() - start >= UPGRADE_MAX_WAIT_MS) {
      throw new CliError(`Gave up waiting for ${what} after ${UPGRADE_MAX_WAIT_MS / 60_000} minutes.`, EXIT.failure, 'See the RDS console; MLflow stays stopped meanwhile.');
    }
    await deps.sleep(UPGRADE_POLL_MS);
  }
}

async function confirm(deps: CliDeps, yes: boolean, question: string): Promise<void> {
  if (!(await confirmed(deps, yes, 'This', question))) throw new CliError('Nothing was changed.', EXIT.failure);
}

/** The command line's target and settings, for the deploys the upgrade runs (as `restore` forwards them). */
function forwardedArgs(options: CommonOptions): string[] {
  return [
    ...(options.region ? ['--region', options.region] : []),
    ...(options.profile ? ['--profile', options.profile] : []),
    ...Object.entries(options.context).filter(([key]) => key !== 'region').flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];
}

function regionArgs(options: CommonOptions): string {
  return `${options.region ? ` --region ${options.region}` : ''}${options.profile ? ` --profile ${options.profile}` : ''}`;
}

function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/** Tags that may be set again (`aws:` ones, such as CloudFormation's, are reserved). */
function ownTags(tags: Tag[] | undefined): Tag[] | undefined {
  const own = (tags ?? []).filter((t) => t.Key && !t.Key.startsWith('aws:'));
  return own.length ? own : undefined;
}

/** `20260115-120000` (UTC), for names. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-');
}

/** A renamed instance: its name with `-failed-<time>`, cut to RDS's 63 characters. */
function asideName(id: string, stamp: string): string {
  const suffix = `-failed-${stamp}`;
  return `${id.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

