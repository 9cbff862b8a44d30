/**
 * The package as a user gets it: `npm run build`, `npm pack`, the tarball unpacked into a copy of
 * examples/mlflow-platform-app as `npm install <tarball>` places it (node_modules/mlflow-on-aws), the example
 * type-checked against the package's declarations, synthesized, and checked by cdk-nag (AwsSolutions) with no
 * unacknowledged finding.
 *
 * Offline: the example's other dependencies (aws-cdk-lib, constructs, and the package's own) are linked from this
 * repository's node_modules, which `npm ci` installed at the versions package.json pins, instead of being fetched.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLE = path.join(ROOT, 'examples', 'mlflow-platform-app');
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

interface Violation { ruleName: string; violatingConstructs: Array<{ constructPath: string }> }

describe('the packed library in the example CDK app', () => {
  let work: string;
  let app: string;
  let cdkOut: string;

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'mlflow-example-'));
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'pipe' });
    execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT, stdio: 'pipe' });
    const tarball = path.join(work, `${PACKAGE.name}-${PACKAGE.version}.tgz`);
    assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);

    app = path.join(work, 'app');
    cpSync(EXAMPLE, app, { recursive: true, filter: (source) => !/[/\\](node_modules|cdk\.out)$/.test(source) });
    const modules = path.join(app, 'node_modules');
    mkdirSync(path.join(modules, PACKAGE.name), { recursive: true });
    // What npm does with a tarball: its package/ folder becomes node_modules/<name>.
    execFileSync('tar', ['xzf', tarball, '-C', path.join(modules, PACKAGE.name), '--strip-components=1']);
    for (const entry of readdirSync(path.join(ROOT, 'node_modules'))) {
      if (entry === PACKAGE.name || entry.startsWith('.')) continue;
      symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(modules, entry));
    }
    cdkOut = path.join(work, 'cdk.out');
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  test('the tarball holds the build with its declarations and what the constructs read at synth time, and no sources', () => {
    const installed = path.join(app, 'node_modules', PACKAGE.name);
    for (const file of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/mlflow-platform.d.ts', 'containers/mlflow/Dockerfile',
      'containers/nginx/Dockerfile', 'containers/mlflow-pyfunc/Dockerfile', 'lab/training/mlflow-sigv4/mlflow_sigv4.py']) {
      assert.ok(existsSync(path.join(installed, file)), `${file} is in the package`);
    }
    assert.equal(existsSync(path.join(installed, 'src')), false, 'no TypeScript sources');
    assert.equal(existsSync(path.join(installed, 'dist', 'app')), false, 'not the app');
  });

  test('aws-cdk-lib and constructs are peer dependencies: the app\'s one copy is the one the constructs use', () => {
    // As a dependency, a user's app on another aws-cdk-lib version would get a second copy under the package, whose
    // Construct and Stack classes are not the app's: "not a Construct" errors, or a platform that never synthesizes.
    const packed = JSON.parse(readFileSync(path.join(app, 'node_modules', PACKAGE.name, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    for (const name of ['aws-cdk-lib', 'constructs']) {
      assert.equal(packed.dependencies?.[name], undefined, `${name} is not a dependency of the package`);
      const range = packed.peerDependencies?.[name];
      assert.ok(range, `${name} is a peer dependency`);
      const pinned = root.devDependencies[name];
      const [major, minor] = pinned.split('.').map(Number);
      const [rangeMajor, rangeMinor] = range.replace(/^\^/, '').split('.').map(Number);
      assert.ok(range.startsWith('^') && rangeMajor === major && rangeMinor <= minor,
        `${name}: the peer range ${range} admits the version the project is tested with (${pinned}, a devDependency)`);
    }
  });

  test('the example type-checks against the package\'s declarations', () => {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app, stdio: 'pipe' });
  });

  test('the example synthesizes, and cdk-nag (AwsSolutions) finds nothing unacknowledged', () => {
    let failure = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
        cwd: app,
        stdio: 'pipe',
        encoding: 'utf8',
        env: { ...process.env, CDK_OUTDIR: cdkOut, CDK_DEFAULT_REGION: 'eu-west-1' },
      });
    } catch (error) {
      failure = String((error as { stderr?: string }).stderr ?? error);
    }
    const reportFile = path.join(cdkOut, 'validation-report.json');
    assert.ok(existsSync(reportFile), `cdk-nag ran (validation-report.json written)${failure ? `: ${failure}` : ''}`);
    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    const findings = report.pluginReports.flatMap((plugin: { violations: Violation[] }) =>
      plugin.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)));
    assert.deepEqual(findings, []);
    assert.equal(failure, '', 'synth succeeded');

    const template = JSON.parse(readFileSync(path.join(cdkOut, 'MyMlflow.template.json'), 'utf8'));
    const types = Object.values<{ Type: string }>(template.Resources).map((resource) => resource.Type);
    for (const type of ['AWS::EC2::VPC', 'AWS::RDS::DBCluster', 'AWS::ECS::Service', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::ApiGatewayV2::Api']) {
      assert.ok(types.includes(type), `the example's stack has a ${type}`);
    }
    assert.equal(types.filter((type) => type === 'AWS::EC2::VPC').length, 1, 'the platform uses the stack\'s VPC and makes none');
    const service = Object.values<any>(template.Resources).find((resource) => resource.Type === 'AWS::ECS::Service');
    assert.equal(service.Properties.DesiredCount, 1, 'the example\'s desiredCount reached the service');
  });
});
