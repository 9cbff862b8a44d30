import * as path from 'node:path';
import { Duration, RemovalPolicy, SecretValue } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The pre-token-generation trigger's code (handler.js, no dependencies). */
export const SSO_GROUPS_TRIGGER_CODE = path.join(__dirname, 'sso-groups-trigger');

/** The custom attribute of the pool that keeps a federated user's groups (mapped from the provider at each sign-in). */
export const FEDERATED_GROUPS_ATTRIBUTE = 'groups';

/** The name the federated provider has in the pool (and on the hosted sign-in page's button). */
export const FEDERATED_PROVIDER_NAME = 'Company';

/** A company identity provider federated into the stack's Cognito user pool: SAML or OpenID Connect. */
export interface SsoFederation {
  /** A SAML provider by its metadata URL. @default none (then `oidc`) */
  readonly samlMetadataUrl?: string;
  /** An OpenID Connect provider. @default none (then `samlMetadataUrl`) */
  readonly oidc?: {
    /** The issuer URL (https). */
    readonly issuerUrl: string;
    /** The client id the pool is registered with there. */
    readonly clientId: string;
    /** Name of the Secrets Manager secret whose key `clientSecret` holds the client secret (created by the operator). */
    readonly clientSecretName: string;
  };
  /** The provider's attribute (SAML) or claim (OIDC) with the person's e-mail address. */
  readonly emailAttribute: string;
  /** The provider's attribute or claim listing the person's groups. */
  readonly groupsAttribute: string;
}

export interface MlflowSsoFederationProps {
  readonly userPool: cognito.UserPool;
  readonly federation: SsoFederation;
  /** How long the trigger's log is kept. @default one month */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A company provider in the stack's Cognito user pool (`ssoFederation*` settings): the SAML or OIDC identity provider
 * with the e-mail address and the groups mapped (the groups into the pool's `custom:groups`, which the pool must
 * declare: `FEDERATED_GROUPS_ATTRIBUTE`), and the pre-token-generation trigger that adds a federated user's groups to
 * `cognito:groups` (sso-groups-trigger/handler.js). The app client lists `provider` (MlflowSsoAccess).
 */
export class MlflowSsoFederation extends Construct {
  readonly provider: cognito.UserPoolIdentityProviderSaml | cognito.UserPoolIdentityProviderOidc;
  readonly trigger: lambda.Function;

  constructor(scope: Construct, id: string, props: MlflowSsoFederationProps) {
    super(scope, id);
    const { federation, userPool } = props;
    if ((federation.samlMetadataUrl === undefined) === (federation.oidc === undefined)) {
      throw new Error('MlflowSsoFederation: give one provider, samlMetadataUrl or oidc');
    }
    const attributeMapping: cognito.AttributeMapping = {
      email: cognito.ProviderAttribute.other(federation.emailAttribute),
      custom: { [`custom:${FEDERATED_GROUPS_ATTRIBUTE}`]: cognito.ProviderAttribute.other(federation.groupsAttribute) },
    };
    if (federation.samlMetadataUrl !== undefined) {
      this.provider = new cognito.UserPoolIdentityProviderSaml(this, 'Saml', {
        userPool,
        name: FEDERATED_PROVIDER_NAME,
        metadata: cognito.UserPoolIdentityProviderSamlMetadata.url(federation.samlMetadataUrl),
        attributeMapping,
      });
    } else {
      const oidc = federation.oidc!;
      this.provider = new cognito.UserPoolIdentityProviderOidc(this, 'Oidc', {
        userPool,
        name: FEDERATED_PROVIDER_NAME,
        issuerUrl: oidc.issuerUrl,
        clientId: oidc.clientId,
        // A dynamic reference, resolved by CloudFormation: the secret's value never enters the template.
        clientSecret: SecretValue.secretsManager(oidc.clientSecretName, { jsonField: 'clientSecret' }).unsafeUnwrap(),
        scopes: ['openid', 'email', 'profile'],
        attributeRequestMethod: cognito.OidcAttributeRequestMethod.GET,
        attributeMapping,
      });
    }

    const logGroup = new logs.LogGroup(this, 'TriggerLogs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    // Its own role with only what it does (write its log): no managed policy.
    const role = new iam.Role(this, 'TriggerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'MLflow sign-in (auth=sso): the Cognito trigger that adds a federated user\'s groups to cognito:groups',
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    this.trigger = new lambda.Function(this, 'GroupsTrigger', {
      description: 'MLflow sign-in: a federated user\'s groups (custom:groups) into the ID token\'s cognito:groups',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'handler.handler',
      code: lambda.Code.fromAsset(SSO_GROUPS_TRIGGER_CODE, { exclude: ['*.ts', '*.md'] }),
      memorySize: 128,
      timeout: Duration.seconds(5),
      role,
      logGroup,
    });
    userPool.addTrigger(cognito.UserPoolOperation.PRE_TOKEN_GENERATION, this.trigger);
  }
}
