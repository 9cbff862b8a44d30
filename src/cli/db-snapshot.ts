/**
 * The database snapshot a deployment is created from (`dbSnapshot`): looked up in RDS, and the settings that must match
 * it checked before a deploy. `restore` fills them in itself; `-c dbSnapshot=...` alone takes the defaults of
 * `dbSnapshotUsername` / `dbSnapshotDatabaseName`, which are the original sample's (`master` / `mlflowdb`).
 */
import { DBClusterSnapshot, DescribeDBClusterSnapshotsCommand } from '@aws-sdk/client-rds';
import type { PlatformConfig } from '../app/config/platform-config';
import { SAMPLE_DATABASE } from '../app/config/settings';
import { DATABASE_MASTER_USERNAME as PROJECT_MASTER_USERNAME, DATABASE_NAME } from '../app/names';
import { errorContext, Target } from './aws';
import { CliError, EXIT, toCliError } from './errors';


/** The snapshot as RDS describes it (rds:DescribeDBClusterSnapshots); a usage error naming the way to list them when there is none. */
export async function describeSnapshot(target: Target, snapshot: string): Promise<DBClusterSnapshot> {
  const found = await findSnapshot(target, snapshot);
  if (found) return found;
  throw new CliError(`No DB cluster snapshot ${snapshot} in account ${target.account}, region ${target.region}.`, EXIT.usage,
    `List them: aws rds describe-db-cluster-snapshots --region ${target.region} --query 'DBClusterSnapshots[].[DBClusterSnapshotIdentifier,Status,SnapshotCreateTime]'`);
}

/** The snapshot, or undefined when RDS has none of that name. */
export async function findSnapshot(target: Target, snapshot: string): Promise<DBClusterSnapshot | undefined> {
  try {
    const answer = await target.clients.rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: snapshot }));
    return answer?.DBClusterSnapshots?.[0];
  } catch (error) {
    if ((error as { name?: string }).name === 'DBClusterSnapshotNotFoundFault') return undefined;
    throw toCliError(error, errorContext(target, `reading snapshot ${snapshot} (rds:DescribeDBClusterSnapshots)`));
  }
}

/**
 * With `dbSnapshot`: refuses settings the restored database would not answer to. `dbSnapshotUsername` must be the
 * snapshot's master user (the tasks log in as it; it cannot change). A snapshot of this project's database (master user
 * PROJECT_MASTER_USERNAME) holds MLflow's tables in DATABASE_NAME, so the sample's `mlflowdb` is refused for it.
 * Returns a note when the snapshot is gone but the database made from it is deployed (nothing to check against).
 */
export async function checkSnapshotSettings(target: Target, config: PlatformConfig, databaseDeployed: boolean): Promise<string | undefined> {
  if (!config.dbSnapshot) return undefined;
  const snapshot = databaseDeployed ? await findSnapshot(target, config.dbSnapshot) : await describeSnapshot(target, config.dbSnapshot);
  if (!snapshot) return `Snapshot ${config.dbSnapshot} no longer exists; the database made from it is deployed, so dbSnapshotUsername and dbSnapshotDatabaseName are not checked.`;
  const master = snapshot.MasterUsername;
  const fixes: string[] = [];
  const reasons: string[] = [];
  const sampleDefault = (value: string | undefined, sample: string) => (value === sample ? ' (the original sample\'s, the default)' : '');
  if (master && master !== config.dbSnapshotUsername) {
    reasons.push(`dbSnapshotUsername is ${config.dbSnapshotUsername}${sampleDefault(config.dbSnapshotUsername, SAMPLE_DATABASE.username)} but the snapshot's master user is ${master}, so the MLflow tasks could not log in`);
    fixes.push(`-c dbSnapshotUsername=${master}`);
  }
  if (master === PROJECT_MASTER_USERNAME && config.dbSnapshotDatabaseName === SAMPLE_DATABASE.databaseName) {
    reasons.push(`it is a snapshot of this project's database (master user ${master}), whose MLflow tables are in ${DATABASE_NAME}, but dbSnapshotDatabaseName is ${SAMPLE_DATABASE.databaseName}${sampleDefault(config.dbSnapshotDatabaseName, SAMPLE_DATABASE.databaseName)}`);
    fixes.push(`-c dbSnapshotDatabaseName=${DATABASE_NAME}`);
  }
  if (fixes.length === 0) return undefined;
  throw new CliError(`Snapshot ${snapshot.DBClusterSnapshotIdentifier ?? config.dbSnapshot}: ${reasons.join('; and ')}.`, EXIT.usage,
    `Add ${fixes.join(' ')} (and keep ${fixes.length > 1 ? 'them' : 'it'} in cdk.json for every later deploy), or use \`npx mlflow-on-aws restore\`, which sets both.`);
}
