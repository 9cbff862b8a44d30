import { App, Environment } from 'aws-cdk-lib';
import { PlatformConfig } from './config/platform-config';
import { EXPORT_NAMES, STACK_DESCRIPTION_PREFIX, STACK_NAMES } from './names';
import { HttpGatewayStack } from './stacks/http-gateway-stack';
import { MLflowVpcStack } from './stacks/mlflow-vpc-stack';
import { SageMakerNotebookInstanceStack } from './stacks/sagemaker-notebook-instance-stack';
import { SageMakerStudioUserStack } from './stacks/sagemaker-studio-user-stack';

/** The stacks of one deployment, for callers (tests, the CLI) that need to reach into them. */
export interface Platform {
  readonly mlflow: MLflowVpcStack;
  readonly gateway: HttpGatewayStack;
  readonly studio?: SageMakerStudioUserStack;
  readonly notebook?: SageMakerNotebookInstanceStack;
}

/**
 * Adds every stack the configuration asks for to `app`. Pure wiring: all decisions come from `config`.
 * The stacks are account-agnostic (only the region is fixed), so synth needs no credentials and no lookups.
 */
export function buildPlatform(app: App, config: PlatformConfig): Platform {
  const env: Environment = { region: config.region };

  const mlflow = new MLflowVpcStack(app, STACK_NAMES.mlflow, {
    env,
    config,
    description: `${STACK_DESCRIPTION_PREFIX}network, artifact and backend stores, and the MLflow service behind an internal load balancer`,
  });
  const gateway = new HttpGatewayStack(app, STACK_NAMES.gateway, {
    env,
    config,
    vpc: mlflow.vpc,
    listener: mlflow.listener,
    loadBalancerSecurityGroup: mlflow.loadBalancerSecurityGroup,
    description: `${STACK_DESCRIPTION_PREFIX}public HTTPS endpoint (HTTP API Gateway through a VPC link)`,
  });

  const sagemakerShared = {
    env,
    config,
    vpc: mlflow.vpc,
    artifactBucketArnExport: EXPORT_NAMES.artifactBucketArn,
    mlflowCredentials: mlflow.mlflowCredentials,
    describableStackNames: [STACK_NAMES.gateway, STACK_NAMES.mlflow],
  };
  const wants = (choice: 'studio' | 'notebook') => config.sagemaker === choice || config.sagemaker === 'both';

  const studio = wants('studio')
    ? new SageMakerStudioUserStack(app, STACK_NAMES.studio, {
      ...sagemakerShared,
      description: `${STACK_DESCRIPTION_PREFIX}SageMaker Studio user with access to MLflow`,
    })
    : undefined;
  studio?.addStackDependency(gateway, 'the lab reads the tracking URI from the gateway stack');

  const notebook = wants('notebook')
    ? new SageMakerNotebookInstanceStack(app, STACK_NAMES.notebook, {
      ...sagemakerShared,
      trackingUri: gateway.trackingUri,
      description: `${STACK_DESCRIPTION_PREFIX}SageMaker notebook instance with access to MLflow`,
    })
    : undefined;

  for (const stack of [studio, notebook]) stack?.addStackDependency(mlflow, 'imports the artifact bucket by its export name');

  return { mlflow, gateway, studio, notebook };
}
