/**
 * cfn-lint, the linter AWS maintains for CloudFormation templates, over every template the app synthesizes, in each
 * configuration the cdk-nag test covers: no error, and every warning or informational finding either fixed in src/
 * or accepted, with its reason, in cfn-lint-allowlist.json.
 *
 * Rules: cfn-lint's default errors (E) and warnings (W), plus its informational rules (I) except I1022 ("prefer
 * Fn::Sub over Fn::Join with an empty delimiter"): that is how aws-cdk-lib renders every string with a token in it,
 * equivalent to Fn::Sub, and not something the CDK code chooses. Experimental rules are not run.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { STACK_NAMES } from '../../src/app/names';
import { cliContext, synthesizedConfigurations, synthKeepingFindings } from '../support/compliance-synth';
import { ensurePythonEnv, REPO_ROOT } from '../support/python-env';
import { COMPLIANCE_CONFIGURATIONS } from './configurations';

const ALLOW_LIST_FILE = path.join(__dirname, 'cfn-lint-allowlist.json');
const LINT_OPTIONS = ['--format', 'json', '--include-checks', 'I', '--ignore-checks', 'I1022'];

/** The configurations the cdk-nag check covers too. */
const CONFIGURATIONS = COMPLIANCE_CONFIGURATIONS;

interface AllowEntry { rule: string; stack: string; resource: string; message: string; reason: string }

interface Finding {
  /** The template file. */
  file: string;
  rule: string;
  level: string;
  /** The stack (template file name without `.template.json`). */
  stack: string;
  /** Logical ID of the resource the finding is on, when it is on one. */
  resource?: string;
  /** Its construct path, from the template's `aws:cdk:path` metadata. */
  constructPath?: string;
  location: string;
  message: string;
}

function loadAllowList(): AllowEntry[] {
  return JSON.parse(readFileSync(ALLOW_LIST_FILE, 'utf8')).entries;
}

function allows(entry: AllowEntry, finding: Finding): boolean {
  return entry.rule === finding.rule && entry.stack === finding.stack && entry.resource === finding.resource
    && finding.message.includes(entry.message);
}

function describeFinding(f: Finding): string {
  const where = f.resource ? `${f.stack}/${f.resource}${f.constructPath ? ` (${f.constructPath})` : ''}` : f.stack;
  return `${f.rule} [${f.level}] ${where} at ${f.location}: ${f.message}`;
}

/** Every `*.template.json` in a cloud assembly, nested stacks and stage assemblies included. */
function templatesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.template.json'))
    .map((file) => path.join(dir, file))
    .sort();
}

