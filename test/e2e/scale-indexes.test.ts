/**
 * The project's indexes on MLflow's tables (containers/mlflow/mlflow_indexes.py; docs/reference/performance.md), on the real
 * stack: created by the entrypoint's start under the schema lock, used by the statements MLflow itself sends for
 * filtered search_runs (read from MariaDB's general log and EXPLAINed on a few thousand seeded runs), and created again by the
 * next entrypoint run when a table lost one (as when an MLflow migration rebuilds a table).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { http } from './support/http';
import { projectIndexes, type ProjectIndex } from './support/project-indexes';
import { seedRuns, type Template } from './support/scale-seed';
import { startStack, type E2eStack } from './support/stack';

const RUNS = 5000;
let stack: E2eStack;
let indexes: ProjectIndex[];
let experimentId: string;

before(async () => {
  stack = await startStack();
  indexes = projectIndexes(stack.python.python);
  const written = await stack.runPython([join(__dirname, 'support', 'scale-template.py'), 'index-template', '1'], { ...stack.clientEnv(), AWS_EC2_METADATA_DISABLED: 'true' });
  assert.equal(written.status, 0, written.stderr);
  const ids = JSON.parse(written.stdout.trim().split('\n').at(-1)!);
  const template: Template = { experimentId: ids.experiment_id, runIds: ids.run_ids, model: ids.model, version: ids.version, traceId: ids.trace_id };
  const created = await http(stack.proxy!.url, '/api/2.0/mlflow/experiments/create', { headers: { authorization: stack.authorization() }, body: { name: 'indexed' } });
  experimentId = JSON.parse(created.body).experiment_id;
  seedRuns(stack.db, template, experimentId, 'indexed', 0, RUNS);
  stack.db.query(`ANALYZE TABLE \`${stack.db.database}\`.runs, \`${stack.db.database}\`.params, \`${stack.db.database}\`.tags, \`${stack.db.database}\`.latest_metrics`);
});

after(async () => {
  await stack?.stop();
});

/** The project's indexes in the schema: name -> columns in order, a descending one marked " DESC". */
function indexesInSchema(): Map<string, string> {
  const rows = stack.db.query(`SELECT index_name, GROUP_CONCAT(CONCAT(column_name, IF(collation = 'D', ' DESC', ''), IF(sub_part IS NULL, '', CONCAT('(', sub_part, ')'))) ORDER BY seq_in_index SEPARATOR ', ')
    FROM information_schema.statistics WHERE table_schema = '${stack.db.database}' AND index_name LIKE 'mlflow\\_on\\_aws\\_%' GROUP BY table_name, index_name`);
  return new Map(rows.split('\n').filter(Boolean).map((line) => line.split('\t') as [string, string]));
}

/** The statements MLflow sends to the database while `action` runs (MariaDB's general log). */
async function statementsDuring(action: () => Promise<void>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-general-log-'));
  const file = join(dir, 'general.log');
  stack.db.query(`SET GLOBAL general_log_file = '${file}'; SET GLOBAL general_log = 1`);
  try {
    await action();
  } finally {
    stack.db.query('SET GLOBAL general_log = 0');
  }
  const text = readFileSync(file, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  return text.split(/\n(?=(?:\d{6} [\d:]+)?\s+\d+ (?:Query|Connect|Quit|Init DB)\t)/).map((entry) => entry.replace(/^[\s\S]*?\d+ Query\t/, '')).filter((sql) => sql.startsWith('SELECT'));
}

/** EXPLAIN of `sql` as rows of {table, key, extra}. */
function explain(sql: string): Array<{ table: string; key: string; extra: string }> {
  return stack.db.query(`USE \`${stack.db.database}\`; EXPLAIN ${sql}`).split('\n').map((line) => {
    const cells = line.split('\t');
    return { table: cells[2], key: cells[5], extra: cells[9] ?? '' };
  });
}

describe("the project's indexes on MLflow's tables", () => {
  it('exist after the entrypoint started MLflow on an empty database, with the declared columns', () => {
    const present = indexesInSchema();
    assert.equal(indexes.length, 3);
    for (const index of indexes) {
      const declared = index.columns.replace(/`/g, '');
      assert.equal(present.get(index.name), declared, `${index.name} on ${index.table}`);
    }
    assert.equal(present.get('mlflow_on_aws_tags_key_value'), 'key, value(100)');
  });

  it("MLflow's own search_runs statements with a metric, param or tag filter start from the matching rows through them", async () => {
    const searches: Record<string, { filter?: string; index: string; table: string }> = {
      tag: { filter: "tags.stage = 'champion'", index: 'mlflow_on_aws_tags_key_value', table: 'tags' },
      param: { filter: "params.param_00 = '3'", index: 'mlflow_on_aws_params_key_value', table: 'params' },
      metric: { filter: 'metrics.metric_0 < 0.011', index: 'mlflow_on_aws_latest_metrics_key_value', table: 'latest_metrics' },
    };
    for (const [name, search] of Object.entries(searches)) {
      let found = 0;
      const statements = await statementsDuring(async () => {
        const answer = await http(stack.proxy!.url, '/api/2.0/mlflow/runs/search', {
          headers: { authorization: stack.authorization() },
          body: { experiment_ids: [experimentId], max_results: 100, filter: search.filter },
        });
        assert.equal(answer.status, 200, answer.body);
        found = (JSON.parse(answer.body).runs ?? []).length;
      });
      assert.ok(found > 0, `${name}: the search finds runs`);
      const select = statements.find((sql) => sql.startsWith('SELECT DISTINCT runs.run_uuid'));
      assert.ok(select, `${name}: MLflow's search statement is in the general log`);
      const plan = explain(select);
      const driving = plan[0];
      assert.equal(driving.key, search.index, `${name}: ${select}\n${JSON.stringify(plan)}`);
      assert.equal(driving.table, search.table);
    }
  });

  it('one dropped (a migration rebuilt the table) is created again by the next entrypoint run, under the schema lock', async () => {
    stack.db.query(`ALTER TABLE \`${stack.db.database}\`.tags DROP INDEX mlflow_on_aws_tags_key_value`);
    assert.equal(indexesInSchema().has('mlflow_on_aws_tags_key_value'), false);
    const run = await stack.runMlflowOnce({ MLFLOW_MIGRATE_ONLY: 'true' });
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /creating the project's index mlflow_on_aws_tags_key_value on tags/);
    assert.equal(indexesInSchema().get('mlflow_on_aws_tags_key_value'), 'key, value(100)');
    assert.doesNotMatch(run.output, /creating the project's index mlflow_on_aws_(params|latest_metrics)/, 'the others were left alone');
  });
});
