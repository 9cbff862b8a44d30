import { Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DATABASE_NAME, type DatabaseEngine, PORTS, SQLITE_MAX_TASKS } from './contract';
import { PLATFORM_DEFAULTS } from './defaults';
import { CloudMapFrontDoor } from './front-door/cloud-map-front-door';
import { IMlflowFrontDoor } from './front-door/front-door';
import { LoadBalancerFrontDoor } from './front-door/load-balancer-front-door';
import { GatewayToken } from './gateway/gateway-token';
import { MlflowNetwork, NetworkLayout, networkLayout } from './network';
import { MlflowBackup, MlflowBackupProps } from './operations/backup';
import { deployTimeBuildProjects, MlflowMonitoringProps } from './operations/monitoring';
import { ServingImage } from './sagemaker/serving-image';
import { ContainerImages, ContainerImagesProps } from './service/container-images';
import { MlflowCredentials, MlflowCredentialsProps } from './service/mlflow-credentials';
import { MlflowService, MlflowServiceProps } from './service/mlflow-service';
import { MlflowSsoAccess, MlflowSsoAccessProps } from './service/sso-access';
import { ArtifactStore, ArtifactStoreProps } from './storage/artifact-store';
import { BackendStore, BackendStoreProps } from './storage/backend-store';
import { DatabaseReplica, DatabaseReplicaProps } from './storage/database-replica';

/** The private way into MLflow that `MlflowPlatform` builds for the gateway's VPC link. */
export type FrontDoorKind = 'load-balancer' | 'cloud-map';

/** An IAM principal the IAM route admits, and the MLflow user it acts as. */
export type IamPrincipalEntry =
  /** A role or user by its ARN. */
  | { readonly arn: string; readonly username: string }
  /** A role of this stack's account by its name (it may not exist yet: its ARN is all the proxy needs). */
  | { readonly roleName: string; readonly username: string };

/** The VPC `MlflowPlatform` builds when it is not given one. */
export interface MlflowPlatformNetworkProps {
  /** IPv4 range of the VPC. @default PLATFORM_DEFAULTS.vpcCidr ('10.0.0.0/16') */
  readonly cidr?: string;
  /**
   * NAT gateways; 0 puts the tasks (with a public IPv4) and the VPC link in the public subnets and SageMaker in the
   * isolated ones, with no private subnets with egress. @default PLATFORM_DEFAULTS.natGateways (1)
   */
  readonly natGateways?: number;
}

/**
 * The MLflow service of `MlflowPlatform`: its task size, scaling, schedule and access, as `MlflowService` takes them
 * (documented there); only `allowedHosts` means more here.
 */
export interface MlflowPlatformServiceProps extends Pick<MlflowServiceProps,
  | 'cpu' | 'memoryMiB' | 'desiredCount' | 'maxCount' | 'cpuTargetPercent' | 'proxyArtifacts' | 'backgroundJobs'
  | 'dbIdleDisconnectSeconds' | 'dbReadTimeoutSeconds' | 'containerInsights' | 'activeHours' | 'auth'
  | 'authDefaultPermission' | 'corsAllowedOrigins'> {
  /**
   * Host headers (patterns) of the endpoints in front of the platform that MLflow accepts, besides the front door's
   * and its own (`HttpGateway.clientHosts` gives the gateway's). @default - only the front door's and the task's own
   */
  readonly allowedHosts?: string[];
}

