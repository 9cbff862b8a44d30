import { environmentVariables } from './declare';
import { ConfigError, PlatformConfig, RawSettings, resolvePlatformConfig, SETTING_NAMES, SETTINGS } from './platform-config';

/** The part of a construct node the loader needs: CDK context (cdk.json, cdk.context.json and `-c key=value`). */
export interface ContextSource {
  getAllContext(): Record<string, unknown>;
}

/** Environment variables the app honours, as in the original sample, and the setting each feeds (from `env` of SETTINGS). */
export const ENVIRONMENT_SETTINGS: ReadonlyArray<{ variable: string; setting: keyof PlatformConfig }> = environmentVariables(SETTINGS);

const KNOWN_SETTINGS = new Set<string>(SETTING_NAMES);

/**
 * Reads settings in this order, first found wins: CDK context (`-c key=value`, then cdk.json),
 * the environment variables above, then the defaults. Called once, in `bin/`.
 */
export function loadPlatformConfig(context: ContextSource, env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  return resolvePlatformConfig(givenSettings(context, env) as RawSettings);
}

/**
 * The settings as given, before any default: the values `loadPlatformConfig` resolves, in its order (CDK context, then
 * the environment variables above). An empty value counts as not given when resolved. Unknown setting names are refused.
 */
export function givenSettings(context: ContextSource, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const contextValues = context.getAllContext();
  rejectUnknownSettings(contextValues);

  const raw: Record<string, unknown> = {};
  for (const { variable, setting } of ENVIRONMENT_SETTINGS) {
    if (raw[setting] === undefined && env[variable] !== undefined && env[variable] !== '') raw[setting] = env[variable];
  }
  for (const name of SETTING_NAMES) {
    if (contextValues[name] !== undefined) raw[name] = contextValues[name];
  }
  return raw;
}

/**
 * A misspelt `-c` key would otherwise be silently ignored. CDK's own context keys carry a colon,
 * an "@" or a hyphen (feature flags, `aws:cdk:*`, `acknowledged-issue-numbers`), so only plain
 * camelCase keys are ours to check.
 */
function rejectUnknownSettings(contextValues: Record<string, unknown>): void {
  for (const key of Object.keys(contextValues)) {
    if (/^[a-z][A-Za-z0-9]*$/.test(key) && !KNOWN_SETTINGS.has(key)) {
      throw new ConfigError(key, contextValues[key], `a known setting name instead of "${key}": ${[...KNOWN_SETTINGS].sort().join(', ')}`);
    }
  }
}
