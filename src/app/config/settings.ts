/**
 * Every setting of the app, declared once: its parser (what is allowed), its default, the environment variables that
 * feed it, its README group and one line on what it does. The configuration type, its defaults and its validation
 * (src/app/config/platform-config.ts), the loader's known names and environment variables (src/app/config/load.ts) and
 * the README's settings table (`npm run docs`) all come from `SETTINGS`. A new setting is one entry here.
 */
import { DATABASE_ENGINES, type DatabaseEngine, SQLITE_MAX_TASKS } from '../../lib/contract';
import { PLATFORM_DEFAULTS } from '../../lib/defaults';
import { ALARM_RULES, BACKUP_DEFAULTS } from '../../lib/operations/defaults';
import { AUTH_MODES, MLFLOW_PERMISSIONS, MLFLOW_USERNAME_PATTERN, type MlflowPermission } from '../../lib/service/auth';
import { IMAGE_BUILD_CHOICES } from '../../lib/service/image-build';
import { ActiveHours, WEEK_DAYS, WeekDay } from '../../lib/service/schedule';
import { bool, ConfigError, defineSettings, describeList, halfStep, integer, matching, oneOf, parser, Parser, SettingDeclaration, toNumber } from './declare';

/** Which SageMaker stacks the app synthesizes. */
export const SAGEMAKER_CHOICES = ['studio', 'notebook', 'both', 'none'] as const;
export type SageMakerChoice = (typeof SAGEMAKER_CHOICES)[number];

/** The SageMaker stacks a `sagemaker` choice asks for. */
export function sagemakerStacks(choice: SageMakerChoice): ReadonlyArray<'studio' | 'notebook'> {
  if (choice === 'both') return ['studio', 'notebook'];
  return choice === 'none' ? [] : [choice];
}

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

const ACTIVE_HOURS_ALLOWED = 'days and hours such as "MON-FRI 07:00-20:00" or "MON,WED,FRI 08:30-18:00": days from MON TUE WED THU FRI SAT SUN '
  + '(single, ranges, comma-separated), then start-end as HH:MM-HH:MM (24-hour), the end later the same day';

/**
 * `sleepAfterMinutes` beside 0 (off): at least the sleep function's schedule (every 5 minutes, src/lib/operations/idle-sleep.ts)
 * and at most a day.
 */
export const SLEEP_MINUTES = { min: 5, max: 1440 } as const;

/** The README's groups of settings, in order. */
export const SETTING_GROUPS = ['General', 'Network', 'MLflow service', 'Backend store', 'Data safety', 'Gateway', 'SageMaker', 'Schedule', 'Operations', 'Access'] as const;

/**
 * Layouts of the platform. `standard`: NAT gateway, private subnets, an internal load balancer, two x86 tasks.
 * `lean`: no NAT gateway and no load balancer (tasks in public subnets, found by the gateway through Cloud Map), one
 * small ARM64 task: under $20 a month at idle. Each of its defaults below can still be set.
 */
export const PROFILES = ['standard', 'lean'] as const;
export type Profile = (typeof PROFILES)[number];

/** CPU architectures of the MLflow task (and of the images built for it). */
export const TASK_ARCHITECTURES = ['x86_64', 'arm64'] as const;
export type TaskArchitecture = (typeof TASK_ARCHITECTURES)[number];

/** How a new Studio domain's home directories (EFS) are encrypted: a customer managed KMS key, or the AWS managed one. */
export const STUDIO_STORAGE_KEYS = ['customer-managed', 'aws-managed'] as const;
export type StudioStorageKey = (typeof STUDIO_STORAGE_KEYS)[number];

/** The defaults each profile gives the settings it changes: one place, read by those settings' declarations. */
export const PROFILE_DEFAULTS = {
  standard: {
    natGateways: PLATFORM_DEFAULTS.natGateways, taskCpu: PLATFORM_DEFAULTS.taskCpu, taskMemoryMiB: PLATFORM_DEFAULTS.taskMemoryMiB,
    desiredTasks: PLATFORM_DEFAULTS.desiredTasks, maxTasks: PLATFORM_DEFAULTS.maxTasks, taskArchitecture: 'x86_64', studioStorageKey: 'customer-managed', monitoring: true, sleepAfterMinutes: 0,
    dbAutoPauseMinutes: PLATFORM_DEFAULTS.dbAutoPauseMinutes, database: 'aurora',
  },
  lean: { natGateways: 0, taskCpu: 512, taskMemoryMiB: 1024, desiredTasks: 1, maxTasks: 2, taskArchitecture: 'arm64', studioStorageKey: 'aws-managed', monitoring: false, sleepAfterMinutes: 30,
    // With sleep on (below): Aurora's least. The service's stop closes MLflow's last connection, so a longer wait after
    // it is paid for nothing; the price is a request that waits for the database to resume (up to about 15 s) after
    // more than 6 minutes without one while the service still runs (docs/guides/sleep.md, "Cost").
    dbAutoPauseMinutes: 5,
    // SQLite in the task, replicated to S3 (Litestream): no database billed by the hour (docs/decisions/lean-database-cost.md).
    // A deployed lean stack keeps its Aurora cluster: deploy pins the setting to the deployed engine (src/transition/refused.ts).
    database: 'sqlite' },
} as const satisfies Record<Profile, Record<string, number | string | boolean>>;

/** A setting's default as given by the profile, and its README text: "`2` (`1` with profile=lean)". */
function byProfile<K extends keyof (typeof PROFILE_DEFAULTS)['standard']>(key: K) {
  return {
    default: (settings: { get(name: string): unknown }) => PROFILE_DEFAULTS[settings.get('profile') as Profile][key],
    defaultText: `\`${PROFILE_DEFAULTS.standard[key]}\` (\`${PROFILE_DEFAULTS.lean[key]}\` with profile=lean)`,
  };
}
/** The database engine the settings give (`database`). */
function engineOf(settings: { get(name: string): unknown }): DatabaseEngine {
  return settings.get('database') as DatabaseEngine;
}

/**
 * A task-count default: the profile's, or with database=sqlite the one task SQLite allows (`SQLITE_MAX_TASKS`). Its README
 * text says both.
 */
function taskCountByProfile(key: 'desiredTasks' | 'maxTasks') {
  const profile = byProfile(key);
  return {
    default: (settings: { get(name: string): unknown }) => (engineOf(settings) === 'sqlite' ? SQLITE_MAX_TASKS : profile.default(settings)),
    defaultText: `${profile.defaultText}; \`${SQLITE_MAX_TASKS}\` with database=sqlite`,
  };
}

/**
 * A setting of the Aurora cluster (the backend store with database=aurora): refused when given with database=sqlite,
 * which has no cluster. Its default stays in the configuration, unused.
 */
function auroraOnly<D extends SettingDeclaration<any>>(declaration: D): D {
  return {
    ...declaration,
    doc: `with \`database=aurora\`: ${declaration.doc}`,
    refuseGiven: (settings) => (engineOf(settings) === 'sqlite'
      ? 'unset with database=sqlite (a setting of the Aurora cluster, which database=sqlite does not have; for it use database=aurora)'
      : undefined),
  };
}

/** An AWS region name. */
const REGION_PATTERN = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;

/** The settings that describe the custom domain `domainName`: given only with it. */
const DOMAIN_SETTINGS = ['certificateArn', 'hostedZoneId', 'hostedZoneName', 'disableExecuteApiEndpoint'] as const;


/** A provider group name the containers accept (containers/mlflow/mlflow_auth.py GROUP_NAME). */
export const SSO_GROUP_PATTERN = /^[^\s,=]{1,256}$/;

