/**
 * The shipped MLflow entrypoint (containers/mlflow/entrypoint.sh and mlflow_db.py), run for real
 * with the machine's sh and python3, a fake `mlflow` on PATH that records its calls and a fake
 * PyMySQL on PYTHONPATH whose named locks are real file locks.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { REPO_ROOT, requireProgram } from './support/proxy';

const MLFLOW_DIR = join(REPO_ROOT, 'containers', 'mlflow');
const ENTRYPOINT = join(MLFLOW_DIR, 'entrypoint.sh');
const FIXTURES = join(REPO_ROOT, 'test', 'containers', 'fixtures');

/** A database password with every character that needs URL encoding in a URI. */
const DB_PASSWORD = 'p@ss:w/rd?#%[]&=+ $!\'"`\\ü';
const DB_USER = 'mlflow@admin';

interface Call {
  command: string;
  argv: string[];
  start: number;
  end: number;
  tracking_uri: string | null;
}

interface Run {
  status: number | null;
  stderr: string;
  calls: Call[];
  connects: Array<Record<string, unknown>>;
}

let work: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'mlflow-entrypoint-'));
});

afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

function environment(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: [join(FIXTURES, 'fake-bin'), process.env.PATH ?? ''].join(delimiter),
    PYTHONPATH: join(FIXTURES, 'fake-python'),
    PYTHONDONTWRITEBYTECODE: '1',
    MLFLOW_DB_HELPER: join(MLFLOW_DIR, 'mlflow_db.py'),
    FAKE_MLFLOW_LOG: join(work, 'mlflow-calls.jsonl'),
    FAKE_MYSQL_LOG: join(work, 'mysql-connects.jsonl'),
    FAKE_MYSQL_LOCK_DIR: work,
    MLFLOW_VERSION: '3.13.0',
    BUCKET: 's3://mlflow-artifacts-123',
    HOST: 'db.cluster-abc.us-west-2.rds.amazonaws.com',
    PORT: '3306',
    DATABASE: 'mlflow',
    USERNAME: DB_USER,
    PASSWORD: DB_PASSWORD,
    MLFLOW_WORKERS: '3',
    MLFLOW_SERVER_ALLOWED_HOSTS: '*.execute-api.us-west-2.amazonaws.com,*.us-west-2.elb.amazonaws.com',
    MLFLOW_SERVER_CORS_ALLOWED_ORIGINS: 'https://*.execute-api.us-west-2.amazonaws.com',
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

function readLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as T);
}

function collect(status: number | null, stderr: string): Run {
  return {
    status,
    stderr,
    calls: readLines<Call>(join(work, 'mlflow-calls.jsonl')),
    connects: readLines<Record<string, unknown>>(join(work, 'mysql-connects.jsonl')),
  };
}

function runEntrypoint(overrides: Record<string, string | undefined> = {}): Run {
  requireProgram('python3', "Debian package 'python3'");
  const result = spawnSync('sh', [ENTRYPOINT], { env: environment(overrides), encoding: 'utf8', timeout: 30_000 });
  return collect(result.status, result.stderr);
}

