import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerServiceException } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { EXIT } from '../../src/cli/errors';
import { ACCOUNT, credentialsError, harness, Harness, outputs, setStacks } from './helpers';

const URI = 'https://abc123.execute-api.us-west-2.amazonaws.com';
const PASSWORD = `p'a"s$s\`w(o)r d!\\`;

function deployed(h: Harness, secretName = 'mlflow-server-credentials'): void {
  setStacks(h.mocks, {
    MLflowVpcStack: { Outputs: outputs({ MlflowCredentialsSecretName: secretName }) },
    HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: URI }) },
  });
  h.mocks.secrets.on(GetSecretValueCommand, { SecretId: secretName }).resolves({ SecretString: JSON.stringify({ username: 'admin', password: PASSWORD }) });
}

describe('credentials', () => {
  it('prints URI, username and password, reading the secret named by the stack output', async () => {
    const h = harness();
    deployed(h, 'custom/secret-name');
    assert.equal(await h.run('credentials'), EXIT.ok);
    assert.deepEqual(h.out, [`Tracking URI: ${URI}`, 'Username:     admin', `Password:     ${PASSWORD}`]);
    assert.equal(h.mocks.secrets.commandCalls(GetSecretValueCommand)[0].args[0].input.SecretId, 'custom/secret-name');
    assert.deepEqual(h.targets, [{ region: 'us-west-2', profile: undefined }]);
  });

  it('--env prints only export lines on stdout, quoted so that a shell gets the exact values back', async () => {
    const h = harness();
    deployed(h);
    assert.equal(await h.run('credentials', '--env'), EXIT.ok);
    assert.equal(h.out.length, 3);
    assert.ok(h.out.every((line) => line.startsWith('export MLFLOW_TRACKING_')));
    const script = `${h.out.join('\n')}\nprintf '%s|%s|%s' "$MLFLOW_TRACKING_URI" "$MLFLOW_TRACKING_USERNAME" "$MLFLOW_TRACKING_PASSWORD"`;
    const printed = execFileSync('sh', ['-c', 'eval "$1"', 'sh', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(printed, `${URI}|admin|${PASSWORD}`);
  });

  it('falls back to the configured secret name when the stack has no such output', async () => {
    const h = harness();
    setStacks(h.mocks, { MLflowVpcStack: {}, HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: URI }) } });
    h.mocks.secrets.on(GetSecretValueCommand, { SecretId: 'from-context' }).resolves({ SecretString: '{"username":"u","password":"p"}' });
    assert.equal(await h.run('credentials', '-c', 'mlflowSecretName=from-context'), EXIT.ok);
    assert.equal(h.out[1], 'Username:     u');
  });

  it('no credentials: exit 3 with how to configure them', async () => {
    const h = harness();
    h.mocks.sts.on(GetCallerIdentityCommand).rejects(credentialsError());
    assert.equal(await h.run('credentials'), EXIT.noCredentials);
    assert.match(h.err.join('\n'), /No AWS credentials found/);
    assert.match(h.err.join('\n'), /aws configure|aws sso login/);
    assert.deepEqual(h.out, []);
  });

  it('stack not deployed: exit 5 naming the stack, account and region', async () => {
    const h = harness();
    assert.equal(await h.run('credentials', '--env'), EXIT.notDeployed);
    assert.match(h.err[0], new RegExp(`Stack MLflowVpcStack is not deployed in account ${ACCOUNT}, region us-west-2`));
    assert.deepEqual(h.out, []);
  });

  it('--env without the gateway stack: exit 5, no partial export lines', async () => {
    const h = harness();
    setStacks(h.mocks, { MLflowVpcStack: {} });
    h.mocks.secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"username":"u","password":"p"}' });
    assert.equal(await h.run('credentials', '--env'), EXIT.notDeployed);
    assert.match(h.err[0], /HttpGatewayStack is not deployed/);
    assert.deepEqual(h.out, []);
  });

  it('access denied on the secret: exit 4 naming the missing permission', async () => {
    const h = harness();
    deployed(h);
    h.mocks.secrets.on(GetSecretValueCommand).rejects(
      new SecretsManagerServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: `User: arn:aws:iam::${ACCOUNT}:user/dev is not authorized to perform: secretsmanager:GetSecretValue on resource: mlflow-server-credentials`,
      }),
    );
    assert.equal(await h.run('credentials'), EXIT.accessDenied);
    assert.match(h.err[0], /missing permission secretsmanager:GetSecretValue/);
  });

  it('secret deleted: exit 5', async () => {
    const h = harness();
    deployed(h);
    h.mocks.secrets.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ $metadata: {}, message: "Secrets Manager can't find the specified secret." }));
    assert.equal(await h.run('credentials'), EXIT.notDeployed);
  });

  it('malformed secret: exit 1 and the secret value is never printed', async () => {
    const h = harness();
    deployed(h);
    h.mocks.secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"user":"admin","pass":"hunter2"}' });
    assert.equal(await h.run('credentials'), EXIT.failure);
    assert.doesNotMatch(h.text(), /hunter2/);
    assert.match(h.err[0], /not JSON with string "username" and "password"/);
  });

  it('credentials for another account than AWS_ACCOUNT: exit 6', async () => {
    const h = harness({ env: { AWS_REGION: 'us-west-2', AWS_ACCOUNT: '999999999999' } });
    deployed(h);
    assert.equal(await h.run('credentials'), EXIT.wrongTarget);
    assert.match(h.err[0], /credentials are for account 123456789012, but the configuration targets account 999999999999/);
    assert.equal(h.mocks.secrets.commandCalls(GetSecretValueCommand).length, 0);
  });
});
