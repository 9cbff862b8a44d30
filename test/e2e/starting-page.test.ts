/**
 * The starting integration of a sleeping deployment (docs/guides/sleep.md), for real: the sleep function's handler
 * (src/lib/operations/sleep-function/handler.js) answers real HTTP requests through a small loopback adapter that plays
 * API Gateway: it turns each request into the HTTP API's payload 2.0 event while the routes point at the starting
 * integration, and forwards it to the real proxy in front of the real MLflow while they point at the VPC link. The
 * AWS calls the handler makes go to aws-sdk-client-mock stand-ins that keep the state a deployment would: the scalable
 * target and desired count it sets, the routes it repoints, and a Cloud Map instance that turns healthy some seconds
 * after the wake ("the service runs": the real MLflow is up all along).
 *
 * Shown: headless Chromium gets the "MLflow is starting" page (503, Retry-After; screenshot in
 * test-output/e2e/sleep-starting-page.png), which reloads itself into the real MLflow UI once the service runs; the
 * UI's own auto-refresh does not wake it; the MLflow Python client's call succeeds through the 503s and Retry-After.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiGatewayV2Client, GetRouteCommand, UpdateRouteCommand } from '@aws-sdk/client-apigatewayv2';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { GetInstancesHealthStatusCommand, ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { mockClient } from 'aws-sdk-client-mock';
import { chromium } from 'playwright-core';
import { createClients, onRequest } from '../../src/lib/operations/sleep-function/handler';
import { sleep } from './support/service';
import { startStack, TEST_OUTPUT, type E2eStack } from './support/stack';

/** Seconds from the wake until the Cloud Map stand-in lists a healthy instance. */
const START_SECONDS = 12;
/** The handler's Retry-After here (30 on AWS): short, so that the client's retries fit the suite. */
const RETRY_AFTER_SECONDS = 3;
const ROUTES = [{ id: 'default', target: 'integrations/vpc-link' }, { id: 'proxy', target: 'integrations/vpc-link' }];
const ENV = {
  CLUSTER: 'c', SERVICE: 's', SLEEP_AFTER_MINUTES: '30', WAKE_TASKS: '1', METRIC_NAMESPACE: 'MLflowOnAWS', METRIC_NAME: 'ActivityRequests',
  API_ID: 'api', ROUTES: JSON.stringify(ROUTES), STARTING_INTEGRATION: 'starting', READINESS: JSON.stringify({ cloudMapServiceId: 'srv' }),
  RETRY_AFTER_SECONDS: String(RETRY_AFTER_SECONDS),
};

/** What the AWS stand-ins hold: the scalable target's minimum, the desired count, the wake's time, the routes' targets. */
const aws = { min: 0, desired: 0, wokeAt: 0, routes: new Map<string, string>() };
const log: Array<{ t: number; method: string; path: string; status: number; via: 'starting' | 'vpc-link' }> = [];

function asleep(): void {
  aws.min = 0;
  aws.desired = 0;
  aws.wokeAt = 0;
  for (const route of ROUTES) aws.routes.set(route.id, 'integrations/starting');
}

const mocks = [mockClient(ECSClient), mockClient(ApplicationAutoScalingClient), mockClient(ApiGatewayV2Client), mockClient(ServiceDiscoveryClient)] as const;
function standIns(): void {
  const [ecs, aas, apigw, sd] = mocks;
  aas.on(DescribeScalableTargetsCommand).callsFake(() => ({
    ScalableTargets: [{ ServiceNamespace: 'ecs', ResourceId: 'service/c/s', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: aws.min, MaxCapacity: 2, RoleARN: 'r', CreationTime: new Date() }],
  }));
  aas.on(RegisterScalableTargetCommand).callsFake((input) => {
    aws.min = input.MinCapacity;
    return {};
  });
  ecs.on(DescribeServicesCommand).callsFake(() => ({ services: [{ desiredCount: aws.desired, deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }] }] }));
  ecs.on(UpdateServiceCommand).callsFake((input) => {
    if (aws.desired === 0 && input.desiredCount > 0) aws.wokeAt = Date.now();
    aws.desired = input.desiredCount;
    return {};
  });
  sd.on(GetInstancesHealthStatusCommand).callsFake(() => ({
    Status: aws.desired > 0 && Date.now() - aws.wokeAt >= START_SECONDS * 1000 ? { task: 'HEALTHY' } : {},
  }));
  apigw.on(GetRouteCommand).callsFake((input) => ({ RouteId: input.RouteId, Target: aws.routes.get(input.RouteId) }));
  apigw.on(UpdateRouteCommand).callsFake((input) => {
    aws.routes.set(input.RouteId, input.Target);
    return {};
  });
}

const clients = createClients({ region: 'us-west-2' });

/**
 * The adapter: API Gateway's part. The `$default` route's target decides: the starting integration (the handler,
 * with the payload 2.0 event of the request) or the VPC link (the real proxy, the request as it came).
 */
