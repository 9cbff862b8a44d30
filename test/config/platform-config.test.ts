import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPlatformConfig } from '../../src/app/config/load';
import { ConfigError, DEFAULT_CONFIG, RawSettings, resolvePlatformConfig } from '../../src/app/config/platform-config';

const context = (values: Record<string, unknown> = {}) => ({ getAllContext: () => values });

function assertRejected(settings: RawSettings, setting: string, allowedFragment: RegExp): void {
  assert.throws(
    () => resolvePlatformConfig(settings),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
      assert.equal(error.setting, setting);
      assert.match(error.message, new RegExp(`"${setting}"`));
      assert.match(error.message, allowedFragment);
      return true;
    },
  );
}

describe('default configuration', () => {
  test('matches the documented defaults', () => {
    const config = resolvePlatformConfig();
    assert.equal(config.region, 'us-west-2');
    assert.equal(config.vpcCidr, '10.0.0.0/16');
    assert.equal(config.natGateways, 1);
    assert.match(config.mlflowVersion, /^3\.\d+\.\d+$/);
    assert.equal(config.taskCpu, 1024);
    assert.equal(config.taskMemoryMiB, 2048);
    assert.equal(config.desiredTasks, 2);
    assert.equal(config.maxTasks, 6);
    assert.equal(config.cpuTargetPercent, 70);
    assert.equal(config.dbMinCapacity, 0);
    assert.equal(config.dbMaxCapacity, 2);
    assert.equal(config.mlflowSecretName, 'mlflow-server-credentials');
    assert.equal(config.mlflowUsername, 'admin');
    assert.equal(config.sagemaker, 'studio');
    assert.equal(config.destroyDataOnDelete, false);
    assert.equal(config.dbDeletionProtection, true);
    assert.equal(config.imageBuild, 'codebuild', 'deploys from a machine without Docker by default');
    assert.equal(config.account, undefined);
    assert.equal(config.domainId, undefined);
  });

  test('is frozen', () => {
    const config = resolvePlatformConfig();
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(DEFAULT_CONFIG));
  });
});

describe('values from `-c key=value` arrive as strings', () => {
  test('numbers, booleans and decimals are parsed', () => {
    const config = resolvePlatformConfig({
      natGateways: '2', taskCpu: '2048', taskMemoryMiB: '4096', desiredTasks: '3', maxTasks: '10',
      cpuTargetPercent: '55', dbMinCapacity: '0.5', dbMaxCapacity: '8', logRetentionDays: '90',
      destroyDataOnDelete: 'true', dbDeletionProtection: 'false',
    });
    assert.deepEqual(
      [config.natGateways, config.taskCpu, config.taskMemoryMiB, config.desiredTasks, config.maxTasks, config.cpuTargetPercent],
      [2, 2048, 4096, 3, 10, 55],
    );
    assert.equal(config.dbMinCapacity, 0.5);
    assert.equal(config.dbMaxCapacity, 8);
    assert.equal(config.logRetentionDays, 90);
    assert.equal(config.destroyDataOnDelete, true);
    assert.equal(config.dbDeletionProtection, false);
  });

  test('an empty string means "use the default"', () => {
    assert.equal(resolvePlatformConfig({ vpcCidr: '' }).vpcCidr, '10.0.0.0/16');
  });
});

