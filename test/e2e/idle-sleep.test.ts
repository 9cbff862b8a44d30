/**
 * Sleep (issue 27) with the real MLflow UI: headless Chromium opens the pages a person leaves open (the experiments
 * list, an experiment's runs table, a RUNNING run's metric charts) through the real proxy in front of the real
 * MLflow, then nobody works. The proxy's access log is recorded (test-output/e2e/ui-requests-recorded.jsonl, the
 * form of test/sleep/fixtures/ui-open-tab.jsonl) and classified as the sleep function classifies the gateway's:
 * loading the pages is someone's activity; once they are open, only the UI's auto-refresh comes, and the sleep
 * decision on that window is to sleep.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiGatewayV2Client, GetRouteCommand, UpdateRouteCommand } from '@aws-sdk/client-apigatewayv2';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { chromium } from 'playwright-core';
import { HEALTH_CHECK_PATH } from '../../src/app/names';
import { createClients, onSchedule } from '../../src/lib/operations/sleep-function/handler';
import { classifyRequest, decideSleep } from '../../src/lib/operations/sleep-function/logic';
import { parseProxyLog, type RecordedRequest } from '../sleep/request-log';
import { createExperimentAndRun, http, mlflowApi } from './support/http';
import { sleep } from './support/service';
import { startStack, TEST_OUTPUT, type E2eStack } from './support/stack';

/** Seconds the pages stay open after loading: at least two of the UI's 30-s refreshes. */
const OPEN_SECONDS = Number(process.env.E2E_SLEEP_OPEN_SECONDS ?? 75);
/** Seconds given to the pages to load (everything they fetch at first). */
const LOAD_SECONDS = 25;

let stack: E2eStack;
let auth: Record<string, string>;

before(async () => {
  // database=aurora: the suite's stack stands in for Aurora with MariaDB (lean's default database=sqlite runs Litestream).
  stack = await startStack({ settings: { profile: 'lean', database: 'aurora' } });
  auth = { authorization: stack.authorization() };
});

after(async () => {
  await stack?.stop();
});

