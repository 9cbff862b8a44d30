/**
 * The shipped NGINX auth proxy (containers/nginx), run for real: Debian's nginx with the shipped
 * entrypoint, template and Perl module, on a loopback port, in front of a Node stand-in for MLflow.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  basicAuth, NGINX_ENTRYPOINT, NGINX_PERL_LIB, NGINX_TEMPLATE, requireProgram, startProxy, workerUser,
  type RunningProxy,
} from './support/proxy';
import { proxyHealthCheckCommand } from '../../src/lib/service/mlflow-startup';
import { HEALTH_CHECK_PATH } from '../../src/app/names';
import { createCryptCounter, type CryptCounter } from './support/crypt-counter';
import { expectedStreamSha256, startStandInUpstream, STATIC_CACHE_CONTROL, staticFile, UPSTREAM_ERROR_TEXT, type StandInUpstream } from './support/upstream';

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

/** A client address for the attempt limits: the proxy believes Forwarded from a loopback peer (as from the load balancer). */
let nextClient = 0;
function newClient(): Record<string, string> {
  nextClient++;
  return { forwarded: `for=198.51.${Math.floor(nextClient / 256) % 256}.${nextClient % 256};proto=https` };
}

/** The same valid credentials under a header string no worker has seen yet ("Basic" then n spaces). */
let nextSpelling = 1;
function freshValidHeader(): string {
  nextSpelling++;
  return `Basic${' '.repeat(nextSpelling)}${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
}

function hashMismatchLines(proxy: RunningProxy): string[] {
  return proxy.process.output().split('\n').filter((line) => line.includes('password mismatch'));
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
  let hashes: CryptCounter;

  before(async () => {
    requireProgram('nginx', "Debian package 'nginx'");
    requireProgram('perl', "Debian package 'perl'");
    upstream = await startStandInUpstream();
    hashes = createCryptCounter();
    proxy = await startProxy({ upstreamPort: upstream.port, username: USER, password: PASSWORD, perlLib: hashes.perlLib });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.stop();
    hashes?.cleanup();
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
      const reply = await call(proxy.port, '/echo', { headers: { ...newClient(), authorization } });
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
      assert.equal((await call(proxy.port, '/echo', { headers: { ...newClient(), authorization: basicAuth(USER, 'guess') } })).status, 401);
      assert.equal((await call(proxy.port, '/echo', { headers: { ...newClient(), authorization: basicAuth('root', PASSWORD) } })).status, 401);
    }
  });

  it('computes one hash for a wrong password, in MlflowAuth, and none in nginx\'s auth_basic', async () => {
    const mismatchesBefore = hashMismatchLines(proxy).length;
    for (const password of [`${PASSWORD}x`, 'guess', 'y'.repeat(256)]) {
      const before = hashes.count();
      const reply = await call(proxy.port, '/echo', { headers: { ...newClient(), authorization: basicAuth(USER, password) } });
      assert.equal(reply.status, 401);
      assert.equal(reply.headers['www-authenticate'], 'Basic realm="MLflow"');
      assert.equal(hashes.count() - before, 1, `one crypt(3) for a wrong ${Buffer.byteLength(password)}-byte password`);
    }
    assert.deepEqual(hashMismatchLines(proxy).slice(mismatchesBefore), [], "nginx's auth_basic hashed a password");
    assert.doesNotMatch(readFileSync(join(proxy.runDir, 'nginx.conf'), 'utf8'), /auth_basic_user_file \S*\/htpasswd;/, 'auth_basic never reads the credentials file');
  });

  it('refuses over-long, empty and malformed credentials and unknown users without hashing', async () => {
    const longPassword = 'A'.repeat(511);
    for (const [what, authorization] of [
      ['a 511-byte password', basicAuth(USER, longPassword)],
      ['a 257-byte password', basicAuth(USER, 'B'.repeat(257))],
      ['a 257-byte password of 2-byte characters', basicAuth(USER, `${'é'.repeat(128)}x`)],
      ['a well-formed header over 1 KiB', `Basic${' '.repeat(1020)}${Buffer.from(`${USER}:guess`).toString('base64')}`],
      ['an empty password', basicAuth(USER, '')],
      ['an unknown user', basicAuth('root', PASSWORD)],
      ['a user name over the limit', basicAuth('u'.repeat(600), PASSWORD)],
      ['a malformed header', 'Basic !!!notbase64'],
      ['another scheme', `Bearer ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`],
    ] as const) {
      const before = hashes.count();
      const reply = await call(proxy.port, '/echo', { headers: { ...newClient(), authorization } });
      assert.equal(reply.status, 401, what);
      assert.equal(reply.headers['www-authenticate'], 'Basic realm="MLflow"', what);
      assert.equal(hashes.count() - before, 0, `no crypt(3) for ${what}`);
    }
  });

  it('hashes valid credentials once per worker and serves the rest from the cache', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const authorization = freshValidHeader();
      const before = hashes.count();
      for (let i = 0; i < 20; i++) {
        assert.equal((await call(proxy.port, '/echo', { headers: { ...newClient(), authorization }, agent })).status, 200);
      }
      assert.equal(hashes.count() - before, 1, '20 requests on one connection (one worker): one crypt(3)');
    } finally {
      agent.destroy();
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

  it('compresses MLflow\'s text answers (its UI\'s scripts and styles, JSON) for clients that accept gzip, behind another proxy too, and keeps their cache headers', async () => {
    for (const path of ['/static-files/static/js/main.c2f5f8d4.js', '/static-files/static/css/main.b0f58ef9.css', '/static-files/manifest.json']) {
      for (const via of [{}, { via: '1.1 abc.cloudfront.net (CloudFront)' }] as Array<Record<string, string>>) {
        const zipped = await call(proxy.port, path, { headers: { ...auth, ...via, 'accept-encoding': 'gzip, deflate, br' } });
        assert.equal(zipped.status, 200);
        assert.equal(zipped.headers['content-encoding'], 'gzip', `${path} ${JSON.stringify(via)}`);
        assert.match(String(zipped.headers.vary), /Accept-Encoding/);
        assert.equal(zipped.headers['cache-control'], STATIC_CACHE_CONTROL);
        assert.deepEqual(gunzipSync(zipped.body), staticFile(path));
        assert.ok(zipped.body.length < staticFile(path).length / 4, `${path}: ${zipped.body.length} bytes compressed of ${staticFile(path).length}`);
      }
      const plain = await call(proxy.port, path, { headers: auth });
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.headers['cache-control'], STATIC_CACHE_CONTROL);
      assert.deepEqual(plain.body, staticFile(path));
    }
    const image = await call(proxy.port, '/static-files/static/media/logo.png', { headers: { ...auth, 'accept-encoding': 'gzip' } });
    assert.equal(image.headers['content-encoding'], undefined, 'binary answers pass as they are');
    assert.deepEqual(image.body, staticFile('/static-files/static/media/logo.png'));
  });

  it('passes a large streamed response intact', async () => {
    const bytes = 64 * 1024 * 1024 + 123;
    const result = await download(proxy.port, `/stream?bytes=${bytes}`, auth);
    assert.equal(result.status, 200);
    assert.equal(result.bytes, bytes);
    assert.equal(result.sha256, expectedStreamSha256(bytes));
  });

  it('answers MLflow\'s 500 and 503 with the status and a fixed message, never the error text (finding 10); 4xx pass unchanged', async () => {
    for (const status of [500, 503]) {
      const reply = await call(proxy.port, `/status/${status}`, { headers: auth });
      assert.equal(reply.status, status);
      const body = reply.body.toString();
      assert.doesNotMatch(body, /rds\.amazonaws|OperationalError|mlflow-db/, body);
      const parsed = JSON.parse(body) as { error_code: string; message: string };
      assert.equal(parsed.error_code, status === 503 ? 'TEMPORARILY_UNAVAILABLE' : 'INTERNAL_ERROR');
      assert.match(reply.headers['content-type'] as string, /application\/json/);
      if (status === 503) assert.equal(reply.headers['retry-after'], '5');
    }
    for (const status of [400, 403, 404]) {
      const reply = await call(proxy.port, `/status/${status}`, { headers: auth });
      assert.equal(reply.status, status);
      assert.equal(JSON.parse(reply.body.toString()).message, UPSTREAM_ERROR_TEXT);
    }
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

  it('the container health check of the lean profile (Perl, as in the image) passes while MLflow is healthy, fails otherwise', async () => {
    // Asynchronously: the stand-in MLflow answers from this process's event loop.
    const check = (port: number) => new Promise<number | null>((resolve) => {
      const [, program, ...args] = proxyHealthCheckCommand(port, HEALTH_CHECK_PATH);
      const child = spawn(program, args, { stdio: 'ignore', timeout: 10_000 });
      child.on('close', (code) => resolve(code));
    });
    assert.equal(await check(proxy.port), 0);
    upstream.setHealthy(false);
    try {
      assert.equal(await check(proxy.port), 1);
    } finally {
      upstream.setHealthy(true);
    }
    assert.equal(await check(proxy.port), 0);
    assert.equal(await check(1), 1, 'nothing listening');
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

/**
 * The attempt limits of nginx.conf.template (leaky buckets): per client 2/s with bursts of 10, overall
 * 10/s with bursts of 20. Nothing here asserts a duration: the counts are bounded using the time the
 * requests actually took, so a slow machine changes how many are refused, never whether the check holds.
 */
const PER_CLIENT = { rate: 2, burst: 10 };
const OVERALL = { rate: 10, burst: 20 };

interface Outcome {
  statuses: number[];
  seconds: number;
  retryAfter: Array<string | undefined>;
}

/** Sends `count` requests at once, each on its own connection, with the headers `headersFor(i)` gives. */
async function burst(port: number, count: number, headersFor: (i: number) => Record<string, string>): Promise<Outcome> {
  const started = process.hrtime.bigint();
  const replies = await Promise.all(Array.from({ length: count }, (_, i) => call(port, '/echo', { headers: headersFor(i) })));
  return {
    statuses: replies.map((r) => r.status),
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    retryAfter: replies.filter((r) => r.status === 429).map((r) => r.headers['retry-after'] as string | undefined),
  };
}

/** At most this many requests of a bucket get through in `seconds` (one more for rounding). */
function admittedAtMost(limit: { rate: number; burst: number }, seconds: number): number {
  return limit.burst + 1 + Math.ceil(limit.rate * seconds) + 1;
}

describe('nginx auth proxy in users mode with the IAM route (real nginx, shipped configuration)', () => {
  const TOKEN = 'T'.repeat(20) + 'oken0123456789abcdefghijklmn';
  const ROLE_SESSION = 'arn:aws:sts::123456789012:assumed-role/mlflow-lab-studio-us-west-2/SageMaker-1';
  let upstream: StandInUpstream;
  let proxy: RunningProxy;

  before(async () => {
    requireProgram('nginx', "Debian package 'nginx'");
    upstream = await startStandInUpstream();
    // As the stack sets it in users mode: no password for the proxy (the entrypoint ignores these), the mode, the
    // IAM principals and the gateway token.
    proxy = await startProxy({
      upstreamPort: upstream.port, username: 'ignored', password: 'ignored',
      env: { MLFLOW_AUTH: 'users', MLFLOW_GATEWAY_TOKEN: TOKEN, MLFLOW_IAM_PRINCIPALS: 'arn:aws:iam::123456789012:role/mlflow-lab-studio-us-west-2=sagemaker-studio' },
    });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  const seen = (reply: Reply) => JSON.parse(reply.body.toString()) as { headers: Record<string, string> };

  it('passes a well-formed Authorization header on for MLflow to check, and a client\'s X-MLflow-Auth-User never', async () => {
    const authorization = basicAuth('alice', 'any password MLflow will judge');
    const reply = await call(proxy.port, '/echo', { headers: { authorization, 'x-mlflow-auth-user': 'admin' } });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(seen(reply).headers.authorization, authorization);
    assert.ok(!seen(reply).headers['x-mlflow-auth-user'], 'the forged identity header is replaced by nothing');
  });

  it('still refuses malformed and over-long credentials itself, before MLflow', async () => {
    for (const authorization of ['Basic !!!', 'Bearer x', basicAuth('alice', 'p'.repeat(300)), basicAuth('', 'password')]) {
      assert.equal((await call(proxy.port, '/echo', { headers: { authorization, ...newClient() } })).status, 401, authorization);
    }
  });

  it('takes a listed role\'s session with the right token as its user: no Authorization, no gateway headers reach MLflow', async () => {
    const reply = await call(proxy.port, '/echo', { headers: { 'x-mlflow-gateway-token': TOKEN, 'x-mlflow-iam-principal': ROLE_SESSION, authorization: basicAuth('alice', 'pw') } });
    assert.equal(reply.status, 200, reply.body.toString());
    const headers = seen(reply).headers;
    assert.equal(headers['x-mlflow-auth-user'], 'sagemaker-studio');
    assert.equal(headers.authorization, undefined);
    assert.ok(!headers['x-mlflow-gateway-token'] && !headers['x-mlflow-iam-principal'], JSON.stringify(headers));
  });

  it('refuses upload-artifact naming run_id in any spelling Flask decodes, before MLflow; run_uuid alone passes (finding 1)', async () => {
    const authorization = basicAuth('alice', 'any password MLflow will judge');
    const own = 'a'.repeat(32);
    const victim = 'b'.repeat(32);
    for (const query of [
      `run_id=${own}&run_uuid=${victim}&path=model/MLmodel.json`,
      `run_uuid=${victim}&run_id=${own}&path=x`,
      `run%5Fid=${own}&run_uuid=${victim}&path=x`,
      `run%5fid=${own}&run_uuid=${victim}&path=x`,
      `%72%75%6E%5F%69%64=${own}&run_uuid=${victim}&path=x`,
      `path=x&run_uuid=${victim}&run_id`,
    ]) {
      for (const path of ['/ajax-api/2.0/mlflow/upload-artifact', '//ajax-api/2.0/mlflow/upload%2Dartifact', '/ajax-api/2.0/mlflow/./upload-artifact']) {
        const before = upstream.received.length;
        const reply = await call(proxy.port, `${path}?${query}`, { method: 'POST', headers: { authorization, 'content-type': 'application/octet-stream' }, body: Buffer.from('attacker bytes') });
        assert.equal(reply.status, 400, `${path}?${query}`);
        assert.equal(upstream.received.length, before, `${path}?${query} reached MLflow`);
      }
    }
    for (const query of [`run_uuid=${victim}&path=x`, `run_uuid=${victim}&run_idx=1&path=x`, `run_uuid=${victim}&path=run_id`]) {
      const reply = await call(proxy.port, `/ajax-api/2.0/mlflow/upload-artifact?${query}`, { method: 'POST', headers: { authorization, 'content-type': 'application/octet-stream' }, body: Buffer.from('bytes') });
      assert.notEqual(reply.status, 400, query);
      assert.equal(upstream.received.at(-1)?.url, `/ajax-api/2.0/mlflow/upload-artifact?${query}`);
    }
  });

  it('removes an Origin naming the request\'s own host (the UI), passes any other on for MLflow\'s CORS fence (finding 8)', async () => {
    const authorization = basicAuth('alice', 'any password MLflow will judge');
    const host = 'abc123defg.execute-api.us-west-2.amazonaws.com';
    const originSeen = async (origin: string, requestHost = host) => {
      const reply = await call(proxy.port, '/echo', { method: 'POST', headers: { authorization, host: requestHost, origin, 'content-type': 'text/plain' }, body: Buffer.from('x') });
      assert.equal(reply.status, 200, reply.body.toString());
      return seen(reply).headers.origin;
    };
    assert.equal(await originSeen(`https://${host}`), undefined);
    assert.equal(await originSeen(`https://${host.toUpperCase()}`), undefined);
    assert.equal(await originSeen('http://mlflow.internal:80', 'mlflow.internal:80'), undefined);
    for (const other of ['https://attacker-api.execute-api.us-west-2.amazonaws.com', `https://${host}.evil.example`, `https://evil.example/${host}`, 'null', `https://x.${host}`]) {
      assert.equal(await originSeen(other), other);
    }
  });

  it('refuses a wrong token or an unlisted principal with 401, whatever else the request carries', async () => {
    for (const headers of [
      { 'x-mlflow-gateway-token': `${TOKEN.slice(0, -1)}x`, 'x-mlflow-iam-principal': ROLE_SESSION },
      { 'x-mlflow-gateway-token': TOKEN, 'x-mlflow-iam-principal': 'arn:aws:sts::123456789012:assumed-role/other/s' },
      { 'x-mlflow-gateway-token': `${TOKEN.slice(0, -1)}x`, 'x-mlflow-iam-principal': ROLE_SESSION, authorization: basicAuth('alice', 'pw') },
    ] as Array<Record<string, string>>) {
      assert.equal((await call(proxy.port, '/echo', { headers: { ...headers, ...newClient() } })).status, 401, JSON.stringify(headers));
    }
  });
});

