/**
 * A real OpenID Connect provider on loopback for the SSO tests: Ory Hydra (built from its Go module at a pinned
 * release by scripts/build-sso-test-tools.sh), in memory. Hydra issues and signs every token (authorization code with
 * refresh tokens, client credentials), serves discovery and its keys, and revokes; by its design it leaves the people
 * to a "login and consent" application, which is the small part here: a user table (password, groups), a sign-in form,
 * and the consent that puts the email and the groups into the ID token. Removing a user is what a Hydra-based provider
 * does: the user leaves the table and their sessions and tokens are revoked at Hydra (its admin API), so their refresh
 * token stops working.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { request } from 'playwright-core';
import { freePort } from '../../containers/support/proxy';
import { REPO_ROOT } from '../../support/python-env';
import { startService, waitFor, type Service } from './service';

/** Where scripts/build-sso-test-tools.sh puts the programs. */
export const SSO_TOOLS_BIN = join(REPO_ROOT, '.cache', 'sso-tools', 'bin');

/** The path of a program built by scripts/build-sso-test-tools.sh; throws with how to build it. */
export function ssoTool(name: 'hydra' | 'oauth2-proxy'): string {
  const path = join(SSO_TOOLS_BIN, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run scripts/build-sso-test-tools.sh (it builds Hydra and oauth2-proxy from their Go modules)`);
  return path;
}

export interface ProviderUser {
  readonly password: string;
  readonly groups: readonly string[];
}

/** An OAuth 2.0 client registered at Hydra (its admin API's fields). */
export interface ClientRegistration {
  readonly client_id: string;
  readonly client_secret: string;
  readonly grant_types: string[];
  readonly response_types?: string[];
  readonly scope?: string;
  readonly redirect_uris?: string[];
  readonly audience?: string[];
  readonly token_endpoint_auth_method?: string;
}

export interface OpenIdProvider {
  /** The issuer (http://127.0.0.1:<port>/), also the base of its public endpoints. */
  readonly issuer: string;
  readonly adminUrl: string;
  /** The login application's people, by email: add and change freely; `removeUser` for a removal. */
  readonly users: Map<string, ProviderUser>;
  readonly service: Service;
  registerClient(client: ClientRegistration): Promise<void>;
  /** Sets a client's access token lifetime in the client-credentials grant (Hydra's per-client lifespans). */
  setClientCredentialsLifespan(clientId: string, lifespan: string): Promise<void>;
  /** An access token (JWT) from the client-credentials grant. */
  clientCredentialsToken(clientId: string, secret: string, audience?: string): Promise<string>;
  /** The user leaves the table; their login and consent sessions, and with them their tokens, are revoked at Hydra. */
  removeUser(email: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Signs `email` in through the proxy at `proxyUrl` (nginx in front of oauth2-proxy) with plain HTTP requests, as a
 * browser follows the authorization-code flow: the proxy's sign-in start, the provider's authorization endpoint, the
 * login application's form (posted), the consent, the proxy's callback. Returns the proxy's session cookies (name to
 * value), which then carry the user's requests. No browser: what a sign-in costs is a dozen loopback requests.
 */
export async function signInOverHttp(proxyUrl: string, email: string, password: string): Promise<Record<string, string>> {
  const context = await request.newContext({ maxRedirects: 20 });
  try {
    const start = await context.get(`${proxyUrl}/oauth2/start?rd=%2F`, { headers: { accept: 'text/html' } });
    const form = new URL(start.url());
    const challenge = form.searchParams.get('login_challenge');
    if (!challenge) throw new Error(`sign-in of ${email}: expected the provider's sign-in form, got ${start.status()} ${start.url()}`);
    const done = await context.post(`${form.origin}/login`, { form: { challenge, email, password }, headers: { accept: 'text/html' } });
    // Back at the proxy (whatever MLflow then answers the page: the session is made before it is asked).
    if (!done.url().startsWith(`${proxyUrl}/`) || done.url().includes('/oauth2/')) throw new Error(`sign-in of ${email}: ended at ${done.status()} ${done.url()}`);
    const proxyHost = new URL(proxyUrl).hostname;
    const cookies = (await context.storageState()).cookies.filter((cookie) => cookie.domain === proxyHost && !/csrf/i.test(cookie.name) && cookie.name.startsWith('_mlflow_sso'));
    if (!cookies.length) throw new Error(`sign-in of ${email}: no session cookie from the proxy`);
    return Object.fromEntries(cookies.map((cookie) => [cookie.name, cookie.value]));
  } finally {
    await context.dispose();
  }
}

