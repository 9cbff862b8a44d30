/**
 * The platform's runtime end to end, on loopback: the real MLflow (started through the container's entrypoint with
 * the task definition's environment) on a real MariaDB, artifacts in moto's S3, behind the real nginx proxy, driven
 * by the real MLflow client, plain HTTP and headless Chromium. The tests share one running stack and run in order:
 * the last ones stop the database and then MLflow.
 */
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { HEALTH_CHECK_PATH } from '../../src/app/names';
import { REPO_ROOT } from '../support/python-env';
import { basicAuth } from '../containers/support/proxy';
import { createExperimentAndRun, http, mlflowApi } from './support/http';
import { sleep, waitFor } from './support/service';
import { assertMemoryWithin } from './support/memory';
import { startStack, TEST_OUTPUT, type E2eStack } from './support/stack';

/** Seconds past the task's DB_IDLE_DISCONNECT_SECONDS that the stack sits idle before the database must show no MLflow connection. */
const IDLE_MARGIN_SECONDS = Number(process.env.E2E_IDLE_MARGIN_SECONDS ?? 10);
const EXPERIMENT = 'e2e-lab-tracking';
const MODEL = 'e2e-ca-housing';
/** Share of the task's memory the MLflow and proxy processes may use: 40 % headroom. */
const MEMORY_BUDGET = 0.6;

let stack: E2eStack;
let proxyUrl: string;
let auth: Record<string, string>;

before(async () => {
  stack = await startStack();
  proxyUrl = stack.proxy!.url;
  auth = { authorization: stack.authorization() };
});

after(async () => {
  await stack?.stop();
});

/** Occurrences of a request line in MLflow's own access log (uvicorn logs every request it serves). */
function mlflowSaw(method: string, path: string): number {
  return stack.servers[0].service.output().split('\n').filter((line) => line.includes(`"${method} ${path}`)).length;
}

