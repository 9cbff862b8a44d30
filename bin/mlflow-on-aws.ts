#!/usr/bin/env node
/** CDK app entry point: configuration from context and environment, the stacks, the compliance checks. */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../src/app/config/platform-config';
import { configureApp } from '../src/app/app';

const app = new App();
try {
  configureApp(app);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
