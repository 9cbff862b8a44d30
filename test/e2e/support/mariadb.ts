/**
 * A throwaway MariaDB server (Debian's mariadb-server) standing in for Aurora MySQL: its own data folder, socket and
 * loopback port in a temporary folder, owned by the test; nothing of the machine's own MySQL/MariaDB is used.
 * It can be stopped and started again on the same data and port, as Aurora pauses and resumes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../containers/support/proxy';
import { startService, waitFor, type Service } from './service';

export interface MariaDbOptions {
  /** Database MLflow uses. @default 'mlflow' */
  readonly database?: string;
  /** The application user. @default 'mlflow' */
  readonly user?: string;
  /**
   * Its password. The default holds characters that must be URL-encoded in a connection URI, to prove that the
   * container's entrypoint encodes it.
   */
  readonly password?: string;
  /** InnoDB's buffer pool (MiB): small for the tests' small data, larger for the scale benchmark's. @default 64 */
  readonly bufferPoolMiB?: number;
  /** More server options (`--name=value`), such as the slow-query log of the scale benchmark. @default none */
  readonly serverArgs?: readonly string[];
}

export interface MariaDb {
  readonly port: number;
  /** The CA certificate (PEM) the server's certificate chains to: what DB_TLS_CA_FILE names for MLflow. */
  readonly caFile: string;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly version: string;
  /** Runs SQL as root over the socket; returns the rows, tab-separated, without the header. */
  query(sql: string): string;
  /** Client connections of the application user right now (SHOW PROCESSLIST). */
  connectionsOf(user?: string): number;
  /** Connections the application user has opened since the server started (USER_STATISTICS). */
  connectionsOpenedBy(user?: string): number;
  /** Stops the server (clean shutdown): the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same data folder and port. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections are still accepted by the kernel, nothing answers. */
  freeze(): void;
  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void;
  running(): boolean;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

function program(name: string, dirs: string[]): string {
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} is not installed (Debian package 'mariadb-server'; .ci/run installs it from .ci/apt-packages.txt).`);
}

const SBIN = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

/**
 * A throwaway certificate authority and a server certificate it signed for 127.0.0.1 and localhost (openssl CLI), as
 * RDS gives Aurora a certificate for its endpoints that chains to the RDS CA bundle.
 */
export function makeCertificates(dir: string, name = 'e2e'): { ca: string; cert: string; key: string } {
  const openssl = (args: string[]): void => {
    const result = spawnSync('openssl', args, { encoding: 'utf8', cwd: dir });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${result.stderr}`);
  };
  const ca = join(dir, `${name}-ca.pem`);
  const cert = join(dir, `${name}-server.pem`);
  const key = join(dir, `${name}-server.key`);
  writeFileSync(join(dir, `${name}-san.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-ca.key`, '-out', ca, '-days', '2', '-subj', `/CN=${name} test CA`]);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', `${name}-server.csr`, '-subj', '/CN=127.0.0.1']);
  openssl(['x509', '-req', '-in', `${name}-server.csr`, '-CA', ca, '-CAkey', `${name}-ca.key`, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', `${name}-san.ext`]);
  return { ca, cert, key };
}

function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export async function startMariaDb(options: MariaDbOptions = {}): Promise<MariaDb> {
  const server = program('mariadbd', SBIN);
  const installDb = program('mariadb-install-db', SBIN);
  const client = program('mariadb', SBIN);
  const database = options.database ?? 'mlflow';
  const user = options.user ?? 'mlflow';
  const password = options.password ?? "db p@ss:w/rd?#%&=+'";

  const base = mkdtempSync(join(tmpdir(), 'mlflow-e2e-mariadb-'));
  const datadir = join(base, 'data');
  const socket = join(base, 'mysqld.sock');
  const asRoot = process.getuid?.() === 0;
  const userArgs = asRoot ? ['--user=root'] : [];
  // A temporary directory of its own: with the default (/tmp), servers started at the same moment (two test runs on
  // one machine) collide on MariaDB's temporary table names and mariadb-install-db fails ("Could not remove temporary
  // table '/tmp/#sql-temptable-...'").
  const tmp = join(base, 'tmp');
  mkdirSync(tmp);
  const installed = spawnSync(installDb, ['--no-defaults', `--datadir=${datadir}`, `--tmpdir=${tmp}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...userArgs], { encoding: 'utf8' });
  if (installed.status !== 0) throw new Error(`mariadb-install-db failed:\n${installed.stdout}\n${installed.stderr}`);

  // Like the cluster parameter group: TLS required for every connection over the network.
  const tls = makeCertificates(base);
  const port = await freePort();
  let service: Service | undefined;
  let generation = 0;

  const query = (sql: string): string => {
    const result = spawnSync(client, ['--no-defaults', `--socket=${socket}`, '--user=root', '--batch', '--skip-column-names', '-e', sql], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`SQL failed (${sql}):\n${result.stderr}`);
    return result.stdout.trim();
  };

  const start = async (): Promise<void> => {
    generation += 1;
    service = startService(`mariadbd (port ${port})`, server, [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--tmpdir=${tmp}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${join(base, 'mysqld.pid')}`,
      '--skip-log-bin',
      '--skip-name-resolve',
      `--innodb-buffer-pool-size=${options.bufferPoolMiB ?? 64}M`,
      `--ssl-ca=${tls.ca}`,
      `--ssl-cert=${tls.cert}`,
      `--ssl-key=${tls.key}`,
      '--require-secure-transport=ON',
      // Per-user statistics (information_schema.USER_STATISTICS): counts every connection a user opened.
      '--userstat=1',
      // Aurora MySQL 3 (MySQL 8.0) defaults: utf8mb4, strict mode.
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      ...(options.serverArgs ?? []),
      ...userArgs,
    ], { PATH: process.env.PATH }, join(base, `server-${generation}.log`));
    const current = service;
    // query() throws until the server answers; waitFor takes a throw as "not yet".
    await waitFor('MariaDB to accept connections', async () => query('SELECT 1') === '1', 60_000, current);
  };

  await start();
  query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`);
  for (const host of ['127.0.0.1', 'localhost']) {
    query(`CREATE USER ${sqlString(user)}@${sqlString(host)} IDENTIFIED BY ${sqlString(password)}`);
    query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ${sqlString(user)}@${sqlString(host)}`);
  }
  const version = query('SELECT VERSION()');

  return {
    port,
    caFile: tls.ca,
    database,
    user,
    password,
    version,
    query,
    connectionsOf: (who = user) => Number(query(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ${sqlString(who)}`)),
    connectionsOpenedBy: (who = user) => Number(query(`SELECT COALESCE(SUM(TOTAL_CONNECTIONS), 0) FROM information_schema.USER_STATISTICS WHERE USER = ${sqlString(who)}`)),
    stop: async () => {
      await service?.stop('SIGTERM', 60_000);
    },
    start,
    freeze: () => process.kill(service!.child.pid!, 'SIGSTOP'),
    thaw: () => process.kill(service!.child.pid!, 'SIGCONT'),
    running: () => service?.running() ?? false,
    destroy: async () => {
      await service?.stop('SIGTERM', 60_000);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