describe('nginx auth proxy attempt limits (real nginx, shipped configuration)', () => {
  let upstream: StandInUpstream;
  let proxy: RunningProxy;
  let hashes: CryptCounter;

  before(async () => {
    upstream = await startStandInUpstream();
    hashes = createCryptCounter();
    proxy = await startProxy({ upstreamPort: upstream.port, username: USER, password: PASSWORD, perlLib: hashes.perlLib });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.stop();
    hashes?.cleanup();
  });

  it('limits the failed attempts of one client, with 429 and Retry-After beyond the limit, and one hash per admitted attempt', async () => {
    const client = newClient();
    const before = hashes.count();
    const outcome = await burst(proxy.port, 30, () => ({ ...client, authorization: basicAuth(USER, 'wrong-guess') }));
    const rejected = outcome.statuses.filter((status) => status === 401).length;
    const limited = outcome.statuses.filter((status) => status === 429).length;
    assert.equal(rejected + limited, 30, `only 401 and 429: ${outcome.statuses.join(' ')}`);
    assert.equal(hashes.count() - before, rejected, 'one crypt(3) per attempt the limit let through, none for a 429');
    const most = admittedAtMost(PER_CLIENT, outcome.seconds);
    assert.ok(rejected <= most, `${rejected} attempts got through in ${outcome.seconds.toFixed(2)} s; at most ${most} expected`);
    assert.ok(limited >= 30 - most, `${limited} of 30 refused with 429`);
    assert.ok(outcome.retryAfter.every((value) => value === '1'), 'a 429 says when to retry');

    const other = await call(proxy.port, '/echo', { headers: { ...newClient(), authorization: basicAuth(USER, 'wrong-guess') } });
    assert.equal(other.status, 401, 'another client is not limited by the first one\'s attempts');
  });

  it('limits failed attempts overall, whatever client they claim, and never limits verified credentials or requests without any', async () => {
    // A connection on which this worker has verified the credentials before the attack.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const authorization = freshValidHeader();
      assert.equal((await call(proxy.port, '/echo', { headers: { authorization }, agent })).status, 200);
      const before = hashes.count();
      const [outcome, duringValid, duringNoCredentials] = await Promise.all([
        burst(proxy.port, 60, () => ({ ...newClient(), authorization: basicAuth(USER, 'x'.repeat(256)) })),
        call(proxy.port, '/echo', { headers: { authorization }, agent }),
        call(proxy.port, '/echo'),
      ]);
      const rejected = outcome.statuses.filter((status) => status === 401).length;
      const limited = outcome.statuses.filter((status) => status === 429).length;
      assert.equal(rejected + limited, 60, `only 401 and 429: ${outcome.statuses.join(' ')}`);
      assert.equal(hashes.count() - before, rejected, 'one crypt(3) per attempt the limit let through, none for a 429');
      const most = admittedAtMost(OVERALL, outcome.seconds);
      assert.ok(rejected <= most, `${rejected} attempts got through in ${outcome.seconds.toFixed(2)} s; at most ${most} expected`);
      assert.ok(limited >= 60 - most, `${limited} of 60 refused with 429`);
      assert.equal(duringValid.status, 200, 'verified credentials pass during the attack');
      assert.equal(duringNoCredentials.status, 401, 'a request without credentials still gets the challenge');
      assert.equal(duringNoCredentials.headers['www-authenticate'], 'Basic realm="MLflow"');
    } finally {
      agent.destroy();
    }
  });
});

