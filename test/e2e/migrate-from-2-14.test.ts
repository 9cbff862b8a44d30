/**
 * Moving in from the original aws-mlflow-sagemaker-cdk sample (docs/guides/migrate-from-sample.md), for real: a database made
 * by the sample's MLflow 2.14.2 server, as its image started it (its schema `mlflowdb`, its master user, artifacts in
 * the sample's bucket `mlflow-<account>-<region>`, clients writing them to S3 directly), filled through the 2.14.2
 * client; then this project's MLflow container, started through its entrypoint with the task definition that the
 * `dbSnapshot` and `artifactBucketName` settings synthesize, upgrades the schema and serves it behind the proxy. Every
 * experiment, run, param, metric history, tag, registered model, version, stage, alias and artifact must read back
 * the same through the current client, the models must load from their old S3 sources, and MLflow must go on writing.
 * The sample's schema is latin1: the entrypoint converts it to utf8mb4 (containers/mlflow/mlflow_charset.py), after
 * which text outside Latin-1 (names, params, tags, traces) is stored and read back and searches by accented text work.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { EXIT } from '../../src/cli/errors';
import { SAMPLE_DATABASE } from '../../src/app/config/platform-config';
import { GATEWAY_OUTPUTS, MLFLOW_OUTPUTS } from '../../src/app/names';
import { harness, outputs, setStacks } from '../cli/helpers';
import { freePort } from '../containers/support/proxy';
import { ensurePythonEnv, ensureSampleMlflowEnv, REPO_ROOT, SAMPLE_MLFLOW_VERSION, type PythonEnv } from '../support/python-env';
import { startAwsStandIn, type AwsStandIn } from './support/aws-standin';
import { startMariaDb, type MariaDb } from './support/mariadb';
import { startService, waitFor } from './support/service';
import { MLFLOW_DB_HELPER, runPython, startStack, type E2eStack } from './support/stack';

const INVENTORY = join(REPO_ROOT, 'test', 'e2e', 'clients', 'migration_inventory.py');
/** The guide's count of the old deployment, to compare with `status --counts` on the new one. */
const COUNTS_SCRIPT = join(REPO_ROOT, 'scripts', 'mlflow_counts.py');
/** The original sample's bucket name, mlflow-<account>-<region>. */
const SAMPLE_BUCKET = 'mlflow-123456789012-us-west-2';

let current: PythonEnv;
let sample: PythonEnv;
let db: MariaDb;
let aws: AwsStandIn;
let stack: E2eStack;
let workDir: string;
/** Ids `fill` made, and everything read back through MLflow 2.14.2 before the move. */
let made: any;
let before214: any;
let revisionBefore: string;
let sampleServerLog: string;
let upgradeSeconds: number;
/** scripts/mlflow_counts.py's line for the sample's server. */
let countsBefore: string;
/** What `accents` made through MLflow 2.14.2: Latin-1 text on the latin1 schema. */
let accentsMade: any;
/** Character sets of the sample's schema before the move: the schema default, and each table's and column's. */
let charsetsBefore: { schema: string; tables: string; columns: string };
/** What the searches of `unicode` found after the move. */
let unicodeSearches: Record<string, number>;

/** Runs migration_inventory.py `command` with `python` and `env`; returns its JSON. */
async function inventory(python: PythonEnv, command: string, env: Record<string, string>): Promise<any> {
  const run = await runPython(python, [INVENTORY, command], { HOME: workDir, ...env }, 600_000);
  assert.equal(run.status, 0, `migration_inventory.py ${command} with MLflow ${python.mlflowVersion}:\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

function alembicRevision(): string {
  return db.query(`SELECT version_num FROM \`${db.database}\`.alembic_version`);
}

/** The schema's default character set, and the distinct character sets of its tables' defaults and of its text columns. */
function charsets(): { schema: string; tables: string; columns: string } {
  const schema = `'${db.database}'`;
  return {
    schema: db.query(`SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${schema}`),
    tables: db.query(`SELECT GROUP_CONCAT(DISTINCT c.CHARACTER_SET_NAME) FROM information_schema.TABLES t JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY c `
      + `ON c.COLLATION_NAME = t.TABLE_COLLATION WHERE t.TABLE_SCHEMA = ${schema}`),
    columns: db.query(`SELECT GROUP_CONCAT(DISTINCT CHARACTER_SET_NAME) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${schema} AND CHARACTER_SET_NAME IS NOT NULL`),
  };
}

