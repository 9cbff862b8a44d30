/**
 * The one configuration object of the app: every setting, its default, and the rules that make it valid.
 *
 * `resolvePlatformConfig` turns raw settings (strings from CDK context or environment variables, or
 * already typed values) into a frozen, validated `PlatformConfig`. A bad value throws a `ConfigError`
 * naming the setting, the value and what is allowed; nothing else in the app reads context or env.
 */
import { IMAGE_BUILD_CHOICES, ImageBuildChoice } from '../constructs/container-images';

/** Which SageMaker stacks the app synthesizes. */
export const SAGEMAKER_CHOICES = ['studio', 'notebook', 'both', 'none'] as const;
export type SageMakerChoice = (typeof SAGEMAKER_CHOICES)[number];

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Fargate's valid task sizes: CPU units mapped to the memory (MiB) each allows. */
export const FARGATE_TASK_SIZES: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

/** Task memory needed when MLflow's background job runner runs beside the server. */
export const MIN_MEMORY_WITH_BACKGROUND_JOBS_MIB = 4096;

/**
 * The original aws-mlflow-sagemaker-cdk sample's database: the master user of its Aurora cluster and the schema MLflow
 * used there. The defaults of `dbSnapshotUsername` and `dbSnapshotDatabaseName`, for a snapshot of that cluster.
 */
export const SAMPLE_DATABASE = Object.freeze({ username: 'master', databaseName: 'mlflowdb' });

export interface PlatformConfig {
  /** AWS region of every stack. From `AWS_REGION`. */
  readonly region: string;
  /**
   * Account the user expects to deploy to (`AWS_ACCOUNT` or `CDK_DEFAULT_ACCOUNT`). The stacks stay
   * account-agnostic so that synth never needs credentials or lookups; the CLI checks that the
   * credentials in use belong to this account.
   */
  readonly account?: string;

  // Network
  readonly vpcCidr: string;
  readonly natGateways: number;

  // MLflow service
  readonly mlflowVersion: string;
  readonly mlflowUsername: string;
  readonly mlflowSecretName: string;
  readonly taskCpu: number;
  readonly taskMemoryMiB: number;
  readonly desiredTasks: number;
  readonly maxTasks: number;
  readonly cpuTargetPercent: number;
  readonly logRetentionDays: number;
  readonly imageBuild: ImageBuildChoice;
  /**
   * The server reads and writes artifacts for clients (clients then need no S3 access, but every artifact byte
   * passes API Gateway, whose requests are limited to 10 MB). Off: clients use S3 directly, as in the original sample.
   */
  readonly proxyArtifacts: boolean;
  /**
   * MLflow 3's background job runner (huey consumers and a scheduler that reads the database every minute, used by
   * features such as online scoring of traces). Off by default: while it runs the database never sits idle, so
   * Aurora Serverless v2 never pauses, and its processes take memory in the task.
   */
  readonly mlflowBackgroundJobs: boolean;

  // Backend store
  readonly dbMinCapacity: number;
  readonly dbMaxCapacity: number;
  /** Minutes without connections before an Aurora Serverless v2 instance at 0 ACU pauses. */
  readonly dbAutoPauseMinutes: number;
  /**
   * Seconds after which the database closes a pooled MLflow connection that nobody used, so an idle MLflow holds no
   * connection and the auto-pause timer can start. Lower: pauses sooner; higher: fewer reconnects between bursts.
   */
  readonly dbIdleDisconnectSeconds: number;
  /**
   * Seconds MLflow waits for any answer on a database connection before it gives up on it: a database that accepts
   * connections but stops answering then yields errors instead of requests and workers held until the proxy's 300 s.
   */
  readonly dbReadTimeoutSeconds: number;
  readonly dbBackupRetentionDays: number;
  readonly dbDeletionProtection: boolean;
  /**
   * A manual Aurora MySQL DB cluster snapshot (identifier, or ARN for a snapshot shared from another account) to create
   * the cluster from instead of an empty one: how the data of another deployment moves in (docs/migrate-from-sample.md).
   * Unset: a new, empty cluster. Once deployed it must stay set: changing or removing it would replace the cluster.
   */
  readonly dbSnapshot?: string;
  /** With `dbSnapshot`: the master user name stored in the snapshot (it cannot change; a new password is generated). */
  readonly dbSnapshotUsername?: string;
  /** With `dbSnapshot`: the schema in the snapshot that holds MLflow's tables. */
  readonly dbSnapshotDatabaseName?: string;

