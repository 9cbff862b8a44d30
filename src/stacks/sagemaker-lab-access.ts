import { Fn, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { SageMakerExecutionRole } from '../constructs/sagemaker-execution-role';

/** What every SageMaker stack of the lab receives from the platform. */
export interface SageMakerLabStackProps extends StackProps {
  readonly config: PlatformConfig;
  readonly vpc: ec2.IVpc;
  /** Name of the export holding the artifact bucket's ARN. */
  readonly artifactBucketArnExport: string;
  readonly mlflowCredentials: secretsmanager.ISecret;
  /** Stacks whose outputs the lab reads. */
  readonly describableStackNames: string[];
}

/** The lab's execution role in `scope`, with the artifact bucket imported by its export name. */
export function labExecutionRole(scope: Construct, props: SageMakerLabStackProps): iam.Role {
  const artifactBucket = s3.Bucket.fromBucketArn(scope, 'ArtifactBucket', Fn.importValue(props.artifactBucketArnExport));
  return new SageMakerExecutionRole(scope, 'ExecutionRole', {
    artifactBucket,
    mlflowCredentials: props.mlflowCredentials,
    describableStackNames: props.describableStackNames,
  }).role;
}
