/**
 * The shipped NGINX auth proxy (containers/nginx), run for real: Debian's nginx with the shipped
 * entrypoint, template and Perl module, on a loopback port, in front of a Node stand-in for MLflow.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  basicAuth, NGINX_ENTRYPOINT, NGINX_PERL_LIB, NGINX_TEMPLATE, requireProgram, startProxy, workerUser,
  type RunningProxy,
} from './support/proxy';
import { createCryptCounter } from './support/crypt-counter';
import { expectedStreamSha256, startStandInUpstream, type StandInUpstream } from './support/upstream';

const USER = 'admin';
/** Every printable ASCII character, colon, quotes, backslash, dollar and spaces included. */
const PASSWORD = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('') + 'ü€';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string[];
  /** A keep-alive agent to send on a known connection (so on a known nginx worker); default: a fresh connection. */
  agent?: Agent;
}

/**
 * One HTTP request, on a fresh connection unless an agent is given (so nothing is shared between
 * checks). A body given as an array of strings is sent chunked, one chunk each.
 */
function call(port: number, path: string, options: CallOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`timeout on ${path}`)));
    req.on('error', reject);
    if (Array.isArray(options.body)) {
      for (const chunk of options.body) req.write(chunk);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}


/** Streams a large response and hashes it without keeping it in memory. */
function download(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error('download timeout')));
    req.on('error', reject);
    req.end();
  });
}

const auth = { authorization: basicAuth(USER, PASSWORD) };

