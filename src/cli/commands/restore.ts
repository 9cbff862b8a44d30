/**
 * `restore`: brings the deployment up on a database snapshot (a manual DB cluster snapshot, e.g. one copied from an
 * AWS Backup recovery point or the final snapshot `destroy` leaves), with the existing artifact bucket, by deploying
 * with the `dbSnapshot` settings. It checks the snapshot first (exists, available, manual, Aurora MySQL of a version
 * the cluster can be restored to, in the target region) and never touches a running deployment: the cluster has a
 * fixed name, so the stacks must be gone first (`destroy` keeps a final snapshot and the artifact bucket).
 *
 * database=sqlite (the deployed MLflowVpcStack has the database replica bucket): no snapshot, no new deployment.
 * `--list` lists the copies of the replica (src/cli/sqlite-replica.ts), `--backup <id>` puts one back in place on the
 * running deployment: stop every task, replace the replica by the copy, start again.
 */
import { DBClusterSnapshot } from '@aws-sdk/client-rds';
import { AURORA_MYSQL_VERSION, DATABASE_MASTER_USERNAME as PROJECT_MASTER_USERNAME, DATABASE_NAME, MLFLOW_OUTPUTS, STACK_NAMES } from '../../app/names';
import { connect, errorContext, findStack, stackOutputs, Target } from '../aws';
import { describeSnapshot } from '../db-snapshot';
import { SAMPLE_DATABASE } from '../../app/config/settings';
import { compareVersions } from '../../app/versions';
import { CliDeps } from '../deps';
import { CliError, EXIT, notDeployedError } from '../errors';
import { confirmed, parseCommandOptions } from '../options';
import { RESTORE } from './index';
import { deployCommand } from './deploy';
import { holdAtZero, serviceRef, startAsDeployed, waitUntilStopped } from './capacity';
import { backupFolder, listBackups, replaceReplicaByBackup, replicaUrl, SqliteReplica, sqliteReplicaOf } from '../sqlite-replica';


