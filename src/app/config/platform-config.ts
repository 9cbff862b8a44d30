/**
 * The one configuration object of the app, derived from the declarations in src/app/config/settings.ts.
 *
 * `resolvePlatformConfig` turns raw settings (strings from CDK context or environment variables, or
 * already typed values) into a frozen, validated `PlatformConfig`. A bad value throws a `ConfigError`
 * naming the setting, the value and what is allowed; nothing else in the app reads context or env.
 */
import { ConfigOf, RawOf, resolveSettings } from './declare';
import { SETTINGS } from './settings';

export { ConfigError } from './declare';
export {
  FARGATE_TASK_SIZES, LOG_RETENTION_DAYS, MIN_MEMORY_WITH_BACKGROUND_JOBS_MIB, SAGEMAKER_CHOICES, SAMPLE_DATABASE, SETTINGS,
  type SageMakerChoice,
} from './settings';

/** Every setting, typed by its parser; a setting without a default (or whose default may be unset) is optional. */
export type PlatformConfig = ConfigOf<typeof SETTINGS>;

/** Raw settings as they arrive from CDK context (`-c key=value` gives strings) or from code (typed values). */
export type RawSettings = RawOf<typeof SETTINGS>;

/** The name of every setting, in declaration order. */
export const SETTING_NAMES: readonly (keyof PlatformConfig)[] = Object.freeze(Object.keys(SETTINGS) as (keyof PlatformConfig)[]);

/** Builds the validated configuration; unknown keys are ignored here (the loader rejects them). */
export function resolvePlatformConfig(raw: RawSettings = {}): PlatformConfig {
  return resolveSettings(SETTINGS, raw);
}

/** The configuration when nothing is set: every default, and `undefined` for the settings that are unset unless given. */
export const DEFAULT_CONFIG: PlatformConfig = resolvePlatformConfig();