  // Data safety
  /** Throwaway environments only: `cdk destroy` deletes the bucket (and its objects) and the database without snapshot. */
  readonly destroyDataOnDelete: boolean;
  readonly artifactVersionExpiryDays: number;
  /**
   * An existing S3 bucket to keep MLflow's artifacts in instead of a bucket the stack creates (the original sample's
   * `mlflow-<account>-<region>`, whose runs' artifact URIs name it). The stack grants exactly this bucket to the task
   * and the SageMaker roles and changes nothing on it: no policy, lifecycle, versioning or logging, and neither
   * `destroyDataOnDelete` nor `artifactVersionExpiryDays` apply to it.
   */
  readonly artifactBucketName?: string;

  // Gateway
  readonly apiThrottleRateLimit: number;
  readonly apiThrottleBurstLimit: number;

  // SageMaker
  readonly sagemaker: SageMakerChoice;
  /** Existing SageMaker Studio domain to attach the user profile to; a new domain is created when unset. */
  readonly domainId?: string;
  readonly studioUserName: string;
  readonly notebookInstanceType: string;
  readonly notebookVolumeSizeGiB: number;
  /**
   * Build the MLflow serving image for SageMaker endpoints, `mlflow-pyfunc:<mlflowVersion>` in this account's ECR, at
   * deploy time in AWS CodeBuild (containers/mlflow-pyfunc), so that deploying a model from the lab needs Docker
   * nowhere. Off: build it yourself with `mlflow sagemaker build-and-push-container` where Docker runs.
   */
  readonly servingImage: boolean;
}

export const DEFAULT_CONFIG: PlatformConfig = Object.freeze({
  region: 'us-west-2',
  vpcCidr: '10.0.0.0/16',
  natGateways: 1,
  mlflowVersion: '3.17.2',
  mlflowUsername: 'admin',
  mlflowSecretName: 'mlflow-server-credentials',
  taskCpu: 1024,
  taskMemoryMiB: 2048,
  desiredTasks: 2,
  maxTasks: 6,
  cpuTargetPercent: 70,
  logRetentionDays: 30,
  imageBuild: 'codebuild',
  proxyArtifacts: false,
  mlflowBackgroundJobs: false,
  dbMinCapacity: 0,
  dbMaxCapacity: 2,
  dbAutoPauseMinutes: 60,
  dbIdleDisconnectSeconds: 60,
  dbReadTimeoutSeconds: 60,
  dbBackupRetentionDays: 7,
  dbDeletionProtection: true,
  destroyDataOnDelete: false,
  artifactVersionExpiryDays: 90,
  apiThrottleRateLimit: 100,
  apiThrottleBurstLimit: 200,
  sagemaker: 'studio',
  studioUserName: 'mlflow-user',
  notebookInstanceType: 'ml.t3.medium',
  notebookVolumeSizeGiB: 20,
  servingImage: false,
});

/** A setting that cannot be used. The message names the setting, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`Invalid setting "${setting}": got ${JSON.stringify(value)}; allowed: ${allowed}.`);
    this.name = 'ConfigError';
  }
}

/** Raw settings as they arrive from CDK context (`-c key=value` gives strings) or from code (typed values). */
export type RawSettings = { readonly [K in keyof PlatformConfig]?: unknown };

