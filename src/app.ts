import { App, Environment } from 'aws-cdk-lib';
import { PlatformConfig } from './config/platform-config';
import { STACK_NAMES } from './names';
import { MLflowVpcStack } from './stacks/mlflow-vpc-stack';

/** The stacks of one deployment, for callers (tests, the CLI) that need to reach into them. */
export interface Platform {
  readonly mlflow: MLflowVpcStack;
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
    description: 'MLflow on AWS: network, artifact and backend stores, and the MLflow service behind an internal load balancer',
  });
  return { mlflow };
}
