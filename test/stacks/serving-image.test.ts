/**
 * servingImage=true: the platform builds the MLflow serving image for SageMaker endpoints, `mlflow-pyfunc:<MLflow
 * version>`, at deploy time in AWS CodeBuild, so that no one needs Docker (Studio has none by default, and its and the
 * notebook's security groups allow HTTPS only, while MLflow's Dockerfile fetches Ubuntu packages over HTTP).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { loadPlatformConfig } from '../../src/app/config/load';
import { ConfigError, DEFAULT_CONFIG, RawSettings, resolvePlatformConfig } from '../../src/app/config/platform-config';
import { IMAGE_BUILD_LIMITS } from '../../src/lib/service/container-images';
import { SERVING_IMAGE_BUILD_LIMITS, SERVING_IMAGE_DIR, SERVING_IMAGE_REPOSITORY } from '../../src/lib/sagemaker/serving-image';
import { synthPlatformAssets } from '../support/synth';

/** The platform stack's template and the build contexts of its deploy-time builds (the asset directories). */
function synthPlatform(settings: RawSettings) {
  const { template, manifest, outdir, cleanup } = synthPlatformAssets(settings, 'mlflow-serving-');
  const fileAssets = Object.values(manifest.contents.files ?? {}).map((file) => file.source.path);
  const dockerAssets = Object.keys(manifest.contents.dockerImages ?? {});
  return { template, fileAssets, dockerAssets, outdir, cleanup };
}

const builds = (template: Template) => Object.values(template.findResources('Custom::CDKContainerImageBuild')) as any[];
const servingBuild = (template: Template) => builds(template).find((b) => JSON.stringify(b.Properties.buildCommand).includes('MLFLOW_VERSION') && b.Properties.imageTag !== undefined);

describe('the servingImage setting', () => {
  test('is off by default', () => {
    assert.equal(DEFAULT_CONFIG.servingImage, false);
    const { template, cleanup } = synthPlatform({});
    cleanup();
    assert.equal(Object.keys(template.findResources('AWS::ECR::Repository', { Properties: { RepositoryName: SERVING_IMAGE_REPOSITORY } })).length, 0);
    assert.equal(builds(template).length, 2, 'the proxy and MLflow images only');
  });

  test('takes true or false, typed or as `-c servingImage=true` gives it', () => {
    assert.equal(resolvePlatformConfig({ servingImage: 'true' }).servingImage, true);
    assert.equal(resolvePlatformConfig({ servingImage: false }).servingImage, false);
    assert.equal(loadPlatformConfig({ getAllContext: () => ({ servingImage: 'true' }) }, {}).servingImage, true);
  });

  test('refuses anything else, naming the setting, the value and what is allowed', () => {
    for (const value of ['yes', 'on', 1, 'True ']) {
      assert.throws(() => resolvePlatformConfig({ servingImage: value }), (error: unknown) =>
        error instanceof ConfigError && error.setting === 'servingImage' && error.value === value && /true or false/.test(error.message));
    }
  });
});

