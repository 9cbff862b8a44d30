/**
 * `npm run bench:scale [-- --sizes 10000,100000,1000000]`: the real stack of the end-to-end suite (MariaDB standing in
 * for Aurora MySQL, the pinned MLflow started through containers/mlflow/entrypoint.sh with the task definition's
 * environment, the nginx proxy), grown to each size of runs in the largest experiment, and measured through the proxy
 * at each size: search_runs (default order, a metric, a param and a tag filter, page 10), log_batch of 10 and of
 * 1,000 metrics with concurrent writers, get_metric_history of a 10,000-step metric, search_registered_models over
 * 10,000 model versions, search_traces, and the UI's experiment and run pages in headless Chromium (the first visit
 * also over an emulated laptop link, compressed and not). Each figure is
 * printed with its ratio to the first size's figure of the same run.
 *
 * Seeding (test/e2e/support/scale-seed.ts): MLflow's client writes template runs, a model version and a trace through the proxy;
 * bulk `INSERT ... SELECT` copies them into MLflow's own schema (created by its migrations at the server's start), in
 * the order of each table's primary key, with the project's indexes dropped before each load and built after it by the
 * entrypoint's upgrade task (MLFLOW_MIGRATE_ONLY=true), as on a deployment.
 * Bounded: each measurement stops after its sample count or its time budget, whichever comes first. Loopback only; not
 * a test and not part of `npm test`. docs/reference/performance.md has the figures and what they mean.
 *
 * Options: --sizes (runs in the largest experiment, ascending; default 10000,100000,1000000), --samples (search and
 * read requests per measurement, default 30), --seconds (time budget of one measurement, default 60),
 * --buffer-pool-mib (MariaDB's InnoDB buffer pool, default 2048), --before-after SIZE (at that size, measure again with
 * the project's indexes dropped, MLflow's schema alone, then restore them with the entrypoint's migration before the
 * next size: the indexes' before/after in the same run).
 */
import { Agent } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readFileSync, existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { http, percentile } from '../test/e2e/support/http';
import type { MariaDb } from '../test/e2e/support/mariadb';
import { startStack } from '../test/e2e/support/stack';
import { printSlowStatements, slowStatements } from './slow-log';
import { projectIndexes } from '../test/e2e/support/project-indexes';
import { checkShapes, HISTORY_EVERY, runId, seedLongHistory, seedModels, seedRunSeries, seedTraces, type Template } from '../test/e2e/support/scale-seed';

const { values: options } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    samples: { type: 'string', default: '30' },
    seconds: { type: 'string', default: '60' },
    'buffer-pool-mib': { type: 'string', default: '2048' },
    'before-after': { type: 'string' },
  },
});
const SIZES = options.sizes!.split(',').map(Number);
if (SIZES.some((size, i) => !Number.isInteger(size) || size < 1000 || (i > 0 && size <= SIZES[i - 1]))) {
  throw new Error(`--sizes must be ascending whole numbers of runs, each at least 1000; got ${options.sizes}`);
}
const SAMPLES = Number(options.samples);
const SECONDS = Number(options.seconds);
const BUFFER_POOL_MIB = Number(options['buffer-pool-mib']);
const BEFORE_AFTER = options['before-after'] === undefined ? undefined : Number(options['before-after']);
if (BEFORE_AFTER !== undefined && !SIZES.includes(BEFORE_AFTER)) throw new Error(`--before-after must be one of the sizes (${SIZES.join(', ')}); got ${options['before-after']}`);

/** Experiments besides the largest, each with 1 % of its runs. */
const OTHER_EXPERIMENTS = 9;
const MODELS = 1000;
const VERSIONS_PER_MODEL = 10;
const TRACES = 10_000;
const HISTORY_STEPS = 10_000;
const SEARCH_CONCURRENCY = 2;
const WRITERS = 4;
/** A laptop's link to API Gateway, emulated by Chromium for one figure of the UI: 20 Mbit/s down, 5 up, 40 ms more per round trip. */
const LINK = { latency: 40, downloadThroughput: 20e6 / 8, uploadThroughput: 5e6 / 8 };
const LINK_NAME = '20 Mbit/s, 40 ms';
/** The UI's page of runs. */
const PAGE = 100;
const SEARCHES: Record<string, { filter?: string; page?: number }> = {
  'search_runs default order': {},
  'search_runs metric filter': { filter: 'metrics.metric_0 < 0.02' },
  'search_runs param filter': { filter: "params.param_00 = '3'" },
  'search_runs tag filter': { filter: "tags.stage = 'champion'" },
  'search_runs page 10': { page: 10 },
};

