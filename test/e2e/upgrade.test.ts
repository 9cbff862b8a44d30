/**
 * An MLflow upgrade as `npx mlflow-on-aws upgrade` does it, on loopback with the real MLflow: from the previous default
 * release (PREVIOUS_MLFLOW_VERSION, a 3.x with schema migrations the pinned release adds) to the pinned one, while a
 * writer logs metrics through a front door that, like API Gateway with no task registered, answers 503 with
 * Retry-After while no server runs. Each step is the one the command makes on AWS:
 *   stop every writer (the front door loses its target, the server stops) -> snapshot (a mariadb-dump stands in for the
 *   Aurora snapshot) -> the new release's MLFLOW_MIGRATE_ONLY=true run of the entrypoint (the one-off task) -> the new
 *   release's server -> a write and a read.
 * Then a migration made to fail (a table a migration creates exists already) and the rollback's steps: the failed
 * database put aside, the snapshot restored under the same name, the old release started on it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePreviousMlflowEnv, PREVIOUS_MLFLOW_VERSION, SYSTEM_PATH } from '../support/python-env';
import { dumpDatabase, restoreDump } from './support/dump';
import { createExperimentAndRun, http, mlflowApi } from './support/http';
import { sleep } from './support/service';
import { startStack, type E2eStack, type MlflowServer } from './support/stack';


/**
 * The front door: forwards to the current MLflow server, or answers 503 with Retry-After: 30 when there is none (what
 * the gateway's integration mapping gives a client while no task runs). `drain()` waits for requests under way.
 */
interface FrontDoor {
  url: string;
  target: string | undefined;
  drain(): Promise<void>;
  close(): Promise<void>;
}

async function startFrontDoor(): Promise<FrontDoor> {
  let inFlight = 0;
  const door: Partial<FrontDoor> & { target: string | undefined } = { target: undefined };
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (c: Buffer) => (body += c.toString()));
    request.on('end', () => {
      const target = door.target;
      if (!target) {
        response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '30' });
        response.end('{"message":"Service Unavailable"}');
        return;
      }
      inFlight += 1;
      http(target, request.url ?? '/', { method: request.method, body: body || undefined, headers: body ? { 'content-type': 'application/json' } : {} })
        .then((answer) => {
          response.writeHead(answer.status, { 'content-type': 'application/json' });
          response.end(answer.body);
        }, () => {
          response.writeHead(502);
          response.end();
        })
        .finally(() => (inFlight -= 1));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  door.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  door.drain = async () => {
    while (inFlight > 0) await sleep(10);
  };
  door.close = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return door as FrontDoor;
}

/** Logs one metric point after another (each step once, never retried) and records what came back for each. */
class Writer {
  readonly acknowledged: number[] = [];
  readonly refused: Array<{ step: number; status: number; retryAfter?: string; at: number }> = [];
  readonly unknown: number[] = [];
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  /** `firstStep`: where this writer's steps start, so that two writers of one run never log the same step. */
  constructor(private readonly url: string, private readonly runId: string, private readonly firstStep: number) {
    writers.push(this);
  }

