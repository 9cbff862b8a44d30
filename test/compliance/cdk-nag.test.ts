/**
 * cdk-nag's AWS Solutions rules and aws-cdk-lib's built-in CloudFormation validation find nothing unacknowledged in any
 * compliance configuration (synthesized once per run, test/support/compliance-synth.ts). The unit run turns the
 * built-in validation off (CDK_VALIDATION=false: its WebAssembly engine costs seconds per process and no other test
 * reads it); this file is the one that reads it, so the shared synths turn it back on (aws-cdk-lib reads the variable
 * at each synth), which the last test checks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { configureApp } from '../../src/app/app';
import { canaryFindings, synthesizedConfigurations, synthKeepingFindings, validationFindings } from '../support/compliance-synth';
import { COMPLIANCE_CONFIGURATIONS } from './configurations';

describe('cdk-nag AWS Solutions checks pass with no unacknowledged finding', () => {
  COMPLIANCE_CONFIGURATIONS.forEach(([name], index) => {
    test(name, () => assert.deepEqual(synthesizedConfigurations()[index].findings, []));
  });

  test('the checks do run: a non-compliant bucket added to the app is reported', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'mlflow-nag-'));
    try {
      const app = new App({ outdir });
      const stack = new Stack(app, 'NonCompliant', { env: { region: 'us-west-2' } });
      new s3.Bucket(stack, 'Open', {});
      configureApp(app, {});
      synthKeepingFindings(app);
      const findings = validationFindings(outdir);
      assert.ok(findings.some((f) => /AwsSolutions-S1 at NonCompliant\/Open/.test(f)), findings.join('\n'));
      assert.ok(findings.some((f) => /AwsSolutions-S10 at NonCompliant\/Open/.test(f)), findings.join('\n'));
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('the shared synths ran with the built-in CloudFormation validation on (the unit run has it off elsewhere)', () => {
    // A passing synth leaves no report of the validation; the canary synthesized with them has a finding it reports.
    assert.deepEqual(canaryFindings(), ['W3030 at Canary/Logs']);
  });
});
