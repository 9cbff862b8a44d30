import type { RawSettings } from '../../src/app/config/platform-config';

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
  ['lean profile (no NAT gateway, no load balancer, ARM64, database=sqlite: the replica bucket, no Aurora), every SageMaker stack, the x86 serving image beside the ARM64 ones', { profile: 'lean', sagemaker: 'both', servingImage: true }],
  ['lean profile with Aurora (database=aurora, what a deployed lean stack of 0.2.0 keeps)', { profile: 'lean', database: 'aurora', sagemaker: 'none' }],
  ['database=sqlite in the standard profile with monitoring, daily backups of the replica bucket, personal accounts', { database: 'sqlite', backup: true, auth: 'users', sagemaker: 'none' }],
  ['database=sqlite, throwaway environment (the replica bucket destroyed with the stack)', { profile: 'lean', destroyDataOnDelete: true, databaseReplicaSyncSeconds: 60, sagemaker: 'none' }],
  ['lean profile with active hours and its own overrides', { profile: 'lean', activeHours: 'MON-FRI 07:00-20:00', activeHoursTimeZone: 'Europe/Berlin', taskArchitecture: 'x86_64', studioStorageKey: 'customer-managed', imageBuild: 'local' }],
  ['standard profile with active hours', { activeHours: 'MON-FRI 07:00-20:00', activeHoursTimeZone: 'America/New_York', sagemaker: 'none' }],
  ['personal accounts (auth=users), the Studio role on the IAM route', { auth: 'users' }],
  ['personal accounts, default READ, configured IAM principals beside both SageMaker roles', {
    auth: 'users', authDefaultPermission: 'READ', sagemaker: 'both',
    iamPrincipals: 'arn:aws:iam::123456789012:role/ci-pipeline=ci,arn:aws:iam::123456789012:user/alice',
  }],
  ['shared account, no SageMaker, an IAM principal on the IAM route', { sagemaker: 'none', iamPrincipals: ['arn:aws:iam::123456789012:role/batch-jobs'] }],
  ['personal accounts, no SageMaker and no IAM principal (no IAM route)', { auth: 'users', sagemaker: 'none' }],
  ["moving in another deployment's data: its artifact bucket and a database snapshot", { artifactBucketName: 'mlflow-123456789012-us-west-2', dbSnapshot: 'mlflow-before-move', sagemaker: 'both' }],
  ['monitoring off', { monitoring: false, sagemaker: 'none' }],
  ['standard profile that sleeps after 20 minutes (sleepAfterMinutes)', { sleepAfterMinutes: 20, sagemaker: 'none' }],
  ['alarms e-mailed (monitoring with alarmEmail)', { alarmEmail: 'ops@example.com', sagemaker: 'none' }],
  ['daily backups copied to a second region', { backup: true, backupCopyRegion: 'us-east-1', sagemaker: 'none' }],
  ['custom domain in a Route 53 zone (certificate created and validated there)', { domainName: 'mlflow.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com', sagemaker: 'notebook' }],
  ['sign-in with the stack\'s Cognito user pool (auth=sso) on a custom domain, group permissions', {
    auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666',
    ssoGroupPermissions: 'analysts=READ,data-science=EDIT', sagemaker: 'none',
  }],
  ['sign-in with the stack\'s Cognito user pool federating a SAML provider (its groups through the pre-token-generation trigger)', {
    auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666',
    ssoFederationSamlMetadataUrl: 'https://portal.sso.us-west-2.amazonaws.com/saml/metadata/MDEyMzQ1Njc4OTAx', ssoGroupPermissions: 'analysts=READ', sagemaker: 'none',
  }],
  ['sign-in with your own OpenID provider (auth=sso, ssoIssuerUrl), machine audiences, lean profile', {
    auth: 'sso', profile: 'lean', ssoIssuerUrl: 'https://example.okta.com/oauth2/default', ssoClientId: '0oa1b2c3d4e5f6g7h8i9', ssoTokenAudiences: 'api://mlflow',
  }],
  ['custom domain with an existing certificate, execute-api endpoint off', { domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666', disableExecuteApiEndpoint: true, sagemaker: 'none' }],
];