export interface MlflowPlatformProps {
  /**
   * The VPC to place the platform in, with private subnets with egress (tasks, load balancer) and isolated subnets
   * (database) in at least two Availability Zones. @default - a new VPC (`MlflowNetwork`) as `network` describes
   */
  readonly vpc?: ec2.IVpc;
  /** The VPC built when `vpc` is not given. @default - `MlflowNetwork`'s defaults */
  readonly network?: MlflowPlatformNetworkProps;
  /**
   * The way in for the gateway's VPC link: an internal Application Load Balancer, or (no load balancer to pay for)
   * Cloud Map service discovery, which needs the platform's own network (`vpc` not given). @default 'load-balancer'
   */
  readonly frontDoor?: FrontDoorKind;
  /** Retention of the platform's logs. @default PLATFORM_DEFAULTS.logRetentionDays (30) */
  readonly logRetention?: logs.RetentionDays;
  /** Delete the bucket and the database (no final snapshot) with the stack. For throwaway environments only. @default false */
  readonly destroyOnDelete?: boolean;
  /** The artifact bucket. @default - a new bucket, `ArtifactStore`'s defaults */
  readonly artifactStore?: Omit<ArtifactStoreProps, 'destroyOnDelete'>;
  /**
   * MLflow's backend store: `aurora`, an Aurora Serverless v2 cluster (`database`); `sqlite`, SQLite files in the one
   * task replicated to a bucket of their own by Litestream (`sqlite`), no cluster, no database secret (one task:
   * `service.desiredCount` and `service.maxCount` default to, and may be at most, `SQLITE_MAX_TASKS`). @default 'aurora'
   */
  readonly databaseEngine?: DatabaseEngine;
  /** With `databaseEngine` aurora: the backend store. @default - a new, empty Aurora cluster, `BackendStore`'s defaults */
  readonly database?: Omit<BackendStoreProps, 'vpc' | 'destroyOnDelete' | 'logRetention'>;
  /** With `databaseEngine` sqlite: the replica bucket and the upload interval. @default - `DatabaseReplica`'s defaults, an upload every 10 s */
  readonly sqlite?: MlflowPlatformSqliteProps;
  /** The MLflow credentials secret. @default - `MlflowCredentials`' defaults */
  readonly credentials?: MlflowCredentialsProps;
  /** The task images; `architecture` is also the task's CPU architecture. @default - `ContainerImages`' defaults */
  readonly images?: ContainerImagesProps;
  /** Also build the MLflow serving image for SageMaker endpoints (`ServingImage`). @default false */
  readonly servingImage?: boolean;
  /** The MLflow service. @default - `MlflowPlatformServiceProps`' defaults */
  readonly service?: MlflowPlatformServiceProps;
  /** IAM principals admitted on the IAM route (a token secret is created for them). @default - none, no IAM route access */
  readonly iamPrincipals?: readonly IamPrincipalEntry[];
  /** A daily AWS Backup plan of the database (or the database replica bucket) and the bucket. @default - no backup plan */
  readonly backup?: Omit<MlflowBackupProps, 'database' | 'databaseReplicaBucket' | 'artifactBucket'>;
  /** With `service.auth` sso: the sign-in (`MlflowSsoAccess`). Required then, ignored otherwise. */
  readonly sso?: MlflowSsoAccessProps;
}

/** `MlflowPlatformProps.sqlite`: the database replica bucket and Litestream's upload interval. */
export interface MlflowPlatformSqliteProps extends Omit<DatabaseReplicaProps, 'destroyOnDelete' | 'accessLogsBucket'> {
  /** Seconds between Litestream's uploads while MLflow writes: what a crash can lose. @default PLATFORM_DEFAULTS.databaseReplicaSyncSeconds (10) */
  readonly syncSeconds?: number;
}

/** What the alarms and the dashboard watch of the platform (`MlflowMonitoring`'s props for it). */
export type MonitoredResources = Pick<MlflowMonitoringProps,
  'service' | 'loadBalancer' | 'targetGroup' | 'database' | 'databaseMaxCapacity' | 'proxyLogGroup' | 'imageBuildProjects'>;

/**
 * The MLflow platform: network (or the VPC given), artifact and backend stores, credentials, the task images, and the
 * MLflow service behind its front door: an internal ALB or Cloud Map service discovery. The public endpoint
 * (`HttpGateway`) and the alarms (`MlflowMonitoring`) are separate constructs that take what this one exposes.
 *
 * Placed with the id `Default` (`new MlflowPlatform(stack, 'Default', ...)`), its resources have the logical IDs they
 * would have as direct children of the stack: CDK leaves `Default` out of logical IDs.
 */
