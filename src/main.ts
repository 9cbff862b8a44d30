import { App } from 'aws-cdk-lib';
import { buildPlatform, Platform } from './app';
import { applyComplianceChecks } from './compliance';
import { loadPlatformConfig } from './config/load-config';

/**
 * Everything `bin/` does to an app: one validated configuration from context and environment, the stacks it
 * asks for, and the compliance checks over all of them. Throws `ConfigError` for a bad setting.
 */
export function configureApp(app: App, env: NodeJS.ProcessEnv = process.env): Platform {
  const platform = buildPlatform(app, loadPlatformConfig(app.node, env));
  applyComplianceChecks(app);
  return platform;
}
