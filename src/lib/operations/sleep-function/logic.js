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
 * The periodic decision: put the service to sleep when it runs, no deployment is rolling out, and nobody's request
 * came in the last `sleepAfterMinutes` (`activity`: the count of activity requests in that window).
 * @param {{ state: string, activity: number, deploying: boolean }} input
 * @returns {{ action: 'sleep' | 'none', reason: string }}
 */
function decideSleep(input) {
  if (input.state !== 'running') return { action: 'none', reason: `the service is ${input.state}` };
  if (input.deploying) return { action: 'none', reason: 'a deployment is rolling out' };
  if (input.activity > 0) return { action: 'none', reason: `${input.activity} request(s) of someone's in the window` };
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

module.exports = { HEALTH_PATHS, UI_REFRESH_REQUESTS, REFUSED_STATUSES, classifyRequest, activityFilterPattern, serviceState, decideSleep, decideWake };