export class MlflowPlatform extends Construct {
  readonly vpc: ec2.IVpc;
  /**
   * Where things go in the VPC: the tasks and the gateway's VPC link (`serviceSubnets`), SageMaker (`sageMakerSubnets`),
   * and whether the private subnets have egress (with a VPC given: the private subnets with egress).
   */
  readonly layout: NetworkLayout;
  /** The private way into MLflow, for the gateway's VPC link. */
  readonly frontDoor: IMlflowFrontDoor;
  readonly artifactStore: ArtifactStore;
  /** The Aurora backend store (`databaseEngine` aurora). */
  readonly backendStore?: BackendStore;
  /** The database replica bucket (`databaseEngine` sqlite). */
  readonly databaseReplica?: DatabaseReplica;
  readonly credentials: MlflowCredentials;
  readonly service: MlflowService;
  /** The internal load balancer (with the `load-balancer` front door). */
  readonly loadBalancer?: LoadBalancerFrontDoor;
  /** What the alarms watch (`MlflowMonitoring`). */
  readonly monitored: MonitoredResources;
  /** The daily backup plan, with `backup`. */
  readonly backup?: MlflowBackup;
  /** The IAM route's token, when `iamPrincipals` admits any. */
  readonly gatewayToken?: secretsmanager.ISecret;
  /** The serving image, with `servingImage`. */
  readonly servingImage?: ServingImage;
  /** With `service.auth` sso: the sign-in (Cognito pool or your provider, the oauth2-proxy sidecar). */
  readonly sso?: MlflowSsoAccess;

