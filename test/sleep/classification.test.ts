/**
 * The request classes of the sleep function (src/lib/operations/sleep-function/logic.js) on a request log RECORDED from the real MLflow 3.17
 * UI in headless Chromium (fixtures/ui-open-tab.jsonl, by test/e2e/idle-sleep.test.ts), and the CloudWatch Logs
 * filter patterns generated from the same rules, evaluated here by a reader of the JSON pattern syntax they use
 * (`$.field = "x"`, `!=`, `&&`, `||`, parentheses): they must select exactly what the classifier calls activity.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { activityFilterPattern, classifyRequest, decideSleep } from '../../src/lib/operations/sleep-function/logic';
import { readRecording } from './request-log';

const RECORDING = readRecording(readFileSync(join(__dirname, 'fixtures', 'ui-open-tab.jsonl'), 'utf8'));

/** Evaluates a CloudWatch Logs JSON filter pattern of the subset `activityFilterPattern` writes, on one JSON event. */
export function matchesJsonPattern(pattern: string, event: Record<string, unknown>): boolean {
  const body = /^\{\s*(.*)\s*\}$/s.exec(pattern.trim());
  if (!body) throw new Error(`not a JSON filter pattern: ${pattern}`);
  const tokens = body[1].match(/\$\.[A-Za-z0-9_]+|!=|=|&&|\|\||\(|\)|"(?:[^"\\]|\\.)*"/g) ?? [];
  if (tokens.join('').replace(/\s/g, '') !== body[1].replace(/\s/g, '')) throw new Error(`unsupported syntax in ${pattern}`);
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const token = tokens[i++];
    if (expected !== undefined && token !== expected) throw new Error(`expected ${expected}, got ${token} in ${pattern}`);
    return token;
  };
  const comparison = (): boolean => {
    if (peek() === '(') {
      take('(');
      const value = or();
      take(')');
      return value;
    }
    const field = take().slice(2);
    const operator = take();
    const literal = JSON.parse(take()) as string;
    const actual = event[field];
    const equal = actual !== undefined && String(actual) === literal;
    if (operator === '=') return equal;
    if (operator === '!=') return actual !== undefined && !equal;
    throw new Error(`operator ${operator}`);
  };
  const and = (): boolean => {
    let value = comparison();
    while (peek() === '&&') {
      take();
      value = comparison() && value;
    }
    return value;
  };
  const or = (): boolean => {
    let value = and();
    while (peek() === '||') {
      take();
      value = and() || value;
    }
    return value;
  };
  const result = or();
  if (i !== tokens.length) throw new Error(`trailing tokens in ${pattern}`);
  return result;
}

/** Requests the recording has no example of: a script through the API, a scanner, health checks, the IAM route. */
const OTHERS = [
  { method: 'POST', path: '/api/2.0/mlflow/runs/search', status: '200' },
  { method: 'POST', path: '/api/2.0/mlflow/runs/log-batch', status: '200' },
  { method: 'GET', path: '/ajax-api/2.0/mlflow/runs/search', status: '200' },
  { method: 'POST', path: '/ajax-api/2.0/mlflow/runs/update', status: '200' },
  { method: 'POST', path: '/iam/api/2.0/mlflow/runs/search', status: '200' },
  { method: 'GET', path: '/wp-login.php', status: '401' },
  { method: 'GET', path: '/api/2.0/mlflow/experiments/search', status: '403' },
  { method: 'POST', path: '/api/2.0/mlflow/runs/create', status: '429' },
  { method: 'GET', path: '/elb-status', status: '200' },
  { method: 'GET', path: '/health', status: '200' },
  { method: 'GET', path: '/', status: '503' },
  { method: 'POST', path: '/ajax-api/2.0/mlflow/runs/search', status: '503' },
  { method: 'GET', path: '/api/2.0/mlflow/experiments/search', status: '503' },
];

