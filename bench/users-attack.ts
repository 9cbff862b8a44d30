/**
 * `npm run bench:users-attack`: a signed-in teammate's request rate in users mode, unattacked and then while a
 * wrong-password flood from rotating clients (a new `Forwarded: for=` address per request, as API Gateway would
 * append for different callers) targets a real user, in the same run, through the real proxy in front of the real
 * MLflow on MariaDB (the e2e harness, test/e2e/support/stack.ts, users mode as synthesized). Then the cache-flushing
 * pattern of the review's finding 5 (made-up credentials on /health) during the teammate's load.
 *
 * Load generator: this Node process (node:http, BENCH_TEAMMATE_CONNECTIONS keep-alive connections of the teammate,
 * BENCH_ATTACKERS concurrent attacker requests, each on a fresh connection). Loopback only, bounded: three phases of
 * BENCH_SECONDS after the stack starts. Not a test: nothing asserts a figure; read the ratios.
 *
 * Settings (environment): BENCH_SECONDS (default 20), BENCH_ATTACKERS (default 16), BENCH_TEAMMATE_CONNECTIONS (2).
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Agent } from 'node:http';
import { basicAuth } from '../test/containers/support/proxy';
import { http, percentile } from '../test/e2e/support/http';
import { startStack } from '../test/e2e/support/stack';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const ATTACKERS = Number(process.env.BENCH_ATTACKERS ?? 16);
const TEAMMATE_CONNECTIONS = Number(process.env.BENCH_TEAMMATE_CONNECTIONS ?? 2);

interface Phase { requests: number; rate: number; p50: number; p99: number; max: number; errors: number; attacks: number; refused: number }

async function main(): Promise<void> {
  const stack = await startStack({ settings: { auth: 'users' } });
  try {
    const base = stack.proxy!.url;
    const passwords = { owner: randomBytes(18).toString('base64url'), teammate: randomBytes(18).toString('base64url') };
    for (const [username, password] of Object.entries(passwords)) {
      const created = await http(base, '/api/2.0/mlflow/users/create', { headers: { authorization: stack.authorization() }, body: { username, password } });
      if (created.status !== 200) throw new Error(created.body);
    }
    const teammate = { authorization: basicAuth('teammate', passwords.teammate) };
    const experiment = await http(base, '/api/2.0/mlflow/experiments/create', { headers: teammate, body: { name: 'bench' } });
    const experimentId = JSON.parse(experiment.body).experiment_id as string;
    let client = 0;
    const fresh = new Agent({ keepAlive: false });

    const phase = async (attack?: () => Promise<number>): Promise<Phase> => {
      const deadline = Date.now() + SECONDS * 1000;
      const latencies: number[] = [];
      let errors = 0;
      let attacks = 0;
      let refused = 0;
      const agent = new Agent({ keepAlive: true, maxSockets: TEAMMATE_CONNECTIONS });
      const teammateLoop = async () => {
        while (Date.now() < deadline) {
          const answer = await http(base, `/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`, { headers: teammate, agent, timeoutMs: 60_000 }).catch(() => undefined);
          if (answer?.status === 200) latencies.push(answer.ms);
          else errors += 1;
        }
      };
      const attackLoop = async () => {
        while (attack && Date.now() < deadline) {
          const status = await attack().catch(() => 0);
          attacks += 1;
          if (status === 429) refused += 1;
        }
      };
      await Promise.all([
        ...Array.from({ length: TEAMMATE_CONNECTIONS }, teammateLoop),
        ...(attack ? Array.from({ length: ATTACKERS }, attackLoop) : []),
      ]);
      agent.destroy();
      latencies.sort((a, b) => a - b);
      return { requests: latencies.length, rate: latencies.length / SECONDS, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN, errors, attacks, refused };
    };

    const forwarded = () => {
      client += 1;
      return { forwarded: `for=198.19.${Math.floor(client / 256) % 256}.${client % 256};proto=https` };
    };
    const wrongPassword = async () => (await http(base, '/api/2.0/mlflow/users/current', {
      headers: { authorization: basicAuth('owner', `wrong-${client}-password`), ...forwarded() }, agent: fresh, timeoutMs: 60_000,
    })).status;
    const flushPattern = async () => (await http(base, '/health', {
      headers: { authorization: basicAuth('x', `made-up-${client}`), ...forwarded() }, agent: fresh, timeoutMs: 60_000,
    })).status;

    await phase(); // warm-up: the proxy and MLflow have seen the teammate's credentials
    const alone = await phase();
    const flood = await phase(wrongPassword);
    const flush = await phase(flushPattern);
    const row = (name: string, p: Phase) => `${name.padEnd(34)} ${p.rate.toFixed(1).padStart(7)}/s  ratio ${(p.rate / alone.rate).toFixed(2)}  p50 ${p.p50.toFixed(0)} ms  p99 ${p.p99.toFixed(0)} ms  max ${p.max.toFixed(0)} ms  errors ${p.errors}  attacker requests ${p.attacks} (429: ${p.refused})`;
    console.log(`users-attack: MLflow ${stack.python.mlflowVersion}, ${SECONDS} s per phase, teammate ${TEAMMATE_CONNECTIONS} keep-alive connection(s), ${ATTACKERS} attackers; load generator: this Node ${process.version} process; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(row('teammate alone', alone));
    console.log(row('teammate during wrong-password flood', flood));
    console.log(row('teammate during /health flush pattern', flush));
  } finally {
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