describe('sleep with the real MLflow UI left open', () => {
  it('loading the pages is activity; the open tabs then send only their auto-refresh, and the sleep function decides to sleep', async () => {
    const proxyUrl = stack.proxy!.url;
    // An experiment with finished runs and one RUNNING run with metrics (whose charts the UI refreshes).
    const { experimentId, runId: running } = await createExperimentAndRun(proxyUrl, 'e2e-sleep-ui', auth);
    for (let i = 0; i < 3; i += 1) {
      const ok = await http(proxyUrl, mlflowApi.logMetric, { headers: auth, body: { run_id: running, key: 'loss', value: 1 / (i + 1), timestamp: Date.now(), step: i } });
      assert.equal(ok.status, 200, ok.body);
    }
    for (let i = 0; i < 2; i += 1) {
      const run = await http(proxyUrl, mlflowApi.createRun, { headers: auth, body: { experiment_id: experimentId, start_time: Date.now() } });
      const runId = JSON.parse(run.body).run.info.run_id;
      await http(proxyUrl, mlflowApi.logMetric, { headers: auth, body: { run_id: runId, key: 'loss', value: 0.5, timestamp: Date.now(), step: 0 } });
      const ended = await http(proxyUrl, '/api/2.0/mlflow/runs/update', { headers: auth, body: { run_id: runId, status: 'FINISHED', end_time: Date.now() } });
      assert.equal(ended.status, 200, ended.body);
    }
    await sleep(3000); // the proxy's log buffer is flushed every 2 s
    const setupEnd = Date.now();

    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    let openedAt: number;
    let loadedAt: number;
    let endedAt: number;
    try {
      const context = await browser.newContext({ httpCredentials: { username: stack.username, password: stack.password }, viewport: { width: 1280, height: 800 } });
      openedAt = Date.now();
      for (const page of ['#/experiments', `#/experiments/${experimentId}/runs`, `#/experiments/${experimentId}/runs/${running}/model-metrics`]) {
        await (await context.newPage()).goto(`${proxyUrl}/${page}`, { waitUntil: 'domcontentloaded' });
      }
      await sleep(LOAD_SECONDS * 1000);
      loadedAt = Date.now();
      // Nobody works; the load balancer's health checks go on.
      while (Date.now() < loadedAt + OPEN_SECONDS * 1000) {
        assert.equal((await http(proxyUrl, HEALTH_CHECK_PATH)).status, 200);
        await sleep(5000);
      }
      await sleep(3000);
      endedAt = Date.now();
    } finally {
      await browser.close();
    }

    // Seconds are what the proxy's log gives: a request of the second the pages stopped loading counts as loading.
    const recorded: RecordedRequest[] = parseProxyLog(stack.proxy!.service.output())
      .filter((r) => r.time >= Math.floor(setupEnd / 1000) * 1000 && r.time <= endedAt)
      .map((r) => ({
        t: Math.round((r.time - Math.floor(openedAt / 1000) * 1000) / 1000),
        phase: r.time < Math.floor(loadedAt / 1000) * 1000 + 1000 ? 'load' : 'open',
        method: r.method,
        path: r.path,
        status: r.status,
      }));
    const file = join(TEST_OUTPUT, 'ui-requests-recorded.jsonl');
    writeFileSync(file, `${recorded.map((r) => JSON.stringify(r)).join('\n')}\n`);
    console.log(`recorded ${recorded.length} requests: ${file}`);

    const load = recorded.filter((r) => r.phase === 'load');
    const open = recorded.filter((r) => r.phase === 'open');
    const counts = (requests: readonly RecordedRequest[]) => requests.reduce<Record<string, number>>((acc, r) => ({ ...acc, [classifyRequest(r)]: (acc[classifyRequest(r)] ?? 0) + 1 }), {});
    console.log(`loading (${LOAD_SECONDS} s): ${JSON.stringify(counts(load))}; open (${OPEN_SECONDS} s): ${JSON.stringify(counts(open))}`);
    console.log(`open-tab requests: ${open.map((r) => `${r.t}s ${r.method} ${r.path} ${r.status}`).join(', ')}`);

    assert.ok(load.filter((r) => classifyRequest(r) === 'activity').length > 10, 'loading the pages is someone\'s activity');
    assert.deepEqual(open.filter((r) => classifyRequest(r) !== 'refresh' && classifyRequest(r) !== 'health'), [], 'only the UI\'s auto-refresh while the tabs are open');
    const refreshes = (path: string) => open.filter((r) => r.path === path).length;
    assert.ok(refreshes('/ajax-api/2.0/mlflow/runs/search') >= 2, 'the runs table refreshes every 30 s');
    assert.ok(refreshes('/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval') >= 2, 'the RUNNING run\'s charts refresh every 30 s');

    // The sleep function's decision on each window, as it reads the activity metric.
    const activity = (requests: readonly RecordedRequest[]) => requests.filter((r) => classifyRequest(r) === 'activity').length;
    assert.equal(decideSleep({ state: 'running', activity: activity(open), deploying: false }).action, 'sleep');
    assert.equal(decideSleep({ state: 'running', activity: activity(load), deploying: false }).action, 'none');

    // The sleep function itself, run on its schedule at the end of each window against AWS stand-ins
    // (aws-sdk-client-mock) whose activity metric is the recording's activity requests of the window, summed by minute.
    const ecs = mockClient(ECSClient);
    const aas = mockClient(ApplicationAutoScalingClient);
    const cw = mockClient(CloudWatchClient);
    const apigw = mockClient(ApiGatewayV2Client);
    try {
      const run = async (window: readonly RecordedRequest[]) => {
        for (const m of [ecs, aas, cw, apigw]) m.reset();
        apigw.on(GetRouteCommand).resolves({ Target: 'integrations/vpc1' });
        apigw.on(UpdateRouteCommand).resolves({});
        aas.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [{ ServiceNamespace: 'ecs', ResourceId: 'service/c/s', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 1, MaxCapacity: 2, RoleARN: 'r', CreationTime: new Date() }] });
        ecs.on(DescribeServicesCommand).resolves({ services: [{ desiredCount: 1, runningCount: 1, deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }] }] });
        const perMinute = new Map<number, number>();
        for (const r of window.filter((x) => classifyRequest(x) === 'activity')) perMinute.set(Math.floor(r.t / 60), (perMinute.get(Math.floor(r.t / 60)) ?? 0) + 1);
        cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'activity', Values: [...perMinute.values()] }] });
        ecs.on(UpdateServiceCommand).resolves({});
        aas.on(RegisterScalableTargetCommand).resolves({});
        const env = {
          CLUSTER: 'c', SERVICE: 's', SLEEP_AFTER_MINUTES: '5', WAKE_TASKS: '1', METRIC_NAMESPACE: 'MLflowOnAWS', METRIC_NAME: 'ActivityRequests',
          API_ID: 'api', ROUTES: JSON.stringify([{ id: 'r', target: 'integrations/vpc1' }]), STARTING_INTEGRATION: 'start', READINESS: JSON.stringify({ cloudMapServiceId: 'srv' }), RETRY_AFTER_SECONDS: '30',
        };
        const result = await onSchedule(createClients({ region: 'us-west-2' }), env, new Date());
        return { action: result.action, desired: ecs.commandCalls(UpdateServiceCommand).map((c) => c.args[0].input.desiredCount) };
      };
      assert.deepEqual(await run(open), { action: 'sleep', desired: [0] }, 'the open tabs alone: to sleep');
      assert.deepEqual(await run(load), { action: 'none', desired: [] }, 'someone loading the pages: stays');
    } finally {
      for (const m of [ecs, aas, cw, apigw]) m.restore();
    }
  });
});
