/**
 * The one door between the app's configuration and the construct library: the resolved settings turned into the
 * library's props. What the settings decide about the layout is decided here, once: the profile's front door (Cloud Map
 * without a load balancer in the lean profile), the network (NAT gateways, and with them where tasks, VPC link and
 * SageMaker go: `MlflowPlatform.layout`), the task architecture, the schedule (`activeHours`, parsed by the
 * configuration) and the IAM principals. A pure function: no construct is made, nothing is read but `config`.
 */
import * as logs from 'aws-cdk-lib/aws-logs';
import { Duration } from 'aws-cdk-lib';
import { GatewayCustomDomain, HttpGateway } from '../lib/gateway/http-gateway';
import { IamPrincipalEntry, MlflowPlatformProps } from '../lib/mlflow-platform';
import type { MlflowSsoAccessProps } from '../lib/service/sso-access';
import { DATABASE_NAME } from '../lib/contract';
import { PlatformConfig } from './config/platform-config';
import { SAGEMAKER_MLFLOW_USERS, sagemakerStacks } from './config/settings';
import { sagemakerRoleName } from './names';

/** The custom domain the configuration asks for, if any. */
export function gatewayCustomDomain(config: PlatformConfig): GatewayCustomDomain | undefined {
  if (!config.domainName) return undefined;
  return {
    domainName: config.domainName,
    certificateArn: config.certificateArn,
    hostedZone: config.hostedZoneId ? { id: config.hostedZoneId, name: config.hostedZoneName! } : undefined,
    disableExecuteApiEndpoint: config.disableExecuteApiEndpoint,
  };
}

/**
 * The IAM principals the IAM route admits: the execution roles of the SageMaker stacks the configuration asks for (by
 * their fixed names: those stacks come after the platform's), then `iamPrincipals`.
 */
export function iamPrincipalEntries(config: PlatformConfig): IamPrincipalEntry[] {
  return [
    ...sagemakerStacks(config.sagemaker).map((kind) => ({ roleName: sagemakerRoleName(kind, config.region), username: SAGEMAKER_MLFLOW_USERS[kind] })),
    ...(config.iamPrincipals ?? []).map((principal) => ({ arn: principal.arn, username: principal.username })),
  ];
}

/** `MlflowSsoAccess`'s props from the `sso*` settings (auth=sso). */
export function ssoAccessProps(config: PlatformConfig): MlflowSsoAccessProps {
  return {
    issuer: config.ssoIssuerUrl ? { url: config.ssoIssuerUrl, clientId: config.ssoClientId!, clientSecretName: config.ssoClientSecretName! } : undefined,
    domainName: config.domainName,
    adminGroup: config.ssoAdminGroup!,
    groupPermissions: config.ssoGroupPermissions ?? {},
    defaultPermission: config.authDefaultPermission!,
    groupsClaim: config.ssoGroupsClaim!,
    sessionRefreshSeconds: config.ssoSessionRefreshSeconds!,
    tokenAudiences: config.ssoTokenAudiences,
    federation: config.ssoFederationSamlMetadataUrl || config.ssoFederationOidcIssuerUrl ? {
      samlMetadataUrl: config.ssoFederationSamlMetadataUrl,
      oidc: config.ssoFederationOidcIssuerUrl
        ? { issuerUrl: config.ssoFederationOidcIssuerUrl, clientId: config.ssoFederationOidcClientId!, clientSecretName: config.ssoFederationOidcClientSecretName! }
        : undefined,
      emailAttribute: config.ssoFederationEmailAttribute!,
      groupsAttribute: config.ssoFederationGroupsAttribute!,
    } : undefined,
  };
}

/** `MlflowPlatform`'s props for the configuration (the stack `MLflowVpcStack` places it). */
export function mlflowPlatformProps(config: PlatformConfig): MlflowPlatformProps {
  const logRetention = config.logRetentionDays as logs.RetentionDays;
  // What MLflow accepts of requests that come through the public endpoint: known where the endpoint is made.
  const clientHosts = HttpGateway.clientHosts(config.region, gatewayCustomDomain(config));
  return {
    network: { cidr: config.vpcCidr, natGateways: config.natGateways },
    // The lean profile has no load balancer: the gateway finds the tasks through Cloud Map.
    frontDoor: config.profile === 'lean' ? 'cloud-map' : 'load-balancer',
    logRetention,
    destroyOnDelete: config.destroyDataOnDelete,
    artifactStore: {
      noncurrentVersionExpiryDays: config.artifactVersionExpiryDays,
      existingBucketName: config.artifactBucketName,
    },
    databaseEngine: config.database,
    // The Aurora cluster's settings, or (database=sqlite, which refuses them) the upload interval of its replica.
    ...(config.database === 'sqlite' ? { sqlite: { syncSeconds: config.databaseReplicaSyncSeconds } } : { database: {
      // From a snapshot, MLflow's tables are in the snapshot's schema (the original sample's is `mlflowdb`).
      databaseName: config.dbSnapshot ? config.dbSnapshotDatabaseName! : DATABASE_NAME,
      snapshot: config.dbSnapshot ? { identifier: config.dbSnapshot, username: config.dbSnapshotUsername! } : undefined,
      minCapacity: config.dbMinCapacity,
      maxCapacity: config.dbMaxCapacity,
      autoPause: Duration.minutes(config.dbAutoPauseMinutes),
      backupRetentionDays: config.dbBackupRetentionDays,
      deletionProtection: config.dbDeletionProtection,
    } }),
    credentials: { secretName: config.mlflowSecretName, username: config.mlflowUsername },
    images: {
      mlflowVersion: config.mlflowVersion,
      build: config.imageBuild,
      ...(config.taskArchitecture === 'arm64' ? { architecture: 'arm64' as const } : {}),
    },
    servingImage: config.servingImage,
    service: {
      cpu: config.taskCpu,
      memoryMiB: config.taskMemoryMiB,
      desiredCount: config.desiredTasks,
      maxCount: config.maxTasks,
      cpuTargetPercent: config.cpuTargetPercent,
      proxyArtifacts: config.proxyArtifacts,
      backgroundJobs: config.mlflowBackgroundJobs,
      dbIdleDisconnectSeconds: config.dbIdleDisconnectSeconds,
      dbReadTimeoutSeconds: config.dbReadTimeoutSeconds,
      // Only the alarms read Container Insights (task counts, and whether a 5xx came while tasks ran).
      containerInsights: config.monitoring,
      // activeHoursTimeZone is set whenever activeHours is (its default, UTC, comes with it).
      activeHours: config.activeHours ? { hours: config.activeHours, timeZone: config.activeHoursTimeZone! } : undefined,
      auth: config.auth,
      authDefaultPermission: config.authDefaultPermission,
      allowedHosts: clientHosts.hosts,
      corsAllowedOrigins: clientHosts.origins,
    },
    iamPrincipals: iamPrincipalEntries(config),
    sso: config.auth === 'sso' ? ssoAccessProps(config) : undefined,
    // Failed jobs notify the alarm topic through a rule in the gateway stack, where the topic is (BackupJobAlerts).
    backup: config.backup
      ? { retentionDays: config.backupRetentionDays, copyTo: config.backupCopyRegion ? { region: config.backupCopyRegion } : undefined }
      : undefined,
  };
}