describe('nginx auth proxy attempt limits in users mode, sized to MLflow\'s scrypt (real nginx, shipped configuration)', () => {
  let upstream: StandInUpstream;
  let proxy: RunningProxy;

  before(async () => {
    requireProgram('nginx', "Debian package 'nginx'");
    upstream = await startStandInUpstream();
    proxy = await startProxy({ upstreamPort: upstream.port, username: 'ignored', password: 'ignored', env: { MLFLOW_AUTH: 'users' } });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  it('lets at most a handful of wrong passwords from rotating clients reach MLflow at once (finding 4: ~2 scrypts a second, not 10)', async () => {
    const before = upstream.received.length;
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      call(proxy.port, '/unauthorized', { headers: { authorization: basicAuth('owner', `wrong-${i}`), ...newClient() } })));
    const seconds = (Date.now() - started) / 1000;
    const reached = upstream.received.length - before;
    const refused = replies.filter((r) => r.status === 429).length;
    assert.equal(refused + replies.filter((r) => r.status === 401).length, 40, replies.map((r) => r.status).join(' '));
    // Overall: a burst of 6 plus 2 a second while the delayed ones wait.
    assert.ok(reached <= 7 + 2 * seconds, `${reached} wrong passwords reached MLflow in ${seconds} s`);
    assert.ok(refused >= 30, `only ${refused} of 40 refused`);
  });

  it('slows one client to 30 passwords a minute (finding 4)', async () => {
    const client = newClient();
    const started = Date.now();
    const replies: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      replies.push((await call(proxy.port, '/unauthorized', { headers: { authorization: basicAuth('owner', `guess-${i}`), ...client } })).status);
    }
    // Two at once, then delayed to one every 2 s: the eighth waits ~10 s (shared mode's limits: no wait at all).
    const seconds = (Date.now() - started) / 1000;
    assert.deepEqual(replies, Array(8).fill(401));
    assert.ok(seconds >= 8, `8 sequential guesses took ${seconds} s`);
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

/**
 * MlflowAuth.pm's decisions without nginx: the shipped module loaded by plain Perl, called with a
 * stand-in for nginx's request object, so each state and client key is checked exactly.
 */
const PERL_DRIVER = String.raw`
use strict;
use warnings;
use JSON::PP ();
use MlflowAuth;

package FakeRequest;
sub new { my ($class, %args) = @_; return bless { %args }, $class }
sub remote_addr { $_[0]{peer} }
sub uri { $_[0]{uri} }
sub args { $_[0]{args} }
sub variable { $_[0]{status} if $_[1] eq 'upstream_status' }
sub header_in {
    my ($self, $name) = @_;
    for my $key (keys %{ $self->{headers} }) { return $self->{headers}{$key} if lc $key eq lc $name }
    return undef;
}

package main;
# Undecoded: the strings stay UTF-8 bytes, as nginx hands them over.
my $input = JSON::PP->new->decode(do { local $/; <STDIN> });
my $file = $input->{file};
open(my $fh, '>', $file) or die "cannot write $file: $!";
print {$fh} "$input->{user}:" . crypt($input->{password}, '$6$rounds=5000$0123456789abcdef$') . "
";
close $fh;
my @out;
for my $step (@{ $input->{steps} }) {
    $MlflowAuth::TTL_SECONDS = $step->{ttl} if defined $step->{ttl};
    $MlflowAuth::MAX_ENTRIES = $step->{max} if defined $step->{max};
    my $r = FakeRequest->new(peer => $step->{peer} // '10.0.1.20', headers => $step->{headers} // {},
                             uri => $step->{uri} // '/', args => $step->{args}, status => $step->{status});
    my $sub = \&{"MlflowAuth::$step->{op}"};
    push @out, $step->{op} eq 'verdict' ? $sub->($r, $file) : $sub->($r);
}
print JSON::PP::encode_json(\@out);
`;

interface PerlStep {
  op: 'state' | 'verdict' | 'client_key' | 'learn';
  peer?: string;
  headers?: Record<string, string>;
  ttl?: number;
  /** MlflowAuth's cache size from this step on. */
  max?: number;
  /** The request's URI and MLflow's answer (for learn). */
  uri?: string;
  status?: string;
}

function runMlflowAuth(steps: PerlStep[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-auth-perl-'));
  try {
    const result = spawnSync('perl', [`-I${NGINX_PERL_LIB}`, '-e', PERL_DRIVER], {
      input: JSON.stringify({ file: join(dir, 'htpasswd'), user: USER, password: PASSWORD, steps }),
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as string[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('MlflowAuth.pm decisions (the shipped module in plain Perl)', () => {
  const valid = basicAuth(USER, PASSWORD);

  it('tells the limits what to count: nothing for no header or a verified one, the client for anything else', () => {
    assert.deepEqual(runMlflowAuth([
      { op: 'state' },
      { op: 'state', headers: { Authorization: valid } },
      { op: 'verdict', headers: { Authorization: valid } },
      { op: 'state', headers: { Authorization: valid } },
      { op: 'state', headers: { Authorization: basicAuth(USER, 'wrong') } },
    ]), ['none', 'attempt:10.0.1.20', 'off', 'pass', 'attempt:10.0.1.20']);
  });

  it('checks a verified header again once its time is up, without counting it as an attempt', () => {
    assert.deepEqual(runMlflowAuth([
      { op: 'verdict', headers: { Authorization: valid }, ttl: -1 },
      { op: 'state', headers: { Authorization: valid } },
      { op: 'verdict', headers: { Authorization: valid }, ttl: 300 },
      { op: 'state', headers: { Authorization: valid } },
    ]), ['off', 'recheck', 'off', 'pass']);
  });

  it('refuses a header over 1 KiB even with the right password, and a password over 256 bytes', () => {
    const token = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    assert.deepEqual(runMlflowAuth([
      { op: 'verdict', headers: { Authorization: `Basic${' '.repeat(1024 - 6 - token.length)} ${token}` } },
      { op: 'verdict', headers: { Authorization: `Basic${' '.repeat(1024 - 5 - token.length)} ${token}` } },
      { op: 'verdict', headers: { Authorization: basicAuth(USER, 'x'.repeat(257)) } },
    ]), ['off', 'MLflow', 'MLflow']);
  });

  it('users mode learns a header only from a 2xx answer on a route MLflow authenticates, never from the open ones (finding 5)', () => {
    const made = (n: number) => ({ Authorization: basicAuth('x', `made-up-${n}`) });
    const steps: PerlStep[] = [];
    const open = ['/health', '/static-files/x.js', '/favicon.ico', '/api/3.0/mlflow/server-info', '/ajax-api/3.0/mlflow/server-info', '/', '/signup'];
    open.forEach((uri, n) => steps.push({ op: 'learn', headers: made(n), uri, status: '200' }, { op: 'state', headers: made(n) }));
    steps.push(
      { op: 'learn', headers: made(100), uri: '/api/2.0/mlflow/experiments/search', status: '401' }, { op: 'state', headers: made(100) },
      { op: 'learn', headers: made(101), uri: '/api/2.0/mlflow/experiments/get', status: '502' }, { op: 'state', headers: made(101) },
      { op: 'learn', headers: made(102), uri: '/api/2.0/mlflow/experiments/get', status: '403' }, { op: 'state', headers: made(102) },
      { op: 'learn', headers: made(103), uri: '/api/2.0/mlflow/experiments/search', status: '200' }, { op: 'state', headers: made(103) },
      { op: 'learn', headers: made(104), uri: '/ajax-api/3.0/mlflow/traces/x', status: '204' }, { op: 'state', headers: made(104) },
    );
    const results = runMlflowAuth(steps).filter((_, i) => i % 2 === 1);
    assert.deepEqual(results, [...open.map(() => 'attempt:10.0.1.20'), 'attempt:10.0.1.20', 'attempt:10.0.1.20', 'attempt:10.0.1.20', 'pass', 'pass']);
  });

  it('a full cache of verified headers loses its oldest entry, not every entry (finding 5)', () => {
    const header = (n: number) => ({ Authorization: basicAuth(`user${n}`, 'password') });
    const steps: PerlStep[] = [{ op: 'learn', headers: header(0), uri: '/api/2.0/mlflow/users/current', status: '200', max: 4, ttl: 100 }];
    for (let n = 1; n <= 4; n += 1) steps.push({ op: 'learn', headers: header(n), uri: '/api/2.0/mlflow/users/current', status: '200', ttl: 100 + n });
    for (let n = 0; n <= 4; n += 1) steps.push({ op: 'state', headers: header(n) });
    assert.deepEqual(runMlflowAuth(steps).slice(5), ['attempt:10.0.1.20', 'pass', 'pass', 'pass', 'pass']);
  });

  it('keys attempts on the client API Gateway appended to Forwarded, else the last X-Forwarded-For hop, else the peer', () => {
    const apiGateway = 'for=198.51.100.7;by=10.0.9.9;host=abc.execute-api.us-west-2.amazonaws.com;proto=https';
    assert.deepEqual(runMlflowAuth([
      { op: 'client_key', peer: '10.0.1.20', headers: { Forwarded: apiGateway, 'X-Forwarded-For': '10.0.3.4' } },
      { op: 'client_key', peer: '10.0.1.20', headers: { Forwarded: `for=192.0.2.1;proto=http, for="192.0.2.2", ${apiGateway}` } },
      { op: 'client_key', peer: '10.0.1.20', headers: { Forwarded: 'for="[2001:db8::17]:4711";proto=https' } },
      { op: 'client_key', peer: '10.0.1.20', headers: { Forwarded: 'for=unknown', 'X-Forwarded-For': '203.0.113.1, 10.0.3.4' } },
      { op: 'client_key', peer: '10.0.1.20', headers: { 'X-Forwarded-For': '203.0.113.1,10.0.3.5' } },
      { op: 'client_key', peer: '10.0.1.20' },
      { op: 'client_key', peer: '203.0.113.50', headers: { Forwarded: 'for=192.0.2.1', 'X-Forwarded-For': '192.0.2.2' } },
    ]), [
      'fwd 198.51.100.7', 'fwd 198.51.100.7', 'fwd 2001:db8::17', 'xff 10.0.3.4', 'xff 10.0.3.5', '10.0.1.20', '203.0.113.50',
    ]);
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
      assert.match(rendered, /listen 80 default_server;/, 'the image default port is 80');
      assert.match(rendered, /server 127\.0\.0\.1:5000;/, 'the image default upstream is MLflow on localhost:5000');
      assert.doesNotMatch(rendered, /\$\{[A-Z_]+\}/, 'every placeholder is rendered');
      assert.match(rendered, /\$proxy_add_x_forwarded_for/, "nginx's own variables are left alone");
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
