/**
 * The project's releases whose templates are kept under test (test/transitions/baselines/<version>/<config>/): the
 * update from each to HEAD must pass the transition check. Add a release here when it is tagged, then run
 * `npm run transitions:baselines` to synthesize its templates (docs/guides/upgrades.md).
 */
import { compareVersions } from '../app/versions';

export interface Release {
  readonly version: string;
  /** The commit the release was cut from. */
  readonly commit: string;
  readonly date: string;
  /** The file (under the repository root) that exports `configureApp(app, env)` at that commit. */
  readonly entry: string;
}

export const RELEASES: readonly Release[] = [
  { version: '0.1.0', commit: '5a18456', date: '2026-11-24', entry: 'src/main.ts' },
  { version: '0.2.0', commit: 'aa09358', date: '2026-11-26', entry: 'src/app.ts' },
];

/**
 * The configurations the releases' templates are kept for: the default deployment, one with every SageMaker stack, the
 * lean profile and personal accounts (the profile and the access mode change what an update touches most: the lean
 * network and Cloud Map front door, the sleep function; the authentication database and its upgrade).
 */
export const BASELINE_CONFIGURATIONS: Readonly<Record<string, Record<string, unknown>>> = {
  defaults: {},
  'sagemaker-both': { sagemaker: 'both' },
  lean: { profile: 'lean' },
  users: { auth: 'users' },
};

/** The first release a configuration exists in, where it is not the first release of all (0.1.0 had neither). */
const FIRST_RELEASE: Readonly<Record<string, string>> = { lean: '0.2.0', users: '0.2.0' };

/** The baseline configurations `release` has templates for: those that existed in it. */
export function configurationsOf(release: Release): string[] {
  return Object.keys(BASELINE_CONFIGURATIONS).filter((config) => !FIRST_RELEASE[config] || compareVersions(release.version, FIRST_RELEASE[config]) >= 0);
}
