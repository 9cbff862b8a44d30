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
  ['lean profile (no NAT gateway, no load balancer, ARM64), every SageMaker stack, the x86 serving image beside the ARM64 ones', { profile: 'lean', sagemaker: 'both', servingImage: true }],
  ['lean profile with active hours and its own overrides', { profile: 'lean', activeHours: 'MON-FRI 07:00-20:00', activeHoursTimeZone: 'Europe/Berlin', taskArchitecture: 'x86_64', studioStorageKey: 'customer-managed', imageBuild: 'local' }],
  ['standard profile with active hours', { activeHours: 'MON-FRI 07:00-20:00', activeHoursTimeZone: 'America/New_York', sagemaker: 'none' }],
  ["moving in another deployment's data: its artifact bucket and a database snapshot", { artifactBucketName: 'mlflow-123456789012-us-west-2', dbSnapshot: 'mlflow-before-move', sagemaker: 'both' }],
];