/**
 * MLflow user names of the SageMaker execution roles on the IAM route (their runs are authored by these), and the
 * names no configured IAM principal may take.
 */
export const SAGEMAKER_MLFLOW_USERS = { studio: 'sagemaker-studio', notebook: 'sagemaker-notebook' } as const;

/** An IAM principal admitted on the IAM route and the MLflow user it acts as. */
export interface IamPrincipal {
  readonly arn: string;
  readonly username: string;
}

export const SETTINGS = defineSettings({
  region: {
    group: 'General',
    doc: 'AWS region of every stack',
    parser: matching(REGION_PATTERN, 'an AWS region name such as us-west-2'),
    default: 'us-west-2',
    env: ['AWS_REGION'],
  },
  account: {
    group: 'General',
    doc: 'the account you expect to deploy to: the stacks stay account-agnostic (synth needs no credentials or lookups), the CLI checks that your credentials belong to it',
    parser: matching(/^\d{12}$/, 'a 12-digit AWS account id'),
    env: ['AWS_ACCOUNT', 'CDK_DEFAULT_ACCOUNT'],
  },
  profile: {
    group: 'General',
    doc: 'the layout: `standard` (NAT gateway, internal load balancer, two x86 tasks) or `lean` (no NAT gateway, no load balancer: one ARM64 task in a public subnet that the gateway finds through Cloud Map, SQLite instead of Aurora; under $20 a month idle); the settings whose default says "with profile=lean" follow it unless set',
    parser: oneOf(PROFILES, 'profiles'),
    default: 'standard',
  },

  vpcCidr: {
    group: 'Network',
    doc: 'IPv4 range of the VPC: two Availability Zones, six subnets (four with profile=lean: no private ones)',
    parser: cidr(),
    default: PLATFORM_DEFAULTS.vpcCidr,
  },
  natGateways: {
    group: 'Network',
    doc: "NAT gateways for the private subnets' egress (image pulls, AWS APIs); 2 removes the single-AZ dependency; 0 only with profile=lean, whose tasks reach AWS from public subnets",
    parser: parser('1 or 2 with profile=standard, 0 with profile=lean', (value, context) => {
      const lean = context.get('profile') === 'lean';
      const allowed = lean
        ? '0 with profile=lean (its tasks run in public subnets and reach AWS without NAT; for a NAT gateway use profile=standard)'
        : '1 or 2 with profile=standard (its tasks run in private subnets that reach AWS through NAT; for none use profile=lean)';
      return lean ? integer(0, 0, allowed).parse(value, context) : integer(1, 2, allowed).parse(value, context);
    }),
    ...byProfile('natGateways'),
  },

  mlflowVersion: {
    group: 'MLflow service',
    doc: 'the MLflow release the server image is built with (and the lab and serving image pin)',
    parser: mlflowRelease(),
    default: PLATFORM_DEFAULTS.mlflowVersion,
  },
  mlflowUsername: {
    group: 'MLflow service',
    doc: 'the basic-auth user name of the MLflow server',
    parser: matching(/^[A-Za-z0-9._-]{1,64}$/, '1 to 64 letters, digits, dots, underscores or hyphens (no colon: it separates user and password in basic auth)'),
    default: PLATFORM_DEFAULTS.mlflowUsername,
  },
  mlflowSecretName: {
    group: 'MLflow service',
    doc: 'the Secrets Manager secret holding the MLflow user name and password',
    parser: matching(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'a Secrets Manager name: 1 to 512 of A-Z a-z 0-9 / _ + = . @ -'),
    default: PLATFORM_DEFAULTS.mlflowSecretName,
  },
  taskCpu: {
    group: 'MLflow service',
    doc: 'CPU units of each MLflow task (1024 = 1 vCPU)',
    parser: oneOf(Object.keys(FARGATE_TASK_SIZES).map(Number), 'Fargate CPU units'),
    ...byProfile('taskCpu'),
  },
  taskMemoryMiB: {
    group: 'MLflow service',
    doc: 'memory of each MLflow task',
    parser: taskMemory(),
    ...byProfile('taskMemoryMiB'),
  },
  desiredTasks: {
    group: 'MLflow service',
    doc: 'MLflow tasks kept running, also the autoscaling floor',
    parser: parser(`a whole number from 1 to maxTasks; ${SQLITE_MAX_TASKS} with database=sqlite`, (value, context) => {
      if (engineOf(context) === 'sqlite') {
        return integer(1, SQLITE_MAX_TASKS, `${SQLITE_MAX_TASKS} with database=sqlite (one task writes the SQLite files and their replica; for more use database=aurora)`).parse(value, context);
      }
      const maxTasks = context.number('maxTasks');
      return integer(1, maxTasks, `a whole number from 1 to maxTasks (${maxTasks})`).parse(value, context);
    }),
    ...taskCountByProfile('desiredTasks'),
  },
  maxTasks: {
    group: 'MLflow service',
    doc: 'the autoscaling ceiling',
    parser: parser(`a whole number from 1 to 100; ${SQLITE_MAX_TASKS} with database=sqlite`, (value, context) => {
      if (engineOf(context) === 'sqlite') {
        return integer(SQLITE_MAX_TASKS, SQLITE_MAX_TASKS, `${SQLITE_MAX_TASKS} with database=sqlite (one task writes the SQLite files and their replica; for more use database=aurora)`).parse(value, context);
      }
      return integer(1, 100).parse(value, context);
    }),
    ...taskCountByProfile('maxTasks'),
  },
  taskArchitecture: {
    group: 'MLflow service',
    doc: 'CPU architecture of the MLflow task and of the images built for it (`arm64`: Graviton, about 20 % cheaper)',
    parser: oneOf(TASK_ARCHITECTURES, 'architectures'),
    ...byProfile('taskArchitecture'),
  },
  cpuTargetPercent: {
    group: 'MLflow service',
    doc: 'average task CPU, in percent, the autoscaler aims for',
    parser: integer(10, 95),
    default: PLATFORM_DEFAULTS.cpuTargetPercent,
  },
  logRetentionDays: {
    group: 'MLflow service',
    doc: 'how long the log groups keep events',
    parser: oneOf(LOG_RETENTION_DAYS, 'days CloudWatch Logs supports'),
    default: PLATFORM_DEFAULTS.logRetentionDays,
  },
  imageBuild: {
    group: 'MLflow service',
    doc: 'where the container images are built: `codebuild` in AWS at deploy time (no local Docker), `local` by the local Docker engine',
    parser: oneOf(IMAGE_BUILD_CHOICES, 'image build modes'),
    default: 'codebuild',
  },
  proxyArtifacts: {
    group: 'MLflow service',
    doc: 'the server reads and writes artifacts for clients (no S3 access needed, but every artifact byte passes API Gateway, 10 MB per request); off: clients use S3 directly, as in the original sample',
    parser: bool(),
    default: false,
  },
  mlflowBackgroundJobs: {
    group: 'MLflow service',
    doc: `MLflow 3's job runner (online scoring and other scheduled jobs); it queries the database every minute, so the database never pauses, and needs \`taskMemoryMiB\` ${MIN_MEMORY_WITH_BACKGROUND_JOBS_MIB} or more`,
    parser: bool(),
    default: false,
  },

  database: {
    group: 'Backend store',
    doc: 'where MLflow keeps runs, experiments, models (and with auth=users/sso the permissions): `aurora`, Aurora Serverless v2 MySQL, billed by the hour it runs, any number of tasks; `sqlite`, SQLite files in the one task, replicated by Litestream to the database replica bucket every `databaseReplicaSyncSeconds`, billed by storage and requests (docs/decisions/lean-database-cost.md). `npx mlflow-on-aws deploy` keeps a deployed stack\'s engine when the setting is not given and refuses a move to the other (plain `cdk deploy` knows no deployed stack: give the setting, `database=aurora` for a lean stack deployed before 0.3.0)',
    parser: oneOf(DATABASE_ENGINES, 'database engines'),
    ...byProfile('database'),
  },
  databaseReplicaSyncSeconds: {
    group: 'Backend store',
    doc: 'with `database=sqlite`: seconds between Litestream\'s uploads of the SQLite files while MLflow writes, what a crash of the task can lose at most (a stop uploads everything first)',
    parser: parser('a whole number from 1 to 3600, only with database=sqlite', (value, context) => {
      const seconds = integer(1, 3600, 'a whole number of seconds from 1 to 3600').parse(value, context);
      if (engineOf(context) !== 'sqlite') throw new ConfigError(context.setting, value, 'unset unless database=sqlite (Aurora keeps every write itself)');
      return seconds;
    }),
    default: (settings) => (engineOf(settings) === 'sqlite' ? PLATFORM_DEFAULTS.databaseReplicaSyncSeconds : undefined),
    defaultText: `\`${PLATFORM_DEFAULTS.databaseReplicaSyncSeconds}\`, only with \`database=sqlite\``,
  },
  dbMinCapacity: auroraOnly({
    group: 'Backend store',
    doc: 'the least Aurora Serverless v2 capacity; 0 lets the idle database pause',
    parser: parser('0 to dbMaxCapacity ACU in steps of 0.5', (value, context) => {
      const dbMaxCapacity = context.number('dbMaxCapacity');
      return halfStep(0, dbMaxCapacity, `0 to dbMaxCapacity (${dbMaxCapacity}) ACU in steps of 0.5`).parse(value, context);
    }),
    default: PLATFORM_DEFAULTS.dbMinCapacity,
  }),
  dbMaxCapacity: auroraOnly({
    group: 'Backend store',
    doc: 'the most Aurora Serverless v2 capacity',
    parser: halfStep(1, 256),
    default: PLATFORM_DEFAULTS.dbMaxCapacity,
  }),
  dbAutoPauseMinutes: auroraOnly({
    group: 'Backend store',
    doc: 'minutes without connections before a database at 0 ACU pauses',
    parser: integer(5, 1440),
    // The profile's only while the service sleeps: its stop closes MLflow's last connection, the database follows.
    default: (settings) => ((settings.get('sleepAfterMinutes') as number) > 0
      ? PROFILE_DEFAULTS[settings.get('profile') as Profile].dbAutoPauseMinutes
      : PLATFORM_DEFAULTS.dbAutoPauseMinutes),
    defaultText: `\`${PROFILE_DEFAULTS.standard.dbAutoPauseMinutes}\` (\`${PROFILE_DEFAULTS.lean.dbAutoPauseMinutes}\` with profile=lean while sleepAfterMinutes is above 0)`,
  }),
  dbIdleDisconnectSeconds: auroraOnly({
    group: 'Backend store',
    doc: 'the database closes a pooled MLflow connection unused this long, so an idle MLflow lets it pause (lower: pauses sooner; higher: fewer reconnects)',
    parser: integer(10, 3600),
    default: PLATFORM_DEFAULTS.dbIdleDisconnectSeconds,
  }),
  dbReadTimeoutSeconds: auroraOnly({
    group: 'Backend store',
    doc: 'MLflow gives up on a database connection silent this long (an error instead of a request held until the proxy\'s 300 s)',
    parser: integer(5, 3600),
    default: PLATFORM_DEFAULTS.dbReadTimeoutSeconds,
  }),
  dbBackupRetentionDays: auroraOnly({
    group: 'Backend store',
    doc: 'days of automated database backups',
    parser: integer(1, 35),
    default: PLATFORM_DEFAULTS.dbBackupRetentionDays,
  }),
  dbDeletionProtection: auroraOnly({
    group: 'Backend store',
    doc: 'RDS deletion protection on the database cluster',
    parser: bool(),
    default: true,
  }),
  dbSnapshot: auroraOnly({
    group: 'Backend store',
    doc: 'create the cluster from this snapshot instead of an empty one, how another deployment\'s data moves in (docs/guides/migrate-from-sample.md); must stay set once deployed, changing or removing it replaces the cluster',
    parser: clusterSnapshot(),
    allowedText: 'a manual DB cluster snapshot: identifier, or ARN in the deployment\'s region (not automated `rds:` ones)',
    defaultText: 'unset: an empty database',
  }),
  dbSnapshotUsername: auroraOnly({
    group: 'Backend store',
    doc: 'with `dbSnapshot`: the master user name stored in the snapshot (it cannot change; a new password is generated)',
    parser: ofSnapshot(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, 'the master user name stored in the snapshot: 1 to 32 letters, digits or underscores, starting with a letter'),
    default: (settings) => (settings.get('dbSnapshot') === undefined ? undefined : SAMPLE_DATABASE.username),
    defaultText: `\`${SAMPLE_DATABASE.username}\` (the original sample's), only with \`dbSnapshot\``,
  }),
  dbSnapshotDatabaseName: auroraOnly({
    group: 'Backend store',
    doc: 'with `dbSnapshot`: the schema in the snapshot that holds MLflow\'s tables',
    parser: ofSnapshot(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, "the schema in the snapshot that holds MLflow's tables: 1 to 64 letters, digits or underscores, starting with a letter"),
    default: (settings) => (settings.get('dbSnapshot') === undefined ? undefined : SAMPLE_DATABASE.databaseName),
    defaultText: `\`${SAMPLE_DATABASE.databaseName}\` (the original sample's), only with \`dbSnapshot\``,
  }),

  destroyDataOnDelete: {
    group: 'Data safety',
    doc: 'throwaway environments only: `cdk destroy` deletes the bucket (and its objects) and the database without snapshot (with database=sqlite, the database replica bucket and its objects; see below)',
    parser: bool(),
    default: false,
  },
  artifactVersionExpiryDays: {
    group: 'Data safety',
    doc: 'days after which replaced or deleted artifact versions expire',
    parser: integer(1, 3650),
    default: PLATFORM_DEFAULTS.artifactVersionExpiryDays,
  },
  artifactBucketName: {
    group: 'Data safety',
    doc: 'an existing bucket to keep the artifacts in (the original sample\'s `mlflow-<account>-<region>`): granted by name, never changed or deleted by the stack; `destroyDataOnDelete` and `artifactVersionExpiryDays` do not apply to it',
    parser: existingBucketName(),
    allowedText: 'an existing bucket\'s name (not an ARN or s3:// URL)',
    defaultText: 'unset: a new bucket',
  },

  apiThrottleRateLimit: {
    group: 'Gateway',
    doc: 'API Gateway requests per second (429 beyond)',
    parser: integer(1, 10000),
    default: PLATFORM_DEFAULTS.apiThrottleRateLimit,
  },
  apiThrottleBurstLimit: {
    group: 'Gateway',
    doc: 'API Gateway burst of requests',
    parser: integer(1, 5000),
    default: PLATFORM_DEFAULTS.apiThrottleBurstLimit,
  },

  // ---- custom domain (README group "Gateway") ----
  domainName: {
    group: 'Gateway',
    doc: 'serve the API on this host name (`https://<domainName>` becomes the tracking URI); needs `certificateArn` or `hostedZoneId`',
    parser: domainName(),
    allowedText: 'a DNS name such as mlflow.example.com, with `certificateArn`, `hostedZoneId` (and `hostedZoneName`) or both',
    defaultText: 'unset: the API\'s execute-api host name',
    default: (settings) => {
      // Unset: none of the settings that only describe the domain may be given.
      for (const name of DOMAIN_SETTINGS) {
        const given = settings.get(name);
        if (given === true) throw new ConfigError(name, given, 'false unless domainName names the custom domain (the API would have no endpoint)');
        if (given !== undefined && given !== false) throw new ConfigError(name, given, 'unset unless domainName names the custom domain it is for');
      }
      return undefined;
    },
  },
  certificateArn: {
    group: 'Gateway',
    doc: 'with `domainName`: an existing ACM certificate for it, in `region`; unset with `hostedZoneId`: the stack creates one and validates it in the zone',
    parser: certificateArn(),
    allowedText: 'an ACM certificate ARN in `region`: `arn:aws:acm:<region>:<account>:certificate/<id>`',
    defaultText: 'unset',
  },
  hostedZoneId: {
    group: 'Gateway',
    doc: 'with `domainName`: the Route 53 public hosted zone in which the stack creates the alias record (and validates the certificate it creates); unset: you point the name at the `CustomDomainTarget` output yourself',
    parser: matching(/^Z[A-Z0-9]{1,31}$/, 'a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ'),
    defaultText: 'unset',
  },
  hostedZoneName: {
    group: 'Gateway',
    doc: 'with `hostedZoneId`: the zone\'s name (synth looks nothing up), which `domainName` must equal or end in',
    parser: matching(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'a DNS zone name in lowercase such as example.com'),
    defaultText: 'unset',
  },
  disableExecuteApiEndpoint: {
    group: 'Gateway',
    doc: 'with `domainName`: turn off the API\'s default execute-api endpoint, so the custom domain is the only way in',
    // Checked by domainName's default: true without a domain is refused there (the API would have no endpoint).
    parser: bool(),
    allowedText: 'true or false; true only with `domainName`',
    default: false,
  },

  sagemaker: {
    group: 'SageMaker',
    doc: 'which SageMaker stacks to deploy: a Studio domain and user, a notebook instance, both or none',
    parser: oneOf(SAGEMAKER_CHOICES, 'SageMaker stack choices'),
    default: 'studio',
  },
  domainId: {
    group: 'SageMaker',
    doc: 'an existing SageMaker Studio domain to add the user profile to; nothing else in it is touched',
    parser: matching(/^d-[a-z0-9]{12}$/, 'a SageMaker domain id: "d-" followed by 12 lowercase letters or digits'),
    defaultText: 'unset: a new Studio domain',
    env: ['DOMAIN_ID'],
  },
  studioUserName: {
    group: 'SageMaker',
    doc: 'the Studio user profile the stack creates',
    parser: matching(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/, 'a SageMaker user profile name: up to 63 letters, digits and inner hyphens'),
    default: 'mlflow-user',
  },
  notebookInstanceType: {
    group: 'SageMaker',
    doc: 'instance type of the notebook instance',
    parser: matching(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'a SageMaker instance type such as ml.t3.medium'),
    default: 'ml.t3.medium',
  },
  notebookVolumeSizeGiB: {
    group: 'SageMaker',
    doc: 'size of the notebook instance\'s volume',
    parser: integer(5, 16384),
    default: 20,
  },
  studioStorageKey: {
    group: 'SageMaker',
    doc: "how a new Studio domain encrypts its home directories: with a customer managed KMS key (about $1 a month, its use visible in CloudTrail and revocable) or SageMaker's AWS managed key (no charge)",
    parser: oneOf(STUDIO_STORAGE_KEYS, 'key kinds'),
    ...byProfile('studioStorageKey'),
  },
  servingImage: {
    group: 'SageMaker',
    doc: 'build MLflow\'s SageMaker serving image `mlflow-pyfunc:<mlflowVersion>` in CodeBuild at deploy time, so deploying a model from the lab needs Docker nowhere',
    parser: bool(),
    default: false,
  },

  activeHours: {
    group: 'Schedule',
    doc: 'hours the MLflow service runs, e.g. `MON-FRI 07:00-20:00`: outside them ECS scheduled scaling takes it to 0 tasks (the endpoint answers 503), at their start back to `desiredTasks`; `npx mlflow-on-aws resume` opens it early',
    // Kept parsed: the stacks read the days and times, not the text.
    parser: parser(ACTIVE_HOURS_ALLOWED, (value, context): ActiveHours => parseActiveHours(value, context.setting)),
    defaultText: 'unset: always on',
  },
  activeHoursTimeZone: {
    group: 'Schedule',
    doc: 'with `activeHours`: the IANA time zone its times are in (daylight saving time followed)',
    parser: parser('an IANA time zone such as Europe/Berlin or America/New_York, only with activeHours', (value, context) => {
      if (context.get('activeHours') === undefined) throw new ConfigError(context.setting, value, 'unset unless activeHours gives the hours it is the time zone of');
      if (typeof value !== 'string' || !timeZones().has(value)) {
        throw new ConfigError(context.setting, value, 'an IANA time zone such as UTC, Europe/Berlin or America/New_York (Intl.supportedValuesOf("timeZone"))');
      }
      return value;
    }),
    default: (settings) => (settings.get('activeHours') === undefined ? undefined : 'UTC'),
    defaultText: '`UTC`, only with `activeHours`',
  },
  sleepAfterMinutes: {
    group: 'Schedule',
    doc: 'the service goes to sleep (0 tasks, the database pauses after it) this many minutes after the last request someone made (health checks and the UI\'s own 30-s auto-refresh do not count), and wakes on the next one, which gets 503 with `Retry-After` while MLflow starts (about 2 minutes; see docs/guides/sleep.md); `0`: always on. `pause` and `activeHours` keep it off whatever comes in',
    parser: parser(`0 (off) or a whole number of minutes from ${SLEEP_MINUTES.min} to ${SLEEP_MINUTES.max}`, (value, context) => {
      const allowed = `0 (off) or a whole number of minutes from ${SLEEP_MINUTES.min} to ${SLEEP_MINUTES.max}`;
      const n = toNumber(value);
      if (n !== 0) integer(SLEEP_MINUTES.min, SLEEP_MINUTES.max, allowed).parse(value, context);
      if (n !== 0 && context.boolean('mlflowBackgroundJobs')) {
        throw new ConfigError(context.setting, value, '0 (off) with mlflowBackgroundJobs=true (the job runner\'s scheduled jobs would stop while the service sleeps)');
      }
      return n as number;
    }),
    // The job runner's schedule would stop while asleep: off by default with it.
    default: (settings) => (settings.get('mlflowBackgroundJobs') === true ? 0 : PROFILE_DEFAULTS[settings.get('profile') as Profile].sleepAfterMinutes),
    defaultText: `\`${PROFILE_DEFAULTS.standard.sleepAfterMinutes}\` (\`${PROFILE_DEFAULTS.lean.sleepAfterMinutes}\` with profile=lean, unless mlflowBackgroundJobs=true)`,
  },
  monitoring: {
    group: 'Operations',
    doc: 'CloudWatch alarms on the service, gateway, database and image builds, an SNS alarm topic and one dashboard (see "Alarms and dashboard")',
    parser: bool(),
    // Off in the lean profile: its 8 alarms and the dashboard cost about $3.80 a month, a fifth of its $20 budget.
    ...byProfile('monitoring'),
  },
  alarmEmail: {
    group: 'Operations',
    doc: 'with `monitoring`: an address subscribed to the alarm topic (confirm the e-mail AWS sends)',
    parser: parser('an e-mail address such as ops@example.com, only with monitoring=true', (value, context) => {
      const email = matching(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an e-mail address such as ops@example.com').parse(value, context);
      if (!context.boolean('monitoring')) throw new ConfigError(context.setting, value, 'unset unless monitoring=true (there is no alarm topic to subscribe to)');
      return email;
    }),
    defaultText: 'unset: no subscription',
  },
  alarmUnauthorizedPer5Min: {
    group: 'Operations',
    doc: '401 answers of the proxy in 5 minutes that raise the password-guessing alarm',
    parser: integer(1, 100000),
    default: ALARM_RULES.unauthorized.threshold,
  },
  backup: {
    group: 'Operations',
    doc: 'a daily AWS Backup plan (03:00 UTC) for the database (with database=sqlite, the database replica bucket) and the artifact bucket, into a vault that `destroy` keeps (see "Backups")',
    parser: bool(),
    default: false,
  },
  backupRetentionDays: {
    group: 'Operations',
    doc: 'with `backup`: days each daily recovery point (and its copy) is kept',
    parser: parser('a whole number from 1 to 36500, only with backup=true', (value, context) => {
      const days = integer(1, 36500).parse(value, context);
      if (!context.boolean('backup')) throw new ConfigError(context.setting, value, 'unset unless backup=true');
      return days;
    }),
    default: (settings) => (settings.boolean('backup') ? BACKUP_DEFAULTS.retentionDays : undefined),
    defaultText: `\`${BACKUP_DEFAULTS.retentionDays}\`, only with \`backup\``,
  },
  backupCopyRegion: {
    group: 'Operations',
    doc: `with \`backup\`: also copy each recovery point to the vault \`${BACKUP_DEFAULTS.copyVaultName}\` in this region (its stack \`MLflowBackupCopyVaultStack\` is deployed there first)`,
    parser: parser('an AWS region other than `region`, only with backup=true', (value, context) => {
      const copyRegion = matching(REGION_PATTERN, 'an AWS region name such as us-east-1').parse(value, context);
      if (!context.boolean('backup')) throw new ConfigError(context.setting, value, 'unset unless backup=true');
      const region = context.string('region');
      if (copyRegion === region) throw new ConfigError(context.setting, value, `a region other than the deployment's (${region})`);
      return copyRegion;
    }),
    defaultText: 'unset: no copy',
  },
  auth: {
    group: 'Access',
    doc: '`shared`: one account (`mlflowUsername`, its password in `mlflowSecretName`) checked by the proxy, everyone can do everything; `users`: MLflow\'s authentication app, personal accounts (`npx mlflow-on-aws users`) with per-experiment and per-model permissions, the admin from the same secret (docs/guides/access.md); `sso`: sign-in with an OpenID Connect provider (a Cognito user pool of the stack, or `ssoIssuerUrl`), its groups as MLflow permissions, its tokens for machines (docs/guides/sso.md)',
    parser: oneOf(AUTH_MODES, 'access modes'),
    default: PLATFORM_DEFAULTS.auth,
  },
  authDefaultPermission: {
    group: 'Access',
    doc: 'with `auth=users` or `sso`: what a user may do with experiments and models nobody granted them (creators get MANAGE on theirs); the default is least privilege, a new or leaked account sees only what it was given',
    parser: parser(`one of the MLflow permissions: ${describeList(MLFLOW_PERMISSIONS)}; only with auth=users or auth=sso`, (value, context) => {
      const permission = oneOf(MLFLOW_PERMISSIONS, 'MLflow permissions').parse(value, context);
      if (context.string('auth') === 'shared') throw new ConfigError(context.setting, value, 'unset unless auth=users or auth=sso (shared mode has no permissions)');
      return permission;
    }),
    default: (settings) => (settings.string('auth') === 'shared' ? undefined : 'NO_PERMISSIONS'),
    defaultText: '`NO_PERMISSIONS`, only with `auth=users` or `sso`',
  },
  ssoIssuerUrl: {
    group: 'Access',
    doc: 'with `auth=sso`: the OpenID Connect issuer to sign in with (Okta, Entra ID, Google, IAM Identity Center through Cognito, ...); unset: the stack creates a Cognito user pool with hosted sign-in (docs/guides/sso.md)',
    parser: onlyWithSso(matching(/^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$/, 'an https URL without query or fragment, such as https://example.okta.com/oauth2/default')),
    default: (settings) => {
      // The stack's Cognito client must name its callback URL, which is known before deployment only on the custom domain.
      if (settings.string('auth') === 'sso' && settings.get('domainName') === undefined) {
        throw new ConfigError('auth', 'sso', 'auth=sso with the stack\'s Cognito user pool together with domainName (its app client names https://<domainName>/oauth2/callback), or with ssoIssuerUrl for your own provider');
      }
      return undefined;
    },
    defaultText: 'unset: a Cognito user pool of the stack (needs `domainName`)',
  },
  ssoClientId: {
    group: 'Access',
    doc: 'with `ssoIssuerUrl`: the OpenID Connect client (application) id registered at the provider for MLflow',
    parser: parser('the client id at the provider, 1 to 256 printable characters; only with ssoIssuerUrl', (value, context) => {
      const id = matching(/^[\x21-\x7e]{1,256}$/, 'the client id at the provider, 1 to 256 printable characters without spaces').parse(value, context);
      if (context.get('ssoIssuerUrl') === undefined) throw new ConfigError(context.setting, value, 'unset unless ssoIssuerUrl is set (the stack\'s Cognito user pool has its own client)');
      return id;
    }),
    default: (settings) => {
      if (settings.get('ssoIssuerUrl') !== undefined) throw new ConfigError('ssoClientId', undefined, 'the client id registered at ssoIssuerUrl (required with it)');
      return undefined;
    },
    defaultText: 'required with `ssoIssuerUrl`',
  },
  ssoClientSecretName: {
    group: 'Access',
    doc: 'with `ssoIssuerUrl`: name of the Secrets Manager secret (in `region`) whose key `clientSecret` holds the client secret; created by you before the deployment',
    parser: parser('a Secrets Manager secret name; only with ssoIssuerUrl', (value, context) => {
      const name = matching(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'a Secrets Manager secret name (letters, digits and /_+=.@-)').parse(value, context);
      if (context.get('ssoIssuerUrl') === undefined) throw new ConfigError(context.setting, value, 'unset unless ssoIssuerUrl is set (the stack keeps its Cognito client\'s secret itself)');
      return name;
    }),
    default: (settings) => (settings.get('ssoIssuerUrl') !== undefined ? 'mlflow-sso-client' : undefined),
    defaultText: '`mlflow-sso-client`, only with `ssoIssuerUrl`',
  },
  ssoAdminGroup: {
    group: 'Access',
    doc: 'with `auth=sso`: members of this provider group are MLflow admins (all permissions, grant and revoke), set again at each sign-in and session refresh',
    parser: onlyWithSso(matching(SSO_GROUP_PATTERN, 'a group name without spaces, commas or =, at most 256 characters')),
    default: (settings) => (settings.string('auth') === 'sso' ? 'mlflow-admins' : undefined),
    defaultText: '`mlflow-admins`, only with `auth=sso`',
  },
  ssoGroupPermissions: {
    group: 'Access',
    doc: 'with `auth=sso`: `group=PERMISSION` entries: a member\'s permission on experiments and models nobody granted them, the highest of their groups\' and `authDefaultPermission`',
    parser: ssoGroupPermissions(),
    allowedText: `\`group=PERMISSION\` entries separated by commas or spaces, permissions ${describeList(MLFLOW_PERMISSIONS)}`,
    defaultText: 'none',
  },
  ssoGroupsClaim: {
    group: 'Access',
    doc: 'with `auth=sso`: the ID token claim that lists the user\'s groups',
    parser: onlyWithSso(matching(/^[A-Za-z0-9:_.-]{1,128}$/, 'a claim name of letters, digits and : _ . -')),
    default: (settings) => (settings.string('auth') !== 'sso' ? undefined : settings.get('ssoIssuerUrl') === undefined ? 'cognito:groups' : 'groups'),
    defaultText: '`cognito:groups` (Cognito), `groups` with `ssoIssuerUrl`',
  },
  ssoSessionRefreshSeconds: {
    group: 'Access',
    doc: 'with `auth=sso`: a browser session is checked with the provider again after this many seconds (its refresh token): the bound within which a user disabled or removed there loses access in the browser (bearer tokens: their own lifetime)',
    parser: onlyWithSso(integer(10, 3600)),
    default: (settings) => (settings.string('auth') === 'sso' ? 300 : undefined),
    defaultText: '`300`, only with `auth=sso`',
  },
  ssoTokenAudiences: {
    group: 'Access',
    doc: 'with `auth=sso`: audiences besides MLflow\'s client id that bearer tokens (`MLFLOW_TRACKING_TOKEN`) may carry, in `aud` or, for a token without it, `client_id` (Cognito\'s client-credentials tokens: list the machine clients\' ids); each token acts as the MLflow user of its subject',
    parser: ssoTokenAudiences(),
    allowedText: 'audiences separated by commas or spaces, each 1 to 256 printable characters',
    defaultText: 'none',
  },
  ssoFederationSamlMetadataUrl: {
    group: 'Access',
    doc: 'with `auth=sso` and the stack\'s Cognito user pool: the metadata URL of a SAML identity provider (IAM Identity Center, Okta, Entra ID, ...) the pool signs people in with, besides its own users (docs/guides/sso.md)',
    parser: onlyWithCognitoPool(matching(/^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[^\s]*)?$/, 'an https URL of the provider\'s SAML metadata')),
    defaultText: 'none',
  },
  ssoFederationOidcIssuerUrl: {
    group: 'Access',
    doc: 'with `auth=sso` and the stack\'s Cognito user pool: the issuer of an OpenID Connect identity provider (Google, Okta, Entra ID, ...) the pool signs people in with, besides its own users; not with `ssoFederationSamlMetadataUrl`',
    parser: parser('an https URL without query or fragment; only with auth=sso and the stack\'s Cognito user pool, not with ssoFederationSamlMetadataUrl', (value, context) => {
      const url = onlyWithCognitoPool(matching(/^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$/, 'an https URL without query or fragment')).parse(value, context);
      if (context.get('ssoFederationSamlMetadataUrl') !== undefined) throw new ConfigError(context.setting, value, 'unset with ssoFederationSamlMetadataUrl (one federated provider)');
      return url;
    }),
    defaultText: 'none',
  },
  ssoFederationOidcClientId: {
    group: 'Access',
    doc: 'with `ssoFederationOidcIssuerUrl`: the client id the Cognito user pool is registered with at that provider',
    parser: parser('the client id at the provider, 1 to 256 printable characters; only with ssoFederationOidcIssuerUrl', (value, context) => {
      const id = matching(/^[\x21-\x7e]{1,256}$/, 'the client id at the provider, 1 to 256 printable characters without spaces').parse(value, context);
      if (context.get('ssoFederationOidcIssuerUrl') === undefined) throw new ConfigError(context.setting, value, 'unset unless ssoFederationOidcIssuerUrl is set');
      return id;
    }),
    default: (settings) => {
      if (settings.get('ssoFederationOidcIssuerUrl') !== undefined) throw new ConfigError('ssoFederationOidcClientId', undefined, 'the client id registered at ssoFederationOidcIssuerUrl (required with it)');
      return undefined;
    },
    defaultText: 'required with `ssoFederationOidcIssuerUrl`',
  },
  ssoFederationOidcClientSecretName: {
    group: 'Access',
    doc: 'with `ssoFederationOidcIssuerUrl`: name of the Secrets Manager secret (in `region`) whose key `clientSecret` holds that client\'s secret; created by you before the deployment',
    parser: parser('a Secrets Manager secret name; only with ssoFederationOidcIssuerUrl', (value, context) => {
      const name = matching(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'a Secrets Manager secret name (letters, digits and /_+=.@-)').parse(value, context);
      if (context.get('ssoFederationOidcIssuerUrl') === undefined) throw new ConfigError(context.setting, value, 'unset unless ssoFederationOidcIssuerUrl is set');
      return name;
    }),
    default: (settings) => (settings.get('ssoFederationOidcIssuerUrl') !== undefined ? 'mlflow-sso-federation' : undefined),
    defaultText: '`mlflow-sso-federation`, only with `ssoFederationOidcIssuerUrl`',
  },
  ssoFederationEmailAttribute: {
    group: 'Access',
    doc: 'with a federated provider: its SAML attribute or OIDC claim with the person\'s e-mail address (their MLflow user name)',
    parser: onlyWithFederation(matching(/^[\x21-\x7e]{1,256}$/, 'an attribute or claim name, 1 to 256 printable characters without spaces')),
    default: (settings) => (federated(settings) ? 'email' : undefined),
    defaultText: '`email`, only with a federated provider',
  },
  ssoFederationGroupsAttribute: {
    group: 'Access',
    doc: 'with a federated provider: its SAML attribute or OIDC claim listing the person\'s groups; the pool keeps it in `custom:groups` and a pre-token-generation trigger adds those groups to `cognito:groups`, where `ssoAdminGroup` and `ssoGroupPermissions` find them',
    parser: onlyWithFederation(matching(/^[\x21-\x7e]{1,256}$/, 'an attribute or claim name, 1 to 256 printable characters without spaces')),
    default: (settings) => (federated(settings) ? 'groups' : undefined),
    defaultText: '`groups`, only with a federated provider',
  },
  iamPrincipals: {
    group: 'Access',
    doc: 'IAM roles and users (besides the SageMaker roles) that reach MLflow with SigV4 and no password on the IAM route (`<endpoint>/iam`), each as the MLflow user named after `=` (default: the role or user name); they need `execute-api:Invoke` on the gateway stack\'s `MlflowIamInvokeArn` in their own policies',
    parser: iamPrincipals(),
    allowedText: '`ARN[=user]` entries separated by commas or spaces (`-c`), or a list (cdk.json): IAM role or user ARNs of the region\'s partition; user names of letters, digits and `. _ @ + -`, not the admin\'s or the SageMaker roles\'',
    defaultText: 'none',
  },
});

