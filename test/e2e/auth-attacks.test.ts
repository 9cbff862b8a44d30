/**
 * The attacks of the users-mode review (shared/reviews/2026-12-06-users-attack.md, issue 22), each exact request
 * replayed against the real MLflow authentication app on MariaDB behind the real proxy, with the task definition as
 * synthesized (auth=users): the requests that got through there are refused here, and the victim's data is unchanged.
 * docs/reference/security.md describes each finding and its mitigation.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { basicAuth } from '../containers/support/proxy';
import { http, type HttpResponse } from './support/http';
import { startStack, type E2eStack } from './support/stack';

const PASSWORDS: Record<string, string> = {
  owner: randomBytes(18).toString('base64url'),
  outsider: randomBytes(18).toString('base64url'),
};

let stack: E2eStack;

interface Call {
  readonly user?: string;
  readonly body?: unknown;
  readonly method?: string;
  readonly base?: string;
  readonly headers?: Record<string, string>;
  readonly password?: string;
  readonly agent?: Agent;
}

function call(path: string, options: Call = {}): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.user === 'admin') headers.authorization = stack.authorization();
  else if (options.user) headers.authorization = basicAuth(options.user, options.password ?? PASSWORDS[options.user]);
  return http(options.base ?? stack.proxy!.url, path, { method: options.method, headers, body: options.body, agent: options.agent });
}

/** A new connection for every request, so that MLflow's workers take turns as they would for other tasks. */
const freshConnections = new Agent({ keepAlive: false });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function ok(response: Promise<HttpResponse>): Promise<any> {
  const answer = await response;
  assert.equal(answer.status, 200, answer.body);
  return JSON.parse(answer.body || '{}');
}

/** Creates an experiment with one run as `user` (its MANAGE owner); returns the ids and the run's artifact URI. */
async function experimentWithRun(user: string, name: string): Promise<{ experimentId: string; runId: string; artifactUri: string }> {
  const { experiment_id: experimentId } = await ok(call('/api/2.0/mlflow/experiments/create', { user, body: { name } }));
  const { run } = await ok(call('/api/2.0/mlflow/runs/create', { user, body: { experiment_id: experimentId } }));
  return { experimentId, runId: run.info.run_id, artifactUri: run.info.artifact_uri };
}

