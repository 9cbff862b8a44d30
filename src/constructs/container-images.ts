import * as path from 'node:path';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';

/** Folder of the container build contexts, shipped with the package. */
export const CONTAINERS_DIR = path.join(__dirname, '..', '..', 'containers');

export interface ContainerImagesProps {
  /** MLflow release installed in the server image (Docker build argument `MLFLOW_VERSION`). */
  readonly mlflowVersion: string;
}

/** The two images of the MLflow task, built from `containers/nginx` and `containers/mlflow`. */
export class ContainerImages extends Construct {
  readonly proxy: ecs.ContainerImage;
  readonly mlflow: ecs.ContainerImage;

  constructor(scope: Construct, id: string, props: ContainerImagesProps) {
    super(scope, id);
    this.proxy = ecs.ContainerImage.fromAsset(path.join(CONTAINERS_DIR, 'nginx'), { platform: Platform.LINUX_AMD64 });
    this.mlflow = ecs.ContainerImage.fromAsset(path.join(CONTAINERS_DIR, 'mlflow'), {
      platform: Platform.LINUX_AMD64,
      buildArgs: { MLFLOW_VERSION: props.mlflowVersion },
    });
  }
}