function adapter(upstream: string): Server {
  const started = Date.now();
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://adapter');
      const note = (status: number, via: 'starting' | 'vpc-link') => log.push({ t: (Date.now() - started) / 1000, method: req.method ?? '', path: url.pathname, status, via });
      if (aws.routes.get('default') === 'integrations/starting') {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
        const event = {
          version: '2.0', routeKey: '$default', rawPath: url.pathname, rawQueryString: url.search.slice(1), headers,
          requestContext: { http: { method: req.method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' }, routeKey: '$default', stage: '$default' },
          body: body.toString('base64'), isBase64Encoded: true,
        };
        onRequest(event, clients, ENV).then((answer) => {
          note(answer.statusCode, 'starting');
          res.writeHead(answer.statusCode, answer.headers);
          res.end(answer.body);
        }, (error: Error) => {
          note(500, 'starting');
          res.writeHead(500);
          res.end(String(error));
        });
        return;
      }
      const target = new URL(upstream);
      const forward = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        note(answer.statusCode ?? 0, 'vpc-link');
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      forward.end(body);
    });
  });
}

let stack: E2eStack;
let server: Server;
let url: string;

before(async () => {
  // database=aurora: the suite's stack stands in for Aurora with MariaDB (lean's default database=sqlite runs Litestream).
  stack = await startStack({ settings: { profile: 'lean', database: 'aurora' } });
  standIns();
  server = adapter(stack.proxy!.url);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const m of mocks) m.restore();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await stack?.stop();
});

describe('a sleeping deployment\'s starting integration, with the real handler, the real UI and the real client', () => {
  it('the UI\'s own auto-refresh gets 503 with Retry-After and does not wake the service', async () => {
    asleep();
    const refresh = await fetch(`${url}/ajax-api/2.0/mlflow/runs/search`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: stack.authorization() }, body: '{}' });
    assert.equal(refresh.status, 503);
    assert.equal(refresh.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
    assert.equal((await refresh.json() as { error_code: string }).error_code, 'TEMPORARILY_UNAVAILABLE');
    assert.equal(aws.desired, 0, 'still asleep');
  });

  it('Chromium: the "MLflow is starting" page, which reloads itself into the real MLflow UI once the service runs', async () => {
    asleep();
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    try {
      const context = await browser.newContext({ httpCredentials: { username: stack.username, password: stack.password }, viewport: { width: 1024, height: 640 } });
      const page = await context.newPage();
      const first = await page.goto(`${url}/`, { waitUntil: 'load' });
      assert.equal(first?.status(), 503);
      assert.equal((await first!.allHeaders())['retry-after'], String(RETRY_AFTER_SECONDS));
      assert.equal(await page.locator('h1').textContent(), 'MLflow is starting');
      const shot = join(TEST_OUTPUT, 'sleep-starting-page.png');
      await page.screenshot({ path: shot });
      console.log(`starting page: ${shot}`);
      assert.equal(aws.desired, 1, 'the page load woke the service');
      const wokeAt = aws.wokeAt;

      // The page reloads every 5 s; once the instance is healthy a request puts the routes back and the next reload
      // reaches the proxy (401, then the browser's credentials) and MLflow's UI.
      const deadline = Date.now() + 90_000;
      let title = '';
      while (Date.now() < deadline) {
        title = await page.title().catch(() => '');
        if (title && title !== 'MLflow is starting') break;
        await sleep(1000);
      }
      console.log(`UI title "${title}" ${((Date.now() - wokeAt) / 1000).toFixed(1)} s after the wake; requests: ${log.map((r) => `${r.t.toFixed(1)}s ${r.method} ${r.path} ${r.status} ${r.via}`).slice(0, 12).join(', ')}`);
      assert.match(title, /MLflow/);
      assert.notEqual(title, 'MLflow is starting');
      assert.deepEqual([...aws.routes.values()], ['integrations/vpc-link', 'integrations/vpc-link'], 'the routes back on the VPC link');
      await page.waitForLoadState('networkidle', { timeout: 30_000 }).catch(() => undefined);
      await page.screenshot({ path: join(TEST_OUTPUT, 'sleep-started-ui.png') });
      assert.ok(log.some((r) => r.via === 'vpc-link' && r.path === '/' && r.status === 200), 'the UI\'s page came through the VPC link');
    } finally {
      await browser.close();
    }
  });

  it('the MLflow Python client\'s call succeeds through the 503s and their Retry-After', async () => {
    asleep();
    log.length = 0;
    const client = 'import json, time\nfrom mlflow import MlflowClient\nstart = time.time()\nMlflowClient().search_experiments()\nprint(json.dumps({"seconds": time.time() - start}))\n';
    const run = await stack.runPython(['-c', client], { ...stack.clientEnv(), MLFLOW_TRACKING_URI: url }, 180_000);
    const line = run.stdout.trim().split('\n').pop() ?? '';
    assert.ok(line.startsWith('{'), `${run.stdout}\n${run.stderr}`);
    const calls = log.filter((r) => r.path === '/api/2.0/mlflow/experiments/search');
    console.log(`client: ok after ${(JSON.parse(line) as { seconds: number }).seconds.toFixed(1)} s; attempts: ${calls.map((r) => `${r.t.toFixed(1)}s ${r.status} ${r.via}`).join(', ')}`);
    assert.ok(calls.filter((r) => r.status === 503 && r.via === 'starting').length >= 2, 'answered 503 while starting');
    assert.equal(calls.at(-1)!.status, 200);
    assert.equal(calls.at(-1)!.via, 'vpc-link');
    const gaps = calls.slice(1).map((r, i) => r.t - calls[i].t);
    assert.ok(gaps.every((g) => g >= RETRY_AFTER_SECONDS - 0.5), `the client waited Retry-After between attempts: ${gaps.map((g) => g.toFixed(1)).join(', ')}`);
  });
});
