/**
 * `npm run bench:e2e`: the real MLflow on a real MariaDB (the end-to-end suite's stack, loopback only), measured
 * through the auth proxy and straight to MLflow in the same run, plus the cost of the product's idle-friendly
 * database setting (no connection pool) against MLflow's default pool on a second server of the same database.
 *
 * Load generator: Node's http client, closed loop over `CONCURRENCY` keep-alive connections (test/e2e/support/http.ts),
 * a fixed number of requests per round: log_metric requests (throughput), then search_runs requests (latency).
 * Rounds alternate between the targets so that drift of the machine touches all of them alike. Bounded: it sends
 * ROUNDS x TARGETS x (LOG_METRIC + SEARCH_RUNS) requests and stops by itself. Figures are printed as ratios.
 */
import { cpus } from 'node:os';
import { createExperimentAndRun, http, mlflowApi, trackingLoad, unexplainedFailures, type LoadResult } from '../test/e2e/support/http';
import { startStack } from '../test/e2e/support/stack';
import { median } from './measure';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LOG_METRIC = Number(process.env.BENCH_LOG_METRIC ?? 400);
const SEARCH_RUNS = Number(process.env.BENCH_SEARCH_RUNS ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
/** Runs in the searched experiment, each with a few params and metrics. */
const RUNS = 50;

async function main(): Promise<void> {
  console.log(`bench:e2e on ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}; load generator: Node http, closed loop, `
    + `${CONCURRENCY} keep-alive connections; ${ROUNDS} rounds of ${LOG_METRIC} log_metric + ${SEARCH_RUNS} search_runs per target`);
  // Server 1: the product's settings (from the task definition: pooled connections the database closes when idle).
  // Server 2: the same but with no pool at all (a connection per request), the other way to let Aurora pause.
  const stack = await startStack({ mlflowEnvOverrides: [{}, { MLFLOW_SQLALCHEMYSTORE_POOLCLASS: 'NullPool' }] });
  try {
    const auth = { authorization: stack.authorization() };
    const [product, unpooled] = stack.servers;
    console.log(`MLflow ${stack.python.mlflowVersion}, MariaDB ${stack.db.version}, task ${stack.task.cpu} CPU units / ${stack.task.memoryMiB} MiB`);
    const target = await createExperimentAndRun(stack.proxy!.url, 'bench-e2e', auth);
    for (let i = 1; i < RUNS; i += 1) {
      const run = await http(stack.proxy!.url, mlflowApi.createRun, { headers: auth, body: { experiment_id: target.experimentId, start_time: Date.now() } });
      const runId = JSON.parse(run.body).run.info.run_id;
      await http(stack.proxy!.url, '/api/2.0/mlflow/runs/log-batch', {
        headers: auth,
        body: { run_id: runId, params: [{ key: 'lr', value: String(i / 100) }, { key: 'depth', value: String(i % 7) }], metrics: [{ key: 'rmse', value: 1 / i, timestamp: Date.now(), step: 0 }] },
      });
    }

    const targets: Array<[string, string, Record<string, string>]> = [
      ['proxy -> MLflow (product settings)', stack.proxy!.url, auth],
      ['direct -> MLflow (product settings)', product.url, {}],
      ['direct -> MLflow without a connection pool', unpooled.url, {}],
    ];
    const results = new Map<string, Array<{ logMetric: LoadResult; searchRuns: LoadResult }>>();
    // Warm-up, not measured.
    for (const [name, url, headers] of targets) {
      await trackingLoad(url, headers, target, { logMetric: 50, searchRuns: 20, concurrency: CONCURRENCY });
      results.set(name, []);
    }
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const [name, url, headers] of targets) {
        const result = await trackingLoad(url, headers, target, { logMetric: LOG_METRIC, searchRuns: SEARCH_RUNS, concurrency: CONCURRENCY });
        const failed = unexplainedFailures([result.logMetric, result.searchRuns], stack.servers.map((s) => s.service.output()).join('\n'));
        if (failed.length > 0) throw new Error(`${name}: ${result.logMetric.failures + result.searchRuns.failures} failed requests, first: ${failed.join(' | ')}`);
        results.get(name)!.push(result);
        console.log(`round ${round} ${name}: log_metric ${result.logMetric.perSecond.toFixed(1)}/s, search_runs p50 ${result.searchRuns.p50Ms.toFixed(1)} ms p99 ${result.searchRuns.p99Ms.toFixed(1)} ms`);
      }
    }

    const summary = (name: string) => {
      const rounds = results.get(name)!;
      return {
        logMetricPerSecond: median(rounds.map((r) => r.logMetric.perSecond)),
        searchP50: median(rounds.map((r) => r.searchRuns.p50Ms)),
        searchP99: median(rounds.map((r) => r.searchRuns.p99Ms)),
        logMetricP50: median(rounds.map((r) => r.logMetric.p50Ms)),
      };
    };
    const [viaProxy, direct, noPool] = targets.map(([name]) => summary(name));
    console.log('\nmedian of rounds:');
    for (const [name] of targets) {
      const s = summary(name);
      console.log(`  ${name}: log_metric ${s.logMetricPerSecond.toFixed(1)}/s (p50 ${s.logMetricP50.toFixed(1)} ms), search_runs p50 ${s.searchP50.toFixed(1)} ms, p99 ${s.searchP99.toFixed(1)} ms`);
    }
    console.log('\nratios:');
    console.log(`  proxy / direct: log_metric throughput ${(viaProxy.logMetricPerSecond / direct.logMetricPerSecond).toFixed(2)}, `
      + `search_runs p50 latency ${(viaProxy.searchP50 / direct.searchP50).toFixed(2)}, p99 ${(viaProxy.searchP99 / direct.searchP99).toFixed(2)}`);
    console.log(`  no pool / product (pool closed when idle): log_metric throughput ${(noPool.logMetricPerSecond / direct.logMetricPerSecond).toFixed(2)}, `
      + `log_metric p50 latency ${(noPool.logMetricP50 / direct.logMetricP50).toFixed(2)}, search_runs p50 latency ${(noPool.searchP50 / direct.searchP50).toFixed(2)}, p99 ${(noPool.searchP99 / direct.searchP99).toFixed(2)}`);
  } finally {
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
