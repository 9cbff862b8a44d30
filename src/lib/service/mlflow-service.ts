import { Duration, RemovalPolicy, TimeZone, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import { IArtifactStore } from '../storage/artifact-store';
import type { DatabaseReplica } from '../storage/database-replica';
import { GatewayToken } from '../gateway/gateway-token';
import type { MlflowSsoAccess } from './sso-access';
import { DATABASE_WAIT, healthCheckGracePeriod, PROXY_CONTAINER_HEALTH_CHECK, proxyHealthCheckCommand } from './mlflow-startup';
import type { AuthMode, MlflowPermission } from './auth';
import type { ActiveHours, TimeOfDay } from './schedule';
import { CONTAINER_NAMES, DATABASE_NAME, HEALTH_CHECK_PATH, PORTS, SERVICE_DISCOVERY_NAMESPACE, SQLITE_ENVIRONMENT, SQLITE_MAX_TASKS } from '../contract';
import { PLATFORM_DEFAULTS, withDefaults } from '../defaults';

/** The IAM route's side of the task: who the proxy admits from it, and the token proving a request came through it. */
export interface MlflowIamAccess {
  /**
   * `ARN=user` entries, comma-separated (MLFLOW_IAM_PRINCIPALS of both containers); may hold deploy-time expressions
   * (a role ARN built from the account). Non-empty.
   */
  readonly principals: string;
  /** Secret with the gateway token under `GatewayToken.key`. */
  readonly token: secretsmanager.ISecret;
}

/** database=sqlite: where the task's SQLite files are replicated to, and how often (`MlflowServiceProps.sqlite`). */
export interface MlflowSqliteStore {
  /** The database replica bucket; the task may read and write its replica prefix. */
  readonly replica: DatabaseReplica;
  /** Seconds between Litestream's uploads while MLflow writes. @default PLATFORM_DEFAULTS.databaseReplicaSyncSeconds (10) */
  readonly syncSeconds?: number;
}

/**
 * database=sqlite: how long ECS waits, after it sends SIGTERM to the MLflow container, before it kills it: Fargate's
 * most (120 s). The entrypoint passes the signal to Litestream, which passes it to MLflow, waits for it to exit (its
 * workers finish the requests in flight), then uploads what it has not uploaded yet (at most `syncSeconds` of writes);
 * a kill before that upload ends would lose those writes.
 */
export const SQLITE_STOP_TIMEOUT = Duration.seconds(120);
/** database=sqlite: what a start waits for a stopping task's writer marker beyond SQLITE_STOP_TIMEOUT (ECS's own delays). */
export const SQLITE_WRITER_WAIT_MARGIN = Duration.seconds(30);

export interface MlflowServiceProps {
  /** VPC of the tasks (its private subnets with egress, unless `subnets` says otherwise). */
  readonly vpc: ec2.IVpc;
  /**
   * Where the tasks run. In public subnets (a VPC without NAT gateway) `assignPublicIp` must be on: the address is how
   * the tasks reach ECR, Secrets Manager and CloudWatch Logs; nothing reaches them by it (the security group admits only
   * the front door). @default the private subnets with egress
   */
  readonly subnets?: ec2.SubnetSelection;
  /** Give each task a public IPv4 (charged by the hour). @default false */
  readonly assignPublicIp?: boolean;
  /** CPU architecture of the task; the images must be built for it. @default ecs.CpuArchitecture.X86_64 */
  readonly cpuArchitecture?: ecs.CpuArchitecture;
  /**
   * Register the tasks in the Cloud Map namespace `http-api.local` (the original design's name, created here) as
   * `mlflow`, with SRV records of the proxy's port: what the Cloud Map front door's HTTP API integration reads.
   * @default false: no namespace, no registration (the load balancer's front door registers its targets itself)
   */
  readonly cloudMapRegistration?: boolean;
  /**
   * A container health check of the proxy (`PROXY_CONTAINER_HEALTH_CHECK`), for a front door that does not check the
   * tasks itself: ECS then keeps only healthy tasks registered in Cloud Map. @default false
   */
  readonly proxyHealthCheck?: boolean;
  /**
   * CloudWatch Container Insights on the cluster: the task counts the alarms read (`MlflowMonitoring`). Charged as
   * custom metrics for every hour a task runs (src/cost), so only on where something reads them.
   * @default false (set explicitly off, so an account-wide default does not turn it on)
   */
  readonly containerInsights?: boolean;
  /** Who reaches the tasks, for the security group's description. @default 'the load balancer' */
  readonly reachedFrom?: string;
  /**
   * Hours the service runs: at their start ECS scheduled scaling sets the task count range to `desiredCount`..`maxCount`,
   * at their end to 0..0. @default always running
   */
  readonly activeHours?: ServiceSchedule;
  /** Where MLflow keeps artifacts; the tasks may read and write it (they do when `proxyArtifacts` is on). */
  readonly artifactStore: IArtifactStore;
  /**
   * The backend store (Aurora); the tasks are let in on its default port. Give it with `databaseCredentials`, or
   * `sqlite` instead. @default - none: `sqlite` must be given
   */
  readonly database?: rds.IDatabaseCluster;
  /** With `database`: secret with the database's `username` and `password`. @default - none: `sqlite` must be given */
  readonly databaseCredentials?: secretsmanager.ISecret;
  /**
   * SQLite files in the task replicated to the database replica bucket instead of `database`: one task at a time
   * (`desiredCount` and `maxCount` at most `SQLITE_MAX_TASKS`), the old task stopped before a new one starts.
   * @default - none: `database` must be given
   */
  readonly sqlite?: MlflowSqliteStore;
  /** Schema MLflow keeps its tables in. @default DATABASE_NAME ('mlflow') */
  readonly databaseName?: string;
  /** Secret with `username` and `password` that clients use for basic auth at the proxy. */
  readonly mlflowCredentials: secretsmanager.ISecret;
  /** Image of the NGINX basic-auth proxy (containers/nginx). */
  readonly proxyImage: ecs.ContainerImage;
  /** Image of the MLflow server (containers/mlflow). */
  readonly mlflowImage: ecs.ContainerImage;
  /** Task CPU units. @default PLATFORM_DEFAULTS.taskCpu (1024) */
  readonly cpu?: number;
  /** Task memory in MiB. @default PLATFORM_DEFAULTS.taskMemoryMiB (2048) */
  readonly memoryMiB?: number;
  /** Tasks kept running (also the autoscaling floor). @default PLATFORM_DEFAULTS.desiredTasks (2) */
  readonly desiredCount?: number;
  /** Autoscaling ceiling. @default PLATFORM_DEFAULTS.maxTasks (6) */
  readonly maxCount?: number;
  /** Average task CPU the autoscaler aims for, in percent. @default PLATFORM_DEFAULTS.cpuTargetPercent (70) */
  readonly cpuTargetPercent?: number;
  /** The server proxies artifact reads and writes to the bucket instead of clients using S3 directly. @default false */
  readonly proxyArtifacts?: boolean;
  /**
   * Run MLflow 3's background job runner (huey consumers plus a scheduler that queries the database every minute).
   * While it runs the database is never idle, so Aurora Serverless v2 cannot pause. @default false
   */
  readonly backgroundJobs?: boolean;
  /**
   * Seconds after which the database closes a pooled MLflow connection nobody used: the delay before an idle server
   * holds no connection (Aurora's auto-pause timer starts then). @default PLATFORM_DEFAULTS.dbIdleDisconnectSeconds (60)
   */
  readonly dbIdleDisconnectSeconds?: number;
  /** Seconds MLflow waits for any answer on a database connection before giving up on it. @default PLATFORM_DEFAULTS.dbReadTimeoutSeconds (60) */
  readonly dbReadTimeoutSeconds?: number;
  /** Retention of the containers' logs. @default PLATFORM_DEFAULTS.logRetentionDays (30) */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Host headers MLflow's security middleware (MLflow 3.5+) accepts besides the task's own (localhost, 127.0.0.1):
   * those of the endpoints in front of it, computed where they are known (`HttpGateway.clientHosts`, the front door's
   * `hostPatterns`), as patterns where the names are not known before deployment. @default - only the task's own
   */
  readonly allowedHosts?: string[];
  /**
   * Origins allowed to make cross-origin browser requests to MLflow: exact origins of the deployment's own (see
   * `GatewayClientHosts.origins`); the UI served through the endpoint itself is same-origin. @default - none
   */
  readonly corsAllowedOrigins?: string[];
  /**
   * `shared`: the proxy checks the one account of `mlflowCredentials`; `users`: MLflow's authentication app checks
   * personal accounts, its admin from `mlflowCredentials`. @default PLATFORM_DEFAULTS.auth ('shared')
   */
  readonly auth?: AuthMode;
  /** With `auth` users: what a user may do with what nobody granted them. @default 'NO_PERMISSIONS' */
  readonly authDefaultPermission?: MlflowPermission;
  /** The IAM route's principals and token. @default no request is taken for an IAM principal */
  readonly iamAccess?: MlflowIamAccess;
  /** With `auth` sso: the sign-in's sidecar and settings. Required then, ignored otherwise. */
  readonly sso?: MlflowSsoAccess;
}

/** When the service runs (`MlflowServiceProps.activeHours`). */
export interface ServiceSchedule {
  /** The days and the daily start and end. */
  readonly hours: ActiveHours;
  /** IANA time zone of the times. */
  readonly timeZone: string;
}

/** Hosts a request from inside the task (a health check, a shell in the container) names. */
export const TASK_LOCAL_HOSTS: readonly string[] = ['localhost', 'localhost:*', '127.0.0.1', '127.0.0.1:*'];

/**
 * MLflow on ECS Fargate: one task runs the NGINX basic-auth proxy (the only port a front door sees) and the MLflow
 * server (listening inside the task only); the service scales on CPU, rolls back failed deployments and, for the Cloud
 * Map front door, registers in the namespace `http-api.local`. The way in is not part of the service: a front door (`IMlflowFrontDoor`) registers it as its target.
 */
export class MlflowService extends Construct {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  /** The Cloud Map namespace `http-api.local`, with `cloudMapRegistration`. */
  readonly namespace?: servicediscovery.PrivateDnsNamespace;
  readonly logGroup: logs.LogGroup;
  /** The tasks' security group: no ingress of its own; a front door admits itself (`IMlflowFrontDoor.allowFromVpcLink`). */
  readonly securityGroup: ec2.SecurityGroup;
  /** The proxy container, the one a front door reaches. */
  readonly proxyContainer: ecs.ContainerDefinition;

  constructor(scope: Construct, id: string, given: MlflowServiceProps) {
    super(scope, id);
    const props = withDefaults(given, {
      cpu: PLATFORM_DEFAULTS.taskCpu,
      memoryMiB: PLATFORM_DEFAULTS.taskMemoryMiB,
      desiredCount: PLATFORM_DEFAULTS.desiredTasks,
      maxCount: PLATFORM_DEFAULTS.maxTasks,
      cpuTargetPercent: PLATFORM_DEFAULTS.cpuTargetPercent,
      proxyArtifacts: false,
      backgroundJobs: false,
      dbIdleDisconnectSeconds: PLATFORM_DEFAULTS.dbIdleDisconnectSeconds,
      dbReadTimeoutSeconds: PLATFORM_DEFAULTS.dbReadTimeoutSeconds,
      logRetention: PLATFORM_DEFAULTS.logRetentionDays as logs.RetentionDays,
      allowedHosts: [],
      corsAllowedOrigins: [],
      auth: PLATFORM_DEFAULTS.auth,
      databaseName: DATABASE_NAME,
    });
    const { cpu, memoryMiB, desiredCount } = props;
    const aurora = props.database && props.databaseCredentials ? { cluster: props.database, credentials: props.databaseCredentials } : undefined;
    if (!aurora === !props.sqlite || (props.database === undefined) !== (props.databaseCredentials === undefined)) {
      throw new Error('MlflowService: give database with databaseCredentials (Aurora), or sqlite, not both.');
    }
    if (props.sqlite && (desiredCount > SQLITE_MAX_TASKS || props.maxCount > SQLITE_MAX_TASKS)) {
      throw new Error(`MlflowService: with sqlite at most ${SQLITE_MAX_TASKS} task (one writer of the replica), got desiredCount ${desiredCount} and maxCount ${props.maxCount}.`);
    }

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: props.containerInsights ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
    });
    if (!props.containerInsights) {
      Validations.of(this.cluster).acknowledge({
        id: 'AwsSolutions-ECS4',
        reason: 'Container Insights is charged per metric for every hour a task runs, and without monitoring nothing reads it; '
          + 'the free AWS/ECS service metrics (CPU, memory) and the service log remain. monitoring=true turns it on for the alarms.',
      });
    }

    // The seed's design names this namespace; the service registers in it as `mlflow` when a front door reads it.
    this.namespace = props.cloudMapRegistration
      ? new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
        name: SERVICE_DISCOVERY_NAMESPACE,
        vpc: props.vpc,
        description: 'Private DNS namespace of the MLflow service',
      })
      : undefined;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu,
      memoryLimitMiB: memoryMiB,
      runtimePlatform: {
        cpuArchitecture: props.cpuArchitecture ?? ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    // The server touches artifacts only when it proxies them (the documented alternative to clients writing to S3).
    props.artifactStore.grantReadWrite(taskDefinition.taskRole);
    props.sqlite?.replica.grantReadWrite(taskDefinition.taskRole);
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The plain environment holds only non-secret settings (bucket, database host/port/name, worker count, allowed hosts); '
        + 'every credential is passed as an ECS secret from Secrets Manager.',
    });

    // Users and SSO modes: MLflow's authentication app, whose admin account is the credentials secret's.
    const users = props.auth !== 'shared';
    if (props.auth === 'sso' && !props.sso) throw new Error('MlflowService: auth sso needs the sso prop');
    const adminSecrets = {
      MLFLOW_USERNAME: ecs.Secret.fromSecretsManager(props.mlflowCredentials, 'username'),
      MLFLOW_PASSWORD: ecs.Secret.fromSecretsManager(props.mlflowCredentials, 'password'),
    };
    const mlflowContainer = taskDefinition.addContainer('Mlflow', {
      containerName: CONTAINER_NAMES.mlflow,
      image: props.mlflowImage,
      essential: true,
      portMappings: [{ containerPort: PORTS.mlflow, name: 'mlflow' }],
      environment: {
        BUCKET: props.artifactStore.bucket.s3UrlForObject(),
        ...(aurora ? {
          HOST: aurora.cluster.clusterEndpoint.hostname,
          PORT: aurora.cluster.clusterEndpoint.port.toString(),
          DATABASE: props.databaseName,
        } : {
          [SQLITE_ENVIRONMENT.engine]: 'sqlite',
          [SQLITE_ENVIRONMENT.replicaUrl]: props.sqlite!.replica.replicaUrl,
          [SQLITE_ENVIRONMENT.syncSeconds]: String(props.sqlite!.syncSeconds ?? PLATFORM_DEFAULTS.databaseReplicaSyncSeconds),
          // No task outlives its stop timeout: a marker older than that (and the margin) is a task that did not stop.
          [SQLITE_ENVIRONMENT.writerWaitSeconds]: String(SQLITE_STOP_TIMEOUT.toSeconds() + SQLITE_WRITER_WAIT_MARGIN.toSeconds()),
        }),
        // The wait for Aurora to accept connections (it resumes from 0 ACU); a SQLite file is there or restored. Apart from
        // the block above so that an Aurora task definition keeps its variables in their order (CDK renders them as given).
        ...(aurora ? { MLFLOW_DB_WAIT_SECONDS: String(DATABASE_WAIT.toSeconds()) } : {}),
        MLFLOW_WORKERS: String(workerCount(cpu, memoryMiB)),
        MLFLOW_PROXY_ARTIFACTS: String(props.proxyArtifacts),
        // MLflow pools its database connections; the database closes each one after this long unused, so an idle
        // server holds none and Aurora Serverless v2 can pause (the end-to-end suite checks SHOW PROCESSLIST;
        // `npm run bench:e2e` compares it with no pool at all). SQLite has no connection to close or time out.
        ...(aurora ? {
          DB_IDLE_DISCONNECT_SECONDS: String(props.dbIdleDisconnectSeconds),
          DB_READ_TIMEOUT_SECONDS: String(props.dbReadTimeoutSeconds),
        } : {}),
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: String(props.backgroundJobs),
        MLFLOW_SERVER_ALLOWED_HOSTS: [...props.allowedHosts, ...TASK_LOCAL_HOSTS].join(','),
        MLFLOW_SERVER_CORS_ALLOWED_ORIGINS: props.corsAllowedOrigins.join(','),
        ...mlflowAccessEnvironment(props),
      },
      secrets: {
        ...(aurora ? {
          USERNAME: ecs.Secret.fromSecretsManager(aurora.credentials, 'username'),
          PASSWORD: ecs.Secret.fromSecretsManager(aurora.credentials, 'password'),
        } : {}),
        // Users mode: MLflow's admin account is the credentials secret's.
        ...(users ? adminSecrets : {}),
      },
      logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'mlflow' }),
      // SQLite: time for Litestream's last upload after MLflow stops (ECS's default, 30 s, otherwise).
      ...(props.sqlite ? { stopTimeout: SQLITE_STOP_TIMEOUT } : {}),
    });

    const proxyContainer = taskDefinition.addContainer('Proxy', {
      containerName: CONTAINER_NAMES.proxy,
      image: props.proxyImage,
      essential: true,
      portMappings: [{ containerPort: PORTS.proxy, name: 'http' }],
      // Users mode: the proxy passes credentials on to MLflow and holds no password.
      environment: {
        ...(users ? { MLFLOW_AUTH: props.auth } : {}),
        ...(props.iamAccess ? { MLFLOW_IAM_PRINCIPALS: props.iamAccess.principals } : {}),
      },
      secrets: {
        ...(users ? {} : adminSecrets),
        ...(props.iamAccess ? { MLFLOW_GATEWAY_TOKEN: ecs.Secret.fromSecretsManager(props.iamAccess.token, GatewayToken.key) } : {}),
      },
      logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'proxy' }),
      healthCheck: props.proxyHealthCheck
        ? { command: proxyHealthCheckCommand(PORTS.proxy, HEALTH_CHECK_PATH), ...PROXY_CONTAINER_HEALTH_CHECK }
        : undefined,
    });
    this.proxyContainer = proxyContainer;
    Validations.of(taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken, needed to pull the task images, has no resource-level permissions; the image pulls themselves are scoped to the image repositories.',
    });
    proxyContainer.addContainerDependencies({ container: mlflowContainer, condition: ecs.ContainerDependencyCondition.START });
    if (props.auth === 'sso') props.sso!.attach(taskDefinition, proxyContainer, this.logGroup);

    const serviceSecurityGroup = new ec2.SecurityGroup(this, 'ServiceSecurityGroup', {
      vpc: props.vpc,
      description: `MLflow tasks: HTTP from ${props.reachedFrom ?? 'the load balancer'} only`,
      allowAllOutbound: false,
    });
    this.securityGroup = serviceSecurityGroup;
    // Outbound: HTTPS to AWS APIs (ECR, Secrets Manager, S3, CloudWatch Logs) through the NAT gateway or endpoints.
    serviceSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs');

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition,
      desiredCount,
      vpcSubnets: props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [serviceSecurityGroup],
      assignPublicIp: props.assignPublicIp ?? false,
      // SQLite: the old task stops (and uploads its last writes) before the new one starts and restores them; two tasks
      // at once would be two writers of one replica.
      minHealthyPercent: props.sqlite ? 0 : 100,
      maxHealthyPercent: props.sqlite ? 100 : 200,
      circuitBreaker: { enable: true, rollback: true },
      // Covers the container's database and schema-lock waits and a migration (see mlflow-startup.ts).
      healthCheckGracePeriod: healthCheckGracePeriod(DATABASE_WAIT),
      // SRV records carry the proxy's port, and only the proxy's: the front door never reaches MLflow's own.
      cloudMapOptions: this.namespace
        ? { name: 'mlflow', cloudMapNamespace: this.namespace, dnsRecordType: servicediscovery.DnsRecordType.SRV, container: proxyContainer, containerPort: PORTS.proxy }
        : undefined,
    });
    if (aurora) {
      aurora.cluster.connections.allowDefaultPortFrom(this.service, 'MLflow tasks to the backend store');
      // The task names the cluster endpoint only; without these, tasks could start before the writer instance exists
      // (or before the rule that lets them reach it), and spend their database wait on a database that is not there.
      this.service.node.addDependency(aurora.cluster, ...aurora.cluster.connections.securityGroups);
    } else {
      // The first task restores from the bucket and its policy: both in place before it starts.
      this.service.node.addDependency(props.sqlite!.replica);
    }

    const scaling = this.service.autoScaleTaskCount({ minCapacity: desiredCount, maxCapacity: props.maxCount });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: props.cpuTargetPercent,
      scaleInCooldown: Duration.seconds(60),
      scaleOutCooldown: Duration.seconds(60),
    });
    if (props.activeHours) {
      const { hours, timeZone } = props.activeHours;
      const weekDay = hours.days.join(',');
      const at = (time: TimeOfDay) => appscaling.Schedule.cron({ minute: String(time.minute), hour: String(time.hour), weekDay });
      // Application Auto Scaling keeps the desired count within the range: 0..0 stops every task, and the range of
      // the start brings `desiredCount` back (the CPU policy scales within it as before).
      scaling.scaleOnSchedule('ActiveHoursStart', {
        schedule: at(hours.start), minCapacity: desiredCount, maxCapacity: props.maxCount, timeZone: TimeZone.of(timeZone),
      });
      scaling.scaleOnSchedule('ActiveHoursEnd', { schedule: at(hours.end), minCapacity: 0, maxCapacity: 0, timeZone: TimeZone.of(timeZone) });
    }
  }

  /** The target a front door sends requests to: the proxy container's port. */
  get proxyTarget(): ecs.IEcsLoadBalancerTarget {
    return this.service.loadBalancerTarget({ containerName: CONTAINER_NAMES.proxy, containerPort: PORTS.proxy });
  }
}

/**
 * The MLflow container's access variables (containers/mlflow/entrypoint.sh, "Access"): none in shared mode (MLflow
 * without authentication behind the proxy's one account); in users mode the mode, the default permission and the IAM
 * principals whose users it creates and whose proxy-set identity it believes.
 */
function mlflowAccessEnvironment(props: MlflowServiceProps): Record<string, string> {
  if (props.auth === 'shared') return {};
  return {
    MLFLOW_AUTH: 'users',
    MLFLOW_AUTH_DEFAULT_PERMISSION: props.authDefaultPermission ?? 'NO_PERMISSIONS',
    ...(props.auth === 'sso' ? props.sso!.mlflowEnvironment() : {}),
    ...(props.iamAccess ? { MLFLOW_IAM_PRINCIPALS: props.iamAccess.principals } : {}),
  };
}

/** MLflow server workers: two per vCPU, fewer when memory is short (a worker needs roughly 512 MiB). */
export function workerCount(cpu: number, memoryMiB: number): number {
  return Math.max(1, Math.min(Math.round((cpu / 1024) * 2), Math.floor(memoryMiB / 512)));
}
