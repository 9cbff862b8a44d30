'use strict';
/**
 * Sleep and wake of the MLflow service (issue 27): the decisions, with no AWS call, shared by the sleep function
 * (handler.js, deployed as a Lambda function as is: plain CommonJS, no build step) and the CLI (`status`, which says
 * "asleep"). Each decision is a pure function of what the handler read, so the tests check them on their own.
 *
 * Request classes. A request counts as someone's activity unless it is
 * - a health check (`/elb-status`, `/health`: the load balancer's, the container's, or anyone's without credentials),
 * - a request the MLflow UI sends by itself while a tab stays open (MLflow 3.17: the runs table re-runs its search
 *   every 30 s, `POST /ajax-api/2.0/mlflow/runs/search`, unless its "Auto-refresh" is turned off; a RUNNING run's
 *   metric charts re-read their history every 30 s, `GET /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval`),
 * - refused before reaching MLflow's work (401, 403, 429: a scanner or a wrong password keeps nothing awake).
 * The UI's own requests go to `/ajax-api/`, clients (the Python client, the lab) to `/api/`: a script's runs/search
 * is activity. The cost: a person who only re-sorts or filters the runs table sends the same request as the
 * auto-refresh and is not seen as working (any other click is).
 */

/** Paths of health checks. */
const HEALTH_PATHS = Object.freeze(['/elb-status', '/health']);

/** Requests the MLflow UI repeats by itself while a page stays open (method and exact path). */
const UI_REFRESH_REQUESTS = Object.freeze([
  Object.freeze({ method: 'POST', path: '/ajax-api/2.0/mlflow/runs/search', what: "the runs table's auto-refresh (every 30 s)" }),
  Object.freeze({ method: 'GET', path: '/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval', what: "a RUNNING run's metric charts (every 30 s)" }),
]);

/** Statuses of requests refused before any work: they never count as activity. */
const REFUSED_STATUSES = Object.freeze(['401', '403', '429']);

/**
 * The class of one request: 'health', 'refresh' (the UI by itself), 'refused' or 'activity'.
 * @param {{ method?: string, path?: string, status?: string | number }} request as the gateway's access log has it
 * @returns {'health' | 'refresh' | 'refused' | 'activity'}
 */
function classifyRequest(request) {
  const method = String(request.method ?? '').toUpperCase();
  const path = String(request.path ?? '').split('?')[0];
  if (HEALTH_PATHS.includes(path)) return 'health';
  if (UI_REFRESH_REQUESTS.some((r) => r.method === method && r.path === path)) return 'refresh';
  if (REFUSED_STATUSES.includes(String(request.status ?? ''))) return 'refused';
  return 'activity';
}

/**
 * The CloudWatch Logs filter pattern (JSON form, the gateway's access log) that matches what `classifyRequest` calls
 * activity, optionally only with one status (the wake subscription: 503, what a sleeping deployment answers).
 * @param {{ status?: string }} [options]
 * @returns {string}
 */
function activityFilterPattern(options = {}) {
  const terms = [
    ...(options.status ? [`$.status = "${options.status}"`] : REFUSED_STATUSES.map((s) => `$.status != "${s}"`)),
    ...HEALTH_PATHS.map((p) => `$.path != "${p}"`),
    ...UI_REFRESH_REQUESTS.map((r) => `($.method != "${r.method}" || $.path != "${r.path}")`),
  ];
  return `{ ${terms.join(' && ')} }`;
}

/**
 * The service's state from its Application Auto Scaling target and ECS desired count:
 * - 'paused': held at 0..0 with every kind of scaling suspended (`npx mlflow-on-aws pause`): off until resumed;
 * - 'off-hours': 0..0 by the active hours' scheduled action (scaling not suspended): off until their start;
 * - 'asleep': put to sleep by the sleep function: minimum 0 (maximum kept), desired 0, not suspended;
 * - 'running': tasks desired (starting or running).
 * @param {{ min: number, max: number, suspended: boolean, desired: number }} capacity
 * @returns {'paused' | 'off-hours' | 'asleep' | 'running'}
 */
function serviceState(capacity) {
  if (capacity.max === 0) return capacity.suspended ? 'paused' : 'off-hours';
  if (capacity.desired === 0 && capacity.min === 0) return 'asleep';
  return 'running';
}

/**
 * The periodic decision: put the service to sleep when it runs, no deployment is rolling out, nobody's request came in
 * the last `sleepAfterMinutes` (`activity`: the count of activity requests in that window), and its youngest task has
 * been up that long too. A start that no request made (`resume`, `deploy` waking it, the start of `activeHours`, a
 * scale-out) thus gets `sleepAfterMinutes` like a request does, instead of being stopped at the next run (`starting`:
 * fewer tasks running than desired; `youngestTaskMinutes`: minutes since the youngest running task started, undefined
 * when the caller did not read it).
 * @param {{ state: string, activity: number, deploying: boolean, starting?: boolean, youngestTaskMinutes?: number, sleepAfterMinutes?: number }} input
 * @returns {{ action: 'sleep' | 'none', reason: string }}
 */
function decideSleep(input) {
  if (input.state !== 'running') return { action: 'none', reason: `the service is ${input.state}` };
  if (input.deploying) return { action: 'none', reason: 'a deployment is rolling out' };
  if (input.activity > 0) return { action: 'none', reason: `${input.activity} request(s) of someone's in the window` };
  if (input.starting) return { action: 'none', reason: 'tasks are starting' };
  if (input.youngestTaskMinutes !== undefined && input.sleepAfterMinutes !== undefined && input.youngestTaskMinutes < input.sleepAfterMinutes) {
    return { action: 'none', reason: `a task started ${Math.floor(input.youngestTaskMinutes)} min ago (under ${input.sleepAfterMinutes})` };
  }
  return { action: 'sleep', reason: 'no request of someone\'s in the window (health checks and the UI\'s auto-refresh do not count)' };
}

