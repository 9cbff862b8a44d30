/**
 * Bulk seeding of the scale benchmark (`npm run bench:scale`): rows MLflow itself would write, fast.
 *
 * MLflow's own client first writes template data through the proxy (scale-template.py: runs with 20 params, 10 metrics of
 * 100 steps and tags, a registered model with a version, a GenAI trace). Every seeded row is then a copy of a template
 * row, made by `INSERT ... SELECT` statements joined with MariaDB's SEQUENCE engine (`seq_1_to_N`) or, for runs, with a
 * table of the new runs' ids in their sorted order (`seedRunSeries`: the fast path, in primary-key order): the columns
 * MLflow fills, its NULLs, its tag keys and value formats are the client's; only identifiers, names, times and
 * values change with the row's number. `checkShapes` compares a seeded run with the client's run, row for row.
 *
 * History reduction (documented in docs/reference/performance.md): every metric of every run has its latest value
 * (`latest_metrics`, what search_runs filters and sorts on) and that last step in `metrics`; one run in
 * `HISTORY_EVERY` has the full 100-step history of its 10 metrics. A full history for every run would be 10^9 rows at
 * 1M runs, which no read of the benchmark touches: history is read one run at a time (get_metric_history, the run
 * page's charts), through MLflow's (run_uuid, key, step) index.
 */
import { createHash } from 'node:crypto';
import type { MariaDb } from './mariadb';

/** One run in this many has the full metric history (100 steps x 10 metrics). */
export const HISTORY_EVERY = 1000;
/** Traces inserted per statement: bounded transactions (the undo log of one statement stays small). */
const CHUNK = 20_000;
/** Start time of run number 0 (ms); run n starts n seconds later, so newer runs have higher numbers. */
const T0 = 1_760_000_000_000;

export interface Template {
  readonly experimentId: string;
  /** Run ids the client wrote, the first one copied. */
  readonly runIds: readonly string[];
  readonly model: string;
  readonly version: string;
  readonly traceId: string;
}

