import { App } from 'aws-cdk-lib';
import { applyComplianceChecks } from 'mlflow-on-aws';
import { MlflowStack } from '../lib/mlflow-stack';

const app = new App();
new MlflowStack(app, 'MyMlflow', { env: { region: process.env.CDK_DEFAULT_REGION ?? 'eu-west-1' } });
// cdk-nag's AWS Solutions rules over the app; the library acknowledges its own findings next to the resources.
applyComplianceChecks(app);
