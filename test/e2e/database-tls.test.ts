/**
 * TLS between MLflow and the database, against a real MariaDB that requires it (as the Aurora cluster parameter group
 * does with require_secure_transport): the container's schema step connects with TLS and verifies the certificate
 * against DB_TLS_CA_FILE; a plain connection is refused by the database; a certificate from another CA stops the
 * container at once with a clear message instead of retrying for minutes. (That MLflow itself serves over TLS is shown
 * by every test in platform.test.ts, whose database refuses anything else.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePythonEnv, type PythonEnv } from '../support/python-env';
import { makeCertificates, startMariaDb, type MariaDb } from './support/mariadb';
import { MLFLOW_DB_HELPER, runPython } from './support/stack';

let db: MariaDb;
let python: PythonEnv;
let dir: string;

before(async () => {
  python = ensurePythonEnv();
  db = await startMariaDb();
  dir = mkdtempSync(join(tmpdir(), 'mlflow-e2e-tls-'));
});

after(async () => {
  await db?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function helperEnv(overrides: Record<string, string>): Record<string, string> {
  return {
    HOST: '127.0.0.1', PORT: String(db.port), DATABASE: db.database, USERNAME: db.user, PASSWORD: db.password,
    MLFLOW_DB_WAIT_SECONDS: '20', HOME: dir, ...overrides,
  };
}

describe('TLS to the database', () => {
  it('the container helper connects with TLS, verified against DB_TLS_CA_FILE', async () => {
    const script = [
      'import sys, time; sys.path.insert(0, sys.argv[1]); import mlflow_db',
      'c = mlflow_db.connect(mlflow_db.settings(), time.monotonic() + 20)',
      'cur = c.cursor(); cur.execute("SHOW SESSION STATUS LIKE \'Ssl_version\'"); print(cur.fetchone()[1])',
    ].join('\n');
    const run = await runPython(python, ['-c', script, join(MLFLOW_DB_HELPER, '..')], helperEnv({ DB_TLS_CA_FILE: db.caFile }), 60_000);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout.trim(), /^TLSv1\.[23]$/);
  });

  it('the database refuses a connection without TLS (PyMySQL would otherwise negotiate unverified TLS by itself)', async () => {
    const script = [
      'import pymysql, sys',
      'try:',
      '    pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user=sys.argv[2], password=sys.argv[3], database=sys.argv[4], ssl_disabled=True)',
      'except pymysql.err.OperationalError as e:',
      '    print(e.args[1]); sys.exit(0)',
      'sys.exit("connected without TLS")',
    ].join('\n');
    const run = await runPython(python, ['-c', script, String(db.port), db.user, db.password, db.database], { HOME: dir }, 60_000);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    // MySQL 8.0 words it "insecure transport are prohibited"; MariaDB 10.11 answers the plain attempt "Access denied"
    // (the same credentials over TLS are accepted: the first test).
    assert.match(run.stdout, /insecure transport are prohibited|Access denied for user/i);
  });

  it('a certificate from another CA stops the schema step at once, naming DB_TLS_CA_FILE', async () => {
    const other = makeCertificates(dir, 'other');
    const run = await runPython(python, [MLFLOW_DB_HELPER, 'upgrade'], helperEnv({ DB_TLS_CA_FILE: other.ca }), 60_000);
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stderr, /presented a certificate that DB_TLS_CA_FILE \(.*other-ca\.pem\) does not trust/);
    assert.doesNotMatch(run.stderr, /retrying/, 'no retry: waiting does not make the certificate trusted');
  });

  it('an unreadable DB_TLS_CA_FILE is a clear configuration error', async () => {
    const run = await runPython(python, [MLFLOW_DB_HELPER, 'uri'], helperEnv({ DB_TLS_CA_FILE: join(dir, 'missing.pem') }), 60_000);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /DB_TLS_CA_FILE '.*missing\.pem' is not a readable file/);
  });
});
