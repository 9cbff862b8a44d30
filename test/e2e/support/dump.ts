/**
 * A logical backup of MLflow's schema (mariadb-dump over TLS as the application user) and its restore into another
 * database, refusing a dump that did not finish: mariadb-dump writes `-- Dump completed` as its last line, so a file
 * cut short (a full disk, a broken copy) lacks it, and a restore of it would give MLflow half a database.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type MariaDb } from './mariadb';

function connection(db: MariaDb): string[] {
  return ['--host=127.0.0.1', `--port=${db.port}`, `--user=${db.user}`, `--password=${db.password}`, `--ssl-ca=${db.caFile}`];
}

/** Dumps `db`'s schema into `file` (tables and data, consistent: one transaction); throws when mariadb-dump fails. */
export function dumpDatabase(db: MariaDb, file: string): void {
  const run = spawnSync('mariadb-dump', [...connection(db), '--single-transaction', '--no-tablespaces', `--result-file=${file}`, db.database], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`mariadb-dump of ${db.database} failed (exit ${run.status}): ${run.stderr}`);
}

/** Loads `file` into `db`'s (empty) schema; throws, before loading anything, on a dump that did not finish, and on any SQL error. */
export function restoreDump(db: MariaDb, file: string): void {
  const text = readFileSync(file, 'utf8');
  const lastLine = text.trimEnd().split('\n').pop() ?? '';
  if (!lastLine.startsWith('-- Dump completed')) {
    throw new Error(`${file} is not a complete dump (its last line is ${JSON.stringify(lastLine.slice(0, 80))}, not "-- Dump completed ..."): nothing was restored`);
  }
  const run = spawnSync('mariadb', [...connection(db), db.database], { input: text, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`restoring ${file} into ${db.database} failed (exit ${run.status}): ${run.stderr}`);
}