// ---- active hours ----

/** Parses `activeHours`; a bad value is a `ConfigError` for `setting` that says what is wrong and what is allowed. */
export function parseActiveHours(value: unknown, setting = 'activeHours'): ActiveHours {
  const match = typeof value === 'string' ? /^\s*(\S+)\s+(\d{2}):(\d{2})-(\d{2}):(\d{2})\s*$/.exec(value) : null;
  if (!match) throw new ConfigError(setting, value, ACTIVE_HOURS_ALLOWED);
  const days = new Set<WeekDay>();
  for (const part of match[1].toUpperCase().split(',')) {
    const [from, to = from, extra] = part.split('-');
    const a = WEEK_DAYS.indexOf(from as WeekDay);
    const b = WEEK_DAYS.indexOf(to as WeekDay);
    if (a < 0 || b < 0 || extra !== undefined) {
      throw new ConfigError(setting, value, `day names ${WEEK_DAYS.join(' ')}, single, as ranges (MON-FRI) or comma-separated (MON,WED,FRI); "${part}" is none of these`);
    }
    for (let i = a; ; i = (i + 1) % 7) {
      days.add(WEEK_DAYS[i]);
      if (i === b) break;
    }
  }
  const [startHour, startMinute, endHour, endMinute] = match.slice(2).map(Number);
  const time = (hour: number, minute: number) => {
    if (hour > 23 || minute > 59) throw new ConfigError(setting, value, 'times from 00:00 to 23:59 (HH:MM, 24-hour)');
    return { hour, minute };
  };
  const start = time(startHour, startMinute);
  const end = time(endHour, endMinute);
  if (end.hour * 60 + end.minute <= start.hour * 60 + start.minute) {
    throw new ConfigError(setting, value, 'an end time later than the start time on the same day (hours that run past midnight are not supported)');
  }
  return { days: WEEK_DAYS.filter((d) => days.has(d)), start, end };
}

