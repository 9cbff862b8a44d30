import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { grantWithWildcards } from '../compliance';
import { IArtifactStore } from '../storage/artifact-store';
import { SERVING_IMAGE_REPOSITORY } from './serving-image';

export interface SageMakerExecutionRoleProps {
  /** The MLflow artifact store: its bucket is the only one the role may read and write (training data, code, models). */
  readonly artifactStore: IArtifactStore;
  /**
   * Fixed name of the role: MLflow admits the role on the IAM route by its ARN, which must be known before this role's
   * stack is (`sagemakerRoleName`).
   */
  readonly roleName: string;
  /**
   * The gateway's IAM route (`HttpGateway.iamInvokeArn`): the role reaches MLflow there with SigV4 and no password; it
   * reads no secret.
   */
  readonly mlflowInvokeArn: string;
  /** Stacks whose outputs the role may read (tracking URI, bucket name). */
  readonly describableStackNames: string[];
  /**
   * ECR repository of the MLflow serving image, which the lab checks for before deploying (ecr:DescribeImages).
   * Nothing pushes to it with this role: the platform builds it in CodeBuild (servingImage=true), or someone builds it
   * where Docker runs with their own credentials.
   * @default 'mlflow-pyfunc', the name MLflow uses
   */
  readonly servingImageRepositoryName?: string;
}

/**
 * The role SageMaker (Studio apps, notebook instance, training jobs, endpoints) acts with in the lab:
 * SageMaker in this account and region, the artifact bucket, MLflow through the gateway's IAM route (SigV4), the
 * stack outputs, and nothing else: no AWS managed policy, no access to other buckets, no secret.
 */
export class SageMakerExecutionRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SageMakerExecutionRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const repositoryName = props.servingImageRepositoryName ?? SERVING_IMAGE_REPOSITORY;

    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'SageMaker execution role of the MLflow lab',
    });
    const grant = (sid: string, actions: string[], resources: string[], wildcardReason?: string, conditions?: Record<string, unknown>) => {
      const statement = new iam.PolicyStatement({ sid, actions, resources, conditions });
      if (wildcardReason) grantWithWildcards(this.role, statement, wildcardReason);
      else this.role.addToPrincipalPolicy(statement);
    };

    grant('SageMakerInThisAccountAndRegion', ['sagemaker:*'], [stack.formatArn({ service: 'sagemaker', resource: '*' })],
      'SageMaker use (Studio apps, training jobs, models, endpoints, experiments) limited to resources of this account and region.');
    grant('SageMakerListAndSearch', ['sagemaker:List*', 'sagemaker:Search', 'sagemaker:GetSearchSuggestions'], ['*'],
      'List and search calls have no resource-level permissions in SageMaker.');
    grant('PassThisRoleToSageMaker', ['iam:PassRole'], [this.role.roleArn], undefined,
      { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } });

    // PutObjectTagging: MLflow tags the model archive it uploads for a SageMaker deployment.
    props.artifactStore.grantReadWrite(this.role, ['s3:PutObjectTagging']);
    grant('InvokeMlflowIamRoute', ['execute-api:Invoke'], [props.mlflowInvokeArn],
      'Every method and path under the IAM route of the MLflow API (the MLflow REST API, artifacts and UI), no other route or API.');
    grant('ReadPlatformStackOutputs', ['cloudformation:DescribeStacks'],
      props.describableStackNames.map((name) => stack.formatArn({ service: 'cloudformation', resource: 'stack', resourceName: `${name}/*` })),
      'A stack ARN ends in an id generated at creation; the stack names themselves are fixed.');

    grant('PullContainerImages', ['ecr:GetAuthorizationToken', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], ['*'],
      'ecr:GetAuthorizationToken has no resource-level permissions, and the framework images of training jobs live in AWS-owned accounts.');
    grant('FindMlflowServingImage', ['ecr:DescribeImages'],
      [stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: repositoryName })]);

    grant('WriteSageMakerLogs', ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams', 'logs:GetLogEvents'], [
      stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '/aws/sagemaker/*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    ], 'SageMaker names a log group and streams per job and endpoint, all under /aws/sagemaker/.');
    grant('PublishTrainingMetrics', ['cloudwatch:PutMetricData'], ['*'],
      'cloudwatch:PutMetricData has no resource-level permissions; the condition limits it to SageMaker namespaces.',
      { StringLike: { 'cloudwatch:namespace': '/aws/sagemaker/*' } });
    // Notebook instances, Studio apps and training jobs placed in the VPC get their network interfaces through this role.
    grant('AttachToVpc', [
      'ec2:CreateNetworkInterface', 'ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface',
      'ec2:DeleteNetworkInterfacePermission', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs',
      'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups',
    ], ['*'], 'Network interfaces are created by SageMaker with ids not known in advance; the Describe calls have no resource-level permissions.');
  }
}
