import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { IMlflowFrontDoor } from '../../lib/front-door/front-door';
import { MlflowPlatform, MlflowPlatformProps, MonitoredResources } from '../../lib/mlflow-platform';
import { NetworkLayout } from '../../lib/network';
import { MlflowBackup } from '../../lib/operations/backup';
import { IArtifactStore } from '../../lib/storage/artifact-store';
import type { SsoTokens } from '../../lib/service/sso-access';
import { EXPORT_NAMES, MLFLOW_OUTPUTS } from '../names';

export interface MlflowVpcStackProps extends StackProps {
  /** The platform, as the configuration asks for it (`mlflowPlatformProps`). */
  readonly platform: MlflowPlatformProps;
  /** The MLflow version, for the `MlflowVersion` output. */
  readonly mlflowVersion: string;
  /** The credentials secret's name, for the `MlflowCredentialsSecretName` output. */
  readonly mlflowSecretName: string;
}

export type { MonitoredResources };

/**
 * The stack of the MLflow platform (`MlflowPlatform`, placed with the id `Default` so that its resources keep the
 * logical IDs they had as the stack's own), its outputs for the CLI and the lab, and the exports the other stacks and
 * earlier releases' stacks read.
 */
export class MlflowVpcStack extends Stack {
  readonly platform: MlflowPlatform;
  readonly vpc: ec2.IVpc;
  /** Where the tasks, the VPC link and SageMaker go in the VPC. */
  readonly layout: NetworkLayout;
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
    const platform = new MlflowPlatform(this, 'Default', props.platform);
    const { artifactStore: artifacts, backendStore: backend, credentials, service: mlflow, loadBalancer } = platform;
    this.platform = platform;
    this.vpc = platform.vpc;
    this.layout = platform.layout;
    this.frontDoor = platform.frontDoor;
    this.artifactStore = artifacts;
    this.mlflowCredentials = credentials.secret;
    this.monitored = platform.monitored;
    this.backup = platform.backup;
    this.gatewayToken = platform.gatewayToken;
    this.ssoTokens = platform.sso?.tokens;

    this.keepExports([
      mlflow.service.serviceName,
      mlflow.cluster.clusterName,
      // Only with Aurora (a stack with SQLite never had the cluster, and an engine move is refused: src/transition/refused.ts).
      ...(backend ? [backend.cluster.clusterIdentifier] : []),
      mlflow.logGroup.logGroupName,
      ...(loadBalancer ? [loadBalancer.loadBalancer.loadBalancerFullName, loadBalancer.targetGroup.targetGroupFullName] : []),
      // Read by 0.2.0's image-build alarm; 0.3.0's alarm reads the account's FailedBuilds and imports nothing.
      ...(this.monitored.imageBuildProjects ?? []).map((project) => project.projectName),
    ]);
    // Imported by the SageMaker stacks of 0.1.0 (the lab read the MLflow password; it now signs with SigV4): this stack is
    // updated first, so dropping the export would refuse the update of every 0.1.0 deployment. Kept while a kept
    // release baseline (src/transition/releases.ts) imports it; the transition test says when it can go.
    this.keepExports([credentials.secret.secretArn]);
    // Read by the gateway stack's sleep function (sleepAfterMinutes), on or off: where a healthy task shows.
    const readiness = platform.frontDoor.readiness;
    this.keepExports('targetGroupArn' in readiness ? [readiness.targetGroupArn] : [readiness.cloudMapServiceId, readiness.cloudMapServiceArn]);

    const outputs: Partial<Record<keyof typeof MLFLOW_OUTPUTS, string>> = {
      artifactBucketName: artifacts.bucket.bucketName,
      artifactBucketArn: artifacts.bucket.bucketArn,
      mlflowCredentialsSecretArn: credentials.secret.secretArn,
      mlflowCredentialsSecretName: props.mlflowSecretName,
      // Only with a load balancer (not in the lean profile).
      loadBalancerDnsName: loadBalancer?.loadBalancer.loadBalancerDnsName,
      listenerArn: loadBalancer?.listener.listenerArn,
      clusterName: mlflow.cluster.clusterName,
      serviceName: mlflow.service.serviceName,
      // One of the two: the Aurora cluster, or (database=sqlite) the bucket of its replicas.
      databaseClusterIdentifier: backend?.cluster.clusterIdentifier,
      databaseReplicaBucketName: platform.databaseReplica?.bucket.bucketName,
      mlflowVersion: props.mlflowVersion,
      // Only with auth=sso and the stack's Cognito user pool.
      ssoUserPoolId: platform.sso?.userPool?.userPoolId,
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