let knownTimeZones: Set<string> | undefined;
function timeZones(): Set<string> {
  // Node's list has the canonical zones; UTC is added in case the runtime lists it only as Etc/UTC.
  knownTimeZones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
  return knownTimeZones;
}

// ---- parsers of single settings ----

/** The AWS partition of a region's ARNs. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  const iso = /^[a-z]{2}-(iso[a-z]*)-/.exec(region);
  return iso ? `aws-${iso[1]}` : 'aws';
}

/** `inner`, allowed only with auth=sso and the stack's Cognito user pool (no ssoIssuerUrl). */
function onlyWithCognitoPool<T>(inner: Parser<T>): Parser<T> {
  return parser(`${inner.allowed}; only with auth=sso and the stack's Cognito user pool`, (value, context) => {
    const parsed = inner.parse(value, context);
    if (context.string('auth') !== 'sso' || context.get('ssoIssuerUrl') !== undefined) {
      throw new ConfigError(context.setting, value, 'unset unless auth=sso with the stack\'s Cognito user pool (without ssoIssuerUrl: federate your provider there)');
    }
    return parsed;
  });
}

/** Whether the settings federate a provider into the stack's Cognito user pool. */
function federated(settings: { get(name: string): unknown }): boolean {
  return settings.get('ssoFederationSamlMetadataUrl') !== undefined || settings.get('ssoFederationOidcIssuerUrl') !== undefined;
}

