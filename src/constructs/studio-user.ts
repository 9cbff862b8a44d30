import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';

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

/** Template Metadata key on the AWS::SageMaker::Domain read by the CLI's destroy (src/cli/studio-cleanup.ts). */
export const HOME_EFS_METADATA_KEY = 'mlflow-on-aws:HomeEfsFileSystem';

/**
 * A SageMaker Studio user profile acting with the lab's execution role, in an existing domain or in a new
 * IAM-authenticated domain placed in the platform VPC's private subnets (VPC-only: traffic leaves through the NAT),
 * or, in a VPC without NAT (the lean profile), in its isolated subnets with SageMaker's own internet access.
 */
export class StudioUser extends Construct {
  readonly domainId: string;
  readonly domain?: sagemaker.CfnDomain;
  readonly userProfile: sagemaker.CfnUserProfile;

  constructor(scope: Construct, id: string, props: StudioUserProps) {
    super(scope, id);
    let securityGroups: string[] | undefined;

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
        defaultUserSettings: { executionRole: props.executionRole.roleArn, securityGroups },
      });
      this.domain.addMetadata(HOME_EFS_METADATA_KEY, props.homeFileSystemOnDelete);
      this.domainId = this.domain.attrDomainId;
    }

    this.userProfile = new sagemaker.CfnUserProfile(this, 'UserProfile', {
      domainId: this.domainId,
      userProfileName: props.userProfileName,
      userSettings: { executionRole: props.executionRole.roleArn, securityGroups },
    });
  }
}