  constructor(scope: Construct, id: string, props: MlflowPlatformProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const logRetention = props.logRetention ?? PLATFORM_DEFAULTS.logRetentionDays as logs.RetentionDays;
    const destroyOnDelete = props.destroyOnDelete ?? false;
    const cloudMap = (props.frontDoor ?? 'load-balancer') === 'cloud-map';
    // Checked first: the front door's host patterns are made of the VPC's range.
    const frontDoorHosts = cloudMap ? CloudMapFrontDoor.hostPatterns(this.cloudMapCidr(props)) : LoadBalancerFrontDoor.hostPatterns(stack.region);

    const network = props.vpc ? undefined : new MlflowNetwork(this, 'Network', {
      cidr: props.network?.cidr,
      natGateways: props.network?.natGateways,
      flowLogRetention: logRetention,
    });
    const vpc = network?.vpc ?? props.vpc!;
    const layout = networkLayout(network ? props.network?.natGateways ?? PLATFORM_DEFAULTS.natGateways : 1);
    const artifacts = new ArtifactStore(this, 'ArtifactStore', { ...props.artifactStore, destroyOnDelete });
    const databaseName = props.database?.databaseName ?? DATABASE_NAME;
    const sqlite = (props.databaseEngine ?? 'aurora') === 'sqlite';
    if (sqlite && props.database) throw new Error('MlflowPlatform: database (the Aurora cluster\'s props) is for databaseEngine aurora; with sqlite give sqlite.');
    if (!sqlite && props.sqlite) throw new Error('MlflowPlatform: sqlite is for databaseEngine sqlite.');
    const backend = sqlite ? undefined : new BackendStore(this, 'BackendStore', {
      ...props.database,
      vpc,
      databaseName,
      destroyOnDelete,
      logRetention,
    });
    const { syncSeconds, ...replicaProps } = props.sqlite ?? {};
    const replica = sqlite
      ? new DatabaseReplica(this, 'DatabaseReplica', { ...replicaProps, destroyOnDelete, accessLogsBucket: artifacts.accessLogsBucket })
      : undefined;
    const credentials = new MlflowCredentials(this, 'MlflowCredentials', props.credentials);
    const principals = (props.iamPrincipals ?? []).map((principal) => `${'arn' in principal
      ? principal.arn
      : stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: principal.roleName })}=${principal.username}`);
    const gatewayToken = principals.length > 0 ? new GatewayToken(this, 'GatewayToken') : undefined;
    const arm64 = props.images?.architecture === 'arm64';
    const images = new ContainerImages(this, 'Images', props.images);
    // The MLflow serving image of SageMaker endpoints, when asked for; always built in CodeBuild.
    const servingImage = props.servingImage ? new ServingImage(this, 'ServingImage', { mlflowVersion: props.images?.mlflowVersion }) : undefined;

    // Without a load balancer the gateway finds the tasks through Cloud Map (SRV records of the proxy's port), and ECS
    // keeps only tasks whose proxy health check passes registered there.
    const { allowedHosts = [], ...service } = props.service ?? {};
    if (service.auth === 'sso' && !props.sso) throw new Error('MlflowPlatform: service.auth sso needs the sso props');
    const sso = service.auth === 'sso' ? new MlflowSsoAccess(this, 'Sso', props.sso!) : undefined;
    const mlflow = new MlflowService(this, 'MlflowService', {
      vpc,
      ...(layout.natEgress ? {} : { subnets: layout.serviceSubnets, assignPublicIp: true }),
      ...(arm64 ? { cpuArchitecture: ecs.CpuArchitecture.ARM64 } : {}),
      ...(cloudMap ? { cloudMapRegistration: true, proxyHealthCheck: true, reachedFrom: 'the API Gateway VPC link' } : {}),
      ...service,
      // SQLite: one task unless the props say otherwise (MlflowService refuses more).
      ...(sqlite ? { desiredCount: service.desiredCount ?? SQLITE_MAX_TASKS, maxCount: service.maxCount ?? SQLITE_MAX_TASKS } : {}),
      containerInsights: service.containerInsights ?? false,
      artifactStore: artifacts,
      ...(backend ? { database: backend.cluster, databaseCredentials: backend.credentials } : { sqlite: { replica: replica!, syncSeconds } }),
      databaseName,
      mlflowCredentials: credentials.secret,
      proxyImage: images.proxy,
      mlflowImage: images.mlflow,
      logRetention,
      allowedHosts: [...allowedHosts, ...frontDoorHosts],
      iamAccess: gatewayToken ? { principals: principals.join(','), token: gatewayToken.secret } : undefined,
      sso,
    });
    this.sso = sso;
    // Under the service with the id `Default`, which CDK leaves out of logical IDs: the load balancer and its parts keep
    // the logical IDs they had when the service created them, so an update does not replace them.
    const loadBalancer = cloudMap ? undefined : new LoadBalancerFrontDoor(mlflow, 'Default', {
      vpc,
      target: mlflow.proxyTarget,
      port: PORTS.proxy,
      accessLogsBucket: artifacts.accessLogsBucket,
    });
    this.frontDoor = loadBalancer ?? new CloudMapFrontDoor(this, 'CloudMapFrontDoor', {
      discoveryService: mlflow.service.cloudMapService!,
      taskSecurityGroup: mlflow.securityGroup,
      port: PORTS.proxy,
    });
    if (props.backup) {
      // The vault is kept also with destroyOnDelete: AWS Backup refuses to delete one with recovery points.
      this.backup = new MlflowBackup(this, 'Backup', {
        ...props.backup,
        ...(backend ? { database: backend.cluster } : { databaseReplicaBucket: replica!.bucket }),
        artifactBucket: artifacts.bucket,
      });
    }
    // Last: deletion protection goes on once everything else is in place, so that a failed first create can still
    // delete the (then unprotected) database and a retry starts clean.
    backend?.protectAfter(...(network ? [network] : []), artifacts, credentials, images, mlflow, ...(servingImage ? [servingImage] : []), ...(gatewayToken ? [gatewayToken] : []));

    this.vpc = vpc;
    this.layout = layout;
    this.artifactStore = artifacts;
    this.backendStore = backend;
    this.databaseReplica = replica;
    this.credentials = credentials;
    this.service = mlflow;
    this.loadBalancer = loadBalancer;
    this.servingImage = servingImage;
    this.gatewayToken = gatewayToken?.secret;
    this.monitored = {
      service: mlflow.service,
      // Without a load balancer its two alarms are left out.
      loadBalancer: loadBalancer?.loadBalancer,
      targetGroup: loadBalancer?.targetGroup,
      // SQLite: no database alarm (the task's own are the database's).
      database: backend?.cluster,
      databaseMaxCapacity: backend ? props.database?.maxCapacity ?? PLATFORM_DEFAULTS.dbMaxCapacity : undefined,
      proxyLogGroup: mlflow.logGroup,
      // The deploy-time image builds' CodeBuild projects ([] with local image builds).
      imageBuildProjects: deployTimeBuildProjects(stack),
    };
  }

  /** The VPC range the Cloud Map front door's host patterns are made of: the platform's own network's. */
  private cloudMapCidr(props: MlflowPlatformProps): string {
    if (props.vpc) {
      if (Token.isUnresolved(props.vpc.vpcCidrBlock)) {
        throw new Error('MlflowPlatform: the cloud-map front door needs the platform\'s own network (leave vpc out) or a VPC whose CIDR is known at synth time.');
      }
      return props.vpc.vpcCidrBlock;
    }
    return props.network?.cidr ?? PLATFORM_DEFAULTS.vpcCidr;
  }
}