/** `inner`, allowed only with a federated provider. */
function onlyWithFederation<T>(inner: Parser<T>): Parser<T> {
  return parser(`${inner.allowed}; only with ssoFederationSamlMetadataUrl or ssoFederationOidcIssuerUrl`, (value, context) => {
    const parsed = inner.parse(value, context);
    if (!federated(context)) throw new ConfigError(context.setting, value, 'unset unless ssoFederationSamlMetadataUrl or ssoFederationOidcIssuerUrl is set');
    return parsed;
  });
}

/** `inner`, allowed only with auth=sso. */
function onlyWithSso<T>(inner: Parser<T>): Parser<T> {
  return parser(`${inner.allowed}; only with auth=sso`, (value, context) => {
    const parsed = inner.parse(value, context);
    if (context.string('auth') !== 'sso') throw new ConfigError(context.setting, value, 'unset unless auth=sso');
    return parsed;
  });
}

/** Entries of a list setting: a list, or one string with commas or white space between them. */
function listEntries(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return typeof value === 'string' ? value.split(/[\s,]+/).filter((entry) => entry.length > 0) : [value];
}

/** `ssoGroupPermissions`: `group=PERMISSION` entries, each group once. */
function ssoGroupPermissions(): Parser<Readonly<Record<string, MlflowPermission>>> {
  const allowed = `group=PERMISSION entries (commas or spaces between them, or a list), each group once, permissions ${describeList(MLFLOW_PERMISSIONS)}; only with auth=sso`;
  return parser(allowed, (value, context) => {
    const grants: Record<string, MlflowPermission> = {};
    for (const entry of listEntries(value)) {
      const match = typeof entry === 'string' ? /^(.+)=([A-Z_]+)$/.exec(entry) : null;
      if (!match || !SSO_GROUP_PATTERN.test(match[1]) || !(MLFLOW_PERMISSIONS as readonly string[]).includes(match[2]) || match[1] in grants) {
        throw new ConfigError(context.setting, value, allowed.replace(/^/, `${JSON.stringify(entry)} is not one of `));
      }
      grants[match[1]] = match[2] as MlflowPermission;
    }
    if (context.string('auth') !== 'sso') throw new ConfigError(context.setting, value, 'unset unless auth=sso');
    return grants;
  });
}

