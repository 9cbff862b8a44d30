/**
 * database=sqlite end to end on loopback: the real MLflow (the e2e Python environment) started through
 * containers/mlflow/entrypoint.sh with DATABASE_ENGINE=sqlite and auth=users, the real Litestream on PATH (built from
 * its Go module at the image's version, test/support/litestream.ts), and moto's S3 server as the database replica
 * bucket, reached only through the test-only DATABASE_REPLICA_ENDPOINT. Every start gets a new, empty data folder
 * (MLFLOW_DB_DIR), as a Fargate task's ephemeral storage is new at every start: what survives is what Litestream put in
 * the bucket. The environment is the lean profile's MLflow container (one worker, no job runner) without Aurora's
 * variables, plus the sqlite ones (src/lib/contract.ts SQLITE_ENVIRONMENT).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SQLITE_ENVIRONMENT, SQLITE_REPLICA_PREFIX, SQLITE_WRITER_MARKER } from '../../src/lib/contract';
import { basicAuth, freePort } from '../containers/support/proxy';
import { ensureLitestream, LITESTREAM_BIN } from '../support/litestream';
import { ensurePythonEnv, PREVIOUS_MLFLOW_VERSION, SYSTEM_PATH, type PythonEnv } from '../support/python-env';
import { startAwsStandIn, type AwsStandIn } from './support/aws-standin';
import { createExperimentAndRun, http, load, mlflowApi } from './support/http';
import { processGroup, sleep, startService, waitFor, type Service } from './support/service';
import { MLFLOW_DB_HELPER, MLFLOW_ENTRYPOINT } from './support/stack';
import { containerEnvironment, taskContract } from './support/task-definition';

/** Aurora's variables in the lean task definition, which the sqlite task does not get. */
const AURORA_ONLY = ['HOST', 'PORT', 'DATABASE', 'MLFLOW_DB_WAIT_SECONDS', 'DB_IDLE_DISCONNECT_SECONDS', 'DB_READ_TIMEOUT_SECONDS'];
/** The crash test's sync interval, and the margin over it: Litestream looks at the WAL every second, then uploads. */
const SYNC_SECONDS = 2;
const CRASH_MARGIN_SECONDS = 3;
/** The wait for a writer marker in these tests (the stack's is 150 s: its stop timeout and a margin). */
const WRITER_WAIT_SECONDS = 4;
/** The replica's writer marker (src/lib/contract.ts). */
const WRITER_KEY = `${SQLITE_REPLICA_PREFIX}/${SQLITE_WRITER_MARKER}`;
/** What ECS gives a stopping task by default before SIGKILL; the sqlite service's stop timeout covers the final sync. */
const STOP_BOUND_MS = 30_000;

let python: PythonEnv;
let aws: AwsStandIn;
let work: string;
let base: Record<string, string>;
const replicaBucket = `mlflow-db-replica-e2e-${randomBytes(4).toString('hex')}`;
const artifactBucket = `mlflow-artifacts-e2e-${randomBytes(4).toString('hex')}`;
const admin = { username: 'admin', password: randomBytes(18).toString('base64url') };
const alice = { username: 'alice', password: randomBytes(18).toString('base64url') };
const adminHeaders = (): Record<string, string> => ({ authorization: basicAuth(admin.username, admin.password) });
const services: Service[] = [];
let starts = 0;

interface Started {
  readonly url: string;
  readonly dir: string;
  readonly service: Service;
}

/** The entrypoint on a new, empty data folder, with `overrides`; `wait` for /health (else it is expected to exit). */
async function startTask(overrides: Record<string, string> = {}, wait = true): Promise<Started> {
  starts += 1;
  const dir = join(work, `task-${starts}`, 'db');
  const port = await freePort();
  const service = startService(`mlflow sqlite ${starts}`, 'sh', [MLFLOW_ENTRYPOINT], {
    ...base,
    MLFLOW_LISTEN_PORT: String(port),
    MLFLOW_DB_DIR: dir,
    ...overrides,
  }, join(work, `mlflow-${starts}.log`), work);
  services.push(service);
  const url = `http://127.0.0.1:${port}`;
  if (wait) await waitFor(`${service.name} to answer /health`, async () => (await fetch(`${url}/health`)).status === 200, 120_000, service);
  return { url, dir, service };
}

