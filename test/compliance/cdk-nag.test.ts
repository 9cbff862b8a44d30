import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { RawSettings } from '../../src/app/config/platform-config';
import { configureApp } from '../../src/app/app';
import { COMPLIANCE_CONFIGURATIONS } from './configurations';

interface Violation { ruleName: string; violatingConstructs: Array<{ constructPath: string }> }

/** Synthesizes the app with cdk-nag on, as `bin/` does; returns the unacknowledged findings. */
function nagFindings(settings: RawSettings, extend?: (app: App) => void): string[] {
  const outdir = mkdtempSync(path.join(tmpdir(), 'mlflow-nag-'));
  try {
    // The same wiring as bin/: settings arrive as CDK context, checks are applied by configureApp.
    const app = new App({ outdir, context: settings as Record<string, unknown> });
    extend?.(app);
    configureApp(app, {});
    try {
      app.synth();
    } catch (error) {
      if (!/Validation failed/.test(String(error))) throw error;
    }
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    return report.pluginReports.flatMap((plugin: { violations: Violation[] }) =>
      plugin.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

describe('cdk-nag AWS Solutions checks pass with no unacknowledged finding', () => {
  for (const [name, settings] of COMPLIANCE_CONFIGURATIONS) {
    test(name, () => assert.deepEqual(nagFindings(settings), []));
  }

  test('the checks do run: a non-compliant bucket added to the app is reported', () => {
    const findings = nagFindings({}, (app) => {
      new s3.Bucket(new Stack(app, 'NonCompliant', { env: { region: 'us-west-2' } }), 'Open', {});
    });
    assert.ok(findings.some((f) => /AwsSolutions-S1 at NonCompliant\/Open/.test(f)), findings.join('\n'));
    assert.ok(findings.some((f) => /AwsSolutions-S10 at NonCompliant\/Open/.test(f)), findings.join('\n'));
  });
});
