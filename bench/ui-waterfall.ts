/**
 * `node --import tsx bench/ui-waterfall.ts [--runs 10000]`: where the UI's experiment page spends its time, on the
 * stack of the end-to-end suite (MariaDB, MLflow through its entrypoint, the nginx proxy) with one experiment of
 * `--runs` seeded runs (test/e2e/support/scale-seed.ts). For a first visit (a new browser profile) and a returning one
 * (the same profile again), on loopback and over an emulated laptop link (20 Mbit/s down, 5 up, 40 ms more per round
 * trip; Chromium's network emulation over CDP), with and without compression (Accept-Encoding: identity), it prints
 * the time until the newest run's name shows in the runs table, DOMContentLoaded, Chromium's own CPU time (script,
 * all tasks, layout; Performance.getMetrics), the bytes transferred, and every request in order: start, duration,
 * status, bytes on the wire, Content-Encoding, whether it came from the browser's cache, and Cache-Control.
 * Loopback only; not a test. docs/reference/performance.md ("The experiment page") has what it showed.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { http } from '../test/e2e/support/http';
import { seedRunSeries, type Template } from '../test/e2e/support/scale-seed';
import { startStack } from '../test/e2e/support/stack';

const { values: options } = parseArgs({ options: { runs: { type: 'string', default: '10000' } } });
const RUNS = Number(options.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a whole number of runs, at least 1; got ${options.runs}`);
const LINK = { latency: 40, downloadThroughput: 20e6 / 8, uploadThroughput: 5e6 / 8 };

interface Row { url: string; start: number; end?: number; status?: number; bytes?: number; encoding?: string; cached?: boolean; cacheControl?: string }

async function main(): Promise<void> {
  const stack = await startStack({ mariadb: { bufferPoolMiB: 512 } });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const base = stack.proxy!.url;
    const written = await stack.runPython([join(__dirname, '..', 'test', 'e2e', 'support', 'scale-template.py'), 'waterfall-template', '1'], { ...stack.clientEnv(), AWS_EC2_METADATA_DISABLED: 'true' }, 300_000);
    if (written.status !== 0) throw new Error(`scale-template.py failed:\n${written.stderr}`);
    const ids = JSON.parse(written.stdout.trim().split('\n').at(-1)!);
    const template: Template = { experimentId: ids.experiment_id, runIds: ids.run_ids, model: ids.model, version: ids.version, traceId: ids.trace_id };
    const created = await http(base, '/api/2.0/mlflow/experiments/create', { headers: { authorization: stack.authorization() }, body: { name: 'waterfall' } });
    const experimentId = JSON.parse(created.body).experiment_id;
    seedRunSeries(stack.db, template, [{ experimentId, series: 'waterfall', from: 0, to: RUNS }]);
    const newest = `waterfall-${RUNS - 1}`;
    for (const [variant, link, identity] of [['loopback', false, false], ['loopback, uncompressed', false, true], ['20 Mbit/s, 40 ms', true, false], ['20 Mbit/s, 40 ms, uncompressed', true, true]] as const) {
      const context = await browser.newContext({ extraHTTPHeaders: { authorization: stack.authorization(), ...(identity ? { 'accept-encoding': 'identity' } : {}) }, viewport: { width: 1400, height: 900 } });
      for (const visit of ['first visit', 'returning visit']) {
        const page = await context.newPage();
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Performance.enable');
        if (link) await cdp.send('Network.emulateNetworkConditions', { offline: false, ...LINK });
        const rows = new Map<string, Row>();
        cdp.on('Network.requestWillBeSent', (e) => rows.set(e.requestId, { url: e.request.url.replace(base, ''), start: e.timestamp }));
        cdp.on('Network.responseReceived', (e) => {
          const row = rows.get(e.requestId);
          if (!row) return;
          const header = (name: string) => Object.entries(e.response.headers).find(([k]) => k.toLowerCase() === name)?.[1] ?? '';
          Object.assign(row, { status: e.response.status, encoding: header('content-encoding'), cacheControl: header('cache-control'), cached: Boolean(e.response.fromDiskCache) });
        });
        cdp.on('Network.loadingFinished', (e) => {
          const row = rows.get(e.requestId);
          if (row) Object.assign(row, { end: e.timestamp, bytes: e.encodedDataLength });
        });
        const started = Date.now();
        await page.goto(`${base}/#/experiments/${experimentId}/runs`, { waitUntil: 'domcontentloaded' });
        const domContentLoaded = Date.now() - started;
        await page.getByText(newest, { exact: true }).first().waitFor({ state: 'visible', timeout: 120_000 });
        const ms = Date.now() - started;
        const metrics = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
        const all = [...rows.values()].sort((a, b) => a.start - b.start);
        const t0 = all[0]?.start ?? 0;
        const total = all.reduce((sum, row) => sum + (row.bytes ?? 0), 0);
        console.log(`\n${RUNS} runs, ${variant}, ${visit}: runs table in ${ms} ms (DOMContentLoaded ${domContentLoaded} ms); Chromium's CPU: script ${(metrics.ScriptDuration * 1000).toFixed(0)} ms, `
          + `tasks ${(metrics.TaskDuration * 1000).toFixed(0)} ms, layout ${(metrics.LayoutDuration * 1000).toFixed(0)} ms; ${(total / 1e6).toFixed(2)} MB transferred in ${all.length} requests`);
        console.log('  start ms   +ms status     bytes enc   cache Cache-Control                url');
        for (const row of all) {
          console.log(`  ${((row.start - t0) * 1000).toFixed(0).padStart(8)} ${(((row.end ?? row.start) - row.start) * 1000).toFixed(0).padStart(5)} ${String(row.status ?? '-').padStart(6)} ${String(row.bytes ?? '-').padStart(9)} `
            + `${(row.encoding ?? '').padEnd(5)} ${row.cached ? 'yes  ' : '     '} ${(row.cacheControl ?? '').slice(0, 28).padEnd(28)} ${row.url.slice(0, 90)}`);
        }
        await page.close();
      }
      await context.close();
    }
  } finally {
    await browser.close();
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
