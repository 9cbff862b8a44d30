#!/usr/bin/env node
/** CDK app entry point: builds the configuration once, from context and environment, then the stacks. */
import { App } from 'aws-cdk-lib';
import { buildPlatform } from '../src/app';
import { applyComplianceChecks } from '../src/compliance';
import { loadPlatformConfig } from '../src/config/load-config';
import { ConfigError } from '../src/config/platform-config';

const app = new App();
try {
  buildPlatform(app, loadPlatformConfig(app.node));
  applyComplianceChecks(app);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
