import { App, Environment } from 'aws-cdk-lib';
import { applyComplianceChecks } from '../lib/compliance';
import { loadPlatformConfig } from './config/load';
import { PlatformConfig } from './config/platform-config';
import { sagemakerStacks } from './config/settings';
import { STACK_DESCRIPTION_PREFIX, STACK_NAMES } from './names';
import { BackupCopyVaultStack } from './stacks/backup-copy-vault-stack';
import { HttpGatewayStack } from './stacks/http-gateway-stack';
import { mlflowPlatformProps } from './platform-props';
import { MlflowVpcStack } from './stacks/mlflow-vpc-stack';
import { SageMakerNotebookInstanceStack } from './stacks/sagemaker-notebook-instance-stack';
import { SageMakerStudioUserStack } from './stacks/sagemaker-studio-user-stack';

/** The stacks of one deployment, for callers (tests, the CLI) that need to reach into them. */
export interface Platform {
  readonly mlflow: MlflowVpcStack;
  readonly gateway: HttpGatewayStack;
  readonly studio?: SageMakerStudioUserStack;
  readonly notebook?: SageMakerNotebookInstanceStack;
  /** With `backupCopyRegion`: the copy vault's stack in that region. */
  readonly backupCopyVault?: BackupCopyVaultStack;
}

/**
 * Everything `bin/` does to an app: one validated configuration from context and environment, the stacks it
 * asks for, and the compliance checks over all of them. Throws `ConfigError` for a bad setting.
 */
export function configureApp(app: App, env: NodeJS.ProcessEnv = process.env): Platform {
  const platform = buildPlatform(app, loadPlatformConfig(app.node, env));
  applyComplianceChecks(app);
  return platform;
}

/**
 * Adds every stack the configuration asks for to `app`. Pure wiring: all decisions come from `config`.
 * The stacks are account-agnostic (only the region is fixed), so synth needs no credentials and no lookups.
 * Stacks reach each other's resources by reference (CDK exports and imports them); the one fixed export name,
 * the artifact bucket's ARN, is a public output for users' own stacks.
 */
export function buildPlatform(app: App, config: PlatformConfig): Platform {
  const env: Environment = { region: config.region };

  const mlflow = new MlflowVpcStack(app, STACK_NAMES.mlflow, {
    env,
    platform: mlflowPlatformProps(config),
    mlflowVersion: config.mlflowVersion,
    mlflowSecretName: config.mlflowSecretName,
    description: `${STACK_DESCRIPTION_PREFIX}network, artifact and backend stores, and the MLflow service behind an internal load balancer`,
  });
  const gateway = new HttpGatewayStack(app, STACK_NAMES.gateway, {
    env,
    config,
    vpc: mlflow.vpc,
    layout: mlflow.layout,
    frontDoor: mlflow.frontDoor,
    monitored: mlflow.monitored,
    gatewayToken: mlflow.gatewayToken,
    description: `${STACK_DESCRIPTION_PREFIX}public HTTPS endpoint (HTTP API Gateway through a VPC link)${config.monitoring ? ', alarms and dashboard' : ''}`,
  });

  // The vault the backup plan copies to must exist in the other region before the plan's first copy.
  const backupCopyVault = config.backup && config.backupCopyRegion
    ? new BackupCopyVaultStack(app, STACK_NAMES.backupCopyVault, {
      env: { region: config.backupCopyRegion },
      description: `${STACK_DESCRIPTION_PREFIX}backup copy vault of the deployment in ${config.region}`,
    })
    : undefined;
  if (backupCopyVault) mlflow.addStackDependency(backupCopyVault, 'the backup plan copies to its vault');

  const wants = (kind: 'studio' | 'notebook') => sagemakerStacks(config.sagemaker).includes(kind);
  // The SageMaker roles reach MLflow on the IAM route (SigV4, no password): the MLflow stack admits them by their fixed
  // names (iamPrincipalEntries, src/app/platform-props.ts), so an IAM route exists whenever a SageMaker stack does.
  const iamRoute = gateway.iamRoute;
  if (sagemakerStacks(config.sagemaker).length > 0 && !iamRoute) throw new Error('The SageMaker stacks need the gateway\'s IAM route.');
  const sagemakerShared = {
    env,
    config,
    vpc: mlflow.vpc,
    layout: mlflow.layout,
    artifactStore: mlflow.artifactStore,
    mlflowInvokeArn: iamRoute?.invokeArn ?? '',
    describableStackNames: [STACK_NAMES.gateway, STACK_NAMES.mlflow],
  };

  const studio = wants('studio')
    ? new SageMakerStudioUserStack(app, STACK_NAMES.studio, {
      ...sagemakerShared,
      trackingUri: iamRoute?.trackingUri ?? '',
      description: `${STACK_DESCRIPTION_PREFIX}SageMaker Studio user with access to MLflow`,
    })
    : undefined;
  studio?.addStackDependency(gateway, 'the lab reads the tracking URI from the gateway stack');

  const notebook = wants('notebook')
    ? new SageMakerNotebookInstanceStack(app, STACK_NAMES.notebook, {
      ...sagemakerShared,
      trackingUri: iamRoute?.trackingUri ?? '',
      description: `${STACK_DESCRIPTION_PREFIX}SageMaker notebook instance with access to MLflow`,
    })
    : undefined;

  return { mlflow, gateway, studio, notebook, backupCopyVault };
}