/** Every foreign key of the schema: table, columns, referenced table and columns, rules; one line each, sorted, distinct. */
function foreignKeys(): string[] {
  return db.query(`SELECT DISTINCT CONCAT_WS(' ', rc.TABLE_NAME, GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION), '->', rc.REFERENCED_TABLE_NAME, `
    + `GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION), 'ON DELETE', rc.DELETE_RULE, 'ON UPDATE', rc.UPDATE_RULE) `
    + 'FROM information_schema.REFERENTIAL_CONSTRAINTS rc JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA '
    + 'AND k.TABLE_NAME = rc.TABLE_NAME AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME '
    + `WHERE rc.CONSTRAINT_SCHEMA = '${db.database}' GROUP BY rc.TABLE_NAME, rc.CONSTRAINT_NAME`).split('\n').filter(Boolean).sort();
}

/** Each table's creation time: an ALTER TABLE that rebuilds a table (a conversion) changes it. */
function tableCreationTimes(): string {
  return db.query(`SELECT CONCAT(TABLE_NAME, ' ', CREATE_TIME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.database}' ORDER BY TABLE_NAME`);
}

before(async () => {
  current = ensurePythonEnv();
  sample = ensureSampleMlflowEnv();
  workDir = mkdtempSync(join(tmpdir(), 'mlflow-e2e-migrate-'));
  // The sample's database: Aurora's master user "master" and the schema "mlflowdb" its stack created, in latin1, the
  // server default of MySQL 5.7 (Aurora MySQL 2) that a schema created without a character set got there.
  db = await startMariaDb({ database: SAMPLE_DATABASE.databaseName, user: SAMPLE_DATABASE.username });
  db.query(`ALTER DATABASE \`${db.database}\` CHARACTER SET latin1 COLLATE latin1_swedish_ci`);
  aws = await startAwsStandIn(current);
  await aws.createBucket(SAMPLE_BUCKET);

  // The sample's server, as its Dockerfile starts it (mlflow server --default-artifact-root $BUCKET
  // --backend-store-uri mysql+pymysql://...); only TLS is added, which the stand-in database requires.
  const port = await freePort();
  const quote = encodeURIComponent;
  const uri = `mysql+pymysql://${quote(db.user)}:${quote(db.password)}@127.0.0.1:${db.port}/${db.database}?ssl_ca=${quote(db.caFile)}`;
  const server = startService(`mlflow ${SAMPLE_MLFLOW_VERSION} server`, join(sample.bin, 'mlflow'), [
    'server', '--host', '127.0.0.1', '--port', String(port), '--default-artifact-root', `s3://${SAMPLE_BUCKET}`, '--backend-store-uri', uri,
  ], { PATH: `${sample.bin}:/usr/bin:/bin`, HOME: workDir, PYTHONDONTWRITEBYTECODE: '1', ...aws.clientEnv() }, join(workDir, 'mlflow-2.14.log'), workDir);
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`MLflow ${SAMPLE_MLFLOW_VERSION} to answer /health`, async () => (await fetch(`${url}/health`)).status === 200, 180_000, server);
    const clientEnv = { ...aws.clientEnv(), MLFLOW_TRACKING_URI: url };
    made = await inventory(sample, 'fill', clientEnv);
    accentsMade = await inventory(sample, 'accents', clientEnv);
    before214 = await inventory(sample, 'dump', clientEnv);
    const counts = await runPython(sample, [COUNTS_SCRIPT], { HOME: workDir, ...clientEnv }, 120_000);
    assert.equal(counts.status, 0, counts.stderr);
    countsBefore = counts.stdout.trim();
  } finally {
    // The old deployment is gone before the new one starts (its stacks share the names).
    await server.stop('SIGTERM', 20_000);
    sampleServerLog = server.output();
  }
  revisionBefore = alembicRevision();
  charsetsBefore = charsets();

  // This project's MLflow on that database and bucket, with the task definition of a deployment that moves them in.
  const started = Date.now();
  stack = await startStack({ existing: { db, aws, bucket: SAMPLE_BUCKET }, settings: { dbSnapshot: 'mlflow-sample-final' } });
  upgradeSeconds = (Date.now() - started) / 1000;
});

