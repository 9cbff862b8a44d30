/** MLflowVpcStack's own part: the outputs the CLI, the lab and users' stacks read (the platform: test/lib/mlflow-platform.test.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Match } from 'aws-cdk-lib/assertions';
import { CONTAINER_NAMES, EXPORT_NAMES, MLFLOW_OUTPUTS } from '../../src/app/names';
import { container, containers, mlflowTemplate, resourcesOfType } from '../support/synth';

const template = mlflowTemplate();

describe('auth=sso', () => {
  test('sso mode: the oauth2-proxy sidecar (pinned image, loopback address, secrets from Secrets Manager), nginx and MLflow told the mode and the group settings', () => {
    const sso = mlflowTemplate({ auth: 'sso', ssoIssuerUrl: 'https://example.okta.com/oauth2/default', ssoClientId: '0oa123', ssoGroupPermissions: 'analysts=READ,ds=EDIT', ssoTokenAudiences: 'api://mlflow', ssoSessionRefreshSeconds: 120 });
    const env = (name: string) => Object.fromEntries(container(sso, name).Environment.map((e: any) => [e.Name, e.Value]));
    const sidecar = container(sso, 'oauth2-proxy');
    assert.equal(sidecar.Image, 'quay.io/oauth2-proxy/oauth2-proxy:v7.15.6');
    assert.ok(sidecar.Essential);
    assert.equal(sidecar.PortMappings, undefined, 'nothing outside the task reaches oauth2-proxy');
    const proxyEnv = env('oauth2-proxy');
    assert.equal(proxyEnv.OAUTH2_PROXY_HTTP_ADDRESS, '127.0.0.1:4180');
    assert.equal(proxyEnv.OAUTH2_PROXY_OIDC_ISSUER_URL, 'https://example.okta.com/oauth2/default');
    assert.equal(proxyEnv.OAUTH2_PROXY_CLIENT_ID, '0oa123');
    assert.equal(proxyEnv.OAUTH2_PROXY_OIDC_EXTRA_AUDIENCES, 'api://mlflow');
    assert.equal(proxyEnv.OAUTH2_PROXY_COOKIE_REFRESH, '120s');
    assert.equal(proxyEnv.OAUTH2_PROXY_COOKIE_SECURE, 'true');
    assert.equal(proxyEnv.OAUTH2_PROXY_SKIP_JWT_BEARER_TOKENS, 'true');
    assert.deepEqual(sidecar.Secrets.map((s: any) => s.Name).sort(), ['OAUTH2_PROXY_CLIENT_SECRET', 'OAUTH2_PROXY_COOKIE_SECRET']);
    assert.match(JSON.stringify(sidecar.Secrets), /secret:mlflow-sso-client.*:clientSecret::/);
    assert.equal(env(CONTAINER_NAMES.proxy).MLFLOW_AUTH, 'sso');
    const mlflowEnv = env(CONTAINER_NAMES.mlflow);
    assert.equal(mlflowEnv.MLFLOW_AUTH, 'sso');
    assert.equal(mlflowEnv.MLFLOW_SSO_ADMIN_GROUP, 'mlflow-admins');
    assert.equal(mlflowEnv.MLFLOW_SSO_GROUP_PERMISSIONS, 'analysts=READ,ds=EDIT');
    assert.equal(mlflowEnv.MLFLOW_AUTH_DEFAULT_PERMISSION, 'NO_PERMISSIONS');
    // MLflow's auth app keeps its admin from the credentials secret; the proxy holds no password.
    assert.deepEqual(container(sso, CONTAINER_NAMES.proxy).Secrets.map((s: any) => s.Name), ['MLFLOW_GATEWAY_TOKEN']);
    const dependsOn = container(sso, CONTAINER_NAMES.proxy).DependsOn.map((d: any) => d.ContainerName).sort();
    assert.deepEqual(dependsOn, [CONTAINER_NAMES.mlflow, 'oauth2-proxy']);
    assert.equal(containers(template).length, 2, 'no sidecar in shared mode');
  });

  test('sso mode with the stack\'s Cognito pool: no self sign-up, MFA, case-insensitive sign-in names, admin and mapped groups, a code-flow client calling back on the custom domain', () => {
    const sso = mlflowTemplate({ auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc', ssoGroupPermissions: 'analysts=READ' });
    sso.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      DeletionProtection: 'ACTIVE',
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12 }) },
      // Sign-in names without case: MLflow knows signed-in identities in lower case.
      UsernameConfiguration: { CaseSensitive: false },
    });
    assert.deepEqual(resourcesOfType(sso, 'AWS::Cognito::UserPoolGroup').map(([, g]) => g.Properties.GroupName).sort(), ['analysts', 'mlflow-admins']);
    sso.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: true,
      AllowedOAuthFlows: ['code'],
      CallbackURLs: ['https://mlflow.example.com/oauth2/callback'],
      SupportedIdentityProviders: ['COGNITO'],
    });
    const env = Object.fromEntries(container(sso, 'oauth2-proxy').Environment.map((e: any) => [e.Name, e.Value]));
    assert.match(JSON.stringify(env.OAUTH2_PROXY_OIDC_ISSUER_URL), /cognito-idp\.us-west-2\./);
    assert.equal(env.OAUTH2_PROXY_OIDC_GROUPS_CLAIM, 'cognito:groups');
    assert.equal(env.OAUTH2_PROXY_SCOPE, 'openid email profile');
  });

  test('a federated SAML provider by settings: in the pool with e-mail and groups mapped, listed by the app client, the groups trigger on the pool', () => {
    const sso = mlflowTemplate({
      auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc',
      ssoFederationSamlMetadataUrl: 'https://portal.sso.us-west-2.amazonaws.com/saml/metadata/abc', ssoFederationEmailAttribute: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    });
    sso.hasResourceProperties('AWS::Cognito::UserPoolIdentityProvider', {
      ProviderName: 'Company',
      ProviderType: 'SAML',
      ProviderDetails: Match.objectLike({ MetadataURL: 'https://portal.sso.us-west-2.amazonaws.com/saml/metadata/abc' }),
      AttributeMapping: { email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', 'custom:groups': 'groups' },
    });
    // By reference: the client is created after the provider it lists.
    const [[providerId]] = resourcesOfType(sso, 'AWS::Cognito::UserPoolIdentityProvider');
    sso.hasResourceProperties('AWS::Cognito::UserPoolClient', { SupportedIdentityProviders: ['COGNITO', { Ref: providerId }] });
    sso.hasResourceProperties('AWS::Cognito::UserPool', {
      Schema: Match.arrayWith([Match.objectLike({ Name: 'groups', AttributeDataType: 'String', Mutable: true })]),
      LambdaConfig: { PreTokenGeneration: Match.anyValue() },
    });
    sso.hasResourceProperties('AWS::Lambda::Function', { Handler: 'handler.handler', Runtime: 'nodejs24.x', Description: Match.stringLikeRegexp('cognito:groups') });
    sso.hasResourceProperties('AWS::Lambda::Permission', { Principal: 'cognito-idp.amazonaws.com' });
  });

  test('a federated OIDC provider: issuer and client id, the client secret as a Secrets Manager reference (never in the template)', () => {
    const sso = mlflowTemplate({
      auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc',
      ssoFederationOidcIssuerUrl: 'https://example.okta.com', ssoFederationOidcClientId: '0oafed',
    });
    sso.hasResourceProperties('AWS::Cognito::UserPoolIdentityProvider', {
      ProviderType: 'OIDC',
      ProviderDetails: Match.objectLike({
        oidc_issuer: 'https://example.okta.com', client_id: '0oafed', authorize_scopes: 'openid email profile',
        client_secret: '{{resolve:secretsmanager:mlflow-sso-federation:SecretString:clientSecret::}}',
      }),
      AttributeMapping: { email: 'email', 'custom:groups': 'groups' },
    });
  });

  test('no federation: no identity provider, no trigger, no custom attribute', () => {
    const sso = mlflowTemplate({ auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc' });
    assert.equal(resourcesOfType(sso, 'AWS::Cognito::UserPoolIdentityProvider').length, 0);
    const [[, pool]] = resourcesOfType(sso, 'AWS::Cognito::UserPool');
    assert.equal(pool.Properties.LambdaConfig, undefined);
    assert.ok(!JSON.stringify(pool.Properties.Schema).includes('"groups"'));
  });
});


describe('outputs', () => {
  test('every documented output key is present; the rest are CDK\'s cross-stack exports', () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    // Only with auth=sso and the stack's Cognito user pool.
    const cognitoOnly: string[] = [MLFLOW_OUTPUTS.ssoUserPoolId];
    // Only with database=sqlite (the Aurora cluster's identifier is its counterpart with Aurora).
    const sqliteOnly: string[] = [MLFLOW_OUTPUTS.databaseReplicaBucketName];
    for (const key of Object.values(MLFLOW_OUTPUTS).filter((k) => !cognitoOnly.includes(k) && !sqliteOnly.includes(k))) assert.ok(outputs.includes(key), `output ${key}`);
    assert.ok(!outputs.includes(MLFLOW_OUTPUTS.ssoUserPoolId));
    assert.ok(!outputs.includes(MLFLOW_OUTPUTS.databaseReplicaBucketName));
    const sqlite = Object.keys(mlflowTemplate({ profile: 'lean', sagemaker: 'none' }).toJSON().Outputs);
    assert.ok(sqlite.includes(MLFLOW_OUTPUTS.databaseReplicaBucketName) && !sqlite.includes(MLFLOW_OUTPUTS.databaseClusterIdentifier), sqlite.join(', '));
    const cognito = mlflowTemplate({ auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc' }).toJSON().Outputs;
    assert.match(JSON.stringify(cognito[MLFLOW_OUTPUTS.ssoUserPoolId].Value), /"Ref":"SsoUserPool/);
    for (const key of outputs.filter((k) => !(Object.values(MLFLOW_OUTPUTS) as string[]).includes(k))) assert.match(key, /^ExportsOutput/);
  });

  test('the artifact bucket ARN is exported under its documented name', () => {
    const output = template.toJSON().Outputs[MLFLOW_OUTPUTS.artifactBucketArn];
    assert.deepEqual(output.Export, { Name: EXPORT_NAMES.artifactBucketArn });
  });

  test('the MLflow version and secret name are exported as configured', () => {
    const outputs = mlflowTemplate({ mlflowVersion: '3.5.1', mlflowSecretName: 'x/y' }).toJSON().Outputs;
    assert.equal(outputs[MLFLOW_OUTPUTS.mlflowVersion].Value, '3.5.1');
    assert.equal(outputs[MLFLOW_OUTPUTS.mlflowCredentialsSecretName].Value, 'x/y');
  });
});
