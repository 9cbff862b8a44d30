/**
 * Plain HTTP to MLflow or the proxy on loopback, for cases the MLflow client cannot express (any Host header, broken
 * credentials) and for the bounded load of the memory test and the benchmark. Loopback targets only.
 */
import { Agent, request as httpRequest } from 'node:http';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly ms: number;
}

export interface HttpOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  readonly timeoutMs?: number;
  readonly agent?: Agent;
}

/** One request to `base` (http://127.0.0.1:port) + `path`. A JSON body is serialized. Rejects on timeout. */
export function http(base: string, path: string, options: HttpOptions = {}): Promise<HttpResponse> {
  const url = new URL(path, base);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') throw new Error(`loopback only: ${url}`);
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, agent: options.agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 60_000, () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 60_000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface LoadResult {
  readonly requests: number;
  readonly failures: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The first few failures, for the message of a test that fails on them. */
  readonly failureSamples: readonly string[];
}

/**
 * Sends `count` requests made by `make(i)` over `concurrency` keep-alive connections, each waiting for its answer
 * before sending the next (closed loop). Counts non-2xx answers and errors as failures.
 */
export async function load(
  base: string,
  count: number,
  concurrency: number,
  make: (i: number) => { path: string; options?: HttpOptions },
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const failureSamples: string[] = [];
  const sample = (what: string): void => {
    if (failureSamples.length < 5) failureSamples.push(what);
  };
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const { path, options } = make(i);
      try {
        const response = await http(base, path, { ...options, agent });
        if (response.status < 200 || response.status > 299) {
          failures += 1;
          sample(`${path}: ${response.status} ${response.body.slice(0, 300)}`);
        }
        latencies.push(response.ms);
      } catch (error) {
        failures += 1;
        sample(`${path}: ${String(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { requests: count, failures, seconds, perSecond: count / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), failureSamples };
}

/** The `p`th percentile (nearest rank) of ascending `sorted` values; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * A race in MLflow 3.17's search_runs handler: it imports `mlflow.server.auth` lazily, and a request that arrives in a
 * worker while another thread of it is still importing that module sees it half-initialised and fails with a 500 (one
 * of the first concurrent searches after a worker starts; MLflow's own client retries a 500, so its users never see it).
 */
export const MLFLOW_LAZY_AUTH_IMPORT_RACE = "AttributeError: module 'mlflow.server.auth' has no attribute 'auth_config'";

/**
 * The failure samples of `results` that MLflow's log does not explain by the race above, given the log's text: each
 * search_runs 500 must have its own traceback line for it to be excused. Anything else is returned.
 */
export function unexplainedFailures(results: readonly LoadResult[], mlflowLog: string): string[] {
  let races = mlflowLog.split('\n').filter((line) => line.includes(MLFLOW_LAZY_AUTH_IMPORT_RACE)).length;
  const unexplained: string[] = [];
  for (const result of results) {
    if (result.failures > result.failureSamples.length) unexplained.push(`${result.failures - result.failureSamples.length} more failures not sampled`);
    for (const failure of result.failureSamples) {
      if (failure.startsWith('/api/2.0/mlflow/runs/search: 500 ') && races > 0) races -= 1;
      else unexplained.push(failure);
    }
  }
  return unexplained;
}

/** MLflow REST calls the load uses. */
export const mlflowApi = {
  createExperiment: '/api/2.0/mlflow/experiments/create',
  getExperimentByName: (name: string) => `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
  searchExperiments: '/api/2.0/mlflow/experiments/search?max_results=10',
  createRun: '/api/2.0/mlflow/runs/create',
  getRun: (runId: string) => `/api/2.0/mlflow/runs/get?run_id=${runId}`,
  logMetric: '/api/2.0/mlflow/runs/log-metric',
  searchRuns: '/api/2.0/mlflow/runs/search',
} as const;

/** Creates an experiment and a run in it through `base` with `headers`; returns their ids. */
export async function createExperimentAndRun(base: string, name: string, headers: Record<string, string>): Promise<{ experimentId: string; runId: string }> {
  const experiment = await http(base, mlflowApi.createExperiment, { headers, body: { name } });
  if (experiment.status !== 200) throw new Error(`create experiment: ${experiment.status} ${experiment.body}`);
  const experimentId = JSON.parse(experiment.body).experiment_id as string;
  const run = await http(base, mlflowApi.createRun, { headers, body: { experiment_id: experimentId, start_time: Date.now() } });
  if (run.status !== 200) throw new Error(`create run: ${run.status} ${run.body}`);
  return { experimentId, runId: JSON.parse(run.body).run.info.run_id as string };
}

/** The two loads of the memory test and the benchmark: log_metric requests, then search_runs requests. */
export async function trackingLoad(
  base: string,
  headers: Record<string, string>,
  target: { experimentId: string; runId: string },
  counts: { logMetric: number; searchRuns: number; concurrency: number },
): Promise<{ logMetric: LoadResult; searchRuns: LoadResult }> {
  const logMetric = await load(base, counts.logMetric, counts.concurrency, (i) => ({
    path: mlflowApi.logMetric,
    options: { headers, body: { run_id: target.runId, key: `load_${i % 20}`, value: i, timestamp: Date.now(), step: i } },
  }));
  const searchRuns = await load(base, counts.searchRuns, counts.concurrency, () => ({
    path: mlflowApi.searchRuns,
    options: { headers, body: { experiment_ids: [target.experimentId], max_results: 50 } },
  }));
  return { logMetric, searchRuns };
}