/** Runs cfn-lint once over `templates` for `regions`; returns its findings, unfiltered. */
function cfnLint(templates: string[], regions: string[]): Finding[] {
  const cfnLintBin = path.join(ensurePythonEnv().bin, 'cfn-lint');
  const run = spawnSync(cfnLintBin, [...LINT_OPTIONS, '--regions', ...regions, '--', ...templates], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  // The exit code is a bit mask: 2 errors, 4 warnings, 8 informational findings; 1 means cfn-lint itself failed.
  if (run.error || run.status === null || (run.status & 1) !== 0) {
    throw new Error(`cfn-lint did not run (${run.error?.message ?? `exit ${run.status}`}):\n${run.stderr}`);
  }
  const templateCache = new Map<string, any>();
  return (JSON.parse(run.stdout) as any[]).map((raw): Finding => {
    const file = String(raw.Filename);
    const locationPath: unknown[] = raw.Location?.Path ?? [];
    const resource = locationPath[0] === 'Resources' && typeof locationPath[1] === 'string' ? locationPath[1] : undefined;
    if (!templateCache.has(file)) templateCache.set(file, JSON.parse(readFileSync(file, 'utf8')));
    const constructPath = resource ? templateCache.get(file).Resources?.[resource]?.Metadata?.['aws:cdk:path'] : undefined;
    return {
      file,
      rule: raw.Rule.Id,
      level: raw.Level,
      stack: path.basename(file).replace(/\.template\.json$/, ''),
      resource,
      constructPath,
      location: locationPath.length > 0 ? locationPath.join('/') : `line ${raw.Location?.Start?.LineNumber}`,
      message: raw.Message,
    };
  });
}

describe('cfn-lint finds nothing in the synthesized templates beyond the allow-list', () => {
  const allowList = loadAllowList();
  /** Findings per configuration name. */
  const findings = new Map<string, Finding[]>();
  /** Template files per configuration name. */
  const templates = new Map<string, string[]>();

  before(() => {
    // Every configuration synthesized (once per run, test/support/compliance-synth.ts); all templates linted in one
    // cfn-lint run (it starts slowly).
    const regions = new Set<string>();
    const configOf = new Map<string, string>();
    for (const configuration of synthesizedConfigurations()) {
      configuration.regions.forEach((region) => regions.add(region));
      templates.set(configuration.name, configuration.templateFiles);
      findings.set(configuration.name, []);
      for (const file of configuration.templateFiles) configOf.set(file, configuration.name);
    }
    for (const finding of cfnLint([...configOf.keys()], [...regions])) {
      findings.get(configOf.get(finding.file)!)!.push(finding);
    }
  });

  for (const [name] of CONFIGURATIONS) {
    test(name, () => {
      assert.ok(templates.get(name)!.some((file) => path.basename(file) === `${STACK_NAMES.mlflow}.template.json`), `templates: ${templates.get(name)}`);
      const unexpected = findings.get(name)!.filter((f) => !allowList.some((entry) => allows(entry, f)));
      assert.deepEqual(unexpected.map(describeFinding), [],
        `${unexpected.length} cfn-lint finding(s) not in ${path.relative(REPO_ROOT, ALLOW_LIST_FILE)}: fix them in src/, or add an entry with the reason`);
    });
  }

  test('every allow-list entry is complete and still matches a finding', () => {
    const all = [...findings.values()].flat();
    for (const entry of allowList) {
      for (const field of ['rule', 'stack', 'resource', 'message', 'reason'] as const) {
        assert.ok(typeof entry[field] === 'string' && entry[field].trim() !== '', `entry ${JSON.stringify(entry)} has no ${field}`);
      }
      assert.match(entry.rule, /^[WI]\d{4}$/, `entry ${JSON.stringify(entry)}: only warnings and informational findings may be accepted; errors are fixed`);
    }
    const stale = allowList.filter((entry) => !all.some((f) => allows(entry, f)));
    assert.deepEqual(stale.map((e) => `${e.rule} ${e.stack}/${e.resource}: ${e.message}`), [],
      'allow-list entries that match no finding in any configuration: remove them');
  });
});

describe('the cfn-lint check does run', () => {
  test('broken templates are reported, each finding on its resource: a misspelt property, a bad value, a dangling DependsOn', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'mlflow-cfn-lint-bad-'));
    try {
      const app = new App({ outdir, context: cliContext({}) });
      const stack = new Stack(app, 'Broken', { env: { region: 'us-west-2' } });
      new CfnResource(stack, 'Bucket', { type: 'AWS::S3::Bucket', properties: { BucketNam: 'typo' } });
      new CfnResource(stack, 'Logs', { type: 'AWS::Logs::LogGroup', properties: { RetentionInDays: 42 } });
      synthKeepingFindings(app);
      // A hand-written template in a subfolder, as a nested assembly's would be.
      mkdirSync(path.join(outdir, 'nested'));
      writeFileSync(path.join(outdir, 'nested', 'Raw.template.json'),
        JSON.stringify({ Resources: { Topic: { Type: 'AWS::SNS::Topic', DependsOn: 'Missing' } } }));

      const found = cfnLint(templatesIn(outdir), ['us-west-2']);
      const text = found.map(describeFinding);
      assert.ok(text.some((f) => /^E3002 \[Error\] Broken\/Bucket\w* \(Broken\/Bucket\) .*BucketNam/.test(f)), text.join('\n'));
      assert.ok(text.some((f) => /^E3030 \[Error\] Broken\/Logs\w* \(Broken\/Logs\) .*42/.test(f)), text.join('\n'));
      assert.ok(found.some((f) => f.rule === 'E3005' && f.stack === 'Raw' && f.resource === 'Topic'), text.join('\n'));
      assert.ok(!found.some((f) => loadAllowList().some((entry) => allows(entry, f))), 'the allow-list accepts none of them');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