after(async () => {
  await stack?.stop();
  await aws?.stop();
  await db?.destroy();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe(`moving in from the original sample: MLflow ${SAMPLE_MLFLOW_VERSION} data under the current MLflow`, () => {
  it(`MLflow ${SAMPLE_MLFLOW_VERSION} made the data, through its own client: experiments, runs, models and artifacts in S3`, () => {
    assert.doesNotMatch(sampleServerLog, /Traceback/, sampleServerLog);
    assert.equal(before214.experiments.length, 4);
    assert.equal(before214.runs.length, 7);
    // Not 3: on the latin1 schema MLflow's search does not find the version of the model with an accented name
    // (it compares BINARY name, Latin-1 bytes, with the UTF-8 name), so the dump, which lists versions by search, misses it.
    assert.equal(before214.model_versions.length, 2);
    assert.deepEqual(before214.registered_models.map((m: any) => m.name), ['sample-churn-model', 'sample-modèle-café']);
    // The sample's schema, as MLflow 2.14.2 made it on the latin1 default: latin1 throughout.
    assert.deepEqual(charsetsBefore, { schema: 'latin1', tables: 'latin1', columns: 'latin1' });
    const keys = before214.runs.flatMap((run: any) => run.artifacts.map((a: any) => `${run.artifact_uri}/${a.path}`));
    for (const run of before214.runs) assert.ok(run.artifact_uri.startsWith(`s3://${SAMPLE_BUCKET}/${run.experiment_id}/`), run.artifact_uri);
    assert.ok(keys.some((key: string) => key.endsWith('/model/MLmodel')), keys.join('\n'));
  });

  it("the container's entrypoint upgraded the schema once, under the lock, from 2.14.2's revision to the current head", async () => {
    const log = stack.servers[0].service.output();
    assert.match(log, /running mlflow db upgrade/);
    assert.doesNotMatch(log, /empty database/);
    assert.match(log, /database schema is up to date/);
    assert.doesNotMatch(log, /Traceback|\bERROR\b|OperationalError|IntegrityError|failed with exit code/, log);
    const head = await runPython(current, ['-c', [
      'from alembic.script import ScriptDirectory',
      'from mlflow.store.db.utils import _get_alembic_config',
      "print(ScriptDirectory.from_config(_get_alembic_config('sqlite://')).get_current_head())",
    ].join('\n')], { HOME: workDir }, 120_000);
    assert.equal(head.status, 0, head.stderr);
    assert.notEqual(revisionBefore, head.stdout.trim(), `${SAMPLE_MLFLOW_VERSION} left the schema at ${revisionBefore}`);
    assert.equal(alembicRevision(), head.stdout.trim());
    console.log(`schema ${revisionBefore} (MLflow ${SAMPLE_MLFLOW_VERSION}) -> ${head.stdout.trim()} (MLflow ${current.mlflowVersion}); `
      + `synth, upgrade and start to a healthy server and proxy: ${upgradeSeconds.toFixed(0)} s`);
  });

  it('every experiment, run, param, metric history, tag, model version, stage, alias and artifact reads back equal through the proxy', async () => {
    const moved = await inventory(current, 'dump', stack.clientEnv());
    // Everything equal; and the version of the accented model, which MLflow 2.14.2's search on latin1 could not find,
    // is found on the converted schema, as it was written.
    const accentedVersion = moved.model_versions.find((v: any) => v.name === 'sample-modèle-café');
    assert.deepEqual([accentedVersion?.version, accentedVersion?.description, accentedVersion?.run_id], ['1', 'première version', accentsMade.run_id]);
    assert.deepEqual({ ...moved, model_versions: moved.model_versions.filter((v: any) => v !== accentedVersion) }, before214);
    const accented = moved.runs.find((r: any) => r.run_id === accentsMade.run_id);
    assert.deepEqual([accented.run_name, accented.params, accented.tags.note], ['run-crème brûlée', { ville: 'Zürich' }, 'déjà vu']);
    assert.deepEqual(moved.experiments.find((e: any) => e.experiment_id === accentsMade.experiment_id).tags, { lieu: 'Zürich' });
    // Not two empty lists: the values fill() logged are there.
    const churn = moved.experiments.find((e: any) => e.name === 'sample-churn');
    assert.deepEqual(churn.tags, { purpose: 'churn model', team: 'risk' });
    assert.equal(churn.artifact_location, `s3://${SAMPLE_BUCKET}/${made.experiments['sample-churn']}`);
    assert.equal(moved.experiments.find((e: any) => e.name === 'sample-retired').lifecycle_stage, 'deleted');
    const run = (name: string) => moved.runs.find((r: any) => r.run_name === name);
    assert.deepEqual(run('tuned').params, { features: 'age,tenure,plan', learning_rate: '0.05', max_depth: '4' });
    assert.equal(run('tuned').tags.owner, 'analyst-1');
    assert.equal(run('tuned-fold-1').tags['mlflow.parentRunId'], made.runs.tuned);
    assert.equal(run('baseline').metric_history.loss.length, 26, 'every point of the history, the repeated step included');
    assert.deepEqual(run('baseline').metric_history.loss[0], [0, 1_700_000_000_000, 1]);
    const delta = run('weekly').metric_history.delta[0][2];
    assert.ok(delta < 0 && delta > -1e-8, String(delta));
    assert.equal(run('crashed').status, 'FAILED');
    assert.equal(run('mistake').lifecycle_stage, 'deleted');
    const paths = run('baseline').artifacts.map((a: any) => a.path);
    for (const path of ['binaries/weights.bin', 'config/settings.json', 'model/MLmodel', 'model/python_model.pkl', 'notes.txt']) assert.ok(paths.includes(path), paths.join(', '));
    assert.equal(run('baseline').artifacts.find((a: any) => a.path === 'binaries/weights.bin').size, 32 * 4096);
    const [first, second] = moved.model_versions;
    assert.deepEqual([first.version, first.current_stage, first.aliases], ['1', 'Production', []]);
    assert.deepEqual([second.version, second.aliases, second.tags, second.description], ['2', ['champion'], { validated: 'yes' }, 'tuned on the March data']);
    assert.equal(first.source, `${run('baseline').artifact_uri}/model`);
    assert.deepEqual(moved.registered_models[0].aliases, { champion: '2' });
    assert.deepEqual(moved.predictions, { 'models:/sample-churn-model/1': [41, 42], 'models:/sample-churn-model@champion': [42, 43] });
  });

  it('the artifacts stay where the sample put them: objects of its bucket under the runs\' artifact URIs', async () => {
    const keys = new Set(await aws.listKeys(SAMPLE_BUCKET));
    for (const run of before214.runs) {
      for (const artifact of run.artifacts) {
        const key = `${run.artifact_uri.slice(`s3://${SAMPLE_BUCKET}/`.length)}/${artifact.path}`;
        assert.ok(keys.has(key), `${key} is not in the bucket`);
      }
    }
  });

  it("npx mlflow-on-aws status --counts on the new deployment says what scripts/mlflow_counts.py counted on the sample's (the guide's check)", async () => {
    // The CLI against the stand-ins: the stacks' outputs name the proxy as the tracking URI, Secrets Manager has its
    // credentials; the counting itself goes to the real MLflow through the real proxy.
    const h = harness();
    setStacks(h.mocks, {
      MLflowVpcStack: { Outputs: outputs({
        [MLFLOW_OUTPUTS.clusterName]: 'mlflow', [MLFLOW_OUTPUTS.serviceName]: 'mlflow', [MLFLOW_OUTPUTS.databaseClusterIdentifier]: 'mlflow-backend-store',
        [MLFLOW_OUTPUTS.mlflowCredentialsSecretName]: stack.secretName,
      }) },
      HttpGatewayStack: { Outputs: outputs({ [GATEWAY_OUTPUTS.trackingUri]: stack.proxy!.url }) },
      SageMakerStudioUserStack: {},
    });
    h.mocks.secrets.on(GetSecretValueCommand, { SecretId: stack.secretName }).resolves({ SecretString: JSON.stringify({ username: stack.username, password: stack.password }) });
    h.mocks.ecs.on(DescribeServicesCommand).resolves({ services: [{ status: 'ACTIVE', runningCount: 1, desiredCount: 1 }] });
    h.mocks.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ Status: 'available' }] });
    assert.equal(await h.run('status', '--counts'), EXIT.ok, h.text());
    // The Default experiment MLflow 2.14.2 made, the three of fill() (one deleted) and the one of accents(), seven runs
    // (one deleted), two models with three versions.
    assert.equal(countsBefore, '5 experiments (1 deleted), 7 runs (1 deleted), 2 registered models with 3 versions');
    assert.match(h.out.join('\n'), new RegExp(`^Contents +${countsBefore.replace(/[()]/g, '\\$&')}$`, 'm'));
  });

  it("the entrypoint converted the sample's latin1 schema to utf8mb4 under the lock: every table and column, the schema default; the foreign keys are back", async () => {
    // MLflow's migration 7f2a7d5fae7d creates input_tags without the key to inputs that its model declares.
    const modelForeignKeys = ((await inventory(current, 'foreign-keys', {})) as string[])
      .filter((key) => !key.startsWith('input_tags input_uuid -> inputs ')).sort();
    assert.ok(modelForeignKeys.length > 40, modelForeignKeys.join('\n'));
    const log = stack.servers[0].service.output();
    assert.match(log, /the schema is not utf8mb4 throughout \(\d+ table\(s\) to convert\): converting it to utf8mb4 \(utf8mb4_general_ci\)/, log);
    assert.match(log, /schema converted to utf8mb4: \d+ table\(s\), the schema default, \d+ foreign key\(s\) added back/, log);
    // Converted after the migration ("database schema is up to date" precedes it), under the lock, before the server
    // starts.
    assert.ok(log.indexOf('schema converted to utf8mb4') > log.indexOf('database schema is up to date'), log);
    assert.ok(log.indexOf('schema converted to utf8mb4') < log.indexOf('starting MLflow'), log);
    assert.deepEqual(charsets(), { schema: 'utf8mb4', tables: 'utf8mb4', columns: 'utf8mb4' });
    // The collation a schema created on this server gets, i.e. what MLflow's tables have in a deployment that started empty.
    assert.equal(db.query(`SELECT GROUP_CONCAT(DISTINCT TABLE_COLLATION) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.database}'`), 'utf8mb4_general_ci');
    assert.equal(db.query(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.database}' AND TABLE_NAME = 'mlflow_on_aws_charset_foreign_keys'`), '0');
    // Every foreign key MLflow's models declare is there again, with its rules, as many as were saved.
    assert.deepEqual(foreignKeys(), modelForeignKeys);
    const saved = /(\d+) foreign key\(s\) saved/.exec(log)?.[1];
    assert.equal(Number(saved), foreignKeys().length, log);
  });

  it('after the move, text outside Latin-1 is stored and reads back intact: experiment, run name, params, tags, metric, model, version and an MLflow 3 trace', async () => {
    // A refusal fails at once instead of after the client's retries of a 503 (about two minutes per call).
    const wrote = await inventory(current, 'unicode', { ...stack.clientEnv(), MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' });
    assert.deepEqual(wrote.refused, {});
    assert.deepEqual(wrote.experiment, { name: '実験 🚀 Ελληνικά', tags: { 説明: '説明 🚀' } });
    assert.deepEqual(wrote.run, { name: 'ラン 🚀 café', params: { 言語: '日本語 🚀' }, tags: { 絵文字: '🚀✨ Ελληνικά' }, metrics: { スコア: 0.5 } });
    assert.deepEqual(wrote.model, { name: 'モデル-🚀', description: '説明 🚀', tags: { タグ: '値 🚀' } });
    assert.deepEqual(wrote.version, { description: '説明 🚀', tags: { タグ: '値 🚀' } });
    // On the latin1 schema the client only logs a warning and the trace is never stored.
    assert.equal(wrote.trace.name, '回答 🚀');
    assert.deepEqual(wrote.trace.inputs, { question: '日本語の質問は？ 🚀' });
    assert.equal(wrote.trace.outputs, '答え: 日本語の質問は？ 🚀 ✨');
    assert.match(wrote.trace.request_preview, /日本語の質問は？ 🚀/);
    assert.match(wrote.trace.response_preview, /答え: 日本語の質問は？ 🚀 ✨/);
    unicodeSearches = wrote.searches;
  });

  it('searches find accented text MLflow 2.14.2 wrote before the move, and the new text: experiments, runs by name, param and tag, models, versions, traces', () => {
    // On the latin1 schema every accented search found nothing (MLflow compares BINARY column = UTF-8 parameter).
    assert.deepEqual(unicodeSearches, {
      'experiment accented': 1, 'experiment unicode': 1,
      'run name accented': 1, 'param accented': 1, 'tag accented': 1,
      'run name unicode': 1, 'param unicode': 1, 'tag unicode': 1,
      'model accented': 1, 'versions accented': 1, 'model unicode': 1, 'versions unicode': 1,
      'traces unicode': 1,
    });
    assert.equal(accentsMade.version, '1');
  });

  it('MLflow goes on writing: a new run and a third model version in the old experiment and model, a metric on an old run', async () => {
    const wrote = await inventory(current, 'write', stack.clientEnv());
    const churnId = made.experiments['sample-churn'];
    assert.ok(wrote.artifact_uri.startsWith(`s3://${SAMPLE_BUCKET}/${churnId}/`), wrote.artifact_uri);
    assert.deepEqual(wrote.artifacts.map((a: any) => a.path), ['notes.txt']);
    assert.equal(wrote.version, '3');
    assert.deepEqual(wrote.challenger_prediction, [51]);
    assert.deepEqual(wrote.baseline_loss_history.at(-1), [99, 0.01]);
    const keys = await aws.listKeys(SAMPLE_BUCKET, `${churnId}/`);
    assert.ok(keys.some((key) => key.startsWith(`${churnId}/${wrote.run_id}/`)), keys.join('\n'));
  });

  it("the next task's schema step (mlflow_db.py upgrade) on the converted, utf8mb4 schema converts nothing: no table is rebuilt", async () => {
    const createdBefore = tableCreationTimes();
    const keysBefore = foreignKeys();
    // What the entrypoint of every later task runs before its server starts, with the task's database settings.
    const next = await runPython(current, [MLFLOW_DB_HELPER, 'upgrade'], {
      HOME: workDir, HOST: '127.0.0.1', PORT: String(db.port), DATABASE: db.database, USERNAME: db.user, PASSWORD: db.password, DB_TLS_CA_FILE: db.caFile,
      // Set in the image (Dockerfile): the release that marks the schema.
      MLFLOW_VERSION: current.mlflowVersion,
    }, 180_000);
    const log = next.stderr;
    assert.equal(next.status, 0, log);
    assert.match(log, new RegExp(`database schema is at revision \\w+, the one MLflow ${current.mlflowVersion.replace(/\./g, '\\.')} expects`), log);
    assert.doesNotMatch(log, /utf8mb4|foreign key/, log);
    // An ALTER TABLE that rebuilds a table gives it a new creation time.
    assert.equal(tableCreationTimes(), createdBefore);
    assert.deepEqual(foreignKeys(), keysBefore);
  });

  it('a conversion stopped after dropping the foreign keys (task stopped, connection lost) is finished by the next task, every key back', async () => {
    const keysBefore = foreignKeys();
    // A schema left partly latin1: its default and one table without foreign keys.
    db.query(`ALTER DATABASE \`${db.database}\` CHARACTER SET latin1 COLLATE latin1_swedish_ci`);
    db.query(`ALTER TABLE \`${db.database}\`.alembic_version CONVERT TO CHARACTER SET latin1`);
    const settings = {
      HOME: workDir, HOST: '127.0.0.1', PORT: String(db.port), DATABASE: db.database, USERNAME: db.user, PASSWORD: db.password, DB_TLS_CA_FILE: db.caFile,
    };
    // The conversion itself, stopped where its log says the keys are saved and dropped: what a task killed there leaves.
    const stopped = await runPython(current, ['-c', [
      'import os, sys, pymysql',
      `sys.path.insert(0, ${JSON.stringify(dirname(MLFLOW_DB_HELPER))})`,
      'import mlflow_charset',
      "c = pymysql.connect(host=os.environ['HOST'], port=int(os.environ['PORT']), user=os.environ['USERNAME'], password=os.environ['PASSWORD'],",
      "                    database=os.environ['DATABASE'], ssl={'ca': os.environ['DB_TLS_CA_FILE']}, autocommit=True)",
      'class Stopped(Exception): pass',
      'def log(message):',
      '    print(message, flush=True)',
      "    if 'dropped for the conversion' in message: raise Stopped()",
      'try: mlflow_charset.convert(c, log)',
      "except Stopped: print('stopped here')",
    ].join('\n')], settings, 120_000);
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.match(stopped.stdout, /stopped here/, stopped.stdout);
    assert.deepEqual(foreignKeys(), [], 'the keys are dropped');
    const next = await runPython(current, [MLFLOW_DB_HELPER, 'upgrade'], settings, 180_000);
    assert.equal(next.status, 0, next.stderr);
    assert.match(next.stderr, /1 table\(s\) to convert, resuming a conversion that stopped/, next.stderr);
    assert.deepEqual(foreignKeys(), keysBefore);
    assert.deepEqual(charsets(), { schema: 'utf8mb4', tables: 'utf8mb4', columns: 'utf8mb4' });
    assert.equal(db.query(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.database}' AND TABLE_NAME = 'mlflow_on_aws_charset_foreign_keys'`), '0');
  });
});
