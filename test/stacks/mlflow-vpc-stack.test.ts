/** MLflowVpcStack's own part: the outputs the CLI, the lab and users' stacks read (the platform: test/lib/mlflow-platform.test.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPORT_NAMES, MLFLOW_OUTPUTS } from '../../src/app/names';
import { mlflowTemplate } from '../support/synth';

const template = mlflowTemplate();

describe('outputs', () => {
  test('every documented output key is present; the rest are CDK\'s cross-stack exports', () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    for (const key of Object.values(MLFLOW_OUTPUTS)) assert.ok(outputs.includes(key), `output ${key}`);
    for (const key of outputs.filter((k) => !(Object.values(MLFLOW_OUTPUTS) as string[]).includes(k))) assert.match(key, /^ExportsOutput/);
  });

  test('the artifact bucket ARN is exported under its documented name', () => {
    const output = template.toJSON().Outputs[MLFLOW_OUTPUTS.artifactBucketArn];
    assert.deepEqual(output.Export, { Name: EXPORT_NAMES.artifactBucketArn });
  });

  test('the MLflow version and secret name are exported as configured', () => {
    const outputs = mlflowTemplate({ mlflowVersion: '3.5.1', mlflowSecretName: 'x/y' }).toJSON().Outputs;
    assert.equal(outputs[MLFLOW_OUTPUTS.mlflowVersion].Value, '3.5.1');
    assert.equal(outputs[MLFLOW_OUTPUTS.mlflowCredentialsSecretName].Value, 'x/y');
  });
});
