/**
 * `npm run bench:proxy`: requests per second through the shipped auth proxy (real nginx running
 * containers/nginx/entrypoint.sh, nginx.conf.template and MlflowAuth.pm), through the same nginx
 * configuration with authentication switched off (nginx's own proxying cost: the ceiling for any
 * authentication), and directly to the stand-in upstream, all in the same run, measured by two load
 * generators: the project's (bench/loadgen.ts, one Node process) and wrk (Debian package 'wrk',
 * -t2; skipped with a note when it is not installed). For each tool and connection count the three
 * targets alternate for BENCH_ROUNDS rounds (the machine's cores are shared by the load generator,
 * nginx and the upstream, so single runs are noisy) and the medians are compared. Then the seed's
 * configuration once, for comparison. Loopback only, bounded in time: 1 s warm-up before each run of
 * BENCH_SECONDS; about 3 minutes by default (the estimate is printed first). Not a test: nothing
 * here asserts a figure.
 *
 * Settings (environment): BENCH_SECONDS (default 3), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS
 * (comma-separated list, default "8,64"), BENCH_TOOLS (default "loadgen,wrk"), BENCH_SEED=0 to skip
 * the seed-style run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { basicAuth, freePort, NGINX_TEMPLATE, requireProgram, startProcess, startProxy, workerUser } from '../test/containers/support/proxy';
import { startStandInUpstream } from '../test/containers/support/upstream';
import { runLoad } from './loadgen';
import { median, runWrk } from './measure';

const seconds = Math.min(Math.max(Number(process.env.BENCH_SECONDS ?? 3), 1), 60);
const rounds = Math.min(Math.max(Number(process.env.BENCH_ROUNDS ?? 3), 1), 10);
const connectionCounts = (process.env.BENCH_CONNECTIONS ?? '8,64')
  .split(',')
  .map((value) => Math.min(Math.max(Math.round(Number(value)), 1), 256))
  .filter((value) => Number.isFinite(value))
  .slice(0, 4);
const tools = (process.env.BENCH_TOOLS ?? 'loadgen,wrk').split(',').map((t) => t.trim()).filter((t) => t === 'loadgen' || t === 'wrk');
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

interface Measured {
  readonly rps: number;
  readonly non200: number;
  readonly errors: number;
  readonly note: string;
}

type Tool = 'loadgen' | 'wrk';

/** wrk -t2 for `secs` whole seconds; resolves with its summary. */
async function wrk(port: number, connections: number, secs: number, authorization: string | undefined): Promise<Measured> {
  const args = ['-t2', `-c${Math.max(connections, 2)}`, `-d${secs}s`, '--timeout', '10s', '--latency'];
  if (authorization) args.push('-H', `Authorization: ${authorization}`);
  args.push(`http://127.0.0.1:${port}/bench`);
  const summary = await runWrk(args, secs);
  return {
    rps: summary.rps,
    non200: summary.non2xx,
    errors: summary.socketErrors,
    note: `latency p50 ${summary.p50 ?? '?'}, p99 ${summary.p99 ?? '?'}`,
  };
}

async function measure(tool: Tool, port: number, connections: number, authorization: string | undefined): Promise<Measured> {
  if (tool === 'wrk') {
    await wrk(port, connections, 1, authorization); // warm-up, as the project's generator does
    return wrk(port, connections, Math.ceil(seconds), authorization);
  }
  const r = await runLoad({
    port, path: '/bench', connections, durationMs: seconds * 1000, warmupMs: 1000,
    headers: authorization ? { authorization } : undefined,
  });
  return { rps: r.rps, non200: r.non200, errors: r.errors, note: `${r.requests} requests in ${r.seconds.toFixed(1)} s` };
}

function line(label: string, r: Measured): string {
  return `${label.padEnd(44)} ${r.rps.toFixed(0).padStart(8)} req/s  (non-200: ${r.non200}, socket errors: ${r.errors}; ${r.note})`;
}

/**
 * The shipped template with authentication switched off (and so without the attempt limits, which
 * only count requests with credentials): everything else, upstream keep-alive included, as shipped.
 */
function noAuthTemplate(dir: string): string {
  const shipped = readFileSync(NGINX_TEMPLATE, 'utf8');
  const edited = shipped
    .replace(/^(\s*)auth_basic \$mlflow_auth_realm;$/m, '$1auth_basic off;')
    .replace(/^\s*limit_req zone=.*;\n/gm, '');
  if (edited.includes('auth_basic $mlflow_auth_realm') || /limit_req zone=/.test(edited) || !edited.includes('auth_basic off;')) {
    throw new Error('nginx.conf.template changed shape: update noAuthTemplate() in bench/proxy-bench.ts');
  }
  const path = join(dir, 'no-auth.conf.template');
  writeFileSync(path, edited);
  return path;
}

