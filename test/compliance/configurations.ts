import type { RawSettings } from '../../src/config/platform-config';

/**
 * The configurations every compliance check (cdk-nag, cfn-lint) synthesizes: the defaults and each setting that adds,
 * removes or changes resources. A new such setting gets a row here, and both checks cover it.
 */
export const COMPLIANCE_CONFIGURATIONS: ReadonlyArray<readonly [string, RawSettings]> = [
  ['defaults (Studio, new domain)', {}],
  ['every SageMaker stack', { sagemaker: 'both' }],
  ['existing Studio domain', { sagemaker: 'both', domainId: 'd-abcdefghijkl' }],
  ['no SageMaker, two NAT gateways, larger tasks', { sagemaker: 'none', natGateways: 2, taskCpu: 2048, taskMemoryMiB: 4096 }],
  ['deletion protection off', { dbDeletionProtection: false }],
  ['throwaway environment (data destroyed with the stack)', { destroyDataOnDelete: true, sagemaker: 'both' }],
  ['serving image built at deploy time (servingImage)', { servingImage: true, sagemaker: 'both' }],
  ['personal accounts (auth=users), the Studio role on the IAM route', { auth: 'users' }],
  ['personal accounts, default READ, configured IAM principals beside both SageMaker roles', {
    auth: 'users', authDefaultPermission: 'READ', sagemaker: 'both',
    iamPrincipals: 'arn:aws:iam::123456789012:role/ci-pipeline=ci,arn:aws:iam::123456789012:user/alice',
  }],
  ['shared account, no SageMaker, an IAM principal on the IAM route', { sagemaker: 'none', iamPrincipals: ['arn:aws:iam::123456789012:role/batch-jobs'] }],
  ['personal accounts, no SageMaker and no IAM principal (no IAM route)', { auth: 'users', sagemaker: 'none' }],
  ["moving in another deployment's data: its artifact bucket and a database snapshot", { artifactBucketName: 'mlflow-123456789012-us-west-2', dbSnapshot: 'mlflow-before-move', sagemaker: 'both' }],
];
