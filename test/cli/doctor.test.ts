import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Stack } from '@aws-sdk/client-cloudformation';
import { ListDomainsCommand } from '@aws-sdk/client-sagemaker';
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand, NoSuchResourceException, ServiceQuotasServiceException } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { CODEBUILD_QUOTAS, checkNode, compareVersions, minimumVersion, NODE_END_OF_LIFE, parseNodeRange, readNodeEngines, satisfies } from '../../src/cli/commands/doctor';
import { EXIT } from '../../src/cli/errors';
import { accessDenied, credentialsError, harness, Harness, HarnessOptions, outputs, REAL_NODE_ENGINES, setStacks, unknownRegionError } from './helpers';

const dockerUp: HarnessOptions['runner'] = (call) =>
  call.command === 'docker' ? { exitCode: 0, stdout: '28.2.2\n', stderr: '' } : { exitCode: 0, stdout: '', stderr: '' };
const dockerDown: HarnessOptions['runner'] = () => ({
  exitCode: 1,
  stdout: '',
  stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n',
});
const noDocker: HarnessOptions['runner'] = () => ({ exitCode: 127, stdout: '', stderr: 'spawn docker ENOENT', spawnError: 'ENOENT' });

function bootstrapped(version = '27'): Record<string, Partial<Stack>> {
  return { CDKToolkit: { StackStatus: 'UPDATE_COMPLETE', Outputs: outputs({ BootstrapVersion: version }) } };
}

/** CodeBuild's concurrent-build quotas as Service Quotas answers them: by quota code. */
function codeBuildQuotas(h: Harness, values: Partial<Record<string, number | Error>> = { [CODEBUILD_QUOTAS.linux.code]: 20, [CODEBUILD_QUOTAS.arm.code]: 20 }): void {
  for (const [code, value] of Object.entries(values)) {
    const call = h.mocks.quotas.on(GetServiceQuotaCommand, { ServiceCode: 'codebuild', QuotaCode: code });
    if (value instanceof Error) call.rejects(value);
    else call.resolves({ Quota: { ServiceCode: 'codebuild', QuotaCode: code, Value: value } });
  }
}