/** The seeded run's id for number `n` of a series (32 hex digits, as MLflow's uuid4().hex). */
export function runId(series: string, n: number): string {
  // The same expression as in SQL: MD5(CONCAT(series, '-', n)).
  return md5(`${series}-${n}`);
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Runs `sql` in the MLflow schema as root, with checks that bulk copies of consistent rows do not need turned off. */
function exec(db: MariaDb, sql: string): string {
  return db.query(`USE \`${db.database}\`; SET SESSION foreign_key_checks = 0, unique_checks = 0; SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; ${sql}`);
}

/** Runs numbered [from, to) of a series, in one experiment. */
export interface RunSeries {
  readonly experimentId: string;
  /** Names the runs (`<series>-<n>`) and makes their ids (`runId(series, n)`). */
  readonly series: string;
  readonly from: number;
  readonly to: number;
}

/** The seed's own table of the runs being added (outside MLflow's schema): id, number, name, experiment. */
const IDS = '`scale_seed`.`ids`';

/** Copies of the template run numbered [from, to) in `experimentId`, with everything that hangs off a run. */
export function seedRuns(db: MariaDb, template: Template, experimentId: string, series: string, from: number, to: number): void {
  seedRunSeries(db, template, [{ experimentId, series, from, to }]);
}

/**
 * Copies of the template run for every run of `batches`, with everything that hangs off a run.
 *
 * Fast because every statement appends in the order of the table's primary key: MLflow's run ids are random (uuid4),
 * so rows copied in the order of their run numbers land on random pages of every table keyed by run_uuid, and once
 * the tables outgrow the buffer pool each chunk rereads most of them (about 230 runs/s at 360,000 runs). Instead the
 * new runs' ids go first into a table of their own, sorted by id; then one `INSERT ... SELECT` per table and key
 * (params, tags, latest_metrics and metrics are keyed by (key, run_uuid)) reads it in id order, so each statement
 * sweeps its table once, in order, like a sorted bulk load. The rows are the same as before: only the order in which
 * they are written changed.
 */
export function seedRunSeries(db: MariaDb, template: Template, batches: readonly RunSeries[]): void {
  const t = sqlString(template.runIds[0]);
  db.query(`CREATE DATABASE IF NOT EXISTS scale_seed; DROP TABLE IF EXISTS ${IDS};
    CREATE TABLE ${IDS} (id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, seq INT NOT NULL,
                         name VARCHAR(250) NOT NULL, experiment_id INT NOT NULL) ENGINE=InnoDB`);
  for (const batch of batches) {
    if (batch.to <= batch.from) continue;
    exec(db, `INSERT INTO ${IDS} (id, seq, name, experiment_id)
      SELECT MD5(CONCAT(${sqlString(batch.series)}, '-', s.seq)), s.seq, CONCAT(${sqlString(batch.series)}, '-', s.seq), ${batch.experimentId}
      FROM seq_${batch.from}_to_${batch.to - 1} s`);
  }
  const keysOf = (table: string, extra = '') => db.query(`SELECT DISTINCT \`key\` FROM \`${db.database}\`.\`${table}\` WHERE run_uuid = ${t}${extra} ORDER BY 1`).split('\n').filter(Boolean);
  // The template row is found by its primary key (a constant); the ids are read in their primary key's order.
  exec(db, `
    INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time,
                      source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time)
    SELECT s.id, s.name, r.source_type, r.source_name, r.entry_point_name, r.user_id, r.status,
           ${T0} + s.seq * 1000, ${T0} + s.seq * 1000 + 60000 + (s.seq % 600) * 1000, r.source_version, r.lifecycle_stage,
           REPLACE(REPLACE(r.artifact_uri, r.run_uuid, s.id), CONCAT('/', r.experiment_id, '/'), CONCAT('/', s.experiment_id, '/')),
           s.experiment_id, r.deleted_time
    FROM runs r JOIN ${IDS} s WHERE r.run_uuid = ${t} ORDER BY s.id`);
  for (const key of keysOf('params')) {
    exec(db, `
      INSERT INTO params (\`key\`, value, run_uuid)
      SELECT p.key, CAST((s.seq * 7 + CAST(SUBSTRING(p.key, 7) AS UNSIGNED)) % (10 + CAST(SUBSTRING(p.key, 7) AS UNSIGNED) * 50) AS CHAR), s.id
      FROM params p JOIN ${IDS} s WHERE p.run_uuid = ${t} AND p.key = ${sqlString(key)} ORDER BY s.id`);
  }
  for (const key of keysOf('tags')) {
    exec(db, `
      INSERT INTO tags (\`key\`, value, run_uuid)
      SELECT g.key,
             CASE g.key WHEN 'mlflow.runName' THEN s.name
                        WHEN 'stage' THEN IF(s.seq % 1000 = 7, 'champion', IF(s.seq % 3 = 0, 'baseline', g.value))
                        ELSE g.value END,
             s.id
      FROM tags g JOIN ${IDS} s WHERE g.run_uuid = ${t} AND g.key = ${sqlString(key)} ORDER BY s.id`);
  }
  for (const key of keysOf('latest_metrics')) {
    exec(db, `
      INSERT INTO latest_metrics (\`key\`, value, timestamp, step, is_nan, run_uuid)
      SELECT m.key, m.value * (1 + (s.seq % 997) / 100), m.timestamp, m.step, m.is_nan, s.id
      FROM latest_metrics m JOIN ${IDS} s WHERE m.run_uuid = ${t} AND m.key = ${sqlString(key)} ORDER BY s.id`);
  }
  // metrics is keyed by (key, timestamp, step, run_uuid, ...): the last step of one key has one timestamp.
  for (const key of keysOf('metrics', ' AND step = 99')) {
    exec(db, `
      INSERT INTO metrics (\`key\`, value, timestamp, run_uuid, step, is_nan)
      SELECT m.key, m.value * (1 + (s.seq % 997) / 100), m.timestamp, s.id, m.step, m.is_nan
      FROM metrics m JOIN ${IDS} s WHERE m.run_uuid = ${t} AND m.key = ${sqlString(key)} AND m.step = 99 ORDER BY s.id`);
  }
  exec(db, `
    INSERT INTO metrics (\`key\`, value, timestamp, run_uuid, step, is_nan)
    SELECT m.key, m.value, m.timestamp, s.id, m.step, m.is_nan
    FROM metrics m JOIN ${IDS} s WHERE m.run_uuid = ${t} AND m.step <> 99 AND s.seq % ${HISTORY_EVERY} = 0
    ORDER BY m.key, m.timestamp, m.step, s.id;
    DROP TABLE ${IDS}`);
}

/** A run (copied from the template) with one metric of `steps` steps: get_metric_history's subject. */
export function seedLongHistory(db: MariaDb, template: Template, experimentId: string, series: string, steps: number): string {
  seedRuns(db, template, experimentId, series, 0, 1);
  const id = runId(series, 0);
  exec(db, `
    INSERT INTO metrics (\`key\`, value, timestamp, run_uuid, step, is_nan)
    SELECT 'loss', 1 / (s.seq + 1), ${T0} + s.seq * 100, ${sqlString(id)}, s.seq, 0 FROM seq_0_to_${steps - 1} s;
    INSERT INTO latest_metrics (\`key\`, value, timestamp, step, is_nan, run_uuid)
    VALUES ('loss', 1 / ${steps}, ${T0 + (steps - 1) * 100}, ${steps - 1}, 0, ${sqlString(id)});`);
  return id;
}

/** Registered models numbered [from, to), each with `versions` versions of runs of `runSeries`, copies of the template's. */
export function seedModels(db: MariaDb, template: Template, from: number, to: number, versions: number, runSeries: string): void {
  const m = sqlString(template.model);
  const name = `CONCAT('scale-model-', s.seq)`;
  const source = `CONCAT('runs:/', MD5(CONCAT(${sqlString(runSeries)}, '-', s.seq * ${versions} + v.seq)), '/model')`;
  exec(db, `
    INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace)
    SELECT ${name}, ${T0} + s.seq * 1000, ${T0} + s.seq * 1000 + ${versions}, r.description, r.workspace
    FROM registered_models r JOIN seq_${from}_to_${to - 1} s WHERE r.name = ${m};
    INSERT INTO registered_model_tags (\`key\`, value, name, workspace)
    SELECT t.key, t.value, ${name}, t.workspace FROM registered_model_tags t JOIN seq_${from}_to_${to - 1} s WHERE t.name = ${m};
    INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source,
                                run_id, status, status_message, run_link, storage_location, workspace)
    SELECT ${name}, v.seq, ${T0} + s.seq * 1000 + v.seq, ${T0} + s.seq * 1000 + v.seq, mv.description, mv.user_id, mv.current_stage,
           ${source}, MD5(CONCAT(${sqlString(runSeries)}, '-', s.seq * ${versions} + v.seq)), mv.status, mv.status_message, mv.run_link,
           ${source}, mv.workspace
    FROM model_versions mv JOIN seq_${from}_to_${to - 1} s JOIN seq_1_to_${versions} v WHERE mv.name = ${m} AND mv.version = ${sqlString(template.version)};
    INSERT INTO model_version_tags (\`key\`, value, name, version, workspace)
    SELECT t.key, t.value, ${name}, v.seq, t.workspace
    FROM model_version_tags t JOIN seq_${from}_to_${to - 1} s JOIN seq_1_to_${versions} v WHERE t.name = ${m} AND t.version = ${sqlString(template.version)};`);
}

/**
 * GenAI traces numbered [from, to) in `experimentId`, copies of the template trace (trace_info, its tags and request
 * metadata, its spans; the trace id is replaced in the spans' OpenTelemetry JSON too, hex and base64).
 */
export function seedTraces(db: MariaDb, template: Template, experimentId: string, from: number, to: number): void {
  const t = sqlString(template.traceId);
  const oldHex = template.traceId.replace(/^tr-/, '');
  const oldB64 = Buffer.from(oldHex, 'hex').toString('base64');
  const traceStart = db.query(`SELECT MIN(start_time_unix_nano) FROM \`${db.database}\`.spans WHERE trace_id = ${t}`);
  for (let start = from; start < to; start += CHUNK) {
    const seq = `seq_${start}_to_${Math.min(to, start + CHUNK) - 1}`;
    const hex = `MD5(CONCAT('scale-trace-', s.seq))`;
    const id = `CONCAT('tr-', ${hex})`;
    const swap = (column: string) => `REPLACE(REPLACE(${column}, ${t}, ${id}), ${sqlString(oldB64)}, TO_BASE64(UNHEX(${hex})))`;
    exec(db, `
      INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, request_preview,
                              response_preview, db_payload_generation, trace_name, session_id)
      SELECT ${id}, ${experimentId}, ${T0} + s.seq * 1000, i.execution_time_ms, i.status, i.client_request_id, i.request_preview,
             i.response_preview, i.db_payload_generation, i.trace_name, i.session_id
      FROM trace_info i JOIN ${seq} s WHERE i.request_id = ${t};
      INSERT INTO trace_tags (\`key\`, value, request_id)
      SELECT g.key, REPLACE(REPLACE(g.value, ${t}, ${id}), CONCAT('/', ${sqlString(template.experimentId)}, '/traces/'), CONCAT('/', ${experimentId}, '/traces/')), ${id}
      FROM trace_tags g JOIN ${seq} s WHERE g.request_id = ${t};
      INSERT INTO trace_request_metadata (\`key\`, value, request_id)
      SELECT g.key, g.value, ${id} FROM trace_request_metadata g JOIN ${seq} s WHERE g.request_id = ${t};
      INSERT INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content)
      SELECT ${id}, ${experimentId}, p.span_id, p.parent_span_id, p.name, p.type, p.status,
             p.start_time_unix_nano - ${traceStart} + (${T0} + s.seq * 1000) * 1000000, p.end_time_unix_nano - ${traceStart} + (${T0} + s.seq * 1000) * 1000000,
             ${swap('p.content')}
      FROM spans p JOIN ${seq} s WHERE p.trace_id = ${t};`);
  }
}

/** Rows of `table` for `column` = `value`, each as tab-separated text with the key column's own values masked. */
function rowsOf(db: MariaDb, table: string, column: string, value: string, mask: (row: string) => string): string[] {
  return db.query(`SELECT * FROM \`${db.database}\`.\`${table}\` WHERE \`${column}\` = ${sqlString(value)} ORDER BY 1, 2`)
    .split('\n').filter(Boolean).map(mask);
}

/**
 * Compares a seeded run with the template run MLflow's client wrote: the same tables hold rows for it, with the same
 * keys and the same NULL columns; returns the differences (empty when the shapes agree).
 */
export function checkShapes(db: MariaDb, template: Template, seededRunId: string): string[] {
  const problems: string[] = [];
  const shape = (row: string) => row.split('\t').map((cell) => (cell === 'NULL' ? 'NULL' : 'value')).join(',');
  const keys = (row: string) => row.split('\t')[0];
  for (const table of ['runs', 'params', 'tags', 'latest_metrics']) {
    const client = rowsOf(db, table, 'run_uuid', template.runIds[0], (r) => r);
    const seeded = rowsOf(db, table, 'run_uuid', seededRunId, (r) => r);
    if (client.length !== seeded.length) problems.push(`${table}: the client wrote ${client.length} rows for a run, the seed ${seeded.length}`);
    if (client.map(shape).join('|') !== seeded.map(shape).join('|')) problems.push(`${table}: NULL columns differ`);
    if (table !== 'runs' && client.map(keys).join(',') !== seeded.map(keys).join(',')) problems.push(`${table}: keys differ`);
  }
  const lastSteps = (run: string) => db.query(`SELECT COUNT(*) FROM \`${db.database}\`.metrics WHERE run_uuid = ${sqlString(run)} AND step = 99`);
  if (lastSteps(template.runIds[0]) !== lastSteps(seededRunId)) problems.push('metrics: the last step of each metric differs');
  return problems;
}
