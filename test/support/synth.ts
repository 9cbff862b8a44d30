import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import { STACK_NAMES } from '../../src/app/names';
import { buildPlatform, Platform } from '../../src/app/app';
import { RawSettings, resolvePlatformConfig } from '../../src/app/config/platform-config';
import { mlflowPlatformProps } from '../../src/app/platform-props';
import { MlflowPlatform } from '../../src/lib/mlflow-platform';

/** Builds the app in memory from the given settings (defaults for the rest), as `bin/` would. */
export function buildTestPlatform(settings: RawSettings = {}): Platform {
  const app = new App();
  return buildPlatform(app, resolvePlatformConfig(settings));
}

/** Template of the MLflowVpcStack for the given settings. */
export function mlflowTemplate(settings: RawSettings = {}): Template {
  return Template.fromStack(buildTestPlatform(settings).mlflow);
}

/**
 * Template of `MlflowPlatform` alone on a bare stack, with the props the configuration gives it (mlflowPlatformProps):
 * the resources of MLflowVpcStack without its outputs, and without synthesizing the other stacks of the app.
 */
export function platformTemplate(settings: RawSettings = {}): Template {
  const config = resolvePlatformConfig(settings);
  const stack = new Stack(new App(), 'Platform', { env: { region: config.region } });
  new MlflowPlatform(stack, 'Default', mlflowPlatformProps(config));
  return Template.fromStack(stack);
}

/** Resources of one type, as [logicalId, resource] pairs. */
export function resourcesOfType(template: Template, type: string): Array<[string, { Properties: any; [key: string]: any }]> {
  return Object.entries(template.findResources(type)) as Array<[string, { Properties: any }]>;
}

/** The container definitions of the template's one task definition. */
export function containers(template: Template): any[] {
  const [[, taskDefinition]] = resourcesOfType(template, 'AWS::ECS::TaskDefinition');
  return taskDefinition.Properties.ContainerDefinitions;
}

/** The task definition's container `name`; a failed assertion when there is none. */
export function container(template: Template, name: string): any {
  const found = containers(template).find((c) => c.Name === name);
  assert.ok(found, `container ${name}`);
  return found;
}

/**
 * Synthesizes the platform (no SageMaker stacks unless `settings` asks) into a temporary cloud assembly and returns
 * the MLflowVpcStack's template and asset manifest: what the CDK CLI would publish. `cleanup()` removes the assembly
 * (asset paths in the manifest point into it until then).
 */
export function synthPlatformAssets(settings: RawSettings, prefix = 'mlflow-assets-') {
  const outdir = mkdtempSync(join(tmpdir(), prefix));
  const cleanup = (): void => rmSync(outdir, { recursive: true, force: true });
  try {
    const app = new App({ outdir });
    buildPlatform(app, resolvePlatformConfig({ sagemaker: 'none', ...settings }));
    const assembly = app.synth();
    const template = Template.fromJSON(assembly.getStackByName(STACK_NAMES.mlflow).template);
    const manifest = assembly.artifacts.find((a) => a instanceof AssetManifestArtifact && a.id === `${STACK_NAMES.mlflow}.assets`) as AssetManifestArtifact | undefined;
    if (!manifest) throw new Error('the platform stack has no asset manifest');
    return { template, manifest, outdir, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}
