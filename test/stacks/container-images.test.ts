import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { RawSettings } from '../../src/app/config/platform-config';
import { IMAGE_BUILD_LIMITS, IMAGE_TAG_PREFIXES, IMAGES_KEPT_PER_KIND } from '../../src/lib/service/container-images';
import { CONTAINER_NAMES } from '../../src/app/names';
import { synthPlatformAssets } from '../support/synth';

/** Synthesizes the platform stack and returns its template and the assets the CDK CLI would have to publish. */
function synthImages(settings: RawSettings) {
  const { template, manifest, cleanup } = synthPlatformAssets(settings, 'mlflow-images-');
  try {
    const dockerAssets = Object.values(manifest.contents.dockerImages ?? {}).map((image) => ({
      directory: image.source.directory,
      buildArgs: image.source.dockerBuildArgs,
    }));
    return { template, dockerAssets };
  } finally {
    cleanup();
  }
}

const imageOf = (template: Template, name: string) => {
  const [definition] = Object.values(template.findResources('AWS::ECS::TaskDefinition')) as any[];
  return definition.Properties.ContainerDefinitions.find((c: any) => c.Name === name).Image;
};

describe('images built in AWS CodeBuild at deploy time (the default): no Docker on the deploying machine', () => {
  const { template, dockerAssets } = synthImages({ mlflowVersion: '3.6.0' });

  test('nothing for the local Docker engine to build', () => {
    assert.deepEqual(dockerAssets, []);
  });

  test('two deploy-time builds into one ECR repository, the MLflow one with the configured version', () => {
    template.resourceCountIs('Custom::CDKContainerImageBuild', 2);
    template.resourceCountIs('AWS::ECR::Repository', 1);
    template.resourceCountIs('AWS::CodeBuild::Project', 1);
    const builds = Object.values(template.findResources('Custom::CDKContainerImageBuild')).map((r: any) => JSON.stringify(r.Properties));
    assert.equal(builds.filter((b) => b.includes('MLFLOW_VERSION=3.6.0')).length, 1, builds.join('\n'));
  });

  test('both containers run the images the builds produced', () => {
    for (const name of [CONTAINER_NAMES.proxy, CONTAINER_NAMES.mlflow]) {
      const image = JSON.stringify(imageOf(template, name));
      assert.match(image, /ImagesProxyBuild|ImagesMlflowBuild|Repository/, `${name}: ${image}`);
      assert.match(image, /ImageTag/, `${name}: ${image}`);
    }
  });

  test('a different MLflow version gives a different image tag, so the service rolls out', () => {
    const other = synthImages({ mlflowVersion: '3.5.1' }).template;
    assert.notDeepEqual(
      Object.values(other.findResources('Custom::CDKContainerImageBuild')).map((r: any) => r.Properties),
      Object.values(template.findResources('Custom::CDKContainerImageBuild')).map((r: any) => r.Properties),
    );
  });
});

describe('one deploy-time build at a time (accounts whose CodeBuild quota allows a single build)', () => {
  test('the MLflow build waits for the proxy build; the proxy build waits for no other build', () => {
    const { template } = synthImages({});
    const builds = template.findResources('Custom::CDKContainerImageBuild') as Record<string, any>;
    const idOf = (prefix: string) => Object.keys(builds).find((id) => id.startsWith(prefix))!;
    const [proxy, mlflow] = [idOf('ImagesProxyBuild'), idOf('ImagesMlflowBuild')];
    assert.ok(proxy && mlflow, Object.keys(builds).join(', '));
    const buildsIn = (id: string) => ((builds[id].DependsOn ?? []) as string[]).filter((dependency) => dependency in builds);
    assert.deepEqual(buildsIn(mlflow), [proxy]);
    assert.deepEqual(buildsIn(proxy), []);
  });
});

