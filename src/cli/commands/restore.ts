/**
 * `restore`: brings the deployment up on a database snapshot (a manual DB cluster snapshot, e.g. one copied from an
 * AWS Backup recovery point or the final snapshot `destroy` leaves), with the existing artifact bucket, by deploying
 * with the `dbSnapshot` settings. It checks the snapshot first (exists, available, manual, Aurora MySQL of a version
 * the cluster can be restored to, in the target region) and never touches a running deployment: the cluster has a
 * fixed name, so the stacks must be gone first (`destroy` keeps a final snapshot and the artifact bucket).
 */
import { DBClusterSnapshot } from '@aws-sdk/client-rds';
import { AURORA_MYSQL_VERSION, DATABASE_MASTER_USERNAME as PROJECT_MASTER_USERNAME, DATABASE_NAME, STACK_NAMES } from '../../app/names';
import { connect, findStack, Target } from '../aws';
import { describeSnapshot } from '../db-snapshot';
import { SAMPLE_DATABASE } from '../../app/config/settings';
import { compareVersions } from '../../app/versions';
import { CliDeps } from '../deps';
import { CliError, EXIT } from '../errors';
import { parseCommandOptions } from '../options';
import { RESTORE } from './index';
import { deployCommand } from './deploy';


export async function restoreCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, options } = parseCommandOptions(RESTORE, args);
  const log = deps.output.err;
  const snapshotArg = values.snapshot as string | undefined;
  if (!snapshotArg) throw new CliError('restore needs --snapshot <identifier or ARN>.', EXIT.usage, `Usage: npx mlflow-on-aws restore ${RESTORE.synopsis![0]}`);
  refuseUnusable(snapshotArg);

  const target = await connect(deps, options);
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

  if (values.yes !== true && values['dry-run'] !== true) {
    if (!deps.interactive) throw new CliError('restore needs confirmation, and there is no terminal to ask.', EXIT.usage, 'Pass --yes to confirm non-interactively.');
    const answer = (await deps.prompter.ask('Deploy on this snapshot? Type "yes" to continue: ')).trim().toLowerCase();
    if (answer !== 'yes' && answer !== 'y') {
      log('Nothing was deployed.');
      return EXIT.failure;
    }
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
