/**
 * Command-line options shared by every command, and the platform configuration as the CDK app will see it:
 * cdk.json context, then cdk.context.json, then `-c key=value` (last wins), then environment variables.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, ParseArgsConfig } from 'node:util';
import { loadPlatformConfig } from '../app/config/load';
import { PlatformConfig } from '../app/config/platform-config';
import { CliDeps } from './deps';
import { CliError, EXIT } from './errors';

/** parseArgs options every command accepts. */
export const COMMON_OPTIONS = {
  region: { type: 'string' },
  profile: { type: 'string' },
  context: { type: 'string', short: 'c', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export interface CommonOptions {
  readonly region?: string;
  readonly profile?: string;
  /** `-c key=value` pairs in the order given, plus `--region` as `region`. */
  readonly context: Readonly<Record<string, string>>;
  readonly help: boolean;
}

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Parses a command's arguments with util.parseArgs; unknown options and stray positionals are usage errors. */
export function parseCommandArgs<T extends OptionSpec>(command: string, args: readonly string[], extra: T) {
  try {
    const parsed = parseArgs({ args: [...args], options: { ...COMMON_OPTIONS, ...extra }, strict: true, allowPositionals: false });
    return parsed.values;
  } catch (error) {
    throw new CliError(`${command}: ${(error as Error).message}`, EXIT.usage, `Run \`npx mlflow-on-aws ${command} --help\` for the options.`);
  }
}

/** Like parseCommandArgs, for a command that also takes positional arguments (`users add NAME`). */
export function parseCommandArgsWithPositionals<T extends OptionSpec>(command: string, args: readonly string[], extra: T) {
  try {
    return parseArgs({ args: [...args], options: { ...COMMON_OPTIONS, ...extra }, strict: true, allowPositionals: true });
  } catch (error) {
    throw new CliError(`${command}: ${(error as Error).message}`, EXIT.usage, `Run \`npx mlflow-on-aws ${command} --help\` for the options.`);
  }
}

export function commonOptions(values: { region?: unknown; profile?: unknown; context?: unknown; help?: unknown }): CommonOptions {
  const context = parseContextPairs((values.context as string[] | undefined) ?? []);
  const region = values.region as string | undefined;
  if (region !== undefined) context.region = region;
  return { region, profile: values.profile as string | undefined, context, help: values.help === true };
}

export function parseContextPairs(pairs: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`Context value "${pair}" is not key=value.`, EXIT.usage, 'Example: -c sagemaker=both');
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

/** The CDK context files of the project, merged as the CDK CLI does (cdk.context.json over cdk.json). */
export function readProjectContext(projectRoot: string): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const file of ['cdk.json', 'cdk.context.json']) {
    const full = path.join(projectRoot, file);
    if (!fs.existsSync(full)) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(full, 'utf8'));
    } catch (error) {
      throw new CliError(`Cannot read ${full}: ${(error as Error).message}`, EXIT.usage);
    }
    const context = file === 'cdk.json' ? (parsed as { context?: Record<string, unknown> }).context : parsed;
    Object.assign(merged, context ?? {});
  }
  return merged;
}

/** The validated configuration the CDK app will build from, given these command-line context values. */
export function loadCliConfig(deps: CliDeps, context: Readonly<Record<string, string>>): PlatformConfig {
  const all = { ...readProjectContext(deps.projectRoot), ...context };
  return loadPlatformConfig({ getAllContext: () => all }, deps.env);
}

/** `-c key=value` arguments to hand the same context to the CDK CLI. */
export function contextArgs(context: Readonly<Record<string, string>>): string[] {
  return Object.entries(context).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
}
