import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { ArtifactStore, IArtifactStore } from '../constructs/artifact-store';
import { MlflowBackup } from '../constructs/backup';
import { BackendStore } from '../constructs/backend-store';
import { ContainerImages } from '../constructs/container-images';
import { GatewayToken } from '../constructs/gateway-token';
import { IMlflowFrontDoor } from '../constructs/front-door';
import { LoadBalancerFrontDoor } from '../constructs/load-balancer-front-door';
import { deployTimeBuildProjects, MlflowMonitoringProps } from '../constructs/monitoring';
import { MlflowCredentials } from '../constructs/mlflow-credentials';
import { MlflowNetwork, networkLayout } from '../constructs/network';
import { CloudMapFrontDoor } from '../constructs/cloud-map-front-door';
import { parseActiveHours, SAGEMAKER_MLFLOW_USERS, sagemakerStacks } from '../config/settings';
import { MlflowService } from '../constructs/mlflow-service';
import { ServingImage } from '../constructs/serving-image';
import { MlflowSsoAccess, SsoTokens } from '../constructs/sso-access';
import { DATABASE_NAME, EXPORT_NAMES, MLFLOW_OUTPUTS, PORTS, sagemakerRoleName } from '../names';

export interface MlflowVpcStackProps extends StackProps {
  /** The validated configuration. */
  readonly config: PlatformConfig;
  /** Host headers of the public endpoint (patterns), which MLflow accepts beside the front door's and its own. */
  readonly allowedHosts: string[];
  /** Browser origins of the public endpoint (patterns), which MLflow lets make cross-origin requests. */
  readonly corsAllowedOrigins: string[];
}

/** What the alarms and the dashboard watch of this stack (`MlflowMonitoring`'s props for it). */
export type MonitoredResources = Pick<MlflowMonitoringProps,
  'service' | 'loadBalancer' | 'targetGroup' | 'database' | 'databaseMaxCapacity' | 'proxyLogGroup' | 'imageBuildProjects'>;

/**
 * The MLflow platform: network, artifact and backend stores, credentials, and the service behind its front door: an
 * internal ALB (standard profile) or Cloud Map service discovery (lean profile).
 */
export class MlflowVpcStack extends Stack {
  readonly vpc: ec2.IVpc;
  /** The private way into MLflow, for the gateway's VPC link. */
  readonly frontDoor: IMlflowFrontDoor;
  readonly artifactStore: IArtifactStore;
  readonly mlflowCredentials: secretsmanager.ISecret;
  /** What the alarms watch (the gateway stack's `MlflowMonitoring`). */
  readonly monitored: MonitoredResources;
  /** The daily backup plan, with `backup=true`. */
  readonly backup?: MlflowBackup;
  /** The IAM route's token, when any IAM principal is admitted (a SageMaker role or `iamPrincipals`). */
  readonly gatewayToken?: secretsmanager.ISecret;
  /** auth=sso: the issuer and audiences of the bearer tokens MLflow accepts (the gateway's JWT authorizer). */
  readonly ssoTokens?: SsoTokens;

