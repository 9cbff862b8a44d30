/**
 * Updates from every kept release (src/transition/releases.ts; templates in baselines/<version>/<config>/, written by
 * `npm run transitions:baselines`) to HEAD, for each baseline configuration the release had (defaults, sagemaker=both,
 * and from 0.2.0 the lean profile and auth=users), through the transition check with the
 * project's intended replacements and `database` pinned to the baseline's engine as `deploy` does (pinnedSettings); a fresh deploy of HEAD after a destroy; and the check's findings on the real
 * assemblies (each kind of problem, made by a one-place change of HEAD's templates).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { configureApp } from '../../src/app/app';
import { STACK_NAMES } from '../../src/app/names';
import { Assembly, readAssembly, synthesizeAssembly } from '../../src/transition/assembly';
import { checkFreshDeploy, checkUpdate } from '../../src/transition/check';
import { INTENDED_REPLACEMENTS } from '../../src/transition/intended-replacements';
import { deployedDatabase, pinnedSettings, refusedTransition } from '../../src/transition/refused';
import { resolvePlatformConfig } from '../../src/app/config/platform-config';
import { BASELINE_CONFIGURATIONS, configurationsOf, RELEASES } from '../../src/transition/releases';
import { REPO_ROOT } from '../support/python-env';

const BASELINES = path.join(__dirname, 'baselines');

/**
 * Problems the check finds today whose fix is on its way from another change (issue 21), by transition: each must
 * still be found (so a fixed one is removed from here), and nothing else may be. Empty is the goal.
 */
const OUTSTANDING: Readonly<Record<string, readonly RegExp[]>> = {
};

function assertOnly(problems: string[], key: string): void {
  const outstanding = OUTSTANDING[key] ?? [];
  const unexpected = problems.filter((line) => !outstanding.some((pattern) => pattern.test(line)));
  assert.deepEqual(unexpected, [], `${key}: problems`);
  for (const pattern of outstanding) assert.ok(problems.some((line) => pattern.test(line)), `${key}: ${pattern} is fixed: remove it from OUTSTANDING`);
}

const synth = (settings: Record<string, unknown>) => synthesizeAssembly(REPO_ROOT, settings, (app) => configureApp(app, {}));
const synthesizedFor = new Map<string, Assembly>();
/** HEAD with `settings` as `deploy` makes it over `deployed`: `database` pinned to the deployed engine unless given (each synthesized once). */
function headOver(deployed: Assembly, settings: Record<string, unknown>): Assembly {
  const pinned = pinnedSettings(deployed.stacks, settings);
  const key = JSON.stringify(pinned);
  if (!synthesizedFor.has(key)) synthesizedFor.set(key, synth(pinned));
  return synthesizedFor.get(key)!;
}
/** A copy of `assembly` with `edit` applied to one stack's template. */
function edited(assembly: Assembly, stack: string, edit: (template: any) => void): Assembly {
  const copy = structuredClone(assembly) as Assembly;
  edit((copy.stacks as any)[stack]);
  return copy;
}

