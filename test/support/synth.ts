import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildPlatform, Platform } from '../../src/app';
import { RawSettings, resolvePlatformConfig } from '../../src/config/platform-config';

/** Builds the app in memory from the given settings (defaults for the rest), as `bin/` would. */
export function buildTestPlatform(settings: RawSettings = {}): Platform {
  const app = new App();
  return buildPlatform(app, resolvePlatformConfig(settings));
}

/** Template of the MLflowVpcStack for the given settings. */
export function mlflowTemplate(settings: RawSettings = {}): Template {
  return Template.fromStack(buildTestPlatform(settings).mlflow);
}

/** Resources of one type, as [logicalId, resource] pairs. */
export function resourcesOfType(template: Template, type: string): Array<[string, { Properties: any; [key: string]: any }]> {
  return Object.entries(template.findResources(type)) as Array<[string, { Properties: any }]>;
}