describe('bad values stop synth with a message naming the setting, the value and what is allowed', () => {
  const cases: Array<[RawSettings, string, RegExp]> = [
    [{ region: 'mars-1' }, 'region', /AWS region/],
    [{ account: '1234' }, 'account', /12-digit/],
    [{ vpcCidr: '10.0.0.0' }, 'vpcCidr', /CIDR/],
    [{ vpcCidr: '10.0.0.0/8' }, 'vpcCidr', /\/16 to \/20/],
    [{ vpcCidr: '10.0.0.0/24' }, 'vpcCidr', /\/16 to \/20/],
    [{ vpcCidr: '10.0.1.0/16' }, 'vpcCidr', /no host bits/],
    [{ vpcCidr: '300.0.0.0/16' }, 'vpcCidr', /IPv4/],
    [{ natGateways: 0 }, 'natGateways', /1 or 2 with profile=standard .*for none use profile=lean/],
    [{ natGateways: 'two' }, 'natGateways', /1 or 2 with profile=standard/],
    [{ mlflowVersion: 'latest' }, 'mlflowVersion', /X\.Y\.Z/],
    [{ mlflowVersion: '1.30.0' }, 'mlflowVersion', /2\.0\.0 or later/],
    [{ mlflowUsername: 'ad:min' }, 'mlflowUsername', /no colon/],
    [{ mlflowSecretName: 'bad name!' }, 'mlflowSecretName', /Secrets Manager name/],
    [{ taskCpu: 1000 }, 'taskCpu', /256, 512, 1024/],
    [{ taskMemoryMiB: 1024 }, 'taskMemoryMiB', /with taskCpu 1024, one of 2048, 3072/],
    [{ taskCpu: 256, taskMemoryMiB: 4096 }, 'taskMemoryMiB', /with taskCpu 256, one of 512, 1024, 2048 MiB/],
    [{ desiredTasks: 0 }, 'desiredTasks', /1 to maxTasks/],
    [{ desiredTasks: 7 }, 'desiredTasks', /maxTasks \(6\)/],
    [{ desiredTasks: 1.5 }, 'desiredTasks', /whole number/],
    [{ maxTasks: 101 }, 'maxTasks', /1 to 100/],
    [{ cpuTargetPercent: 100 }, 'cpuTargetPercent', /10 to 95/],
    [{ logRetentionDays: 10 }, 'logRetentionDays', /1, 3, 5, 7, 14, 30/],
    [{ imageBuild: 'podman' }, 'imageBuild', /codebuild, local/],
    [{ proxyArtifacts: 'on' }, 'proxyArtifacts', /true or false/],
    [{ mlflowBackgroundJobs: 'sometimes' }, 'mlflowBackgroundJobs', /true or false/],
    [{ mlflowBackgroundJobs: true }, 'taskMemoryMiB', /at least 4096 MiB with mlflowBackgroundJobs=true/],
    [{ dbIdleDisconnectSeconds: 5 }, 'dbIdleDisconnectSeconds', /10 to 3600/],
    [{ dbReadTimeoutSeconds: 0 }, 'dbReadTimeoutSeconds', /5 to 3600/],
    [{ dbIdleDisconnectSeconds: '1m' }, 'dbIdleDisconnectSeconds', /whole number/],
    [{ dbMaxCapacity: 0.5 }, 'dbMaxCapacity', /1 to 256/],
    [{ dbMaxCapacity: 300 }, 'dbMaxCapacity', /1 to 256/],
    [{ dbMinCapacity: 0.3 }, 'dbMinCapacity', /steps of 0\.5/],
    [{ dbMinCapacity: 4 }, 'dbMinCapacity', /dbMaxCapacity \(2\)/],
    [{ dbAutoPauseMinutes: 2 }, 'dbAutoPauseMinutes', /5 to 1440/],
    [{ dbBackupRetentionDays: 0 }, 'dbBackupRetentionDays', /1 to 35/],
    [{ dbDeletionProtection: 'yes' }, 'dbDeletionProtection', /true or false/],
    [{ destroyDataOnDelete: 1 }, 'destroyDataOnDelete', /true or false/],
    [{ artifactVersionExpiryDays: 0 }, 'artifactVersionExpiryDays', /1 to 3650/],
    [{ apiThrottleRateLimit: -5 }, 'apiThrottleRateLimit', /1 to 10000/],
    [{ apiThrottleBurstLimit: 0 }, 'apiThrottleBurstLimit', /1 to 5000/],
    [{ sagemaker: 'all' }, 'sagemaker', /studio, notebook, both, none/],
    [{ domainId: 'abc' }, 'domainId', /"d-" followed by 12/],
    [{ domainId: 'd-ABCDEFGHIJKL' }, 'domainId', /lowercase/],
    [{ studioUserName: '-user' }, 'studioUserName', /user profile name/],
    [{ notebookInstanceType: 't3.medium' }, 'notebookInstanceType', /ml\.t3\.medium/],
    [{ notebookVolumeSizeGiB: 1 }, 'notebookVolumeSizeGiB', /5 to 16384/],
    [{ artifactBucketName: 'arn:aws:s3:::mlflow-123456789012-us-west-2' }, 'artifactBucketName', /bucket's name alone \(no arn: or s3:\/\/\)/],
    [{ artifactBucketName: 's3://mlflow-123456789012-us-west-2' }, 'artifactBucketName', /no arn: or s3:\/\//],
    [{ artifactBucketName: 'MLflow-Artifacts' }, 'artifactBucketName', /lowercase/],
    [{ artifactBucketName: 'ab' }, 'artifactBucketName', /3 to 63/],
    [{ artifactBucketName: 'a'.repeat(64) }, 'artifactBucketName', /3 to 63/],
    [{ artifactBucketName: '-mlflow' }, 'artifactBucketName', /starting and ending with a letter or digit/],
    [{ artifactBucketName: 'mlflow..artifacts' }, 'artifactBucketName', /no "\.\."/],
    [{ artifactBucketName: '192.168.5.4' }, 'artifactBucketName', /not an IP address/],
    [{ artifactBucketName: 'xn--mlflow' }, 'artifactBucketName', /reserved prefixes/],
    [{ artifactBucketName: 'mlflow-s3alias' }, 'artifactBucketName', /suffixes/],
    [{ artifactBucketName: 'mlflow artifacts' }, 'artifactBucketName', /3 to 63 lowercase letters, digits, dots or hyphens/],
    [{ dbSnapshot: 'mlflow_before_move' }, 'dbSnapshot', /letters, digits or hyphens/],
    [{ dbSnapshot: '1-mlflow' }, 'dbSnapshot', /starting with a letter/],
    [{ dbSnapshot: 'mlflow--final' }, 'dbSnapshot', /without "--"/],
    [{ dbSnapshot: 'mlflow-final-' }, 'dbSnapshot', /a final "-"/],
    [{ dbSnapshot: `m${'x'.repeat(255)}` }, 'dbSnapshot', /1 to 255/],
    [{ dbSnapshot: 'rds:mlflowservice-cluster-2026-01-01-00-00' }, 'dbSnapshot', /manual snapshot, not an automated one .*copy-db-cluster-snapshot/],
    [{ dbSnapshot: 'arn:aws:rds:us-west-2:123456789012:cluster-snapshot:rds:mlflowservice-cluster-2026-01-01-00-00' }, 'dbSnapshot', /not an automated one/],
    [{ dbSnapshot: 'arn:aws:rds:us-east-1:123456789012:cluster-snapshot:mlflow-before-move' }, 'dbSnapshot', /in the deployment's region us-west-2: copy it there first/],
    [{ dbSnapshot: 'arn:aws:rds:us-west-2:123456789012:snapshot:mlflow-instance' }, 'dbSnapshot', /arn:aws:rds:us-west-2:<account>:cluster-snapshot:<identifier>/],
    [{ dbSnapshot: 'arn:aws:rds:us-west-2:1234:cluster-snapshot:mlflow-before-move' }, 'dbSnapshot', /its ARN/],
    [{ dbSnapshotUsername: 'master' }, 'dbSnapshotUsername', /unset unless dbSnapshot names the snapshot/],
    [{ dbSnapshotDatabaseName: 'mlflowdb' }, 'dbSnapshotDatabaseName', /unset unless dbSnapshot/],
    [{ dbSnapshot: 'mlflow-before-move', dbSnapshotUsername: 'mas-ter' }, 'dbSnapshotUsername', /master user name stored in the snapshot/],
    [{ dbSnapshot: 'mlflow-before-move', dbSnapshotUsername: 'u'.repeat(33) }, 'dbSnapshotUsername', /1 to 32/],
    [{ dbSnapshot: 'mlflow-before-move', dbSnapshotDatabaseName: 'mlflow-db' }, 'dbSnapshotDatabaseName', /letters, digits or underscores/],
    [{ dbSnapshot: 'mlflow-before-move', dbSnapshotDatabaseName: '1db' }, 'dbSnapshotDatabaseName', /starting with a letter/],
  ];
  for (const [settings, setting, allowed] of cases) {
    test(`${setting} = ${JSON.stringify(Object.values(settings).at(-1))}`, () => assertRejected(settings, setting, allowed));
  }

  test('a bad bucket name or snapshot is reported in one line', () => {
    for (const settings of [{ artifactBucketName: 's3://x' }, { dbSnapshot: 'rds:x' }, { dbSnapshot: 'arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:x' }]) {
      assert.throws(() => resolvePlatformConfig(settings), (error: unknown) => error instanceof ConfigError && !error.message.includes('\n'));
    }
  });

  test('the message quotes the bad value', () => {
    assert.throws(() => resolvePlatformConfig({ natGateways: '7' }), /Invalid setting "natGateways": got "7"; allowed: 1 or 2 with profile=standard/);
  });
});

describe('adopting the data of an existing deployment', () => {
  test('unset by default: a new bucket and an empty database', () => {
    const config = resolvePlatformConfig();
    assert.equal(config.artifactBucketName, undefined);
    assert.equal(config.dbSnapshot, undefined);
    assert.equal(config.dbSnapshotUsername, undefined);
    assert.equal(config.dbSnapshotDatabaseName, undefined);
  });

  test("an existing bucket by name, dots and digits included (the original sample's is mlflow-<account>-<region>)", () => {
    for (const name of ['mlflow-123456789012-us-west-2', 'my.team.mlflow', 'abc']) {
      assert.equal(resolvePlatformConfig({ artifactBucketName: name }).artifactBucketName, name);
    }
  });

  test("a snapshot by identifier gets the original sample's master user and schema unless told otherwise", () => {
    const config = resolvePlatformConfig({ dbSnapshot: 'mlflow-before-move' });
    assert.equal(config.dbSnapshot, 'mlflow-before-move');
    assert.equal(config.dbSnapshotUsername, 'master');
    assert.equal(config.dbSnapshotDatabaseName, 'mlflowdb');
    const own = resolvePlatformConfig({ dbSnapshot: 'Mlflow-Backup-1', dbSnapshotUsername: 'mlflow', dbSnapshotDatabaseName: 'mlflow' });
    assert.deepEqual([own.dbSnapshot, own.dbSnapshotUsername, own.dbSnapshotDatabaseName], ['Mlflow-Backup-1', 'mlflow', 'mlflow']);
  });

  test("a snapshot by ARN in the deployment's region, another account's (shared) included", () => {
    const arn = 'arn:aws:rds:eu-central-1:210987654321:cluster-snapshot:mlflow-before-move';
    assert.equal(resolvePlatformConfig({ region: 'eu-central-1', dbSnapshot: arn }).dbSnapshot, arn);
  });

  test('the settings arrive from CDK context like every other one', () => {
    const config = loadPlatformConfig(context({ artifactBucketName: 'mlflow-123456789012-us-west-2', dbSnapshot: 'mlflow-before-move', dbSnapshotDatabaseName: 'mlflow' }), {});
    assert.equal(config.artifactBucketName, 'mlflow-123456789012-us-west-2');
    assert.equal(config.dbSnapshot, 'mlflow-before-move');
    assert.equal(config.dbSnapshotDatabaseName, 'mlflow');
    assert.equal(config.dbSnapshotUsername, 'master');
  });
});

describe('loading from CDK context and environment', () => {
  test('environment variables of the original sample are honoured', () => {
    const config = loadPlatformConfig(context(), { AWS_REGION: 'eu-west-1', AWS_ACCOUNT: '123456789012', DOMAIN_ID: 'd-abcdefghijkl' });
    assert.equal(config.region, 'eu-west-1');
    assert.equal(config.account, '123456789012');
    assert.equal(config.domainId, 'd-abcdefghijkl');
  });

  test('CDK_DEFAULT_ACCOUNT is used when AWS_ACCOUNT is unset', () => {
    assert.equal(loadPlatformConfig(context(), { CDK_DEFAULT_ACCOUNT: '210987654321' }).account, '210987654321');
  });

  test('context wins over environment, environment over defaults', () => {
    const config = loadPlatformConfig(context({ region: 'eu-central-1', natGateways: '2' }), { AWS_REGION: 'eu-west-1' });
    assert.equal(config.region, 'eu-central-1');
    assert.equal(config.natGateways, 2);
    assert.equal(loadPlatformConfig(context(), {}).region, 'us-west-2');
  });

  test('CDK feature flags and CLI keys in the context are not mistaken for settings', () => {
    const config = loadPlatformConfig(context({ '@aws-cdk/core:checkSecretUsage': true, 'aws:cdk:enable-path-metadata': true, 'acknowledged-issue-numbers': [1] }), {});
    assert.equal(config.region, 'us-west-2');
  });

  test('a misspelt setting is rejected rather than ignored', () => {
    assert.throws(() => loadPlatformConfig(context({ sagemkaer: 'both' }), {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.setting, 'sagemkaer');
      assert.match(error.message, /sagemaker/);
      return true;
    });
  });

  test('bad environment values are reported under the setting they feed', () => {
    assert.throws(() => loadPlatformConfig(context(), { DOMAIN_ID: 'my-domain' }), /Invalid setting "domainId": got "my-domain"/);
    assert.throws(() => loadPlatformConfig(context(), { AWS_REGION: 'nowhere' }), /Invalid setting "region": got "nowhere"/);
  });
});

describe('sign-in settings (auth=sso)', () => {
  const domain = { domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc' };
  const issuer = { auth: 'sso', ssoIssuerUrl: 'https://example.okta.com/oauth2/default', ssoClientId: '0oa123' } as const;
  test('the stack\'s Cognito pool by default: admin group, Cognito\'s groups claim, a 300 s refresh, least privilege', () => {
    const config = resolvePlatformConfig({ auth: 'sso', ...domain });
    assert.equal(config.ssoIssuerUrl, undefined);
    assert.equal(config.ssoClientId, undefined);
    assert.equal(config.ssoClientSecretName, undefined);
    assert.equal(config.ssoAdminGroup, 'mlflow-admins');
    assert.equal(config.ssoGroupsClaim, 'cognito:groups');
    assert.equal(config.ssoSessionRefreshSeconds, 300);
    assert.equal(config.authDefaultPermission, 'NO_PERMISSIONS');
  });
  test('the Cognito pool needs domainName (its client names the callback URL); your own issuer does not', () => {
    assertRejected({ auth: 'sso' }, 'auth', /domainName .*or with ssoIssuerUrl/);
    const config = resolvePlatformConfig(issuer);
    assert.equal(config.ssoClientSecretName, 'mlflow-sso-client');
    assert.equal(config.ssoGroupsClaim, 'groups');
  });
  test('your own issuer needs its client id; the client settings only go with an issuer', () => {
    assertRejected({ auth: 'sso', ssoIssuerUrl: 'https://example.okta.com/' }, 'ssoClientId', /required with it/);
    assertRejected({ auth: 'sso', ...domain, ssoClientId: 'x' }, 'ssoClientId', /unless ssoIssuerUrl/);
    assertRejected({ auth: 'sso', ...domain, ssoClientSecretName: 'x' }, 'ssoClientSecretName', /unless ssoIssuerUrl/);
    assertRejected({ ...issuer, ssoIssuerUrl: 'http://example.okta.com/' }, 'ssoIssuerUrl', /an https URL/);
  });
  test('group permissions and audiences from a -c string or a list; bad entries named', () => {
    assert.deepEqual(resolvePlatformConfig({ ...issuer, ssoGroupPermissions: 'analysts=READ, data-science=EDIT' }).ssoGroupPermissions, { analysts: 'READ', 'data-science': 'EDIT' });
    assert.deepEqual(resolvePlatformConfig({ ...issuer, ssoGroupPermissions: ['a=MANAGE'] }).ssoGroupPermissions, { a: 'MANAGE' });
    assertRejected({ ...issuer, ssoGroupPermissions: 'analysts=WRITE' }, 'ssoGroupPermissions', /"analysts=WRITE" is not one of group=PERMISSION/);
    assertRejected({ ...issuer, ssoGroupPermissions: 'a=READ,a=EDIT' }, 'ssoGroupPermissions', /each group once/);
    assert.deepEqual(resolvePlatformConfig({ ...issuer, ssoTokenAudiences: 'api://mlflow ci-client' }).ssoTokenAudiences, ['api://mlflow', 'ci-client']);
    assertRejected({ ...issuer, ssoTokenAudiences: 'a,a' }, 'ssoTokenAudiences', /each audience once/);
    assertRejected({ ...issuer, ssoSessionRefreshSeconds: 5 }, 'ssoSessionRefreshSeconds', /10 to 3600/);
  });
  test('a federated provider in the Cognito pool: SAML by metadata URL or OIDC by issuer, client id and secret name; e-mail and groups attributes', () => {
    const saml = resolvePlatformConfig({ auth: 'sso', ...domain, ssoFederationSamlMetadataUrl: 'https://portal.sso.us-west-2.amazonaws.com/saml/metadata/abc' });
    assert.equal(saml.ssoFederationSamlMetadataUrl, 'https://portal.sso.us-west-2.amazonaws.com/saml/metadata/abc');
    assert.equal(saml.ssoFederationEmailAttribute, 'email');
    assert.equal(saml.ssoFederationGroupsAttribute, 'groups');
    assert.equal(saml.ssoFederationOidcClientSecretName, undefined);
    const oidc = resolvePlatformConfig({ auth: 'sso', ...domain, ssoFederationOidcIssuerUrl: 'https://accounts.google.com', ssoFederationOidcClientId: 'abc.apps.googleusercontent.com' });
    assert.equal(oidc.ssoFederationOidcClientSecretName, 'mlflow-sso-federation');
    assert.equal(oidc.ssoFederationGroupsAttribute, 'groups');
    const none = resolvePlatformConfig({ auth: 'sso', ...domain });
    assert.equal(none.ssoFederationEmailAttribute, undefined);
    assert.equal(none.ssoFederationGroupsAttribute, undefined);
  });
  test('federation settings rejected in one line: two providers, without the Cognito pool, without a client id, attributes without a provider, bad URLs', () => {
    const samlUrl = 'https://portal.sso.us-west-2.amazonaws.com/saml/metadata/abc';
    assertRejected({ auth: 'sso', ...domain, ssoFederationSamlMetadataUrl: samlUrl, ssoFederationOidcIssuerUrl: 'https://accounts.google.com', ssoFederationOidcClientId: 'x' }, 'ssoFederationOidcIssuerUrl', /one federated provider/);
    assertRejected({ ...issuer, ssoFederationSamlMetadataUrl: samlUrl }, 'ssoFederationSamlMetadataUrl', /stack's Cognito user pool/);
    assertRejected({ auth: 'users', ssoFederationSamlMetadataUrl: samlUrl }, 'ssoFederationSamlMetadataUrl', /unless auth=sso/);
    assertRejected({ auth: 'sso', ...domain, ssoFederationOidcIssuerUrl: 'https://accounts.google.com' }, 'ssoFederationOidcClientId', /required with it/);
    assertRejected({ auth: 'sso', ...domain, ssoFederationOidcClientId: 'x' }, 'ssoFederationOidcClientId', /unless ssoFederationOidcIssuerUrl/);
    assertRejected({ auth: 'sso', ...domain, ssoFederationOidcClientSecretName: 'x' }, 'ssoFederationOidcClientSecretName', /unless ssoFederationOidcIssuerUrl/);
    assertRejected({ auth: 'sso', ...domain, ssoFederationGroupsAttribute: 'groups' }, 'ssoFederationGroupsAttribute', /unless ssoFederationSamlMetadataUrl or ssoFederationOidcIssuerUrl/);
    assertRejected({ auth: 'sso', ...domain, ssoFederationEmailAttribute: 'mail' }, 'ssoFederationEmailAttribute', /unless ssoFederationSamlMetadataUrl or ssoFederationOidcIssuerUrl/);
    assertRejected({ auth: 'sso', ...domain, ssoFederationSamlMetadataUrl: 'http://idp.example.com/metadata' }, 'ssoFederationSamlMetadataUrl', /https URL/);
    assertRejected({ auth: 'sso', ...domain, ssoFederationSamlMetadataUrl: samlUrl, ssoFederationGroupsAttribute: 'two words' }, 'ssoFederationGroupsAttribute', /attribute or claim name/);
  });
  test('no sso setting without auth=sso', () => {
    for (const [name, value] of [['ssoAdminGroup', 'x'], ['ssoGroupPermissions', 'a=READ'], ['ssoGroupsClaim', 'groups'], ['ssoSessionRefreshSeconds', 60], ['ssoTokenAudiences', 'x'], ['ssoIssuerUrl', 'https://x.example.com/']] as const) {
      assertRejected({ auth: 'users', [name]: value }, name, /unless auth=sso/);
    }
  });
});

describe('access settings (auth, authDefaultPermission, iamPrincipals)', () => {
  const role = 'arn:aws:iam::123456789012:role/ci-pipeline';
  test('shared mode by default, no default permission, no IAM principal', () => {
    assert.equal(DEFAULT_CONFIG.auth, 'shared');
    assert.equal(DEFAULT_CONFIG.authDefaultPermission, undefined);
    assert.equal(DEFAULT_CONFIG.iamPrincipals, undefined);
  });
  test('users mode defaults to least privilege; another permission may be chosen', () => {
    assert.equal(resolvePlatformConfig({ auth: 'users' }).authDefaultPermission, 'NO_PERMISSIONS');
    assert.equal(resolvePlatformConfig({ auth: 'users', authDefaultPermission: 'READ' }).authDefaultPermission, 'READ');
  });
  test('a default permission with the shared account is refused (it would mean nothing)', () => {
    assertRejected({ authDefaultPermission: 'READ' }, 'authDefaultPermission', /unless auth=users/);
  });
  test('bad modes and permissions are refused with what is allowed', () => {
    assertRejected({ auth: 'iam' }, 'auth', /shared, users/);
    assertRejected({ auth: 'users', authDefaultPermission: 'read' }, 'authDefaultPermission', /READ, EDIT, MANAGE, NO_PERMISSIONS/);
  });
  test('principals from a -c string (commas or spaces) or a cdk.json list, names derived or given', () => {
    const expected = [{ arn: role, username: 'ci-pipeline' }, { arn: 'arn:aws:iam::123456789012:user/team/alice', username: 'alice.b' }];
    assert.deepEqual(resolvePlatformConfig({ iamPrincipals: `${role}, arn:aws:iam::123456789012:user/team/alice=alice.b` }).iamPrincipals, expected);
    assert.deepEqual(resolvePlatformConfig({ iamPrincipals: [role, 'arn:aws:iam::123456789012:user/team/alice=alice.b'] }).iamPrincipals, expected);
    assert.deepEqual(loadPlatformConfig(context({ iamPrincipals: `${role}=ci` }), {}).iamPrincipals, [{ arn: role, username: 'ci' }]);
  });
  test('the ARN must be an IAM role or user of the region\'s partition', () => {
    assertRejected({ iamPrincipals: 'arn:aws:sts::123456789012:assumed-role/x/session' }, 'iamPrincipals', /role\/NAME or :user\/NAME/);
    assertRejected({ iamPrincipals: 'arn:aws:iam::12345:role/x' }, 'iamPrincipals', /arn:aws:iam::<account>/);
    assertRejected({ iamPrincipals: 'arn:aws:iam::123456789012:role/x', region: 'cn-north-1' }, 'iamPrincipals', /arn:aws-cn:iam::<account>/);
    assert.equal(resolvePlatformConfig({ iamPrincipals: 'arn:aws-cn:iam::123456789012:role/x', region: 'cn-north-1' }).iamPrincipals?.length, 1);
    assertRejected({ iamPrincipals: 42 }, 'iamPrincipals', /ARN\[=user\]/);
  });
  test('the user may not be the admin nor a SageMaker role\'s, nor invalid for MLflow; an ARN only once', () => {
    assertRejected({ iamPrincipals: `${role}=admin` }, 'iamPrincipals', /not "admin"/);
    assertRejected({ iamPrincipals: `${role}=ops`, mlflowUsername: 'ops' }, 'iamPrincipals', /not "ops"/);
    assertRejected({ iamPrincipals: `${role}=sagemaker-studio` }, 'iamPrincipals', /sagemaker-studio/);
    assertRejected({ iamPrincipals: `${role}=-x` }, 'iamPrincipals', /starting with a letter or digit/);
    assertRejected({ iamPrincipals: 'arn:aws:iam::123456789012:role/admin' }, 'iamPrincipals', /add =user/);
    assertRejected({ iamPrincipals: `${role} ${role}=other` }, 'iamPrincipals', /each ARN once/);
  });
});