/**
 * The decision on requests that reached a sleeping deployment: wake it when one of them is someone's activity and the
 * service is asleep (never when paused or outside the active hours, which stay off).
 * @param {{ state: string, requests: Array<{ method?: string, path?: string, status?: string | number }> }} input
 * @returns {{ action: 'wake' | 'none', reason: string }}
 */
function decideWake(input) {
  const activity = input.requests.filter((r) => classifyRequest(r) === 'activity');
  if (activity.length === 0) return { action: 'none', reason: 'no request of someone\'s among them' };
  if (input.state !== 'asleep') return { action: 'none', reason: `the service is ${input.state}` };
  const first = activity[0];
  return { action: 'wake', reason: `${String(first.method)} ${String(first.path)}${activity.length > 1 ? ` and ${activity.length - 1} more` : ''}` };
}

/**
 * Where the gateway's routes should point: at the starting function ('flip') while the service runs no task it may
 * answer with (asleep, paused, outside the active hours), back at the VPC link ('restore') once it runs with a healthy
 * task behind the front door; otherwise leave them ('none'). A starting service keeps the routes where they are: on
 * the starting function after a wake, on the VPC link after a `resume` whose first task is not up yet.
 * @param {{ state: string, healthy: boolean, flipped: boolean }} input
 * @returns {{ action: 'flip' | 'restore' | 'none', reason: string }}
 */
function decideRoutes(input) {
  if (input.state === 'running') {
    if (!input.flipped) return { action: 'none', reason: 'the routes are on the VPC link' };
    if (!input.healthy) return { action: 'none', reason: 'no healthy task behind the front door yet' };
    return { action: 'restore', reason: 'a healthy task runs: the routes back on the VPC link' };
  }
  if (input.flipped) return { action: 'none', reason: `the service is ${input.state}; the routes are on the starting function` };
  return { action: 'flip', reason: `the service is ${input.state}: the routes to the starting function` };
}

/** What each state tells a person, and what it tells a client (MLflow's JSON error form). */
const STATE_TEXT = Object.freeze({
  starting: Object.freeze({ title: 'MLflow is starting', detail: 'It was asleep and is starting now, which takes about two minutes. This page reloads by itself.' }),
  asleep: Object.freeze({ title: 'MLflow is starting', detail: 'It was asleep and is starting now, which takes about two minutes. This page reloads by itself.' }),
  running: Object.freeze({ title: 'MLflow is starting', detail: 'It is almost ready. This page reloads by itself.' }),
  paused: Object.freeze({ title: 'MLflow is paused', detail: 'It was paused and no request starts it: run npx mlflow-on-aws resume to start it.' }),
  'off-hours': Object.freeze({ title: 'MLflow is off outside its active hours', detail: 'It starts at the next start of its active hours (activeHours), or with npx mlflow-on-aws resume.' }),
});

/** Seconds between the starting page's reloads. */
const PAGE_RELOAD_SECONDS = 5;

function escapeHtml(/** @type {string} */ text) {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/**
 * The answer of the starting function to one request (API Gateway's payload 2.0 response): always 503 with
 * `Retry-After`; a browser's page load (GET asking for text/html) gets a small page that says so and reloads itself
 * while the service starts (not when paused or outside the active hours: nothing starts it); anything else MLflow's
 * JSON error form, which its clients print.
 * @param {{ state: string, method?: string, accept?: string, retryAfterSeconds: number }} input
 * @returns {{ statusCode: number, headers: Record<string, string>, body: string }}
 */
function startingResponse(input) {
  const text = STATE_TEXT[/** @type {keyof typeof STATE_TEXT} */ (input.state)] ?? STATE_TEXT.starting;
  const starts = input.state !== 'paused' && input.state !== 'off-hours';
  const headers = { 'retry-after': String(input.retryAfterSeconds), 'cache-control': 'no-store' };
  const page = String(input.method ?? '').toUpperCase() === 'GET' && /text\/html/i.test(String(input.accept ?? ''));
  if (page) {
    const reload = starts ? `<meta http-equiv="refresh" content="${PAGE_RELOAD_SECONDS}">` : '';
    const body = `<!doctype html><html lang="en"><head><meta charset="utf-8">${reload}<title>${escapeHtml(text.title)}</title>`
      + '<meta name="viewport" content="width=device-width, initial-scale=1">'
      + '<style>body{font-family:system-ui,sans-serif;margin:15vh auto;max-width:34em;padding:0 1em;color:#1f2937}h1{font-size:1.6em}p{line-height:1.5}</style>'
      + `</head><body><h1>${escapeHtml(text.title)}</h1><p>${escapeHtml(text.detail)}</p></body></html>`;
    return { statusCode: 503, headers: { ...headers, 'content-type': 'text/html; charset=utf-8' }, body };
  }
  const body = JSON.stringify({ error_code: 'TEMPORARILY_UNAVAILABLE', message: `${text.title}. ${text.detail} Retry after ${input.retryAfterSeconds} s.` });
  return { statusCode: 503, headers: { ...headers, 'content-type': 'application/json' }, body };
}

module.exports = { HEALTH_PATHS, UI_REFRESH_REQUESTS, REFUSED_STATUSES, PAGE_RELOAD_SECONDS, classifyRequest, activityFilterPattern, serviceState, decideSleep, decideWake, decideRoutes, startingResponse };