describe('nginx auth proxy (real nginx, shipped configuration)', () => {
  let upstream: StandInUpstream;
  let proxy: RunningProxy;

  before(async () => {
    requireProgram('nginx', "Debian package 'nginx'");
    requireProgram('perl', "Debian package 'perl'");
    upstream = await startStandInUpstream();
    proxy = await startProxy({ upstreamPort: upstream.port, username: USER, password: PASSWORD });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  it('answers 401 with a Basic challenge to requests without credentials', async () => {
    const reply = await call(proxy.port, '/api/2.0/mlflow/experiments/search');
    assert.equal(reply.status, 401);
    assert.equal(reply.headers['www-authenticate'], 'Basic realm="MLflow"');
  });

  it('answers 401 to a wrong password, a wrong user and a malformed header', async () => {
    for (const authorization of [
      basicAuth(USER, `${PASSWORD}x`),
      basicAuth(USER, PASSWORD.slice(0, -1)),
      basicAuth('someone', PASSWORD),
      basicAuth(USER, ''),
      'Basic !!!notbase64',
      `Bearer ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
    ]) {
      const reply = await call(proxy.port, '/echo', { headers: { authorization } });
      assert.equal(reply.status, 401, `expected 401 for ${authorization}`);
      assert.equal(reply.headers['www-authenticate'], 'Basic realm="MLflow"');
    }
  });

  it('proxies an authenticated request (password of every printable character) with forwarded headers and without the credentials', async () => {
    const reply = await call(proxy.port, '/echo?x=1', {
      headers: { ...auth, host: 'api.example.test', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' },
    });
    assert.equal(reply.status, 200, reply.body.toString());
    const seen = JSON.parse(reply.body.toString()) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/echo?x=1');
    assert.equal(seen.headers.host, 'api.example.test');
    assert.equal(seen.headers['x-forwarded-host'], 'api.example.test');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-real-ip'], '127.0.0.1');
    assert.equal(seen.headers.authorization, undefined, 'MLflow must not receive the proxy credentials');
  });

  it('keeps rejecting wrong credentials after accepting right ones (the verified-credentials cache)', async () => {
    for (let round = 0; round < 3; round++) {
      assert.equal((await call(proxy.port, '/echo', { headers: auth })).status, 200);
      assert.equal((await call(proxy.port, '/echo', { headers: { authorization: basicAuth(USER, 'guess') } })).status, 401);
      assert.equal((await call(proxy.port, '/echo', { headers: { authorization: basicAuth('root', PASSWORD) } })).status, 401);
    }
  });

  it('names no server version', async () => {
    for (const reply of [await call(proxy.port, '/echo'), await call(proxy.port, '/echo', { headers: auth })]) {
      assert.equal(reply.headers.server, 'nginx');
    }
    const denied = await call(proxy.port, '/nope');
    assert.doesNotMatch(denied.body.toString(), /nginx\/\d/);
  });

  it('stores the password only as a SHA-512 crypt hash readable by the nginx workers alone', () => {
    const file = join(proxy.runDir, 'htpasswd');
    const content = readFileSync(file, 'utf8');
    assert.match(content, /^admin:\$6\$rounds=5000\$[A-Za-z0-9./]{16}\$[A-Za-z0-9./]{86}\n$/);
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.ok(!content.includes(PASSWORD));
    assert.ok(!readFileSync(join(proxy.runDir, 'nginx.conf'), 'utf8').includes('rounds='), 'no credentials in the configuration');
  });

  it('reuses connections to the upstream (keep-alive)', async () => {
    const before = upstream.connections;
    for (let i = 0; i < 30; i++) assert.equal((await call(proxy.port, '/echo', { headers: auth })).status, 200);
    const opened = upstream.connections - before;
    assert.ok(opened <= 4, `30 proxied requests opened ${opened} upstream connections`);
  });

  it('enforces the 10 MiB body limit with 413 and passes bodies under it intact', async () => {
    const tooBig = Buffer.alloc(10 * 1024 * 1024 + 1, 0x61);
    const rejected = await call(proxy.port, '/upload', { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: tooBig });
    assert.equal(rejected.status, 413);

    const fits = Buffer.alloc(9 * 1024 * 1024, 0x62);
    const accepted = await call(proxy.port, '/upload', { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: fits });
    assert.equal(accepted.status, 200);
    assert.deepEqual(JSON.parse(accepted.body.toString()), { bytes: fits.length, sha256: createHash('sha256').update(fits).digest('hex') });
  });

  it('passes a large streamed response intact', async () => {
    const bytes = 64 * 1024 * 1024 + 123;
    const result = await download(proxy.port, `/stream?bytes=${bytes}`, auth);
    assert.equal(result.status, 200);
    assert.equal(result.bytes, bytes);
    assert.equal(result.sha256, expectedStreamSha256(bytes));
  });

  it('answers /elb-status without credentials from MLflow\'s /health', async () => {
    const healthy = await call(proxy.port, '/elb-status');
    assert.equal(healthy.status, 200);
    assert.equal(healthy.body.toString(), 'OK');

    upstream.setHealthy(false);
    try {
      assert.equal((await call(proxy.port, '/elb-status')).status, 503);
    } finally {
      upstream.setHealthy(true);
    }
    assert.equal((await call(proxy.port, '/elb-status')).status, 200);
  });

  it('forwards none of the client\'s headers from /elb-status to MLflow: no Authorization, no Cookie', async () => {
    const before = upstream.received.length;
    const reply = await call(proxy.port, '/elb-status', {
      headers: { ...auth, cookie: 'session=secret', 'x-custom': 'client value', 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(reply.status, 200);
    const seen = upstream.received.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].url, '/health');
    assert.equal(seen[0].method, 'GET');
    assert.equal(seen[0].headers.authorization, undefined, 'MLflow must not receive the credentials');
    assert.equal(seen[0].headers.cookie, undefined, 'MLflow must not receive the cookies');
    assert.equal(seen[0].headers['x-custom'], undefined);
    assert.equal(seen[0].headers.host, 'localhost');
  });

  it('answers /elb-status to GET and HEAD only (405 otherwise) and without a body (413)', async () => {
    const head = await call(proxy.port, '/elb-status', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const reply = await call(proxy.port, '/elb-status', { method });
      assert.equal(reply.status, 405, method);
      assert.equal(reply.headers.allow, 'GET, HEAD', method);
    }
    const before = upstream.received.length;
    // Node frames a GET body only when told how: Content-Length or chunked.
    const tenMiB = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const large = await call(proxy.port, '/elb-status', { body: tenMiB, headers: { 'content-length': String(tenMiB.length) } });
    assert.equal(large.status, 413, 'a 10 MiB body without credentials');
    const small = await call(proxy.port, '/elb-status', { body: Buffer.from('x'), headers: { 'content-length': '1' } });
    assert.equal(small.status, 413, 'a 1-byte body');
    const chunked = await call(proxy.port, '/elb-status', { body: ['a', 'b'], headers: { 'transfer-encoding': 'chunked' } });
    assert.equal(chunked.status, 413, 'a chunked body');
    const posted = await call(proxy.port, '/elb-status', { method: 'POST', body: Buffer.alloc(10 * 1024 * 1024, 0x62) });
    assert.ok([405, 413].includes(posted.status), `POST with 10 MiB: ${posted.status}`);
    assert.equal(upstream.received.length, before, 'no request with a body reached MLflow');
    assert.equal((await call(proxy.port, '/elb-status')).status, 200);
  });

  it('answers 502 while MLflow is down, on /elb-status too, and recovers when it is back', async () => {
    await upstream.stop();
    try {
      assert.equal((await call(proxy.port, '/echo', { headers: auth })).status, 502);
      assert.equal((await call(proxy.port, '/elb-status')).status, 502);
      assert.equal((await call(proxy.port, '/echo')).status, 401, 'credentials are still checked first');
    } finally {
      await upstream.start();
    }
    assert.equal((await call(proxy.port, '/elb-status')).status, 200);
    assert.equal((await call(proxy.port, '/echo', { headers: auth })).status, 200);
  });
});

describe('nginx auth proxy credential length limits', () => {
  it('logs in with a 256-byte password (128 two-byte characters) and a 128-byte user name', async () => {
    const upstream = await startStandInUpstream();
    const hashes = createCryptCounter();
    const username = 'u'.repeat(128);
    const password = 'é'.repeat(128);
    const proxy = await startProxy({ upstreamPort: upstream.port, username, password, perlLib: hashes.perlLib });
    try {
      assert.equal((await call(proxy.port, '/echo', { headers: { authorization: basicAuth(username, password) } })).status, 200);
      const wrong = await call(proxy.port, '/echo', { headers: { authorization: basicAuth(username, `${'é'.repeat(127)}e`) } });
      assert.equal(wrong.status, 401);
      assert.equal(hashes.count(), 2);
    } finally {
      await proxy.stop();
      await upstream.stop();
      hashes.cleanup();
    }
  });
});

describe('nginx proxy entrypoint refuses to start without usable credentials', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['no password', { MLFLOW_USERNAME: USER }, /MLFLOW_PASSWORD is missing or empty/],
    ['empty password', { MLFLOW_USERNAME: USER, MLFLOW_PASSWORD: '' }, /MLFLOW_PASSWORD is missing or empty/],
    ['no user', { MLFLOW_PASSWORD: PASSWORD }, /MLFLOW_USERNAME is missing or empty/],
    ['empty user', { MLFLOW_USERNAME: '', MLFLOW_PASSWORD: PASSWORD }, /MLFLOW_USERNAME is missing or empty/],
    ['colon in user', { MLFLOW_USERNAME: 'a:b', MLFLOW_PASSWORD: PASSWORD }, /must not contain ':'/],
    ['two-line password', { MLFLOW_USERNAME: USER, MLFLOW_PASSWORD: 'a\nb' }, /single line/],
    ['512-byte password', { MLFLOW_USERNAME: USER, MLFLOW_PASSWORD: 'p'.repeat(512) }, /MLFLOW_PASSWORD is 512 bytes long; the proxy accepts at most 256 bytes/],
    ['257-byte password of 129 characters', { MLFLOW_USERNAME: USER, MLFLOW_PASSWORD: `${'é'.repeat(128)}x` }, /MLFLOW_PASSWORD is 257 bytes long; the proxy accepts at most 256 bytes/],
    ['4 KiB password', { MLFLOW_USERNAME: USER, MLFLOW_PASSWORD: 'p'.repeat(4096) }, /MLFLOW_PASSWORD is 4096 bytes long; the proxy accepts at most 256 bytes/],
    ['129-byte user name', { MLFLOW_USERNAME: 'u'.repeat(129), MLFLOW_PASSWORD: PASSWORD }, /MLFLOW_USERNAME is 129 bytes long; the proxy accepts at most 128 bytes/],
  ];
  for (const [name, credentials, message] of cases) {
    it(`exits non-zero with a clear message: ${name}`, () => {
      const runDir = mkdtempSync(join(tmpdir(), 'mlflow-proxy-'));
      try {
        const result = spawnSync('sh', [NGINX_ENTRYPOINT], {
          encoding: 'utf8',
          timeout: 20_000,
          env: {
            PATH: process.env.PATH, ...credentials, NGINX_LISTEN_PORT: '1', NGINX_RUN_DIR: runDir,
            NGINX_WORKER_USER: workerUser(), NGINX_TEMPLATE, NGINX_PERL_LIB,
          },
        });
        assert.notEqual(result.status, 0);
        assert.match(result.stderr, message);
        assert.throws(() => statSync(join(runDir, 'htpasswd')), 'no credentials file is written');
      } finally {
        rmSync(runDir, { recursive: true, force: true });
      }
    });
  }

  it('accepts the rendered configuration with nginx -t (--check-config)', () => {
    const runDir = mkdtempSync(join(tmpdir(), 'mlflow-proxy-'));
    try {
      const result = spawnSync('sh', [NGINX_ENTRYPOINT, '--check-config'], {
        encoding: 'utf8',
        timeout: 20_000,
        // nginx opens /dev/stdout for its access log: a pipe or file in a container, not a socket.
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          PATH: process.env.PATH, MLFLOW_USERNAME: USER, MLFLOW_PASSWORD: PASSWORD, NGINX_RUN_DIR: runDir,
          NGINX_WORKER_USER: workerUser(), NGINX_TEMPLATE, NGINX_PERL_LIB,
        },
      });
      assert.equal(result.status, 0, result.stderr);
      const rendered = readFileSync(join(runDir, 'nginx.conf'), 'utf8');
      assert.match(rendered, /listen 80 default_server reuseport;/, 'the image default port is 80');
      assert.match(rendered, /server 127\.0\.0\.1:5000;/, 'the image default upstream is MLflow on localhost:5000');
      assert.doesNotMatch(rendered, /\$\{[A-Z_]+\}/, 'every placeholder is rendered');
      assert.match(rendered, /\$proxy_add_x_forwarded_for/, "nginx's own variables are left alone");
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
