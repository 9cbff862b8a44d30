/**
 * Backups that restore: a running stack gets experiments, runs, params, metric histories, tags, artifacts and a
 * registered model through the API; its MLflow schema is dumped (what a snapshot or AWS Backup captures of the
 * database); a NEW stack on a fresh MariaDB, with the dump loaded before MLflow starts and the same artifact bucket
 * (kept by `destroy`, versioned), must serve every one of them the same. A dump cut short, or corrupt, must make the
 * restore fail loudly instead of giving MLflow half a database.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePythonEnv, REPO_ROOT } from '../support/python-env';
import { startAwsStandIn, type AwsStandIn } from './support/aws-standin';
import { dumpDatabase, restoreDump } from './support/dump';
import { startMariaDb } from './support/mariadb';
import { startStack, type E2eStack } from './support/stack';

const SCRIPT = join(REPO_ROOT, 'test', 'e2e', 'clients', 'backup_inventory.py');
const BUCKET = 'mlflow-artifacts-backup-e2e';

let aws: AwsStandIn;
let workDir: string;
let dumpFile: string;
let filled: { experiment_id: string; runs: string[] };
let original: any;
const cleanups: Array<() => Promise<void>> = [];

async function inventory(stack: E2eStack, command: 'fill' | 'read'): Promise<any> {
  const run = await stack.runPython([SCRIPT, command], stack.clientEnv(), 600_000);
  assert.equal(run.status, 0, `backup_inventory.py ${command}:\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

before(async () => {
  const python = ensurePythonEnv();
  workDir = mkdtempSync(join(tmpdir(), 'mlflow-e2e-backup-'));
  dumpFile = join(workDir, 'mlflow.sql');
  aws = await startAwsStandIn(python);
  cleanups.push(() => aws.stop());
  await aws.createBucket(BUCKET);
  const db = await startMariaDb();
  const stack = await startStack({ existing: { db, aws, bucket: BUCKET } });
  try {
    filled = await inventory(stack, 'fill');
    original = await inventory(stack, 'read');
    dumpDatabase(db, dumpFile);
  } finally {
    await stack.stop();
    // The original database is gone: only the dump and the bucket remain.
    await db.destroy();
  }
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  rmSync(workDir, { recursive: true, force: true });
});

describe('backup and restore', () => {
  it('a new stack on the restored dump and the same bucket serves every run, metric, param, tag, artifact and model', async () => {
    assert.equal(original.runs.length, 3);
    assert.deepEqual(original.runs.map((r: any) => r.run_id).sort(), [...filled.runs].sort());
    const db = await startMariaDb();
    cleanups.push(() => db.destroy());
    restoreDump(db, dumpFile);
    // A secret of its own: the first stack's is still in the stand-in (destroy would have deleted it).
    const stack = await startStack({ existing: { db, aws, bucket: BUCKET }, settings: { mlflowSecretName: 'mlflow-restored-credentials' } });
    cleanups.push(() => stack.stop());
    const restored = await inventory(stack, 'read');
    assert.deepEqual(restored, original);
    assert.equal(restored.runs[0].loss.length, 5);
    assert.equal(restored.runs[2].notes, 'notes of run 2\n');
    assert.equal(restored.model.run_id, filled.runs[0]);
    // And it goes on writing.
    const more = await stack.runPython(['-c', 'import mlflow; c = mlflow.MlflowClient(); e = c.get_experiment_by_name("backup-restore"); print(c.create_run(e.experiment_id).info.run_id)'], stack.clientEnv(), 120_000);
    assert.equal(more.status, 0, more.stderr);
  });

  it('a dump cut short is refused before anything is loaded', async () => {
    const text = readFileSync(dumpFile, 'utf8');
    // Cut at a statement boundary, the worst case: every statement before it would load without an error.
    const cut = text.slice(0, text.lastIndexOf(';\n', Math.floor(text.length * 0.6)) + 2);
    const truncated = join(workDir, 'truncated.sql');
    writeFileSync(truncated, cut);
    const db = await startMariaDb();
    cleanups.push(() => db.destroy());
    assert.throws(() => restoreDump(db, truncated), /is not a complete dump .*nothing was restored/);
    assert.equal(db.query(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '${db.database}'`), '0');
  });

  it('a corrupt dump (complete, but with a broken statement) makes the restore fail loudly', async () => {
    const text = readFileSync(dumpFile, 'utf8');
    const corrupt = join(workDir, 'corrupt.sql');
    writeFileSync(corrupt, text.replace(/INSERT INTO `runs` VALUES/, 'INSERT INTO `runs` VALUE S'));
    assert.notEqual(readFileSync(corrupt, 'utf8'), text, 'the dump has the runs');
    const db = await startMariaDb();
    cleanups.push(() => db.destroy());
    assert.throws(() => restoreDump(db, corrupt), /restoring .* failed \(exit 1\):[\s\S]*SQL syntax/);
  });
});
