import { createHash } from 'node:crypto';
import { Fn, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { LIFECYCLE_SCRIPT_MAX_BASE64, studioJupyterLabScript } from './notebook-instance';
import { HOME_EFS_METADATA_KEY } from '../contract';

export interface StudioUserProps {
  /** The role the user's apps act with. */
  readonly executionRole: iam.IRole;
  /** VPC of a new domain (its private subnets host the Studio apps' network interfaces). */
  readonly vpc: ec2.IVpc;
  /**
   * How a new domain's apps reach the internet: `VpcOnly` through the VPC (`subnets` must have egress, a NAT gateway),
   * `PublicInternetOnly` through SageMaker's own network (for a VPC without NAT; the VPC still holds the home EFS).
   * @default 'VpcOnly'
   */
  readonly networkAccess?: 'VpcOnly' | 'PublicInternetOnly';
  /** Subnets of a new domain. @default the private subnets with egress */
  readonly subnets?: ec2.SubnetSelection;
  /**
   * The key of a new domain's home directories: a customer managed KMS key (about $1 a month, its use logged and
   * revocable) or SageMaker's AWS managed key (no charge). @default 'customer-managed'
   */
  readonly storageKey?: 'customer-managed' | 'aws-managed';
  /** Attach the user to this existing domain instead of creating one. @default a new domain */
  readonly existingDomainId?: string;
  /**
   * The gateway's IAM route (`<endpoint>/iam`): the tracking URI of the "MLflow lab" kernel that the JupyterLab
   * lifecycle configuration sets up, with MLFLOW_TRACKING_AUTH=aws-sigv4 (the lab's SigV4 provider, no password).
   */
  readonly trackingUri: string;
  /** MLflow client release of the kernel, the same as the server's. */
  readonly mlflowVersion: string;
  /** Name of the user profile. */
  readonly userProfileName: string;
  /** Name of a new domain. @default 'mlflow-studio' */
  readonly domainName?: string;
  /**
   * What `npx mlflow-on-aws destroy` does with a new domain's home EFS (users' home folders and notebooks) once
   * the domain is deleted. CloudFormation has no setting for it and always keeps the EFS (SageMaker's default
   * RetentionPolicy), so the choice is written into the domain's template Metadata for the CLI to read.
   * 'Retain' is the data-safety rule; 'Delete' goes with destroyDataOnDelete.
   */
  readonly homeFileSystemOnDelete: HomeFileSystemOnDelete;
}

export type HomeFileSystemOnDelete = 'Retain' | 'Delete';

/** The JupyterLab lifecycle configuration's name: this prefix and a hash of its content (a new content is a new config). */
export const STUDIO_LIFECYCLE_CONFIG_PREFIX = 'mlflow-lab-jupyterlab';

/**
 * A SageMaker Studio user profile acting with the lab's execution role, in an existing domain or in a new
 * IAM-authenticated domain placed in the platform VPC's private subnets (VPC-only: traffic leaves through the NAT),
 * or, in a VPC without NAT (the lean profile), in its isolated subnets with SageMaker's own internet access.
 * Its JupyterLab apps start with a lifecycle configuration (the default one) that sets up the "MLflow lab" kernel
 * (studioJupyterLabScript): on a new domain, for every user of the domain; on an existing domain, for this user
 * profile only (the domain is someone else's and is left as it is).
 */
export class StudioUser extends Construct {
  readonly domainId: string;
  readonly domain?: sagemaker.CfnDomain;
  readonly userProfile: sagemaker.CfnUserProfile;
  readonly lifecycleConfig: sagemaker.CfnStudioLifecycleConfig;

  constructor(scope: Construct, id: string, props: StudioUserProps) {
    super(scope, id);
    let securityGroups: string[] | undefined;

    const script = studioJupyterLabScript({
      trackingUri: props.trackingUri,
      mlflowVersion: props.mlflowVersion,
      region: Stack.of(this).region,
    });
    // Every property of a Studio lifecycle configuration is create-only and its name is unique in the account and
    // region: a name that follows the content lets CloudFormation create the new one before deleting the old.
    const contentHash = createHash('sha256').update(JSON.stringify(Stack.of(this).resolve(script))).digest('hex').slice(0, 12);
    this.lifecycleConfig = new sagemaker.CfnStudioLifecycleConfig(this, 'JupyterLabLifecycleConfig', {
      studioLifecycleConfigName: `${STUDIO_LIFECYCLE_CONFIG_PREFIX}-${contentHash}`,
      studioLifecycleConfigAppType: 'JupyterLab',
      studioLifecycleConfigContent: Fn.base64(script),
    });
    const jupyterLabAppSettings: sagemaker.CfnUserProfile.JupyterLabAppSettingsProperty = {
      defaultResourceSpec: { lifecycleConfigArn: this.lifecycleConfig.attrStudioLifecycleConfigArn },
      lifecycleConfigArns: [this.lifecycleConfig.attrStudioLifecycleConfigArn],
    };

    if (props.existingDomainId) {
      this.domainId = props.existingDomainId;
    } else {
      const securityGroup = new ec2.SecurityGroup(this, 'AppsSecurityGroup', {
        vpc: props.vpc,
        description: 'SageMaker Studio apps: HTTPS out, and app-to-app traffic within this group',
        allowAllOutbound: false,
      });
      securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs, the MLflow endpoint and package indexes');
      // Studio's JupyterServer and KernelGateway apps talk to each other on these ports.
      securityGroup.connections.allowInternally(ec2.Port.tcpRange(8192, 65535), 'Studio app to app');
      securityGroup.connections.allowInternally(ec2.Port.tcp(2049), 'Studio home directories (EFS)');
      securityGroups = [securityGroup.securityGroupId];

      const storageKey = (props.storageKey ?? 'customer-managed') === 'customer-managed'
        ? new kms.Key(this, 'StorageKey', { enableKeyRotation: true, description: 'SageMaker Studio home directories' })
        : undefined;
      this.domain = new sagemaker.CfnDomain(this, 'Domain', {
        domainName: props.domainName ?? 'mlflow-studio',
        authMode: 'IAM',
        appNetworkAccessType: props.networkAccess ?? 'VpcOnly',
        vpcId: props.vpc.vpcId,
        subnetIds: props.vpc.selectSubnets(props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
        kmsKeyId: storageKey?.keyArn,
        defaultUserSettings: { executionRole: props.executionRole.roleArn, securityGroups, jupyterLabAppSettings },
      });
      this.domain.addMetadata(HOME_EFS_METADATA_KEY, props.homeFileSystemOnDelete);
      this.domainId = this.domain.attrDomainId;
    }

    this.userProfile = new sagemaker.CfnUserProfile(this, 'UserProfile', {
      domainId: this.domainId,
      userProfileName: props.userProfileName,
      userSettings: { executionRole: props.executionRole.roleArn, securityGroups, jupyterLabAppSettings },
    });
    const length = Buffer.from(script).toString('base64').length;
    if (length > LIFECYCLE_SCRIPT_MAX_BASE64) {
      throw new Error(`The Studio lifecycle script is ${length} base64 characters; SageMaker allows ${LIFECYCLE_SCRIPT_MAX_BASE64}.`);
    }
  }
}
