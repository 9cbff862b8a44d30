import { CfnOutput, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { NotebookInstance } from '../../lib/sagemaker/notebook-instance';
import { labExecutionRole, SageMakerLabStackProps } from './sagemaker-lab-access';

export interface SageMakerNotebookInstanceStackProps extends SageMakerLabStackProps {
  /** The gateway's IAM route (`<endpoint>/iam`), which the notebook uses with SigV4. */
  readonly trackingUri: string;
}

/** A SageMaker notebook instance for the lab, ready to talk to MLflow when it starts. */
export class SageMakerNotebookInstanceStack extends Stack {
  constructor(scope: Construct, id: string, props: SageMakerNotebookInstanceStackProps) {
    super(scope, id, props);
    const role = labExecutionRole(this, 'notebook', props);
    const notebook = new NotebookInstance(this, 'Notebook', {
      vpc: props.vpc,
      executionRole: role,
      trackingUri: props.trackingUri,
      mlflowVersion: props.config.mlflowVersion,
      instanceType: props.config.notebookInstanceType,
      volumeSizeGiB: props.config.notebookVolumeSizeGiB,
      // Without NAT (lean), the instance cannot reach the internet through the VPC: SageMaker's own network it is.
      ...(props.layout.natEgress
        ? {}
        : { directInternetAccess: 'Enabled' as const, subnets: props.layout.sageMakerSubnets }),
    });

    new CfnOutput(this, 'NotebookInstanceName', { value: notebook.instance.attrNotebookInstanceName });
    new CfnOutput(this, 'ExecutionRoleArn', { value: role.roleArn });
  }
}