/** `ssoTokenAudiences`: audiences, each once. */
function ssoTokenAudiences(): Parser<readonly string[]> {
  const allowed = 'audiences (commas or spaces between them, or a list), each 1 to 256 printable characters, each once; only with auth=sso';
  return parser(allowed, (value, context) => {
    const ids = listEntries(value);
    for (const id of ids) {
      if (typeof id !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(id) || id.includes(',')) throw new ConfigError(context.setting, value, `${JSON.stringify(id)} is not an audience: ${allowed}`);
    }
    if (new Set(ids).size !== ids.length) throw new ConfigError(context.setting, value, `each audience once: ${allowed}`);
    if (context.string('auth') !== 'sso') throw new ConfigError(context.setting, value, 'unset unless auth=sso');
    return ids as string[];
  });
}

/**
 * `ARN[=user]` entries, in a list or one string (commas or white space between them, what `-c iamPrincipals=...`
 * gives): IAM role or user ARNs of the region's partition, each at most once; the user defaults to the last part of
 * the ARN (the role or user name). The admin's and the SageMaker roles' user names are refused: the IAM route must
 * never act as the admin, and a SageMaker role's user is its own.
 */
function iamPrincipals(): Parser<readonly IamPrincipal[]> {
  return parser('IAM role or user ARNs, each optionally =user', (value, context) => {
    const { setting } = context;
    const partition = partitionOf(context.string('region'));
    const admin = context.string('mlflowUsername');
    const allowed = `ARN[=user] entries (commas or spaces between them, or a list): arn:${partition}:iam::<account>:role/NAME or :user/NAME, `
      + `and user names of 1 to 128 letters, digits or . _ @ + - (starting with a letter or digit), not "${admin}" (the admin) nor ${describeList(Object.values(SAGEMAKER_MLFLOW_USERS))}`;
    const entries = typeof value === 'string' ? value.split(/[\s,]+/).filter((entry) => entry.length > 0)
      : Array.isArray(value) && value.every((entry) => typeof entry === 'string') ? value as string[] : undefined;
    if (!entries) throw new ConfigError(setting, value, allowed);
    const arnPattern = new RegExp(`^arn:${partition}:iam::\\d{12}:(role|user)/(?:[\\w+=,.@-]+/)*([\\w+=,.@-]{1,64})$`);
    const principals: IamPrincipal[] = [];
    for (const entry of entries) {
      const equals = entry.lastIndexOf('=');
      const explicit = equals > entry.lastIndexOf('/');
      const arn = explicit ? entry.slice(0, equals) : entry;
      const match = arnPattern.exec(arn);
      if (!match) throw new ConfigError(setting, entry, allowed);
      const username = explicit ? entry.slice(equals + 1) : match[2];
      if (!MLFLOW_USERNAME_PATTERN.test(username) || username === admin || (Object.values(SAGEMAKER_MLFLOW_USERS) as string[]).includes(username)) {
        throw new ConfigError(setting, entry, explicit ? allowed : `${allowed}; this ARN's name is not a usable user name: add =user`);
      }
      if (principals.some((principal) => principal.arn === arn)) throw new ConfigError(setting, entry, `${allowed}; each ARN once`);
      principals.push({ arn, username });
    }
    return Object.freeze(principals);
  });
}

