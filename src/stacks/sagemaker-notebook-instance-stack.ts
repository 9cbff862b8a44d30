import { CfnOutput, Fn, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { NotebookInstance } from '../constructs/notebook-instance';
import { SageMakerExecutionRole } from '../constructs/sagemaker-execution-role';

export interface SageMakerNotebookInstanceStackProps extends StackProps {
  readonly config: PlatformConfig;
  readonly vpc: ec2.IVpc;
  /** Name of the export holding the artifact bucket's ARN. */
  readonly artifactBucketArnExport: string;
  readonly mlflowCredentials: secretsmanager.ISecret;
  readonly trackingUri: string;
  /** Stacks whose outputs the lab reads. */
  readonly describableStackNames: string[];
}

/** A SageMaker notebook instance for the lab, ready to talk to MLflow when it starts. */
export class SageMakerNotebookInstanceStack extends Stack {
  constructor(scope: Construct, id: string, props: SageMakerNotebookInstanceStackProps) {
    super(scope, id, props);
    const artifactBucket = s3.Bucket.fromBucketArn(this, 'ArtifactBucket', Fn.importValue(props.artifactBucketArnExport));
    const { role } = new SageMakerExecutionRole(this, 'ExecutionRole', {
      artifactBucket,
      mlflowCredentials: props.mlflowCredentials,
      describableStackNames: props.describableStackNames,
    });
    const notebook = new NotebookInstance(this, 'Notebook', {
      vpc: props.vpc,
      executionRole: role,
      trackingUri: props.trackingUri,
      mlflowSecretName: props.config.mlflowSecretName,
      mlflowVersion: props.config.mlflowVersion,
      instanceType: props.config.notebookInstanceType,
      volumeSizeGiB: props.config.notebookVolumeSizeGiB,
    });

    new CfnOutput(this, 'NotebookInstanceName', { value: notebook.instance.attrNotebookInstanceName });
    new CfnOutput(this, 'ExecutionRoleArn', { value: role.roleArn });
  }
}
