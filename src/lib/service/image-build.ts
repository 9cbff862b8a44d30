// No aws-cdk-lib import: the app's configuration reads the choices without loading the CDK.

/** How container images are built: in AWS at deploy time (no local Docker), or by the local Docker engine. */
export const IMAGE_BUILD_CHOICES = ['codebuild', 'local'] as const;
export type ImageBuildChoice = (typeof IMAGE_BUILD_CHOICES)[number];
