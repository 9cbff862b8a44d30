/**
 * Writes lab/lab-settings.json, the only place the SageMaker lab (lab/) learns the names of the
 * deployed system, and keeps the exact pins of the lab's requirements files (the MLflow client at the
 * server's version, the SageMaker Python SDK at src/lib/sagemaker/lab-packages.ts's) equal to the app's.
 *
 * Everything comes from the CDK app: stack names and output keys from src/app/names.ts, the MLflow
 * version, secret name and default region from the platform configuration (defaults plus the
 * `context` block of cdk.json when there is one, exactly as `cdk synth` reads them without `-c`),
 * the SageMaker SDK release from src/lib/sagemaker/lab-packages.ts.
 *
 *   npm run lab:settings             rewrite the files
 *   npm run lab:settings -- --check  exit 1 and list the differences, write nothing
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { GATEWAY_OUTPUTS, MLFLOW_OUTPUTS, STACK_NAMES } from '../src/app/names';
import { loadPlatformConfig } from '../src/app/config/load';
import { LabPackagePins, labPackagePins } from '../src/lib/sagemaker/lab-packages';
import { PlatformConfig } from '../src/app/config/platform-config';

export const REPO_ROOT = resolve(__dirname, '..');
export const LAB_SETTINGS_PATH = join(REPO_ROOT, 'lab', 'lab-settings.json');
/**
 * Requirements files of the lab and the packages each pins exactly: the notebook kernel's (MLflow client and
 * SageMaker SDK) and the training job's (the MLflow client; the SDK is not needed inside the job).
 */
export const LAB_REQUIREMENTS: ReadonlyArray<{ readonly path: string; readonly packages: ReadonlyArray<keyof LabPackagePins> }> = [
  { path: join(REPO_ROOT, 'lab', 'requirements.txt'), packages: ['mlflow', 'sagemaker'] },
  { path: join(REPO_ROOT, 'lab', 'training', 'requirements.txt'), packages: ['mlflow'] },
];
export const LAB_REQUIREMENTS_PATHS = LAB_REQUIREMENTS.map((file) => file.path);

/**
 * Matches a requirement line for exactly the package `name` with any version specifier or none (`mlflow`,
 * `mlflow==3.1.0`, `sagemaker>=2.200,<3`, `mlflow[extras]==X ; marker`), not `mlflow-skinny` and friends.
 */
export function requirementLine(name: string): RegExp {
  return new RegExp(`^${name.replace(/[-_.]/g, '[-_.]')}(\\[[^\\]]*\\])?\\s*([<>=!~][^;#]*)?(;.*)?$`, 'i');
}

/** Matches a requirement line for the MLflow client, not mlflow-skinny and friends. */
export const MLFLOW_REQUIREMENT_LINE = requirementLine('mlflow');

export interface LabSettings {
  readonly generatedBy: string;
  readonly defaultRegion: string;
  readonly mlflowVersion: string;
  /** The SageMaker Python SDK release the lab pins (src/lib/sagemaker/lab-packages.ts). */
  readonly sagemakerSdkVersion: string;
  readonly mlflowSecretName: string;
  readonly stacks: typeof STACK_NAMES;
  readonly outputs: {
    readonly gateway: typeof GATEWAY_OUTPUTS;
    readonly mlflow: typeof MLFLOW_OUTPUTS;
  };
}

/** The configuration the deployed app would get from the repository alone (cdk.json context, no env, no -c). */
export function repositoryPlatformConfig(root: string = REPO_ROOT): PlatformConfig {
  const cdkJsonPath = join(root, 'cdk.json');
  let context: Record<string, unknown> = {};
  if (existsSync(cdkJsonPath)) {
    const parsed = JSON.parse(readFileSync(cdkJsonPath, 'utf8')) as { context?: Record<string, unknown> };
    context = parsed.context ?? {};
  }
  return loadPlatformConfig({ getAllContext: () => context }, {});
}

export function buildLabSettings(config: PlatformConfig = repositoryPlatformConfig()): LabSettings {
  return {
    generatedBy: 'scripts/generate-lab-settings.ts from src/app/names.ts and src/app/config; do not edit, run `npm run lab:settings`',
    defaultRegion: config.region,
    mlflowVersion: config.mlflowVersion,
    sagemakerSdkVersion: labPackagePins(config).sagemaker,
    mlflowSecretName: config.mlflowSecretName,
    stacks: { ...STACK_NAMES },
    outputs: {
      gateway: { ...GATEWAY_OUTPUTS },
      mlflow: { ...MLFLOW_OUTPUTS },
    },
  };
}

export function renderLabSettings(settings: LabSettings = buildLabSettings()): string {
  return `${JSON.stringify(settings, null, 2)}\n`;
}

/** Returns the requirements text with every line of package `name` pinned to `version` (other lines untouched). */
export function pinRequirement(requirements: string, name: string, version: string): string {
  const line = requirementLine(name);
  return requirements
    .split('\n')
    .map((text) => (line.test(text.trim()) ? `${name}==${version}` : text))
    .join('\n');
}

/** Returns the requirements text with every MLflow client line pinned to `version` (other lines untouched). */
export function pinMlflow(requirements: string, version: string): string {
  return pinRequirement(requirements, 'mlflow', version);
}

export interface PlannedWrite {
  readonly path: string;
  readonly current: string | undefined;
  readonly wanted: string;
}

/** Every file the generator owns (wholly or one line of it) with its current and wanted text. */
export function planLabFiles(root: string = REPO_ROOT): PlannedWrite[] {
  const config = repositoryPlatformConfig(root);
  const settings = buildLabSettings(config);
  const pins = labPackagePins(config);
  const settingsPath = join(root, relative(REPO_ROOT, LAB_SETTINGS_PATH));
  const read = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);
  const plans: PlannedWrite[] = [{ path: settingsPath, current: read(settingsPath), wanted: renderLabSettings(settings) }];
  for (const file of LAB_REQUIREMENTS) {
    const path = join(root, relative(REPO_ROOT, file.path));
    const current = read(path);
    if (current === undefined) {
      throw new Error(`${relative(root, path)} is missing: the lab needs it to pin ${file.packages.map((name) => `${name}==${pins[name]}`).join(', ')}`);
    }
    let wanted = current;
    for (const name of file.packages) {
      if (!current.split('\n').some((line) => requirementLine(name).test(line.trim()))) {
        throw new Error(`${relative(root, path)} has no "${name}==" line to pin to ${pins[name]}`);
      }
      wanted = pinRequirement(wanted, name, pins[name]);
    }
    plans.push({ path, current, wanted });
  }
  return plans;
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const stale = planLabFiles().filter((plan) => plan.current !== plan.wanted);
  for (const plan of stale) {
    const name = relative(REPO_ROOT, plan.path);
    if (check) {
      console.error(`out of date: ${name}`);
    } else {
      writeFileSync(plan.path, plan.wanted);
      console.log(`wrote ${name}`);
    }
  }
  if (check && stale.length > 0) {
    console.error('run `npm run lab:settings` and commit the result');
    return 1;
  }
  if (stale.length === 0) console.log('lab settings and requirement pins are up to date');
  return 0;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