/** Builds the validated configuration; unknown keys are ignored here (the loader rejects them). */
export function resolvePlatformConfig(raw: RawSettings = {}): PlatformConfig {
  const pick = <K extends keyof PlatformConfig>(key: K): unknown => {
    const value = raw[key];
    return value === undefined || value === '' ? DEFAULT_CONFIG[key] : value;
  };

  const region = matchString('region', pick('region'), /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'an AWS region name such as us-west-2');
  const account = optionalString('account', raw.account, /^\d{12}$/, 'a 12-digit AWS account id');

  const vpcCidr = cidr('vpcCidr', pick('vpcCidr'));
  const natGateways = integer('natGateways', pick('natGateways'), 1, 2);

  const mlflowVersion = matchString('mlflowVersion', pick('mlflowVersion'), /^\d+\.\d+\.\d+$/, 'an exact MLflow release X.Y.Z, 2.0.0 or later');
  if (Number(mlflowVersion.split('.')[0]) < 2) {
    throw new ConfigError('mlflowVersion', mlflowVersion, 'an exact MLflow release X.Y.Z, 2.0.0 or later');
  }
  const mlflowUsername = matchString('mlflowUsername', pick('mlflowUsername'), /^[A-Za-z0-9._-]{1,64}$/, '1 to 64 letters, digits, dots, underscores or hyphens (no colon: it separates user and password in basic auth)');
  const mlflowSecretName = matchString('mlflowSecretName', pick('mlflowSecretName'), /^[A-Za-z0-9/_+=.@-]{1,512}$/, 'a Secrets Manager name: 1 to 512 of A-Z a-z 0-9 / _ + = . @ -');

  const taskCpu = oneOf('taskCpu', toNumber(pick('taskCpu')), Object.keys(FARGATE_TASK_SIZES).map(Number), 'Fargate CPU units');
  const memoryChoices = FARGATE_TASK_SIZES[taskCpu];
  const taskMemoryMiB = toNumber(pick('taskMemoryMiB'));
  if (!memoryChoices.includes(taskMemoryMiB as number)) {
    throw new ConfigError('taskMemoryMiB', pick('taskMemoryMiB'), `with taskCpu ${taskCpu}, one of ${describeList(memoryChoices)} MiB`);
  }

  const maxTasks = integer('maxTasks', pick('maxTasks'), 1, 100);
  const desiredTasks = integer('desiredTasks', pick('desiredTasks'), 1, maxTasks, `a whole number from 1 to maxTasks (${maxTasks})`);
  const cpuTargetPercent = integer('cpuTargetPercent', pick('cpuTargetPercent'), 10, 95);
  const logRetentionDays = oneOf('logRetentionDays', toNumber(pick('logRetentionDays')), LOG_RETENTION_DAYS, 'days CloudWatch Logs supports');
  const imageBuild = oneOf('imageBuild', pick('imageBuild'), IMAGE_BUILD_CHOICES, 'image build modes');
  const proxyArtifacts = bool('proxyArtifacts', pick('proxyArtifacts'));
  const mlflowBackgroundJobs = bool('mlflowBackgroundJobs', pick('mlflowBackgroundJobs'));
  if (mlflowBackgroundJobs && (taskMemoryMiB as number) < MIN_MEMORY_WITH_BACKGROUND_JOBS_MIB) {
    // Measured by the end-to-end suite's tooling: MLflow 3.17's job runner and its seven huey consumers take about
    // 1.6 GiB of RSS on top of the server's 0.8 GiB.
    throw new ConfigError('taskMemoryMiB', taskMemoryMiB, `at least ${MIN_MEMORY_WITH_BACKGROUND_JOBS_MIB} MiB with mlflowBackgroundJobs=true (the job runner's processes take about 1.6 GiB)`);
  }

  const dbMaxCapacity = halfStep('dbMaxCapacity', pick('dbMaxCapacity'), 1, 256);
  const dbMinCapacity = halfStep('dbMinCapacity', pick('dbMinCapacity'), 0, dbMaxCapacity, `0 to dbMaxCapacity (${dbMaxCapacity}) ACU in steps of 0.5`);
  const dbAutoPauseMinutes = integer('dbAutoPauseMinutes', pick('dbAutoPauseMinutes'), 5, 1440);
  const dbIdleDisconnectSeconds = integer('dbIdleDisconnectSeconds', pick('dbIdleDisconnectSeconds'), 10, 3600);
  const dbReadTimeoutSeconds = integer('dbReadTimeoutSeconds', pick('dbReadTimeoutSeconds'), 5, 3600);
  const dbBackupRetentionDays = integer('dbBackupRetentionDays', pick('dbBackupRetentionDays'), 1, 35);
  const dbDeletionProtection = bool('dbDeletionProtection', pick('dbDeletionProtection'));
  const dbSnapshot = clusterSnapshot('dbSnapshot', raw.dbSnapshot, region);
  /** A property of the snapshot: only with dbSnapshot, whose default (the original sample's) it has then. */
  const ofSnapshot = (setting: 'dbSnapshotUsername' | 'dbSnapshotDatabaseName', fallback: string, pattern: RegExp, allowed: string): string | undefined => {
    const value = raw[setting];
    const given = value !== undefined && value !== '';
    if (dbSnapshot === undefined) {
      if (given) throw new ConfigError(setting, value, 'unset unless dbSnapshot names the snapshot it describes');
      return undefined;
    }
    return matchString(setting, given ? value : fallback, pattern, allowed);
  };
  const dbSnapshotUsername = ofSnapshot('dbSnapshotUsername', SAMPLE_DATABASE.username, /^[A-Za-z][A-Za-z0-9_]{0,31}$/,
    'the master user name stored in the snapshot: 1 to 32 letters, digits or underscores, starting with a letter');
  const dbSnapshotDatabaseName = ofSnapshot('dbSnapshotDatabaseName', SAMPLE_DATABASE.databaseName, /^[A-Za-z][A-Za-z0-9_]{0,63}$/,
    "the schema in the snapshot that holds MLflow's tables: 1 to 64 letters, digits or underscores, starting with a letter");
  const destroyDataOnDelete = bool('destroyDataOnDelete', pick('destroyDataOnDelete'));
  const artifactVersionExpiryDays = integer('artifactVersionExpiryDays', pick('artifactVersionExpiryDays'), 1, 3650);
  const artifactBucketName = existingBucketName('artifactBucketName', raw.artifactBucketName);

  const apiThrottleRateLimit = integer('apiThrottleRateLimit', pick('apiThrottleRateLimit'), 1, 10000);
  const apiThrottleBurstLimit = integer('apiThrottleBurstLimit', pick('apiThrottleBurstLimit'), 1, 5000);

  const sagemaker = oneOf('sagemaker', pick('sagemaker'), SAGEMAKER_CHOICES, 'SageMaker stack choices');
  const domainId = optionalString('domainId', raw.domainId, /^d-[a-z0-9]{12}$/, 'a SageMaker domain id: "d-" followed by 12 lowercase letters or digits');
  const studioUserName = matchString('studioUserName', pick('studioUserName'), /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/, 'a SageMaker user profile name: up to 63 letters, digits and inner hyphens');
  const notebookInstanceType = matchString('notebookInstanceType', pick('notebookInstanceType'), /^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'a SageMaker instance type such as ml.t3.medium');
  const notebookVolumeSizeGiB = integer('notebookVolumeSizeGiB', pick('notebookVolumeSizeGiB'), 5, 16384);
  const servingImage = bool('servingImage', pick('servingImage'));

  return Object.freeze({
    region, account, vpcCidr, natGateways,
    mlflowVersion, mlflowUsername, mlflowSecretName,
    taskCpu, taskMemoryMiB: taskMemoryMiB as number, desiredTasks, maxTasks, cpuTargetPercent, logRetentionDays, imageBuild, proxyArtifacts, mlflowBackgroundJobs,
    dbMinCapacity, dbMaxCapacity, dbAutoPauseMinutes, dbIdleDisconnectSeconds, dbReadTimeoutSeconds, dbBackupRetentionDays, dbDeletionProtection,
    dbSnapshot, dbSnapshotUsername, dbSnapshotDatabaseName,
    destroyDataOnDelete, artifactVersionExpiryDays, artifactBucketName,
    apiThrottleRateLimit, apiThrottleBurstLimit,
    sagemaker, domainId, studioUserName, notebookInstanceType, notebookVolumeSizeGiB, servingImage,
  });
}

