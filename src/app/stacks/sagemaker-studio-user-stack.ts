import { CfnOutput, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { StudioUser } from '../../lib/sagemaker/studio-user';
import { labExecutionRole, SageMakerLabStackProps } from './sagemaker-lab-access';

export interface SageMakerStudioUserStackProps extends SageMakerLabStackProps {
  /** The gateway's IAM route (`<endpoint>/iam`), which the Studio "MLflow lab" kernel uses with SigV4. */
  readonly trackingUri: string;
}

/**
 * SageMaker Studio for the lab: a user profile (and, unless DOMAIN_ID names one, a new domain) with the lab's role, and
 * a JupyterLab lifecycle configuration that sets up the "MLflow lab" kernel (the IAM route, SigV4, the lab's pins).
 */
export class SageMakerStudioUserStack extends Stack {
  constructor(scope: Construct, id: string, props: SageMakerStudioUserStackProps) {
    super(scope, id, props);
    const role = labExecutionRole(this, 'studio', props);
    const studio = new StudioUser(this, 'Studio', {
      executionRole: role,
      vpc: props.vpc,
      existingDomainId: props.config.domainId,
      userProfileName: props.config.studioUserName,
      trackingUri: props.trackingUri,
      mlflowVersion: props.config.mlflowVersion,
      // Without NAT (lean), the apps cannot reach the internet through the VPC: SageMaker's own network it is.
      ...(props.layout.natEgress
        ? {}
        : { networkAccess: 'PublicInternetOnly' as const, subnets: props.layout.sageMakerSubnets }),
      storageKey: props.config.studioStorageKey,
      // Users' notebooks live on the domain's home EFS: kept on destroy like the other data, unless told otherwise.
      homeFileSystemOnDelete: props.config.destroyDataOnDelete ? 'Delete' : 'Retain',
    });

    new CfnOutput(this, 'StudioDomainId', { value: studio.domainId });
    new CfnOutput(this, 'StudioUserProfileName', { value: props.config.studioUserName });
    new CfnOutput(this, 'ExecutionRoleArn', { value: role.roleArn });
  }
}