describe('doctor', () => {
  it('all good: every check ok, exit 0, with the next step', async () => {
    const h = harness({ runner: dockerUp });
    setStacks(h.mocks, bootstrapped());
    codeBuildQuotas(h);
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('doctor'), EXIT.ok, h.text());
    const text = h.out.join('\n');
    assert.match(text, /\[ ok \] Node.js: 24.11.1 \(supported: \^20.6.0 \|\| \^22.0.0 \|\| \^24.0.0\)/);
    assert.match(text, /\[ ok \] Configuration: region us-west-2, sagemaker=studio, imageBuild=codebuild/);
    assert.match(text, /\[ ok \] AWS credentials: account 123456789012 as arn:aws:iam::123456789012:user\/dev/);
    assert.match(text, /\[ ok \] CDK bootstrap: CDKToolkit version 27/);
    assert.match(text, /\[ ok \] Docker: engine 28.2.2/);
    assert.match(text, /\[ ok \] CodeBuild quota: concurrent builds Linux\/Small: 20 \(the deploy runs one at a time\)/);
    assert.match(text, /\[ ok \] SageMaker domain: none in us-west-2; deploy creates one/);
    assert.match(text, /Ready to deploy/);
    assert.deepEqual(h.runs.map((r) => [r.command, ...r.args]), [['docker', 'info', '--format', '{{.ServerVersion}}']]);
  });

  it('old Node.js fails', async () => {
    const h = harness({ nodeVersion: '18.20.4', runner: dockerUp });
    setStacks(h.mocks, bootstrapped());
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('doctor'), EXIT.failure);
    assert.match(h.out.join('\n'), /\[FAIL\] Node.js: 18.20.4 is too old: the minimum is 20.6.0 \(package.json engines.node "\^20.6.0 \|\| \^22.0.0 \|\| \^24.0.0"\)/);
    assert.match(h.out.join('\n'), /fix: Install Node.js 24 LTS \(or 22\)/);
  });

  it('Node.js 20 (end of life; the AWS SDK drops it in January 2027): a warning, and still ready to deploy', async () => {
    const h = harness({ nodeVersion: '20.20.2', runner: dockerUp });
    setStacks(h.mocks, bootstrapped());
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('doctor'), EXIT.ok, h.text());
    const text = h.out.join('\n');
    assert.match(text, /\[warn\] Node.js: 20.20.2: Node.js 20 reached end of life on 2026-04-30, and AWS SDK for JavaScript v3 releases from January 2027 on require Node.js 22 or later/);
    assert.match(text, /Ready to deploy/);
  });

  it('Node.js 20 below 20.6 fails (the minimum: node --import needs it)', async () => {
    const h = harness({ nodeVersion: '20.5.1', runner: dockerUp });
    assert.equal(await h.run('doctor'), EXIT.failure);
    assert.match(h.out.join('\n'), /\[FAIL\] Node.js: 20.5.1 is too old: the minimum is 20.6.0/);
  });

  it('a release outside the range (odd or newer than tested): a warning', async () => {
    for (const version of ['23.11.0', '25.2.1', '26.1.0']) {
      const h = harness({ nodeVersion: version, runner: dockerUp });
      setStacks(h.mocks, bootstrapped());
      h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
      assert.equal(await h.run('doctor'), EXIT.ok, h.text());
      assert.match(h.out.join('\n'), new RegExp(`\\[warn\\] Node.js: ${version.replace(/\./g, '\\.')} is outside the supported range "\\^20\\.6\\.0 \\|\\| \\^22\\.0\\.0 \\|\\| \\^24\\.0\\.0"`));
    }
  });

  it('the range is read from the project\'s package.json, not from a copy in the code', async () => {
    const h = harness({ nodeVersion: '22.11.0', runner: dockerUp, nodeEngines: '>=24.1' });
    assert.equal(await h.run('doctor'), EXIT.failure);
    assert.match(h.out.join('\n'), /\[FAIL\] Node.js: 22.11.0 is too old: the minimum is 24.1.0 \(package.json engines.node ">=24.1"\)/);

    const missing = harness({ runner: dockerUp, nodeEngines: null });
    setStacks(missing.mocks, bootstrapped());
    missing.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await missing.run('doctor'), EXIT.ok);
    assert.match(missing.out.join('\n'), /\[warn\] Node.js: 24.11.1; cannot read "engines.node" from the project's package.json/);
  });

  it('no credentials: exit 3, AWS checks skipped, Docker still checked', async () => {
    const h = harness({ runner: dockerUp });
    h.mocks.sts.on(GetCallerIdentityCommand).rejects(credentialsError());
    assert.equal(await h.run('doctor'), EXIT.noCredentials);
    const text = h.out.join('\n');
    assert.match(text, /\[FAIL\] AWS credentials: No AWS credentials found/);
    assert.match(text, /fix: Configure credentials/);
    assert.match(text, /\[skip\] CDK bootstrap: needs working credentials/);
    assert.match(text, /\[skip\] SageMaker domain/);
    assert.match(text, /\[ ok \] Docker/);
  });

  it('unknown region: exit 6', async () => {
    const h = harness({ runner: dockerUp });
    h.mocks.sts.on(GetCallerIdentityCommand).rejects(unknownRegionError('eu-north-9'));
    assert.equal(await h.run('doctor', '--region', 'eu-north-9'), EXIT.wrongTarget);
    assert.match(h.out.join('\n'), /Cannot reach AWS in region "eu-north-9"/);
  });

  it('AWS_DEFAULT_REGION different from the target region: warning, not failure', async () => {
    const h = harness({ runner: dockerUp, env: { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'eu-central-1' } });
    setStacks(h.mocks, bootstrapped());
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('doctor'), EXIT.ok);
    assert.match(h.out.join('\n'), /\[warn\] Region: us-west-2 \(AWS_DEFAULT_REGION is eu-central-1/);
  });

  it('not bootstrapped: fails with the bootstrap command for this account and region', async () => {
    const h = harness({ runner: dockerUp });
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('doctor'), EXIT.failure);
    const text = h.out.join('\n');
    assert.match(text, /\[FAIL\] CDK bootstrap: CDKToolkit not found: account 123456789012 is not bootstrapped in us-west-2/);
    assert.match(text, /fix: npx cdk bootstrap aws:\/\/123456789012\/us-west-2/);
    assert.match(text, /1 check failed: CDK bootstrap/);
  });

  it('bootstrap too old fails', async () => {
    const h = harness({ runner: dockerUp });
    setStacks(h.mocks, bootstrapped('4'));
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('doctor'), EXIT.failure);
    assert.match(h.out.join('\n'), /bootstrap version 4 is older than 6/);
  });

  it('Docker not running fails with imageBuild=local and suggests codebuild', async () => {
    const h = harness({ runner: dockerDown });
    setStacks(h.mocks, bootstrapped());
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('doctor', '-c', 'imageBuild=local'), EXIT.failure);
    const text = h.out.join('\n');
    assert.match(text, /\[FAIL\] Docker: docker engine not reachable \(Cannot connect to the Docker daemon/);
    assert.match(text, /fix: Start Docker, or build in AWS instead: -c imageBuild=codebuild/);
  });

  it('Docker missing is fine with imageBuild=codebuild', async () => {
    const h = harness({ runner: noDocker });
    setStacks(h.mocks, bootstrapped());
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('doctor', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    assert.match(h.out.join('\n'), /\[info\] Docker: docker is not installed; not needed/);
  });

  it('existing domains are listed with how to reuse one (paginated ListDomains)', async () => {
    const h = harness({ runner: dockerUp });
    setStacks(h.mocks, bootstrapped());
    h.mocks.sm
      .on(ListDomainsCommand)
      .resolvesOnce({ Domains: [{ DomainId: 'd-aaaaaaaaaaaa', DomainName: 'team', Status: 'InService' }], NextToken: 'page2' })
      .resolvesOnce({ Domains: [{ DomainId: 'd-bbbbbbbbbbbb', DomainName: 'old', Status: 'Failed' }] });
    assert.equal(await h.run('doctor'), EXIT.ok);
    const text = h.out.join('\n');
    assert.match(text, /\[info\] SageMaker domain: 2 existing: d-aaaaaaaaaaaa \(team, InService\); d-bbbbbbbbbbbb \(old, Failed\)/);
    assert.match(text, /--use-existing-domain/);
    assert.equal(h.mocks.sm.commandCalls(ListDomainsCommand)[1].args[0].input.NextToken, 'page2');
  });

  it('DOMAIN_ID that is not in the region fails', async () => {
    const h = harness({ runner: dockerUp, env: { AWS_REGION: 'us-west-2', DOMAIN_ID: 'd-cccccccccccc' } });
    setStacks(h.mocks, bootstrapped());
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [{ DomainId: 'd-aaaaaaaaaaaa', Status: 'InService' }] });
    assert.equal(await h.run('doctor'), EXIT.failure);
    assert.match(h.out.join('\n'), /\[FAIL\] SageMaker domain: DOMAIN_ID d-cccccccccccc not found in us-west-2 \(found: d-aaaaaaaaaaaa\)/);
  });

  it('access denied on ListDomains: exit 4', async () => {
    const h = harness({ runner: dockerUp });
    setStacks(h.mocks, bootstrapped());
    h.mocks.sm.on(ListDomainsCommand).rejects(accessDenied('sagemaker:ListDomains', 'AccessDeniedException'));
    assert.equal(await h.run('doctor'), EXIT.accessDenied);
    assert.match(h.out.join('\n'), /\[FAIL\] SageMaker domain: Access denied while listing SageMaker domains/);
  });

  it('invalid setting: exit 2, no AWS call', async () => {
    const h = harness({ runner: dockerUp });
    assert.equal(await h.run('doctor', '-c', 'sagemaker=everything'), EXIT.usage);
    assert.match(h.out.join('\n'), /\[FAIL\] Configuration: Invalid setting "sagemaker"/);
    assert.equal(h.mocks.sts.commandCalls(GetCallerIdentityCommand).length, 0);
  });

  it('package.json engines.node: 20.6 to 20.x (warned), 22 and 24; this machine\'s and CI\'s Node.js is inside it', () => {
    const range = parseNodeRange(REAL_NODE_ENGINES);
    assert.equal(readNodeEngines(path.join(__dirname, '..', '..')), REAL_NODE_ENGINES);
    assert.equal(minimumVersion(range), '20.6.0');
    for (const v of ['20.6.0', '20.20.2', '22.0.0', '22.21.1', '24.11.1']) assert.ok(satisfies(v, range), v);
    for (const v of ['20.5.1', '21.7.3', '23.11.0', '25.0.0', '26.0.0']) assert.ok(!satisfies(v, range), v);
    assert.ok(satisfies(process.versions.node, range), `this Node.js ${process.versions.node} must stay allowed (CI runs on it)`);
    assert.ok(NODE_END_OF_LIFE[20]);
    assert.equal(checkNode('20.20.2', REAL_NODE_ENGINES).state, 'warn');
    assert.equal(checkNode('22.21.1', REAL_NODE_ENGINES).state, 'ok');
  });

  it('range syntax: ^, comparators, ||, partial versions; anything else is reported, not guessed', () => {
    assert.deepEqual(parseNodeRange('^20.6'), [[{ op: '>=', version: '20.6.0' }, { op: '<', version: '21.0.0' }]]);
    assert.ok(satisfies('22.3.0', parseNodeRange('>=20.6 <23')));
    assert.ok(!satisfies('23.0.0', parseNodeRange('>=20.6 <23')));
    assert.equal(minimumVersion(parseNodeRange('^22 || >=20.9 <21')), '20.9.0');
    assert.throws(() => parseNodeRange('~20.6'), /cannot read "~20.6"/);
    assert.equal(checkNode('22.0.0', 'lts/*').state, 'warn');
  });

  it('compareVersions orders numerically', () => {
    assert.ok(compareVersions('20.10.0', '20.6.0') > 0);
    assert.ok(compareVersions('v20.5.1', '20.6') < 0);
    assert.equal(compareVersions('22.0.0', '22'), 0);
  });
});

