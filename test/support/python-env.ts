/**
 * The project-local Python virtual environment of the end-to-end tests: the MLflow server's own packages
 * (containers/mlflow/requirements.txt, at the MLflow version the CDK configuration pins) plus the test tools
 * (test/e2e/requirements.txt: the S3 stand-in, scikit-learn for the lab's training script, cfn-lint).
 *
 * It lives in `.venv/e2e-<key>/`, where the key is a hash of the MLflow version, both requirement files and the
 * Python version: it is built once and reused by every later run, and a new one is built when any of these
 * changes (older ones are removed). A build that did not finish leaves no `.complete` marker and is redone.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolvePlatformConfig } from '../../src/config/platform-config';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const SERVER_REQUIREMENTS = join(REPO_ROOT, 'containers', 'mlflow', 'requirements.txt');
export const TEST_REQUIREMENTS = join(REPO_ROOT, 'test', 'e2e', 'requirements.txt');
const VENV_ROOT = join(REPO_ROOT, '.venv');

export interface PythonEnv {
  /** The environment's folder. */
  readonly dir: string;
  /** Its bin/ folder: put it first on PATH to run `python3`, `mlflow`, `moto_server`, `cfn-lint` from it. */
  readonly bin: string;
  readonly python: string;
  /** The MLflow release installed (the CDK configuration's `mlflowVersion`). */
  readonly mlflowVersion: string;
}

/** The MLflow version the tests run: the CDK default, or `MLFLOW_E2E_VERSION` to try another release. */
export function e2eMlflowVersion(): string {
  return resolvePlatformConfig({ mlflowVersion: process.env.MLFLOW_E2E_VERSION }).mlflowVersion;
}

function basePython(): string {
  return process.env.E2E_BASE_PYTHON ?? 'python3';
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const result = spawnSync(command, args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (result.error || result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

function environmentKey(mlflowVersion: string): string {
  const pythonVersion = run(basePython(), ['-c', 'import sys; print(sys.version)']).trim();
  return createHash('sha256')
    .update(JSON.stringify([mlflowVersion, pythonVersion, readFileSync(SERVER_REQUIREMENTS, 'utf8'), readFileSync(TEST_REQUIREMENTS, 'utf8')]))
    .digest('hex')
    .slice(0, 16);
}

/**
 * Returns the environment for the configured MLflow version, building it first when it is missing or
 * incomplete (about a minute with a warm pip cache). `log` receives progress lines.
 */
export function ensurePythonEnv(log: (line: string) => void = () => {}): PythonEnv {
  const mlflowVersion = e2eMlflowVersion();
  const name = `e2e-${environmentKey(mlflowVersion)}`;
  const dir = join(VENV_ROOT, name);
  const env: PythonEnv = { dir, bin: join(dir, 'bin'), python: join(dir, 'bin', 'python3'), mlflowVersion };
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return env;

  mkdirSync(VENV_ROOT, { recursive: true });
  // Only one environment is kept: a changed version or requirement file replaces the old one.
  for (const entry of readdirSync(VENV_ROOT)) {
    if (entry.startsWith('e2e-')) rmSync(join(VENV_ROOT, entry), { recursive: true, force: true });
  }
  log(`building the Python test environment ${dir} (MLflow ${mlflowVersion})`);
  run(basePython(), ['-m', 'venv', dir]);
  const pipEnv = { ...process.env, MLFLOW_VERSION: mlflowVersion, PIP_DISABLE_PIP_VERSION_CHECK: '1' };
  run(env.python, ['-m', 'pip', 'install', '--quiet', '-r', SERVER_REQUIREMENTS, '-r', TEST_REQUIREMENTS], pipEnv);
  const installed = run(env.python, ['-c', 'import mlflow; print(mlflow.__version__)']).trim();
  if (installed !== mlflowVersion) throw new Error(`the test environment has MLflow ${installed}, expected ${mlflowVersion}`);
  writeFileSync(marker, `${mlflowVersion}\n`);
  log(`Python test environment ready: MLflow ${mlflowVersion}`);
  return env;
}

/** PATH with the environment's bin/ first. */
export function pathWith(env: PythonEnv): string {
  return [env.bin, process.env.PATH ?? ''].join(':');
}
