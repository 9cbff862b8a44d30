/**
 * Each compliance configuration (test/compliance/configurations.ts) synthesized once per test run, as `cdk synth`
 * does it (cdk.json's context, construct paths, cdk-nag and the built-in CloudFormation validation on), and shared by
 * the four tests that read all of them: cdk-nag, cfn-lint, the cost coverage and the architecture doc.
 *
 * `npm run test:unit` runs this file first: it synthesizes every configuration into a new directory, prints that
 * directory, and the test files find it in MLFLOW_COMPLIANCE_SYNTH (the script removes it afterwards). A test file run
 * on its own (the variable unset) synthesizes the configurations in its own process, into a directory it removes on
 * exit: the same result, only slower.
 *
 *   node --import tsx test/support/compliance-synth.ts    # prints the directory
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { RawSettings } from '../../src/app/config/platform-config';
import { configureApp } from '../../src/app/app';
import { COMPLIANCE_CONFIGURATIONS } from '../compliance/configurations';

export const SYNTH_DIRECTORY_VARIABLE = 'MLFLOW_COMPLIANCE_SYNTH';
const REPO_ROOT = path.join(__dirname, '..', '..');
const COMPLETE = 'complete';

export interface SynthesizedConfiguration {
  readonly name: string;
  readonly settings: RawSettings;
  /** The cloud assembly's directory (templates, manifest, validation report). */
  readonly dir: string;
  /** Every `*.template.json` in the assembly, sorted. */
  readonly templateFiles: string[];
  /** The stacks' templates, by stack name. */
  readonly stacks: Array<{ stackName: string; template: any }>;
  /** The regions of the stacks. */
  readonly regions: string[];
  /** Unacknowledged findings of the validation plugins (cdk-nag's AwsSolutions, CloudFormation's built-in), `rule at path`. */
  readonly findings: string[];
}

interface Violation { ruleName: string; violatingConstructs: Array<{ constructPath: string }> }

/**
 * The context `cdk synth` gives the app: cdk.json's (feature flags, which change the templates), the metadata the
 * CLI turns on by default (construct paths, the CDKMetadata resource), then the configuration's settings.
 */
export function cliContext(settings: RawSettings): Record<string, unknown> {
  return {
    ...JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context,
    [cxapi.PATH_METADATA_ENABLE_CONTEXT]: true,
    [cxapi.ANALYTICS_REPORTING_ENABLED_CONTEXT]: true,
    ...settings,
  };
}

/** Synthesizes `app`; a validation finding is left in the report for the cdk-nag test to read, not thrown. */
export function synthKeepingFindings(app: App): void {
  try {
    app.synth();
  } catch (error) {
    if (!/Validation failed/.test(String(error))) throw error;
  }
}

/** The unacknowledged findings in an assembly's validation-report.json. */
export function validationFindings(outdir: string): string[] {
  const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
  return report.pluginReports.flatMap((plugin: { violations: Violation[] }) =>
    plugin.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)));
}

/**
 * Synthesizes every configuration into `root` (config-<index>/ each), with the built-in validation on; then, the same
 * way, a canary (canary/): one log group whose retention CloudFormation does not offer, which the built-in validation
 * reports (W3030) when it runs. Its report shows that the validation was on for these synths: a passing one leaves
 * no report of its own.
 */
export function synthesizeAll(root: string): void {
  const validation = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = 'true';
  try {
    COMPLIANCE_CONFIGURATIONS.forEach(([, settings], index) => {
      const app = new App({ outdir: path.join(root, `config-${index}`), context: cliContext(settings) });
      configureApp(app, {});
      synthKeepingFindings(app);
    });
    const canary = new App({ outdir: path.join(root, 'canary') });
    new CfnResource(new Stack(canary, 'Canary'), 'Logs', { type: 'AWS::Logs::LogGroup', properties: { RetentionInDays: 42 } });
    synthKeepingFindings(canary);
  } finally {
    if (validation === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = validation;
  }
  writeFileSync(path.join(root, COMPLETE), `${COMPLIANCE_CONFIGURATIONS.length}\n`);
}

function read(root: string): SynthesizedConfiguration[] {
  return COMPLIANCE_CONFIGURATIONS.map(([name, settings], index) => {
    const dir = path.join(root, `config-${index}`);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const stackArtifacts = Object.values<any>(manifest.artifacts).filter((artifact) => artifact.type === 'aws:cloudformation:stack');
    return {
      name,
      settings,
      dir,
      templateFiles: readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.template.json')).map((file) => path.join(dir, file)).sort(),
      stacks: stackArtifacts.map((artifact) => ({
        stackName: artifact.properties.stackName ?? path.basename(artifact.properties.templateFile, '.template.json'),
        template: JSON.parse(readFileSync(path.join(dir, artifact.properties.templateFile), 'utf8')),
      })),
      regions: [...new Set(stackArtifacts.map((artifact) => String(artifact.environment).split('/').pop()!))],
      findings: validationFindings(dir),
    };
  });
}

let cached: SynthesizedConfiguration[] | undefined;
let cachedRoot: string | undefined;

/** The findings of the canary synthesized with the configurations (see `synthesizeAll`); none when the validation was off. */
export function canaryFindings(): string[] {
  synthesizedConfigurations();
  const dir = path.join(cachedRoot!, 'canary');
  return existsSync(path.join(dir, 'validation-report.json')) ? validationFindings(dir) : [];
}

/** Every compliance configuration, synthesized: this run's shared copy, or synthesized here when there is none. */
export function synthesizedConfigurations(): SynthesizedConfiguration[] {
  if (cached) return cached;
  const shared = process.env[SYNTH_DIRECTORY_VARIABLE];
  if (shared && existsSync(path.join(shared, COMPLETE))) {
    cachedRoot = shared;
  } else {
    const own = mkdtempSync(path.join(tmpdir(), 'mlflow-compliance-'));
    process.on('exit', () => rmSync(own, { recursive: true, force: true }));
    synthesizeAll(own);
    cachedRoot = own;
  }
  cached = read(cachedRoot);
  return cached;
}

if (require.main === module) {
  const root = mkdtempSync(path.join(tmpdir(), 'mlflow-compliance-'));
  synthesizeAll(root);
  process.stdout.write(`${root}\n`);
}