function runEntrypointAsync(overrides: Record<string, string | undefined> = {}): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [ENTRYPOINT], { env: environment(overrides), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

const encoded = (value: string): string => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const EXPECTED_URI = `mysql+pymysql://${encoded(DB_USER)}:${encoded(DB_PASSWORD)}@db.cluster-abc.us-west-2.rds.amazonaws.com:3306/mlflow`;

function argAfter(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

describe('mlflow entrypoint', () => {
  it('upgrades the schema, then execs mlflow server on 127.0.0.1:5000 with S3 artifacts', () => {
    const run = runEntrypoint();
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.calls.map((c) => c.command), ['db upgrade', 'server']);
    const [upgrade, server] = run.calls;
    assert.deepEqual(upgrade.argv, ['db', 'upgrade', EXPECTED_URI]);
    assert.ok(upgrade.end <= server.start, 'the server starts after the upgrade ended');
    assert.deepEqual(server.argv, [
      'server',
      '--host', '127.0.0.1',
      '--port', '5000',
      '--workers', '3',
      '--backend-store-uri', EXPECTED_URI,
      '--no-serve-artifacts',
      '--default-artifact-root', 's3://mlflow-artifacts-123',
      '--uvicorn-opts', '--timeout-keep-alive 65',
      '--allowed-hosts', '*.execute-api.us-west-2.amazonaws.com,*.us-west-2.elb.amazonaws.com,localhost',
      '--cors-allowed-origins', 'https://*.execute-api.us-west-2.amazonaws.com',
    ]);
    assert.doesNotMatch(run.stderr, /p@ss/, 'the password is never logged');
  });

  it('URL-encodes the credentials so that they decode back exactly, and gives the driver the raw ones', () => {
    const run = runEntrypoint();
    assert.equal(run.status, 0, run.stderr);
    const uri = new URL(argAfter(run.calls[1].argv, '--backend-store-uri') ?? '');
    assert.equal(uri.protocol, 'mysql+pymysql:');
    assert.equal(decodeURIComponent(uri.username), DB_USER);
    assert.equal(decodeURIComponent(uri.password), DB_PASSWORD);
    assert.equal(uri.hostname, 'db.cluster-abc.us-west-2.rds.amazonaws.com');
    assert.equal(uri.port, '3306');
    assert.equal(uri.pathname, '/mlflow');
    assert.equal(run.connects.length, 1);
    assert.deepEqual(
      { user: run.connects[0].user, password: run.connects[0].password, host: run.connects[0].host, port: run.connects[0].port, database: run.connects[0].database },
      { user: DB_USER, password: DB_PASSWORD, host: 'db.cluster-abc.us-west-2.rds.amazonaws.com', port: 3306, database: 'mlflow' },
    );
  });

  for (const name of ['BUCKET', 'HOST', 'PORT', 'DATABASE', 'USERNAME', 'PASSWORD']) {
    it(`refuses to start without ${name}, naming it, before touching the database`, () => {
      for (const value of [undefined, '']) {
        const run = runEntrypoint({ [name]: value });
        assert.equal(run.status, 2);
        assert.match(run.stderr, new RegExp(`missing or empty environment variable\\(s\\):.*\\b${name}\\b`));
        assert.equal(run.calls.length, 0);
        assert.equal(run.connects.length, 0);
      }
    });
  }

  it('rejects settings it cannot use, with a clear message', () => {
    const cases: Array<[Record<string, string | undefined>, RegExp]> = [
      [{ BUCKET: 'mlflow-artifacts-123' }, /BUCKET must be an S3 URL/],
      [{ PORT: '33o6' }, /PORT must be a TCP port number/],
      [{ MLFLOW_WORKERS: '0' }, /MLFLOW_WORKERS must be a whole number from 1 to 64/],
      [{ MLFLOW_WORKERS: 'four' }, /MLFLOW_WORKERS must be a whole number from 1 to 64/],
      [{ MLFLOW_SERVER_ALLOWED_HOSTS: undefined }, /MLFLOW_SERVER_ALLOWED_HOSTS is required with MLflow 3\.13\.0/],
      [{ MLFLOW_VERSION: 'latest' }, /MLFLOW_VERSION must look like 3\.13\.0/],
    ];
    for (const [overrides, message] of cases) {
      const run = runEntrypoint(overrides);
      assert.equal(run.status, 2, JSON.stringify(overrides));
      assert.match(run.stderr, message);
      assert.equal(run.calls.length, 0);
    }
  });

  it('uses gunicorn options and no Host options before MLflow 3.5 (2.x and 3.0-3.4)', () => {
    const v2 = runEntrypoint({ MLFLOW_VERSION: '2.22.1', MLFLOW_SERVER_ALLOWED_HOSTS: undefined });
    assert.equal(v2.status, 0, v2.stderr);
    const v2server = v2.calls[1].argv;
    assert.equal(argAfter(v2server, '--gunicorn-opts'), '--timeout 300 --keep-alive 65');
    assert.ok(!v2server.includes('--allowed-hosts') && !v2server.includes('--cors-allowed-origins'));

    rmSync(join(work, 'mlflow-calls.jsonl'));
    const v34 = runEntrypoint({ MLFLOW_VERSION: '3.4.0' });
    assert.equal(v34.status, 0, v34.stderr);
    const v34server = v34.calls.find((c) => c.command === 'server')!.argv;
    assert.ok(!v34server.includes('--allowed-hosts'));
    assert.equal(argAfter(v34server, '--gunicorn-opts'), '--timeout 300 --keep-alive 65');
    assert.equal(argAfter(v34server, '--workers'), '3');
  });

  it('defaults to 2 workers when MLFLOW_WORKERS is not set', () => {
    const run = runEntrypoint({ MLFLOW_WORKERS: undefined });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(argAfter(run.calls[1].argv, '--workers'), '2');
  });

  it('proxies artifacts through the server when MLFLOW_PROXY_ARTIFACTS=true', () => {
    const run = runEntrypoint({ MLFLOW_PROXY_ARTIFACTS: 'true' });
    assert.equal(run.status, 0, run.stderr);
    const argv = run.calls[1].argv;
    assert.equal(argAfter(argv, '--artifacts-destination'), 's3://mlflow-artifacts-123');
    assert.ok(argv.includes('--serve-artifacts'));
    assert.ok(!argv.includes('--no-serve-artifacts') && !argv.includes('--default-artifact-root'));
  });

  it('asks the database to close idle pooled connections after DB_IDLE_DISCONNECT_SECONDS', () => {
    const run = runEntrypoint({ DB_IDLE_DISCONNECT_SECONDS: '60' });
    assert.equal(run.status, 0, run.stderr);
    const uri = new URL(argAfter(run.calls[1].argv, '--backend-store-uri') ?? '');
    assert.equal(uri.searchParams.get('init_command'), 'SET SESSION wait_timeout = 60');
    assert.equal(decodeURIComponent(uri.password), DB_PASSWORD, 'the credentials are still encoded exactly');
    assert.equal(run.calls[0].argv[2], argAfter(run.calls[1].argv, '--backend-store-uri'), 'the upgrade uses the same URI');
  });

  it('bounds every database read of the server, not of the schema upgrade, with DB_READ_TIMEOUT_SECONDS', () => {
    const run = runEntrypoint({ DB_READ_TIMEOUT_SECONDS: '60' });
    assert.equal(run.status, 0, run.stderr);
    const server = new URL(argAfter(run.calls[1].argv, '--backend-store-uri') ?? '');
    assert.equal(server.searchParams.get('read_timeout'), '60');
    assert.equal(server.searchParams.get('write_timeout'), '60');
    const upgrade = new URL(run.calls[0].argv[2]);
    assert.equal(upgrade.searchParams.get('read_timeout'), null, 'a long migration statement must not time out');
  });

  it('refuses DB_READ_TIMEOUT_SECONDS=0 with a clear message', () => {
    const run = runEntrypoint({ DB_READ_TIMEOUT_SECONDS: '0' });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /DB_READ_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 3600, got '0'/);
  });

  for (const bad of ['0', '-1', '60s', '99999999999']) {
    it(`refuses DB_IDLE_DISCONNECT_SECONDS=${bad} with a clear message`, () => {
      const run = runEntrypoint({ DB_IDLE_DISCONNECT_SECONDS: bad });
      assert.equal(run.status, 2);
      assert.match(run.stderr, new RegExp(`DB_IDLE_DISCONNECT_SECONDS must be a whole number of seconds from 1 to 31536000, got '${bad}'`));
      assert.deepEqual(run.calls, [], 'neither the upgrade nor the server ran');
    });
  }

  it('creates the tables of an empty database instead of migrating it', () => {
    const run = runEntrypoint({ FAKE_MYSQL_TABLES: '0' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.calls.map((c) => c.command), ['experiments', 'server']);
    assert.deepEqual(run.calls[0].argv, ['experiments', 'search']);
    assert.equal(run.calls[0].tracking_uri, EXPECTED_URI);
  });

  it('does not start the server when the upgrade fails', () => {
    const run = runEntrypoint({ FAKE_MLFLOW_FAIL: 'db upgrade' });
    assert.notEqual(run.status, 0);
    assert.deepEqual(run.calls.map((c) => c.command), ['db upgrade']);
    assert.match(run.stderr, /mlflow db upgrade failed/);
  });

  it('waits for a database that does not answer yet', () => {
    const run = runEntrypoint({ FAKE_MYSQL_FAIL_CONNECTS: '1' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /database not reachable yet/);
    assert.equal(run.connects.length, 2);
    assert.deepEqual(run.calls.map((c) => c.command), ['db upgrade', 'server']);
  });

  it('gives up on an unreachable database after MLFLOW_DB_WAIT_SECONDS', () => {
    const run = runEntrypoint({ FAKE_MYSQL_FAIL_CONNECTS: '100', MLFLOW_DB_WAIT_SECONDS: '1' });
    assert.equal(run.status, 3);
    assert.match(run.stderr, /not reachable/);
    assert.equal(run.calls.length, 0);
  });

  it('lets two tasks that start together take turns (MySQL named lock): one migrates, the other finds the schema done', async () => {
    const results = await Promise.all([
      runEntrypointAsync({ FAKE_MLFLOW_UPGRADE_SECONDS: '0.8' }),
      runEntrypointAsync({ FAKE_MLFLOW_UPGRADE_SECONDS: '0.8' }),
    ]);
    for (const r of results) assert.equal(r.status, 0, r.stderr);
    const run = collect(0, '');
    const upgrades = run.calls.filter((c) => c.command === 'db upgrade');
    const servers = run.calls.filter((c) => c.command === 'server');
    assert.equal(upgrades.length, 1, 'the second task waited for the lock and found the schema at its head');
    assert.equal(servers.length, 2);
    for (const server of servers) assert.ok(upgrades[0].end <= server.start, `a server started during the migration: ${JSON.stringify(run.calls)}`);
  });
});

/** The marker table's writes (the fake PyMySQL's log of REPLACE INTO): [release, revision] each. */
function markerWrites(): Array<[string, string]> {
  return readLines<[string, string]>(join(work, 'marker-log'));
}

function revisionNow(): string | undefined {
  const file = join(work, 'revision');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

describe('mlflow entrypoint: who migrates (MLflow requires every writer stopped)', () => {
  it('starts without migrating a schema already at its head revision, and marks it as its release', () => {
    const run = runEntrypoint({ FAKE_MYSQL_REVISION: 'r3', FAKE_MYSQL_MARKER: '3.12.0' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.calls.map((c) => c.command), ['server']);
    assert.deepEqual(markerWrites(), [['3.13.0', 'r3']]);
  });

  it('migrates at start an unmarked schema (a moved-in snapshot no other task serves) and marks it', () => {
    const run = runEntrypoint();
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.calls.map((c) => c.command), ['db upgrade', 'server']);
    assert.deepEqual(markerWrites(), [['3.13.0', 'r3']]);
    assert.equal(revisionNow(), 'r3');
  });

  it('refuses to migrate a schema another release serves, changes nothing, and names the upgrade command', () => {
    const run = runEntrypoint({ FAKE_MYSQL_REVISION: 'r2', FAKE_MYSQL_MARKER: '3.12.0' });
    assert.equal(run.status, 5, run.stderr);
    assert.deepEqual(run.calls, [], 'neither mlflow db upgrade nor the server ran');
    assert.deepEqual(markerWrites(), []);
    assert.match(run.stderr, /served by MLflow 3\.12\.0; MLflow 3\.13\.0 needs revision r3/);
    assert.match(run.stderr, /npx mlflow-on-aws upgrade:/);
  });

  it('refuses a schema at a revision its release does not know (migrated by a newer one), naming the rollback', () => {
    const run = runEntrypoint({ FAKE_MYSQL_REVISION: 'r9', FAKE_MYSQL_MARKER: '3.17.2' });
    assert.equal(run.status, 5, run.stderr);
    assert.deepEqual(run.calls, []);
    assert.deepEqual(markerWrites(), []);
    assert.match(run.stderr, /revision r9, which MLflow 3\.13\.0 does not know: MLflow 3\.17\.2 migrated it/);
    assert.match(run.stderr, /npx mlflow-on-aws upgrade --rollback/);
  });

  it('MLFLOW_MIGRATE_ONLY=true migrates a schema another release served, marks it, and exits without a server', () => {
    const run = runEntrypoint({ MLFLOW_MIGRATE_ONLY: 'true', FAKE_MYSQL_REVISION: 'r2', FAKE_MYSQL_MARKER: '3.12.0' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.calls.map((c) => c.command), ['db upgrade']);
    assert.deepEqual(run.calls[0].argv, ['db', 'upgrade', EXPECTED_URI]);
    assert.deepEqual(markerWrites(), [['3.13.0', 'r3']]);
    assert.match(run.stderr, /exiting without starting the server/);
  });

  it('MLFLOW_MIGRATE_ONLY=true: a failed migration exits non-zero and leaves the marker on the old release', () => {
    const run = runEntrypoint({ MLFLOW_MIGRATE_ONLY: 'true', FAKE_MYSQL_MARKER: '3.12.0', FAKE_MLFLOW_FAIL: 'db upgrade' });
    assert.equal(run.status, 1);
    assert.deepEqual(run.calls.map((c) => c.command), ['db upgrade']);
    assert.deepEqual(markerWrites(), []);
    assert.match(run.stderr, /mlflow db upgrade failed with exit code 1/);
  });

  it('MLFLOW_MIGRATE_ONLY=true refuses a schema newer than its release', () => {
    const run = runEntrypoint({ MLFLOW_MIGRATE_ONLY: 'true', FAKE_MYSQL_REVISION: 'r9', FAKE_MYSQL_MARKER: '3.17.2' });
    assert.equal(run.status, 5);
    assert.deepEqual(run.calls, []);
  });

  it('refuses MLFLOW_MIGRATE_ONLY values other than true and false', () => {
    const run = runEntrypoint({ MLFLOW_MIGRATE_ONLY: 'yes' });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /MLFLOW_MIGRATE_ONLY must be 'true' or 'false', got 'yes'/);
    assert.deepEqual(run.calls, []);
  });

  it('the migrate-only run holds the schema lock: a server starting meanwhile waits, then finds the schema at its head', async () => {
    const migrating = runEntrypointAsync({ MLFLOW_MIGRATE_ONLY: 'true', FAKE_MYSQL_MARKER: '3.12.0', FAKE_MLFLOW_UPGRADE_SECONDS: '0.8' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const starting = runEntrypointAsync({ FAKE_MYSQL_MARKER: '3.12.0' });
    const [m, s] = await Promise.all([migrating, starting]);
    assert.equal(m.status, 0, m.stderr);
    assert.equal(s.status, 0, s.stderr);
    const run = collect(0, '');
    assert.deepEqual(run.calls.map((c) => c.command), ['db upgrade', 'server']);
    assert.ok(run.calls[0].end <= run.calls[1].start);
  });
});

describe("mlflow entrypoint: the project's indexes on MLflow's tables (mlflow_indexes.py)", () => {
  const declared = (): Array<{ name: string; table: string }> => JSON.parse(spawnSync('python3', [join(MLFLOW_DIR, 'mlflow_indexes.py'), 'list'], { encoding: 'utf8' }).stdout);
  const created = (): string[] => (existsSync(join(work, 'indexes')) ? readFileSync(join(work, 'indexes'), 'utf8').split('\n').filter(Boolean) : []);

  it('a start creates each missing index under the schema lock, before the server; the next start finds them and creates none', () => {
    const first = runEntrypoint({ FAKE_MYSQL_REVISION: 'r3', FAKE_MYSQL_MARKER: '3.13.0' });
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(created(), declared().map((index) => `${index.table} ${index.name}`));
    assert.ok(declared().some((index) => index.table === 'tags'), 'the tags index is declared');
    assert.match(first.stderr, /creating the project's index mlflow_on_aws_tags_key_value on tags/);
    assert.deepEqual(first.calls.map((c) => c.command), ['server']);
    const second = runEntrypoint({ FAKE_MYSQL_REVISION: 'r3', FAKE_MYSQL_MARKER: '3.13.0' });
    assert.equal(second.status, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /creating the project's index/);
    assert.equal(created().length, declared().length);
  });

  it('the upgrade\'s one-off task (MLFLOW_MIGRATE_ONLY=true) creates them after the migration too', () => {
    const run = runEntrypoint({ MLFLOW_MIGRATE_ONLY: 'true', FAKE_MYSQL_MARKER: '3.12.0' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(created().length, declared().length);
  });

  it('a failure to create one is logged and the server starts anyway (the indexes make searches faster, not correct)', () => {
    const run = runEntrypoint({ FAKE_MYSQL_REVISION: 'r3', FAKE_MYSQL_MARKER: '3.13.0', FAKE_MYSQL_FAIL_INDEX: 'true' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /could not create the index mlflow_on_aws_latest_metrics_key_value on latest_metrics: .*INDEX command denied.*the next start tries again/);
    assert.deepEqual(run.calls.map((c) => c.command), ['server']);
  });
});

interface LitestreamCall {
  command: string;
  argv: string[];
  start: number;
  config?: string;
  config_mode?: number;
  exec?: string[];
}

interface LitestreamConfig {
  dbs: Array<{ path: string; replica: Record<string, unknown> }>;
}

describe('mlflow entrypoint: DATABASE_ENGINE=sqlite (SQLite files kept by Litestream)', () => {
  const dbDir = (): string => join(work, 'db');
  const sqlite = (overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
    DATABASE_ENGINE: 'sqlite',
    DATABASE_REPLICA_URL: 's3://mlflow-db-replica-123/litestream',
    MLFLOW_DB_DIR: dbDir(),
    HOME: work,
    AWS_REGION: 'us-west-2',
    FAKE_LITESTREAM_LOG: join(work, 'litestream-calls.jsonl'),
    // The replica bucket's writer marker goes through the fake boto3 (fixtures/fake-python/boto3).
    FAKE_S3_DIR: join(work, 's3'),
    FAKE_S3_LOG: join(work, 's3-calls.jsonl'),
    // No Aurora: none of its variables.
    HOST: undefined, PORT: undefined, DATABASE: undefined, USERNAME: undefined, PASSWORD: undefined,
    ...overrides,
  });
  const litestreamCalls = (): LitestreamCall[] => readLines<LitestreamCall>(join(work, 'litestream-calls.jsonl'));
  const s3Calls = (): Array<{ call: string; key?: string; time: number }> => readLines(join(work, 's3-calls.jsonl'));
  const MARKER = ['mlflow-db-replica-123', 'litestream', 'writer.json'];
  /** The writer marker a task still stopping holds (its last upload not done). */
  const otherWriter = (): string => {
    mkdirSync(join(work, 's3', ...MARKER.slice(0, -1)), { recursive: true });
    writeFileSync(join(work, 's3', ...MARKER), JSON.stringify({ writer: 'ip-10-0-1-2', since: '2026-12-07T03:00:00Z' }));
    return join(work, 's3', ...MARKER);
  };

  it('claims the replica\'s writer marker after the restore and removes it once Litestream has exited (its last upload done)', () => {
    const run = runEntrypoint(sqlite());
    assert.equal(run.status, 0, run.stderr);
    const [restore, replicate] = litestreamCalls();
    const put = s3Calls().find((c) => c.call === 'put');
    const removed = s3Calls().find((c) => c.call === 'delete');
    assert.equal(put?.key, 'litestream/writer.json');
    assert.equal(removed?.key, 'litestream/writer.json');
    assert.ok(restore.start < put!.time && put!.time < replicate.start, 'claimed between the restore and the replication');
    assert.ok(removed!.time > replicate.start, 'removed after Litestream');
    assert.equal(existsSync(join(work, 's3', ...MARKER)), false);
  });

  it('waits while another task\'s marker is there, and restores once it is gone', async () => {
    const marker = otherWriter();
    const started = Date.now();
    const running = runEntrypointAsync(sqlite({ DATABASE_WRITER_WAIT_SECONDS: '25' }));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.deepEqual(litestreamCalls(), [], 'nothing restored while the other task holds the replica');
    rmSync(marker);
    const run = await running;
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /another task still writes the replica \(s3:\/\/mlflow-db-replica-123\/litestream\/writer\.json: ip-10-0-1-2 since 2026-12-07T03:00:00Z\): waiting up to 25 s/);
    assert.match(run.stderr, /the other task has released the replica; restoring/);
    assert.ok(litestreamCalls()[0].start * 1000 > started + 3000, 'restored after the marker went');
  });

  it('takes over a marker still there after DATABASE_WRITER_WAIT_SECONDS (a task that did not stop left it)', () => {
    otherWriter();
    const run = runEntrypoint(sqlite({ DATABASE_WRITER_WAIT_SECONDS: '1' }));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /the writer marker is still there after 1 s, longer than any task stops: a task that did not stop \(killed or crashed\) left it; taking the replica over/);
    assert.deepEqual(litestreamCalls().map((c) => c.command), ['restore', 'replicate']);
    const calls = s3Calls().map((c) => c.call);
    assert.equal(calls.indexOf('delete') < calls.indexOf('put'), true, 'the stale marker removed before the new one is claimed');
  });

  it('a replica bucket it cannot read: exit 3 naming the marker, nothing restored; a bad DATABASE_WRITER_WAIT_SECONDS: exit 2', () => {
    const denied = runEntrypoint(sqlite({ FAKE_S3_FAIL: 'list' }));
    assert.equal(denied.status, 3, denied.stderr);
    assert.match(denied.stderr, /^mlflow-server: could not read the replica's writer marker s3:\/\/mlflow-db-replica-123\/litestream\/writer\.json: An error occurred \(AccessDenied\)/m);
    assert.deepEqual(litestreamCalls(), []);
    const bad = runEntrypoint(sqlite({ DATABASE_WRITER_WAIT_SECONDS: 'soon' }));
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /^mlflow-server: DATABASE_WRITER_WAIT_SECONDS must be a whole number of seconds from 0 to 3600, got 'soon'$/m);
  });
  const configOf = (call: LitestreamCall): LitestreamConfig => JSON.parse(call.config ?? '') as LitestreamConfig;
  const configPath = (): string => join(work, 'litestream.yml');
  /** A SQLite tracking file as another release left it: Alembic's revision and the marker's release (mlflow_db.py). */
  const existingFile = (revision: string, marked: string): void => {
    const script = [
      'import sqlite3, sys, os',
      'os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)',
      'c = sqlite3.connect(sys.argv[1])',
      'c.execute("CREATE TABLE experiments (id INTEGER)")',
      'c.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")',
      'c.execute("INSERT INTO alembic_version VALUES (?)", (sys.argv[2],))',
      'c.execute("CREATE TABLE mlflow_on_aws_schema (id INT PRIMARY KEY, mlflow_version VARCHAR(32), schema_revision VARCHAR(64), updated_at TIMESTAMP)")',
      'c.execute("INSERT INTO mlflow_on_aws_schema (id, mlflow_version, schema_revision) VALUES (1, ?, ?)", (sys.argv[3], sys.argv[2]))',
      'c.commit()',
    ].join('\n');
    const made = spawnSync('python3', ['-c', script, join(dbDir(), 'mlflow.db'), revision, marked], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
  };
  const fileState = (): string => spawnSync('python3', ['-c',
    'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute("SELECT version_num FROM alembic_version").fetchone()[0], c.execute("SELECT mlflow_version FROM mlflow_on_aws_schema").fetchone()[0])',
    join(dbDir(), 'mlflow.db')], { encoding: 'utf8' }).stdout.trim();
  /** The marker's release and revision in the tracking file (the fake `mlflow db upgrade` changes nothing in it). */
  const markerState = (): string => spawnSync('python3', ['-c',
    'import sqlite3, sys; print(*sqlite3.connect(sys.argv[1]).execute("SELECT mlflow_version, schema_revision FROM mlflow_on_aws_schema").fetchone())',
    join(dbDir(), 'mlflow.db')], { encoding: 'utf8' }).stdout.trim();

  it('restores the file from its replica, readies it, then runs mlflow server under litestream replicate (no Aurora variable needed)', () => {
    const run = runEntrypoint(sqlite());
    assert.equal(run.status, 0, run.stderr);
    const calls = litestreamCalls();
    assert.deepEqual(calls.map((c) => c.command), ['restore', 'replicate']);
    assert.deepEqual(calls[0].argv, ['restore', '-config', configPath(), '-if-replica-exists', '-if-db-not-exists', join(dbDir(), 'mlflow.db')]);
    assert.deepEqual(calls[1].argv.slice(0, 4), ['replicate', '-config', configPath(), '-exec']);
    // The empty file's tables are created after the restore and before Litestream starts; then the server, as its child.
    assert.deepEqual(run.calls.map((c) => c.command), ['experiments', 'server']);
    assert.ok(calls[0].start <= run.calls[0].start && run.calls[0].end <= calls[1].start);
    const uri = `sqlite:///${join(dbDir(), 'mlflow.db')}?timeout=30`;
    assert.equal(run.calls[0].tracking_uri, uri);
    assert.deepEqual(calls[1].exec, ['mlflow', ...run.calls[1].argv], 'Litestream ran exactly the server command line it was given');
    assert.deepEqual(run.calls[1].argv, [
      'server',
      '--host', '127.0.0.1',
      '--port', '5000',
      '--workers', '3',
      '--backend-store-uri', uri,
      '--no-serve-artifacts',
      '--default-artifact-root', 's3://mlflow-artifacts-123',
      '--uvicorn-opts', '--timeout-keep-alive 65',
      '--allowed-hosts', '*.execute-api.us-west-2.amazonaws.com,*.us-west-2.elb.amazonaws.com,localhost',
      '--cors-allowed-origins', 'https://*.execute-api.us-west-2.amazonaws.com',
    ]);
    assert.equal(run.connects.length, 0, 'no MySQL connection');
    assert.equal(markerState(), '3.13.0 r3', 'the new file is marked as this release\'s, at its head revision');
  });

  it("writes Litestream's configuration (mode 0600): the tracking file to <url>/mlflow at the sync interval, the region, no endpoint", () => {
    const run = runEntrypoint(sqlite());
    assert.equal(run.status, 0, run.stderr);
    const [restore] = litestreamCalls();
    assert.equal(restore.config_mode, 0o600);
    assert.deepEqual(configOf(restore), { 'l0-retention-check-interval': '300s', dbs: [{ path: join(dbDir(), 'mlflow.db'), replica: {
      type: 's3', bucket: 'mlflow-db-replica-123', path: 'litestream/mlflow', 'sync-interval': '10s', region: 'us-west-2',
    } }] });
  });

  it('auth users: the permission file too, to <url>/mlflow-auth; the test-only endpoint path-style; AWS_DEFAULT_REGION; the sync interval set', () => {
    // Litestream's restore made to fail: this test is about the configuration (the fake has no MLflow auth app).
    const run = runEntrypoint(sqlite({
      MLFLOW_AUTH: 'users', MLFLOW_USERNAME: 'admin', MLFLOW_PASSWORD: 'a-password-of-16b',
      DATABASE_REPLICA_SYNC_SECONDS: '3', DATABASE_REPLICA_ENDPOINT: 'http://127.0.0.1:4566', AWS_REGION: undefined, AWS_DEFAULT_REGION: 'eu-west-1',
      FAKE_LITESTREAM_FAIL: 'restore',
    }));
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stderr, /could not restore .*mlflow\.db from its replica in s3:\/\/mlflow-db-replica-123\/litestream/);
    assert.deepEqual(run.calls, [], 'nothing runs on a file that could not be restored');
    const replica = { type: 's3', bucket: 'mlflow-db-replica-123', 'sync-interval': '3s', region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566', 'force-path-style': true };
    assert.deepEqual(configOf(litestreamCalls()[0]), { 'l0-retention-check-interval': '300s', dbs: [
      { path: join(dbDir(), 'mlflow.db'), replica: { ...replica, path: 'litestream/mlflow' } },
      { path: join(dbDir(), 'mlflow-auth.db'), replica: { ...replica, path: 'litestream/mlflow-auth' } },
    ] });
  });

  it('passes every argument to Litestream as one word, whatever it holds (go-shellwords splits -exec)', () => {
    const hosts = "it's.example.com,a b;c|d&e>f$HOME\\g\"h";
    const run = runEntrypoint(sqlite({ MLFLOW_SERVER_ALLOWED_HOSTS: hosts }));
    assert.equal(run.status, 0, run.stderr);
    assert.equal(argAfter(litestreamCalls()[1].exec ?? [], '--allowed-hosts'), `${hosts},localhost`);
    assert.equal(argAfter(run.calls[1].argv, '--allowed-hosts'), `${hosts},localhost`);
  });

  it('refuses a file whose schema another release serves (exit 5, nothing changed, Litestream never replicates it)', () => {
    existingFile('r2', '3.12.0');
    const run = runEntrypoint(sqlite());
    assert.equal(run.status, 5, run.stderr);
    assert.match(run.stderr, /served by MLflow 3\.12\.0; MLflow 3\.13\.0 needs revision r3/);
    assert.match(run.stderr, /npx mlflow-on-aws upgrade:/);
    assert.deepEqual(run.calls, []);
    assert.deepEqual(litestreamCalls().map((c) => c.command), ['restore']);
    assert.equal(fileState(), 'r2 3.12.0');
    assert.deepEqual(s3Calls().map((c) => c.call), ['list'], 'a refused start claims no writer marker (the next start would wait for it)');
  });

  it('refuses a file at a revision its release does not know, naming the rollback (exit 5)', () => {
    existingFile('r9', '3.17.2');
    const run = runEntrypoint(sqlite());
    assert.equal(run.status, 5, run.stderr);
    assert.match(run.stderr, /npx mlflow-on-aws upgrade --rollback/);
    assert.deepEqual(run.calls, []);
  });

  it('starts on a file at its head revision without migrating, and marks it as its release', () => {
    existingFile('r3', '3.12.0');
    const run = runEntrypoint(sqlite());
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.calls.map((c) => c.command), ['server']);
    assert.equal(fileState(), 'r3 3.13.0');
  });

  it('MLFLOW_MIGRATE_ONLY=true: restores, migrates under litestream replicate (synced before it exits), exits 0 without a server', () => {
    existingFile('r2', '3.12.0');
    const run = runEntrypoint(sqlite({ MLFLOW_MIGRATE_ONLY: 'true' }));
    assert.equal(run.status, 0, run.stderr);
    const calls = litestreamCalls();
    assert.deepEqual(calls.map((c) => c.command), ['restore', 'replicate']);
    assert.deepEqual(calls[1].exec?.slice(0, 2), ['sh', '-c']);
    assert.deepEqual(calls[1].exec?.slice(3, 5), ['mlflow-migrate', join(MLFLOW_DIR, 'mlflow_db.py')]);
    assert.deepEqual(run.calls.map((c) => c.command), ['db upgrade']);
    assert.ok(calls[1].start <= run.calls[0].start, 'the migration ran as Litestream\'s child');
    assert.equal(markerState(), '3.13.0 r3');
    assert.match(run.stderr, /exiting without starting the server/);
  });

  it("MLFLOW_MIGRATE_ONLY=true keeps the migration's exit code through Litestream (which exits 1): a refusal is still 5", () => {
    existingFile('r9', '3.17.2');
    const run = runEntrypoint(sqlite({ MLFLOW_MIGRATE_ONLY: 'true' }));
    assert.equal(run.status, 5, run.stderr);
    assert.deepEqual(run.calls, []);
    assert.doesNotMatch(run.stderr, /exiting without starting the server/);
  });

  it('MLFLOW_MIGRATE_ONLY=true fails when Litestream does not run the migration', () => {
    const run = runEntrypoint(sqlite({ MLFLOW_MIGRATE_ONLY: 'true', FAKE_LITESTREAM_FAIL: 'replicate' }));
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /Litestream did not run the migration/);
    assert.deepEqual(run.calls, []);
  });

  it('aurora (the default) never runs Litestream', () => {
    const run = runEntrypoint({ FAKE_LITESTREAM_LOG: join(work, 'litestream-calls.jsonl') });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(litestreamCalls(), []);
  });

  it('refuses settings it cannot use with one line naming the variable, before restoring anything (exit 2)', () => {
    const cases: Array<[Record<string, string | undefined>, RegExp]> = [
      [{ DATABASE_ENGINE: 'postgres' }, /^mlflow-server: DATABASE_ENGINE must be 'aurora' or 'sqlite', got 'postgres'\.$/],
      [{ DATABASE_REPLICA_URL: undefined }, /^mlflow-server: missing or empty environment variable\(s\): DATABASE_REPLICA_URL\. With DATABASE_ENGINE=sqlite, BUCKET and DATABASE_REPLICA_URL come from the task definition\.$/],
      [{ DATABASE_REPLICA_URL: '' }, /^mlflow-server: missing or empty environment variable\(s\): DATABASE_REPLICA_URL\./],
      [{ DATABASE_REPLICA_URL: 'https://bucket/litestream' }, /^mlflow-server: DATABASE_REPLICA_URL must be s3:\/\/<bucket>\/<prefix> .*got 'https:\/\/bucket\/litestream'$/],
      [{ DATABASE_REPLICA_URL: 's3://Bad_Bucket/litestream' }, /DATABASE_REPLICA_URL must be s3:\/\/<bucket>\/<prefix>/],
      [{ DATABASE_REPLICA_URL: 's3://bucket/$HOME' }, /DATABASE_REPLICA_URL must be s3:\/\/<bucket>\/<prefix>/],
      [{ DATABASE_REPLICA_SYNC_SECONDS: '0' }, /^mlflow-server: DATABASE_REPLICA_SYNC_SECONDS must be a whole number of seconds from 1 to 3600, got '0'$/],
      [{ DATABASE_REPLICA_SYNC_SECONDS: '3601' }, /DATABASE_REPLICA_SYNC_SECONDS must be a whole number of seconds from 1 to 3600, got '3601'/],
      [{ DATABASE_REPLICA_SYNC_SECONDS: '10s' }, /DATABASE_REPLICA_SYNC_SECONDS must be a whole number of seconds from 1 to 3600, got '10s'/],
      [{ DATABASE_REPLICA_ENDPOINT: 'ftp://127.0.0.1' }, /DATABASE_REPLICA_ENDPOINT must be an http\(s\):\/\/host\[:port\] URL/],
      [{ MLFLOW_DB_DIR: 'relative/db' }, /MLFLOW_DB_DIR must be an absolute path/],
    ];
    for (const [overrides, message] of cases) {
      const run = runEntrypoint(sqlite(overrides));
      assert.equal(run.status, 2, `${JSON.stringify(overrides)}: ${run.stderr}`);
      assert.match(run.stderr.trim(), message);
      assert.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`);
      assert.deepEqual(litestreamCalls(), [], JSON.stringify(overrides));
      assert.deepEqual(run.calls, []);
    }
  });
});
