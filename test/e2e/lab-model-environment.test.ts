/**
 * The lab's model, trained as in the SageMaker training job and served as the SageMaker endpoint builds it: the
 * endpoint's start-up installs the model's Python environment with pip, and an environment pip cannot build is an
 * endpoint that never passes its health check (review 2026-12-06, finding 1: the model logged in the scikit-learn
 * image listed `typing==3.10.0.0`, which pip refuses).
 *
 * 1. The training image's Python and packages: a venv of the Python 3.12 (the image's: Amazon Linux 2023's python3.12)
 *    with exactly the packages of the scikit-learn 1.9-0 image (test/e2e/training-images/sklearn-1.9-0.txt, from the
 *    image's uv.lock; installed with uv, as the image is), then the job driver's step, `python -m pip install -r
 *    requirements.txt` in the code channel (lab/training: the MLflow client and the SigV4 provider), with pip from PyPI.
 * 2. The job: lab/training/train.py, unchanged, with the job's variables and channels, logging to MLflow (a local
 *    store: what is logged does not depend on the server) and registering the model.
 * 3. The endpoint: the registered version's files as /opt/ml/model in a private mount namespace, and MLflow's own
 *    serving-image code from the serving image's Python and MLflow (test/e2e/clients/lab_model_env.py): pyenv's Python
 *    of the model's python_env.yaml, a venv, `python -m pip install` of the build dependencies, requirements.txt,
 *    gunicorn[gevent] and mlflow from PyPI; then the scoring server in that venv answers /ping and predicts the model's
 *    own input example, as the endpoint would, and the predictions equal the job environment's.
 *
 * Needs PyPI (pip and uv download) and a Python 3.12: pyenv's (the serving image's Python manager, with that Python
 * installed: pyenv would otherwise compile it), or else one uv finds or installs, with a pyenv stand-in that knows only
 * that Python (pyenvStandIn). Both build steps are shared
 * between runs: the job's venv is kept under the test environments' root, keyed by the image's packages, the job's
 * requirements and the provider's source, and the model's environment is kept where MLflow keeps it
 * (~/.mlflow/envs of a kept home), under MLflow's own name for it, a hash of the model's Python and requirements, which
 * MLflow reuses as it is (a model with other requirements, e.g. with typing, gets a new one, built from scratch).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePythonEnv, type PythonEnv, REPO_ROOT, SYSTEM_PATH } from '../support/python-env';

const TRAINING_DIR = join(REPO_ROOT, 'lab', 'training');
const CLIENTS = join(REPO_ROOT, 'test', 'e2e', 'clients');
/** The training image whose packages the job's venv has: the notebook's SKLEARN_FRAMEWORK_VERSION. */
const TRAINING_IMAGE_VERSION = notebookImageVersion();
const IMAGE_PACKAGES = join(REPO_ROOT, 'test', 'e2e', 'training-images', `sklearn-${TRAINING_IMAGE_VERSION}.txt`);
/** The image's Python (minor version); pyenv's newest installed patch release of it plays the image's. */
const IMAGE_PYTHON = '3.12';
const VENV_ROOT = process.env.PYTHON_ENV_ROOT || join(REPO_ROOT, '.venv');
/** What the job's explicit pip_requirements name (train.py's MODEL_DISTRIBUTIONS), in that order. */
const MODEL_DISTRIBUTIONS = ['mlflow', 'scikit-learn', 'skops', 'numpy', 'scipy', 'pandas'];

/** SKLEARN_FRAMEWORK_VERSION = "..." in the notebook's code. */
function notebookImageVersion(): string {
  const notebook = JSON.parse(readFileSync(join(REPO_ROOT, 'lab', 'sagemaker_mlflow_lab.ipynb'), 'utf8')) as { cells: Array<{ source: string[] | string }> };
  const code = notebook.cells.map((cell) => (Array.isArray(cell.source) ? cell.source.join('') : cell.source)).join('\n');
  const version = /^SKLEARN_FRAMEWORK_VERSION = "([^"]+)"/m.exec(code)?.[1];
  if (!version) throw new Error('the notebook sets no SKLEARN_FRAMEWORK_VERSION');
  return version;
}