async function main(): Promise<void> {
  const haveWrk = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).status === 0;
  const activeTools = tools.filter((tool) => tool !== 'wrk' || haveWrk) as Tool[];
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-proxy-bench-'));
  const upstream = await startStandInUpstream();
  const proxy = await startProxy({ upstreamPort: upstream.port, username: USER, password: PASSWORD, quiet: true });
  const noAuth = await startProxy({ upstreamPort: upstream.port, username: USER, password: PASSWORD, quiet: true, template: noAuthTemplate(dir) });
  const authorization = basicAuth(USER, PASSWORD);
  let seed: Awaited<ReturnType<typeof startSeedStyle>> | undefined;
  try {
    const check = await fetch(`http://127.0.0.1:${proxy.port}/bench`, { headers: { authorization } });
    if (check.status !== 200) throw new Error(`proxy answered ${check.status} to an authenticated request`);
    const unauth = await fetch(`http://127.0.0.1:${proxy.port}/bench`);
    if (unauth.status !== 401) throw new Error(`proxy answered ${unauth.status} without credentials`);
    const open = await fetch(`http://127.0.0.1:${noAuth.port}/bench`);
    if (open.status !== 200) throw new Error(`the no-authentication configuration answered ${open.status}`);

    const runs = activeTools.length * connectionCounts.length * rounds * 3 + (runSeed ? activeTools.length : 0);
    console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, ${spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim()}`);
    console.log(`targets: direct to the Node stand-in upstream; shipped auth proxy; shipped configuration with auth_basic off (nginx's proxying ceiling)`);
    console.log(`GET /bench (small JSON), keep-alive; connections ${connectionCounts.join(', ')}; ${rounds} rounds of ${seconds} s per target after 1 s warm-up`);
    console.log(`load generators: ${activeTools.map((t) => (t === 'wrk' ? 'wrk -t2' : 'project loadgen (bench/loadgen.ts, 1 Node process)')).join('; ')}`
      + `${haveWrk || !tools.includes('wrk') ? '' : ' (wrk not installed: apt-get install -y wrk)'}`);
    console.log(`${runs} runs, about ${Math.ceil((runs * (seconds + 1)) / 60)} minutes`);

    const summary: string[] = [];
    for (const tool of activeTools) {
      for (const connections of connectionCounts) {
        const results = { direct: [] as number[], proxy: [] as number[], noAuth: [] as number[] };
        for (let round = 1; round <= rounds; round++) {
          const label = `${tool} c${connections} round ${round}`;
          const direct = await measure(tool, upstream.port, connections, undefined);
          console.log(line(`${label} direct`, direct));
          const proxied = await measure(tool, proxy.port, connections, authorization);
          console.log(line(`${label} auth proxy`, proxied));
          const open = await measure(tool, noAuth.port, connections, undefined);
          console.log(line(`${label} nginx, no auth`, open));
          results.direct.push(direct.rps);
          results.proxy.push(proxied.rps);
          results.noAuth.push(open.rps);
        }
        const d = median(results.direct);
        const p = median(results.proxy);
        const n = median(results.noAuth);
        summary.push(
          `${(tool === 'wrk' ? 'wrk -t2' : 'loadgen').padEnd(8)} ${String(connections).padStart(3)} conns: direct ${d.toFixed(0).padStart(6)}, `
          + `auth proxy ${p.toFixed(0).padStart(6)}, no-auth nginx ${n.toFixed(0).padStart(6)} req/s; `
          + `proxy/direct ${(p / d).toFixed(2)}, no-auth/direct ${(n / d).toFixed(2)}, proxy/no-auth ${(p / n).toFixed(2)}`,
        );
      }
    }
    if (runSeed) {
      seed = await startSeedStyle(upstream.port);
      for (const tool of activeTools) {
        const connections = connectionCounts[0];
        const direct = await measure(tool, upstream.port, connections, undefined);
        const seeded = await measure(tool, seed.port, connections, authorization);
        console.log(line(`${tool} c${connections} direct (for the seed)`, direct));
        console.log(line(`${tool} c${connections} seed-style proxy`, seeded));
        summary.push(`${(tool === 'wrk' ? 'wrk -t2' : 'loadgen').padEnd(8)} ${String(connections).padStart(3)} conns: seed-style/direct ${(seeded.rps / direct.rps).toFixed(2)} (single runs)`);
      }
    }
    console.log('summary (medians):');
    for (const s of summary) console.log(`  ${s}`);
  } finally {
    await seed?.stop();
    await noAuth.stop();
    await proxy.stop();
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
