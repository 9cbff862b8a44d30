/**
 * The MLflow platform's runtime on loopback, with no Docker: a throwaway MariaDB for Aurora MySQL (or, when the task
 * definition says database=sqlite, the real Litestream replicating to a bucket of the stand-in), moto's server for
 * S3 and Secrets Manager, the real MLflow server started through `containers/mlflow/entrypoint.sh` (and so
 * `mlflow_db.py`) exactly as the image starts it, and the real nginx proxy started through
 * `containers/nginx/entrypoint.sh`. Both containers get the environment of their container in the synthesized task
 * definition; only addresses and secret values are substituted (see task-definition.ts).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { resolvePlatformConfig, type RawSettings } from '../../../src/app/config/platform-config';
import { basicAuth, NGINX_ENTRYPOINT, NGINX_PERL_LIB, NGINX_TEMPLATE, freePort, requireProgram, workerUser } from '../../containers/support/proxy';
import { ensurePythonEnv, type PythonEnv, REPO_ROOT, SYSTEM_PATH } from '../../support/python-env';
import { startAwsStandIn, type AwsStandIn } from './aws-standin';
import { startMariaDb, type MariaDb, type MariaDbOptions } from './mariadb';
import { ssoTool } from './openid-provider';
import { memoryOfGroup, startService, waitFor, type MemoryUse, type Service } from './service';
import { containerEnvironment, renderForAccount, taskContract, type TaskContract } from './task-definition';
import { ensureLitestream, LITESTREAM_BIN } from '../../support/litestream';
import { SQLITE_ENVIRONMENT, SQLITE_REPLICA_PREFIX } from '../../../src/lib/contract';

export const MLFLOW_ENTRYPOINT = join(REPO_ROOT, 'containers', 'mlflow', 'entrypoint.sh');
export const MLFLOW_DB_HELPER = join(REPO_ROOT, 'containers', 'mlflow', 'mlflow_db.py');
/** Screenshots and other artifacts a person may want to look at after a run (not checked in). */
export const TEST_OUTPUT = join(REPO_ROOT, 'test-output', 'e2e');

export interface StackOptions {
  /** CDK settings the task definition is synthesized with (defaults otherwise). */
  readonly settings?: RawSettings;
  /** MLflow servers to start against the one database, all at the same moment. @default 1 */
  readonly servers?: number;
  /** Start the proxy in front of the first server. @default true */
  readonly proxy?: boolean;
  /**
   * Variables to add to (or override in) each MLflow server's container environment, by server: for benchmarks of
   * alternatives. Its length, when longer, sets the number of servers.
   */
  readonly mlflowEnvOverrides?: ReadonlyArray<Record<string, string>>;
  /**
   * Data another deployment left: start on this database (its schema, user and tables as they are) and this bucket of
   * this S3 stand-in instead of fresh ones, as a deployment with the `dbSnapshot` and `artifactBucketName` settings
   * does. The task definition is synthesized with `artifactBucketName` set to the bucket, so BUCKET is the stack's
   * plain value; the settings must name the database's schema (DATABASE, see `dbSnapshotDatabaseName`). The caller
   * owns both: `stop()` leaves them running.
   */
  readonly existing?: ExistingData;
  /**
   * auth=sso: the provider the oauth2-proxy sidecar trusts on loopback in place of the settings' issuer URL (the only
   * address substituted in its environment besides its own listen address), the client secret, and the proxy's port
   * (registered at the provider as the callback's before the stack starts). Required when the settings say auth=sso.
   */
  readonly sso?: { readonly issuer: string; readonly clientSecret: string; readonly proxyPort: number };
  /** Options of the throwaway MariaDB (not with `existing`). @default the tests' defaults */
  readonly mariadb?: MariaDbOptions;
}

/** A database and an artifact bucket that outlive the stack (see `StackOptions.existing`). */
export interface ExistingData {
  readonly db: MariaDb;
  readonly aws: AwsStandIn;
  readonly bucket: string;
}

export interface MlflowServer {
  readonly port: number;
  /** http://127.0.0.1:port, straight to MLflow (what only the proxy can reach in the task). */
  readonly url: string;
  readonly service: Service;
  memory(): MemoryUse;
}

