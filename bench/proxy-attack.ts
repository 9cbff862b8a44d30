/**
 * `npm run bench:proxy-attack`: valid traffic through the shipped auth proxy (real nginx running
 * containers/nginx/entrypoint.sh, nginx.conf.template and MlflowAuth.pm) while an unauthenticated
 * attacker floods it, against the same valid traffic unattacked, in the same run.
 *
 * Valid load: the project's load generator (bench/loadgen.ts), BENCH_CONNECTIONS keep-alive connections
 * with the right credentials. Attacker: wrk (Debian package 'wrk') in its own process, 4 connections
 * (64 for two attacks), 1 thread, sending one of the attacks below as fast as the proxy answers. Each
 * round measures, for each attack, the valid load alone and then under the attack; the ratio
 * attacked/unattacked of each pair is printed, and its median over the rounds, with the crypt(3)
 * computations MlflowAuth.pm made during the attack (counted by a wrapper around Perl's crypt,
 * test/containers/support/crypt-counter.ts).
 *
 * Everything shares the machine's cores (load generator, attacker, nginx, the Node stand-in upstream),
 * so an attack costs the valid traffic at least the CPU the attacker and nginx spend on its requests;
 * the "no credentials" flood shows that floor. Loopback only, bounded: BENCH_ROUNDS x attacks x 2
 * runs of 1 s warm-up + BENCH_SECONDS, about 2.5 minutes by default. Not a test: nothing here asserts
 * a figure.
 *
 * Settings (environment): BENCH_SECONDS (default 3), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS
 * (valid connections, default 32), BENCH_ATTACK_CONNECTIONS (default 4).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCryptCounter } from '../test/containers/support/crypt-counter';
import { basicAuth, requireProgram, startProxy } from '../test/containers/support/proxy';
import { startStandInUpstream } from '../test/containers/support/upstream';
import { runLoad, type LoadResult } from './loadgen';
import { median, runWrk, type WrkSummary } from './measure';

const seconds = Math.min(Math.max(Number(process.env.BENCH_SECONDS ?? 3), 1), 60);
const rounds = Math.min(Math.max(Number(process.env.BENCH_ROUNDS ?? 3), 1), 10);
const connections = Math.min(Math.max(Number(process.env.BENCH_CONNECTIONS ?? 32), 1), 256);
const attackConnections = Math.min(Math.max(Number(process.env.BENCH_ATTACK_CONNECTIONS ?? 4), 1), 64);
/** wrk takes whole seconds: the valid load's warm-up and measured time, rounded up. */
const attackSeconds = Math.ceil(seconds + 1);
const USER = 'admin';
const PASSWORD = 'bench-Pa55word!with:special$chars';

interface Attack {
  readonly name: string;
  readonly description: string;
  /** Lua for wrk: sets the request headers (one fixed Authorization, or a rotating Forwarded too). */
  readonly lua: string;
  /** Attacker connections. @default BENCH_ATTACK_CONNECTIONS */
  readonly connections?: number;
}

function luaString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** One Authorization header from one claimed client address (its own, so attacks do not share a per-client budget). */
function fixedHeader(authorization: string, client: string): string {
  return `wrk.headers["Authorization"] = ${luaString(authorization)}\nwrk.headers["Forwarded"] = "for=${client}"\n`;
}

/** A wrong password and a new claimed client address (Forwarded: for=...) on every request. */
function rotatingClient(authorization: string): string {
  return `wrk.headers["Authorization"] = ${luaString(authorization)}
local n = 0
request = function()
  n = n + 1
  wrk.headers["Forwarded"] = "for=10." .. (math.floor(n / 65536) % 256) .. "." .. (math.floor(n / 256) % 256) .. "." .. (n % 256)
  return wrk.format()
end
`;
}

const ATTACKS: Attack[] = [
  { name: 'no credentials', description: 'no Authorization header (plain 401s: the cost of any flood)', lua: '' },
  { name: 'no credentials, 64 conns', description: 'the same over 64 connections', lua: '', connections: 64 },
  { name: 'long password', description: `'${USER}:' + 511-byte password, one client address`, lua: fixedHeader(basicAuth(USER, 'A'.repeat(511)), '192.0.2.1') },
  { name: 'wrong password', description: `'${USER}:' + wrong 16-byte password, one client address`, lua: fixedHeader(basicAuth(USER, 'wrong-guess-0001'), '192.0.2.2') },
  {
    name: 'wrong password, 64 conns',
    description: 'the same from another address over 64 connections: more than the per-client burst, so most get an immediate 429',
    lua: fixedHeader(basicAuth(USER, 'wrong-guess-0002'), '192.0.2.3'),
    connections: 64,
  },
  {
    name: 'wrong 256 B, rotating',
    description: `'${USER}:' + wrong 256-byte password, a new Forwarded client address per request`,
    lua: rotatingClient(basicAuth(USER, 'B'.repeat(256))),
  },
];

