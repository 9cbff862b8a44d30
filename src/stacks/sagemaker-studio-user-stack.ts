import { CfnOutput, Fn, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { SageMakerExecutionRole } from '../constructs/sagemaker-execution-role';
import { StudioUser } from '../constructs/studio-user';

export interface SageMakerStudioUserStackProps extends StackProps {
  readonly config: PlatformConfig;
  readonly vpc: ec2.IVpc;
  /** Name of the export holding the artifact bucket's ARN. */
  readonly artifactBucketArnExport: string;
  readonly mlflowCredentials: secretsmanager.ISecret;
  /** Stacks whose outputs the lab reads. */
  readonly describableStackNames: string[];
}

/** SageMaker Studio for the lab: a user profile (and, unless DOMAIN_ID names one, a new domain) with the lab's role. */
export class SageMakerStudioUserStack extends Stack {
  constructor(scope: Construct, id: string, props: SageMakerStudioUserStackProps) {
    super(scope, id, props);
    const artifactBucket = s3.Bucket.fromBucketArn(this, 'ArtifactBucket', Fn.importValue(props.artifactBucketArnExport));
    const { role } = new SageMakerExecutionRole(this, 'ExecutionRole', {
      artifactBucket,
      mlflowCredentials: props.mlflowCredentials,
      describableStackNames: props.describableStackNames,
    });
    const studio = new StudioUser(this, 'Studio', {
      executionRole: role,
      vpc: props.vpc,
      existingDomainId: props.config.domainId,
      userProfileName: props.config.studioUserName,
    });

    new CfnOutput(this, 'StudioDomainId', { value: studio.domainId });
    new CfnOutput(this, 'StudioUserProfileName', { value: props.config.studioUserName });
    new CfnOutput(this, 'ExecutionRoleArn', { value: role.roleArn });
  }
}
