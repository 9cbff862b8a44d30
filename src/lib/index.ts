/**
 * MLflow on AWS as a construct library: `MlflowPlatform` (network or your VPC, artifact and backend stores,
 * credentials, images, the MLflow service and its front door), the public endpoint (`HttpGateway`), the alarms
 * (`MlflowMonitoring`), backups and the SageMaker lab's constructs. Exports only.
 */
export * from './mlflow-platform';
export * from './contract';
export * from './defaults';
export * from './compliance';
export * from './network';
export * from './storage/artifact-store';
export * from './storage/backend-store';
export * from './storage/database-replica';
export * from './storage/database-deletion-protection';
export * from './service/auth';
export * from './service/schedule';
export * from './service/image-build';
export * from './service/container-images';
export * from './service/mlflow-credentials';
export * from './service/mlflow-service';
export * from './service/mlflow-startup';
export * from './service/sso-access';
export * from './front-door/front-door';
export * from './front-door/load-balancer-front-door';
export * from './front-door/cloud-map-front-door';
export * from './gateway/http-gateway';
export * from './gateway/gateway-token';
export * from './operations/defaults';
export * from './operations/monitoring';
export * from './operations/backup';
export * from './sagemaker/sagemaker-execution-role';
export * from './sagemaker/studio-user';
export * from './sagemaker/notebook-instance';
export * from './sagemaker/serving-image';
export * from './sagemaker/lab-packages';
export * from './operations/idle-sleep';
