/**
 * MLflow's REST API as the CLI calls it (`mlflowRequest`, also for `users`), and what MLflow holds, counted through it at the tracking URI with the MLflow credentials (the same way a
 * client reaches it): experiments and runs (active and deleted), registered models and model versions. MLflow has no
 * count call, so this pages through the search calls; runs are counted within a time budget.
 */

export interface MlflowContents {
  readonly experiments: { readonly active: number; readonly deleted: number };
  readonly runs: {
    readonly active: number;
    readonly deleted: number;
    /** False when the time budget ran out first: the numbers are then lower bounds. */
    readonly complete: boolean;
  };
  readonly registeredModels: number;
  readonly modelVersions: number;
}

export interface CountOptions {
  /** Runs per search page. Each run comes with its params, tags and latest metrics; API Gateway answers at most 10 MB. @default 200 */
  readonly runPageSize?: number;
  /** Time after which run counting stops and reports what it has. @default 120 s */
  readonly runBudgetMs?: number;
  /** Time one request may take: the first may wake a paused database (about 15 s). @default 60 s */
  readonly requestTimeoutMs?: number;
  readonly now?: () => number;
}

/** MLflow answered with an error, or could not be reached. */
export class MlflowRequestError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'MlflowRequestError';
  }
}

/** MLflow's answer to one REST call: its status and body text. */
export interface MlflowAnswer {
  readonly status: number;
  readonly ok: boolean;
  readonly text: string;
  readonly url: URL;
}

/**
 * One call of MLflow's REST API at `trackingUri` (`path` relative to it, so a path prefix of the URI is kept), with the
 * given Authorization header and a JSON body when there is one. Throws `MlflowRequestError` when no answer comes
 * within `timeoutMs`; any answer, error statuses included, is returned for the caller to judge.
 */
export async function mlflowRequest(
  trackingUri: string,
  authorization: string,
  request: { method: 'GET' | 'POST' | 'DELETE'; path: string; body?: unknown; timeoutMs: number },
): Promise<MlflowAnswer> {
  const url = new URL(request.path.replace(/^\/+/, ''), trackingUri.endsWith('/') ? trackingUri : `${trackingUri}/`);
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers: { authorization, ...(request.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new MlflowRequestError(`MLflow at ${url.origin} did not answer ${url.pathname}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  return { status: response.status, ok: response.ok, text: await response.text(), url };
}

/** experiment_ids per runs/search request. */
const EXPERIMENTS_PER_RUN_SEARCH = 100;

export async function countMlflowContents(
  trackingUri: string,
  credentials: { username: string; password: string },
  options: CountOptions = {},
): Promise<MlflowContents> {
  const now = options.now ?? Date.now;
  const authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
  const timeoutMs = options.requestTimeoutMs ?? 60_000;

  const call = async (path: string, body?: unknown): Promise<any> => {
    const response = await mlflowRequest(trackingUri, authorization, { method: body === undefined ? 'GET' : 'POST', path, body, timeoutMs });
    const { text, url } = response;
    if (response.status === 401) throw new MlflowRequestError(`MLflow at ${url.origin} refused the credentials (401)`, 401);
    if (!response.ok) throw new MlflowRequestError(`MLflow at ${url.origin} answered ${url.pathname} with ${response.status}: ${text.slice(0, 300)}`, response.status);
    try {
      return JSON.parse(text || '{}');
    } catch {
      throw new MlflowRequestError(`MLflow at ${url.origin} answered ${url.pathname} with something other than JSON: ${text.slice(0, 120)}`, response.status);
    }
  };

  /** Follows next_page_token through a GET search; `items` picks the page's entries. */
  const pages = async <T>(path: string, query: Record<string, string>, items: (page: any) => T[] | undefined): Promise<T[]> => {
    const all: T[] = [];
    let token: string | undefined;
    do {
      const page = await call(`${path}?${new URLSearchParams({ ...query, ...(token ? { page_token: token } : {}) })}`);
      all.push(...(items(page) ?? []));
      token = page.next_page_token || undefined;
    } while (token);
    return all;
  };

  const experiments = await pages<{ experiment_id: string; lifecycle_stage: string }>(
    'api/2.0/mlflow/experiments/search', { max_results: '1000', view_type: 'ALL' }, (page) => page.experiments);

  const runs = { active: 0, deleted: 0, complete: true };
  const deadline = now() + (options.runBudgetMs ?? 120_000);
  const ids = experiments.map((e) => e.experiment_id);
  counting: for (let i = 0; i < ids.length; i += EXPERIMENTS_PER_RUN_SEARCH) {
    let token: string | undefined;
    do {
      if (now() > deadline) {
        runs.complete = false;
        break counting;
      }
      const page = await call('api/2.0/mlflow/runs/search', {
        experiment_ids: ids.slice(i, i + EXPERIMENTS_PER_RUN_SEARCH),
        run_view_type: 'ALL',
        max_results: options.runPageSize ?? 200,
        ...(token ? { page_token: token } : {}),
      });
      for (const run of page.runs ?? []) {
        if (run.info?.lifecycle_stage === 'deleted') runs.deleted += 1;
        else runs.active += 1;
      }
      token = page.next_page_token || undefined;
    } while (token);
  }

  const registeredModels = await pages('api/2.0/mlflow/registered-models/search', { max_results: '1000' }, (page) => page.registered_models);
  const modelVersions = await pages('api/2.0/mlflow/model-versions/search', { max_results: '1000' }, (page) => page.model_versions);

  return {
    experiments: {
      active: experiments.filter((e) => e.lifecycle_stage !== 'deleted').length,
      deleted: experiments.filter((e) => e.lifecycle_stage === 'deleted').length,
    },
    runs,
    registeredModels: registeredModels.length,
    modelVersions: modelVersions.length,
  };
}

/** One line: "3 experiments (1 deleted), 6 runs (1 deleted), 1 registered model with 2 versions". */
export function describeContents(contents: MlflowContents): string {
  const n = (count: number, one: string, many = `${one}s`) => `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
  const deleted = (count: number) => (count > 0 ? ` (${count.toLocaleString('en-US')} deleted)` : '');
  const { experiments, runs } = contents;
  const runText = runs.complete
    ? `${n(runs.active + runs.deleted, 'run')}${deleted(runs.deleted)}`
    : `at least ${n(runs.active + runs.deleted, 'run')}${deleted(runs.deleted)} (counting stopped: time budget spent)`;
  return `${n(experiments.active + experiments.deleted, 'experiment')}${deleted(experiments.deleted)}, ${runText}, `
    + `${n(contents.registeredModels, 'registered model')} with ${n(contents.modelVersions, 'version')}`;
}