export async function restoreCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, options } = parseCommandOptions(RESTORE, args);
  const log = deps.output.err;
  const snapshotArg = values.snapshot as string | undefined;
  const backupArg = values.backup as string | undefined;
  if (values.list === true || backupArg !== undefined) {
    if (snapshotArg !== undefined || values['database-name'] !== undefined || values['artifact-bucket'] !== undefined) {
      throw new CliError('--list and --backup are database=sqlite\'s (copies of the replica); --snapshot, --database-name and --artifact-bucket are Aurora\'s: give one or the other.', EXIT.usage,
        `Usage: npx mlflow-on-aws restore ${RESTORE.synopsis![0]}\n       npx mlflow-on-aws restore ${RESTORE.synopsis![1]}`);
    }
    return restoreReplica(deps, await connect(deps, options), backupArg, values.yes === true, values['dry-run'] === true);
  }
  if (!snapshotArg) throw new CliError('restore needs --snapshot <identifier or ARN>.', EXIT.usage, `Usage: npx mlflow-on-aws restore ${RESTORE.synopsis![0]}`);
  refuseUnusable(snapshotArg);

  const target = await connect(deps, options);
  const replica = sqliteReplicaOf(await findStack(target, STACK_NAMES.mlflow));
  if (replica) {
    throw new CliError(`${STACK_NAMES.mlflow} keeps its database with database=sqlite (replica ${replicaUrl(replica)}): there is no database snapshot to restore from, and --snapshot is Aurora's.`,
      EXIT.usage, 'List the copies of the replica: npx mlflow-on-aws restore --list; put one back: npx mlflow-on-aws restore --backup <id>');
  }
  const bucket = (values['artifact-bucket'] as string | undefined) ?? target.config.artifactBucketName;
  if (!bucket) {
    throw new CliError('restore needs the existing artifact bucket: the restored runs\' artifact URIs name it.', EXIT.usage,
      'Pass --artifact-bucket <name>: the ArtifactBucketName output of the deleted MLflowVpcStack (the bucket is kept by destroy).');
  }

  const snapshot = await describeSnapshot(target, snapshotArg);
  checkSnapshot(target, snapshotArg, snapshot);

  const deployed = await findStack(target, STACK_NAMES.mlflow);
  if (deployed) {
    throw new CliError(`${STACK_NAMES.mlflow} is deployed in ${target.region} (${deployed.StackStatus}): a restore creates the database anew, under the same fixed name, so it cannot replace a running one.`,
      EXIT.failure,
      'Run `npx mlflow-on-aws destroy` first: it keeps a final snapshot of the current database (so nothing is lost) and the artifact bucket, then run restore again.');
  }

  const settings: Record<string, string> = {
    dbSnapshot: snapshotArg,
    dbSnapshotUsername: snapshot.MasterUsername!,
    dbSnapshotDatabaseName: (values['database-name'] as string | undefined) ?? databaseOf(snapshotArg, snapshot.MasterUsername!),
    artifactBucketName: bucket,
  };
  log(`Restoring MLflow in account ${target.account}, region ${target.region}:`);
  log(`  database: a new cluster from snapshot ${snapshot.DBClusterSnapshotIdentifier} (${snapshot.Engine} ${snapshot.EngineVersion}, taken ${snapshot.SnapshotCreateTime?.toISOString() ?? 'at an unknown time'}); the snapshot is only read`);
  log(`  artifacts: the existing bucket ${bucket}, as it is (S3 versioning keeps earlier versions of each object: see docs for a point-in-time restore)`);
  log(`  settings: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  log('Put these settings in cdk.json (context) afterwards: every later deploy needs them.');

  if (!(await confirmed(deps, values.yes === true || values['dry-run'] === true, 'restore', 'Deploy on this snapshot? Type "yes" to continue: '))) {
    log('Nothing was deployed.');
    return EXIT.failure;
  }

  const forwarded = [
    ...(options.region ? ['--region', options.region] : []),
    ...(options.profile ? ['--profile', options.profile] : []),
    ...Object.entries({ ...options.context, ...settings }).filter(([key]) => key !== 'region').flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ...(values['dry-run'] === true ? ['--dry-run'] : []),
  ];
  return deployCommand(forwarded, deps);
}

/**
 * database=sqlite: `--list` prints the copies of the replica; `--backup <id>` stops every task, replaces the replica by
 * the copy and starts MLflow again (`--dry-run`: the plan only).
 */
async function restoreReplica(deps: CliDeps, target: Target, id: string | undefined, yes: boolean, dryRun: boolean): Promise<number> {
  const log = deps.output.err;
  const stack = await findStack(target, STACK_NAMES.mlflow);
  const replica: SqliteReplica | undefined = sqliteReplicaOf(stack);
  if (!stack) throw notDeployedError(STACK_NAMES.mlflow, errorContext(target));
  if (!replica) {
    throw new CliError(`${STACK_NAMES.mlflow} has no database replica bucket (output ${MLFLOW_OUTPUTS.databaseReplicaBucketName}): it keeps its database in Aurora, whose backups are snapshots.`,
      EXIT.usage, `Restore a snapshot: npx mlflow-on-aws restore ${RESTORE.synopsis![0]}`);
  }
  const backups = await listBackups(target, replica);
  if (id === undefined) {
    if (backups.length === 0) {
      deps.output.out(`No copy of the database replica in s3://${replica.bucket}/${backupFolder('')} yet (\`npx mlflow-on-aws upgrade\` takes one before each upgrade).`);
      return EXIT.ok;
    }
    deps.output.out(`Copies of the database replica ${replicaUrl(replica)}, newest first (s3://${replica.bucket}/${backupFolder('<id>')}):`);
    for (const backup of backups) {
      deps.output.out(`  ${backup.id}  ${backup.objects} object(s), ${backup.bytes} bytes${backup.mlflowVersion ? `, written by MLflow ${backup.mlflowVersion}` : ''}`);
    }
    deps.output.out('Put one back: npx mlflow-on-aws restore --backup <id>');
    return EXIT.ok;
  }
  const backup = backups.find((b) => b.id === id);
  if (!backup) {
    throw new CliError(`No copy ${id} of the database replica in s3://${replica.bucket}/${backupFolder('')}.`, EXIT.usage, 'List the copies: npx mlflow-on-aws restore --list');
  }
  const deployedVersion = stackOutputs(stack)[MLFLOW_OUTPUTS.mlflowVersion];
  log(`Restoring MLflow's database in account ${target.account}, region ${target.region} from the copy ${backupFolder(id)} (${backup.objects} object(s), ${backup.bytes} bytes):`);
  log(`  stop every task; delete the objects under ${replicaUrl(replica)} (the bucket is versioned: they stay as earlier versions, nothing is lost) and copy the copy's in their place; start MLflow again.`);
  log('  Writes made after the copy are not in it. The artifact bucket is not touched.');
  if (backup.mlflowVersion && deployedVersion && backup.mlflowVersion !== deployedVersion) {
    throw new CliError(`The copy ${id} was written by MLflow ${backup.mlflowVersion} and MLflow ${deployedVersion} is deployed: its schema is another release's, which the container refuses to serve.`,
      EXIT.usage, `To go back to MLflow ${backup.mlflowVersion} on that copy: npx mlflow-on-aws upgrade --rollback --snapshot ${id}`);
  }
  if (dryRun) {
    log('Dry run: nothing was changed.');
    return EXIT.ok;
  }
  if (!(await confirmed(deps, yes, 'restore', `Replace the database replica by the copy ${id}? Type "yes" to continue: `))) {
    log('Nothing was changed.');
    return EXIT.failure;
  }
  const ref = await serviceRef(target, stack);
  log(`[1/3] Stopping every MLflow task (service ${ref.service}) ...`);
  await holdAtZero(target, ref);
  await waitUntilStopped(deps, target, ref);
  log(`[2/3] Replacing ${replicaUrl(replica)} by the copy ${id} ...`);
  const replaced = await replaceReplicaByBackup(target, replica, id);
  log(`      ${replaced.deleted} object(s) deleted (kept as earlier versions), ${replaced.copied} copied and checked`);
  log('[3/3] Starting MLflow ...');
  await startAsDeployed(deps, target, ref, true);
  deps.output.out(`Restored: MLflow serves the data of the copy ${id}.`);
  return EXIT.ok;
}