  constructor(scope: Construct, id: string, props: MlflowVpcStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    const network = new MlflowNetwork(this, 'Network', {
      cidr: config.vpcCidr,
      natGateways: config.natGateways,
      flowLogRetention: logRetention,
    });
    const artifacts = new ArtifactStore(this, 'ArtifactStore', {
      destroyOnDelete: config.destroyDataOnDelete,
      noncurrentVersionExpiryDays: config.artifactVersionExpiryDays,
      existingBucketName: config.artifactBucketName,
    });
    // From a snapshot, MLflow's tables are in the snapshot's schema (the original sample's is `mlflowdb`).
    const databaseName = config.dbSnapshot ? config.dbSnapshotDatabaseName! : DATABASE_NAME;
    const backend = new BackendStore(this, 'BackendStore', {
      vpc: network.vpc,
      databaseName,
      snapshot: config.dbSnapshot ? { identifier: config.dbSnapshot, username: config.dbSnapshotUsername! } : undefined,
      minCapacity: config.dbMinCapacity,
      maxCapacity: config.dbMaxCapacity,
      autoPause: Duration.minutes(config.dbAutoPauseMinutes),
      backupRetentionDays: config.dbBackupRetentionDays,
      deletionProtection: config.dbDeletionProtection,
      destroyOnDelete: config.destroyDataOnDelete,
      logRetention,
    });
    const credentials = new MlflowCredentials(this, 'MlflowCredentials', {
      secretName: config.mlflowSecretName,
      username: config.mlflowUsername,
    });
    const principals = iamPrincipalEntries(config, this);
    const gatewayToken = principals.length > 0 ? new GatewayToken(this, 'GatewayToken') : undefined;
    const arm64 = config.taskArchitecture === 'arm64';
    const images = new ContainerImages(this, 'Images', {
      mlflowVersion: config.mlflowVersion,
      build: config.imageBuild,
      ...(arm64 ? { architecture: 'arm64' as const } : {}),
    });
    // The MLflow serving image of SageMaker endpoints (the lab's deploy step), when asked for; always built in CodeBuild.
    const servingImage = config.servingImage ? new ServingImage(this, 'ServingImage', { mlflowVersion: config.mlflowVersion }) : undefined;

    // The lean profile has no load balancer: the gateway finds the tasks through Cloud Map (SRV records of the proxy's
    // port), and ECS keeps only tasks whose proxy health check passes registered there.
    const lean = config.profile === 'lean';
    const layout = networkLayout(config.natGateways);
    const sso = config.auth === 'sso' ? new MlflowSsoAccess(this, 'Sso', ssoAccessProps(config)) : undefined;
    const mlflow = new MlflowService(this, 'MlflowService', {
      vpc: network.vpc,
      ...(layout.natEgress ? {} : { subnets: network.serviceSubnets, assignPublicIp: true }),
      ...(arm64 ? { cpuArchitecture: ecs.CpuArchitecture.ARM64 } : {}),
      ...(lean ? { cloudMapRegistration: true, proxyHealthCheck: true, reachedFrom: 'the API Gateway VPC link' } : {}),
      // Only the alarms read Container Insights (task counts, and whether a 5xx came while tasks ran).
      containerInsights: config.monitoring,
      // activeHoursTimeZone is set whenever activeHours is (its default, UTC, comes with it).
      activeHours: config.activeHours
        ? { hours: parseActiveHours(config.activeHours), timeZone: config.activeHoursTimeZone! }
        : undefined,
      artifactStore: artifacts,
      database: backend.cluster,
      databaseCredentials: backend.credentials,
      databaseName,
      mlflowCredentials: credentials.secret,
      proxyImage: images.proxy,
      mlflowImage: images.mlflow,
      cpu: config.taskCpu,
      memoryMiB: config.taskMemoryMiB,
      desiredCount: config.desiredTasks,
      maxCount: config.maxTasks,
      cpuTargetPercent: config.cpuTargetPercent,
      proxyArtifacts: config.proxyArtifacts,
      backgroundJobs: config.mlflowBackgroundJobs,
      dbIdleDisconnectSeconds: config.dbIdleDisconnectSeconds,
      dbReadTimeoutSeconds: config.dbReadTimeoutSeconds,
      logRetention,
      allowedHosts: [...props.allowedHosts, ...(lean ? CloudMapFrontDoor.hostPatterns(config.vpcCidr) : LoadBalancerFrontDoor.hostPatterns(this.region))],
      corsAllowedOrigins: props.corsAllowedOrigins,
      auth: config.auth,
      authDefaultPermission: config.authDefaultPermission,
      iamAccess: gatewayToken ? { principals: principals.join(','), token: gatewayToken.secret } : undefined,
      sso,
    });
    this.ssoTokens = sso?.tokens;
    // Under the service with the id `Default`, which CDK leaves out of logical IDs: the load balancer and its parts keep
    // the logical IDs they had when the service created them, so an update does not replace them.
    const loadBalancer = lean ? undefined : new LoadBalancerFrontDoor(mlflow, 'Default', {
      vpc: network.vpc,
      target: mlflow.proxyTarget,
      port: PORTS.proxy,
      accessLogsBucket: artifacts.accessLogsBucket,
    });
    const frontDoor: IMlflowFrontDoor = loadBalancer ?? new CloudMapFrontDoor(this, 'CloudMapFrontDoor', {
      discoveryService: mlflow.service.cloudMapService!,
      taskSecurityGroup: mlflow.securityGroup,
      port: PORTS.proxy,
    });
    if (config.backup) {
      this.backup = new MlflowBackup(this, 'Backup', {
        database: backend.cluster,
        artifactBucket: artifacts.bucket,
        retentionDays: config.backupRetentionDays,
        copyTo: config.backupCopyRegion ? { region: config.backupCopyRegion } : undefined,
        // The vault is kept also with destroyDataOnDelete: AWS Backup refuses to delete one with recovery points.
        // Failed jobs notify the alarm topic through a rule in the gateway stack, where the topic is (BackupJobAlerts).
      });
    }
    // Last in the stack: deletion protection goes on once everything else is in place, so that a failed first create
    // can still delete the (then unprotected) database and a retry starts clean.
    backend.protectAfter(network, artifacts, credentials, images, mlflow, ...(servingImage ? [servingImage] : []), ...(gatewayToken ? [gatewayToken] : []));

    this.vpc = network.vpc;
    this.frontDoor = frontDoor;
    this.artifactStore = artifacts;
    this.mlflowCredentials = credentials.secret;
    this.monitored = {
      service: mlflow.service,
      // The lean profile has no load balancer: its two alarms are left out.
      loadBalancer: loadBalancer?.loadBalancer,
      targetGroup: loadBalancer?.targetGroup,
      database: backend.cluster,
      databaseMaxCapacity: config.dbMaxCapacity,
      proxyLogGroup: mlflow.logGroup,
      // The deploy-time image builds' CodeBuild projects ([] with imageBuild=local).
      imageBuildProjects: deployTimeBuildProjects(this),
    };
    this.keepExports([
      mlflow.service.serviceName,
      mlflow.cluster.clusterName,
      backend.cluster.clusterIdentifier,
      mlflow.logGroup.logGroupName,
      ...(loadBalancer ? [loadBalancer.loadBalancer.loadBalancerFullName, loadBalancer.targetGroup.targetGroupFullName] : []),
      // Read by 0.2.0's image-build alarm; 0.3.0's alarm reads the account's FailedBuilds and imports nothing.
      ...(this.monitored.imageBuildProjects ?? []).map((project) => project.projectName),
    ]);
    // Imported by the SageMaker stacks of 0.1.0 (the lab read the MLflow password; it now signs with SigV4): this stack is
    // updated first, so dropping the export would refuse the update of every 0.1.0 deployment. Kept while a kept
    // release baseline (src/transition/releases.ts) imports it; the transition test says when it can go.
    this.keepExports([credentials.secret.secretArn]);
    this.gatewayToken = gatewayToken?.secret;

    const outputs: Partial<Record<keyof typeof MLFLOW_OUTPUTS, string>> = {
      artifactBucketName: artifacts.bucket.bucketName,
      artifactBucketArn: artifacts.bucket.bucketArn,
      mlflowCredentialsSecretArn: credentials.secret.secretArn,
      mlflowCredentialsSecretName: config.mlflowSecretName,
      // Only with a load balancer (not in the lean profile).
      loadBalancerDnsName: loadBalancer?.loadBalancer.loadBalancerDnsName,
      listenerArn: loadBalancer?.listener.listenerArn,
      clusterName: mlflow.cluster.clusterName,
      serviceName: mlflow.service.serviceName,
      databaseClusterIdentifier: backend.cluster.clusterIdentifier,
      mlflowVersion: config.mlflowVersion,
    };
    const exportNames: Partial<Record<keyof typeof MLFLOW_OUTPUTS, string>> = { artifactBucketArn: EXPORT_NAMES.artifactBucketArn };
    for (const [key, value] of Object.entries(outputs) as Array<[keyof typeof MLFLOW_OUTPUTS, string | undefined]>) {
      if (value === undefined) continue;
      new CfnOutput(this, MLFLOW_OUTPUTS[key], { value, exportName: exportNames[key] });
    }
  }

