/**
 * The app's templates for a set of settings, synthesized in memory: what the cost report prices. The one place the
 * cost report touches the app's build API (buildPlatform, resolvePlatformConfig).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildPlatform } from '../app/app';
import { PlatformConfig } from '../app/config/platform-config';
import { StackTemplate } from './estimate';

export function synthesizeTemplates(config: PlatformConfig): StackTemplate[] {
  const outdir = mkdtempSync(join(tmpdir(), 'mlflow-cost-'));
  try {
    const app = new App({ outdir });
    buildPlatform(app, config);
    return app.synth().stacks.map((stack) => ({ stackName: stack.stackName, template: stack.template }));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