describe('doctor: the CodeBuild quota of the deploy-time image builds (finding 6)', () => {
  function setup(): Harness {
    const h = harness({ runner: dockerUp });
    setStacks(h.mocks, bootstrapped());
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    return h;
  }
  const quotaError = (name: string, message: string) => new ServiceQuotasServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });

  it('lean (arm64) on an account that allows no ARM build: fails, pointing to imageBuild=local or a quota increase', async () => {
    const h = setup();
    codeBuildQuotas(h, { [CODEBUILD_QUOTAS.linux.code]: 20, [CODEBUILD_QUOTAS.arm.code]: 0 });
    assert.equal(await h.run('doctor', '-c', 'profile=lean'), EXIT.failure);
    const text = h.out.join('\n');
    assert.match(text, /\[FAIL\] CodeBuild quota: CodeBuild allows no running build in us-west-2 for ARM\/Small \(L-5ED1D25B, for the arm64 proxy and MLflow images\): 0: the deploy-time image builds cannot start/);
    assert.match(text, /fix: Ask for 1 \(free\): aws service-quotas request-service-quota-increase --service-code codebuild --quota-code L-5ED1D25B --desired-value 1 --region us-west-2; or build without CodeBuild: -c imageBuild=local/);
    assert.deepEqual(h.mocks.quotas.commandCalls(GetServiceQuotaCommand).map((c) => c.args[0].input.QuotaCode), ['L-5ED1D25B']);
    assert.match(text, /1 check failed: CodeBuild quota/);
  });

  it('servingImage with imageBuild=local: only the serving build runs in CodeBuild (Linux), and local cannot help it', async () => {
    const h = setup();
    codeBuildQuotas(h, { [CODEBUILD_QUOTAS.linux.code]: 0 });
    assert.equal(await h.run('doctor', '-c', 'imageBuild=local', '-c', 'servingImage=true'), EXIT.failure);
    const text = h.out.join('\n');
    assert.match(text, /Linux\/Small \(L-9D07B6EF, for the serving image\): 0/);
    assert.match(text, /or build without CodeBuild: -c servingImage=false$/m);
  });

  it('no value applied to the account: the AWS default is read instead', async () => {
    const h = setup();
    h.mocks.quotas.on(GetServiceQuotaCommand).rejects(new NoSuchResourceException({ $metadata: { httpStatusCode: 400 }, message: 'The request failed because the specified resource does not exist.' }));
    h.mocks.quotas.on(GetAWSDefaultServiceQuotaCommand, { ServiceCode: 'codebuild', QuotaCode: CODEBUILD_QUOTAS.linux.code }).resolves({ Quota: { Value: 60 } });
    assert.equal(await h.run('doctor'), EXIT.ok, h.text());
    assert.match(h.out.join('\n'), /\[ ok \] CodeBuild quota: concurrent builds Linux\/Small: 60/);
  });

  it('the quota cannot be read (access denied): a warning with the command to check it, not a failure', async () => {
    const h = setup();
    codeBuildQuotas(h, { [CODEBUILD_QUOTAS.linux.code]: quotaError('AccessDeniedException', 'User: arn:aws:iam::123456789012:user/dev is not authorized to perform: servicequotas:GetServiceQuota') });
    assert.equal(await h.run('doctor'), EXIT.ok, h.text());
    const text = h.out.join('\n');
    assert.match(text, /\[warn\] CodeBuild quota: could not read Linux\/Small \(L-9D07B6EF, for the x86_64 proxy and MLflow images\): Access denied[^\n]*missing permission servicequotas:GetServiceQuota/);
    assert.match(text, /fix: Check it yourself \(the deploy needs at least 1\): aws service-quotas get-service-quota --service-code codebuild --quota-code L-9D07B6EF --region us-west-2/);
  });

  it('imageBuild=local without servingImage: no CodeBuild build, nothing asked', async () => {
    const h = setup();
    assert.equal(await h.run('doctor', '-c', 'imageBuild=local'), EXIT.ok, h.text());
    assert.match(h.out.join('\n'), /\[skip\] CodeBuild quota: no deploy-time build/);
    assert.equal(h.mocks.quotas.calls().length, 0);
  });
});

describe('doctor: iamPrincipals of another account (finding 15)', () => {
  it('fails naming the ARN; principals of the deploying account pass', async () => {
    const h = harness({ runner: dockerUp });
    setStacks(h.mocks, bootstrapped());
    codeBuildQuotas(h);
    h.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await h.run('doctor', '-c', 'iamPrincipals=arn:aws:iam::111122223333:role/ci=ci'), EXIT.usage);
    assert.match(h.out.join('\n'), /\[FAIL\] IAM principals: iamPrincipals names arn:aws:iam::111122223333:role\/ci of another account than the deployment's \(123456789012\)/);
    assert.match(h.out.join('\n'), /fix: List a role of account 123456789012 instead/);
    const ok = harness({ runner: dockerUp });
    setStacks(ok.mocks, bootstrapped());
    codeBuildQuotas(ok);
    ok.mocks.sm.on(ListDomainsCommand).resolves({ Domains: [] });
    assert.equal(await ok.run('doctor', '-c', 'iamPrincipals=arn:aws:iam::123456789012:role/ci=ci'), EXIT.ok, ok.text());
    assert.match(ok.out.join('\n'), /\[ ok \] IAM principals: 1 of account 123456789012/);
  });
});
