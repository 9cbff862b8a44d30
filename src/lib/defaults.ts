/**
 * The library's defaults, each in one place: what a construct uses when its props leave a value out. They are the
 * `standard` layout (NAT gateway, private subnets, an internal load balancer, two x86 tasks); the app's configuration
 * (src/app/config/settings.ts) states them as its own defaults. No aws-cdk-lib import, so the configuration (and with
 * it the CLI) can read them without loading the CDK.
 */
export const PLATFORM_DEFAULTS = {
  /** IPv4 range of the VPC `MlflowNetwork` builds. */
  vpcCidr: '10.0.0.0/16',
  /** NAT gateways of that VPC (0: no private subnets with egress, tasks in the public subnets). */
  natGateways: 1,
  /** MLflow release of the server image (and of the lab's client). */
  mlflowVersion: '3.17.2',
  /** User name in the MLflow credentials secret (the admin's, with `auth` users). */
  mlflowUsername: 'admin',
  /** Name of the MLflow credentials secret. */
  mlflowSecretName: 'mlflow-server-credentials',
  /** Task CPU units. */
  taskCpu: 1024,
  /** Task memory in MiB. */
  taskMemoryMiB: 2048,
  /** Tasks kept running (the autoscaling floor). */
  desiredTasks: 2,
  /** The autoscaling ceiling. */
  maxTasks: 6,
  /** Average task CPU the autoscaler aims for, in percent. */
  cpuTargetPercent: 70,
  /** Days the platform's logs are kept (one of CloudWatch Logs' retention periods). */
  logRetentionDays: 30,
  /** Aurora Serverless v2 capacity range (ACU); 0 lets the database pause. */
  dbMinCapacity: 0,
  dbMaxCapacity: 2,
  /** Idle minutes before a 0-ACU database pauses. */
  dbAutoPauseMinutes: 60,
  /** Seconds after which the database closes an idle pooled MLflow connection. */
  dbIdleDisconnectSeconds: 60,
  /** Seconds MLflow waits for an answer on a database connection. */
  dbReadTimeoutSeconds: 60,
  /** Days of the database's automated backups. */
  dbBackupRetentionDays: 7,
  /** database=sqlite: seconds between Litestream's uploads of the database while MLflow writes (what a crash can lose). */
  databaseReplicaSyncSeconds: 10,
  /** database=sqlite: days after which replaced or deleted versions in the database replica bucket are removed for good. */
  databaseReplicaVersionExpiryDays: 30,
  /** Days after which overwritten or deleted artifact versions are removed for good. */
  artifactVersionExpiryDays: 90,
  /** Requests per second the gateway's stage accepts, and the burst above that rate. */
  apiThrottleRateLimit: 100,
  apiThrottleBurstLimit: 200,
  /** Access mode: one shared account checked by the proxy. */
  auth: 'shared',
} as const;

/** `given` with each value that is `undefined` there taken from `defaults`. */
export function withDefaults<T extends object, D extends { [K in keyof T]?: Exclude<T[K], undefined> }>(
  given: T,
  defaults: D,
): T & { [K in keyof D & keyof T]-?: Exclude<T[K], undefined> } {
  const result: Record<string, unknown> = { ...(given as Record<string, unknown>) };
  for (const [key, value] of Object.entries(defaults)) if (result[key] === undefined) result[key] = value;
  return result as T & { [K in keyof D & keyof T]-?: Exclude<T[K], undefined> };
}
