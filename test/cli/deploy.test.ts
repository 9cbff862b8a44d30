import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ListDomainsCommand } from '@aws-sdk/client-sagemaker';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { signInLine } from '../../src/cli/commands/status';
import { EXIT } from '../../src/cli/errors';
import { credentialsError, DEPLOYED_TEMPLATES, harness, HarnessOptions, NODE_PATH, outputs, RunnerCall, setStacks, setTemplates } from './helpers';

const URI = 'https://abc123.execute-api.us-west-2.amazonaws.com';
const TOOLKIT = { CDKToolkit: { Outputs: outputs({ BootstrapVersion: '27' }) } };

/** Docker answers "running"; cdk exits with the given code. */
function runner(cdkExit = 0): NonNullable<HarnessOptions['runner']> {
  return (call: RunnerCall) => (call.command === 'docker' ? { exitCode: 0, stdout: '28.2.2', stderr: '' } : { exitCode: cdkExit, stdout: '', stderr: '' });
}

function cdkCalls(runs: RunnerCall[]): RunnerCall[] {
  return runs.filter((r) => r.command === NODE_PATH);
}

describe('deploy', () => {
  it('runs the pinned cdk: deploy --all --require-approval never, with -c pass-through, region env and project cwd', async () => {
    const h = harness({ runner: runner() });
    setStacks(h.mocks, { ...TOOLKIT, HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: URI }) } });
    const code = await h.run('deploy', '-c', 'sagemaker=both', '-c', 'imageBuild=codebuild', '--region', 'eu-west-1');
    assert.equal(code, EXIT.ok, h.text());
    const [call] = cdkCalls(h.runs);
    assert.equal(cdkCalls(h.runs).length, 1);
    assert.equal(call.args[0], fs.realpathSync(path.join(h.projectRoot, 'node_modules', 'aws-cdk', 'bin', 'cdk')));
    assert.deepEqual(call.args.slice(1), ['deploy', '--all', '--require-approval', 'never', '-c', 'sagemaker=both', '-c', 'imageBuild=codebuild', '-c', 'region=eu-west-1']);
    assert.equal(call.options.cwd, h.projectRoot);
    assert.equal(call.options.env?.AWS_REGION, 'eu-west-1');
    assert.equal(call.options.env?.AWS_DEFAULT_REGION, 'eu-west-1');
    assert.equal(call.options.capture, undefined, 'cdk progress goes straight to the terminal');
    assert.deepEqual(h.out, [`MLflow tracking URI: ${URI}`]);
    assert.match(h.err.join('\n'), /credentials --env/);
    assert.equal(h.runs.filter((r) => r.command === 'docker').length, 0, 'codebuild builds need no Docker');
  });

  it('auth=sso: prints the sign-in line of status and, with the stack\'s Cognito pool, how to add the first admin', async () => {
    const sso = { auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc', imageBuild: 'codebuild' };
    const h = harness({ runner: runner(), cdkContext: sso });
    setStacks(h.mocks, {
      ...TOOLKIT,
      MLflowVpcStack: { Outputs: outputs({ SsoUserPoolId: 'us-west-2_AbC123' }) },
      HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: 'https://mlflow.example.com' }) },
    });
    setTemplates(h.mocks, { MLflowVpcStack: DEPLOYED_TEMPLATES.standard, HttpGatewayStack: DEPLOYED_TEMPLATES.gateway });
    assert.equal(await h.run('deploy'), EXIT.ok, h.text());
    assert.deepEqual(h.out, [
      'MLflow tracking URI: https://mlflow.example.com',
      `Sign-in: ${signInLine('https://mlflow.example.com', 'us-west-2_AbC123', 'us-west-2')}`,
    ]);
    assert.match(h.out[1], /oauth2\/start .*us-west-2_AbC123/);
    assert.match(h.err.join('\n'), /Next: npx mlflow-on-aws users add <your e-mail> --admin/);
    assert.doesNotMatch(h.err.join('\n'), /credentials --env/);

    const own = harness({ runner: runner(), cdkContext: { auth: 'sso', ssoIssuerUrl: 'https://example.okta.com/', ssoClientId: '0oa1', imageBuild: 'codebuild' } });
    setStacks(own.mocks, { ...TOOLKIT, HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: URI }) } });
    assert.equal(await own.run('deploy'), EXIT.ok, own.text());
    assert.deepEqual(own.out, [`MLflow tracking URI: ${URI}`, `Sign-in: ${URI}/oauth2/start (people and groups: your OpenID provider)`]);
    assert.match(own.err.join('\n'), /group mlflow-admins at your provider/);
    assert.doesNotMatch(own.err.join('\n'), /users add/);
  });

  it('imageBuild=local checks Docker first and stops with advice when it is not running', async () => {
    const h = harness({ runner: (call) => (call.command === 'docker' ? { exitCode: 1, stdout: '', stderr: 'Cannot connect to the Docker daemon' } : { exitCode: 0, stdout: '', stderr: '' }) });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy', '-c', 'imageBuild=local'), EXIT.failure);
    assert.match(h.err.join('\n'), /imageBuild=local needs a running Docker engine/);
    assert.match(h.err.join('\n'), /-c imageBuild=codebuild/);
    assert.equal(cdkCalls(h.runs).length, 0);
  });

  it('--profile goes to the clients, the child environment and cdk', async () => {
    const h = harness({ runner: runner() });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy', '--profile', 'mlops', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    const [call] = cdkCalls(h.runs);
    assert.deepEqual(call.args.slice(-2), ['--profile', 'mlops']);
    assert.equal(call.options.env?.AWS_PROFILE, 'mlops');
    assert.equal(h.targets[0].profile, 'mlops');
  });

  it('--platform-profile lean is the platform profile: -c profile=lean for the configuration and cdk; --profile stays the AWS profile', async () => {
    const h = harness({ runner: runner() });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy', '--platform-profile', 'lean', '--profile', 'mlops', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    const [call] = cdkCalls(h.runs);
    assert.deepEqual(call.args.slice(5), ['-c', 'imageBuild=codebuild', '-c', 'profile=lean', '--profile', 'mlops']);
    assert.equal(h.targets[0].profile, 'mlops');
  });

  for (const platformProfile of ['lean', 'standard']) {
    it(`--profile ${platformProfile} (a platform profile given as the AWS profile) is refused, naming both options, before any AWS call`, async () => {
      const h = harness({ runner: runner() });
      assert.equal(await h.run('deploy', '--profile', platformProfile), EXIT.usage);
      const text = h.err.join('\n');
      assert.match(text, new RegExp(`--profile ${platformProfile}: --profile names an AWS profile .* "${platformProfile}" is a platform profile`));
      assert.match(text, new RegExp(`--platform-profile ${platformProfile} \\(or -c profile=${platformProfile}\\)`));
      assert.match(text, new RegExp(`AWS_PROFILE=${platformProfile} `));
      assert.deepEqual(h.targets, []);
      assert.equal(cdkCalls(h.runs).length, 0);
    });
  }

  it('--platform-profile and -c profile that disagree are refused', async () => {
    const h = harness({ runner: runner() });
    assert.equal(await h.run('deploy', '--platform-profile', 'lean', '-c', 'profile=standard'), EXIT.usage);
    assert.match(h.err.join('\n'), /--platform-profile lean and -c profile=standard disagree/);
    assert.deepEqual(h.targets, []);
  });

  it('--use-existing-domain with one InService domain passes it as -c domainId', async () => {
    const h = harness({ runner: runner() });
    setStacks(h.mocks, TOOLKIT);
    h.mocks.sm.on(ListDomainsCommand).resolves({
      Domains: [
        { DomainId: 'd-aaaaaaaaaaaa', DomainName: 'team', Status: 'InService' },
        { DomainId: 'd-bbbbbbbbbbbb', DomainName: 'broken', Status: 'Failed' },
      ],
    });
    assert.equal(await h.run('deploy', '--use-existing-domain', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    const args = cdkCalls(h.runs)[0].args;
    assert.ok(args.includes('domainId=d-aaaaaaaaaaaa'), args.join(' '));
    assert.match(h.err.join('\n'), /Using existing SageMaker domain d-aaaaaaaaaaaa \(team, InService\)/);
  });

  it('--use-existing-domain with several domains refuses and lists them (exit 2)', async () => {
    const h = harness({ runner: runner() });
    setStacks(h.mocks, TOOLKIT);
    h.mocks.sm.on(ListDomainsCommand).resolves({
      Domains: [
        { DomainId: 'd-aaaaaaaaaaaa', Status: 'InService' },
        { DomainId: 'd-cccccccccccc', Status: 'InService' },
      ],
    });
    assert.equal(await h.run('deploy', '--use-existing-domain', '-c', 'imageBuild=codebuild'), EXIT.usage);
    assert.match(h.err.join('\n'), /2 SageMaker domains are in service in us-west-2: d-aaaaaaaaaaaa .*; d-cccccccccccc/);
    assert.match(h.err.join('\n'), /--domain-id/);
    assert.equal(cdkCalls(h.runs).length, 0);
  });

  it('--use-existing-domain with none creates a new one (no domainId passed)', async () => {
    const h = harness({ runner: runner() });
    setStacks(h.mocks, TOOLKIT);
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('deploy', '--use-existing-domain', '-c', 'imageBuild=codebuild'), EXIT.ok);
    assert.ok(!cdkCalls(h.runs)[0].args.some((a) => a.startsWith('domainId=')));
    assert.match(h.err.join('\n'), /a new one will be created/);
  });

  it('DOMAIN_ID set: --use-existing-domain does not look up domains', async () => {
    const h = harness({ runner: runner(), env: { AWS_REGION: 'us-west-2', DOMAIN_ID: 'd-dddddddddddd' } });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy', '--use-existing-domain', '-c', 'imageBuild=codebuild'), EXIT.ok);
    assert.equal(h.mocks.sm.commandCalls(ListDomainsCommand).length, 0);
    assert.equal(cdkCalls(h.runs)[0].options.env?.DOMAIN_ID, 'd-dddddddddddd');
  });

  it('--domain-id is validated and passed on', async () => {
    const h = harness({ runner: runner() });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy', '--domain-id', 'not-a-domain'), EXIT.usage);
    assert.match(h.err[0], /Invalid setting "domainId"/);
    assert.equal(await h.run('deploy', '--domain-id', 'd-eeeeeeeeeeee', '-c', 'imageBuild=codebuild'), EXIT.ok);
    assert.ok(cdkCalls(h.runs)[0].args.includes('domainId=d-eeeeeeeeeeee'));
  });

  it('not bootstrapped: stops before cdk deploy unless --bootstrap, which runs cdk bootstrap first', async () => {
    const h = harness({ runner: runner() });
    assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild'), EXIT.failure);
    assert.match(h.err.join('\n'), /not bootstrapped/);
    assert.equal(cdkCalls(h.runs).length, 0);

    assert.equal(await h.run('deploy', '--bootstrap', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    const calls = cdkCalls(h.runs).map((c) => c.args.slice(1));
    assert.deepEqual(calls, [
      ['bootstrap', 'aws://123456789012/us-west-2', '-c', 'imageBuild=codebuild'],
      ['deploy', '--all', '--require-approval', 'never', '-c', 'imageBuild=codebuild'],
    ]);
  });

  it('backupCopyRegion: checks and bootstraps the copy region too, in one cdk bootstrap', async () => {
    const h = harness({ runner: runner() });
    const settings = ['-c', 'imageBuild=codebuild', '-c', 'backup=true', '-c', 'backupCopyRegion=us-east-1'];
    assert.equal(await h.run('deploy', ...settings), EXIT.failure);
    assert.equal(cdkCalls(h.runs).length, 0);
    assert.equal(await h.run('deploy', '--bootstrap', ...settings), EXIT.ok, h.text());
    assert.deepEqual(cdkCalls(h.runs).map((c) => c.args.slice(1, 4)), [
      ['bootstrap', 'aws://123456789012/us-west-2', 'aws://123456789012/us-east-1'],
      ['deploy', '--all', '--require-approval'],
    ]);
    assert.ok(h.targets.some((t) => t.region === 'us-east-1'), 'the copy region was asked about its bootstrap');
  });

  it("the original sample's stacks (same names, no MLflow on AWS description): refuses before cdk runs, pointing at the migration guide", async () => {
    const h = harness({ runner: runner() });
    // What the sample's stacks look like to DescribeStacks: its outputs, no description.
    setStacks(h.mocks, {
      ...TOOLKIT,
      MLflowVpcStack: { Description: undefined, Outputs: outputs({ ALBDnsName: 'internal-mlflow-1.us-west-2.elb.amazonaws.com' }) },
      HttpGatewayStack: { Description: undefined, Outputs: outputs({ MLflowAPIendpoint: URI }) },
    });
    assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild'), EXIT.failure);
    const text = h.err.join('\n');
    assert.match(text, /HttpGatewayStack, MLflowVpcStack in account 123456789012, region us-west-2 were not deployed by MLflow on AWS/);
    assert.match(text, /original aws-mlflow-sagemaker-cdk sample's/);
    assert.match(text, /deletes its artifact bucket, with every object in it/);
    assert.match(text, /docs\/guides\/migrate-from-sample\.md/);
    assert.equal(cdkCalls(h.runs).length, 0);
  });

  it("this app's own stacks (their description) are deployed over as usual", async () => {
    const h = harness({ runner: runner() });
    setStacks(h.mocks, { ...TOOLKIT, MLflowVpcStack: {}, HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: URI }) } });
    setTemplates(h.mocks, { MLflowVpcStack: DEPLOYED_TEMPLATES.standard, HttpGatewayStack: DEPLOYED_TEMPLATES.gateway });
    assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    assert.equal(cdkCalls(h.runs).length, 1);
  });

  it('cdk failure: exit 1 and points at status', async () => {
    const h = harness({ runner: runner(1) });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild'), EXIT.failure);
    assert.match(h.err.join('\n'), /cdk deploy failed \(exit code 1\)/);
    assert.match(h.err.join('\n'), /mlflow-on-aws status/);
  });

  it('--dry-run prints the command and runs nothing', async () => {
    const h = harness({ runner: runner() });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy', '--dry-run', '-c', 'imageBuild=codebuild'), EXIT.ok);
    assert.equal(cdkCalls(h.runs).length, 0);
    assert.match(h.err.join('\n'), /\$ cdk deploy --all --require-approval never -c imageBuild=codebuild/);
  });

  it('no credentials: exit 3 before running cdk', async () => {
    const h = harness({ runner: runner() });
    h.mocks.sts.on(GetCallerIdentityCommand).rejects(credentialsError());
    assert.equal(await h.run('deploy'), EXIT.noCredentials);
    assert.equal(h.runs.length, 0);
  });

  it('wrong account: exit 6 before running cdk', async () => {
    const h = harness({ runner: runner(), env: { AWS_REGION: 'us-west-2', CDK_DEFAULT_ACCOUNT: '111111111111' } });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy'), EXIT.wrongTarget);
    assert.equal(h.runs.length, 0);
  });

  it('settings in cdk.json are honoured (the same configuration the app sees)', async () => {
    const h = harness({ runner: runner(), cdkContext: { imageBuild: 'codebuild', '@aws-cdk/core:checkSecretUsage': true } });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy'), EXIT.ok, h.text());
    assert.equal(h.runs.filter((r) => r.command === 'docker').length, 0);
    assert.match(h.err[0], /imageBuild=codebuild/);
  });

  it('without node_modules/aws-cdk: tells to run npm ci', async () => {
    const h = harness({ runner: runner(), withoutCdk: true });
    setStacks(h.mocks, TOOLKIT);
    assert.equal(await h.run('deploy'), EXIT.failure);
    assert.match(h.err.join('\n'), /npm ci/);
  });
});
