import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { STACK_NAMES } from '../../src/app/names';

const repoRoot = path.join(__dirname, '..', '..');
const cdkCli = path.join(repoRoot, 'node_modules', 'aws-cdk', 'bin', 'cdk');

/** The environment of a machine with no AWS account: every AWS_* and CDK_* variable removed. */
function envWithoutAws(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(AWS_|CDK_)/.test(name)));
}

/** Runs the project's pinned CDK CLI exactly as a user would, into a fresh output folder. */
function cdkSynth(...extraArgs: string[]) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'mlflow-synth-'));
  const result = spawnSync(process.execPath, [cdkCli, 'synth', '--quiet', '--no-notices', '--output', outdir, ...extraArgs], {
    cwd: repoRoot,
    env: envWithoutAws(),
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { ...result, outdir, cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}

describe('the pinned CDK CLI synthesizes the app offline', () => {
  test('every stack, with no AWS environment variables', () => {
    const run = cdkSynth('-c', 'sagemaker=both');
    try {
      assert.equal(run.status, 0, `cdk synth failed:\n${run.stderr}`);
      const templates = readdirSync(run.outdir).filter((f) => f.endsWith('.template.json')).map((f) => f.replace('.template.json', ''));
      assert.ok(templates.includes(STACK_NAMES.mlflow), `templates: ${templates}`);
      const template = JSON.parse(readFileSync(path.join(run.outdir, `${STACK_NAMES.mlflow}.template.json`), 'utf8'));
      assert.ok(Object.values<any>(template.Resources).some((r) => r.Type === 'AWS::ECS::Service'));
      // No lookups: a context provider call would have left missing-context entries in the manifest.
      const manifest = JSON.parse(readFileSync(path.join(run.outdir, 'manifest.json'), 'utf8'));
      assert.deepEqual(manifest.missing ?? [], []);
      assert.ok(!existsSync(path.join(repoRoot, 'cdk.context.json')) || readFileSync(path.join(repoRoot, 'cdk.context.json'), 'utf8').trim() === '{}');
    } finally {
      run.cleanup();
    }
  });

  test('a bad setting stops synth with one clear message and synthesizes nothing', () => {
    const run = cdkSynth('-c', 'taskCpu=1000');
    try {
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, /Invalid setting "taskCpu": got 1000; allowed: one of the Fargate CPU units: 256, 512, 1024/);
      assert.doesNotMatch(run.stderr, /at .*\.ts:\d+/, 'no stack trace for a configuration error');
      const templates = existsSync(run.outdir) ? readdirSync(run.outdir).filter((f) => f.endsWith('.template.json')) : [];
      assert.deepEqual(templates, []);
    } finally {
      run.cleanup();
    }
  });
});