export interface Proxy {
  readonly port: number;
  readonly url: string;
  readonly service: Service;
  memory(): MemoryUse;
}

export interface E2eStack {
  readonly python: PythonEnv;
  readonly task: TaskContract;
  /** The MariaDB standing in for Aurora; with database=sqlite there is none, and reading it throws. */
  readonly db: MariaDb;
  /** database=sqlite: the bucket of the stand-in that Litestream replicates the SQLite files to. */
  readonly replicaBucket?: string;
  readonly aws: AwsStandIn;
  readonly bucket: string;
  readonly secretName: string;
  readonly username: string;
  readonly password: string;
  /**
   * The IAM route's token the proxy got (MLFLOW_GATEWAY_TOKEN), when the task definition admits IAM principals; on AWS
   * only API Gateway's IAM route sends it. Principals' ARNs name the account LOOPBACK_ACCOUNT.
   */
  readonly gatewayToken?: string;
  readonly servers: MlflowServer[];
  readonly proxy?: Proxy;
  /** auth=sso: the oauth2-proxy sidecar. */
  readonly ssoProxy?: Proxy;
  readonly workDir: string;
  /** Starts one more MLflow server on the same database, with the servers' environment and `overrides`; stopped by stop(). */
  startMlflow(overrides?: Record<string, string>): Promise<MlflowServer>;
  /**
   * Runs the MLflow container's entrypoint once with the servers' environment and `overrides` (a one-off task, such as
   * the upgrade's MLFLOW_MIGRATE_ONLY=true run, or a start expected to be refused) and waits until it exits.
   */
  runMlflowOnce(overrides: Record<string, string>, timeoutMs?: number): Promise<{ status: number | string; output: string }>;
  /** `Authorization` header value of the MLflow credentials. */
  authorization(): string;
  /** Environment for a Python MLflow client that talks to the proxy with the MLflow credentials. */
  clientEnv(): Record<string, string>;
  /** Runs the test environment's python with `args` and `env` (on top of a minimal base); never throws on exit codes. */
  runPython(args: string[], env: Record<string, string>, timeoutMs?: number): Promise<PythonRun>;
  stop(): Promise<void>;
}

export interface PythonRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export async function startStack(options: StackOptions = {}): Promise<E2eStack> {
  requireProgram('nginx', "Debian package 'nginx'");
  requireProgram('envsubst', "Debian package 'gettext-base'");
  const python = ensurePythonEnv();
  const existing = options.existing;
  const settings: RawSettings = {
    mlflowVersion: python.mlflowVersion,
    ...(existing ? { artifactBucketName: existing.bucket } : {}),
    ...options.settings,
  };
  const config = resolvePlatformConfig(settings);
  const task = taskContract(settings);
  if (existing && config.artifactBucketName !== existing.bucket) {
    throw new Error(`the settings name the bucket ${config.artifactBucketName}, the existing data is in ${existing.bucket}`);
  }
  // database=sqlite: the SQLite files in the task (here a folder of the run), replicated by Litestream to the stand-in.
  const sqlite = task.mlflow.environment[SQLITE_ENVIRONMENT.engine] === 'sqlite';
  if (sqlite && existing) throw new Error('the existing data is a MariaDB database: not with database=sqlite');
  if (sqlite && Math.max(options.servers ?? 1, options.mlflowEnvOverrides?.length ?? 0) > 1) {
    throw new Error('database=sqlite runs one task (one writer of the SQLite files): one MLflow server');
  }
  if (sqlite) ensureLitestream();
  const workDir = mkdtempSync(join(tmpdir(), 'mlflow-e2e-'));
  // nginx's workers run as an unprivileged user when the tests run as root: they must reach the run directory inside.
  chmodSync(workDir, 0o711);
  mkdirSync(TEST_OUTPUT, { recursive: true });