interface Served {
  environment: string;
  environment_seconds: number;
  ping_seconds: number;
  venv_python: string;
  requirements: string[];
  example: { dataframe_split: { columns: string[]; data: number[][] } };
  predictions: number[];
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', env, cwd, maxBuffer: 64 * 1024 * 1024 });
  if (result.error || result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout?.slice(-6000)}\n${result.stderr?.slice(-6000)}`);
  }
  return result.stdout;
}

function spawnCollect(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

/** The Python the job runs in, and the pyenv the endpoint's MLflow code finds that Python with. */
interface ImagePython { python: string; pyenvBin: string; pyenvRoot: string }

/**
 * pyenv's newest installed Python IMAGE_PYTHON.x, with that pyenv (the serving image's Python manager), when there is
 * one; otherwise a Python IMAGE_PYTHON.x that uv finds (or installs) and a pyenv stand-in (pyenvStandIn) that knows
 * only that Python.
 */
function imagePython(): ImagePython {
  const roots = [process.env.PYENV_ROOT, join(process.env.HOME ?? '/root', '.pyenv')].filter((dir): dir is string => !!dir);
  for (const root of roots) {
    const bin = join(root, 'bin', 'pyenv');
    if (!existsSync(bin) || !existsSync(join(root, 'versions'))) continue;
    const versions = readdirSync(join(root, 'versions')).filter((v) => new RegExp(`^${IMAGE_PYTHON.replace('.', '\\.')}\\.\\d+$`).test(v));
    versions.sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
    const version = versions.pop();
    if (version) return { python: join(root, 'versions', version, 'bin', 'python3'), pyenvBin: bin, pyenvRoot: root };
  }
  const uv = uvBinary();
  const found = spawnSync(uv, ['python', 'find', IMAGE_PYTHON], { encoding: 'utf8' });
  if (found.status !== 0) run(uv, ['python', 'install', IMAGE_PYTHON], process.env);
  const python = run(uv, ['python', 'find', IMAGE_PYTHON], process.env).trim();
  return { python, ...pyenvStandIn(python) };
}

/**
 * Where pyenv is not installed: a pyenv root whose versions/<X.Y.Z>/bin/python is `python`, and a bin/pyenv that
 * answers the two commands MLflow's serving code runs (`pyenv install --skip-existing <version>`, which finds that
 * version or fails, and `pyenv root`). It builds no Python: a model of another Python fails, as it would not on the
 * endpoint, where pyenv compiles it.
 */
function pyenvStandIn(python: string): { pyenvBin: string; pyenvRoot: string } {
  const version = run(python, ['-c', 'import platform; print(platform.python_version())'], process.env).trim();
  const root = join(VENV_ROOT, 'lab-pyenv-standin');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'versions', version, 'bin'), { recursive: true });
  symlinkSync(python, join(root, 'versions', version, 'bin', 'python'));
  writeFileSync(join(root, 'bin', 'pyenv'), [
    '#!/bin/sh',
    '# pyenv stand-in of test/e2e/lab-model-environment.test.ts: knows the versions under versions/, builds none.',
    'root="$(cd "$(dirname "$0")/.." && pwd)"',
    'case "$1" in',
    '  root) echo "$root" ;;',
    '  install) [ "$2" = --skip-existing ] && v="$3" || v="$2"',
    '    [ -x "$root/versions/$v/bin/python" ] && exit 0',
    '    echo "pyenv stand-in: Python $v is not installed here, and the stand-in builds none" >&2; exit 1 ;;',
    '  *) echo "pyenv stand-in: pyenv $1 is not supported" >&2; exit 1 ;;',
    'esac',
    '',
  ].join('\n'), { mode: 0o755 });
  return { pyenvBin: join(root, 'bin', 'pyenv'), pyenvRoot: root };
}

/** The uv binary the test environments are built with (python-env.ts installs it with the e2e environment). */
function uvBinary(): string {
  const found = readdirSync(VENV_ROOT).filter((d) => /^uv-\d/.test(d)).map((d) => join(VENV_ROOT, d, 'bin', 'uv')).find((p) => existsSync(p));
  if (!found) throw new Error(`no uv under ${VENV_ROOT}`);
  return found;
}

function filesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !/^(build|__pycache__|.*\.egg-info|mlruns)$/.test(entry.name))
    .flatMap((entry) => (entry.isDirectory() ? filesOf(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/**
 * The training job's Python: the image's packages (uv, --no-deps, as the image's `uv sync --frozen`), then the job
 * driver's `python -m pip install -r requirements.txt` from a copy of the code channel. Kept (a `.complete` marker)
 * under a key of the image's packages, the Python, the job's requirements and the provider's source.
 */
function ensureJobEnv(basePython: string): string {
  const inputs = [IMAGE_PACKAGES, join(TRAINING_DIR, 'requirements.txt'), ...filesOf(join(TRAINING_DIR, 'mlflow-sigv4'))];
  const key = createHash('sha256').update(basePython);
  for (const file of inputs) key.update(`${file}\0${readFileSync(file, 'utf8')}\0`);
  const name = `lab-job-sklearn-${TRAINING_IMAGE_VERSION}`;
  const dir = join(VENV_ROOT, `${name}-${key.digest('hex').slice(0, 16)}`);
  const python = join(dir, 'bin', 'python');
  if (existsSync(join(dir, '.complete'))) return python;
  mkdirSync(VENV_ROOT, { recursive: true });
  for (const entry of readdirSync(VENV_ROOT)) {
    if (entry.startsWith(`${name}-`)) rmSync(join(VENV_ROOT, entry), { recursive: true, force: true });
  }
  const env = { ...process.env, UV_PYTHON_DOWNLOADS: 'never', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
  const uv = uvBinary();
  run(uv, ['venv', '--quiet', '--python', basePython, dir], env);
  run(uv, ['pip', 'install', '--quiet', '--no-deps', '--python', python, '-r', IMAGE_PACKAGES], env);
  const code = mkdtempSync(join(tmpdir(), 'lab-code-'));
  try {
    cpSync(TRAINING_DIR, code, { recursive: true, filter: (source) => !/(\/build|__pycache__|\.egg-info|\/mlruns)$/.test(source) });
    // The SDK's driver (sagemaker/core/utils/install_requirements.py): python -m pip install -r requirements.txt, in the code channel.
    run(python, ['-m', 'pip', 'install', '--quiet', '-r', 'requirements.txt'], env, code);
  } finally {
    rmSync(code, { recursive: true, force: true });
  }
  writeFileSync(join(dir, '.complete'), `${TRAINING_IMAGE_VERSION}\n`);
  return python;
}

/** Training and test CSVs shaped like the notebook's (California housing's eight features and MedHouseVal). */
function writeChannels(dir: string): void {
  const columns = ['MedInc', 'HouseAge', 'AveRooms', 'AveBedrms', 'Population', 'AveOccup', 'Latitude', 'Longitude'];
  let seed = 7;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (const [channel, rows] of [['train', 320], ['test', 80]] as const) {
    const lines = [[...columns, 'MedHouseVal'].join(',')];
    for (let i = 0; i < rows; i++) {
      const features = columns.map(() => random() * 10);
      lines.push([...features, (0.4 * features[0] + 0.05 * features[2] + random() * 0.2).toFixed(6)].map(String).join(','));
    }
    mkdirSync(join(dir, channel), { recursive: true });
    writeFileSync(join(dir, channel, `${channel}.csv`), `${lines.join('\n')}\n`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A private mount namespace (and a user namespace when not root), in which /opt is the test's own. */
function unsharePrefix(): string[] {
  const base = ['--mount', '--propagation', 'private'];
  return process.getuid?.() === 0 ? base : ['--user', '--map-root-user', ...base];
}

let work: string;
let serving: PythonEnv;
let jobPython: string;
let trainLog: string;
let modelDir: string;
let served: Served;
let servedOutput: string;
let jobPredictions: number[];
const timings: Record<string, number> = {};

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lab-model-env-'));
  const { python: base, pyenvBin, pyenvRoot } = imagePython();
  serving = ensurePythonEnv();

  let started = Date.now();
  jobPython = ensureJobEnv(base);
  timings.jobEnvironment = (Date.now() - started) / 1000;

  // The job: the code channel's train.py with the channels, the model dir and the notebook's variables.
  const code = join(work, 'code');
  cpSync(TRAINING_DIR, code, { recursive: true, filter: (source) => !/(\/build|__pycache__|\.egg-info|\/mlruns|\/mlflow-sigv4)$/.test(source) });
  writeChannels(join(work, 'data'));
  const jobEnv = {
    PATH: `${join(jobPython, '..')}:${SYSTEM_PATH}`,
    HOME: work,
    PYTHONDONTWRITEBYTECODE: '1',
    AWS_EC2_METADATA_DISABLED: 'true',
    MLFLOW_TRACKING_URI: `sqlite:///${join(work, 'mlflow.db')}`,
    MLFLOW_TRACKING_AUTH: 'aws-sigv4',
    MLFLOW_EXPERIMENT_NAME: 'california-housing',
    LAB_REGISTERED_MODEL_NAME: 'california-housing-rf',
    SM_MODEL_DIR: join(work, 'model'),
    SM_CHANNEL_TRAIN: join(work, 'data', 'train'),
    SM_CHANNEL_TEST: join(work, 'data', 'test'),
  };
  started = Date.now();
  trainLog = run(jobPython, ['train.py', '--n-estimators', '20', '--max-depth', '8', '--min-samples-leaf', '3', '--random-state', '42', '--target', 'MedHouseVal'], jobEnv, code);
  timings.training = (Date.now() - started) / 1000;

  // What MLflow's deployment client gives the endpoint: the registered version's files.
  modelDir = join(work, 'registered-model');
  run(jobPython, ['-c', `import mlflow; mlflow.artifacts.download_artifacts("models:/california-housing-rf/1", dst_path=${JSON.stringify(modelDir)})`], jobEnv, code);
  jobPredictions = JSON.parse(run(jobPython, ['-c', [
    'import json, sys, mlflow.pyfunc',
    'from mlflow.pyfunc import scoring_server',
    `model = mlflow.pyfunc.load_model(${JSON.stringify(modelDir)})`,
    `payload = json.load(open(${JSON.stringify(join(modelDir, 'serving_input_example.json'))}))`,
    'data = scoring_server.infer_and_parse_data(payload, model.metadata.get_input_schema())',
    'print(json.dumps([float(p) for p in model.predict(data)]))',
  ].join('\n')], jobEnv, code).trim().split('\n').pop()!) as number[];

  // The endpoint: a kept home, where MLflow keeps (and reuses, by its own hash) the model's environment.
  const home = join(VENV_ROOT, 'lab-model-environments');
  mkdirSync(home, { recursive: true });
  const reportPath = join(work, 'served.json');
  started = Date.now();
  const result = await spawnCollect('unshare', [
    ...unsharePrefix(), '--', 'sh', '-c', 'mount -t tmpfs tmpfs /opt && exec "$@"', 'endpoint',
    serving.python, join(CLIENTS, 'lab_model_env.py'), 'serve', '--model', modelDir, '--port', String(await freePort()), '--report', reportPath,
  ], {
    PATH: `${join(pyenvBin, '..')}:${SYSTEM_PATH}`,
    PYENV_ROOT: pyenvRoot,
    HOME: home,
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    ...(process.env.PIP_CERT ? { PIP_CERT: process.env.PIP_CERT } : {}),
    ...(process.env.PIP_INDEX_URL ? { PIP_INDEX_URL: process.env.PIP_INDEX_URL } : {}),
  }, 1_200_000);
  timings.endpoint = (Date.now() - started) / 1000;
  servedOutput = result.output;
  assert.equal(result.status, 0, `the endpoint's start-up failed (${result.status}): its model environment did not build or serve:\n${result.output.slice(-8000)}`);
  served = JSON.parse(readFileSync(reportPath, 'utf8')) as Served;
  // Keep only this model's environment (each is most of a GB): older requirement sets are not reused.
  const envs = join(home, '.mlflow', 'envs');
  for (const entry of readdirSync(envs)) {
    if (join(envs, entry) !== served.environment) rmSync(join(envs, entry), { recursive: true, force: true });
  }
  console.log(`lab model environment: job venv ${timings.jobEnvironment.toFixed(1)} s, training ${timings.training.toFixed(1)} s, endpoint start-up ${timings.endpoint.toFixed(1)} s (model environment ${served.environment_seconds} s, /ping after ${served.ping_seconds} s more)`);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe(`the lab's model, trained in the scikit-learn ${TRAINING_IMAGE_VERSION} image's environment, builds and serves as the endpoint does`, () => {
  it('the job ran in the image\'s Python and packages (scikit-learn 1.9.0, typing 3.10.0.0 among them) and registered the model', () => {
    const versions = JSON.parse(run(jobPython, ['-c', 'import json, platform, importlib.metadata as m; print(json.dumps([platform.python_version(), m.version("scikit-learn"), m.version("typing"), m.version("mlflow")]))'], process.env).trim());
    assert.match(versions[0], /^3\.12\./);
    assert.deepEqual(versions.slice(1), ['1.9.0', '3.10.0.0', serving.mlflowVersion]);
    assert.match(trainLog, /mlflow_model_version=california-housing-rf\/1/);
  });

  it('the model lists exactly the explicit pip_requirements at the job\'s versions, and the job\'s Python', () => {
    const requirements = readFileSync(join(modelDir, 'requirements.txt'), 'utf8').trim().split('\n');
    assert.deepEqual(requirements.map((line) => line.split('==')[0]), MODEL_DISTRIBUTIONS);
    assert.ok(requirements.includes('scikit-learn==1.9.0') && requirements.includes(`mlflow==${serving.mlflowVersion}`), requirements.join(' '));
    assert.match(readFileSync(join(modelDir, 'python_env.yaml'), 'utf8'), /^python: 3\.12\.\d+$/m);
  });

  it('MLflow\'s serving code built the model\'s environment with pip in the model\'s Python, and its scoring server answered /ping', () => {
    assert.deepEqual(served.requirements, readFileSync(join(modelDir, 'requirements.txt'), 'utf8').trim().split('\n'));
    assert.equal(served.venv_python, /^python: (\S+)$/m.exec(readFileSync(join(modelDir, 'python_env.yaml'), 'utf8'))![1]);
    assert.ok(served.ping_seconds >= 0, servedOutput.slice(-2000));
  });

  it('the endpoint\'s predictions of the model\'s input example are the job environment\'s', () => {
    assert.equal(served.predictions.length, served.example.dataframe_split.data.length);
    assert.equal(served.predictions.length, jobPredictions.length);
    served.predictions.forEach((value, i) => assert.ok(Math.abs(value - jobPredictions[i]) <= 1e-9 * Math.max(1, Math.abs(jobPredictions[i])), `prediction ${i}: ${value} vs ${jobPredictions[i]}`));
  });
});
