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