  const started: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async (): Promise<void> => {
    for (const part of started.reverse()) await part.stop().catch(() => {});
    // The servers' logs stay for a person to read after a failure: test-output/e2e/logs/<test file>/.
    const logs = join(TEST_OUTPUT, 'logs', basename(process.argv[1] ?? 'run', '.ts'));
    mkdirSync(logs, { recursive: true });
    for (const file of readdirSync(workDir).filter((f) => f.endsWith('.log'))) copyFileSync(join(workDir, file), join(logs, file));
    rmSync(workDir, { recursive: true, force: true });
  };

  try {
    let db: MariaDb | undefined;
    let aws: AwsStandIn;
    let bucket: string;
    let replicaBucket: string | undefined;
    if (existing) {
      ({ db, aws, bucket } = existing);
    } else {
      if (!sqlite) {
        const mariadb = await startMariaDb(options.mariadb);
        db = mariadb;
        started.push({ stop: () => mariadb.destroy() });
      }
      aws = await startAwsStandIn(python);
      started.push(aws);
      bucket = `mlflow-artifacts-e2e-${randomBytes(4).toString('hex')}`;
      await aws.createBucket(bucket);
      if (sqlite) {
        replicaBucket = `mlflow-database-e2e-${randomBytes(4).toString('hex')}`;
        await aws.createBucket(replicaBucket);
      }
    }
    if (existing && task.mlflow.environment.BUCKET !== `s3://${bucket}`) {
      throw new Error(`the task definition's BUCKET is ${JSON.stringify(task.mlflow.environment.BUCKET)}, not the existing s3://${bucket}`);
    }
    // The stack names the schema (DATABASE) itself; it must be the one the tables are in.
    if (db && task.mlflow.environment.DATABASE !== db.database) {
      throw new Error(`the task definition's DATABASE is ${JSON.stringify(task.mlflow.environment.DATABASE)}, the database's schema is ${db.database}`
        + (existing ? ' (set dbSnapshotDatabaseName)' : ''));
    }
    const username = config.mlflowUsername;
    const password = randomBytes(24).toString('base64url');
    await aws.createSecret(config.mlflowSecretName, JSON.stringify({ username, password }));
    // Users mode (the `auth` setting): the database user may create MLflow's permission schema, as Aurora's master user can.
    if (db && (task.mlflow.environment.MLFLOW_AUTH === 'users' || task.mlflow.environment.MLFLOW_AUTH === 'sso')) {
      for (const host of ['127.0.0.1', 'localhost']) db.query(`GRANT ALL PRIVILEGES ON \`${db.database}_auth\`.* TO '${db.user}'@'${host}'`);
    }
    // The IAM principals (the SageMaker roles' ARNs name the deployment's account) and the IAM route's token.
    const iamAddresses = (container: TaskContract['mlflow']): Record<string, string> => (
      'MLFLOW_IAM_PRINCIPALS' in container.environment ? { MLFLOW_IAM_PRINCIPALS: renderForAccount(container.environment.MLFLOW_IAM_PRINCIPALS) } : {});
    const gatewayToken = task.proxy.secrets.includes('MLFLOW_GATEWAY_TOKEN') ? randomBytes(36).toString('base64url') : undefined;
    /** The secrets of `container` as ECS would inject them, from the secrets the harness made. */
    const secretsOf = (container: TaskContract['mlflow'], known: Record<string, string | undefined>): Record<string, string> => (
      Object.fromEntries(container.secrets.filter((name) => known[name] !== undefined).map((name) => [name, known[name]!])));
    const secretValues = { MLFLOW_USERNAME: username, MLFLOW_PASSWORD: password, MLFLOW_GATEWAY_TOKEN: gatewayToken };

    const mlflowEnvironment = (port: number, overrides: Record<string, string> = {}): NodeJS.ProcessEnv => ({
      // What the image provides: its PATH (python and mlflow), HOME and ENV lines (Dockerfile).
      PATH: sqlite ? `${LITESTREAM_BIN}:${python.bin}:${SYSTEM_PATH}` : `${python.bin}:${SYSTEM_PATH}`,
      HOME: workDir,
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      MLFLOW_VERSION: config.mlflowVersion,
      // The image's CA bundle is Amazon RDS's; the stand-in database's certificate chains to the test's own CA.
      ...(db ? { DB_TLS_CA_FILE: db.caFile } : {}),
      // What ECS provides: the container's environment and secrets from the task definition.
      ...containerEnvironment(
        task.mlflow,
        // An existing bucket is a plain value in the stack (checked above), not an address to stand in for.
        {
          ...(existing ? {} : { BUCKET: `s3://${bucket}` }),
          ...(db ? { HOST: '127.0.0.1', PORT: String(db.port) } : { [SQLITE_ENVIRONMENT.replicaUrl]: `s3://${replicaBucket}/${SQLITE_REPLICA_PREFIX}` }),
          ...iamAddresses(task.mlflow),
        },
        { ...(db ? { USERNAME: db.user, PASSWORD: db.password } : {}), ...secretsOf(task.mlflow, secretValues) },
      ),
      // What the task role and the real S3 endpoint provide on AWS.
      ...aws.clientEnv(),
      // Loopback: the helper's path in the repository and a free port instead of 5000.
      MLFLOW_DB_HELPER,
      MLFLOW_LISTEN_PORT: String(port),
      // database=sqlite on loopback: the files in the run's folder, Litestream's S3 endpoint the stand-in.
      ...(sqlite ? { MLFLOW_DB_DIR: join(workDir, 'db'), DATABASE_REPLICA_ENDPOINT: aws.endpoint } : {}),
      ...overrides,
    });

    const servers: MlflowServer[] = [];
    const count = Math.max(options.servers ?? 1, options.mlflowEnvOverrides?.length ?? 0);
    for (let i = 0; i < count; i += 1) {
      const port = await freePort();
      const service = startService(`mlflow server ${i + 1}`, 'sh', [MLFLOW_ENTRYPOINT], mlflowEnvironment(port, options.mlflowEnvOverrides?.[i]), join(workDir, `mlflow-${i + 1}.log`), workDir);
      const server: MlflowServer = {
        port,
        url: `http://127.0.0.1:${port}`,
        service,
        memory: () => memoryOfGroup(service.child.pid ?? -1),
      };
      servers.push(server);
      started.push({ stop: () => service.stop('SIGTERM', 20_000) });
    }
    // A first start creates the whole schema (a hundred migrations), or upgrades an existing one: a generous bound.
    await Promise.all(servers.map((server) => waitFor(`${server.service.name} to answer /health`, async () => (await fetch(`${server.url}/health`)).status === 200, 240_000, server.service)));

    // auth=sso: the oauth2-proxy sidecar, built from the release the stack's image is (scripts/build-sso-test-tools.sh),
    // with its container's environment; on loopback its listen address, the provider's issuer and plain-http cookies.
    let ssoProxy: Proxy | undefined;
    if (task.sso) {
      if (!options.sso) throw new Error('the settings say auth=sso: startStack needs the sso option (the provider on loopback)');
      const port = await freePort();
      const cookieSecret = randomBytes(16).toString('hex');
      const service = startService('oauth2-proxy', ssoTool('oauth2-proxy'), [], {
        PATH: SYSTEM_PATH,
        ...containerEnvironment(task.sso, {}, { OAUTH2_PROXY_CLIENT_SECRET: options.sso.clientSecret, OAUTH2_PROXY_COOKIE_SECRET: cookieSecret }),
        OAUTH2_PROXY_HTTP_ADDRESS: `127.0.0.1:${port}`,
        OAUTH2_PROXY_OIDC_ISSUER_URL: options.sso.issuer,
        OAUTH2_PROXY_COOKIE_SECURE: 'false',
      }, join(workDir, 'oauth2-proxy.log'), workDir);
      ssoProxy = { port, url: `http://127.0.0.1:${port}`, service, memory: () => memoryOfGroup(service.child.pid ?? -1) };
      started.push({ stop: () => service.stop('SIGTERM', 10_000) });
      await waitFor('oauth2-proxy to answer /ping', async () => (await fetch(`${ssoProxy!.url}/ping`)).status === 200, 30_000, service);
    }

    let proxy: Proxy | undefined;
    if (options.proxy ?? true) {
      const port = options.sso?.proxyPort ?? await freePort();
      const runDir = join(workDir, 'proxy');
      const service = startService('nginx proxy', 'sh', [NGINX_ENTRYPOINT], {
        PATH: SYSTEM_PATH,
        ...containerEnvironment(task.proxy, iamAddresses(task.proxy), secretsOf(task.proxy, secretValues)),
        // Loopback: the listen port, MLflow's address, and the shipped files at their repository paths.
        NGINX_LISTEN_PORT: String(port),
        MLFLOW_UPSTREAM: `127.0.0.1:${servers[0].port}`,
        NGINX_RUN_DIR: runDir,
        NGINX_WORKER_USER: workerUser(),
        NGINX_TEMPLATE,
        NGINX_PERL_LIB,
        ...(ssoProxy ? { SSO_AUTH_UPSTREAM: `127.0.0.1:${ssoProxy.port}`, NGINX_SSO_SCHEME: 'http' } : {}),
      }, join(workDir, 'proxy.log'));
      proxy = { port, url: `http://127.0.0.1:${port}`, service, memory: () => memoryOfGroup(service.child.pid ?? -1) };
      started.push({ stop: () => service.stop('SIGQUIT', 10_000) });
      await waitFor('the proxy to answer /elb-status', async () => (await fetch(`${proxy!.url}/elb-status`)).status === 200, 30_000, service);
    }

    const startMlflow = async (overrides: Record<string, string> = {}): Promise<MlflowServer> => {
      if (sqlite) throw new Error('database=sqlite runs one task (one writer of the SQLite files): no second MLflow server');
      const port = await freePort();
      const index = servers.length + 1;
      const service = startService(`mlflow server ${index}`, 'sh', [MLFLOW_ENTRYPOINT], mlflowEnvironment(port, overrides), join(workDir, `mlflow-${index}.log`), workDir);
      const server: MlflowServer = { port, url: `http://127.0.0.1:${port}`, service, memory: () => memoryOfGroup(service.child.pid ?? -1) };
      servers.push(server);
      started.push({ stop: () => service.stop('SIGTERM', 20_000) });
      await waitFor(`${service.name} to answer /health`, async () => (await fetch(`${server.url}/health`)).status === 200, 240_000, service);
      return server;
    };

    let onceRuns = 0;
    const runMlflowOnce = async (overrides: Record<string, string>, timeoutMs = 240_000): Promise<{ status: number | string; output: string }> => {
      onceRuns += 1;
      const port = await freePort();
      const service = startService(`mlflow one-off ${onceRuns}`, 'sh', [MLFLOW_ENTRYPOINT], mlflowEnvironment(port, overrides), join(workDir, `mlflow-once-${onceRuns}.log`), workDir);
      started.push({ stop: () => service.stop('SIGTERM', 20_000) });
      const timer = setTimeout(() => void service.stop('SIGKILL', 0), timeoutMs);
      const status = await service.exited;
      clearTimeout(timer);
      return { status, output: service.output() };
    };

    const authorization = (): string => basicAuth(username, password);
    const clientEnv = (): Record<string, string> => ({
      ...aws.clientEnv(),
      MLFLOW_TRACKING_URI: proxy?.url ?? servers[0].url,
      MLFLOW_TRACKING_USERNAME: username,
      MLFLOW_TRACKING_PASSWORD: password,
    });

    const database = db;
    return {
      python, task, aws, bucket, replicaBucket,
      get db(): MariaDb {
        if (!database) throw new Error('this stack runs database=sqlite: there is no MariaDB');
        return database;
      }, username, password, gatewayToken, servers, proxy, ssoProxy, workDir,
      secretName: config.mlflowSecretName,
      authorization,
      clientEnv,
      startMlflow,
      runMlflowOnce,
      runPython: (args, env, timeoutMs = 300_000) => runPython(python, args, { HOME: workDir, ...env }, timeoutMs),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export function runPython(python: PythonEnv, args: string[], env: Record<string, string>, timeoutMs: number): Promise<PythonRun> {
  return new Promise((resolve) => {
    const child = spawn(python.python, args, {
      env: { PATH: `${python.bin}:${SYSTEM_PATH}`, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