/** A `Cookie` header of the cookies signInOverHttp returned. */
export function cookieHeader(cookies: Record<string, string>): string {
  return Object.entries(cookies).map(([name, value]) => `${name}=${value}`).join('; ');
}

/**
 * Starts Hydra (public and admin API on loopback ports, access tokens as JWTs) and its login application. `logDir`:
 * where hydra.log goes.
 */
export async function startOpenIdProvider(logDir: string, name = 'hydra'): Promise<OpenIdProvider> {
  const hydra = ssoTool('hydra');
  const [publicPort, adminPort] = [await freePort(), await freePort()];
  const users = new Map<string, ProviderUser>();
  const issuer = `http://127.0.0.1:${publicPort}/`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const login = await startLoginApp(adminUrl, users);
  const config = join(logDir, `${name}.yaml`);
  // Hydra's configuration file (JSON is YAML): in memory, loopback only, access tokens as JWTs (what API Gateway's JWT
  // authorizer and oauth2-proxy validate).
  writeFileSync(config, JSON.stringify({
    dsn: 'memory',
    serve: {
      public: { host: '127.0.0.1', port: publicPort },
      admin: { host: '127.0.0.1', port: adminPort },
    },
    urls: {
      self: { issuer },
      login: `${login.url}/login`,
      consent: `${login.url}/consent`,
      logout: `${login.url}/logout`,
    },
    secrets: { system: [randomBytes(24).toString('hex')] },
    strategies: { access_token: 'jwt' },
    ttl: { access_token: '1h', id_token: '1h', refresh_token: '24h' },
    oidc: { subject_identifiers: { supported_types: ['public'] } },
    log: { level: 'info', leak_sensitive_values: false },
  }));
  const service = startService(name, hydra, ['serve', 'all', '--dev', '--config', config], {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: logDir,
  }, join(logDir, `${name}.log`), logDir);
  try {
    await waitFor(`${name} to answer its discovery document`, async () => (await fetch(`${issuer}.well-known/openid-configuration`)).ok, 60_000, service);
    await waitFor(`${name}'s admin API`, async () => (await fetch(`${adminUrl}/health/ready`)).ok, 30_000, service);
  } catch (error) {
    await service.stop('SIGTERM', 5_000);
    login.server.close();
    throw error;
  }

  const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${adminUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${name} admin ${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  return {
    issuer,
    adminUrl,
    users,
    service,
    registerClient: async (client) => {
      await admin('POST', '/admin/clients', { token_endpoint_auth_method: 'client_secret_basic', ...client });
    },
    setClientCredentialsLifespan: async (clientId, lifespan) => {
      await admin('PUT', `/admin/clients/${encodeURIComponent(clientId)}/lifespans`, { client_credentials_grant_access_token_lifespan: lifespan });
    },
    clientCredentialsToken: async (clientId, secret, audience) => {
      const body = new URLSearchParams({ grant_type: 'client_credentials', ...(audience ? { audience } : {}) });
      const response = await fetch(`${issuer}oauth2/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      const json = await response.json() as { access_token?: string };
      if (!response.ok || !json.access_token) throw new Error(`${name}: client credentials for ${clientId}: ${response.status} ${JSON.stringify(json)}`);
      return json.access_token;
    },
    removeUser: async (email) => {
      users.delete(email);
      await admin('DELETE', `/admin/oauth2/auth/sessions/consent?subject=${encodeURIComponent(email)}&all=true`);
      await admin('DELETE', `/admin/oauth2/auth/sessions/login?subject=${encodeURIComponent(email)}`);
    },
    stop: async () => {
      await service.stop('SIGTERM', 10_000);
      await new Promise<void>((resolve) => login.server.close(() => resolve()));
    },
  };
}

/**
 * Hydra's login and consent application: a sign-in form checked against `users`, and a consent that grants what the
 * client asked for and puts the user's email and groups into the ID token. Only ever called by browsers Hydra
 * redirected here; it talks to Hydra's admin API.
 */
async function startLoginApp(adminUrl: string, users: Map<string, ProviderUser>): Promise<{ url: string; server: Server }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const hydra = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${adminUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json() as Record<string, unknown>;
    if (!response.ok) throw new Error(`hydra admin ${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const form = (challenge: string, message = ''): string => `<!doctype html><html><head><title>Sign in</title></head><body>
<h1>Sign in to the test provider</h1><p id="message">${message}</p>
<form method="post" action="/login"><input type="hidden" name="challenge" value="${challenge}">
<label>Email <input name="email" id="email"></label> <label>Password <input name="password" id="password" type="password"></label>
<button type="submit" id="submit">Sign in</button></form></body></html>`;
  const redirect = (res: ServerResponse, to: unknown): void => {
    res.writeHead(302, { location: String(to) }).end();
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestUrl = new URL(req.url ?? '/', url);
    if (req.method === 'GET' && requestUrl.pathname === '/login') {
      const challenge = requestUrl.searchParams.get('login_challenge') ?? '';
      const request = await hydra('GET', `/admin/oauth2/auth/requests/login?login_challenge=${encodeURIComponent(challenge)}`);
      if (request.skip === true && users.has(String(request.subject))) {
        const accepted = await hydra('PUT', `/admin/oauth2/auth/requests/login/accept?login_challenge=${encodeURIComponent(challenge)}`, { subject: request.subject });
        redirect(res, accepted.redirect_to);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end(form(challenge));
      return;
    }
    if (req.method === 'POST' && requestUrl.pathname === '/login') {
      let raw = '';
      for await (const chunk of req) raw += String(chunk);
      const fields = new URLSearchParams(raw);
      const challenge = fields.get('challenge') ?? '';
      const email = fields.get('email') ?? '';
      const user = users.get(email);
      if (!user || user.password !== fields.get('password')) {
        res.writeHead(200, { 'content-type': 'text/html' }).end(form(challenge, 'Wrong email or password.'));
        return;
      }
      const accepted = await hydra('PUT', `/admin/oauth2/auth/requests/login/accept?login_challenge=${encodeURIComponent(challenge)}`, { subject: email, remember: false });
      redirect(res, accepted.redirect_to);
      return;
    }
    if (req.method === 'GET' && requestUrl.pathname === '/consent') {
      const challenge = requestUrl.searchParams.get('consent_challenge') ?? '';
      const request = await hydra('GET', `/admin/oauth2/auth/requests/consent?consent_challenge=${encodeURIComponent(challenge)}`);
      const email = String(request.subject);
      const user = users.get(email);
      if (!user) {
        const rejected = await hydra('PUT', `/admin/oauth2/auth/requests/consent/reject?consent_challenge=${encodeURIComponent(challenge)}`, { error: 'access_denied', error_description: 'no such user' });
        redirect(res, rejected.redirect_to);
        return;
      }
      const accepted = await hydra('PUT', `/admin/oauth2/auth/requests/consent/accept?consent_challenge=${encodeURIComponent(challenge)}`, {
        grant_scope: request.requested_scope,
        grant_access_token_audience: request.requested_access_token_audience,
        remember: false,
        session: { id_token: { email, email_verified: true, groups: user.groups } },
      });
      redirect(res, accepted.redirect_to);
      return;
    }
    if (req.method === 'GET' && requestUrl.pathname === '/logout') {
      const challenge = requestUrl.searchParams.get('logout_challenge') ?? '';
      const accepted = await hydra('PUT', `/admin/oauth2/auth/requests/logout/accept?logout_challenge=${encodeURIComponent(challenge)}`);
      redirect(res, accepted.redirect_to);
      return;
    }
    res.writeHead(404).end();
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return { url, server };
}
