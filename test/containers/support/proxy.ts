/**
 * Runs the shipped NGINX proxy (containers/nginx/entrypoint.sh + nginx.conf.template) with Debian's
 * nginx on a loopback port. Only configuration paths and addresses are overridden: listen port,
 * upstream address, run directory (pid, temp files, credentials file) and the worker user.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const NGINX_DIR = join(REPO_ROOT, 'containers', 'nginx');
export const NGINX_ENTRYPOINT = join(NGINX_DIR, 'entrypoint.sh');
export const NGINX_TEMPLATE = join(NGINX_DIR, 'nginx.conf.template');
export const NGINX_PERL_LIB = join(NGINX_DIR, 'perl');

/** Fails with a clear message when a program the tests run for real is not installed. */
export function requireProgram(name: string, hint: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(`${name} is not installed or not on PATH (${hint}). .ci/run installs it from .ci/apt-packages.txt.`);
  }
}

/** An ephemeral loopback port, free at the time of the call. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** The worker user nginx can switch to on this machine when the tests run as root. */
export function workerUser(): string {
  if (process.getuid?.() !== 0) return String(spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout).trim();
  return 'nobody';
}

export interface RunningProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Spawns a program. Its stdout goes to `stdoutFile` when given (nginx opens /dev/stdout for its
 * access log, which works on a file or pipe, as in a container, but not on Node's socket pairs),
 * else nowhere; stderr is kept in memory.
 */
export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, stdoutFile?: string): RunningProcess {
  const stdoutFd = stdoutFile ? openSync(stdoutFile, 'a') : 'ignore';
  const child = spawn(command, args, { env, stdio: ['ignore', stdoutFd, 'pipe'] });
  if (typeof stdoutFd === 'number') closeSync(stdoutFd);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return {
    child,
    output: () => (stdoutFile ? readFileSync(stdoutFile, 'utf8') : '') + output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGQUIT'); // nginx: graceful shutdown
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForPort(port: number, proc: RunningProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`nginx exited with ${exitCode} before listening:\n${proc.output()}`);
    const ok = await new Promise<boolean>((resolveOk) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolveOk(true);
      });
      socket.once('error', () => resolveOk(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms:\n${proc.output()}`);
}

export interface RunningProxy {
  readonly port: number;
  readonly runDir: string;
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  readonly upstreamPort: number;
  readonly username: string;
  readonly password: string;
  /** Send nginx's stdout (the access log) nowhere: for the benchmark. */
  readonly quiet?: boolean;
  /** nginx configuration template (NGINX_TEMPLATE). @default the shipped containers/nginx/nginx.conf.template */
  readonly template?: string;
  /** Directory nginx loads MlflowAuth.pm from (NGINX_PERL_LIB). @default the shipped containers/nginx/perl */
  readonly perlLib?: string;
  /** More container variables (MLFLOW_AUTH, MLFLOW_GATEWAY_TOKEN, MLFLOW_IAM_PRINCIPALS). @default none */
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts the shipped entrypoint with the shipped template; resolves once nginx listens. */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  requireProgram('nginx', "Debian package 'nginx'");
  requireProgram('envsubst', "Debian package 'gettext-base'");
  const runDir = mkdtempSync(join(tmpdir(), 'mlflow-proxy-'));
  const logDir = mkdtempSync(join(tmpdir(), 'mlflow-proxy-log-'));
  const port = await freePort();
  const proc = startProcess(
    'sh',
    [NGINX_ENTRYPOINT],
    {
      PATH: process.env.PATH,
      MLFLOW_USERNAME: options.username,
      MLFLOW_PASSWORD: options.password,
      NGINX_LISTEN_PORT: String(port),
      MLFLOW_UPSTREAM: `127.0.0.1:${options.upstreamPort}`,
      NGINX_RUN_DIR: runDir,
      NGINX_WORKER_USER: workerUser(),
      NGINX_TEMPLATE: options.template ?? NGINX_TEMPLATE,
      NGINX_PERL_LIB: options.perlLib ?? NGINX_PERL_LIB,
      ...options.env,
    },
    options.quiet ? undefined : join(logDir, 'stdout.log'),
  );
  try {
    await waitForPort(port, proc, 10_000);
  } catch (error) {
    await proc.stop();
    rmSync(runDir, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    runDir,
    process: proc,
    async stop() {
      await proc.stop();
      rmSync(runDir, { recursive: true, force: true });
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
