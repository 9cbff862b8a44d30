/**
 * SSO mode (auth=sso) end to end on loopback: a real OpenID Connect provider (Ory Hydra, built from its Go module), the
 * real oauth2-proxy (built from its Go module at the release of the stack's sidecar image) with its container's
 * environment from the synthesized task definition, the real nginx proxy and MLflow started through their entrypoints
 * on MariaDB. Sign-in in headless Chromium (screenshot kept), the provider's groups as MLflow permissions, a machine's
 * client-credentials token used by the MLflow Python client, forged and expired tokens, sign-out, and a removed user
 * losing access within the session refresh bound.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign as rsaSign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { freePort } from '../containers/support/proxy';
import { http } from './support/http';
import { cookieHeader, signInOverHttp, startOpenIdProvider, type OpenIdProvider } from './support/openid-provider';
import { sleep } from './support/service';
import { startStack, TEST_OUTPUT, type E2eStack } from './support/stack';

const CLIENT_SECRET = 'mlflow-client-secret-for-loopback';
const MACHINE = { id: 'ci-pipeline', secret: 'ci-pipeline-secret-for-loopback' };
const MACHINE_AUDIENCE = 'mlflow-api';
/** Browser sessions are checked with the provider again after this long (ssoSessionRefreshSeconds). */
const REFRESH_SECONDS = 10;
const USERS = {
  admin: { email: 'ada@example.com', password: 'admin-password-1', groups: ['mlflow-admins'] },
  reader: { email: 'rita@example.com', password: 'reader-password-1', groups: ['analysts'] },
  editor: { email: 'eddie@example.com', password: 'editor-password-1', groups: ['data-science', 'analysts'] },
  outsider: { email: 'otto@example.com', password: 'outsider-password-1', groups: [] as string[] },
  leaver: { email: 'lee@example.com', password: 'leaver-password-1', groups: ['data-science'] },
} as const;
type Person = keyof typeof USERS;

let provider: OpenIdProvider;
let otherProvider: OpenIdProvider;
let stack: E2eStack;
let browser: Browser;
let logDir: string;
const sessions = new Map<Person, BrowserContext>();
let experimentId: string;