function mlflowRelease(): Parser<string> {
  const allowed = 'an exact MLflow release X.Y.Z, 2.0.0 or later';
  const release = matching(/^\d+\.\d+\.\d+$/, allowed);
  return parser(allowed, (value, context) => {
    const version = release.parse(value, context);
    if (Number(version.split('.')[0]) < 2) throw new ConfigError(context.setting, version, allowed);
    return version;
  });
}

/** A memory size Fargate allows with `taskCpu`, and enough for the job runner when `mlflowBackgroundJobs` is on. */
function taskMemory(): Parser<number> {
  return parser(`a memory size (MiB) Fargate allows with taskCpu; at least ${MIN_MEMORY_WITH_BACKGROUND_JOBS_MIB} with mlflowBackgroundJobs=true`, (value, context) => {
    const taskCpu = context.number('taskCpu');
    const memoryChoices = FARGATE_TASK_SIZES[taskCpu];
    const memory = toNumber(value);
    if (!memoryChoices.includes(memory as number)) {
      throw new ConfigError(context.setting, value, `with taskCpu ${taskCpu}, one of ${describeList(memoryChoices)} MiB`);
    }
    if (context.boolean('mlflowBackgroundJobs') && (memory as number) < MIN_MEMORY_WITH_BACKGROUND_JOBS_MIB) {
      // Measured by the end-to-end suite's tooling: MLflow 3.17's job runner and its seven huey consumers take about
      // 1.6 GiB of RSS on top of the server's 0.8 GiB.
      throw new ConfigError(context.setting, memory, `at least ${MIN_MEMORY_WITH_BACKGROUND_JOBS_MIB} MiB with mlflowBackgroundJobs=true (the job runner's processes take about 1.6 GiB)`);
    }
    return memory as number;
  });
}

