/**
 * Project-local Python virtual environments of the tests, each built once from pip requirement files and cached in
 * `.venv/<name>-<key>/`, where the key is a hash of the MLflow version, the requirement files and the Python version:
 * a later run reuses it, and a new one is built when any of these changes (the older ones of that name are removed).
 * A build that did not finish leaves no `.complete` marker and is redone.
 *
 * Two environments are defined here:
 * - `ensurePythonEnv()`: the end-to-end tests' own, `.venv/e2e-<key>/`: the MLflow server's packages
 *   (containers/mlflow/requirements.txt, at the MLflow version the CDK configuration pins) plus the test tools
 *   (test/e2e/requirements.txt: the S3 stand-in, scikit-learn for the lab's training script, cfn-lint).
 * - `ensureSampleMlflowEnv()`: MLflow 2.14.2 as the original aws-mlflow-sagemaker-cdk sample's server image ran it,
 *   `.venv/mlflow-2.14.2-<key>/` (test/e2e/requirements-mlflow-2.14.txt), to create the database a migration starts from.
 * - `ensurePreviousMlflowEnv()`: the server image's packages (containers/mlflow/requirements.txt) at MLflow
 *   `PREVIOUS_MLFLOW_VERSION`, an older 3.x release with schema migrations between it and the pinned one,
 *   `.venv/mlflow-<version>-<key>/`, for the upgrade test (test/e2e/upgrade.test.ts).
 * - `ensureLabPythonEnv()`: the SageMaker lab notebook's kernel, `.venv/lab-<key>/`, built from lab/requirements.txt
 *   itself (the MLflow client and the SageMaker Python SDK v3, exact pins). Not the e2e environment: the SDK would
 *   move the server's packages (protobuf 7 to 6, importlib-metadata 9 to 6) and, through its sagemaker-mlflow
 *   dependency, replace MLflow's s3 artifact repository by a plugin, so the server would no longer run as its image does.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { resolvePlatformConfig } from '../../src/app/config/platform-config';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/** The system's own PATH, after a Python environment's bin: what the test's child processes find (no user's PATH). */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const SERVER_REQUIREMENTS = join(REPO_ROOT, 'containers', 'mlflow', 'requirements.txt');
export const TEST_REQUIREMENTS = join(REPO_ROOT, 'test', 'e2e', 'requirements.txt');
export const SAMPLE_MLFLOW_REQUIREMENTS = join(REPO_ROOT, 'test', 'e2e', 'requirements-mlflow-2.14.txt');
/** The lab notebook kernel's packages: exact pins written by `npm run lab:settings`. */
export const LAB_REQUIREMENTS = join(REPO_ROOT, 'lab', 'requirements.txt');
/** The MLflow release of the original sample's server image (its src/mlflow/Dockerfile). */
export const SAMPLE_MLFLOW_VERSION = '2.14.2';
/**
 * The MLflow release the upgrade test starts from: the project's previous default. Its schema is older than the pinned
 * release's (3.17.2 adds migrations 3.13.0 does not know, so 3.13.0 refuses a migrated database).
 */
export const PREVIOUS_MLFLOW_VERSION = '3.13.0';
/**
 * Where the environments live: `.venv/` of the repository, or PYTHON_ENV_ROOT when set (a worktree whose `.venv` is
 * shared with others builds a changed requirement set there, instead of replacing the environment the others use).
 */
const VENV_ROOT = process.env.PYTHON_ENV_ROOT || join(REPO_ROOT, '.venv');
/**
 * uv (PyPI `uv`, a pip-compatible installer) builds the environments: a few seconds each where pip took one to three
 * minutes, which keeps a clean CI run within its budget. It is installed with pip into `.venv/uv-<version>/`.
 */
const UV_VERSION = '0.13.9';

/**
 * The uv commands that build an environment: a venv of `basePython` with pip seeded in, then the requirement files.
 * Each with `--system-certs` (uv 0.13's name for `--native-tls`): uv trusts the system's certificate store, not only
 * the roots it bundles, so that the environments also build behind a TLS-inspecting proxy whose CA is installed in
 * the system (uv without it: `invalid peer certificate: UnknownIssuer`).
 */
export function uvBuildCommands(basePython: string, dir: string, python: string, requirementFiles: readonly string[]): string[][] {
  return [
    ['venv', '--system-certs', '--quiet', '--seed', '--python', basePython, dir],
    ['pip', 'install', '--system-certs', '--quiet', '--python', python, ...requirementFiles.flatMap((file) => ['-r', file])],
  ];
}