describe('release baselines', () => {
  const head: Record<string, Assembly> = {};
  before(() => {
    for (const [config, settings] of Object.entries(BASELINE_CONFIGURATIONS)) head[config] = synth(settings);
  });

  test('every kept release has its templates checked in', () => {
    for (const release of RELEASES) {
      for (const config of configurationsOf(release)) {
        assert.ok(existsSync(path.join(BASELINES, release.version, config, 'deploy-order.json')), `${release.version}/${config}: run npm run transitions:baselines -- ${release.version}`);
      }
    }
  });

  test('the lean and users baselines are what they are named: no load balancer, Cloud Map; MLflow in users mode', () => {
    for (const release of RELEASES.filter((r) => configurationsOf(r).includes('lean'))) {
      const text = (config: string) => JSON.stringify(readAssembly(path.join(BASELINES, release.version, config)).stacks[STACK_NAMES.mlflow]);
      assert.doesNotMatch(text('lean'), /AWS::ElasticLoadBalancingV2::LoadBalancer/, `${release.version}/lean has no load balancer`);
      assert.match(text('lean'), /AWS::ServiceDiscovery::Service/, `${release.version}/lean registers in Cloud Map`);
      assert.match(text('users'), /"Name":"MLFLOW_AUTH","Value":"users"/, `${release.version}/users runs MLflow in users mode`);
    }
  });

  test('every release\'s entry file exists at its commit (npm run transitions:baselines imports it there)', (t) => {
    for (const release of RELEASES) {
      if (spawnSync('git', ['cat-file', '-e', `${release.commit}^{commit}`], { cwd: REPO_ROOT }).status !== 0) {
        t.skip(`commit ${release.commit} is not in this clone`);
        return;
      }
      const entry = spawnSync('git', ['cat-file', '-e', `${release.commit}:${release.entry}`], { cwd: REPO_ROOT });
      assert.equal(entry.status, 0, `${release.version}: ${release.entry} exists at ${release.commit}`);
    }
  });

  for (const release of RELEASES) {
    for (const config of configurationsOf(release)) {
      test(`update ${release.version} (${release.commit}) → HEAD, ${config}`, () => {
        const deployed = readAssembly(path.join(BASELINES, release.version, config));
        const problems = checkUpdate(deployed, headOver(deployed, BASELINE_CONFIGURATIONS[config]), { intended: INTENDED_REPLACEMENTS });
        assertOnly(problems, `${release.version}/${config}`);
      });
    }
  }

  test('fresh deploy of HEAD after a destroy: defaults, sagemaker=both, backup, lean (database=sqlite: its retained replica bucket has a generated name)', () => {
    assertOnly(checkFreshDeploy(head.defaults), 'fresh defaults');
    assertOnly(checkFreshDeploy(head.lean), 'fresh lean');
    assertOnly(checkFreshDeploy(head['sagemaker-both']), 'fresh sagemaker-both');
    assertOnly(checkFreshDeploy(synth({ backup: true })), 'fresh backup');
  });

  test('the 0.2.0 lean baseline keeps Aurora: HEAD lean over it is pinned to database=aurora (a new lean deployment gets sqlite)', () => {
    const deployed = readAssembly(path.join(BASELINES, '0.2.0', 'lean'));
    assert.equal(deployedDatabase(deployed.stacks), 'aurora');
    assert.deepEqual(pinnedSettings(deployed.stacks, BASELINE_CONFIGURATIONS.lean), { profile: 'lean', database: 'aurora' });
    assert.match(JSON.stringify(headOver(deployed, BASELINE_CONFIGURATIONS.lean).stacks[STACK_NAMES.mlflow]), /AWS::RDS::DBCluster/);
    assert.equal(deployedDatabase(head.lean.stacks), 'sqlite', 'HEAD lean without a deployed stack');
    // Unpinned it would be an engine move (MLflow started on an empty SQLite, the data left in the kept cluster): refused.
    assert.equal(refusedTransition(deployed.stacks, resolvePlatformConfig(BASELINE_CONFIGURATIONS.lean))?.rule.id, 'database');
    assert.equal(refusedTransition(deployed.stacks, resolvePlatformConfig(pinnedSettings(deployed.stacks, BASELINE_CONFIGURATIONS.lean))), undefined);
  });

  describe('the check on the real assemblies', () => {
    test('without the kept export of the MLflow credentials secret, the update from 0.1.0 is refused (finding 1)', () => {
      const secretExport = 'MLflowVpcStack:ExportsOutputRefMlflowCredentialsSecret89FDDAF95F54BD8B';
      const dropped = edited(head.defaults, STACK_NAMES.mlflow, (template) => {
        for (const [key, output] of Object.entries<any>(template.Outputs)) if (output.Export?.Name === secretExport) delete template.Outputs[key];
      });
      assert.deepEqual(checkUpdate(readAssembly(path.join(BASELINES, '0.1.0', 'defaults')), dropped), [
        `MLflowVpcStack: export ${secretExport} removed while SageMakerStudioUserStack (deployed) imports it`,
      ]);
    });

    test('a changed create-only property of the database cluster: replaced under its fixed identifier, data lost', () => {
      const deployed = head.defaults;
      const [id] = Object.entries<any>(deployed.stacks[STACK_NAMES.mlflow].Resources!).find(([, r]) => r.Type === 'AWS::RDS::DBCluster')!;
      const next = edited(deployed, STACK_NAMES.mlflow, (template) => { template.Resources[id].Properties.DatabaseName = 'other'; });
      const problems = checkUpdate(deployed, next);
      assert.ok(problems.some((line) => line.startsWith(`MLflowVpcStack: ${id} (AWS::RDS::DBCluster) is replaced (DatabaseName) but keeps its fixed DBClusterIdentifier`)), problems.join('\n'));
      assert.ok(problems.includes(`MLflowVpcStack: ${id} (AWS::RDS::DBCluster) is replaced (DatabaseName): the MLflow database would be lost; not an intended replacement`), problems.join('\n'));
      assert.deepEqual(checkUpdate(deployed, next, { intended: [{ stack: STACK_NAMES.mlflow, resource: id, reason: 'test' }] }).filter((l) => l.includes('would be lost')), []);
    });

    test('the sso Cognito pool holds people: leaving sso keeps it (retained); were it deleted, the check would say so', () => {
      const sso = { auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc' };
      const deployed = synth(sso);
      const next = synth({ auth: 'users', domainName: sso.domainName, certificateArn: sso.certificateArn });
      assert.deepEqual(checkUpdate(deployed, next).filter((line) => line.includes('AWS::Cognito::UserPool')), []);
      const deleting = edited(deployed, STACK_NAMES.mlflow, (template) => {
        for (const resource of Object.values<any>(template.Resources)) if (resource.Type === 'AWS::Cognito::UserPool') resource.DeletionPolicy = 'Delete';
      });
      const problems = checkUpdate(deleting, next);
      assert.ok(problems.some((line) => /AWS::Cognito::UserPool\) is removed and deleted \(DeletionPolicy Delete\): its people .* would be lost/.test(line)), problems.join('\n'));
    });

    test('with weak references (defaultCrossStackReferences=weak), an output the producer drops is found', () => {
      const weak = synth({ '@aws-cdk/core:defaultCrossStackReferences': 'weak' });
      assert.deepEqual(checkUpdate(weak, weak), []);
      const read = JSON.stringify(weak.stacks[STACK_NAMES.studio]).match(/"Fn::GetStackOutput":\{"StackName":"MLflowVpcStack","Region":"[^"]+","OutputName":"([^"]+)"/);
      assert.ok(read, 'the Studio stack reads an MLflowVpcStack output with Fn::GetStackOutput');
      const next = edited(weak, STACK_NAMES.mlflow, (template) => { delete template.Outputs[read[1]]; });
      const problems = checkUpdate(weak, next);
      assert.ok(problems.includes(`MLflowVpcStack: output ${read[1]} removed; SageMakerStudioUserStack reads it with Fn::GetStackOutput`), problems.join('\n'));
    });
  });
});
