/**
 * Every switch docs/guides/upgrading-mlflow.md calls supported, on a deployed stack, both ways (HEAD configuration A → HEAD configuration
 * B, each with both SageMaker stacks so that every importer is there): the transition check passes, or the switch is in
 * src/transition/refused.ts (deploy refuses it) and then the check does find problems (the refusal is needed) and the
 * refusal's "what to do" passes. Each configuration is synthesized once.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configureApp } from '../../src/app/app';
import { RawSettings, resolvePlatformConfig } from '../../src/app/config/platform-config';
import { STACK_NAMES } from '../../src/app/names';
import { Assembly, synthesizeAssembly } from '../../src/transition/assembly';
import { checkUpdate } from '../../src/transition/check';
import { INTENDED_REPLACEMENTS } from '../../src/transition/intended-replacements';
import { deployedProfile, REFUSED_TRANSITIONS, refusedTransition } from '../../src/transition/refused';
import { REPO_ROOT } from '../support/python-env';

const BASE: RawSettings = { sagemaker: 'both' };
const CONFIGURATIONS: Record<string, RawSettings> = {
  standard: BASE,
  lean: { ...BASE, profile: 'lean' },
  'monitoring off': { ...BASE, monitoring: false },
  'lean, monitoring': { ...BASE, profile: 'lean', monitoring: true },
  'lean, monitoring, servingImage': { ...BASE, profile: 'lean', monitoring: true, servingImage: true },
  backup: { ...BASE, backup: true },
  'auth=users': { ...BASE, auth: 'users' },
  servingImage: { ...BASE, servingImage: true },
  'taskArchitecture=arm64': { ...BASE, taskArchitecture: 'arm64' },
  'imageBuild=local': { ...BASE, imageBuild: 'local' },
  'sleepAfterMinutes=20': { ...BASE, sleepAfterMinutes: 20 },
  'lean, always on': { ...BASE, profile: 'lean', sleepAfterMinutes: 0 },
  'custom domain': { ...BASE, domainName: 'mlflow.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' },
};

/** The supported switches (docs/guides/upgrading-mlflow.md): [what, configuration A, configuration B], each checked A → B and B → A. */
const SWITCHES: ReadonlyArray<readonly [string, string, string]> = [
  ['profile standard ↔ lean', 'standard', 'lean'],
  ['monitoring on ↔ off', 'standard', 'monitoring off'],
  ['monitoring on ↔ off (lean)', 'lean, monitoring', 'lean'],
  ['backup on ↔ off', 'standard', 'backup'],
  ['auth shared ↔ users', 'standard', 'auth=users'],
  ['servingImage off ↔ on', 'standard', 'servingImage'],
  ['servingImage on ↔ off (lean, monitoring: the x86 build project comes and goes)', 'lean, monitoring, servingImage', 'lean, monitoring'],
  ['taskArchitecture x86_64 ↔ arm64', 'standard', 'taskArchitecture=arm64'],
  ['imageBuild codebuild ↔ local', 'standard', 'imageBuild=local'],
  ['custom domain off ↔ on', 'standard', 'custom domain'],
  ['sleepAfterMinutes off ↔ on (standard)', 'standard', 'sleepAfterMinutes=20'],
  ['sleepAfterMinutes on ↔ off (lean)', 'lean', 'lean, always on'],
];

describe('supported switches on a deployed stack', () => {
  const synthesized: Record<string, Assembly> = {};
  before(() => {
    for (const [name, settings] of Object.entries(CONFIGURATIONS)) {
      synthesized[name] = synthesizeAssembly(REPO_ROOT, settings, (app) => configureApp(app, {}));
    }
  });

  for (const [what, a, b] of SWITCHES) {
    for (const [from, to] of [[a, b], [b, a]]) {
      test(`${what}: ${from} → ${to}`, () => {
        const deployed = synthesized[from];
        const problems = checkUpdate(deployed, synthesized[to], { intended: INTENDED_REPLACEMENTS });
        const refused = refusedTransition(deployed.stacks, resolvePlatformConfig(CONFIGURATIONS[to]));
        if (!refused) {
          assert.deepEqual(problems, [], 'passes the transition check (or add it to src/transition/refused.ts)');
          return;
        }
        assert.notDeepEqual(problems, [], `refused (${refused.rule.id}), but the transition check finds nothing: drop the refusal`);
        // The refusal's way through: the stacks it names deleted, then the deploy.
        const remaining = Object.fromEntries(Object.entries(deployed.stacks).filter(([stack]) => stack === STACK_NAMES.mlflow));
        assert.equal(refusedTransition(remaining, resolvePlatformConfig(CONFIGURATIONS[to])), undefined, 'deploy goes ahead once the named stacks are deleted');
        assert.deepEqual(checkUpdate({ stacks: remaining, order: [STACK_NAMES.mlflow] }, synthesized[to], { intended: INTENDED_REPLACEMENTS }), [], 'what to do passes');
      });
    }
  }

  test('deployedProfile reads the profile from the deployed MLflowVpcStack', () => {
    assert.equal(deployedProfile(synthesized.standard.stacks), 'standard');
    assert.equal(deployedProfile(synthesized.lean.stacks), 'lean');
    assert.equal(deployedProfile({}), undefined);
  });

  test('every refused transition says what to do in one line, and the profile move is refused with it', () => {
    for (const rule of REFUSED_TRANSITIONS) assert.ok(rule.whatToDo.length > 0 && !rule.whatToDo.includes('\n'), rule.id);
    const refused = refusedTransition(synthesized.standard.stacks, resolvePlatformConfig(CONFIGURATIONS.lean));
    assert.equal(refused?.rule.id, 'profile');
    assert.match(refused!.message, /^Refused: profile standard ↔ lean .*What to do: back up .* delete SageMakerNotebookInstanceStack, SageMakerStudioUserStack, HttpGatewayStack .*\.$/);
    assert.ok(!refused!.message.includes('\n'));
    assert.equal(refusedTransition({}, resolvePlatformConfig(CONFIGURATIONS.lean)), undefined, 'a first deploy is never refused');
  });
});