export interface PythonEnv {
  /** The environment's folder. */
  readonly dir: string;
  /** Its bin/ folder: put it first on PATH to run `python3`, `mlflow`, `moto_server`, `cfn-lint` from it. */
  readonly bin: string;
  readonly python: string;
  /** The MLflow release installed. */
  readonly mlflowVersion: string;
}

/** What an environment holds. */
export interface PythonEnvSpec {
  /** Folder name before the key: `.venv/<name>-<key>/`. Only the current environment of each name is kept. */
  readonly name: string;
  /** The MLflow release the requirement files install (pip expands `${MLFLOW_VERSION}` in them to it); checked after the install. */
  readonly mlflowVersion: string;
  /** pip requirement files, installed together in one `pip install -r ... -r ...`. */
  readonly requirements: readonly string[];
}

/** The MLflow version the tests run: the CDK default, or `MLFLOW_E2E_VERSION` to try another release. */
export function e2eMlflowVersion(): string {
  return resolvePlatformConfig({ mlflowVersion: process.env.MLFLOW_E2E_VERSION }).mlflowVersion;
}

/** The end-to-end tests' environment: the server image's packages plus the test tools. */
export function e2eEnvSpec(): PythonEnvSpec {
  return { name: 'e2e', mlflowVersion: e2eMlflowVersion(), requirements: [SERVER_REQUIREMENTS, TEST_REQUIREMENTS] };
}

/** MLflow 2.14.2 with the packages the original sample's server image had, pinned where newer releases break it. */
export const SAMPLE_MLFLOW_ENV: PythonEnvSpec = Object.freeze({
  name: `mlflow-${SAMPLE_MLFLOW_VERSION}`,
  mlflowVersion: SAMPLE_MLFLOW_VERSION,
  requirements: [SAMPLE_MLFLOW_REQUIREMENTS],
});

/** The server image's packages at `PREVIOUS_MLFLOW_VERSION`: the deployment an upgrade starts from. */
export const PREVIOUS_MLFLOW_ENV: PythonEnvSpec = Object.freeze({
  name: `mlflow-${PREVIOUS_MLFLOW_VERSION}`,
  mlflowVersion: PREVIOUS_MLFLOW_VERSION,
  requirements: [SERVER_REQUIREMENTS],
});

