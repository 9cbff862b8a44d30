/** Shared by the test/lab tests: finding the lab's files, running inspect_lab.py, and the drift rules. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../../scripts/generate-lab-settings';
import { SYSTEM_PATH } from '../support/python-env';

export const LAB_DIR = join(REPO_ROOT, 'lab');
export const NOTEBOOK_PATH = join(LAB_DIR, 'sagemaker_mlflow_lab.ipynb');
export const INSPECTOR = join(__dirname, 'inspect_lab.py');
/**
 * Debian's interpreter, where python3-nbformat (in .ci/apt-packages.txt) installs. `python3` on PATH
 * may be another interpreter without it.
 */
export const SYSTEM_PYTHON = '/usr/bin/python3';

const SKIPPED_DIRS = new Set(['.ipynb_checkpoints', '__pycache__', 'data', 'mlruns', 'build']);

/** The lab's SigV4 provider (an MLflow request-auth provider, MLFLOW_TRACKING_AUTH=aws-sigv4), as a source tree. */
export const SIGV4_PROVIDER_SOURCE = join(LAB_DIR, 'training', 'mlflow-sigv4');

/**
 * Installs the SigV4 provider from its source with `python`'s pip (no dependencies, no index: MLflow and botocore are
 * in that environment) into a new folder under `into`, which goes on PYTHONPATH: MLflow then finds its entry point.
 * What `%pip install ./training/mlflow-sigv4` does in the kernel, without changing the shared environment.
 */
export function installSigV4Provider(python: string, into: string = tmpdir()): string {
  const target = join(mkdtempSync(join(into, 'sigv4-provider-')), 'site');
  const result = spawnSync(python, ['-m', 'pip', 'install', '--quiet', '--no-deps', '--no-build-isolation', '--no-index', '--target', target, SIGV4_PROVIDER_SOURCE], {
    encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: into, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
  });
  if (result.status !== 0) throw new Error(`installing ${SIGV4_PROVIDER_SOURCE}: ${result.stdout}\n${result.stderr}`);
  return target;
}

/**
 * The environment of a Python client of the IAM route as the lab configures one: the lab's SigV4 provider on
 * PYTHONPATH (installSigV4Provider), the principal's credentials, `aws-sigv4` auth, no password, no retries (a refusal
 * shows at once), no instance metadata.
 */
export function sigv4ClientEnv(options: {
  pythonBin: string; home: string; provider: string; trackingUri: string; region: string; credentials: Record<string, string>;
}): Record<string, string> {
  return {
    PATH: `${options.pythonBin}:${SYSTEM_PATH}`,
    HOME: options.home,
    PYTHONPATH: options.provider,
    PYTHONDONTWRITEBYTECODE: '1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_DEFAULT_REGION: options.region,
    ...options.credentials,
    MLFLOW_TRACKING_URI: options.trackingUri,
    MLFLOW_TRACKING_AUTH: 'aws-sigv4',
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
  };
}

/** Files under `dir` whose names end with one of `extensions`, relative to the repository, sorted. */
export function listFiles(dir: string, extensions: string[]): string[] {
  const found: string[] = [];
  const walk = (current: string): void => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) {
        if (!SKIPPED_DIRS.has(name)) walk(path);
      } else if (extensions.some((extension) => name.endsWith(extension))) {
        found.push(relative(REPO_ROOT, path));
      }
    }
  };
  walk(dir);
  return found.sort();
}

export interface CodeUnit {
  where: string;
  error: string | null;
  strings: string[];
  lookups: string[][];
  literal_names: [string, string][];
  magics: string[];
  cell_magic?: boolean;
}

export interface InspectedFile {
  path: string;
  units: CodeUnit[];
  nbformat?: number;
  validation_error?: string | null;
  code_cells?: number;
  cells_with_outputs?: number[];
  markdown?: string[];
}

export interface Inspection {
  python: string;
  files: InspectedFile[];
}

/** Runs inspect_lab.py on files (paths relative to the repository or absolute). */
export function inspect(paths: string[], options: { validateNotebooks?: boolean } = {}): Inspection {
  if (!existsSync(SYSTEM_PYTHON)) {
    throw new Error(`${SYSTEM_PYTHON} is missing: the lab checks need Debian's python3 (apt-get install python3 python3-nbformat)`);
  }
  const args = [INSPECTOR, ...(options.validateNotebooks ? ['--validate-notebooks'] : []), ...paths];
  const result = spawnSync(SYSTEM_PYTHON, args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`inspect_lab.py failed (${result.status}): ${result.stderr || result.error}`);
  }
  return JSON.parse(result.stdout) as Inspection;
}