before(async () => {
  logDir = mkdtempSync(join(tmpdir(), 'mlflow-sso-'));
  provider = await startOpenIdProvider(logDir);
  // Another provider, trusted by nobody: its tokens carry a valid signature of their own issuer.
  otherProvider = await startOpenIdProvider(logDir, 'hydra-other');
  const proxyPort = await freePort();
  await provider.registerClient({
    client_id: 'mlflow',
    client_secret: CLIENT_SECRET,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid email profile offline_access',
    redirect_uris: [`http://127.0.0.1:${proxyPort}/oauth2/callback`],
  });
  for (const p of [provider, otherProvider]) {
    await p.registerClient({ client_id: MACHINE.id, client_secret: MACHINE.secret, grant_types: ['client_credentials'], audience: [MACHINE_AUDIENCE] });
  }
  // A client named like the Studio role's MLflow user: a signed-in identity never takes an IAM principal's user.
  await provider.registerClient({ client_id: 'sagemaker-studio', client_secret: 'impostor-secret', grant_types: ['client_credentials'], audience: [MACHINE_AUDIENCE] });
  await provider.registerClient({ client_id: 'other-app', client_secret: 'other-app-secret', grant_types: ['client_credentials'], audience: ['other-api'] });
  await provider.registerClient({ client_id: 'short-lived', client_secret: 'short-lived-secret', grant_types: ['client_credentials'], audience: [MACHINE_AUDIENCE] });
  await provider.setClientCredentialsLifespan('short-lived', '2s');
  for (const user of Object.values(USERS)) provider.users.set(user.email, { password: user.password, groups: user.groups });

  stack = await startStack({
    settings: {
      auth: 'sso',
      // Substituted on loopback by the provider's issuer (StackOptions.sso).
      ssoIssuerUrl: 'https://idp.loopback.test/',
      ssoClientId: 'mlflow',
      ssoGroupPermissions: 'analysts=READ,data-science=EDIT',
      ssoTokenAudiences: MACHINE_AUDIENCE,
      ssoSessionRefreshSeconds: REFRESH_SECONDS,
    },
    sso: { issuer: provider.issuer, clientSecret: CLIENT_SECRET, proxyPort },
  });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  await provider?.stop();
  await otherProvider?.stop();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

/** Signs `person` in with Chromium through the proxy's sign-in page and the provider's form; returns the browser context. */
async function signIn(person: Person, screenshot?: string): Promise<BrowserContext> {
  const user = USERS[person];
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${stack.proxy!.url}/#/experiments`, { waitUntil: 'domcontentloaded' });
  // Redirected: the proxy's sign-in, the provider's authorization endpoint, its login application's form.
  assert.match(page.url(), new RegExp(`^http://127\\.0\\.0\\.1:\\d+/login\\?login_challenge=`), `the provider's sign-in form, not ${page.url()}`);
  await page.fill('#email', user.email);
  await page.fill('#password', user.password);
  await Promise.all([page.waitForURL(`${stack.proxy!.url}/**`, { timeout: 30_000 }), page.click('#submit')]);
  if (screenshot) {
    await page.getByText('Experiments').first().waitFor({ state: 'visible', timeout: 90_000 });
    await page.screenshot({ path: join(TEST_OUTPUT, screenshot), fullPage: true });
    console.log(`screenshot: ${join(TEST_OUTPUT, screenshot)}`);
  }
  await page.close();
  sessions.set(person, context);
  return context;
}

async function session(person: Person): Promise<BrowserContext> {
  return sessions.get(person) ?? signIn(person);
}

/** An MLflow API call with `person`'s session cookie (the browser context's cookie jar, which follows refreshes). */
async function api(person: Person, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, any> }> {
  const context = await session(person);
  const response = await context.request.fetch(`${stack.proxy!.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { accept: 'application/json', ...headers },
    ...(body === undefined ? {} : { data: body }),
    maxRedirects: 0,
  });
  const text = await response.text();
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  return { status: response.status(), json };
}

/** An MLflow API call with a bearer token and nothing else. */
function withToken(token: string, path: string, body?: unknown) {
  return http(stack.proxy!.url, path, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, body });
}

describe('browser sign-in through the proxy', () => {
  it('a browser without a session is sent to the provider; after signing in there the MLflow UI shows (screenshot), as the signed-in user', async () => {
    await signIn('admin', 'sso-signed-in.png');
    const current = await api('admin', '/api/2.0/mlflow/users/current');
    assert.equal(current.status, 200, JSON.stringify(current.json));
    assert.equal(current.json.user.username, USERS.admin.email);
    assert.equal(current.json.user.is_admin, true, 'a member of mlflow-admins is an MLflow admin');
  });

  it('an API client without a session or token gets 401 and a Bearer challenge, not a redirect', async () => {
    const response = await http(stack.proxy!.url, '/api/2.0/mlflow/experiments/search?max_results=1', { headers: { accept: 'application/json' } });
    assert.equal(response.status, 401);
    assert.match(String(response.headers['www-authenticate']), /^Bearer /);
  });

  it('a client cannot name itself: X-MLflow-Auth-User and X-MLflow-Auth-Groups from a client are replaced', async () => {
    const forged = { 'x-mlflow-auth-user': USERS.admin.email, 'x-mlflow-auth-groups': 'mlflow-admins' };
    const anonymous = await http(stack.proxy!.url, '/api/2.0/mlflow/users/current', { headers: { ...forged, accept: 'application/json' } });
    assert.equal(anonymous.status, 401);
    const asReader = await api('reader', '/api/2.0/mlflow/users/current', undefined, forged);
    assert.equal(asReader.status, 200);
    assert.equal(asReader.json.user.username, USERS.reader.email);
    assert.equal(asReader.json.user.is_admin, false);
  });
});

describe('the IAM route in sso mode', () => {
  it('a SageMaker role vouched for by API Gateway (gateway token) acts as its user; a provider identity of the same name is refused', async () => {
    assert.ok(stack.gatewayToken, 'the Studio role is on the IAM route by default');
    const studio = { 'x-mlflow-gateway-token': stack.gatewayToken!, 'x-mlflow-iam-principal': 'arn:aws:sts::123456789012:assumed-role/mlflow-lab-studio-us-west-2/SageMaker-1' };
    const viaIam = await http(stack.proxy!.url, '/api/2.0/mlflow/users/current', { headers: { ...studio, accept: 'application/json' } });
    assert.equal(viaIam.status, 200, viaIam.body);
    assert.equal(JSON.parse(viaIam.body).user.username, 'sagemaker-studio');
    const wrongToken = await http(stack.proxy!.url, '/api/2.0/mlflow/users/current', { headers: { ...studio, 'x-mlflow-gateway-token': 'x'.repeat(48), accept: 'application/json' } });
    assert.equal(wrongToken.status, 401);
    const impostor = await provider.clientCredentialsToken('sagemaker-studio', 'impostor-secret', MACHINE_AUDIENCE);
    const response = await withToken(impostor, '/api/2.0/mlflow/users/current');
    assert.equal(response.status, 403, response.body);
  });
});

describe('provider groups as MLflow permissions', () => {
  before(async () => {
    const created = await api('admin', '/api/2.0/mlflow/experiments/create', { name: 'sso-team' });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    experimentId = created.json.experiment_id;
  });

  it('a member of a READ group reads what nobody granted them but cannot log a run', async () => {
    assert.equal((await api('reader', `/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`)).status, 200);
    const run = await api('reader', '/api/2.0/mlflow/runs/create', { experiment_id: experimentId });
    assert.equal(run.status, 403, JSON.stringify(run.json));
  });

  it('a member of an EDIT group (and a READ one) logs a run: the highest of their groups applies', async () => {
    const run = await api('editor', '/api/2.0/mlflow/runs/create', { experiment_id: experimentId });
    assert.equal(run.status, 200, JSON.stringify(run.json));
  });

  it('a user in no mapped group gets the default permission (NO_PERMISSIONS): not even a read', async () => {
    assert.equal((await api('outsider', `/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`)).status, 403);
  });

  it('the admin group grants permissions, a READ member cannot', async () => {
    const grant = { username: MACHINE.id, resource_type: 'experiment', resource_id: experimentId, permission: 'EDIT' };
    // The machine's user exists once it has called MLflow (its first request creates it).
    const token = await provider.clientCredentialsToken(MACHINE.id, MACHINE.secret, MACHINE_AUDIENCE);
    const machine = await withToken(token, '/api/2.0/mlflow/users/current');
    assert.equal(machine.status, 200, machine.body);
    assert.equal(JSON.parse(machine.body).user.username, MACHINE.id, 'a client-credentials token acts as the user of its subject');
    const refused = await api('reader', '/api/3.0/mlflow/users/permissions/grant', grant);
    assert.equal(refused.status, 403, JSON.stringify(refused.json));
    const granted = await api('admin', '/api/3.0/mlflow/users/permissions/grant', grant);
    assert.equal(granted.status, 200, JSON.stringify(granted.json));
  });
});

describe('identities in lower case', () => {
  it('a provider identity in mixed case is its MLflow user in lower case; an MLflow user differing from it only in case is refused by name (403, not a 500)', async () => {
    const asCookie = async (email: string, password: string) => {
      provider.users.set(email, { password, groups: ['analysts'] });
      const cookies = await signInOverHttp(stack.proxy!.url, email, password);
      return http(stack.proxy!.url, '/api/2.0/mlflow/users/current', { headers: { cookie: cookieHeader(cookies), accept: 'application/json' } });
    };
    const mixed = await asCookie('Dana.Mixed@Example.com', 'dana-password-1');
    assert.equal(mixed.status, 200, mixed.body);
    assert.equal(JSON.parse(mixed.body).user.username, 'dana.mixed@example.com');
    // An account from before (users mode, or an admin's users/create) named in another case.
    const created = await api('admin', '/api/2.0/mlflow/users/create', { username: 'Carla@Example.com', password: 'carla-old-password-123' });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const refused = await asCookie('carla@example.com', 'carla-password-1');
    assert.equal(refused.status, 403, refused.body);
    assert.match(JSON.parse(refused.body).message, /MLflow already has the user 'Carla@Example\.com', which differs from the signed-in identity 'carla@example\.com' only in case/);
  });
});

describe('machines: the provider\'s tokens', () => {
  it('the MLflow Python client logs a run with a client-credentials token in MLFLOW_TRACKING_TOKEN, with the permission granted to the client\'s user', async () => {
    const token = await provider.clientCredentialsToken(MACHINE.id, MACHINE.secret, MACHINE_AUDIENCE);
    const script = [
      'import mlflow, sys',
      `run = mlflow.MlflowClient().create_run("${experimentId}")`,
      'mlflow.MlflowClient().log_metric(run.info.run_id, "loss", 0.25)',
      'print(run.info.run_id)',
    ].join('\n');
    const result = await stack.runPython(['-c', script], { MLFLOW_TRACKING_URI: stack.proxy!.url, MLFLOW_TRACKING_TOKEN: token, ...stack.aws.clientEnv() });
    assert.equal(result.status, 0, result.stderr);
    const runId = result.stdout.trim().split('\n').pop();
    const run = await api('admin', `/api/2.0/mlflow/runs/get?run_id=${runId}`);
    assert.equal(run.status, 200, JSON.stringify(run.json));
    assert.deepEqual(run.json.run.data.metrics.map((m: { key: string; value: number }) => [m.key, m.value]), [['loss', 0.25]]);
  });

  it('refuses forged and expired tokens: a changed claim (signature), alg=none, a token for another audience, another issuer, an expired one', async () => {
    const valid = await provider.clientCredentialsToken(MACHINE.id, MACHINE.secret, MACHINE_AUDIENCE);
    assert.equal((await withToken(valid, '/api/2.0/mlflow/users/current')).status, 200, 'the genuine token is accepted');
    const [header, payload] = valid.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const resigned = valid.split('.');
    resigned[1] = encode({ ...claims, sub: USERS.admin.email });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ownHeader = { ...JSON.parse(Buffer.from(header, 'base64url').toString()) };
    const ownSigned = `${encode(ownHeader)}.${encode(claims)}`;
    const forged: Record<string, string> = {
      'claims changed after signing': resigned.join('.'),
      'alg=none': `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ ...claims, sub: USERS.admin.email })}.`,
      'signed with another key under the provider\'s key id': `${ownSigned}.${rsaSign('sha256', Buffer.from(ownSigned), privateKey).toString('base64url')}`,
      'HS256 with the public client id as the key': (() => {
        const body = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
        return `${body}.${createHmac('sha256', MACHINE.id).update(body).digest('base64url')}`;
      })(),
      'another audience': await provider.clientCredentialsToken('other-app', 'other-app-secret', 'other-api'),
      'another issuer': await otherProvider.clientCredentialsToken(MACHINE.id, MACHINE.secret, MACHINE_AUDIENCE),
    };
    const expired = await provider.clientCredentialsToken('short-lived', 'short-lived-secret', MACHINE_AUDIENCE);
    assert.equal((await withToken(expired, '/api/2.0/mlflow/users/current')).status, 200, 'the short-lived token works while valid');
    await sleep(3_500);
    forged.expired = expired;
    for (const [name, token] of Object.entries(forged)) {
      const response = await withToken(token, '/api/2.0/mlflow/users/current');
      assert.equal(response.status, 401, `${name}: ${response.status} ${response.body}`);
    }
  });
});

describe('sign-out and removal', () => {
  it('after sign-out the session cookie no longer works and the browser is sent to sign in again', async () => {
    const context = await signIn('editor');
    assert.equal((await api('editor', '/api/2.0/mlflow/users/current')).status, 200);
    const page = await context.newPage();
    await page.goto(`${stack.proxy!.url}/oauth2/sign_out`, { waitUntil: 'domcontentloaded' });
    assert.equal((await api('editor', '/api/2.0/mlflow/users/current')).status, 401);
    await page.goto(`${stack.proxy!.url}/#/experiments`, { waitUntil: 'domcontentloaded' });
    assert.match(page.url(), /\/login\?login_challenge=/, 'sent to the provider\'s sign-in');
    await page.close();
  });

  it(`a user removed at the provider loses access within the session refresh bound (${REFRESH_SECONDS} s here)`, async () => {
    assert.equal((await api('leaver', '/api/2.0/mlflow/users/current')).status, 200);
    await provider.removeUser(USERS.leaver.email);
    const removedAt = Date.now();
    let status = 200;
    while (Date.now() - removedAt < (REFRESH_SECONDS + 8) * 1000) {
      status = (await api('leaver', '/api/2.0/mlflow/users/current')).status;
      if (status !== 200) break;
      await sleep(1_000);
    }
    const seconds = (Date.now() - removedAt) / 1000;
    assert.equal(status, 401, `still signed in ${seconds} s after the removal`);
    assert.ok(seconds <= REFRESH_SECONDS + 8, `refused after ${seconds} s`);
    console.log(`removed user refused after ${seconds.toFixed(1)} s (bound ${REFRESH_SECONDS} s)`);
  });
});