/** The exit code of `service`, or 'still running' after `ms`. */
function exitOf(service: Service, ms: number): Promise<number | string> {
  return Promise.race([service.exited, sleep(ms).then(() => 'still running')]);
}

/** `litestream restore` of the tracking file's replica (as the entrypoint's config names it) into `output`. */
function restoreTrackingFile(output: string): void {
  mkdirSync(join(output, '..'), { recursive: true });
  const config = join(work, 'litestream.yml');
  const dbPath = spawnSync('python3', ['-c', 'import json, sys; print(json.load(open(sys.argv[1]))["dbs"][0]["path"])', config], { encoding: 'utf8' }).stdout.trim();
  const restored = spawnSync(join(LITESTREAM_BIN, 'litestream'), ['restore', '-config', config, '-o', output, dbPath], { env: base, encoding: 'utf8', timeout: 60_000 });
  assert.equal(restored.status, 0, restored.stdout + restored.stderr);
}

/** One query on a SQLite file with the e2e environment's python; the rows, tab-separated. */
function query(file: string, sql: string): string[] {
  const result = spawnSync(python.python, ['-c', [
    'import sqlite3, sys',
    'for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print(*row, sep="\\t")',
  ].join('\n'), file, sql], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter(Boolean);
}

before(async () => {
  python = ensurePythonEnv();
  ensureLitestream();
  aws = await startAwsStandIn(python);
  await aws.createBucket(replicaBucket);
  await aws.createBucket(artifactBucket);
  work = mkdtempSync(join(tmpdir(), 'mlflow-e2e-sqlite-'));
  // The lean profile's task definition with its defaults: database=sqlite (no Aurora variable, no database secret).
  const container = taskContract({ profile: 'lean', auth: 'users', sagemaker: 'none', mlflowVersion: python.mlflowVersion }).mlflow;
  const aurora = Object.keys(container.environment).filter((name) => AURORA_ONLY.includes(name));
  assert.deepEqual(aurora, [], 'the sqlite task definition sets none of the Aurora variables');
  assert.equal(container.environment[SQLITE_ENVIRONMENT.engine], 'sqlite');
  const { AWS_ENDPOINT_URL: _endpoint, ...credentials } = aws.clientEnv();
  base = {
    // What the image provides: Litestream, python and mlflow on PATH, HOME, its ENV lines.
    PATH: `${LITESTREAM_BIN}:${python.bin}:${SYSTEM_PATH}`,
    HOME: work,
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    MLFLOW_VERSION: python.mlflowVersion,
    // What ECS provides: the container's environment (the two buckets' addresses on loopback) and its secrets.
    ...containerEnvironment(container, { BUCKET: `s3://${artifactBucket}`, [SQLITE_ENVIRONMENT.replicaUrl]: `s3://${replicaBucket}/${SQLITE_REPLICA_PREFIX}` }, { MLFLOW_USERNAME: admin.username, MLFLOW_PASSWORD: admin.password }),
    // The task role's credentials and region; no AWS_ENDPOINT_URL: Litestream reaches the stand-in through its own
    // configuration's endpoint only. MLflow's artifacts go to the stand-in through MLFLOW_S3_ENDPOINT_URL.
    ...credentials,
    AWS_EC2_METADATA_DISABLED: 'true',
    DATABASE_REPLICA_ENDPOINT: aws.endpoint,
    // The stack's wait for a stopping task's writer marker is its stop timeout and a margin (150 s); (c) kills a task,
    // which leaves its marker, and the next start takes it over after this wait.
    [SQLITE_ENVIRONMENT.writerWaitSeconds]: String(WRITER_WAIT_SECONDS),
    MLFLOW_DB_HELPER,
  };
});

after(async () => {
  for (const service of services) await service.stop('SIGKILL', 0).catch(() => {});
  await aws?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

let experimentId: string;
let runId: string;
/** The metric steps of `runId` acknowledged so far, in order. */
const acknowledged: number[] = [];

async function logStep(url: string, step: number): Promise<boolean> {
  const answer = await http(url, mlflowApi.logMetric, { headers: adminHeaders(), body: { run_id: runId, key: 'loss', value: step / 10, timestamp: Date.now(), step }, timeoutMs: 10_000 });
  return answer.status === 200;
}

async function historySteps(url: string): Promise<number[]> {
  const answer = await http(url, `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss&max_results=100000`, { headers: adminHeaders() });
  assert.equal(answer.status, 200, answer.body);
  return (JSON.parse(answer.body).metrics ?? []).map((m: { step: string }) => Number(m.step)).sort((a: number, b: number) => a - b);
}

describe('database=sqlite: MLflow on SQLite files kept in S3 by Litestream', () => {
  let second: Started;

  it('(a) an empty folder and an empty bucket: MLflow starts, serves; SIGTERM stops it and Litestream uploads both files', async (t) => {
    // A sync interval longer than this task lives: what reaches the bucket after the start's snapshot is the final sync's.
    const first = await startTask({ [SQLITE_ENVIRONMENT.syncSeconds]: '600' });
    ({ experimentId, runId } = await createExperimentAndRun(first.url, 'sqlite-store', adminHeaders()));
    for (let step = 0; step < 20; step += 1) {
      assert.ok(await logStep(first.url, step));
      acknowledged.push(step);
    }
    const user = await http(first.url, '/api/2.0/mlflow/users/create', { headers: adminHeaders(), body: alice });
    assert.equal(user.status, 200, user.body);
    // The running task holds the replica's writer marker.
    assert.ok((await aws.listKeys(replicaBucket, `${SQLITE_REPLICA_PREFIX}/`)).includes(WRITER_KEY), 'the writer marker while the task runs');
    // ECS signals the container's first process only: the entrypoint, which passes it to Litestream.
    const stopping = Date.now();
    process.kill(first.service.child.pid!, 'SIGTERM');
    const status = await exitOf(first.service, STOP_BOUND_MS);
    const stopMs = Date.now() - stopping;
    assert.equal(status, 0, first.service.output().slice(-3000));
    assert.deepEqual(processGroup(first.service.child.pid!), [], 'MLflow and its workers exited before Litestream did');
    assert.match(first.service.output(), /litestream shut down/);
    const keys = await aws.listKeys(replicaBucket, `${SQLITE_REPLICA_PREFIX}/`);
    assert.ok(keys.some((key) => key.startsWith(`${SQLITE_REPLICA_PREFIX}/mlflow/`)), keys.join('\n'));
    assert.ok(keys.some((key) => key.startsWith(`${SQLITE_REPLICA_PREFIX}/mlflow-auth/`)), keys.join('\n'));
    assert.ok(!keys.includes(WRITER_KEY), 'the writer marker removed after the last upload');
    t.diagnostic(`stopped in ${(stopMs / 1000).toFixed(1)} s after SIGTERM; ${keys.length} objects under ${SQLITE_REPLICA_PREFIX}/`);
  });

  it('(b) a new empty folder: the start restores everything, the user too; two workers take concurrent writes', async (t) => {
    second = await startTask({ [SQLITE_ENVIRONMENT.syncSeconds]: String(SYNC_SECONDS), MLFLOW_WORKERS: '2' });
    assert.match(second.service.output(), /the one MLflow \S+ expects/, 'the restored schema was found at its head, not created again');
    const experiment = await http(second.url, `/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`, { headers: adminHeaders() });
    assert.equal(experiment.status, 200, experiment.body);
    assert.equal(JSON.parse(experiment.body).experiment.name, 'sqlite-store');
    assert.deepEqual(await historySteps(second.url), acknowledged, 'every metric acknowledged before the stop');
    const asAlice = await http(second.url, mlflowApi.searchExperiments, { headers: { authorization: basicAuth(alice.username, alice.password) } });
    assert.equal(asAlice.status, 200, `alice signs in after the restore: ${asAlice.body}`);
    const wrong = await http(second.url, mlflowApi.searchExperiments, { headers: { authorization: basicAuth(alice.username, 'not-her-password') } });
    assert.equal(wrong.status, 401);
    // Two uvicorn workers, each with its own connection pool, on one SQLite file that Litestream also reads and
    // checkpoints, under concurrent writes: none fails. (This load saw no failure with a busy timeout of 0 either; the
    // URI's timeout is checked in test/containers/mlflow-entrypoint.test.ts.)
    const concurrent = await load(second.url, 300, 8, (i) => ({
      path: mlflowApi.logMetric,
      options: { headers: adminHeaders(), body: { run_id: runId, key: 'concurrent', value: i, timestamp: Date.now(), step: i } },
    }));
    assert.equal(concurrent.failures, 0, concurrent.failureSamples.join('\n'));
    const points = await http(second.url, `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=concurrent&max_results=1000`, { headers: adminHeaders() });
    assert.equal(JSON.parse(points.body).metrics.length, 300);
    t.diagnostic(`300 log-metric requests over 8 connections to 2 workers: ${concurrent.perSecond.toFixed(0)} req/s, p99 ${concurrent.p99Ms.toFixed(0)} ms, no failure`);
  });

  it(`(c) kill -9 while writing: a new start has every write acknowledged more than ${SYNC_SECONDS} + ${CRASH_MARGIN_SECONDS} s before the kill, and nothing out of order`, async (t) => {
    const ackedAt = new Map<number, number>();
    const started = Date.now();
    let step = acknowledged.at(-1)! + 1;
    while (Date.now() - started < 6_000) {
      if (await logStep(second.url, step)) {
        ackedAt.set(step, Date.now());
        acknowledged.push(step);
      }
      step += 1;
    }
    const attempted = step;
    // The task dies at once, every process of it (what a crash or a lost Fargate host does).
    const killedAt = Date.now();
    process.kill(-second.service.child.pid!, 'SIGKILL');
    await second.service.exited;
    assert.ok((await aws.listKeys(replicaBucket, `${SQLITE_REPLICA_PREFIX}/`)).includes(WRITER_KEY), 'a killed task leaves its writer marker');
    const restored = join(work, 'after-crash', 'mlflow.db');
    restoreTrackingFile(restored);
    const steps = query(restored, `SELECT step FROM metrics WHERE run_uuid = '${runId}' AND key = 'loss' ORDER BY step`).map(Number);
    const last = steps.at(-1)!;
    assert.deepEqual(steps, Array.from({ length: last + 1 }, (_, i) => i), 'a prefix of the writes, none missing in between');
    assert.ok(last < attempted);
    const mustHave = [...ackedAt].filter(([, at]) => at <= killedAt - (SYNC_SECONDS + CRASH_MARGIN_SECONDS) * 1000).map(([s]) => s);
    assert.ok(mustHave.length > 0, 'the writer ran long enough to test the bound');
    assert.ok(last >= mustHave.at(-1)!, `step ${mustHave.at(-1)} was acknowledged ${SYNC_SECONDS + CRASH_MARGIN_SECONDS} s before the kill but the replica ends at ${last}`);
    const lost = [...ackedAt.keys()].filter((s) => s > last);
    const oldestLost = lost.length > 0 ? ((killedAt - ackedAt.get(lost[0])!) / 1000).toFixed(1) : '0';
    t.diagnostic(`${ackedAt.size} writes in 6 s, sync interval ${SYNC_SECONDS} s: ${lost.length} acknowledged writes lost, the oldest acknowledged ${oldestLost} s before the kill`);
  });

  it('(d) a schema another release serves is refused at start (exit 5, the file unchanged); MLFLOW_MIGRATE_ONLY=true migrates it and leaves it synced', async () => {
    // The crash's replica, one migration back and marked by the previous release: what an upgrade starts from.
    const folder = join(work, 'previous-release', 'db');
    restoreTrackingFile(join(folder, 'mlflow.db'));
    const headRevision = query(join(folder, 'mlflow.db'), 'SELECT version_num FROM alembic_version')[0];
    const downgrade = spawnSync(python.python, ['-c', [
      'import sqlite3, sys',
      'import sqlalchemy',
      'from alembic import command',
      'from mlflow.store.db.utils import _get_alembic_config',
      'url = "sqlite:///" + sys.argv[1]',
      'engine = sqlalchemy.create_engine(url)',
      'config = _get_alembic_config(url)',
      'with engine.begin() as connection:',
      '    config.attributes["connection"] = connection',
      '    command.downgrade(config, "-1")',
      'engine.dispose()',
      'c = sqlite3.connect(sys.argv[1])',
      'revision = c.execute("SELECT version_num FROM alembic_version").fetchone()[0]',
      'c.execute("UPDATE mlflow_on_aws_schema SET mlflow_version = ?, schema_revision = ?", (sys.argv[2], revision))',
      'c.commit()',
    ].join('\n'), join(folder, 'mlflow.db'), PREVIOUS_MLFLOW_VERSION], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(downgrade.status, 0, downgrade.stderr);
    const previous = query(join(folder, 'mlflow.db'), 'SELECT version_num FROM alembic_version')[0];
    assert.notEqual(previous, headRevision);

    // The server's start on it (the file is there: the restore leaves it alone) is refused.
    const refused = await startTask({ MLFLOW_DB_DIR: folder }, false);
    assert.equal(await exitOf(refused.service, 60_000), 5, refused.service.output().slice(-3000));
    // The killed task's marker (c) was still there: the start waited for it, then took the replica over.
    assert.match(refused.service.output(), new RegExp(`the writer marker is still there after ${WRITER_WAIT_SECONDS} s, longer than any task stops`));
    assert.ok(!(await aws.listKeys(replicaBucket, `${SQLITE_REPLICA_PREFIX}/`)).includes(WRITER_KEY), 'taken over, and the refused start claimed nothing');
    assert.match(refused.service.output(), new RegExp(`served by MLflow ${PREVIOUS_MLFLOW_VERSION.replace(/\./g, '\\.')}; MLflow \\S+ needs revision ${headRevision}`));
    assert.match(refused.service.output(), /npx mlflow-on-aws upgrade/);
    assert.deepEqual(query(join(folder, 'mlflow.db'), 'SELECT version_num FROM alembic_version'), [previous], 'nothing changed');

    // The upgrade's one-off task migrates it under Litestream; a later restore from the bucket has the migrated file.
    const migration = await startTask({ MLFLOW_DB_DIR: folder, MLFLOW_MIGRATE_ONLY: 'true' }, false);
    assert.equal(await exitOf(migration.service, 60_000), 0, migration.service.output().slice(-3000));
    assert.match(migration.service.output(), /exiting without starting the server/);
    const synced = join(work, 'after-migration', 'mlflow.db');
    restoreTrackingFile(synced);
    assert.deepEqual(query(synced, 'SELECT version_num FROM alembic_version'), [headRevision]);
    assert.deepEqual(query(synced, 'SELECT mlflow_version, schema_revision FROM mlflow_on_aws_schema'), [`${python.mlflowVersion}\t${headRevision}`]);
    assert.ok(query(synced, `SELECT COUNT(*) FROM metrics WHERE run_uuid = '${runId}'`)[0] !== '0', 'the data came along');
  });
});
