import * as path from 'node:path';
import { ContainerImageBuild } from '@cdklabs/deploy-time-build';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { BuildLimits, CONTAINERS_DIR, configureDeployTimeBuild, IMAGE_BUILD_LIMITS } from '../service/container-images';
import { PLATFORM_DEFAULTS, withDefaults } from '../defaults';

/**
 * The repository MLflow's SageMaker deployment looks for (mlflow.sagemaker.DEFAULT_IMAGE_NAME) and the lab checks:
 * the image is `mlflow-pyfunc:<MLflow version>`, as `mlflow sagemaker build-and-push-container` pushes it.
 */
export const SERVING_IMAGE_REPOSITORY = 'mlflow-pyfunc';

/** Build context: the Dockerfile MLflow generates for SageMaker (containers/mlflow-pyfunc/generate_dockerfile.py). */
export const SERVING_IMAGE_DIR = path.join(CONTAINERS_DIR, 'mlflow-pyfunc');

/**
 * The serving image is far larger than the app's (Ubuntu with build tools, a JDK, Python from a PPA, MLflow with its
 * scientific stack: a few GB) and the deploy-time build's project is small, so its stack's builds get longer limits:
 * CodeBuild still ends a build (queued + build = 53 minutes) before CloudFormation stops waiting (60, its maximum).
 */
export const SERVING_IMAGE_BUILD_LIMITS: BuildLimits = {
  queued: IMAGE_BUILD_LIMITS.queued,
  build: Duration.minutes(45),
  serviceTimeout: Duration.minutes(60),
};

export interface ServingImageProps {
  /** MLflow release in the image (build argument MLFLOW_VERSION) and its tag. @default PLATFORM_DEFAULTS.mlflowVersion */
  readonly mlflowVersion?: string;
}

/**
 * `mlflow-pyfunc:<mlflowVersion>` in this account's ECR, built in AWS CodeBuild at deploy time (no Docker anywhere):
 * what MLflow's `create_deployment(..., config={"image_url": ...})` runs a model with on a SageMaker endpoint.
 *
 * The build runs in CodeBuild, outside the platform's VPC, so MLflow's Dockerfile can reach what it needs over HTTP
 * and HTTPS (Ubuntu's archive, a PPA, GitHub, PyPI); nothing is opened in the notebook's or Studio's security groups.
 * The repository goes with the stack: the image can be rebuilt, and a kept repository would block the next create.
 */
export class ServingImage extends Construct {
  readonly repository: ecr.Repository;
  readonly imageUri: string;

  constructor(scope: Construct, id: string, given: ServingImageProps = {}) {
    super(scope, id);
    const props = withDefaults(given, { mlflowVersion: PLATFORM_DEFAULTS.mlflowVersion });
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: SERVING_IMAGE_REPOSITORY,
      imageScanOnPush: true,
      // The tag is the MLflow version: a rebuild of the same version pushes the same tag again.
      imageTagMutability: ecr.TagMutability.MUTABLE,
      removalPolicy: RemovalPolicy.DESTROY,
      emptyOnDelete: true,
    });
    this.repository.addLifecycleRule({
      description: 'Images untagged by a rebuild of the same MLflow version expire after a day',
      tagStatus: ecr.TagStatus.UNTAGGED,
      maxImageAge: Duration.days(1),
    });
    const build = new ContainerImageBuild(this, 'Build', {
      directory: SERVING_IMAGE_DIR,
      platform: Platform.LINUX_AMD64,
      buildArgs: { MLFLOW_VERSION: props.mlflowVersion },
      repository: this.repository,
      tag: props.mlflowVersion,
    });
    this.imageUri = build.imageUri;
    configureDeployTimeBuild(Stack.of(this), SERVING_IMAGE_BUILD_LIMITS);
  }
}
