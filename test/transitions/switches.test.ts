/**
 * Every switch docs/guides/upgrading-mlflow.md calls supported, on a deployed stack, both ways (HEAD configuration A → HEAD configuration
 * B, each with both SageMaker stacks so that every importer is there): the transition check passes, or the switch is in
 * src/transition/refused.ts (deploy refuses it) and then the check does find problems (the refusal is needed) and the
 * refusal's "what to do" passes. B is B's settings as `deploy` makes them over A (`database` pinned to A's engine unless
 * B gives it: pinnedSettings). Each configuration is synthesized once.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configureApp } from '../../src/app/app';
import { RawSettings, resolvePlatformConfig } from '../../src/app/config/platform-config';
import { STACK_NAMES } from '../../src/app/names';
import { Assembly, synthesizeAssembly } from '../../src/transition/assembly';
import { checkUpdate } from '../../src/transition/check';
import { INTENDED_REPLACEMENTS } from '../../src/transition/intended-replacements';
import { deployedDatabase, deployedProfile, pinnedSettings, REFUSED_TRANSITIONS, refusedTransition } from '../../src/transition/refused';
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
  'auth=sso (own provider)': { ...BASE, auth: 'sso', ssoIssuerUrl: 'https://example.okta.com/oauth2/default', ssoClientId: '0oa123' },
  'auth=sso (Cognito), custom domain': {
    ...BASE, auth: 'sso', domainName: 'mlflow.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com',
  },
  servingImage: { ...BASE, servingImage: true },
  'taskArchitecture=arm64': { ...BASE, taskArchitecture: 'arm64' },
  'imageBuild=local': { ...BASE, imageBuild: 'local' },
  'sleepAfterMinutes=20': { ...BASE, sleepAfterMinutes: 20 },
  'lean, always on': { ...BASE, profile: 'lean', sleepAfterMinutes: 0 },
  'custom domain': { ...BASE, domainName: 'mlflow.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' },
  'lean, aurora': { ...BASE, profile: 'lean', database: 'aurora' },
  'lean, sqlite': { ...BASE, profile: 'lean', database: 'sqlite' },
  'sqlite, backup, monitoring': { ...BASE, database: 'sqlite', backup: true },
};

/** The supported switches (docs/guides/upgrading-mlflow.md): [what, configuration A, configuration B], each checked A → B and B → A. */
const SWITCHES: ReadonlyArray<readonly [string, string, string]> = [
  ['profile standard ↔ lean', 'standard', 'lean'],
  ['monitoring on ↔ off', 'standard', 'monitoring off'],
  ['monitoring on ↔ off (lean)', 'lean, monitoring', 'lean'],
  ['backup on ↔ off', 'standard', 'backup'],
  ['auth shared ↔ users', 'standard', 'auth=users'],
  ['auth users ↔ sso (own provider): the permission schema, database and bucket stay', 'auth=users', 'auth=sso (own provider)'],
  ['auth shared ↔ sso with the stack\'s Cognito pool (custom domain)', 'custom domain', 'auth=sso (Cognito), custom domain'],
  ['servingImage off ↔ on', 'standard', 'servingImage'],
  ['servingImage on ↔ off (lean, monitoring: the x86 build project comes and goes)', 'lean, monitoring, servingImage', 'lean, monitoring'],
  ['taskArchitecture x86_64 ↔ arm64', 'standard', 'taskArchitecture=arm64'],
  ['imageBuild codebuild ↔ local', 'standard', 'imageBuild=local'],
  ['custom domain off ↔ on', 'standard', 'custom domain'],
  ['sleepAfterMinutes off ↔ on (standard)', 'standard', 'sleepAfterMinutes=20'],
  ['sleepAfterMinutes on ↔ off (lean)', 'lean', 'lean, always on'],
  ['backup and monitoring on ↔ off with sqlite (standard profile)', 'sqlite, backup, monitoring', 'lean'],
];