describe('the lab tracking loop through the proxy', () => {
  it('trains with the lab script, logs a 1,000-metric batch and an artifact, registers, aliases and loads the model back', async () => {
    const run = await stack.runPython([join(REPO_ROOT, 'test', 'e2e', 'clients', 'tracking_loop.py')], {
      ...stack.clientEnv(),
      LAB_MLFLOW_SECRET_NAME: stack.secretName,
      E2E_EXPERIMENT: EXPERIMENT,
      E2E_MODEL: MODEL,
      E2E_TRAIN_SCRIPT: join(REPO_ROOT, 'lab', 'training', 'train.py'),
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const seen = JSON.parse(run.stdout.trim().split('\n').pop()!);

    assert.equal(seen.training_params.target, 'target');
    assert.equal(seen.training_params.train_rows, '200');
    for (const metric of ['test_rmse', 'test_mae', 'test_r2']) assert.ok(seen.training_metrics.includes(metric), metric);
    assert.equal(seen.registered, `${MODEL}/1`);
    assert.equal(seen.alias_version, '1');
    assert.equal(seen.batch_metric_keys, 10);
    assert.equal(seen.batch_history_points, 1000);
    assert.deepEqual(seen.batch_artifacts, ['notes.txt']);
    assert.equal(seen.predictions, 40);
    assert.equal(seen.predictions_finite, true);

    // The artifacts are in the S3 stand-in's bucket, under the runs' artifact URIs.
    const prefix = `s3://${stack.bucket}/`;
    for (const uri of [seen.training_artifact_uri, seen.batch_artifact_uri]) assert.ok(uri.startsWith(prefix), uri);
    const keys = await stack.aws.listKeys(stack.bucket);
    const trainingPrefix = seen.training_artifact_uri.slice(prefix.length);
    assert.ok(keys.includes(`${seen.batch_artifact_uri.slice(prefix.length)}/notes.txt`), keys.join('\n'));
    assert.ok(keys.some((key) => key.endsWith('/MLmodel') && key.includes(`${seen.experiment_id}/`)), `no MLmodel in:\n${keys.join('\n')}`);
    assert.ok(trainingPrefix.startsWith(`${seen.experiment_id}/`), trainingPrefix);
  });
});

describe('the proxy guards MLflow', () => {
  const bad: Array<[string, Record<string, string>]> = [
    ['no credentials', {}],
    ['a wrong password', { authorization: basicAuth('admin', 'not-the-password') }],
    ['an unknown user', { authorization: basicAuth('mallory', 'x') }],
    ['a header that is not base64', { authorization: 'Basic !!!not-base64!!!' }],
    ['credentials without a colon', { authorization: `Basic ${Buffer.from('admin').toString('base64')}` }],
    ['another scheme', { authorization: 'Bearer abc.def.ghi' }],
  ];
  for (const [name, headers] of bad) {
    it(`${name}: 401 with a challenge, and the request never reaches MLflow`, async () => {
      const experiment = `must-not-exist-${name.replace(/\W+/g, '-')}`;
      const before = mlflowSaw('POST', mlflowApi.createExperiment);
      const response = await http(proxyUrl, mlflowApi.createExperiment, { headers, body: { name: experiment } });
      assert.equal(response.status, 401);
      assert.match(String(response.headers['www-authenticate']), /^Basic realm="MLflow"/);
      await sleep(300);
      assert.equal(mlflowSaw('POST', mlflowApi.createExperiment), before, 'MLflow logged the request');
      const lookup = await http(proxyUrl, mlflowApi.getExperimentByName(experiment), { headers: auth });
      assert.equal(lookup.status, 404, lookup.body);
    });
  }

  it(`${HEALTH_CHECK_PATH} answers without credentials from MLflow's health`, async () => {
    const response = await http(proxyUrl, HEALTH_CHECK_PATH);
    assert.equal(response.status, 200);
    assert.equal(response.body.trim(), 'OK');
  });
});

describe('Host headers: what reaches MLflow', () => {
  // The proxy passes the Host the client used on to MLflow, whose allowed hosts come from the task definition.
  const served: Array<[string, string]> = [
    ['API Gateway forwards its execute-api host', 'a1b2c3d4e5.execute-api.us-west-2.amazonaws.com'],
    ["the load balancer's DNS name (clients inside the VPC)", 'internal-mlflow-1234567890.us-west-2.elb.amazonaws.com'],
  ];
  for (const [name, host] of served) {
    it(`${name}: served`, async () => {
      const response = await http(proxyUrl, mlflowApi.searchExperiments, { headers: { ...auth, host } });
      assert.equal(response.status, 200, response.body);
    });
  }

  it('an arbitrary Host is refused by MLflow', async () => {
    for (const host of ['evil.example', 'a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com']) {
      const response = await http(proxyUrl, mlflowApi.searchExperiments, { headers: { ...auth, host } });
      assert.equal(response.status, 403, `${host}: ${response.status} ${response.body}`);
      assert.match(response.body, /Invalid Host header/i);
    }
  });

  it(`${HEALTH_CHECK_PATH} does not depend on the Host the load balancer uses (the task's IP)`, async () => {
    const response = await http(proxyUrl, HEALTH_CHECK_PATH, { headers: { host: '10.0.3.17' } });
    assert.equal(response.status, 200);
  });
});

describe('the MLflow UI in a browser', () => {
  it('renders the experiments page through the proxy and lists the experiment', async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    try {
      const context = await browser.newContext({ httpCredentials: { username: stack.username, password: stack.password }, viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const failed: string[] = [];
      page.on('response', (response) => {
        if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
      });
      await page.goto(`${proxyUrl}/#/experiments`, { waitUntil: 'domcontentloaded' });
      await page.getByText(EXPERIMENT, { exact: true }).first().waitFor({ state: 'visible', timeout: 90_000 });
      const screenshot = join(TEST_OUTPUT, 'mlflow-ui-experiments.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`screenshot: ${screenshot}`);
      // The UI asks for the signed-in user, which only MLflow's own auth app knows (404 here, as without the proxy).
      assert.deepEqual(failed.filter((f) => !/^404 .*\/mlflow\/users\/current$/.test(f)), []);
    } finally {
      await browser.close();
    }
  });
});

describe('the UI\'s files through the proxy: compressed, and cached by browsers', () => {
  /** A GET through the proxy, the body as bytes (as sent: not decompressed). */
  const raw = (path: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = request(new URL(path, proxyUrl), { headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`timeout on ${path}`)));
      req.on('error', reject);
      req.end();
    });

  it('serves MLflow\'s main script gzip-encoded to a browser that accepts it, with MLflow\'s 28-day Cache-Control', async () => {
    const index = await http(proxyUrl, '/', { headers: auth });
    assert.equal(index.status, 200);
    const script = /static-files\/static\/js\/main\.[0-9a-f]+\.js/.exec(index.body)?.[0];
    assert.ok(script, 'index.html names the UI\'s main script');
    const zipped = await raw(`/${script}`, { ...auth, 'accept-encoding': 'gzip, deflate, br' });
    const plain = await raw(`/${script}`, auth);
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(plain.headers['content-encoding'], undefined);
    for (const answer of [zipped, plain]) assert.match(String(answer.headers['cache-control']), /max-age=2419200/);
    assert.deepEqual(gunzipSync(zipped.body), plain.body);
    assert.ok(zipped.body.length < plain.body.length / 2, `${zipped.body.length} bytes compressed of ${plain.body.length}`);
  });
});

describe('idle: the database can pause', () => {
  it('after serving requests, MLflow holds no database connection once the idle disconnect time has passed, and opens none, health checks notwithstanding', async () => {
    const disconnectSeconds = Number(stack.task.mlflow.environment.DB_IDLE_DISCONNECT_SECONDS);
    assert.ok(disconnectSeconds > 0, 'the task definition sets DB_IDLE_DISCONNECT_SECONDS');
    const idleSeconds = disconnectSeconds + IDLE_MARGIN_SECONDS;
    // Concurrent requests just before the idle window fill the workers' connection pools.
    await Promise.all(Array.from({ length: 8 }, () => http(proxyUrl, mlflowApi.searchExperiments, { headers: auth })));
    const openAtStart = stack.db.connectionsOf();
    const openedBefore = stack.db.connectionsOpenedBy();
    assert.ok(openedBefore > 0, 'MLflow used the database');
    // Idle for MLflow's users, not for the load balancer: its health checks keep coming (every 15 s from each node).
    const idleUntil = Date.now() + idleSeconds * 1000;
    let healthChecks = 0;
    while (Date.now() < idleUntil) {
      assert.equal((await http(proxyUrl, HEALTH_CHECK_PATH)).status, 200);
      healthChecks += 1;
      await sleep(Math.min(5000, Math.max(0, idleUntil - Date.now())));
    }
    const open = stack.db.connectionsOf();
    const opened = stack.db.connectionsOpenedBy() - openedBefore;
    console.log(`idle ${idleSeconds} s (${healthChecks} health checks): ${openAtStart} pooled connection(s) at the start, ${open} at the end, ${opened} opened during the window`);
    assert.equal(open, 0, 'connections MLflow keeps open (SHOW PROCESSLIST)');
    assert.equal(opened, 0, 'connections MLflow opened while nobody used it');
    // The next request reconnects by itself.
    assert.equal((await http(proxyUrl, mlflowApi.searchExperiments, { headers: auth })).status, 200);
  });
});

describe('memory', () => {
  it('the MLflow and proxy processes leave at least 40 % of the task memory free, idle and after load', async () => {
    await assertMemoryWithin(stack, MEMORY_BUDGET, 'e2e-memory-load');
  });
});

describe('the database pauses and resumes under a running MLflow', () => {
  it('requests fail fast with a 5xx while it is down; MLflow recovers without a restart and nothing acknowledged is lost', async () => {
    const target = await createExperimentAndRun(proxyUrl, 'e2e-before-pause', auth);
    const logged = await http(proxyUrl, mlflowApi.logMetric, { headers: auth, body: { run_id: target.runId, key: 'acknowledged', value: 42, timestamp: Date.now(), step: 1 } });
    assert.equal(logged.status, 200);
    const mlflowPids = stack.servers[0].service.child.pid;

    await stack.db.stop();
    for (const [path, body] of [[mlflowApi.searchExperiments, undefined], [mlflowApi.logMetric, { run_id: target.runId, key: 'during', value: 1, timestamp: Date.now(), step: 2 }]] as const) {
      // The proxy gives up after 300 s; the answer must come long before that.
      const response = await http(proxyUrl, path, { headers: auth, body, timeoutMs: 120_000 });
      console.log(`database down: ${path} -> ${response.status} in ${response.ms.toFixed(0)} ms`);
      assert.ok(response.status >= 500 && response.status <= 599, `${response.status} ${response.body}`);
    }

    await stack.db.start();
    await waitFor('MLflow to serve again', async () => (await http(proxyUrl, mlflowApi.searchExperiments, { headers: auth })).status === 200, 60_000);
    assert.ok(stack.servers[0].service.running(), 'MLflow kept running');
    assert.equal(stack.servers[0].service.child.pid, mlflowPids);
    const run = JSON.parse((await http(proxyUrl, mlflowApi.getRun(target.runId), { headers: auth })).body).run;
    assert.deepEqual(run.data.metrics.map((m: { key: string; value: number }) => [m.key, m.value]), [['acknowledged', 42]]);
    const lab = await http(proxyUrl, mlflowApi.getExperimentByName(EXPERIMENT), { headers: auth });
    assert.equal(lab.status, 200, 'the experiment of the tracking loop is still there');
  });
});

describe('the load balancer health check follows MLflow', () => {
  it(`${HEALTH_CHECK_PATH} answers non-200 once MLflow is stopped`, async () => {
    await stack.servers[0].service.stop();
    const response = await http(proxyUrl, HEALTH_CHECK_PATH, { timeoutMs: 30_000 });
    assert.notEqual(response.status, 200);
    assert.ok(response.status >= 500, String(response.status));
  });
});