export function allUnits(inspection: Inspection): CodeUnit[] {
  return inspection.files.flatMap((file) => file.units);
}

/** The values a settings key path resolves to, or undefined. */
export function resolvePath(settings: unknown, path: string[]): unknown {
  let value: unknown = settings;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The names of the deployed system a lab could hard-code: every stack name, output key, secret name. */
export interface Contract {
  stackNames: string[];
  outputKeys: string[];
  secretName: string;
  mlflowVersion: string;
  sagemakerSdkVersion: string;
}

/** Stack-like words (`FooStack`) and credential-secret-like words (`mlflow-...-credentials`). */
const STACK_WORD = /\b[A-Z][A-Za-z0-9]*Stack\b/g;
const SECRET_WORD = /\bmlflow[-_a-z0-9]*credentials\b/gi;
/** A pin of the MLflow client: `mlflow==X`, `mlflow[extras]==X` (not mlflow-skinny or plugins). */
const MLFLOW_PIN = /(?<![-\w])mlflow(?:\[[^\]]*\])?\s*==\s*([0-9][^\s"'`,;)\]]*)/g;
/** A pin or range of the SageMaker SDK: `sagemaker==X`, `sagemaker>=2.200,<3` (not sagemaker-core and friends). */
const SAGEMAKER_PIN = /(?<![-\w])sagemaker(?:\[[^\]]*\])?\s*((?:==|>=|<=|~=|<|>)\s*[0-9][^\s"'`;)\]]*)/g;

/**
 * Everything in the lab's code that names the deployed system in any way but through lab-settings.json:
 * - a settings lookup that does not resolve in the settings the app generates;
 * - a name of the deployed system written into code (it must be read from lab-settings.json);
 * - a stack-like or secret-like name that the app does not have, anywhere in code or text;
 * - an MLflow pin that is not the server's version, or a SageMaker SDK pin or range that is not the lab's pin.
 */
export function contractViolations(units: CodeUnit[], texts: { where: string; text: string }[], settings: unknown, contract: Contract): string[] {
  const violations: string[] = [];
  const contractValues = new Map<string, string>([
    ...contract.stackNames.map((name) => [name, 'stack name'] as [string, string]),
    ...contract.outputKeys.map((key) => [key, 'stack output key'] as [string, string]),
    [contract.secretName, 'secret name'],
    [contract.mlflowVersion, 'MLflow version'],
    [contract.sagemakerSdkVersion, 'SageMaker SDK version'],
  ]);

  for (const unit of units) {
    for (const path of unit.lookups) {
      if (resolvePath(settings, path) === undefined) {
        violations.push(`${unit.where}: settings lookup ${path.join('.')} does not exist in the settings generated from the CDK app`);
      }
    }
    for (const [call, value] of unit.literal_names) {
      violations.push(`${unit.where}: ${call} is given the literal ${JSON.stringify(value)}; read it from lab-settings.json`);
    }
    for (const value of unit.strings) {
      const kind = contractValues.get(value);
      if (kind) violations.push(`${unit.where}: hard-codes the ${kind} ${JSON.stringify(value)}; read it from lab-settings.json`);
    }
    texts.push({ where: unit.where, text: [...unit.strings, ...unit.magics].join('\n') });
  }

  for (const { where, text } of texts) {
    for (const match of text.matchAll(STACK_WORD)) {
      if (!contract.stackNames.includes(match[0])) {
        violations.push(`${where}: names a stack ${match[0]} that the CDK app does not have (stacks: ${contract.stackNames.join(', ')})`);
      }
    }
    for (const match of text.matchAll(SECRET_WORD)) {
      if (match[0] !== contract.secretName) {
        violations.push(`${where}: names a secret ${match[0]}; the app's MLflow secret is ${contract.secretName}`);
      }
    }
    for (const match of text.matchAll(MLFLOW_PIN)) {
      if (match[1] !== contract.mlflowVersion) {
        violations.push(`${where}: pins mlflow==${match[1]}; the server runs ${contract.mlflowVersion}`);
      }
    }
    for (const match of text.matchAll(SAGEMAKER_PIN)) {
      if (match[1].replace(/\s/g, '') !== `==${contract.sagemakerSdkVersion}`) {
        violations.push(`${where}: names sagemaker${match[1]}; the lab pins sagemaker==${contract.sagemakerSdkVersion}`);
      }
    }
  }
  return violations;
}