/**
 * The database holding MLflow's tables in a snapshot, told by its master user: this project's database (master user
 * PROJECT_MASTER_USERNAME) keeps them in DATABASE_NAME, the original sample's (SAMPLE_DATABASE.username) in
 * SAMPLE_DATABASE.databaseName. Any other master user: the caller must name it (`-c dbSnapshotDatabaseName=...`).
 */
function databaseOf(snapshot: string, master: string): string {
  if (master === PROJECT_MASTER_USERNAME) return DATABASE_NAME;
  if (master === SAMPLE_DATABASE.username) return SAMPLE_DATABASE.databaseName;
  throw new CliError(`Snapshot ${snapshot} has master user ${master}, neither this project's (${PROJECT_MASTER_USERNAME}: MLflow's tables in ${DATABASE_NAME}) nor the original sample's (${SAMPLE_DATABASE.username}: in ${SAMPLE_DATABASE.databaseName}), so restore cannot tell which database holds MLflow's tables.`,
    EXIT.usage, 'Name it: add --database-name <the database with MLflow\'s tables> and run restore again.');
}

/** Snapshots the backend store cannot be created from, told by their name alone. */
function refuseUnusable(snapshot: string): void {
  const copy = (id: string) => `Copy it to a manual snapshot first, then restore that: aws rds copy-db-cluster-snapshot --source-db-cluster-snapshot-identifier ${id} --target-db-cluster-snapshot-identifier mlflow-restore-1`;
  if (/(^|:cluster-snapshot:)rds:/.test(snapshot)) {
    throw new CliError(`${snapshot} is an automated snapshot: RDS deletes it with its cluster and its retention period.`, EXIT.usage, copy(snapshot));
  }
  if (/(^|:cluster-snapshot:)awsbackup:/.test(snapshot)) {
    throw new CliError(`${snapshot} is an AWS Backup recovery point: the deployment is created from a manual snapshot (whose name the dbSnapshot setting can hold).`, EXIT.usage, copy(snapshot));
  }
}

function checkSnapshot(target: Target, requested: string, snapshot: DBClusterSnapshot): void {
  const name = snapshot.DBClusterSnapshotIdentifier ?? requested;
  const arnRegion = /^arn:[^:]+:rds:([^:]+):/.exec(snapshot.DBClusterSnapshotArn ?? requested)?.[1];
  if (arnRegion && arnRegion !== target.region) {
    throw new CliError(`Snapshot ${name} is in ${arnRegion}, the deployment in ${target.region}.`, EXIT.usage,
      `Copy it to ${target.region} first: aws rds copy-db-cluster-snapshot --region ${target.region} --source-region ${arnRegion} --source-db-cluster-snapshot-identifier ${snapshot.DBClusterSnapshotArn ?? requested} --target-db-cluster-snapshot-identifier ${name}`);
  }
  if (snapshot.SnapshotType && snapshot.SnapshotType !== 'manual') {
    refuseUnusable(`rds:${name}`);
  }
  if (snapshot.Status !== 'available') {
    throw new CliError(`Snapshot ${name} is ${snapshot.Status ?? 'in an unknown state'}, not available.`, EXIT.failure, 'Wait until it is available (aws rds wait db-cluster-snapshot-available), then run restore again.');
  }
  if (snapshot.Engine !== 'aurora-mysql') {
    throw new CliError(`Snapshot ${name} is of engine ${snapshot.Engine}; the MLflow database is Aurora MySQL (aurora-mysql).`, EXIT.usage, 'Choose a snapshot of an MLflow deployment\'s cluster.');
  }
  const version = auroraVersion(snapshot.EngineVersion ?? '');
  if (!version || !/^[23]\./.test(version) || compareVersions(version, AURORA_MYSQL_VERSION) > 0) {
    throw new CliError(`Snapshot ${name} is of Aurora MySQL ${snapshot.EngineVersion}; the cluster runs ${AURORA_MYSQL_VERSION}, and RDS restores a snapshot to its own or a later version only.`, EXIT.usage,
      'Choose a snapshot of Aurora MySQL 2 or 3, up to the version the deployment runs.');
  }
  if (!snapshot.MasterUsername) throw new CliError(`Snapshot ${name} names no master user.`, EXIT.failure);
}

/** The Aurora version of an engine version as RDS writes it: `8.0.mysql_aurora.3.10.3` (or plain `3.10.3`) is 3.10.3. */
function auroraVersion(engineVersion: string): string | undefined {
  return /^(?:\d+\.\d+\.mysql_aurora\.)?(\d+\.\d+\.\d+)$/.exec(engineVersion)?.[1];
}