/** Rows and size on disk (data + indexes, InnoDB's estimate) of the tables that grow with the runs. */
function sizesOf(db: MariaDb): string {
  const rows = db.query(`SELECT table_name, table_rows, ROUND((data_length + index_length) / 1048576) FROM information_schema.tables
    WHERE table_schema = '${db.database}' AND table_name IN ('runs', 'params', 'tags', 'latest_metrics', 'metrics') ORDER BY 1`);
  return rows.split('\n').filter(Boolean).map((line) => {
    const [table, count, mib] = line.split('\t');
    return `${table} ${Number(count).toLocaleString('en')} rows ${mib} MiB`;
  }).join(', ');
}

interface Figure { p50: number; p99: number; n: number }
type Row = Map<string, Figure>;

/** `count` requests made by `send(i, worker)` from `concurrency` workers in a closed loop, within the time budget. */
async function timed(count: number, concurrency: number, send: (i: number, worker: number) => Promise<{ status: number; ms: number; body: string }>): Promise<Figure> {
  const latencies: number[] = [];
  const deadline = Date.now() + SECONDS * 1000;
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    while (next < count && (Date.now() < deadline || latencies.length < 3)) {
      const i = next++;
      const answer = await send(i, w);
      if (answer.status !== 200) throw new Error(`request ${i}: ${answer.status} ${answer.body.slice(0, 400)}`);
      latencies.push(answer.ms);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), n: latencies.length };
}

/** The table of every row so far: p50/p99 and their ratios to the first row's. */
function printTable(rows: ReadonlyArray<[string, Row]>): void {
  const names = [...rows[0][1].keys()];
  console.log(`\nresults (ms, p50 / p99; ratio to ${rows[0][0]} in parentheses); search_runs ${PAGE} per page, ${SEARCH_CONCURRENCY} concurrent clients; log_batch ${WRITERS} concurrent writers`);
  console.log(['measurement'.padEnd(46), ...rows.map(([label]) => label.padStart(30))].join(' '));
  for (const name of names) {
    const first = rows[0][1].get(name)!;
    const cells = rows.map(([, row]) => {
      const figure = row.get(name)!;
      return `${figure.p50.toFixed(0)}/${figure.p99.toFixed(0)} (${(figure.p50 / first.p50).toFixed(1)}x/${(figure.p99 / first.p99).toFixed(1)}x)`.padStart(30);
    });
    console.log([name.padEnd(46), ...cells].join(' '));
  }
}