describe('request classes on the recorded MLflow UI (fixtures/ui-open-tab.jsonl)', () => {
  const load = RECORDING.filter((r) => r.phase === 'load');
  const open = RECORDING.filter((r) => r.phase === 'open');

  it('the recording holds a page load and at least two refresh cycles of an open tab', () => {
    assert.ok(load.length > 50, `${load.length} requests while loading`);
    assert.ok(open.length >= 4, `${open.length} requests while open`);
  });

  it('loading the pages is someone\'s activity', () => {
    const activity = load.filter((r) => classifyRequest(r) === 'activity');
    assert.ok(activity.length > 50, `${activity.length} of ${load.length}`);
    // The browser's first request, before it sends the credentials, is refused and counts for nothing.
    assert.deepEqual(load.filter((r) => r.status === '401').map((r) => classifyRequest(r)), ['refused']);
  });

  it('an open tab with nobody working sends only the runs table\'s and the RUNNING run\'s charts\' refresh, every 30 s: no activity', () => {
    assert.deepEqual(open.map((r) => classifyRequest(r)).filter((c) => c !== 'refresh'), []);
    for (const path of ['/ajax-api/2.0/mlflow/runs/search', '/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval']) {
      const times = open.filter((r) => r.path === path).map((r) => r.t);
      assert.ok(times.length >= 2, path);
      for (let i = 1; i < times.length; i += 1) assert.ok(Math.abs(times[i] - times[i - 1] - 30) <= 2, `${path}: ${times.join(', ')}`);
    }
  });

  it('the sleep decision: asleep after the open window, awake after the load', () => {
    const activity = (requests: typeof RECORDING) => requests.filter((r) => classifyRequest(r) === 'activity').length;
    assert.equal(decideSleep({ state: 'running', activity: activity(open), deploying: false }).action, 'sleep');
    assert.equal(decideSleep({ state: 'running', activity: activity(load), deploying: false }).action, 'none');
  });

  it('a script\'s search through /api/ is activity, the UI\'s through /ajax-api/ is its refresh; refused and health checks are not activity', () => {
    assert.deepEqual(OTHERS.map((r) => `${r.method} ${r.path} ${r.status}: ${classifyRequest(r)}`), [
      'POST /api/2.0/mlflow/runs/search 200: activity',
      'POST /api/2.0/mlflow/runs/log-batch 200: activity',
      'GET /ajax-api/2.0/mlflow/runs/search 200: activity',
      'POST /ajax-api/2.0/mlflow/runs/update 200: activity',
      'POST /iam/api/2.0/mlflow/runs/search 200: activity',
      'GET /wp-login.php 401: refused',
      'GET /api/2.0/mlflow/experiments/search 403: refused',
      'POST /api/2.0/mlflow/runs/create 429: refused',
      'GET /elb-status 200: health',
      'GET /health 200: health',
      'GET / 503: activity',
      'POST /ajax-api/2.0/mlflow/runs/search 503: refresh',
      'GET /api/2.0/mlflow/experiments/search 503: activity',
    ]);
  });
});

describe('the CloudWatch filter patterns select what the classifier calls activity', () => {
  const events = [...RECORDING, ...OTHERS].map((r) => ({ requestId: 'x', method: r.method, path: r.path, status: r.status }));

  it('the metric filter (activity, any status)', () => {
    const pattern = activityFilterPattern();
    for (const event of events) assert.equal(matchesJsonPattern(pattern, event), classifyRequest(event) === 'activity', `${JSON.stringify(event)} with ${pattern}`);
  });

  it('the wake subscription (activity answered 503)', () => {
    const pattern = activityFilterPattern({ status: '503' });
    for (const event of events) {
      assert.equal(matchesJsonPattern(pattern, event), classifyRequest(event) === 'activity' && event.status === '503', `${JSON.stringify(event)} with ${pattern}`);
    }
  });

  it('within CloudWatch\'s limit of 1,024 characters', () => {
    assert.ok(activityFilterPattern().length <= 1024);
    assert.ok(activityFilterPattern({ status: '503' }).length <= 1024);
  });

  it('the pattern reader itself: fields, =, !=, && and || with parentheses', () => {
    const event = { a: 'x', b: 'y' };
    assert.equal(matchesJsonPattern('{ $.a = "x" && $.b != "z" }', event), true);
    assert.equal(matchesJsonPattern('{ $.a = "x" && $.b = "z" }', event), false);
    assert.equal(matchesJsonPattern('{ ($.a = "q" || $.b = "y") && $.a != "q" }', event), true);
    assert.equal(matchesJsonPattern('{ $.c != "x" }', event), false);
  });
});
