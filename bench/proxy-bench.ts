/**
 * `npm run bench:proxy`: requests per second through the shipped auth proxy (real nginx running
 * containers/nginx/entrypoint.sh and nginx.conf.template) and directly to the stand-in upstream,
 * in the same run, plus the seed's configuration for comparison. Direct and proxied runs alternate
 * for BENCH_ROUNDS rounds (the machine has 2 cores shared by the load generator, nginx and the
 * upstream, so single runs are noisy) and the medians are compared. Loopback only, bounded in
 * time: 1 s warm-up before each run of BENCH_SECONDS, (2 x rounds + 1) runs, about 35 s by default.
 * Not a test: nothing here asserts a figure.
 *
 * Settings (environment): BENCH_SECONDS (default 4), BENCH_ROUNDS (default 3),
 * BENCH_CONNECTIONS (default 32), BENCH_SEED=0 to skip the seed-style run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { basicAuth, freePort, requireProgram, startProcess, startProxy, workerUser } from '../test/containers/support/proxy';
import { startStandInUpstream } from '../test/containers/support/upstream';
import { runLoad, type LoadResult } from './loadgen';

const seconds = Math.min(Math.max(Number(process.env.BENCH_SECONDS ?? 4), 1), 60);
const rounds = Math.min(Math.max(Number(process.env.BENCH_ROUNDS ?? 3), 1), 10);
const connections = Math.min(Math.max(Number(process.env.BENCH_CONNECTIONS ?? 32), 1), 256);
const runSeed = process.env.BENCH_SEED !== '0';
const USER = 'admin';
const PASSWORD = 'bench-Pa55word!with:special$chars';

/**
 * The seed's proxy, reduced to what matters for speed: the MD5-crypt file its script wrote
 * (`openssl passwd -1`) and proxy_pass without upstream keep-alive (HTTP/1.0, one connection per
 * request). Its Cloud Map resolver is replaced by the loopback address.
 */
function seedStyleConfig(dir: string, port: number, upstreamPort: number): string {
  return `user ${workerUser()} ${spawnSync('id', ['-gn', workerUser()], { encoding: 'utf8' }).stdout.trim()};
worker_processes auto;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  access_log /dev/stdout;
  server {
    listen ${port};
    location / {
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Host $http_host;
      proxy_redirect off;
      proxy_pass http://127.0.0.1:${upstreamPort};
      auth_basic "Administrator's Area";
      auth_basic_user_file ${dir}/htpasswd;
    }
  }
}
`;
}

async function startSeedStyle(upstreamPort: number): Promise<{ port: number; stop(): Promise<void> }> {
  requireProgram('openssl', "Debian package 'openssl'");
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-seed-proxy-'));
  spawnSync('chmod', ['0755', dir]);
  const hash = spawnSync('openssl', ['passwd', '-1', '-stdin'], { input: `${PASSWORD}\n`, encoding: 'utf8' });
  if (hash.status !== 0) throw new Error(`openssl passwd failed: ${hash.stderr}`);
  writeFileSync(join(dir, 'htpasswd'), `${USER}:${hash.stdout.trim()}\n`, { mode: 0o644 });
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), seedStyleConfig(dir, port, upstreamPort));
  const proc = startProcess('nginx', ['-e', 'stderr', '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { PATH: process.env.PATH });
  for (let i = 0; i < 100; i++) {
    const probe = await fetch(`http://127.0.0.1:${port}/health`, { headers: { authorization: basicAuth(USER, PASSWORD) } }).catch(() => undefined);
    if (probe?.status === 200) break;
    if (proc.child.exitCode !== null) throw new Error(`seed-style nginx exited:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function line(label: string, r: LoadResult): string {
  return `${label.padEnd(38)} ${r.rps.toFixed(0).padStart(8)} req/s  (${r.requests} requests in ${r.seconds.toFixed(1)} s, non-200: ${r.non200}, socket errors: ${r.errors})`;
}

async function main(): Promise<void> {
  const upstream = await startStandInUpstream();
  const proxy = await startProxy({ upstreamPort: upstream.port, username: USER, password: PASSWORD, quiet: true });
  const auth = { authorization: basicAuth(USER, PASSWORD) };
  const load = { path: '/bench', connections, durationMs: seconds * 1000, warmupMs: 1000 };
  let seed: Awaited<ReturnType<typeof startSeedStyle>> | undefined;
  try {
    const check = await fetch(`http://127.0.0.1:${proxy.port}/bench`, { headers: auth });
    if (check.status !== 200) throw new Error(`proxy answered ${check.status} to an authenticated request`);
    const unauth = await fetch(`http://127.0.0.1:${proxy.port}/bench`);
    if (unauth.status !== 401) throw new Error(`proxy answered ${unauth.status} without credentials`);

    console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`);
    console.log(`load: ${connections} keep-alive connections, GET /bench (small JSON), ${rounds} rounds of ${seconds} s per target after 1 s warm-up`);
    const directRps: number[] = [];
    const proxiedRps: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const direct = await runLoad({ ...load, port: upstream.port });
      console.log(line(`round ${round} direct to stand-in upstream`, direct));
      const proxied = await runLoad({ ...load, port: proxy.port, headers: auth });
      console.log(line(`round ${round} through auth proxy`, proxied));
      directRps.push(direct.rps);
      proxiedRps.push(proxied.rps);
    }
    const direct = median(directRps);
    const proxied = median(proxiedRps);
    console.log(`direct (median):      ${direct.toFixed(0)} req/s`);
    console.log(`auth proxy (median):  ${proxied.toFixed(0)} req/s`);
    console.log(`ratio proxy/direct:   ${(proxied / direct).toFixed(2)}`);
    if (runSeed) {
      seed = await startSeedStyle(upstream.port);
      const seeded = await runLoad({ ...load, port: seed.port, headers: auth });
      console.log(line('seed-style proxy', seeded));
      console.log(`ratio seed-style/direct (direct median): ${(seeded.rps / direct).toFixed(2)}`);
    }
  } finally {
    await seed?.stop();
    await proxy.stop();
    await upstream.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