describe('servingImage=true: mlflow-pyfunc:<MLflow version> built in CodeBuild at deploy time', () => {
  const { template, fileAssets, dockerAssets, outdir, cleanup } = synthPlatform({ servingImage: true, mlflowVersion: '3.17.2' });
  const contextOf = (build: any): string | undefined => {
    const key = JSON.stringify(build.Properties.sourceS3Url).match(/([0-9a-f]{64})\.zip/)?.[1];
    return key ? fileAssets.find((source) => source?.includes(key)) : undefined;
  };

  test('a repository named as MLflow looks it up, scanned on push, emptied and deleted with the stack', () => {
    const repositories = template.findResources('AWS::ECR::Repository', { Properties: { RepositoryName: SERVING_IMAGE_REPOSITORY } });
    const [repository] = Object.values(repositories) as any[];
    assert.ok(repository, 'an ECR repository mlflow-pyfunc');
    assert.equal(repository.Properties.ImageScanningConfiguration.ScanOnPush, true);
    assert.equal(repository.Properties.EmptyOnDelete, true);
    assert.equal(repository.DeletionPolicy, 'Delete');
    const rules = JSON.parse(repository.Properties.LifecyclePolicy.LifecyclePolicyText).rules;
    assert.ok(rules.some((r: any) => r.selection.tagStatus === 'untagged' && r.action.type === 'expire'));
  });

  test('the build pushes the tag <MLflow version> to it, with MLFLOW_VERSION as build argument, from containers/mlflow-pyfunc', () => {
    const build = servingBuild(template);
    assert.ok(build, JSON.stringify(builds(template).map((b) => b.Properties)));
    assert.equal(build.Properties.imageTag, '3.17.2');
    assert.match(build.Properties.buildCommand, /--build-arg MLFLOW_VERSION=3\.17\.2 .*--platform linux\/amd64/);
    const repositoryId = Object.keys(template.findResources('AWS::ECR::Repository', { Properties: { RepositoryName: SERVING_IMAGE_REPOSITORY } }))[0];
    assert.match(JSON.stringify(build.Properties.repositoryUri), new RegExp(`"Ref":"${repositoryId}"`));
    const context = contextOf(build);
    assert.ok(context, `the build's source asset among ${fileAssets.join(', ')}`);
    const dockerfile = readFileSync(path.join(outdir, context!, 'Dockerfile'), 'utf8');
    assert.equal(dockerfile, readFileSync(path.join(SERVING_IMAGE_DIR, 'Dockerfile'), 'utf8'));
  });

  test('another MLflow version builds and tags that version', () => {
    const other = synthPlatform({ servingImage: true, mlflowVersion: '3.18.0' });
    other.cleanup();
    const build = servingBuild(other.template);
    assert.equal(build.Properties.imageTag, '3.18.0');
    assert.match(build.Properties.buildCommand, /MLFLOW_VERSION=3\.18\.0/);
  });

  test('the stack\'s builds get the longer limits, and CodeBuild still ends a build before CloudFormation stops waiting', () => {
    const [project] = Object.values(template.findResources('AWS::CodeBuild::Project')) as any[];
    assert.equal(project.Properties.TimeoutInMinutes, SERVING_IMAGE_BUILD_LIMITS.build.toMinutes());
    assert.equal(project.Properties.QueuedTimeoutInMinutes, SERVING_IMAGE_BUILD_LIMITS.queued.toMinutes());
    assert.equal(builds(template).length, 3);
    for (const build of builds(template)) assert.equal(build.Properties.ServiceTimeout, String(SERVING_IMAGE_BUILD_LIMITS.serviceTimeout.toSeconds()));
    const limits = SERVING_IMAGE_BUILD_LIMITS;
    assert.ok((limits.queued.toMinutes() + limits.build.toMinutes()) * 60 < limits.serviceTimeout.toSeconds());
    assert.ok(limits.serviceTimeout.toSeconds() <= 3600, 'CloudFormation\'s maximum ServiceTimeout');
    assert.ok(limits.build.toMinutes() > IMAGE_BUILD_LIMITS.build.toMinutes());
  });

  test('with imageBuild=local the app\'s images use Docker, and the serving image is still built in CodeBuild', () => {
    const local = synthPlatform({ servingImage: true, imageBuild: 'local' });
    local.cleanup();
    assert.equal(local.dockerAssets.length, 2);
    assert.equal(builds(local.template).length, 1);
    assert.equal(servingBuild(local.template).Properties.imageTag, DEFAULT_CONFIG.mlflowVersion);
    const [project] = Object.values(local.template.findResources('AWS::CodeBuild::Project')) as any[];
    assert.equal(project.Properties.TimeoutInMinutes, SERVING_IMAGE_BUILD_LIMITS.build.toMinutes());
  });

  test('no Docker image asset for the deploying machine', () => {
    assert.deepEqual(dockerAssets, []);
    cleanup();
  });
});

describe('servingImage=true: the serving build waits for both app builds (one CodeBuild build at a time)', () => {
  for (const settings of [{ servingImage: true }, { servingImage: true, profile: 'lean', monitoring: true }] as RawSettings[]) {
    test(JSON.stringify(settings), () => {
      const { template, cleanup } = synthPlatform(settings);
      cleanup();
      const all = template.findResources('Custom::CDKContainerImageBuild') as Record<string, any>;
      const serving = Object.keys(all).find((id) => id.startsWith('ServingImage'))!;
      const app = Object.keys(all).filter((id) => id.startsWith('Images'));
      assert.equal(app.length, 2, Object.keys(all).join(', '));
      assert.deepEqual(((all[serving].DependsOn ?? []) as string[]).filter((id) => id in all).sort(), app.sort());
    });
  }
});
