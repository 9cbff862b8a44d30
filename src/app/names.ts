/**
 * Names that other parts of the project (the CLI, the lab, the README, users' scripts) rely on.
 * They are the contract of the deployed system: change one here and every consumer follows. The facts the constructs
 * themselves fix (container names, ports, the health-check path, ...) are in src/lib/contract.ts, re-exported here.
 */
export {
  AURORA_MYSQL_VERSION, CONTAINER_NAMES, DATABASE_MASTER_USERNAME, DATABASE_NAME, HEALTH_CHECK_PATH, IAM_ROUTE_PREFIX, PORTS, SERVICE_DISCOVERY_NAMESPACE,
} from '../lib/contract';

/** CloudFormation stack names. Kept from the original sample so existing deployments are recognised. */
export const STACK_NAMES = {
  mlflow: 'MLflowVpcStack',
  gateway: 'HttpGatewayStack',
  studio: 'SageMakerStudioUserStack',
  notebook: 'SageMakerNotebookInstanceStack',
  /** With `backupCopyRegion`: the vault that backup copies go to, in that region. */
  backupCopyVault: 'MLflowBackupCopyVaultStack',
} as const;

/**
 * Start of every stack's description. The CLI tells this app's stacks from others of the same names by it (the
 * original aws-mlflow-sagemaker-cdk sample's stacks have those names too, and no such description).
 */
export const STACK_DESCRIPTION_PREFIX = 'MLflow on AWS: ';

/** Output keys of the MLflowVpcStack. */
export const MLFLOW_OUTPUTS = {
  artifactBucketName: 'ArtifactBucketName',
  artifactBucketArn: 'ArtifactBucketArn',
  mlflowCredentialsSecretArn: 'MlflowCredentialsSecretArn',
  mlflowCredentialsSecretName: 'MlflowCredentialsSecretName',
  loadBalancerDnsName: 'LoadBalancerDnsName',
  listenerArn: 'LoadBalancerListenerArn',
  clusterName: 'EcsClusterName',
  serviceName: 'EcsServiceName',
  databaseClusterIdentifier: 'DatabaseClusterIdentifier',
  /** database=sqlite: the bucket of Litestream's replicas and the CLI's copies of them. */
  databaseReplicaBucketName: 'DatabaseReplicaBucketName',
  mlflowVersion: 'MlflowVersion',
  /** auth=sso with the stack's Cognito user pool: its id (people and groups are managed there). */
  ssoUserPoolId: 'SsoUserPoolId',
} as const;

/**
 * CloudFormation exports with fixed names. The SageMaker stacks import the bucket through this one, so that
 * their IAM policies name it the same way in every deployment (and users' own stacks may import it too).
 */
export const EXPORT_NAMES = {
  artifactBucketArn: 'MLflowVpcStack-ArtifactBucketArn',
} as const;

/** Output keys of the HttpGatewayStack. `trackingUri` is what clients set as MLFLOW_TRACKING_URI. */
export const GATEWAY_OUTPUTS = {
  trackingUri: 'MlflowTrackingUri',
  apiId: 'HttpApiId',
  /** With a custom domain but no hosted zone: the API Gateway name the user's DNS record points at. */
  customDomainTarget: 'CustomDomainTarget',
  /** With `monitoring`: the SNS topic the alarms notify (subscribe more than `alarmEmail` to it). */
  alarmTopicArn: 'AlarmTopicArn',
  /** The IAM route's tracking URI (`<endpoint>/iam`), for SigV4 clients (`MLFLOW_TRACKING_AUTH=aws-sigv4`, the lab's provider in lab/training/mlflow-sigv4). */
  iamTrackingUri: 'MlflowIamTrackingUri',
  /** What an IAM principal's policy grants `execute-api:Invoke` on to use the IAM route. */
  iamInvokeArn: 'MlflowIamInvokeArn',
} as const;

/** Prefix of the alarms' names and name of the CloudWatch dashboard. */
export const ALARM_DASHBOARD_NAME = 'MLflow';

/**
 * Fixed name of a SageMaker stack's execution role (IAM names are global: the region keeps two deployments of one
 * account apart). Fixed so that the MLflow stack, deployed before the SageMaker stacks, can name the role's ARN in the
 * IAM principals its proxy admits, without depending on those stacks.
 */
export function sagemakerRoleName(kind: 'studio' | 'notebook', region: string): string {
  return `mlflow-lab-${kind}-${region}`;
}