/** The lab's environment: lab/requirements.txt, whose MLflow pin is the repository configuration's server version. */
export function labEnvSpec(): PythonEnvSpec {
  const pinned = /^mlflow==(\S+)$/m.exec(readFileSync(LAB_REQUIREMENTS, 'utf8'))?.[1];
  if (!pinned) throw new Error(`${LAB_REQUIREMENTS} has no mlflow== pin: run npm run lab:settings`);
  return { name: 'lab', mlflowVersion: pinned, requirements: [LAB_REQUIREMENTS] };
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

/** The uv binary, installed on first use. */
export function uv(): string {
  const dir = join(VENV_ROOT, `uv-${UV_VERSION}`);
  const binary = join(dir, 'bin', 'uv');
  if (existsSync(join(dir, '.complete'))) return binary;
  mkdirSync(VENV_ROOT, { recursive: true });
  return withLock(join(VENV_ROOT, 'uv.lock'), () => {
    if (existsSync(join(dir, '.complete'))) return binary;
    rmSync(dir, { recursive: true, force: true });
    run(basePython(), ['-m', 'venv', dir]);
    run(join(dir, 'bin', 'python3'), ['-m', 'pip', 'install', '--quiet', `uv==${UV_VERSION}`], { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' });
    writeFileSync(join(dir, '.complete'), `${UV_VERSION}\n`);
    return binary;
  });
}

function environmentKey(spec: PythonEnvSpec): string {
  const pythonVersion = run(basePython(), ['-c', 'import sys; print(sys.version)']).trim();
  return createHash('sha256')
    .update(JSON.stringify([spec.mlflowVersion, pythonVersion, ...spec.requirements.map((file) => readFileSync(file, 'utf8'))]))
    .digest('hex')
    .slice(0, 16);
}

/**
 * Returns the environment `spec` describes, building it first when it is missing or incomplete (a minute or two with
 * a warm pip cache). `log` receives progress lines.
 */
export function ensureVenv(spec: PythonEnvSpec, log: (line: string) => void = () => {}): PythonEnv {
  if (!/^[A-Za-z0-9][A-Za-z0-9._]*(-[A-Za-z0-9._]+)*$/.test(spec.name)) throw new Error(`not a usable environment name: ${spec.name}`);
  const folder = `${spec.name}-${environmentKey(spec)}`;
  const dir = join(VENV_ROOT, folder);
  const env: PythonEnv = { dir, bin: join(dir, 'bin'), python: join(dir, 'bin', 'python3'), mlflowVersion: spec.mlflowVersion };
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return env;

  mkdirSync(VENV_ROOT, { recursive: true });
  // Test files run in parallel processes: one builds, the others wait for it and then find the marker.
  return withLock(join(VENV_ROOT, `${spec.name}.lock`), () => {
    if (existsSync(marker)) return env;
    build(spec, dir, env, marker, log);
    return env;
  });
}

function build(spec: PythonEnvSpec, dir: string, env: PythonEnv, marker: string, log: (line: string) => void): void {
  const folder = basename(dir);
  // One environment per name: a changed version or requirement file replaces the old one (and an unfinished build is redone).
  const sameName = new RegExp(`^${spec.name.replace(/[.]/g, '\\.')}-[0-9a-f]{16}$`);
  for (const entry of readdirSync(VENV_ROOT)) {
    if (sameName.test(entry)) rmSync(join(VENV_ROOT, entry), { recursive: true, force: true });
  }
  log(`building the Python environment ${dir} (MLflow ${spec.mlflowVersion})`);
  // The machine's Python, never one uv would download; pip seeded in, for code that runs `python -m pip`.
  const uvEnv = { ...process.env, UV_PYTHON_DOWNLOADS: 'never' };
  // pip expands ${MLFLOW_VERSION} in requirement files (the image's Dockerfile relies on it); uv does not, so it gets
  // copies with the version written in.
  const copies = spec.requirements.map((_, i) => join(dir, `requirements-${i}.txt`));
  const [venv, install] = uvBuildCommands(basePython(), dir, env.python, copies);
  run(uv(), venv, uvEnv);
  spec.requirements.forEach((file, i) => writeFileSync(copies[i], readFileSync(file, 'utf8').replace(/\$\{MLFLOW_VERSION\}/g, spec.mlflowVersion)));
  run(uv(), install, uvEnv);
  const installed = run(env.python, ['-c', 'import mlflow; print(mlflow.__version__)']).trim();
  if (installed !== spec.mlflowVersion) throw new Error(`the environment ${dir} has MLflow ${installed}, expected ${spec.mlflowVersion}`);
  writeFileSync(marker, `${spec.mlflowVersion}\n`);
  log(`Python environment ready: ${folder} (MLflow ${spec.mlflowVersion})`);
}

/** Runs `body` holding an exclusive lock file (created with O_EXCL); waits up to 15 minutes for another holder. */
function withLock<T>(lockFile: string, body: () => T): T {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      closeSync(openSync(lockFile, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than the deadline was left by a build that was killed.
      if (Date.now() - statSync(lockFile).mtimeMs > 15 * 60_000) rmSync(lockFile, { force: true });
      if (Date.now() > deadline) throw new Error(`waited 15 minutes for ${lockFile}; remove it if no build is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    return body();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/** The end-to-end tests' environment (see `e2eEnvSpec`). */
export function ensurePythonEnv(log: (line: string) => void = () => {}): PythonEnv {
  return ensureVenv(e2eEnvSpec(), log);
}

/** MLflow 2.14.2, the original sample's release (see `SAMPLE_MLFLOW_ENV`). */
export function ensureSampleMlflowEnv(log: (line: string) => void = () => {}): PythonEnv {
  return ensureVenv(SAMPLE_MLFLOW_ENV, log);
}

/** The previous default MLflow release with the server image's packages (see `PREVIOUS_MLFLOW_ENV`). */
export function ensurePreviousMlflowEnv(log: (line: string) => void = () => {}): PythonEnv {
  return ensureVenv(PREVIOUS_MLFLOW_ENV, log);
}

/** The SageMaker lab notebook's kernel (see `labEnvSpec`). */
export function ensureLabPythonEnv(log: (line: string) => void = () => {}): PythonEnv {
  return ensureVenv(labEnvSpec(), log);
}