describe('a deploy-time build that dies holds the deployment for a bounded time', () => {
  const { template } = synthImages({});
  const [[, project]] = Object.entries(template.findResources('AWS::CodeBuild::Project')) as any[];

  test('CloudFormation gives up on each image after the service timeout (not its default hour)', () => {
    const builds = Object.values(template.findResources('Custom::CDKContainerImageBuild')) as any[];
    assert.equal(builds.length, 2);
    for (const build of builds) assert.equal(build.Properties.ServiceTimeout, String(IMAGE_BUILD_LIMITS.serviceTimeout.toSeconds()));
    assert.ok(IMAGE_BUILD_LIMITS.serviceTimeout.toSeconds() <= 3600);
  });

  test('CodeBuild ends a queued or running build before CloudFormation stops waiting for it', () => {
    const queued = project.Properties.QueuedTimeoutInMinutes;
    const build = project.Properties.TimeoutInMinutes;
    assert.equal(queued, IMAGE_BUILD_LIMITS.queued.toMinutes());
    assert.equal(build, IMAGE_BUILD_LIMITS.build.toMinutes());
    assert.ok((queued + build) * 60 < IMAGE_BUILD_LIMITS.serviceTimeout.toSeconds(), `${queued} + ${build} min`);
  });

  test('a build that fails in its build phase reports FAILED to CloudFormation, as valid JSON, with the link to its log', () => {
    // Runs the post_build commands of the synthesized buildspec with bash, as CodeBuild would after a failed build
    // phase, with a stand-in curl; then reads the report they wrote.
    const postBuild = JSON.parse(project.Properties.Source.BuildSpec).phases.post_build.commands.join('\n');
    assert.match(postBuild, /curl .*"@payload\.json" "\$responseURL"/);
    const dir = mkdtempSync(path.join(tmpdir(), 'mlflow-post-build-'));
    try {
      mkdirSync(path.join(dir, 'bin'));
      writeFileSync(path.join(dir, 'bin', 'curl'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      const run = spawnSync('bash', ['-c', postBuild], {
        cwd: dir,
        encoding: 'utf8',
        env: {
          PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
          CODEBUILD_BUILD_SUCCEEDING: '0', AWS_REGION: 'us-west-2', projectName: 'ContainerImageBuildProject',
          CODEBUILD_LOG_PATH: 'build-log-stream', stackId: 'stack', requestId: 'request', logicalResourceId: 'Image',
          imageTag: 'mlflow-0123', responseURL: 'https://example.invalid/response',
        },
      });
      assert.equal(run.status, 0, run.stderr);
      const report = JSON.parse(readFileSync(path.join(dir, 'payload.json'), 'utf8'));
      assert.equal(report.Status, 'FAILED');
      assert.equal(report.RequestId, 'request');
      assert.match(report.Reason, /^ContainerImageBuild failed\. .*https:\/\/us-west-2\.console\.aws\.amazon\.com\/cloudwatch\/.*ContainerImageBuildProject\/log-events\/build-log-stream$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the image repository does not keep every build forever', () => {
  const { template } = synthImages({});
  const builds = Object.values(template.findResources('Custom::CDKContainerImageBuild')) as any[];
  const repositories = template.findResources('AWS::ECR::Repository');
  const rulesOf = (repositoryId: string) => JSON.parse(repositories[repositoryId].Properties.LifecyclePolicy.LifecyclePolicyText).rules as any[];

  test('each image kind has its own tag prefix, and the repository it goes to keeps the last images of that prefix', () => {
    const prefixes = builds.map((b) => b.Properties.tagPrefix);
    assert.deepEqual([...prefixes].sort(), Object.values(IMAGE_TAG_PREFIXES).sort());
    for (const build of builds) {
      const repositoryId = JSON.stringify(build.Properties.repositoryUri).match(/"Ref":"([A-Za-z0-9]+)"/)?.[1];
      assert.ok(repositoryId && repositories[repositoryId], `repository of ${JSON.stringify(build.Properties.repositoryUri)}`);
      const rule = rulesOf(repositoryId).find((r) => r.selection.tagPrefixList?.includes(build.Properties.tagPrefix));
      assert.ok(rule, `a lifecycle rule for ${build.Properties.tagPrefix}`);
      assert.deepEqual(rule.selection, {
        tagStatus: 'tagged', tagPrefixList: [build.Properties.tagPrefix], countType: 'imageCountMoreThan', countNumber: IMAGES_KEPT_PER_KIND,
      });
      assert.equal(rule.action.type, 'expire');
    }
    // Enough to roll back to the image before the current one, even after a few failed attempts in between.
    assert.ok(IMAGES_KEPT_PER_KIND >= 5);
  });

  test('untagged images expire; no rule counts over all images, which could expire the image of one kind in use', () => {
    for (const id of Object.keys(repositories)) {
      const rules = rulesOf(id);
      assert.ok(rules.some((r) => r.selection.tagStatus === 'untagged' && r.action.type === 'expire'), JSON.stringify(rules));
      assert.ok(!rules.some((r) => r.selection.tagStatus === 'any'), JSON.stringify(rules));
    }
  });
});

describe('images built locally with Docker (imageBuild=local)', () => {
  const { template, dockerAssets } = synthImages({ imageBuild: 'local', mlflowVersion: '3.6.0' });

  test('two Docker image assets from containers/, the MLflow one with the version as build argument', () => {
    assert.equal(dockerAssets.length, 2);
    const mlflow = dockerAssets.find((a) => a.buildArgs?.MLFLOW_VERSION);
    assert.equal(mlflow?.buildArgs?.MLFLOW_VERSION, '3.6.0');
  });

  test('no CodeBuild project and no deploy-time build resources', () => {
    template.resourceCountIs('Custom::CDKContainerImageBuild', 0);
    template.resourceCountIs('AWS::CodeBuild::Project', 0);
  });

  test('the containers run images from the CDK asset repository', () => {
    assert.match(JSON.stringify(imageOf(template, CONTAINER_NAMES.mlflow)), /cdk-hnb659fds-container-assets/);
  });
});

describe('images for the task architecture', () => {
  test('with imageBuild=local and the lean profile (arm64) the local Docker engine builds both images for linux/arm64', () => {
    const { manifest, cleanup } = synthPlatformAssets({ profile: 'lean', imageBuild: 'local' }, 'mlflow-images-arm-');
    try {
      const platforms = Object.values(manifest.contents.dockerImages ?? {}).map((image) => image.source.platform);
      assert.deepEqual(platforms, ['linux/arm64', 'linux/arm64']);
    } finally {
      cleanup();
    }
    const { manifest: x86, cleanup: cleanupX86 } = synthPlatformAssets({ imageBuild: 'local' }, 'mlflow-images-x86-');
    try {
      assert.deepEqual(Object.values(x86.contents.dockerImages ?? {}).map((image) => image.source.platform), ['linux/amd64', 'linux/amd64']);
    } finally {
      cleanupX86();
    }
  });
});
