import { StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { NetworkLayout } from '../../lib/network';
import { IArtifactStore } from '../../lib/storage/artifact-store';
import { SageMakerExecutionRole } from '../../lib/sagemaker/sagemaker-execution-role';
import { sagemakerRoleName } from '../names';

/** What every SageMaker stack of the lab receives from the platform. */
export interface SageMakerLabStackProps extends StackProps {
  /** The validated configuration. */
  readonly config: PlatformConfig;
  /** The platform's VPC. */
  readonly vpc: ec2.IVpc;
  /** Where things go in it (`MlflowPlatform.layout`): SageMaker in its `sageMakerSubnets`. */
  readonly layout: NetworkLayout;
  /** The artifact store, whose bucket the lab reads and writes. */
  readonly artifactStore: IArtifactStore;
  /** What the role is granted `execute-api:Invoke` on: the gateway's IAM route, its way to MLflow (SigV4, no password). */
  readonly mlflowInvokeArn: string;
  /** Stacks whose outputs the lab reads. */
  readonly describableStackNames: string[];
}

/** The lab's execution role in `scope`, named for `kind` of stack (`sagemakerRoleName`: the MLflow stack admits it by that name). */
export function labExecutionRole(scope: Construct, kind: 'studio' | 'notebook', props: SageMakerLabStackProps): iam.Role {
  return new SageMakerExecutionRole(scope, 'ExecutionRole', {
    roleName: sagemakerRoleName(kind, props.config.region),
    artifactStore: props.artifactStore,
    mlflowInvokeArn: props.mlflowInvokeArn,
    describableStackNames: props.describableStackNames,
  }).role;
}
