/**
 * The authorization conformance suite (issue 22), for one access mode: every route the pinned MLflow's server
 * registers, read from its real Flask and FastAPI apps (routes.py, never a hand list), is sent as each role (anonymous,
 * NO_PERMISSIONS, READ, EDIT, MANAGE, admin and an IAM-mapped principal without a grant) against resources another
 * user owns, through the real proxy in front of the real MLflow on MariaDB (exercise.py, one Python process). Each
 * route's class (open, signed-in, READ, EDIT, MANAGE, admin, refused) follows from which roles get past authorization
 * (any answer but 401 and 403); the checked-in classification of the mode must match it, a route it does not know
 * fails the suite, and the mode's page in docs/reference must be the table of this run.
 *
 * - users mode (authorization-conformance.test.ts): the roles are MLflow accounts (basic auth) an admin created, the
 *   grants made by the resources' owner; classification.json, docs/reference/authorization.md.
 * - sso mode (authorization-conformance-sso.test.ts, issue 25): the roles are identities of a real OpenID provider
 *   (Ory Hydra) signed in through the real oauth2-proxy and nginx (the authorization-code flow over plain HTTP, as a
 *   browser follows it; each role's session cookie then carries its requests), the admin a member of the admin group,
 *   READ, EDIT and MANAGE granted to each identity by that admin through MLflow's permission API, the default
 *   permission from ssoGroupPermissions (a group mapped to NO_PERMISSIONS, the owner's, so that no group default
 *   hides a missing grant); classification-sso.json, docs/reference/authorization-sso.md. Every route whose class
 *   differs from users mode's (classification.json) must be explained in sso-differences.json, which the page lists.
 *
 * After an MLflow upgrade or a change of the access rules: review the differences, then
 * UPDATE_AUTHORIZATION=1 node --import tsx --test test/e2e/authorization-conformance{,-sso}.test.ts
 * rewrites the classification and the table.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../containers/support/proxy';
import { REPO_ROOT } from '../../support/python-env';
import { http } from '../support/http';
import { signInOverHttp, startOpenIdProvider, type OpenIdProvider } from '../support/openid-provider';
import { startStack, type E2eStack } from '../support/stack';

export type Mode = 'users' | 'sso';

const DIR = join(REPO_ROOT, 'test', 'e2e', 'conformance');
const UPDATE = process.env.UPDATE_AUTHORIZATION === '1';
const ACCOUNT = '123456789012';
const IAM_USER = 'conformance-iam';
export const ROLES = ['anonymous', 'none', 'read', 'edit', 'manage', 'admin', 'iam'] as const;
type Role = (typeof ROLES)[number];
const LADDER: ReadonlyArray<[Role, string]> = [['anonymous', 'open'], ['none', 'signed-in'], ['read', 'READ'], ['edit', 'EDIT'], ['manage', 'MANAGE'], ['admin', 'admin']];

interface Route { path: string; method: string; app: string }
export type Statuses = Record<Role, number | string>;

/** Where each mode's checked-in classification and generated page are. */
export const FILES: Record<Mode, { classification: string; table: string; output: string }> = {
  users: { classification: join(DIR, 'classification.json'), table: join(REPO_ROOT, 'docs', 'reference', 'authorization.md'), output: 'authorization.md' },
  sso: { classification: join(DIR, 'classification-sso.json'), table: join(REPO_ROOT, 'docs', 'reference', 'authorization-sso.md'), output: 'authorization-sso.md' },
};
/** Why a route's class in sso mode differs from users mode's: `{"METHOD path": "reason"}`. */
export const SSO_DIFFERENCES = join(DIR, 'sso-differences.json');

const passed = (status: number | string): boolean => status !== 401 && status !== 403;