  /**
   * Exports `values` whether or not a stack of this release imports them: what the gateway stack's alarms read of this
   * stack (`monitored`), with `monitoring` on or off, and what earlier releases' stacks imported. Without this, turning
   * monitoring off or updating an earlier release would fail: this stack (deployed first) would drop exports the deployed
   * stacks still import. The export names are those CDK gives the references (so where they are used nothing changes).
   */
  private keepExports(values: string[]): void {
    for (const value of values) this.exportValue(value);
  }
}

/**
 * The IAM principals the IAM route admits, as `ARN=user` entries: the execution roles of the SageMaker stacks the
 * configuration asks for (by their fixed names: those stacks come after this one), then `iamPrincipals`.
 */
export function iamPrincipalEntries(config: PlatformConfig, stack: Stack): string[] {
  return [
    ...sagemakerStacks(config.sagemaker).map((kind) => `${stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: sagemakerRoleName(kind, config.region) })}=${SAGEMAKER_MLFLOW_USERS[kind]}`),
    ...(config.iamPrincipals ?? []).map((principal) => `${principal.arn}=${principal.username}`),
  ];
}

/** `MlflowSsoAccess`'s props from the `sso*` settings (auth=sso). */
function ssoAccessProps(config: PlatformConfig): ConstructorParameters<typeof MlflowSsoAccess>[2] {
  return {
    issuer: config.ssoIssuerUrl ? { url: config.ssoIssuerUrl, clientId: config.ssoClientId!, clientSecretName: config.ssoClientSecretName! } : undefined,
    domainName: config.domainName,
    adminGroup: config.ssoAdminGroup!,
    groupPermissions: config.ssoGroupPermissions ?? {},
    defaultPermission: config.authDefaultPermission!,
    groupsClaim: config.ssoGroupsClaim!,
    sessionRefreshSeconds: config.ssoSessionRefreshSeconds!,
    tokenAudiences: config.ssoTokenAudiences,
  };
}
