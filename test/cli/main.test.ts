import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { EXIT } from '../../src/cli/errors';
import { COMMANDS } from '../../src/cli/main';
import { harness } from './helpers';

const ROOT = path.join(__dirname, '..', '..');

describe('command line', () => {
  it('no command: usage on stderr, exit 2', async () => {
    const h = harness();
    assert.equal(await h.run(), EXIT.usage);
    assert.match(h.err[0], /Usage: npx mlflow-on-aws <command>/);
  });

  it('help: usage on stdout, exit 0', async () => {
    const h = harness();
    assert.equal(await h.run('--help'), EXIT.ok);
    for (const name of Object.keys(COMMANDS)) assert.match(h.out[0], new RegExp(`\\n  ${name} `));
  });

  it('unknown command: exit 2', async () => {
    const h = harness();
    assert.equal(await h.run('deploi'), EXIT.usage);
    assert.match(h.err[0], /Unknown command "deploi"/);
  });

  for (const name of Object.keys(COMMANDS)) {
    it(`${name} --help prints its usage without touching AWS`, async () => {
      const h = harness();
      assert.equal(await h.run(name, '--help'), EXIT.ok);
      assert.match(h.out[0], new RegExp(`Usage: npx mlflow-on-aws ${name}`));
      assert.equal(h.mocks.sts.commandCalls(GetCallerIdentityCommand).length, 0);
    });

    it(`${name} rejects an unknown option with exit 2`, async () => {
      const h = harness();
      assert.equal(await h.run(name, '--frobnicate'), EXIT.usage);
      assert.match(h.err[0], /Unknown option '--frobnicate'/);
    });
  }

  it('-c without = is a usage error', async () => {
    const h = harness();
    assert.equal(await h.run('status', '-c', 'sagemaker'), EXIT.usage);
    assert.match(h.err[0], /Context value "sagemaker" is not key=value/);
  });

  it('an unknown setting name is caught before any AWS call', async () => {
    const h = harness();
    assert.equal(await h.run('status', '-c', 'sagemakr=both'), EXIT.usage);
    assert.match(h.err[0], /Invalid setting "sagemakr"/);
    assert.equal(h.mocks.sts.commandCalls(GetCallerIdentityCommand).length, 0);
  });
});

describe('bin/cli.js (real process, real AWS SDK, no credentials reachable)', () => {
  it('package.json "bin" points at the shim', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
    assert.equal(pkg.bin?.['mlflow-on-aws'], 'bin/cli.js');
    assert.ok(fs.existsSync(path.join(ROOT, 'bin', 'cli.js')));
  });

  it('status without credentials exits 3 with the fix, before any network call', () => {
    // Every credential source the SDK's default chain reads is pointed at nothing, and the EC2 metadata service is off,
    // so the chain fails locally with CredentialsProviderError.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mlflow-cli-home-'));
    const result = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'cli.js'), 'status'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        AWS_REGION: 'us-west-2',
        AWS_CONFIG_FILE: path.join(home, 'no-config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
        NODE_NO_WARNINGS: '1',
      },
    });
    assert.equal(result.status, EXIT.noCredentials, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /Error: No AWS credentials found/);
    assert.equal(result.stdout, '');
  });
});