/** The class a route's answers show: the least privileged role that gets past authorization, and every role above it. */
export function classify(statuses: Statuses): string {
  if (Object.values(statuses).includes('not sent')) return 'not exercised';
  const first = LADDER.findIndex(([role]) => passed(statuses[role]));
  if (first < 0) return 'refused';
  const irregular = LADDER.slice(first).filter(([role]) => !passed(statuses[role])).map(([role]) => role);
  if (irregular.length) return `irregular (${irregular.join(', ')} refused)`;
  // The IAM principal holds no grant: it must fare as NO_PERMISSIONS does.
  if (passed(statuses.iam) !== passed(statuses.none)) return `irregular (IAM principal ${passed(statuses.iam) ? 'passes' : 'refused'})`;
  return LADDER[first][1];
}

/** 401 and 403 as they are; past authorization: 2xx (done), 4xx (the handler refused the made-up request), 5xx. */
function mark(status: number | string): string {
  if (status === 401 || status === 403 || typeof status !== 'number') return String(status);
  return `${Math.floor(status / 100)}xx`;
}

const ROLE_TEXT: Record<Mode, string[]> = {
  users: [
    'as each role against resources another user owns (an experiment with a run and a trace, a registered model with a',
    'version and an alias, a logged model), each role with its own set granted at its level (a fresh one after a',
    'destructive call of that role went through). 401 and 403 are refusals; 2xx, 4xx and 5xx are answers past',
  ],
  sso: [
    'as each role against resources another user owns (an experiment with a run and a trace, a registered model with a',
    'version and an alias, a logged model), each role with its own set granted at its level (a fresh one after a',
    'destructive call of that role went through). Each role but the IAM principal is an identity of a real OpenID',
    'provider (Ory Hydra) signed in through oauth2-proxy (the authorization-code flow; its session cookie carries the',
    'requests): the admin is a member of the admin group, READ, EDIT and MANAGE were granted to each identity by that',
    'admin through MLflow\'s permission API, and the default permission comes from `ssoGroupPermissions`. 401 and 403',
    'are refusals; 2xx, 4xx and 5xx are answers past',
  ],
};