function upload(user: string, query: string, bytes: string, base?: string): Promise<HttpResponse> {
  return call(`/ajax-api/2.0/mlflow/upload-artifact?${query}`, { user, base, method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
}

async function newTrace(user: string, experimentId: string): Promise<string> {
  const traceId = `tr-${randomBytes(16).toString('hex')}`;
  await ok(call('/api/3.0/mlflow/traces', {
    user,
    body: {
      trace: {
        trace_info: {
          trace_id: traceId,
          trace_location: { type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: experimentId } },
          request_time: new Date().toISOString(),
          state: 'OK',
        },
      },
    },
  }));
  return traceId;
}

async function traceTags(traceId: string): Promise<Record<string, string>> {
  const info = await ok(call(`/api/3.0/mlflow/traces/${traceId}`, { user: 'admin' }));
  return info.trace?.trace_info?.tags ?? info.trace_info?.tags ?? {};
}

let victim: { experimentId: string; runId: string; artifactUri: string };
let own: { experimentId: string; runId: string; artifactUri: string };
const MODEL_BYTES = 'artifact_path: model\nflavors: {}\n';

before(async () => {
  stack = await startStack({ settings: { auth: 'users' } });
  for (const [username, password] of Object.entries(PASSWORDS)) {
    await ok(call('/api/2.0/mlflow/users/create', { user: 'admin', body: { username, password } }));
  }
  victim = await experimentWithRun('owner', 'victim-experiment');
  own = await experimentWithRun('outsider', 'outsider-experiment');
  await ok(upload('owner', `run_uuid=${victim.runId}&path=model/MLmodel.json`, MODEL_BYTES));
  await ok(call('/api/2.0/mlflow/registered-models/create', { user: 'owner', body: { name: 'victim-model' } }));
  await ok(call('/api/2.0/mlflow/model-versions/create', {
    user: 'owner', body: { name: 'victim-model', source: `${victim.artifactUri}/model`, run_id: victim.runId },
  }));
});

after(async () => {
  await stack?.stop();
});

async function victimModelFile(): Promise<string> {
  const answer = await call('/model-versions/get-artifact?name=victim-model&version=1&path=MLmodel.json', { user: 'admin' });
  assert.equal(answer.status, 200, answer.body);
  return answer.body;
}

describe('users mode against the review\'s attacks (real MLflow, MariaDB and proxy)', () => {
  it('finding 1: upload-artifact naming one\'s own run in run_id and the victim\'s in run_uuid is refused, in every spelling, at the proxy and at MLflow', async () => {
    assert.equal(await victimModelFile(), MODEL_BYTES);
    const evil = 'flavors: {python_function: {loader_module: attacker}}\n';
    const queries = [
      `run_id=${own.runId}&run_uuid=${victim.runId}&path=model/MLmodel.json`,
      `run_uuid=${victim.runId}&run_id=${own.runId}&path=model/MLmodel.json`,
      `run%5Fid=${own.runId}&run_uuid=${victim.runId}&path=model/MLmodel.json`,
      `run%5fid=${own.runId}&run_uuid=${victim.runId}&path=model/MLmodel.json`,
      `%72un_id=${own.runId}&run_uuid=${victim.runId}&path=model/MLmodel.json`,
    ];
    for (const query of queries) {
      // Through the proxy (as API Gateway forwards it), and straight to MLflow (the server's own guard, on Flask's parsing).
      for (const base of [stack.proxy!.url, stack.servers[0].url]) {
        const answer = await upload('outsider', query, evil, base);
        assert.equal(answer.status, 400, `${base} ${query}: ${answer.status} ${answer.body}`);
      }
    }
    // Without the own run_id: 403 (MLflow's own check, P20).
    assert.equal((await upload('outsider', `run_uuid=${victim.runId}&path=model/MLmodel.json`, evil)).status, 403);
    assert.equal(await victimModelFile(), MODEL_BYTES, 'the victim\'s model file is unchanged');
    // The owner still uploads to their own run the way the UI and clients do (run_uuid only).
    await ok(upload('owner', `run_uuid=${victim.runId}&path=notes.txt`, 'fine'));
    await ok(upload('outsider', `run_uuid=${own.runId}&path=notes.txt`, 'fine'));
  });

  it('finding 2: a model version whose source is the victim\'s storage URI is refused (X1, X2, X14); sources inside one\'s own run still register', async () => {
    await ok(call('/api/2.0/mlflow/registered-models/create', { user: 'outsider', body: { name: 'mine' } }));
    const experimentPrefix = victim.artifactUri.replace(/\/[0-9a-f]{32}\/artifacts$/, '');
    assert.notEqual(experimentPrefix, victim.artifactUri, victim.artifactUri);
    const attempts: Array<Record<string, string>> = [
      { source: victim.artifactUri },
      { source: `${victim.artifactUri}/model` },
      { source: experimentPrefix },
      { source: victim.artifactUri, run_id: own.runId },
      { source: `${own.artifactUri}/../../${victim.runId}/artifacts`, run_id: own.runId },
      { source: victim.artifactUri.replace(/^s3:/, 'S3:'), run_id: own.runId },
    ];
    for (const prefix of ['/api/2.0', '/ajax-api/2.0']) {
      for (const attempt of attempts) {
        const answer = await call(`${prefix}/mlflow/model-versions/create`, { user: 'outsider', body: { name: 'mine', ...attempt } });
        assert.equal(answer.status, 400, `${prefix} ${JSON.stringify(attempt)}: ${answer.status} ${answer.body}`);
      }
    }
    const versions = await ok(call(`/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent("name='mine'")}`, { user: 'admin' }));
    assert.deepEqual(versions.model_versions ?? [], [], 'no version of the outsider\'s model was created');
    const read = await call(`/model-versions/get-artifact?name=mine&version=1&path=${victim.runId}/artifacts/model/MLmodel.json`, { user: 'outsider' });
    assert.notEqual(read.status, 200, read.body);
    // What mlflow.register_model("runs:/<own run>/model") sends in the default artifact mode: the run's own s3:// URI.
    await ok(upload('outsider', `run_uuid=${own.runId}&path=model/MLmodel.json`, MODEL_BYTES));
    const created = await ok(call('/api/2.0/mlflow/model-versions/create', { user: 'outsider', body: { name: 'mine', source: `${own.artifactUri}/model`, run_id: own.runId } }));
    assert.equal(created.model_version.version, '1');
    await ok(call('/api/2.0/mlflow/model-versions/create', { user: 'outsider', body: { name: 'mine', source: `runs:/${own.runId}/model`, run_id: own.runId } }));
  });

  it('finding 3: the trace tags MLflow reads as storage locations cannot be set through any trace call (X13)', async () => {
    const ownExperiment = own.experimentId;
    const traceId = await newTrace('outsider', ownExperiment);
    const location = (await traceTags(traceId))['mlflow.artifactLocation'];
    assert.ok(location, 'the server set the trace\'s artifact location');
    const victimTrace = await newTrace('owner', victim.experimentId);
    const target = `${victim.artifactUri.replace(/\/[0-9a-f]{32}\/artifacts$/, '')}/traces/${victimTrace}/artifacts`;
    const writes: Array<[string, string, unknown]> = [
      ['PATCH', `/api/3.0/mlflow/traces/${traceId}/tags`, { key: 'mlflow.artifactLocation', value: target }],
      ['PATCH', `/ajax-api/3.0/mlflow/traces/${traceId}/tags`, { key: 'mlflow.artifactLocation', value: target }],
      ['PATCH', `/api/2.0/mlflow/traces/${traceId}/tags`, { key: 'mlflow.artifactLocation', value: target }],
      ['PATCH', `/api/2.0/mlflow/traces/${traceId}`, { request_id: traceId, timestamp_ms: Date.now(), status: 'OK', tags: [{ key: 'mlflow.artifactLocation', value: target }] }],
      ['DELETE', `/api/3.0/mlflow/traces/${traceId}/tags`, { key: 'mlflow.artifactLocation' }],
      ['PATCH', `/api/3.0/mlflow/traces/${traceId}/tags`, { key: 'mlflow.trace.spansLocation', value: target }],
    ];
    for (const [method, path, body] of writes) {
      const answer = await call(path, { user: 'outsider', method, body });
      assert.equal(answer.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${answer.status} ${answer.body}`);
    }
    // A new trace cannot bring its own location either.
    const started = await call('/api/3.0/mlflow/traces', {
      user: 'outsider',
      body: { trace: { trace_info: {
        trace_id: `tr-${randomBytes(16).toString('hex')}`,
        trace_location: { type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: ownExperiment } },
        request_time: new Date().toISOString(), state: 'OK', tags: { 'mlflow.artifactLocation': target },
      } } },
    });
    assert.equal(started.status, 400, started.body);
    assert.equal((await traceTags(traceId))['mlflow.artifactLocation'], location, 'the location is unchanged');
    // Other tags of one's own trace are still the owner's to set.
    await ok(call(`/api/3.0/mlflow/traces/${traceId}/tags`, { user: 'outsider', method: 'PATCH', body: { key: 'team', value: 'b' } }));
    assert.equal((await traceTags(traceId)).team, 'b');
  });

  it('finding 6: a changed password stops working at once on every MLflow worker (CR21)', async () => {
    const password = randomBytes(18).toString('base64url');
    await ok(call('/api/2.0/mlflow/users/create', { user: 'admin', body: { username: 'rotating', password } }));
    const direct = { base: stack.servers[0].url, agent: freshConnections };
    // Every worker has seen (and so could remember) the password.
    for (let i = 0; i < 12; i += 1) await ok(call('/api/2.0/mlflow/users/current', { ...direct, user: 'rotating', password }));
    const changed = randomBytes(18).toString('base64url');
    await ok(call('/api/2.0/mlflow/users/update-password', { user: 'admin', method: 'PATCH', body: { username: 'rotating', password: changed } }));
    const old: number[] = [];
    const current: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      old.push((await call('/api/2.0/mlflow/users/current', { ...direct, user: 'rotating', password })).status);
      current.push((await call('/api/2.0/mlflow/users/current', { ...direct, user: 'rotating', password: changed })).status);
    }
    assert.deepEqual(old, Array(12).fill(401), 'the old password');
    assert.deepEqual(current, Array(12).fill(200), 'the new password');
  });

  it('finding 7: a user name nobody has costs as long to refuse as a wrong password (CR20)', async () => {
    const direct = { base: stack.servers[0].url };
    const existing: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 9; i += 1) {
      const a = await call('/api/2.0/mlflow/users/current', { ...direct, user: 'owner', password: `wrong-${i}-password` });
      const b = await call('/api/2.0/mlflow/users/current', { ...direct, user: `nobody-${i}`, password: `wrong-${i}-password` });
      assert.equal(a.status, 401);
      assert.equal(b.status, 401);
      existing.push(a.ms);
      unknown.push(b.ms);
    }
    const ratio = median(existing) / median(unknown);
    // Without the dummy hash: 157 ms against 10 ms in the review (a ratio of ~15).
    assert.ok(ratio > 0.4 && ratio < 2.5, `median ${median(existing)} ms for an existing user, ${median(unknown)} ms for an unknown one`);
  });

  it('finding 8: a state-changing request from another API Gateway\'s origin is refused; the UI\'s own origin passes (CORS1-3)', async () => {
    const host = 'abc123defg.execute-api.us-west-2.amazonaws.com';
    const post = (origin: string) => call(`/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${victim.runId}&path=cors.txt`, {
      user: 'owner', method: 'POST', body: 'x', headers: { host, origin, 'content-type': 'text/plain', 'x-forwarded-proto': 'https' },
    });
    for (const origin of ['https://attacker-api.execute-api.us-west-2.amazonaws.com', 'https://evil.example.com', `https://${host}.evil.example.com`]) {
      const answer = await post(origin);
      assert.equal(answer.status, 403, `${origin}: ${answer.status} ${answer.body}`);
    }
    const same = await post(`https://${host}`);
    assert.equal(same.status, 200, same.body);
  });

  it('finding 9: a user name matches only byte for byte (CR8-CR10)', async () => {
    const direct = { base: stack.servers[0].url };
    for (const spelling of ['OUTSIDER', 'Outsider', 'outsîder', 'outsider ', 'outsıder']) {
      const answer = await call('/api/2.0/mlflow/users/current', { ...direct, headers: { authorization: basicAuth(spelling, PASSWORDS.outsider) } });
      assert.equal(answer.status, 401, `${JSON.stringify(spelling)}: ${answer.status} ${answer.body}`);
    }
    const current = await ok(call('/api/2.0/mlflow/users/current', { ...direct, user: 'outsider' }));
    assert.equal(current.user.username, 'outsider');
  });
});