// ---- value parsers: each accepts the typed value or its string form from `-c key=value` ----

function toNumber(value: unknown): number | unknown {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  return value;
}

function integer(setting: string, value: unknown, min: number, max: number, allowed?: string): number {
  const n = toNumber(value);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(setting, value, allowed ?? `a whole number from ${min} to ${max}`);
  }
  return n;
}

function halfStep(setting: string, value: unknown, min: number, max: number, allowed?: string): number {
  const n = toNumber(value);
  if (typeof n !== 'number' || !Number.isInteger(n * 2) || n < min || n > max) {
    throw new ConfigError(setting, value, allowed ?? `${min} to ${max} ACU in steps of 0.5`);
  }
  return n;
}

function bool(setting: string, value: unknown): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError(setting, value, 'true or false');
}

function oneOf<T>(setting: string, value: unknown, choices: readonly T[], what: string): T {
  if (!choices.includes(value as T)) {
    throw new ConfigError(setting, value, `one of the ${what}: ${describeList(choices)}`);
  }
  return value as T;
}

function matchString(setting: string, value: unknown, pattern: RegExp, allowed: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new ConfigError(setting, value, allowed);
  return value;
}

function optionalString(setting: string, value: unknown, pattern: RegExp, allowed: string): string | undefined {
  return value === undefined || value === '' ? undefined : matchString(setting, value, pattern, allowed);
}

