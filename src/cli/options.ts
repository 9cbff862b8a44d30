/**
 * The options shared by every command (declared in ./spec.ts), and the platform configuration as the CDK app will see it:
 * cdk.json context, then cdk.context.json, then `-c key=value` (last wins), then environment variables.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContextSource, givenSettings, loadPlatformConfig } from '../app/config/load';
import { PlatformConfig } from '../app/config/platform-config';
import { PROFILES } from '../app/config/settings';
import { CliDeps } from './deps';
import { CliError, EXIT } from './errors';
import { COMMON_OPTIONS, CommandSpec, OptionDefs, parseCommand, ParsedValues } from './spec';

export interface CommonOptions {
  /** `--region`. */
  readonly region?: string;
  /** `--profile`: the named AWS profile. */
  readonly profile?: string;
  /** `-c key=value` pairs in the order given, plus `--region` as `region` and `--platform-profile` as `profile`. */
  readonly context: Readonly<Record<string, string>>;
  readonly help: boolean;
}

/** The options every command takes (see COMMON_OPTIONS in ./spec.ts), from util.parseArgs' values. */
export function commonOptions(values: ParsedValues<typeof COMMON_OPTIONS>): CommonOptions {
  const context = parseContextPairs(values.context ?? []);
  const { region, profile } = values;
  if (region !== undefined) context.region = region;
  const platformProfile = values['platform-profile'];
  if (platformProfile !== undefined) {
    if (context.profile !== undefined && context.profile !== platformProfile) {
      throw new CliError(`--platform-profile ${platformProfile} and -c profile=${context.profile} disagree.`, EXIT.usage, 'Give the platform profile once: --platform-profile NAME or -c profile=NAME.');
    }
    context.profile = platformProfile;
  }
  if (profile !== undefined && (PROFILES as readonly string[]).includes(profile)) {
    throw new CliError(
      `--profile ${profile}: --profile names an AWS profile (of ~/.aws/config, as for the AWS CLI), and "${profile}" is a platform profile.`,
      EXIT.usage,
      `For the platform profile: --platform-profile ${profile} (or -c profile=${profile}). For an AWS profile that really is named "${profile}": AWS_PROFILE=${profile} npx mlflow-on-aws ...`,
    );
  }
  return { region, profile, context, help: values.help === true };
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
  return loadPlatformConfig(cliContext(deps, context), deps.env);
}

/** The settings the user gave (cdk.json, cdk.context.json, these `-c` values, the environment), before any default. */
export function givenCliSettings(deps: CliDeps, context: Readonly<Record<string, string>>): Record<string, unknown> {
  return givenSettings(cliContext(deps, context), deps.env);
}

/** The CDK context as the CDK CLI will see it: the project's context files, then `-c key=value` (last wins). */
function cliContext(deps: CliDeps, context: Readonly<Record<string, string>>): ContextSource {
  const all = { ...readProjectContext(deps.projectRoot), ...context };
  return { getAllContext: () => all };
}

/**
 * Whether the user confirmed: at once with `yes` (--yes); otherwise the answer on the terminal, "yes" or "y". With no
 * terminal and no --yes, refused (exit 2): `subject` names what needs the confirmation.
 */
export async function confirmed(deps: CliDeps, yes: boolean, subject: string, question: string): Promise<boolean> {
  if (yes) return true;
  if (!deps.interactive) throw new CliError(`${subject} needs confirmation, and there is no terminal to ask.`, EXIT.usage, 'Pass --yes to confirm non-interactively.');
  const answer = (await deps.prompter.ask(question)).trim().toLowerCase();
  return answer === 'yes' || answer === 'y';
}

/** `-c key=value` arguments to hand the same context to the CDK CLI. */
export function contextArgs(context: Readonly<Record<string, string>>): string[] {
  return Object.entries(context).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
}

/** A command's parsed values and its common options (`--region`, `--profile`, `--platform-profile`, `-c`). */
export function parseCommandOptions<O extends OptionDefs>(spec: CommandSpec<O>, args: readonly string[]) {
  const { values, positionals } = parseCommand(spec, args);
  return { values, positionals, options: commonOptions(values) };
}