  start(): void {
    this.done = (async () => {
      for (let step = this.firstStep; !this.stopped; step += 1) {
        try {
          const answer = await http(this.url, mlflowApi.logMetric, { body: { run_id: this.runId, key: 'loss', value: step / 10, timestamp: Date.now(), step }, timeoutMs: 30_000 });
          if (answer.status === 200) this.acknowledged.push(step);
          else this.refused.push({ step, status: answer.status, retryAfter: answer.headers['retry-after'] as string | undefined, at: Date.now() });
        } catch {
          this.unknown.push(step);
        }
        await sleep(20);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Seconds from the first refused write to the first acknowledged one after the last refusal. */
  downtimeSeconds(ackTimes: Map<number, number>): number {
    const first = this.refused[0];
    const last = this.refused.at(-1)!;
    const next = this.acknowledged.find((s) => s > last.step);
    return ((next === undefined ? Date.now() : ackTimes.get(next)!) - first.at) / 1000;
  }
}

let stack: E2eStack;
let door: FrontDoor;
/** Every writer started, stopped in `after` too (a failed test leaves its writer running otherwise). */
const writers: Writer[] = [];
let oldEnvironment: Record<string, string>;
/** One worker per server: this test is about the schema, and each start is quicker (2 cores, shared). */
const ONE_WORKER = { MLFLOW_WORKERS: '1' };
/** The old release's server, from the first test to the upgrade of the second. */
let old: MlflowServer;
/** The "snapshot" of the first upgrade: the old release's data, every writer stopped. */
let snapshotFile: string;
let run: { experimentId: string; runId: string };
/** Every metric step a writer got a 200 for, over all tests. */
const acknowledged: number[] = [];
/** Those acknowledged before the first upgrade's snapshot: what the snapshot must hold. */
let acknowledgedAtSnapshot: number[] = [];
const sorted = (steps: number[]): number[] => [...steps].sort((a, b) => a - b);

function rows(sql: string): string[] {
  const out = stack.db.query(sql);
  return out === '' ? [] : out.split('\n');
}

const metricSteps = (runId: string): number[] => rows(`SELECT step FROM \`${stack.db.database}\`.metrics WHERE run_uuid = '${runId}' AND \`key\` = 'loss' ORDER BY step`).map(Number);
const revision = (): string => stack.db.query(`SELECT version_num FROM \`${stack.db.database}\`.alembic_version`);
const marker = (): string => stack.db.query(`SELECT mlflow_version FROM \`${stack.db.database}\`.mlflow_on_aws_schema WHERE id = 1`);

/** The check of `upgrade` step 6: a run written and read back through `url`. */
async function writeAndRead(url: string, label: string): Promise<void> {
  const created = await createExperimentAndRun(url, `upgrade-check-${label}-${Date.now()}`, {});
  const read = await http(url, mlflowApi.getRun(created.runId));
  assert.equal(read.status, 200, read.body);
  assert.equal(JSON.parse(read.body).run.info.run_id, created.runId);
}

/** What `pause` and a stopped task do: the front door loses its target (503 from then on), requests under way end, the server stops. */
async function stopEveryWriter(server: MlflowServer): Promise<void> {
  door.target = undefined;
  await door.drain();
  await server.service.stop('SIGTERM', 20_000);
}

before(async () => {
  const previous = ensurePreviousMlflowEnv();
  oldEnvironment = { PATH: `${previous.bin}:${SYSTEM_PATH}`, MLFLOW_VERSION: PREVIOUS_MLFLOW_VERSION, ...ONE_WORKER };
  stack = await startStack({ servers: 0, proxy: false });
  door = await startFrontDoor();
  snapshotFile = join(stack.workDir, 'snapshot-before-upgrade.sql');
});

after(async () => {
  for (const writer of writers) await writer.stop();
  await door?.close();
  await stack?.stop();
});

describe(`MLflow upgrade ${PREVIOUS_MLFLOW_VERSION} -> pinned release`, () => {
  it('a running old release keeps serving while a new task refuses to migrate its schema (a rolling deploy)', async () => {
    old = await stack.startMlflow(oldEnvironment);
    assert.equal(marker(), PREVIOUS_MLFLOW_VERSION, 'the schema is marked as the old release\'s');
    const before = revision();
    run = await createExperimentAndRun(old.url, 'training', {});
    door.target = old.url;
    const writer = new Writer(door.url, run.runId, 0);
    writer.start();
    // A task of the new release starting beside the old one, as a rolling deploy would start it.
    const refused = await stack.runMlflowOnce(ONE_WORKER);
    await writer.stop();
    assert.equal(refused.status, 5, refused.output);
    assert.match(refused.output, new RegExp(`served by MLflow ${PREVIOUS_MLFLOW_VERSION.replace(/\./g, '\\.')}; MLflow \\S+ needs revision`));
    assert.match(refused.output, /npx mlflow-on-aws upgrade/);
    assert.doesNotMatch(refused.output, /running mlflow db upgrade/);
    assert.equal(revision(), before, 'the schema was not touched');
    assert.equal(writer.refused.length + writer.unknown.length, 0, 'the old release served every write meanwhile');
    acknowledged.push(...writer.acknowledged);
  });

  it('upgrades as the CLI does while a writer logs metrics: nothing acknowledged lost, writes refused cleanly (503) while stopped', async (t) => {
    door.target = old.url;
    const ackTimes = new Map<number, number>();
    const writer = new Writer(door.url, run.runId, 100_000);
    writer.start();
    const watch = setInterval(() => {
      for (const step of writer.acknowledged.slice(ackTimes.size)) ackTimes.set(step, Date.now());
    }, 5);
    await sleep(1500);
    const revisionBefore = revision();

    // 1. stop every writer; 2. the snapshot.
    await stopEveryWriter(old);
    acknowledgedAtSnapshot = sorted([...acknowledged, ...writer.acknowledged]);
    dumpDatabase(stack.db, snapshotFile);
    // 4. the one-off migration task of the new release.
    const migration = await stack.runMlflowOnce({ MLFLOW_MIGRATE_ONLY: 'true', ...ONE_WORKER });
    assert.equal(migration.status, 0, migration.output);
    assert.match(migration.output, /running mlflow db upgrade/);
    assert.match(migration.output, /exiting without starting the server/);
    assert.notEqual(revision(), revisionBefore, 'the migrate-only run migrated the schema');
    assert.equal(marker(), stack.python.mlflowVersion);
    // 5. the new release starts without migrating anything itself.
    const upgraded = await stack.startMlflow(ONE_WORKER);
    assert.doesNotMatch(upgraded.service.output(), /running mlflow db upgrade/);
    assert.match(upgraded.service.output(), /the one MLflow \S+ expects/);
    door.target = upgraded.url;
    await sleep(1000);
    clearInterval(watch);
    await writer.stop();
    for (const step of writer.acknowledged.slice(ackTimes.size)) ackTimes.set(step, Date.now());
    // 6. a write and a read through the endpoint.
    await writeAndRead(door.url, 'after-upgrade');

    assert.ok(writer.refused.length > 0, 'writes were refused while stopped');
    for (const refusal of writer.refused) assert.deepEqual([refusal.status, refusal.retryAfter], [503, '30']);
    assert.deepEqual(writer.unknown, [], 'no write was left without an answer');
    acknowledged.push(...writer.acknowledged);
    // Every step is logged once: the database holds exactly the acknowledged ones (none lost, no refused one slipped in).
    const steps = metricSteps(run.runId);
    assert.deepEqual(steps, sorted(acknowledged));
    const history = await http(door.url, `/api/2.0/mlflow/metrics/get-history?run_id=${run.runId}&metric_key=loss&max_results=100000`);
    assert.equal(JSON.parse(history.body).metrics.length, steps.length, 'the new release serves them all');
    const downtime = writer.downtimeSeconds(ackTimes);
    t.diagnostic(`write downtime ${downtime.toFixed(1)} s; ${writer.acknowledged.length} writes acknowledged, ${writer.refused.length} refused with 503 + Retry-After; ${steps.length} metric rows = acknowledged`);
    await stopEveryWriter(upgraded);
  });

  it('the old release refuses the migrated schema, naming the rollback (ECS rolling back to the old task definition)', async () => {
    const revisionNow = revision();
    const attempt = await stack.runMlflowOnce(oldEnvironment);
    assert.equal(attempt.status, 5, attempt.output);
    assert.match(attempt.output, new RegExp(`which MLflow ${PREVIOUS_MLFLOW_VERSION.replace(/\./g, '\\.')} does not know: MLflow \\S+ migrated it`));
    assert.match(attempt.output, /npx mlflow-on-aws upgrade --rollback/);
    assert.equal(revision(), revisionNow);
  });

  it('a migration made to fail leaves a schema no release serves; the rollback steps bring the old release back on the snapshot\'s data', async () => {
    // The database of before the upgrade (the snapshot), with a table in the way of a migration the new release brings.
    const database = stack.db.database;
    const charset = stack.db.query(`SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${database}'`);
    const restoreSnapshot = (file: string): void => {
      stack.db.query(`DROP DATABASE \`${database}\``);
      stack.db.query(`CREATE DATABASE \`${database}\` CHARACTER SET ${charset}`);
      restoreDump(stack.db, file);
    };
    restoreSnapshot(snapshotFile);
    stack.db.query(`CREATE TABLE \`${database}\`.mcp_servers (id INT PRIMARY KEY)`);
    const runsBefore = rows(`SELECT run_uuid, name, status FROM \`${database}\`.runs ORDER BY run_uuid`);
    const stepsBefore = metricSteps(run.runId);
    assert.deepEqual(stepsBefore, acknowledgedAtSnapshot, 'the first snapshot held every write acknowledged before it');

    // The upgrade (every writer stopped already): the snapshot, the migration task, which fails.
    const secondSnapshot = join(stack.workDir, 'snapshot-before-failed-upgrade.sql');
    dumpDatabase(stack.db, secondSnapshot);
    const migration = await stack.runMlflowOnce({ MLFLOW_MIGRATE_ONLY: 'true', ...ONE_WORKER });
    assert.notEqual(migration.status, 0, migration.output);
    assert.match(migration.output, /mcp_servers/);
    assert.match(migration.output, /mlflow db upgrade failed with exit code/);
    // Part of the migrations ran (MySQL DDL is not transactional): neither release can start on it now.
    const stranded = await stack.runMlflowOnce(oldEnvironment);
    assert.equal(stranded.status, 5, stranded.output);
    assert.match(stranded.output, /upgrade --rollback/);

    // The rollback's steps: the failed database aside (kept as a dump here), the snapshot restored under the same name,
    // the old release deployed and started on it, a write and a read.
    dumpDatabase(stack.db, join(stack.workDir, 'failed-upgrade-aside.sql'));
    restoreSnapshot(secondSnapshot);
    const back = await stack.startMlflow(oldEnvironment);
    assert.match(back.service.output(), new RegExp(`the one MLflow ${PREVIOUS_MLFLOW_VERSION.replace(/\./g, '\\.')} expects`));
    assert.equal(marker(), PREVIOUS_MLFLOW_VERSION);
    assert.deepEqual(rows(`SELECT run_uuid, name, status FROM \`${database}\`.runs ORDER BY run_uuid`), runsBefore, 'the runs of the snapshot');
    assert.deepEqual(metricSteps(run.runId), stepsBefore, 'every metric row of the snapshot');
    door.target = back.url;
    const history = await http(door.url, `/api/2.0/mlflow/metrics/get-history?run_id=${run.runId}&metric_key=loss&max_results=100000`);
    assert.equal(JSON.parse(history.body).metrics.length, stepsBefore.length, 'the old release serves the old data');
    await writeAndRead(door.url, 'after-rollback');
  });
});