async function main(): Promise<void> {
  const slowLog = join(tmpdir(), `mlflow-scale-slow-${process.pid}.log`);
  const stack = await startStack({
    mariadb: {
      bufferPoolMiB: BUFFER_POOL_MIB,
      serverArgs: ['--slow-query-log=1', `--slow-query-log-file=${slowLog}`, '--long-query-time=0.25', '--log-slow-verbosity=query_plan,explain', '--max-allowed-packet=256M',
        // A redo log large enough that the bulk load is not throttled by checkpoints (MariaDB's default is 96 MiB).
        '--innodb-log-file-size=2G'],
    },
  });
  let browser: Browser | undefined;
  try {
    const base = stack.proxy!.url;
    const headers = { authorization: stack.authorization() };
    // Keep-alive connections of one measurement; a new set for each, so that none has idled past the proxy's
    // keep-alive timeout during the seeding (Node would reuse a connection nginx is closing: ECONNRESET).
    let agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const api = (path: string, body?: unknown) => http(base, path, { headers, body, agent, timeoutMs: 300_000 });
    console.log(`bench:scale on ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the start`);
    console.log(`MLflow ${stack.python.mlflowVersion} (MLFLOW_WORKERS=${stack.task.mlflow.environment.MLFLOW_WORKERS}, task ${stack.task.cpu} CPU units / ${stack.task.memoryMiB} MiB), `
      + `MariaDB ${stack.db.version} (InnoDB buffer pool ${BUFFER_POOL_MIB} MiB), nginx proxy at ${base}; all through the proxy`);

    // The template: MLflow's own client through the proxy.
    const written = await stack.runPython([join(__dirname, '..', 'test', 'e2e', 'support', 'scale-template.py'), 'scale-template', '2'], { ...stack.clientEnv(), AWS_EC2_METADATA_DISABLED: 'true' }, 300_000);
    if (written.status !== 0) throw new Error(`template.py failed:\n${written.stderr}`);
    const ids = JSON.parse(written.stdout.trim().split('\n').at(-1)!);
    const template: Template = { experimentId: ids.experiment_id, runIds: ids.run_ids, model: ids.model, version: ids.version, traceId: ids.trace_id };
    const createExperiment = async (name: string): Promise<string> => {
      const answer = await api('/api/2.0/mlflow/experiments/create', { name });
      if (answer.status !== 200) throw new Error(answer.body);
      return JSON.parse(answer.body).experiment_id;
    };
    const largest = await createExperiment('scale-largest');
    const others = [];
    for (let i = 1; i <= OTHER_EXPERIMENTS; i += 1) others.push(await createExperiment(`scale-other-${i}`));
    const genai = await createExperiment('scale-genai');

    let seconds = Date.now();
    const historyRun = seedLongHistory(stack.db, template, largest, 'scale-history', HISTORY_STEPS);
    seedModels(stack.db, template, 0, MODELS, VERSIONS_PER_MODEL, 'scale-largest');
    seedTraces(stack.db, template, genai, 0, TRACES);
    console.log(`seeded ${MODELS} registered models x ${VERSIONS_PER_MODEL} versions, ${TRACES} traces, a ${HISTORY_STEPS}-step metric in ${((Date.now() - seconds) / 1000).toFixed(0)} s`);

    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    // The credentials as a header, not Playwright's httpCredentials: those make Chromium intercept every request, which
    // turns its HTTP cache off, and a returning user's browser has MLflow's static files cached (max-age 28 days).
    const newContext = (extra: Record<string, string> = {}) => browser!.newContext({ extraHTTPHeaders: { authorization: stack.authorization(), ...extra }, viewport: { width: 1400, height: 900 } });
    const returning = await newContext();
    /** The UI's slowest API requests of the last page load, and what it transferred, for the report. */
    let slowestRequests: string[] = [];
    let transferred = 0;
    /**
     * Loads the page and waits for `visible`. `firstVisit`: in a new browser context (nothing cached). `link`: the
     * network emulated by Chromium (CDP), a laptop's link to API Gateway rather than loopback. `identity`: the
     * browser asks for no compression (Accept-Encoding: identity), as the proxy served before it compressed.
     */
    const pageLoad = async (hash: string, visible: string, firstVisit = false, link?: typeof LINK, identity = false): Promise<{ status: number; ms: number; body: string }> => {
      const context = firstVisit ? await newContext(identity ? { 'accept-encoding': 'identity' } : {}) : returning;
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      if (link) await cdp.send('Network.emulateNetworkConditions', { offline: false, ...link });
      let bytes = 0;
      cdp.on('Network.loadingFinished', (event) => { bytes += event.encodedDataLength; });
      const requests: Array<[number, string]> = [];
      page.on('requestfinished', (request) => {
        const timing = request.timing();
        if (/\/(ajax-)?api\/|\/graphql/.test(request.url())) requests.push([timing.responseEnd, `${request.method()} ${request.url().replace(base, '').slice(0, 90)}`]);
      });
      try {
        const started = Date.now();
        await page.goto(`${base}/${hash}`, { waitUntil: 'domcontentloaded' });
        await page.getByText(visible, { exact: true }).first().waitFor({ state: 'visible', timeout: 120_000 });
        const ms = Date.now() - started;
        slowestRequests = requests.sort((a, b) => b[0] - a[0]).slice(0, 4).map(([t, what]) => `${what} ${t.toFixed(0)} ms`);
        transferred = bytes;
        return { status: 200, ms, body: '' };
      } finally {
        await cdp.detach().catch(() => undefined);
        await page.close();
        if (firstVisit) await context.close();
      }
    };

    const measure = async (size: number, label: string): Promise<Row> => {
      agent.destroy();
      agent = new Agent({ keepAlive: true, maxSockets: 8 });
      const row: Row = new Map();
      const record = (name: string, figure: Figure) => {
        row.set(name, figure);
        console.log(`  ${label} ${name}: p50 ${figure.p50.toFixed(0)} ms, p99 ${figure.p99.toFixed(0)} ms (${figure.n} requests)`);
      };
      for (const [name, search] of Object.entries(SEARCHES)) {
        let pageToken: string | undefined;
        for (let page = 1; page < (search.page ?? 1); page += 1) {
          const answer = await api('/api/2.0/mlflow/runs/search', { experiment_ids: [largest], max_results: PAGE, page_token: pageToken });
          pageToken = JSON.parse(answer.body).next_page_token;
        }
        const body = { experiment_ids: [largest], max_results: PAGE, filter: search.filter, page_token: pageToken };
        await api('/api/2.0/mlflow/runs/search', body); // warm-up, not measured
        record(name, await timed(SAMPLES, SEARCH_CONCURRENCY, () => api('/api/2.0/mlflow/runs/search', body)));
      }
      // Writers: each its own new run in the largest experiment, logging in a closed loop.
      const writers: string[] = [];
      for (let w = 0; w < WRITERS; w += 1) {
        const answer = await api('/api/2.0/mlflow/runs/create', { experiment_id: largest, start_time: Date.now(), run_name: `writer-${label}-${w}` });
        writers.push(JSON.parse(answer.body).run.info.run_id);
      }
      for (const batch of [10, 1000]) {
        const step = new Map<number, number>();
        record(`log_batch of ${batch} (${WRITERS} writers)`, await timed(batch === 10 ? SAMPLES * 10 : SAMPLES, WRITERS, (_, w) => {
          // Each writer logs to its own run, as one training job per run does.
          const run = writers[w];
          const s = (step.get(w) ?? 0) + 1;
          step.set(w, s);
          const metrics = Array.from({ length: batch }, (_, k) => ({ key: `m_${k % 50}`, value: Math.random(), timestamp: Date.now(), step: s * 100 + Math.floor(k / 50) }));
          return api('/api/2.0/mlflow/runs/log-batch', { run_id: run, metrics });
        }));
      }
      record(`get_metric_history (${HISTORY_STEPS} steps)`, await timed(SAMPLES, 1, () => api(`/api/2.0/mlflow/metrics/get-history?run_id=${historyRun}&metric_key=loss`)));
      record(`search_registered_models (${MODELS * VERSIONS_PER_MODEL} versions)`, await timed(SAMPLES, SEARCH_CONCURRENCY, () => api(`/api/2.0/mlflow/registered-models/search?max_results=${PAGE}`)));
      record(`search_traces (${TRACES} traces)`, await timed(SAMPLES, SEARCH_CONCURRENCY, () => api('/api/3.0/mlflow/traces/search', { locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: genai } }], max_results: PAGE })));
      // The UI: the newest run's name in the runs table; the run page's own name.
      const newest = `scale-largest-${size - 1}`;
      await pageLoad(`#/experiments/${largest}/runs`, newest); // warm-up: the returning user's browser has the UI's scripts
      record('UI experiment page, first visit', await timed(3, 1, () => pageLoad(`#/experiments/${largest}/runs`, newest, true)));
      console.log(`    ${(transferred / 1e6).toFixed(2)} MB transferred`);
      record(`UI experiment page, first visit, ${LINK_NAME}`, await timed(3, 1, () => pageLoad(`#/experiments/${largest}/runs`, newest, true, LINK)));
      console.log(`    ${(transferred / 1e6).toFixed(2)} MB transferred`);
      record(`UI experiment page, first visit, ${LINK_NAME}, uncompressed`, await timed(3, 1, () => pageLoad(`#/experiments/${largest}/runs`, newest, true, LINK, true)));
      console.log(`    ${(transferred / 1e6).toFixed(2)} MB transferred (Accept-Encoding: identity, as before the proxy compressed)`);
      record('UI experiment page (runs table rendered)', await timed(3, 1, () => pageLoad(`#/experiments/${largest}/runs`, newest)));
      console.log(`    slowest API requests of its last load: ${slowestRequests.join('; ')}`);
      record('UI run page', await timed(3, 1, () => pageLoad(`#/experiments/${largest}/runs/${runId('scale-largest', size - 2)}`, `scale-largest-${size - 2}`)));
      console.log(`    slowest API requests of its last load: ${slowestRequests.join('; ')}`);
      return row;
    };

    const rows: Array<[string, Row]> = [];
    let seeded = 0;
    for (const size of SIZES) {
      seconds = Date.now();
      // As a bulk load is made: the project's secondary indexes dropped first and built after the load by the
      // entrypoint's upgrade task (a sorted build instead of a random insert per row).
      const present = new Set(stack.db.query(`SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = '${stack.db.database}'`).split('\n'));
      for (const index of projectIndexes(stack.python.python)) {
        if (present.has(index.name)) stack.db.query(`ALTER TABLE \`${stack.db.database}\`.\`${index.table}\` DROP INDEX \`${index.name}\``);
      }
      seedRunSeries(stack.db, template, [
        { experimentId: largest, series: 'scale-largest', from: seeded, to: size },
        ...others.map((experimentId, i) => ({ experimentId, series: `scale-other-${i}`, from: seeded / 100, to: size / 100 })),
      ]);
      const loaded = Date.now();
      const migrated = await stack.runMlflowOnce({ MLFLOW_MIGRATE_ONLY: 'true' }, 3_600_000);
      if (migrated.status !== 0) throw new Error(`the migration failed:\n${migrated.output}`);
      const indexed = Date.now();
      const added = size - seeded + OTHER_EXPERIMENTS * (size - seeded) / 100;
      seeded = size;
      stack.db.query(`ANALYZE TABLE \`${stack.db.database}\`.runs, \`${stack.db.database}\`.params, \`${stack.db.database}\`.tags, \`${stack.db.database}\`.latest_metrics, \`${stack.db.database}\`.metrics`);
      const problems = checkShapes(stack.db, template, runId('scale-largest', size - 1));
      if (problems.length > 0) throw new Error(`seeded rows differ from the client's: ${problems.join('; ')}`);
      const total = Number(stack.db.query(`SELECT COUNT(*) FROM \`${stack.db.database}\`.runs`));
      console.log(`\n${size} runs in the largest experiment (${total} runs in all, ${OTHER_EXPERIMENTS} other experiments; full metric history for 1 run in ${HISTORY_EVERY}): seeded ${added} runs in ${((loaded - seconds) / 1000).toFixed(0)} s (${(added / ((loaded - seconds) / 1000)).toFixed(0)} runs/s), the project's indexes built by the entrypoint's upgrade task in ${((indexed - loaded) / 1000).toFixed(0)} s, rows as MLflow's client wrote them; ${sizesOf(stack.db)}; load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
      rows.push([`${size} runs`, await measure(size, `${size}:`)]);
      if (size === BEFORE_AFTER) {
        console.log(`\nbefore/after at ${size} runs: the project's indexes dropped (MLflow's schema alone) and measured again; then the entrypoint's migration (MLFLOW_MIGRATE_ONLY=true) restores them`);
        for (const index of projectIndexes(stack.python.python)) stack.db.query(`ALTER TABLE \`${stack.db.database}\`.\`${index.table}\` DROP INDEX \`${index.name}\``);
        rows.push([`${size} runs without the indexes`, await measure(size, 'before:')]);
        seconds = Date.now();
        const migrated = await stack.runMlflowOnce({ MLFLOW_MIGRATE_ONLY: 'true' }, 3_600_000);
        if (migrated.status !== 0) throw new Error(`the migration failed:\n${migrated.output}`);
        console.log(`  the entrypoint's migration created them again in ${((Date.now() - seconds) / 1000).toFixed(0)} s`);
      }
      if (size !== SIZES.at(-1)) printTable(rows); // so far, in case a larger size does not finish in the time there is
    }

    printTable(rows);
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    if (existsSync(slowLog)) {
      const slow = slowStatements(readFileSync(slowLog, 'utf8'), stack.db.user);
      console.log(`\nMariaDB's slow-query log (${slowLog}): MLflow's statements over 0.25 s, by statement, the costliest first, with MariaDB's EXPLAIN:`);
      printSlowStatements(slow);
    }
  } finally {
    await browser?.close();
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
