import { StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { IArtifactStore } from '../constructs/artifact-store';
import { SageMakerExecutionRole } from '../constructs/sagemaker-execution-role';

/** What every SageMaker stack of the lab receives from the platform. */
export interface SageMakerLabStackProps extends StackProps {
  /** The validated configuration. */
  readonly config: PlatformConfig;
  /** The platform's VPC. */
  readonly vpc: ec2.IVpc;
  /** The artifact store, whose bucket the lab reads and writes. */
  readonly artifactStore: IArtifactStore;
  /** The MLflow credentials secret, which the lab reads. */
  readonly mlflowCredentials: secretsmanager.ISecret;
  /** Stacks whose outputs the lab reads. */
  readonly describableStackNames: string[];
}

/** The lab's execution role in `scope`. */
export function labExecutionRole(scope: Construct, props: SageMakerLabStackProps): iam.Role {
  return new SageMakerExecutionRole(scope, 'ExecutionRole', {
    artifactStore: props.artifactStore,
    mlflowCredentials: props.mlflowCredentials,
    describableStackNames: props.describableStackNames,
  }).role;
}