/** Runs wrk for `durationS` seconds against `url` with the attack's script; resolves with its summary. */
function runAttack(url: string, attack: Attack, durationS: number, dir: string, index: number): Promise<WrkSummary> {
  const script = join(dir, `attack-${index}.lua`);
  writeFileSync(script, attack.lua);
  return runWrk(['-t1', `-c${attack.connections ?? attackConnections}`, `-d${durationS}s`, '--timeout', '10s', '-s', script, url], durationS);
}

function validLine(r: LoadResult): string {
  return `valid ${r.rps.toFixed(0).padStart(7)} req/s (non-200: ${r.non200}, socket errors: ${r.errors})`;
}

async function main(): Promise<void> {
  requireProgram('wrk', "Debian package 'wrk'");
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-proxy-attack-'));
  const counter = createCryptCounter();
  const upstream = await startStandInUpstream();
  const proxy = await startProxy({ upstreamPort: upstream.port, username: USER, password: PASSWORD, quiet: true, perlLib: counter.perlLib });
  const auth = { authorization: basicAuth(USER, PASSWORD) };
  const load = { path: '/bench', connections, durationMs: seconds * 1000, warmupMs: 1000, port: proxy.port, headers: auth };
  const url = `http://127.0.0.1:${proxy.port}/bench`;
  try {
    const check = await fetch(url, { headers: auth });
    if (check.status !== 200) throw new Error(`proxy answered ${check.status} to an authenticated request`);

    console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`);
    console.log(`valid load: project load generator (bench/loadgen.ts), ${connections} keep-alive connections, GET /bench with the right credentials`);
    console.log(`attacker: wrk -t1 -c${attackConnections} (unless the attack says otherwise) in its own process, started with the valid load's 1 s warm-up`);
    console.log(`${rounds} rounds of ${seconds} s per run after 1 s warm-up; ratio = valid req/s under attack / valid req/s alone just before`);
    for (const attack of ATTACKS) console.log(`  attack "${attack.name}": ${attack.description}`);

    // Each attacked run is paired with an unattacked run just before it: the machine's load drifts
    // (other work shares the cores), and a ratio of neighbours drifts less than one of distant runs.
    const alone = new Map<string, number[]>(ATTACKS.map((a) => [a.name, []]));
    const attacked = new Map<string, number[]>(ATTACKS.map((a) => [a.name, []]));
    const ratios = new Map<string, number[]>(ATTACKS.map((a) => [a.name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const [index, attack] of ATTACKS.entries()) {
        const baseline = await runLoad(load);
        const hashes = counter.count();
        const [valid, attacker] = await Promise.all([runLoad(load), runAttack(url, attack, attackSeconds, dir, index)]);
        const cryptCalls = counter.count() - hashes;
        alone.get(attack.name)!.push(baseline.rps);
        attacked.get(attack.name)!.push(valid.rps);
        ratios.get(attack.name)!.push(valid.rps / baseline.rps);
        console.log(`round ${round} ${'no attack'.padEnd(26)} ${validLine(baseline)}`);
        console.log(
          `round ${round} ${attack.name.padEnd(26)} ${validLine(valid)}, ratio ${(valid.rps / baseline.rps).toFixed(2)}; `
          + `attacker ${attacker.rps.toFixed(0)} req/s (${attacker.non2xx} of ${attacker.requests} refused); `
          + `crypt calls: ${cryptCalls} (${(cryptCalls / attackSeconds).toFixed(1)}/s)`,
        );
      }
    }
    console.log('summary (medians over the rounds; ratio = median of each attacked run / the unattacked run just before it):');
    for (const attack of ATTACKS) {
      console.log(
        `  ${attack.name.padEnd(26)} valid alone ${median(alone.get(attack.name)!).toFixed(0).padStart(6)} req/s, `
        + `under attack ${median(attacked.get(attack.name)!).toFixed(0).padStart(6)} req/s, ratio ${median(ratios.get(attack.name)!).toFixed(2)}`,
      );
    }
  } finally {
    await proxy.stop();
    await upstream.stop();
    counter.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