export function table(mode: Mode, routesByKey: Record<string, Statuses>, mlflowVersion: string, differences: Record<string, { users: string; reason: string }> = {}): string {
  const keys = Object.keys(routesByKey).sort((a, b) => a.split(' ')[1].localeCompare(b.split(' ')[1]) || a.localeCompare(b));
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(classify(routesByKey[key]), (counts.get(classify(routesByKey[key])) ?? 0) + 1);
  const lines = [
    `# Authorization of every MLflow route in ${mode} mode`,
    '',
    `Generated by \`test/e2e/authorization-conformance${mode === 'users' ? '' : `-${mode}`}.test.ts\` (do not edit): MLflow ${mlflowVersion} behind the proxy, ${mode} mode, on`,
    'MariaDB, with the task definition as synthesized. Every route the server registers (its Flask and FastAPI apps) was sent',
    ...ROLE_TEXT[mode],
    'authorization (4xx: the handler, or a validation before the permission check, refused the made-up parameters, so',
    'a "signed-in" class with 4xx answers shows no refusal rather than a proven right). The class is the least privileged',
    'role that gets past authorization. The IAM principal holds no grant (as NO_PERMISSIONS).',
    'Requests carry the load balancer\'s X-Forwarded-For, as in the task. docs/reference/security.md explains the classes.',
    '',
    `Routes: ${keys.length}. ${[...counts.entries()].sort().map(([c, n]) => `${c}: ${n}`).join('; ')}.`,
    '',
  ];
  if (mode !== 'users') {
    const differing = Object.keys(differences).sort();
    lines.push(`Routes whose class differs from users mode's ([authorization.md](authorization.md)): ${differing.length}.`, '');
    if (differing.length) {
      lines.push('| Method | Route | users | sso | Why |', '|---|---|---|---|---|');
      for (const key of differing) {
        const [method, path] = key.split(' ');
        lines.push(`| ${method} | \`${path.replace(/\|/g, '\\|')}\` | ${differences[key].users} | ${classify(routesByKey[key])} | ${differences[key].reason} |`);
      }
      lines.push('');
    }
  }
  lines.push(
    '| Method | Route | Class | anonymous | NO_PERMISSIONS | READ | EDIT | MANAGE | admin | IAM |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const key of keys) {
    const [method, path] = key.split(' ');
    const s = routesByKey[key];
    lines.push(`| ${method} | \`${path.replace(/\|/g, '\\|')}\` | ${classify(s)} | ${ROLES.map((role) => mark(s[role])).join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** What exercise.py reads: a role's credentials (basic auth, headers or session cookies), its MLflow user and grant. */
interface RoleSpec {
  user?: string;
  password?: string;
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
  user_name?: string;
  grant?: string | null;
}

interface Setup {
  stack: E2eStack;
  owner: RoleSpec;
  roles: Record<Role, RoleSpec>;
  /** The role whose session makes the grants (users mode: the owner, who holds MANAGE on its resources). */
  granter?: Role;
  stop(): Promise<void>;
}

const GRANTS: Partial<Record<Role, string | null>> = { none: null, read: 'READ', edit: 'EDIT', manage: 'MANAGE' };

async function usersSetup(): Promise<Setup> {
  // No model catalog from the internet (MLflow fetches it from GitHub for the AI gateway's model lists): tests stay on
  // loopback, and an unreachable URL would hold each such request for a minute.
  const stack = await startStack({
    settings: { auth: 'users', iamPrincipals: `arn:aws:iam::${ACCOUNT}:role/ConformanceRole=${IAM_USER}` },
    mlflowEnvOverrides: [{ MLFLOW_MODEL_CATALOG_URI: '' }],
  });
  const passwords: Record<string, string> = {};
  for (const user of ['owner', 'none', 'read', 'edit', 'manage']) {
    passwords[user] = randomBytes(18).toString('base64url');
    const created = await http(stack.proxy!.url, '/api/2.0/mlflow/users/create', { headers: { authorization: stack.authorization() }, body: { username: `conformance-${user}`, password: passwords[user] } });
    assert.equal(created.status, 200, created.body);
  }
  const roles: Partial<Record<Role, RoleSpec>> = {
    anonymous: {},
    admin: { user: stack.username, password: stack.password, user_name: stack.username, grant: null },
    iam: { headers: { 'X-MLflow-Gateway-Token': stack.gatewayToken!, 'X-MLflow-IAM-Principal': `arn:aws:sts::${ACCOUNT}:assumed-role/ConformanceRole/s` }, user_name: IAM_USER, grant: null },
  };
  for (const [role, grant] of Object.entries(GRANTS)) roles[role as Role] = { user: `conformance-${role}`, password: passwords[role], user_name: `conformance-${role}`, grant };
  return { stack, owner: { user: 'conformance-owner', password: passwords.owner }, roles: roles as Record<Role, RoleSpec>, stop: () => stack.stop() };
}

const SSO_CLIENT_SECRET = 'conformance-client-secret-for-loopback';
const SSO_ADMIN_GROUP = 'mlflow-admins';

async function ssoSetup(): Promise<Setup> {
  const logDir = mkdtempSync(join(tmpdir(), 'mlflow-conformance-sso-'));
  let provider: OpenIdProvider | undefined;
  let stack: E2eStack | undefined;
  try {
    provider = await startOpenIdProvider(logDir);
    const proxyPort = await freePort();
    await provider.registerClient({
      client_id: 'mlflow',
      client_secret: SSO_CLIENT_SECRET,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid email profile offline_access',
      redirect_uris: [`http://127.0.0.1:${proxyPort}/oauth2/callback`],
    });
    // Everyone but the admin is in a group mapped to NO_PERMISSIONS (a deployment's "everyone" group): what they may
    // do on other people's resources comes from the per-user grants alone, as in users mode.
    const email = (role: string) => `conformance-${role}@example.com`;
    const people: Record<string, string[]> = { owner: ['staff'], none: ['staff'], read: ['staff'], edit: ['staff'], manage: ['staff'], admin: [SSO_ADMIN_GROUP, 'staff'] };
    const passwords: Record<string, string> = {};
    for (const [person, groups] of Object.entries(people)) {
      passwords[person] = randomBytes(18).toString('base64url');
      provider.users.set(email(person), { password: passwords[person], groups });
    }
    stack = await startStack({
      settings: {
        auth: 'sso',
        ssoIssuerUrl: 'https://idp.loopback.test/',
        ssoClientId: 'mlflow',
        ssoAdminGroup: SSO_ADMIN_GROUP,
        ssoGroupPermissions: 'staff=NO_PERMISSIONS',
        // The longest refresh interval: a sweep's sessions are not refreshed under it (two requests refreshing one
        // session at once would spend its refresh token twice, which the provider answers by revoking it).
        ssoSessionRefreshSeconds: 3600,
        iamPrincipals: `arn:aws:iam::${ACCOUNT}:role/ConformanceRole=${IAM_USER}`,
      },
      sso: { issuer: provider.issuer, clientSecret: SSO_CLIENT_SECRET, proxyPort },
      mlflowEnvOverrides: [{ MLFLOW_MODEL_CATALOG_URI: '' }],
    });
    const session = async (person: string): Promise<RoleSpec> => ({ cookies: await signInOverHttp(stack!.proxy!.url, email(person), passwords[person]), user_name: email(person) });
    const roles: Partial<Record<Role, RoleSpec>> = {
      anonymous: {},
      admin: { ...await session('admin'), grant: null },
      iam: { headers: { 'X-MLflow-Gateway-Token': stack.gatewayToken!, 'X-MLflow-IAM-Principal': `arn:aws:sts::${ACCOUNT}:assumed-role/ConformanceRole/s` }, user_name: IAM_USER, grant: null },
    };
    for (const [role, grant] of Object.entries(GRANTS)) roles[role as Role] = { ...await session(role), grant };
    const started = { provider, stack };
    return {
      stack, owner: await session('owner'), roles: roles as Record<Role, RoleSpec>, granter: 'admin',
      stop: async () => {
        await started.stack.stop();
        await started.provider.stop();
        rmSync(logDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stack?.stop();
    await provider?.stop();
    throw error;
  }
}

/** Registers the conformance suite of `mode` (its before, after and tests) in the calling test file. */
export function conformanceSuite(mode: Mode): void {
  let setup: Setup;
  let routes: Route[];
  let results: Record<string, Statuses>;
  const files = FILES[mode];

  before(async () => {
    setup = mode === 'users' ? await usersSetup() : await ssoSetup();
    const { stack } = setup;
    const listed = await stack.runPython([join(DIR, 'routes.py')], {}, 180_000);
    assert.equal(listed.status, 0, listed.stderr.slice(-2000));
    routes = JSON.parse(listed.stdout) as Route[];
    const jobFile = join(stack.workDir, 'conformance-job.json');
    writeFileSync(jobFile, JSON.stringify({
      base: stack.proxy!.url, routes, owner: setup.owner, granter: setup.granter ?? null,
      roles: Object.fromEntries(ROLES.map((role) => [role, setup.roles[role]])),
    }));
    const started = Date.now();
    const exercised = await stack.runPython([join(DIR, 'exercise.py'), jobFile], {}, 600_000);
    assert.equal(exercised.status, 0, exercised.stderr.slice(-3000));
    console.log(`${mode} mode: ${routes.length} routes exercised as ${ROLES.length} roles in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    results = JSON.parse(exercised.stdout) as Record<string, Statuses>;
  });

  after(async () => {
    await setup?.stop();
  });

  describe(`authorization conformance of every MLflow route in ${mode} mode (real MLflow, MariaDB and proxy${mode === 'sso' ? ', Hydra and oauth2-proxy' : ''})`, () => {
    it('finds the routes in the real apps (Flask and FastAPI) and exercises each under every role', () => {
      assert.ok(routes.length > 400, `${routes.length} routes`);
      assert.ok(routes.some((r) => r.app === 'fastapi') && routes.some((r) => r.app === 'flask'));
      assert.ok(routes.some((r) => r.path.startsWith('/ajax-api/')) && routes.some((r) => r.path.startsWith('/api/')));
      assert.equal(Object.keys(results).length, new Set(routes.map((r) => `${r.method} ${r.path}`)).size);
    });

    it('every route is in the checked-in classification, with the class its answers show', () => {
      const observed = Object.fromEntries(Object.entries(results).map(([key, statuses]) => [key, classify(statuses)]));
      if (UPDATE) writeFileSync(files.classification, `${JSON.stringify(observed, Object.keys(observed).sort(), 1)}\n`);
      const expected = JSON.parse(readFileSync(files.classification, 'utf8')) as Record<string, string>;
      const unknown = Object.keys(observed).filter((key) => !(key in expected));
      assert.deepEqual(unknown, [], 'routes the classification does not know (a new MLflow version\'s?): classify them');
      const gone = Object.keys(expected).filter((key) => !(key in observed));
      assert.deepEqual(gone, [], 'classified routes the server no longer has');
      const differing = Object.keys(observed).filter((key) => observed[key] !== expected[key]).map((key) => `${key}: classified ${expected[key]}, observed ${observed[key]} ${JSON.stringify(results[key])}`);
      assert.deepEqual(differing, []);
    });

    it('no route is irregular (a higher role refused where a lower one passes), and only MLflow\'s public routes are open', () => {
      const irregular = Object.entries(results).filter(([, s]) => classify(s).startsWith('irregular')).map(([key, s]) => `${key} ${JSON.stringify(s)}`);
      assert.deepEqual(irregular, []);
      const open = Object.entries(results).filter(([, s]) => classify(s) === 'open').map(([key]) => key).sort();
      const unexpected = open.filter((key) => !/ (\/health|\/static-files\/|\/favicon\.ico|\/(ajax-)?api\/3\.0\/mlflow\/server-info)/.test(key));
      assert.deepEqual(unexpected, [], 'open to anonymous callers');
    });

    if (mode !== 'users') {
      it('every route whose class differs from users mode\'s is explained (conformance/sso-differences.json)', () => {
        const users = JSON.parse(readFileSync(FILES.users.classification, 'utf8')) as Record<string, string>;
        const explained = JSON.parse(readFileSync(SSO_DIFFERENCES, 'utf8')) as Record<string, string>;
        const differing = Object.keys(results).filter((key) => classify(results[key]) !== users[key]).sort();
        const unexplained = differing.filter((key) => !explained[key]).map((key) => `${key}: users ${users[key]}, sso ${classify(results[key])} ${JSON.stringify(results[key])}`);
        assert.deepEqual(unexplained, [], 'explain each in test/e2e/conformance/sso-differences.json, or fix the route');
        const stale = Object.keys(explained).filter((key) => !differing.includes(key));
        assert.deepEqual(stale, [], 'explained differences the run no longer shows: remove them');
      });
    }

    it(`docs/reference/${files.output} is the table of this run (refusals exactly; past authorization, whatever the answer)`, () => {
      let differences: Record<string, { users: string; reason: string }> = {};
      if (mode !== 'users') {
        const users = JSON.parse(readFileSync(FILES.users.classification, 'utf8')) as Record<string, string>;
        const explained = JSON.parse(readFileSync(SSO_DIFFERENCES, 'utf8')) as Record<string, string>;
        differences = Object.fromEntries(Object.keys(explained).filter((key) => key in results).map((key) => [key, { users: users[key], reason: explained[key] }]));
      }
      const generated = table(mode, results, setup.stack.python.mlflowVersion, differences);
      if (UPDATE) writeFileSync(files.table, generated);
      // A loaded machine can turn one answer past authorization into another (a 2xx into a 5xx or a timeout): the
      // comparison reads every such cell as "past"; the refusals (401, 403) and the classes must be the same.
      const past = (text: string) => text.replace(/\| (?:[245]xx|no answer[^|]*) (?=\|)/g, '| past ');
      writeFileSync(join(REPO_ROOT, 'test-output', 'e2e', files.output), generated);
      assert.equal(past(readFileSync(files.table, 'utf8')), past(generated), `run with UPDATE_AUTHORIZATION=1 after reviewing the change (this run's table: test-output/e2e/${files.output})`);
    });
  });
}
