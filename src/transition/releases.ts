/**
 * The project's releases whose templates are kept under test (test/transitions/baselines/<version>/<config>/): the
 * update from each to HEAD must pass the transition check. Add a release here when it is tagged, then run
 * `npm run transitions:baselines` to synthesize its templates (docs/guides/upgrades.md).
 */
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
  { version: '0.2.0', commit: 'aa09358', date: '2026-11-26', entry: 'src/app/app.ts' },
];

/** The configurations each release's templates are kept for: its default deployment and one with every SageMaker stack. */
export const BASELINE_CONFIGURATIONS: Readonly<Record<string, Record<string, unknown>>> = {
  defaults: {},
  'sagemaker-both': { sagemaker: 'both' },
};