describe('supported switches on a deployed stack', () => {
  const synthesized: Record<string, Assembly> = {};
  const bySettings = new Map<string, Assembly>();
  const synth = (settings: RawSettings): Assembly => {
    const key = JSON.stringify(settings);
    if (!bySettings.has(key)) bySettings.set(key, synthesizeAssembly(REPO_ROOT, settings, (app) => configureApp(app, {})));
    return bySettings.get(key)!;
  };
  before(() => {
    for (const [name, settings] of Object.entries(CONFIGURATIONS)) synthesized[name] = synth(settings);
  });

  for (const [what, a, b] of SWITCHES) {
    for (const [from, to] of [[a, b], [b, a]]) {
      test(`${what}: ${from} → ${to}`, () => {
        const deployed = synthesized[from];
        const settings = pinnedSettings(deployed.stacks, CONFIGURATIONS[to]);
        const next = synth(settings);
        const problems = checkUpdate(deployed, next, { intended: INTENDED_REPLACEMENTS });
        const refused = refusedTransition(deployed.stacks, resolvePlatformConfig(settings));
        if (!refused) {
          assert.deepEqual(problems, [], 'passes the transition check (or add it to src/transition/refused.ts)');
          return;
        }
        assert.notDeepEqual(problems, [], `refused (${refused.rule.id}), but the transition check finds nothing: drop the refusal`);
        // The refusal's way through: the stacks it names deleted, then the deploy.
        const remaining = Object.fromEntries(Object.entries(deployed.stacks).filter(([stack]) => stack === STACK_NAMES.mlflow));
        assert.equal(refusedTransition(remaining, resolvePlatformConfig(settings)), undefined, 'deploy goes ahead once the named stacks are deleted');
        assert.deepEqual(checkUpdate({ stacks: remaining, order: [STACK_NAMES.mlflow] }, next, { intended: INTENDED_REPLACEMENTS }), [], 'what to do passes');
      });
    }
  }

  test('deployedProfile reads the profile from the deployed MLflowVpcStack', () => {
    assert.equal(deployedProfile(synthesized.standard.stacks), 'standard');
    assert.equal(deployedProfile(synthesized.lean.stacks), 'lean');
    assert.equal(deployedProfile({}), undefined);
  });

  test('an explicit move of the database engine is refused either way, in one line; keeping the engine passes', () => {
    assert.equal(deployedDatabase(synthesized['lean, aurora'].stacks), 'aurora');
    assert.equal(deployedDatabase(synthesized['lean, sqlite'].stacks), 'sqlite');
    assert.equal(deployedDatabase(synthesized.standard.stacks), 'aurora');
    assert.equal(deployedDatabase({}), undefined);
    for (const [from, to, deployedEngine] of [['lean, aurora', 'lean, sqlite', 'aurora'], ['lean, sqlite', 'lean, aurora', 'sqlite'], ['standard', 'sqlite, backup, monitoring', 'aurora']] as const) {
      const deployed = synthesized[from].stacks;
      const refused = refusedTransition(deployed, resolvePlatformConfig(pinnedSettings(deployed, CONFIGURATIONS[to])));
      assert.equal(refused?.rule.id, 'database', `${from} → ${to}`);
      assert.match(refused!.message, /^Refused: database aurora ↔ sqlite on a deployed stack \(.*\)\. What to do: no command moves the data between the engines yet: keep the deployed engine, .*-c database=aurora .*-c database=sqlite .*\.$/);
      assert.ok(!refused!.message.includes('\n'));
      // What to do: the same settings without the engine (deploy keeps the deployed one) are not refused, and pass the check.
      const { database: _, ...kept } = CONFIGURATIONS[to] as Record<string, unknown>;
      const keptSettings = pinnedSettings(deployed, kept);
      assert.equal(keptSettings.database, deployedEngine);
      assert.equal(refusedTransition(deployed, resolvePlatformConfig(keptSettings)), undefined);
      assert.deepEqual(checkUpdate(synthesized[from], synth(keptSettings), { intended: INTENDED_REPLACEMENTS }), [], `${from} → ${to} keeping ${deployedEngine}`);
    }
    assert.equal(refusedTransition({}, resolvePlatformConfig(CONFIGURATIONS['lean, sqlite'])), undefined, 'a first deploy is never refused');
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