/** An IPv4 CIDR with a prefix from /16 to /20: large enough for the six subnets the network carves out. */
function cidr(): Parser<string> {
  const allowed = 'an IPv4 CIDR block with prefix /16 to /20 and no host bits set, e.g. 10.0.0.0/16';
  return parser(allowed, (value, { setting }) => {
    const match = typeof value === 'string' ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value) : null;
    if (!match) throw new ConfigError(setting, value, allowed);
    const octets = match.slice(1, 5).map(Number);
    const prefix = Number(match[5]);
    if (octets.some((o) => o > 255) || prefix < 16 || prefix > 20) throw new ConfigError(setting, value, allowed);
    const address = octets.reduce((acc, o) => acc * 256 + o, 0);
    const hostBits = 2 ** (32 - prefix);
    if (address % hostBits !== 0) throw new ConfigError(setting, value, allowed);
    return value as string;
  });
}

/**
 * A manual Aurora DB cluster snapshot in the deployment's `region`: its identifier, or its ARN (what a snapshot shared
 * from another account needs), which must name `region` since a cluster is restored in the snapshot's region.
 * Automated snapshots (`rds:...`) are refused: they are deleted with their cluster, and a migration deletes the old
 * cluster.
 */
function clusterSnapshot(): Parser<string> {
  const allowedIn = (region: string) => 'a manual DB cluster snapshot: its identifier (1 to 255 letters, digits or hyphens, starting with a letter, '
    + `without "--" or a final "-") or its ARN, arn:aws:rds:${region}:<account>:cluster-snapshot:<identifier>`;
  return parser(allowedIn('<region>'), (value, context) => {
    const { setting } = context;
    const region = context.string('region');
    const allowed = allowedIn(region);
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
  });
}

/** A property of the snapshot: only with `dbSnapshot` (whose default, the original sample's, it has then). */
function ofSnapshot(pattern: RegExp, allowed: string): Parser<string> {
  const property = matching(pattern, allowed);
  return parser(allowed, (value, context) => {
    if (context.get('dbSnapshot') === undefined) throw new ConfigError(context.setting, value, 'unset unless dbSnapshot names the snapshot it describes');
    return property.parse(value, context);
  });
}

/** The name of an existing general purpose S3 bucket, by S3's naming rules; an ARN or an s3:// URL is refused. */
function existingBucketName(): Parser<string> {
  const allowed = "an existing S3 bucket's name alone (no arn: or s3://): 3 to 63 lowercase letters, digits, dots or hyphens, "
    + 'starting and ending with a letter or digit, no "..", not an IP address, none of S3\'s reserved prefixes (xn--, sthree-) or suffixes (-s3alias, --ol-s3)';
  return parser(allowed, (value, { setting }) => {
    const valid = typeof value === 'string'
      && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value)
      && !value.includes('..')
      && !/^\d+\.\d+\.\d+\.\d+$/.test(value)
      && !/^(xn--|sthree-|amzn-s3-demo-)/.test(value)
      && !/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(value);
    if (!valid) throw new ConfigError(setting, value, allowed);
    return value;
  });
}

/**
 * The custom domain: a DNS name, with the way its certificate comes (an ACM certificate in `region`, or one the stack
 * creates and validates in the hosted zone) and, with a zone, a name inside it. Reads the settings that describe the
 * domain (each of which checks only its own form), so each wrong combination is one error naming the setting to fix.
 */
function domainName(): Parser<string> {
  const allowed = 'a DNS name in lowercase such as mlflow.example.com';
  const name = matching(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, allowed);
  return parser(allowed, (value, context) => {
    const domain = name.parse(value, context);
    const certificate = context.get('certificateArn');
    const zoneId = context.get('hostedZoneId');
    const zoneName = context.get('hostedZoneName') as string | undefined;
    if (certificate === undefined && zoneId === undefined) {
      throw new ConfigError(context.setting, value, 'a domain name with certificateArn (an ACM certificate for it in region) or hostedZoneId and hostedZoneName (a Route 53 zone in which the stack creates the certificate and the record)');
    }
    if (zoneId !== undefined && zoneName === undefined) {
      throw new ConfigError('hostedZoneName', zoneName, `the name of the hosted zone ${String(zoneId)} (synth looks nothing up), e.g. ${domain.split('.').slice(1).join('.') || domain}`);
    }
    if (zoneName !== undefined && zoneId === undefined) {
      throw new ConfigError('hostedZoneName', zoneName, 'unset unless hostedZoneId names the zone');
    }
    if (zoneName !== undefined && domain !== zoneName && !domain.endsWith(`.${zoneName}`)) {
      throw new ConfigError(context.setting, value, `a name in the hosted zone ${zoneName}: ${zoneName} itself or one ending in .${zoneName}`);
    }
    return domain;
  });
}

/** An ACM certificate's ARN in the deployment's region: API Gateway's regional custom domains need one there. */
function certificateArn(): Parser<string> {
  const allowedIn = (region: string) => `an ACM certificate ARN in ${region}: arn:aws:acm:${region}:<account>:certificate/<id>`;
  return parser(allowedIn('<region>'), (value, context) => {
    const region = context.string('region');
    const arn = typeof value === 'string' ? /^arn:aws(-cn|-us-gov)?:acm:([a-z0-9-]+):\d{12}:certificate\/[A-Za-z0-9-]+$/.exec(value) : null;
    if (!arn) throw new ConfigError(context.setting, value, allowedIn(region));
    if (arn[2] !== region) {
      throw new ConfigError(context.setting, value, `a certificate in the deployment's region ${region} (a regional API's domain needs one there; got one in ${arn[2]}): request or import it in ${region}`);
    }
    return value as string;
  });
}

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  return values;
}
