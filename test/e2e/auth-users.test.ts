/**
 * Users mode (MLFLOW_AUTH=users) end to end on loopback: the real MLflow authentication app, started through the
 * container's entrypoint on MariaDB, behind the real nginx proxy with the IAM route's gateway token and principal map.
 * Personal accounts and their permissions, the admin from the credentials secret (and its rotation), the attempt
 * limits, and that no client can pass itself off as an IAM principal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { after, before, describe, it } from 'node:test';
import { basicAuth } from '../containers/support/proxy';
import { http, type HttpResponse } from './support/http';
import { startStack, type E2eStack } from './support/stack';
import { LOOPBACK_ACCOUNT } from './support/task-definition';
import { STANDIN_REGION } from './support/aws-standin';
import { GATEWAY_OUTPUTS, MLFLOW_OUTPUTS, STACK_DESCRIPTION_PREFIX, STACK_NAMES } from '../../src/app/names';
import { REPO_ROOT } from '../support/python-env';

const ACCOUNT = '123456789012';
const ROLE = 'SageMakerExecutionRole';
const IAM_USER = 'sagemaker-exec';
const SESSION_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/SageMaker`;
const PASSWORDS: Record<string, string> = {
  reader: randomBytes(18).toString('base64url'),
  outsider: randomBytes(18).toString('base64url'),
  manager: randomBytes(18).toString('base64url'),
};

let stack: E2eStack;
let experimentId: string;
let GATEWAY_TOKEN: string;

before(async () => {
  // The task definition as the stack synthesizes it in users mode: the admin from the secret, the default permission,
  // the Studio role and this configured role on the IAM route, the gateway token.
  stack = await startStack({ settings: { auth: 'users', iamPrincipals: `arn:aws:iam::${ACCOUNT}:role/service-role/${ROLE}=${IAM_USER}` } });
  assert.equal(ACCOUNT, LOOPBACK_ACCOUNT, 'the ARNs the test sends name the account the harness renders the stack\'s ARNs in');
  GATEWAY_TOKEN = stack.gatewayToken!;
  assert.ok(GATEWAY_TOKEN, 'the stack gives the proxy a gateway token in users mode with IAM principals');
});

after(async () => {
  await stack?.stop();
});

interface Call {
  readonly user?: string;
  readonly password?: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  readonly method?: string;
  readonly base?: string;
}

function call(path: string, options: Call = {}): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.user) headers.authorization = basicAuth(options.user, options.password ?? PASSWORDS[options.user]);
  return http(options.base ?? stack.proxy!.url, path, { method: options.method, headers, body: options.body });
}

const admin = (): Call => ({ user: stack.username, password: stack.password });

async function ok(response: Promise<HttpResponse>): Promise<any> {
  const answer = await response;
  assert.equal(answer.status, 200, answer.body);
  return JSON.parse(answer.body || '{}');
}

async function grant(by: Call, username: string, permission: string): Promise<HttpResponse> {
  return call('/api/3.0/mlflow/users/permissions/grant', {
    ...by, body: { username, resource_type: 'experiment', resource_id: experimentId, permission },
  });
}

describe('users mode with the real MLflow authentication app', () => {
  it('creates the admin from the credentials secret; a wrong admin password is 401', async () => {
    const current = await ok(call('/api/2.0/mlflow/users/current', admin()));
    assert.equal(current.user.username, stack.username);
    assert.equal(current.user.is_admin, true);
    assert.equal((await call('/api/2.0/mlflow/users/current', { user: stack.username, password: `${stack.password}x` })).status, 401);
    const experiment = await ok(call('/api/2.0/mlflow/experiments/create', { ...admin(), body: { name: 'team-experiment' } }));
    experimentId = experiment.experiment_id;
    for (const [username, password] of Object.entries(PASSWORDS)) {
      await ok(call('/api/2.0/mlflow/users/create', { ...admin(), body: { username, password } }));
    }
  });

  it('READ can read the experiment but not log to it (403)', async () => {
    await ok(grant(admin(), 'reader', 'READ'));
    const got = await ok(call(`/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`, { user: 'reader' }));
    assert.equal(got.experiment.name, 'team-experiment');
    const run = await call('/api/2.0/mlflow/runs/create', { user: 'reader', body: { experiment_id: experimentId } });
    assert.equal(run.status, 403, run.body);
  });

  it('NO_PERMISSIONS (the default) hides it: 403 on get, absent from search', async () => {
    const got = await call(`/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`, { user: 'outsider' });
    assert.equal(got.status, 403, got.body);
    const search = await ok(call('/api/2.0/mlflow/experiments/search', { user: 'outsider', body: { max_results: 100 } }));
    assert.ok(!(search.experiments ?? []).some((e: { experiment_id: string }) => e.experiment_id === experimentId), JSON.stringify(search));
    const byAdmin = await ok(call('/api/2.0/mlflow/experiments/search', { ...admin(), body: { max_results: 100 } }));
    assert.ok(byAdmin.experiments.some((e: { experiment_id: string }) => e.experiment_id === experimentId));
  });

  it('MANAGE can grant, READ cannot', async () => {
    assert.equal((await grant({ user: 'reader' }, 'outsider', 'READ')).status, 403);
    await ok(grant(admin(), 'manager', 'MANAGE'));
    await ok(grant({ user: 'manager' }, 'outsider', 'EDIT'));
    const run = await ok(call('/api/2.0/mlflow/runs/create', { user: 'outsider', body: { experiment_id: experimentId } }));
    assert.equal(run.run.info.experiment_id, experimentId);
  });

  it('answers 401 to a wrong password of a personal account and to malformed or over-long credentials', async () => {
    assert.equal((await call('/api/2.0/mlflow/users/current', { user: 'reader', password: 'not-the-password' })).status, 401);
    assert.equal((await call('/api/2.0/mlflow/users/current', { user: 'nobody', password: 'whatever-password' })).status, 401);
    for (const authorization of ['Basic !!!', 'Bearer abc', basicAuth('reader', 'x'.repeat(300)), basicAuth('u'.repeat(200), 'password1234567')]) {
      const response = await call('/api/2.0/mlflow/users/current', { headers: { authorization } });
      assert.equal(response.status, 401, authorization.slice(0, 40));
    }
  });

  it('limits failed attempts per client: 429 beyond the burst, and MLflow checks only the admitted ones', async () => {
    const client = { 'x-forwarded-for': '203.0.113.77' };
    const statuses: number[] = [];
    await Promise.all(Array.from({ length: 30 }, async (_, i) => {
      const response = await call('/api/2.0/mlflow/users/current', { headers: { ...client, authorization: basicAuth('reader', `wrong-${i}-password`) } });
      statuses.push(response.status);
    }));
    const refused = statuses.filter((s) => s === 429).length;
    const checked = statuses.filter((s) => s === 401).length;
    assert.equal(refused + checked, 30, statuses.join(' '));
    assert.ok(refused >= 15, `only ${refused} of 30 attempts were refused by the limit: ${statuses.join(' ')}`);
    // The right password from the same client, after a pause: once MLflow accepted it (the proxy's one worker learns it from MLflow's answer),
    // the proxy no longer counts it, so a burst of 30 at once is never refused.
    await new Promise((r) => setTimeout(r, 6000));
    for (let i = 0; i < 4; i += 1) {
      const response = await call('/api/2.0/mlflow/users/current', { user: 'reader', headers: client });
      assert.equal(response.status, 200, `request ${i}: ${response.status} ${response.body}`);
    }
    const burst = await Promise.all(Array.from({ length: 30 }, () => call('/api/2.0/mlflow/users/current', { user: 'reader', headers: client })));
    assert.deepEqual(burst.map((r) => r.status).filter((s) => s !== 200), [], 'verified credentials are not limited');
  });

  it('admits the IAM principal only with the gateway token, as its mapped user, who owns what it creates', async () => {
    const iam = { 'x-mlflow-gateway-token': GATEWAY_TOKEN, 'x-mlflow-iam-principal': SESSION_ARN };
    const current = await ok(call('/api/2.0/mlflow/users/current', { headers: iam }));
    assert.equal(current.user.username, IAM_USER);
    assert.equal(current.user.is_admin, false);
    const created = await ok(call('/api/2.0/mlflow/experiments/create', { headers: iam, body: { name: 'iam-experiment' } }));
    const permission = await ok(call(`/api/3.0/mlflow/users/permissions/get?username=${IAM_USER}&resource_type=experiment&resource_id=${created.experiment_id}`, admin()));
    assert.equal(permission.permission, 'MANAGE');
    // Default NO_PERMISSIONS applies to it too.
    assert.equal((await call(`/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`, { headers: iam })).status, 403);
  });

  it('the stack\'s own SageMaker role (its fixed name, in the deployment\'s account) is the sagemaker-studio user', async () => {
    const studio = { 'x-mlflow-gateway-token': GATEWAY_TOKEN, 'x-mlflow-iam-principal': `arn:aws:sts::${ACCOUNT}:assumed-role/mlflow-lab-studio-us-west-2/SageMaker-1700000000` };
    const current = await ok(call('/api/2.0/mlflow/users/current', { headers: studio }));
    assert.equal(current.user.username, 'sagemaker-studio');
    assert.equal(current.user.is_admin, false);
  });

  it('never takes a forged principal: no token, a wrong token, an unmapped ARN, a forged user header', async () => {
    const asIam = async (headers: Record<string, string>, user?: string): Promise<HttpResponse> =>
      call('/api/2.0/mlflow/users/current', { headers, ...(user ? { user } : {}) });
    // No token: the principal header is ignored; without a password that is 401, with one it is that user.
    assert.equal((await asIam({ 'x-mlflow-iam-principal': SESSION_ARN })).status, 401);
    const withPassword = await ok(asIam({ 'x-mlflow-iam-principal': SESSION_ARN }, 'reader'));
    assert.equal(withPassword.user.username, 'reader');
    // A wrong token (for example one a client made up on the password route): refused even with a valid password.
    // The right token with its last character changed (to another one: a generated token may end in either).
    const altered = `${GATEWAY_TOKEN.slice(0, -1)}${GATEWAY_TOKEN.endsWith('A') ? 'B' : 'A'}`;
    for (const token of [altered, '', 'x'.repeat(300)]) {
      assert.equal((await asIam({ 'x-mlflow-gateway-token': token, 'x-mlflow-iam-principal': SESSION_ARN })).status, 401, token);
      assert.equal((await asIam({ 'x-mlflow-gateway-token': token, 'x-mlflow-iam-principal': SESSION_ARN }, 'reader')).status, 401, token);
    }
    // The right token but a principal nobody mapped (another role, a user of another account).
    for (const arn of [`arn:aws:sts::${ACCOUNT}:assumed-role/OtherRole/x`, `arn:aws:sts::999999999999:assumed-role/${ROLE}/x`, '']) {
      assert.equal((await asIam({ 'x-mlflow-gateway-token': GATEWAY_TOKEN, 'x-mlflow-iam-principal': arn })).status, 401, arn);
    }
    // MLflow's trusted header sent by a client through the proxy is replaced, never passed on.
    assert.equal((await asIam({ 'x-mlflow-auth-user': IAM_USER })).status, 401);
    const asReader = await ok(asIam({ 'x-mlflow-auth-user': stack.username }, 'reader'));
    assert.equal(asReader.user.username, 'reader');
    // Straight to MLflow (only the proxy can, in the task): the header names IAM-mapped users only, never the admin.
    const direct = await call('/api/2.0/mlflow/users/current', { base: stack.servers[0].url, headers: { 'x-mlflow-auth-user': stack.username } });
    assert.equal(direct.status, 401);
  });

  it('the CLI adds a teammate (password generated into Secrets Manager) and grants READ, through the endpoint the stack outputs name', async () => {
    // The deployment as the CLI finds it: the two stacks' outputs in CloudFormation (moto), the secrets in Secrets Manager.
    const cloudformation = new CloudFormationClient({ region: STANDIN_REGION, endpoint: stack.aws.clientEnv().AWS_ENDPOINT_URL, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const template = (description: string, outputs: Record<string, string>) => JSON.stringify({
      Description: `${STACK_DESCRIPTION_PREFIX}${description}`,
      Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
      Outputs: Object.fromEntries(Object.entries(outputs).map(([key, value]) => [key, { Value: value }])),
    });
    await cloudformation.send(new CreateStackCommand({ StackName: STACK_NAMES.gateway, TemplateBody: template('gateway', { [GATEWAY_OUTPUTS.trackingUri]: stack.proxy!.url }) }));
    await cloudformation.send(new CreateStackCommand({ StackName: STACK_NAMES.mlflow, TemplateBody: template('mlflow', { [MLFLOW_OUTPUTS.mlflowCredentialsSecretName]: stack.secretName }) }));
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'cli.js'), 'users', ...args, '--region', STANDIN_REGION], {
      encoding: 'utf8', cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: stack.workDir, ...stack.aws.clientEnv() }, timeout: 120_000,
    });

    const added = cli('add', 'teammate');
    assert.equal(added.status, 0, added.stderr);
    assert.doesNotMatch(added.stdout + added.stderr, /password:/i, 'no password printed without --show-password');
    const secret = await stack.runPython(['-c', 'import boto3, sys; print(boto3.client("secretsmanager").get_secret_value(SecretId="mlflow/users/teammate")["SecretString"])'], stack.aws.clientEnv());
    const { username, password } = JSON.parse(secret.stdout.trim());
    assert.equal(username, 'teammate');
    assert.ok(password.length >= 20, 'a generated password');
    const teammate: Call = { user: 'teammate', password };
    // Default NO_PERMISSIONS until granted.
    assert.equal((await call(`/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`, teammate)).status, 403);

    const granted = cli('grant', 'teammate', '--experiment', 'team-experiment', '--permission', 'READ');
    assert.equal(granted.status, 0, granted.stderr);
    assert.equal((await call(`/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`, teammate)).status, 200);
    assert.equal((await call('/api/2.0/mlflow/runs/create', { ...teammate, body: { experiment_id: experimentId } })).status, 403);

    const listed = cli('list');
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /teammate/);
    // A wrong password for the personal account is 401.
    assert.equal((await call('/api/2.0/mlflow/users/current', { user: 'teammate', password: `${password}x` })).status, 401);
  });

  it('takes a new admin password from the secret at the next start; the old one stops working', async () => {
    const rotated = randomBytes(24).toString('base64url');
    const server = await stack.startMlflow({ MLFLOW_PASSWORD: rotated });
    const current = await ok(call('/api/2.0/mlflow/users/current', { base: server.url, user: stack.username, password: rotated }));
    assert.equal(current.user.is_admin, true);
    assert.equal((await call('/api/2.0/mlflow/users/current', { base: server.url, user: stack.username, password: stack.password })).status, 401);
    assert.match(server.service.output(), /now has the password of the credentials secret/);
  });
});
