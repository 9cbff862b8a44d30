/**
 * A deployment's templates as the transition check reads them: each stack's template by stack name, and the order
 * `cdk deploy --all` deploys them in (dependencies first). Read from a cloud assembly (`cdk.out`), from a checked-in
 * baseline directory, or synthesized in memory from the app with cdk.json's context, as `cdk deploy` does.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';

/** A CloudFormation template (JSON). */
export type Template = { Resources?: Record<string, any>; Outputs?: Record<string, any>; [section: string]: any };

export interface Assembly {
  /** Template of each stack, by stack name. */
  readonly stacks: Readonly<Record<string, Template>>;
  /** Stack names in deploy order (each after the stacks it depends on). */
  readonly order: readonly string[];
}

/** File of a baseline directory that lists the stacks in deploy order; every other `<stack>.json` is a template. */
export const ORDER_FILE = 'deploy-order.json';

/** Orders `names` so that each comes after its `dependencies` (stable: otherwise in the given order). */
export function deployOrder(names: readonly string[], dependencies: (name: string) => readonly string[]): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (order.includes(name)) return;
    if (visiting.has(name)) throw new Error(`Stack dependency cycle through ${name}.`);
    visiting.add(name);
    for (const dependency of dependencies(name)) if (names.includes(dependency)) visit(dependency);
    visiting.delete(name);
    order.push(name);
  };
  for (const name of names) visit(name);
  return order;
}

/** The stacks of a synthesized cloud assembly (top level; this app has no stages or nested stacks). */
export function fromCloudAssembly(assembly: cxapi.CloudAssembly): Assembly {
  const stacks = assembly.stacks;
  const byId = new Map(stacks.map((stack) => [stack.id, stack]));
  const names = stacks.map((stack) => stack.stackName);
  const dependsOn = (name: string) => {
    const stack = stacks.find((s) => s.stackName === name)!;
    return stack.dependencies.map((d) => byId.get(d.id)?.stackName).filter((n): n is string => n !== undefined);
  };
  return {
    stacks: Object.fromEntries(stacks.map((stack) => [stack.stackName, stack.template])),
    order: deployOrder(names, dependsOn),
  };
}

/** A `cdk.out` directory (has manifest.json) or a baseline directory written by `writeAssembly`. */
export function readAssembly(dir: string): Assembly {
  if (existsSync(join(dir, 'manifest.json'))) return fromCloudAssembly(new cxapi.CloudAssembly(dir));
  if (!existsSync(join(dir, ORDER_FILE))) {
    throw new Error(`${dir}: neither a cloud assembly (manifest.json) nor a baseline directory (${ORDER_FILE}).`);
  }
  const order: string[] = JSON.parse(readFileSync(join(dir, ORDER_FILE), 'utf8'));
  const files = readdirSync(dir).filter((file) => file.endsWith('.json') && file !== ORDER_FILE);
  const stacks = Object.fromEntries(files.map((file) => [file.replace(/\.json$/, ''), JSON.parse(readFileSync(join(dir, file), 'utf8'))]));
  const missing = order.filter((name) => !(name in stacks));
  if (missing.length > 0) throw new Error(`${dir}: ${ORDER_FILE} names ${missing.join(', ')}, which has no template file.`);
  return { stacks, order };
}

/**
 * Writes `assembly` as a baseline directory: `<stack>.json` per stack (compact, one line: the templates are compared
 * by the check, not read by people) and the deploy order. Replaces what was there.
 */
export function writeAssembly(assembly: Assembly, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const name of assembly.order) writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(assembly.stacks[name])}\n`);
  writeFileSync(join(dir, ORDER_FILE), `${JSON.stringify(assembly.order, null, 1)}\n`);
}

/**
 * The context `cdk deploy` gives the app: cdk.json's (feature flags, which change the templates), the construct-path
 * metadata and CDKMetadata the CLI turns on by default, then the configuration's settings.
 */
export function cliContext(repoRoot: string, settings: Record<string, unknown>): Record<string, unknown> {
  return {
    ...JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')).context,
    [cxapi.PATH_METADATA_ENABLE_CONTEXT]: true,
    [cxapi.ANALYTICS_REPORTING_ENABLED_CONTEXT]: true,
    ...settings,
  };
}

/**
 * Synthesizes an app in memory with `cdk deploy`'s context for `settings`: `configure` adds the stacks (the entry the
 * app's bin/ calls, e.g. `configureApp`). A cdk-nag finding is the compliance tests' business, not this one's.
 */
export function synthesizeAssembly(
  repoRoot: string,
  settings: Record<string, unknown>,
  configure: (app: App) => unknown,
): Assembly {
  const outdir = mkdtempSync(join(tmpdir(), 'mlflow-transition-'));
  try {
    const app = new App({ outdir, context: cliContext(repoRoot, settings) });
    configure(app);
    let assembly: cxapi.CloudAssembly;
    try {
      assembly = app.synth();
    } catch (error) {
      if (!/Validation failed/.test(String(error))) throw error;
      assembly = new cxapi.CloudAssembly(outdir);
    }
    return fromCloudAssembly(assembly);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
