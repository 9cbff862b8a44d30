import * as path from 'node:path';
import { ContainerImageBuild } from '@cdklabs/deploy-time-build';
import { CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { acknowledgeRoleAsBuilt } from '../compliance';
import { ImageBuildChoice } from './image-build';
import { PLATFORM_DEFAULTS, withDefaults } from '../defaults';

/** Folder of the container build contexts, shipped with the package. */
export const CONTAINERS_DIR = path.join(__dirname, '..', '..', '..', 'containers');

/**
 * Tag prefix of each image built at deploy time. Both go to one repository; the prefix is what lets its lifecycle
 * policy keep the last images of each kind (a count over both could expire the proxy image in use after a run of
 * MLflow upgrades).
 */
export const IMAGE_TAG_PREFIXES = { proxy: 'proxy-', mlflow: 'mlflow-' } as const;

/**
 * Images of each kind kept in the repository: the one running, the one a circuit-breaker or CloudFormation rollback
 * returns to, and room for failed attempts in between (each build that succeeds pushes an image, even when the
 * deployment then fails). Older ones expire.
 */
export const IMAGES_KEPT_PER_KIND = 10;

/**
 * Bounds of a deploy-time image build. The build reports to CloudFormation itself, from its last phase (post_build);
 * a build that never gets there (stuck in the queue, failed to provision, timed out, stopped) reports nothing, and
 * CloudFormation would wait for its default hour. CodeBuild ends such a build after `queued` + `build` at most, and
 * CloudFormation gives up on the image resource after `serviceTimeout`, which is longer, so the build is over by then.
 */
export const IMAGE_BUILD_LIMITS: BuildLimits = {
  queued: Duration.minutes(8),
  build: Duration.minutes(20),
  serviceTimeout: Duration.minutes(30),
};

/** Time limits of the deploy-time builds of one stack (they share one CodeBuild project). */
export interface BuildLimits {
  /** CodeBuild's queued timeout of the project. */
  readonly queued: Duration;
  /** CodeBuild's build timeout of the project. */
  readonly build: Duration;
  /** CloudFormation's ServiceTimeout of each image resource: longer than `queued` + `build`, at most an hour. */
  readonly serviceTimeout: Duration;
}

export interface ContainerImagesProps {
  /** MLflow release installed in the server image (Docker build argument `MLFLOW_VERSION`). @default PLATFORM_DEFAULTS.mlflowVersion */
  readonly mlflowVersion?: string;
  /**
   * Where the images are built: `codebuild` uploads the build contexts and builds them in AWS CodeBuild during
   * the deployment (no Docker needed on the deploying machine); `local` builds them with the local Docker engine.
   * @default 'codebuild'
   */
  readonly build?: ImageBuildChoice;
  /**
   * CPU architecture the images are built for, the task's: `arm64` builds in an ARM CodeBuild environment (or, with
   * `local`, for linux/arm64 by the local Docker engine). @default 'x86_64'
   */
  readonly architecture?: 'x86_64' | 'arm64';
}

/** The two images of the MLflow task, built from `containers/nginx` and `containers/mlflow`. */
export class ContainerImages extends Construct {
  readonly proxy: ecs.ContainerImage;
  readonly mlflow: ecs.ContainerImage;

  constructor(scope: Construct, id: string, given: ContainerImagesProps = {}) {
    super(scope, id);
    const props = withDefaults(given, { mlflowVersion: PLATFORM_DEFAULTS.mlflowVersion });
    const platform = props.architecture === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64;
    const buildArgs = { MLFLOW_VERSION: props.mlflowVersion };

    if ((props.build ?? 'codebuild') === 'local') {
      this.proxy = ecs.ContainerImage.fromAsset(path.join(CONTAINERS_DIR, 'nginx'), { platform });
      this.mlflow = ecs.ContainerImage.fromAsset(path.join(CONTAINERS_DIR, 'mlflow'), { platform, buildArgs });
      return;
    }
    // Tags follow the content hash (no fixed `tag`), so a changed image or MLflow version changes the task
    // definition and rolls out new tasks.
    const proxyBuild = new ContainerImageBuild(this, 'ProxyBuild', {
      directory: path.join(CONTAINERS_DIR, 'nginx'),
      platform,
      tagPrefix: IMAGE_TAG_PREFIXES.proxy,
    });
    const mlflowBuild = new ContainerImageBuild(this, 'MlflowBuild', {
      directory: path.join(CONTAINERS_DIR, 'mlflow'),
      platform,
      buildArgs,
      repository: proxyBuild.repository,
      tagPrefix: IMAGE_TAG_PREFIXES.mlflow,
    });
    limitImageHistory(proxyBuild.repository as ecr.Repository);
    this.proxy = proxyBuild.toEcsDockerImageCode();
    this.mlflow = mlflowBuild.toEcsDockerImageCode();
    configureDeployTimeBuild(Stack.of(this));
  }
}

/**
 * Every deploy that changes an image pushes a new one, with a new tag; without a lifecycle policy the repository keeps
 * them all. Untagged images (none are pushed, but a re-pushed tag would leave one) expire after a day; of each image
 * kind the last IMAGES_KEPT_PER_KIND are kept. Images pushed before the tags had prefixes match no rule and stay.
 */
function limitImageHistory(repository: ecr.Repository): void {
  repository.addLifecycleRule({
    description: 'Untagged images expire after a day',
    tagStatus: ecr.TagStatus.UNTAGGED,
    maxImageAge: Duration.days(1),
  });
  for (const [kind, prefix] of Object.entries(IMAGE_TAG_PREFIXES)) {
    repository.addLifecycleRule({
      description: `Keep the last ${IMAGES_KEPT_PER_KIND} ${kind} images`,
      tagStatus: ecr.TagStatus.TAGGED,
      tagPrefixList: [prefix],
      maxImageCount: IMAGES_KEPT_PER_KIND,
    });
  }
}

/**
 * The build's post_build phase reports a failure to CloudFormation with a reason that holds a link to the build's
 * log, written into a JSON document by a shell here-document. In @cdklabs/deploy-time-build 0.0.6 that reason has a
 * line break inside the JSON string, which makes the document invalid JSON; the line break is replaced by a space.
 */
function validJsonFailureReport(project: codebuild.CfnProject): void {
  const source = Stack.of(project).resolve(project.source) as { buildSpec?: unknown };
  if (typeof source.buildSpec !== 'string') return;
  const spec = JSON.parse(source.buildSpec);
  const commands: unknown[] | undefined = spec.phases?.post_build?.commands;
  if (!Array.isArray(commands)) return;
  const fixed = commands.map((command) => (typeof command === 'string' ? command.replace(/REASON="[^"]*"/g, (reason) => reason.replace(/\n/g, ' ')) : command));
  if (JSON.stringify(fixed) === JSON.stringify(commands)) return;
  spec.phases.post_build.commands = fixed;
  project.addPropertyOverride('Source.BuildSpec', JSON.stringify(spec, undefined, 2));
}

/** CloudFormation type of a deploy-time image build (@cdklabs/deploy-time-build's custom resource). */
export const DEPLOY_TIME_BUILD_TYPE = 'Custom::CDKContainerImageBuild';

/** The limits in force in each stack: the longest any of its builds asked for (they share the project). */
const limitsOfStack = new WeakMap<Stack, BuildLimits>();
/** Projects and handlers already acknowledged (configureDeployTimeBuild runs once per construct that builds). */
const acknowledged = new WeakSet<object>();

/**
 * The deploy-time build brings its own CodeBuild project and custom-resource Lambda (stack-level singletons).
 * The project gets the time limits (`limits`, or longer ones an earlier caller in the stack asked for), and every image
 * resource of the stack the matching ServiceTimeout and a dependency on the builds added before it; what cdk-nag finds in both is acknowledged there, and only there,
 * with the reasons. Called by each construct that adds deploy-time builds, after adding them.
 */
export function configureDeployTimeBuild(stack: Stack, limits: BuildLimits = IMAGE_BUILD_LIMITS): void {
  const current = limitsOfStack.get(stack);
  const effective = current && current.build.toMinutes() >= limits.build.toMinutes() ? current : limits;
  limitsOfStack.set(stack, effective);
  const builds = stack.node.findAll().filter((c): c is CfnResource => c instanceof CfnResource && c.cfnResourceType === DEPLOY_TIME_BUILD_TYPE);
  builds.forEach((build, index) => {
    // The construct has no setting for it; ServiceTimeout is a property of the custom resource itself.
    build.addPropertyOverride('ServiceTimeout', effective.serviceTimeout.toSeconds().toString());
    // One build at a time, in the order they were added (the proxy, then MLflow, then the serving image): each waits
    // for the ones before it. CloudFormation would otherwise start them together, and the handler retries StartBuild on
    // AccessDenied only, so an account whose CodeBuild quota allows one build (new accounts) fails the deploy with
    // AccountLimitExceededException. `doctor` reads that quota.
    for (const earlier of builds.slice(0, index)) build.node.addDependency(earlier);
  });
  for (const child of stack.node.children) {
    if (child instanceof codebuild.Project && child.node.id.startsWith('ContainerImageBuild')) {
      const project = child.node.defaultChild as codebuild.CfnProject;
      project.queuedTimeoutInMinutes = effective.queued.toMinutes();
      project.timeoutInMinutes = effective.build.toMinutes();
      if (acknowledged.has(child)) continue;
      acknowledged.add(child);
      validJsonFailureReport(project);
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-CB4',
        reason: 'The build project of @cdklabs/deploy-time-build has no key setting; what it produces are images pushed to ECR, which encrypts them at rest.',
      });
      acknowledgeRoleAsBuilt(child.role!, 'Grants @cdklabs/deploy-time-build gives its CodeBuild project: its own log and report groups '
        + '(named after the generated project name), the CDK asset bucket holding the build contexts, ECR login, and ECR Public read for base images.');
    }
    if (child instanceof lambda.Function && child.node.id.startsWith('DeployTimeBuild') && !acknowledged.has(child)) {
      acknowledged.add(child);
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-L1',
        reason: 'The runtime of the @cdklabs/deploy-time-build custom-resource handler is chosen by that package (a supported Node.js runtime).',
      });
      acknowledgeRoleAsBuilt(child.role!, 'The custom-resource handler of @cdklabs/deploy-time-build writes its logs with AWSLambdaBasicExecutionRole and starts builds of its own project.');
    }
  }
}