/** An IPv4 CIDR with a prefix from /16 to /20: large enough for the six subnets the network carves out. */
function cidr(setting: string, value: unknown): string {
  const allowed = 'an IPv4 CIDR block with prefix /16 to /20 and no host bits set, e.g. 10.0.0.0/16';
  const match = typeof value === 'string' ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value) : null;
  if (!match) throw new ConfigError(setting, value, allowed);
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix < 16 || prefix > 20) throw new ConfigError(setting, value, allowed);
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const hostBits = 2 ** (32 - prefix);
  if (address % hostBits !== 0) throw new ConfigError(setting, value, allowed);
  return value as string;
}

/**
 * A manual Aurora DB cluster snapshot in `region`: its identifier, or its ARN (what a snapshot shared from another
 * account needs), which must name `region` since a cluster is restored in the snapshot's region. Automated snapshots
 * (`rds:...`) are refused: they are deleted with their cluster, and a migration deletes the old cluster.
 */
function clusterSnapshot(setting: string, value: unknown, region: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const allowed = 'a manual DB cluster snapshot: its identifier (1 to 255 letters, digits or hyphens, starting with a letter, '
    + `without "--" or a final "-") or its ARN, arn:aws:rds:${region}:<account>:cluster-snapshot:<identifier>`;
  if (typeof value !== 'string') throw new ConfigError(setting, value, allowed);
  if (/^rds:|:cluster-snapshot:rds:/.test(value)) {
    throw new ConfigError(setting, value, 'a manual snapshot, not an automated one (rds:...), which is deleted with its cluster: copy it first (aws rds copy-db-cluster-snapshot)');
  }
  const arn = /^arn:aws(-cn|-us-gov)?:rds:([a-z0-9-]+):\d{12}:cluster-snapshot:([^:]+)$/.exec(value);
  const identifier = arn ? arn[3] : value;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,254}$/.test(identifier) || identifier.includes('--') || identifier.endsWith('-')) {
    throw new ConfigError(setting, value, allowed);
  }
  if (arn && arn[2] !== region) {
    throw new ConfigError(setting, value, `a snapshot in the deployment's region ${region}: copy it there first (aws rds copy-db-cluster-snapshot)`);
  }
  return value;
}

/** The name of an existing general purpose S3 bucket, by S3's naming rules; an ARN or an s3:// URL is refused. */
function existingBucketName(setting: string, value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  const valid = typeof value === 'string'
    && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value)
    && !value.includes('..')
    && !/^\d+\.\d+\.\d+\.\d+$/.test(value)
    && !/^(xn--|sthree-|amzn-s3-demo-)/.test(value)
    && !/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(value);
  if (!valid) {
    throw new ConfigError(setting, value, "an existing S3 bucket's name alone (no arn: or s3://): 3 to 63 lowercase letters, digits, dots or hyphens, "
      + 'starting and ending with a letter or digit, no "..", not an IP address, none of S3\'s reserved prefixes (xn--, sthree-) or suffixes (-s3alias, --ol-s3)');
  }
  return value;
}

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  return values;
}

function describeList(values: readonly unknown[]): string {
  return values.map((v) => String(v)).join(', ');
}
