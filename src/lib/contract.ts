/**
 * Facts of the deployed system that the constructs fix and that other code (the CLI, the lab, users' scripts) relies
 * on: container names, ports, paths, type names and metadata keys. No aws-cdk-lib import, so that code which does not
 * synthesize (the CLI) can read them without loading the CDK.
 */

/** Path prefix of the IAM-authorized route of the gateway: `<endpoint>/iam` is the SigV4 clients' tracking URI. */
export const IAM_ROUTE_PREFIX = '/iam';

/** Container names inside the MLflow task definition. */
export const CONTAINER_NAMES = {
  proxy: 'nginx-auth-proxy',
  mlflow: 'mlflow-server',
} as const;

/** Ports: the proxy is the only thing the load balancer talks to; MLflow listens inside the task only. */
export const PORTS = {
  proxy: 80,
  mlflow: 5000,
} as const;

/** Health check path answered by the proxy without credentials. */
export const HEALTH_CHECK_PATH = '/elb-status';

/** Private DNS namespace in which the service registers itself. */
export const SERVICE_DISCOVERY_NAMESPACE = 'http-api.local';

/** Name of the MLflow schema inside the Aurora cluster. */
export const DATABASE_NAME = 'mlflow';

/**
 * Master user of the Aurora cluster the backend store creates. A snapshot with this master user is one of this project's
 * databases (MLflow's tables in DATABASE_NAME): the CLI's `restore` and deploy's snapshot check tell them apart by it.
 */
export const DATABASE_MASTER_USERNAME = 'mlflow';

/**
 * Aurora MySQL version of the backend store's cluster: the CDK construct builds it, and the CLI's `restore` refuses
 * snapshots of a later version (RDS restores a snapshot to its own or a later version only).
 */
export const AURORA_MYSQL_VERSION = '3.10.3';

/**
 * Resource type of the custom resource that turns the database's deletion protection on
 * (`DatabaseDeletionProtection`); the CLI's destroy reads it in the deployed template.
 */
export const DATABASE_DELETION_PROTECTION_TYPE = 'Custom::DatabaseDeletionProtection';

/**
 * Template Metadata key on the AWS::SageMaker::Domain (written by `StudioUser`) saying what the CLI's destroy does
 * with the home EFS: `Retain` or `Delete`.
 */
export const HOME_EFS_METADATA_KEY = 'mlflow-on-aws:HomeEfsFileSystem';

/**
 * Engines of MLflow's backend store (the `database` setting): `aurora`, Aurora Serverless v2 MySQL (billed by the
 * running hour, two or more tasks); `sqlite`, SQLite files in the single task, replicated to the database replica bucket
 * by Litestream (billed by storage and requests; one task, one writer). docs/decisions/lean-database-cost.md.
 */
export const DATABASE_ENGINES = ['aurora', 'sqlite'] as const;
export type DatabaseEngine = (typeof DATABASE_ENGINES)[number];

/**
 * database=sqlite: the key prefix in the database replica bucket under which Litestream keeps the replicas (one path
 * per SQLite file below it: `mlflow` for tracking, `mlflow-auth` for personal accounts' permissions). The construct
 * passes `s3://<bucket>/<prefix>` to the container; the CLI's `upgrade` copies everything under it to
 * `<SQLITE_BACKUP_PREFIX>/<id>/` while no task runs, and `restore`/`upgrade --rollback` copy such a copy back.
 */
export const SQLITE_REPLICA_PREFIX = 'litestream';
/** database=sqlite: where in the replica bucket the CLI keeps copies of the replicas (one folder per copy). */
export const SQLITE_BACKUP_PREFIX = 'backups';

/**
 * database=sqlite: the most tasks the MLflow service may run (and so `desiredTasks` and `maxTasks`): one writer per
 * replica, since two tasks would be two SQLite files each replicated over the other's. The deployment stops the old task
 * before it starts the new one (minimum healthy 0 %, maximum 100 %).
 */
export const SQLITE_MAX_TASKS = 1;

/**
 * database=sqlite: the writer marker, `<SQLITE_REPLICA_PREFIX>/<SQLITE_WRITER_MARKER>` in the replica bucket, which the
 * running task holds until Litestream's last upload is done (containers/mlflow/mlflow_db.py WRITER_MARKER): a start waits
 * for it, and the CLI's copies of the replica leave it out.
 */
export const SQLITE_WRITER_MARKER = 'writer.json';

/** database=sqlite: environment of the MLflow container (entrypoint.sh reads them; the construct sets them). */
export const SQLITE_ENVIRONMENT = {
  /** `aurora` (default) or `sqlite`. */
  engine: 'DATABASE_ENGINE',
  /** `s3://<replica bucket>/<SQLITE_REPLICA_PREFIX>`. */
  replicaUrl: 'DATABASE_REPLICA_URL',
  /** Seconds between Litestream's uploads while MLflow writes (what a crash of the task can lose at most). */
  syncSeconds: 'DATABASE_REPLICA_SYNC_SECONDS',
  /** The longest a start waits for the writer marker of a task still stopping: its stop timeout and a margin. */
  writerWaitSeconds: 'DATABASE_WRITER_WAIT_SECONDS',
} as const;
