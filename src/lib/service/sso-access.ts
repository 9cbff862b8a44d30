import { Aws, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { MlflowPermission } from './auth';
import { FEDERATED_GROUPS_ATTRIBUTE, MlflowSsoFederation, type SsoFederation } from './sso-federation';

/**
 * oauth2-proxy, the sidecar that signs users in and checks their session cookies and bearer tokens (docs/guides/sso.md):
 * its official image at a pinned release. The end-to-end tests build the same release from its Go module
 * (scripts/build-sso-test-tools.sh).
 */
export const OAUTH2_PROXY_IMAGE = 'quay.io/oauth2-proxy/oauth2-proxy:v7.15.6';

/** Where oauth2-proxy listens inside the task: the nginx proxy's SSO_AUTH_UPSTREAM default (containers/nginx/entrypoint.sh). */
export const OAUTH2_PROXY_ADDRESS = '127.0.0.1:4180';

/** Container name of the sidecar. */
export const SSO_CONTAINER_NAME = 'oauth2-proxy';

/** JSON keys of the sidecar's secret. */
export const SSO_SECRET_KEYS = { clientSecret: 'clientSecret', cookieSecret: 'cookieSecret' } as const;

/** Scopes asked for at sign-in: Cognito always returns a refresh token, other providers with offline_access. */
const COGNITO_SCOPES = 'openid email profile';
const ISSUER_SCOPES = 'openid email profile offline_access';

/**
 * SSM parameters with the stack's Cognito issuer and app client id, which the gateway stack's JWT authorizer reads as
 * dynamic references: a CloudFormation export would stop the platform stack from dropping the pool (a move away from
 * auth=sso) while the deployed gateway still imports it.
 */
export const SSO_PARAMETERS = { issuer: '/mlflow-on-aws/sso/issuer', clientId: '/mlflow-on-aws/sso/client-id' } as const;

/** Who issues the bearer tokens MLflow accepts, and for which audiences (API Gateway's JWT authorizer). */
export interface SsoTokens {
  /** The issuer URL. */
  readonly issuer: string;
  /** Acceptable audiences: MLflow's client id and `ssoTokenAudiences`. */
  readonly audiences: string[];
}

/** Your own OpenID Connect provider (`ssoIssuerUrl`) instead of the stack's Cognito user pool. */
export interface SsoIssuer {
  /** The issuer URL (https). */
  readonly url: string;
  /** The client id registered there for MLflow. */
  readonly clientId: string;
  /** Name of the Secrets Manager secret whose key `clientSecret` holds the client secret (created by the operator). */
  readonly clientSecretName: string;
}

export interface MlflowSsoAccessProps {
  /** Your provider. @default a Cognito user pool of the stack, with hosted sign-in and an app client for MLflow */
  readonly issuer?: SsoIssuer;
  /**
   * The custom domain users open MLflow at: the Cognito app client's callback (`https://<domainName>/oauth2/callback`)
   * and sign-out URLs. Required without `issuer`.
   */
  readonly domainName?: string;
  /** The provider group whose members are MLflow admins. */
  readonly adminGroup: string;
  /** Permission on what nobody granted a user, by provider group (the highest applies, never below `defaultPermission`). */
  readonly groupPermissions: Readonly<Record<string, MlflowPermission>>;
  /** Permission of a signed-in user on what nobody granted them, whatever their groups. */
  readonly defaultPermission: MlflowPermission;
  /** The ID token claim that lists the user's groups. */
  readonly groupsClaim: string;
  /** Seconds after which a browser session is checked with the provider again: the bound for a disabled user. */
  readonly sessionRefreshSeconds: number;
  /** Audiences besides the client id that bearer tokens may carry (`aud`, else `client_id`). @default none */
  readonly tokenAudiences?: readonly string[];
  /** A company provider federated into the stack's Cognito user pool (not with `issuer`). @default none: the pool's own users only */
  readonly federation?: SsoFederation;
}

/**
 * Sign-in with OpenID Connect for the MLflow task (`auth=sso`): the Cognito user pool (hosted sign-in, the admin group,
 * an app client with a secret) unless `issuer` names another provider, the sidecar's secret (client secret and cookie
 * key), and the task's side: the oauth2-proxy container and the access variables of the nginx and MLflow containers
 * (`attach`). nginx asks oauth2-proxy about every request (auth_request) and passes only the user and groups it verified
 * to MLflow's authentication app, which applies the group settings (containers/mlflow/mlflow_auth.py).
 */
export class MlflowSsoAccess extends Construct {
  /** The issuer the sidecar trusts and API Gateway's JWT authorizer validates tokens of. */
  readonly issuerUrl: string;
  /** MLflow's client id at the provider. */
  readonly clientId: string;
  /** Audiences of acceptable tokens: MLflow's client id and `tokenAudiences`. */
  readonly audiences: string[];
  /**
   * The issuer and audiences for another stack (the gateway's JWT authorizer): plain values, or for the stack's Cognito
   * pool dynamic references to `SSO_PARAMETERS`, never a cross-stack export.
   */
  readonly tokens: SsoTokens;
  /** Client secret and cookie key of the sidecar. */
  readonly secret: secretsmanager.ISecret;
  /** The stack's Cognito user pool, without `issuer`. */
  readonly userPool?: cognito.UserPool;
  /** The hosted sign-in's base URL (`https://<prefix>.auth.<region>.amazoncognito.com`), without `issuer`. */
  readonly hostedSignInUrl?: string;
  /** The federated provider and its groups trigger, with `federation`. */
  readonly federation?: MlflowSsoFederation;
  private readonly props: MlflowSsoAccessProps;

  constructor(scope: Construct, id: string, props: MlflowSsoAccessProps) {
    super(scope, id);
    this.props = props;
    const cookieSecret = new secretsmanager.Secret(this, 'CookieSecret', {
      description: 'MLflow sign-in (auth=sso): the key oauth2-proxy encrypts and signs session cookies with',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: SSO_SECRET_KEYS.cookieSecret,
        // oauth2-proxy takes 16, 24 or 32 bytes: 32 letters and digits.
        passwordLength: 32,
        excludePunctuation: true,
        includeSpace: false,
      },
    });
    Validations.of(cookieSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'A new cookie key signs everyone out; it is read when a task starts, so an automatic rotation would leave tasks with '
        + 'different keys. Rotate deliberately: put a new value, then restart the service (docs/guides/sso.md).',
    });
    this.secret = cookieSecret;

    if (props.issuer && props.federation) throw new Error('MlflowSsoAccess: federation goes with the stack\'s Cognito user pool, not with issuer');
    if (props.issuer) {
      this.issuerUrl = props.issuer.url;
      this.clientId = props.issuer.clientId;
      this.clientSecret = secretsmanager.Secret.fromSecretNameV2(this, 'ClientSecret', props.issuer.clientSecretName);
    } else {
      if (!props.domainName) throw new Error('MlflowSsoAccess: the Cognito user pool needs domainName for its callback URL');
      const pool = new cognito.UserPool(this, 'UserPool', {
        selfSignUpEnabled: false,
        signInAliases: { email: true },
        // Alice@example.com and alice@example.com are one person (MLflow knows signed-in identities in lower case).
        signInCaseSensitive: false,
        autoVerify: { email: true },
        standardAttributes: { email: { required: true, mutable: true } },
        // A federated user's groups, mapped from the provider at each sign-in (mutable: Cognito rewrites it then).
        ...(props.federation ? { customAttributes: { [FEDERATED_GROUPS_ATTRIBUTE]: new cognito.StringAttribute({ minLen: 0, maxLen: 2048, mutable: true }) } } : {}),
        passwordPolicy: { minLength: 12, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
        mfa: cognito.Mfa.REQUIRED,
        mfaSecondFactor: { otp: true, sms: false },
        accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
        featurePlan: cognito.FeaturePlan.ESSENTIALS,
        deletionProtection: true,
        // The users are the deployment's people: kept when the stack goes (deletionProtection: delete the pool by hand).
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(pool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason: 'Threat protection needs the Plus feature plan, charged per monthly active user; the pool requires '
          + 'TOTP MFA and strong passwords, and federated sign-in leaves these checks to the company\'s provider.',
      });
      new cognito.CfnUserPoolGroup(this, 'AdminGroup', {
        userPoolId: pool.userPoolId,
        groupName: props.adminGroup,
        description: 'MLflow admins (auth=sso): every permission, grant and revoke',
      });
      for (const group of Object.keys(props.groupPermissions)) {
        if (group === props.adminGroup) continue;
        new cognito.CfnUserPoolGroup(this, `Group${group.replace(/[^A-Za-z0-9]/g, '')}${Object.keys(props.groupPermissions).indexOf(group)}`, {
          userPoolId: pool.userPoolId,
          groupName: group,
          description: `MLflow: ${props.groupPermissions[group]} on experiments and models nobody granted the member`,
        });
      }
      const federation = props.federation ? new MlflowSsoFederation(this, 'Federation', { userPool: pool, federation: props.federation }) : undefined;
      // Unique per account and region, stable across updates.
      const domain = pool.addDomain('HostedSignIn', { cognitoDomain: { domainPrefix: Fn.join('-', ['mlflow', Aws.ACCOUNT_ID]) } });
      const base = `https://${props.domainName}`;
      const client = pool.addClient('MlflowClient', {
        generateSecret: true,
        authFlows: {},
        oAuth: {
          flows: { authorizationCodeGrant: true },
          scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
          callbackUrls: [`${base}/oauth2/callback`],
          logoutUrls: [`${base}/`],
        },
        supportedIdentityProviders: [
          cognito.UserPoolClientIdentityProvider.COGNITO,
          ...(federation ? [cognito.UserPoolClientIdentityProvider.custom(federation.provider.providerName)] : []),
        ],
        preventUserExistenceErrors: true,
        accessTokenValidity: Duration.minutes(60),
        idTokenValidity: Duration.minutes(60),
        refreshTokenValidity: Duration.days(1),
        enableTokenRevocation: true,
      });
      const clientSecret = new secretsmanager.Secret(this, 'ClientSecret', {
        description: 'MLflow sign-in (auth=sso): the Cognito app client\'s secret, for oauth2-proxy',
        secretObjectValue: { [SSO_SECRET_KEYS.clientSecret]: client.userPoolClientSecret },
      });
      Validations.of(clientSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'Cognito generates an app client\'s secret and cannot rotate it in place; a new client (a stack update) brings a new one.',
      });
      this.clientSecret = clientSecret;
      this.federation = federation;
      this.userPool = pool;
      this.clientId = client.userPoolClientId;
      this.issuerUrl = `https://cognito-idp.${Stack.of(this).region}.${Aws.URL_SUFFIX}/${pool.userPoolId}`;
      this.hostedSignInUrl = domain.baseUrl();
    }
    this.audiences = [this.clientId, ...(props.tokenAudiences ?? [])];
    if (this.userPool) {
      new ssm.StringParameter(this, 'IssuerParameter', {
        parameterName: SSO_PARAMETERS.issuer,
        stringValue: this.issuerUrl,
        description: 'MLflow sign-in (auth=sso): the Cognito user pool\'s issuer, read by the gateway\'s JWT authorizer',
      });
      new ssm.StringParameter(this, 'ClientIdParameter', {
        parameterName: SSO_PARAMETERS.clientId,
        stringValue: this.clientId,
        description: 'MLflow sign-in (auth=sso): the Cognito app client\'s id, read by the gateway\'s JWT authorizer',
      });
      this.tokens = {
        issuer: `{{resolve:ssm:${SSO_PARAMETERS.issuer}}}`,
        audiences: [`{{resolve:ssm:${SSO_PARAMETERS.clientId}}}`, ...(props.tokenAudiences ?? [])],
      };
    } else {
      this.tokens = { issuer: this.issuerUrl, audiences: this.audiences };
    }
  }

  private readonly clientSecret: secretsmanager.ISecret;

  /** MLflow container variables (containers/mlflow/entrypoint.sh, "Access"). */
  mlflowEnvironment(): Record<string, string> {
    return {
      MLFLOW_AUTH: 'sso',
      MLFLOW_AUTH_DEFAULT_PERMISSION: this.props.defaultPermission,
      MLFLOW_SSO_ADMIN_GROUP: this.props.adminGroup,
      ...(Object.keys(this.props.groupPermissions).length > 0
        ? { MLFLOW_SSO_GROUP_PERMISSIONS: Object.entries(this.props.groupPermissions).map(([group, permission]) => `${group}=${permission}`).join(',') }
        : {}),
    };
  }

  /**
   * Adds the oauth2-proxy container to `taskDefinition` (its log stream `sso` in `logGroup`) and makes `proxy`, the nginx
   * container, start after it.
   */
  attach(taskDefinition: ecs.TaskDefinition, proxy: ecs.ContainerDefinition, logGroup: logs.ILogGroup): ecs.ContainerDefinition {
    const cognitoPool = this.userPool !== undefined;
    const container = taskDefinition.addContainer('SsoProxy', {
      containerName: SSO_CONTAINER_NAME,
      image: ecs.ContainerImage.fromRegistry(OAUTH2_PROXY_IMAGE),
      essential: true,
      // Every option is an OAUTH2_PROXY_* variable (oauth2-proxy's configuration names, upper case).
      environment: {
        OAUTH2_PROXY_HTTP_ADDRESS: OAUTH2_PROXY_ADDRESS,
        OAUTH2_PROXY_PROVIDER: 'oidc',
        OAUTH2_PROXY_OIDC_ISSUER_URL: this.issuerUrl,
        OAUTH2_PROXY_CLIENT_ID: this.clientId,
        OAUTH2_PROXY_SCOPE: cognitoPool ? COGNITO_SCOPES : ISSUER_SCOPES,
        OAUTH2_PROXY_OIDC_GROUPS_CLAIM: this.props.groupsClaim,
        // Access tokens of client-credentials clients name their client in client_id (Cognito), ID tokens in aud.
        OAUTH2_PROXY_OIDC_AUDIENCE_CLAIMS: 'aud,client_id',
        ...(this.props.tokenAudiences?.length ? { OAUTH2_PROXY_OIDC_EXTRA_AUDIENCES: this.props.tokenAudiences.join(',') } : {}),
        // nginx asks (auth_request); oauth2-proxy never proxies MLflow itself.
        OAUTH2_PROXY_UPSTREAMS: 'static://202',
        OAUTH2_PROXY_REVERSE_PROXY: 'true',
        OAUTH2_PROXY_SET_XAUTHREQUEST: 'true',
        OAUTH2_PROXY_SKIP_JWT_BEARER_TOKENS: 'true',
        OAUTH2_PROXY_SKIP_PROVIDER_BUTTON: 'true',
        OAUTH2_PROXY_EMAIL_DOMAINS: '*',
        OAUTH2_PROXY_COOKIE_NAME: '_mlflow_sso',
        OAUTH2_PROXY_COOKIE_SECURE: 'true',
        OAUTH2_PROXY_COOKIE_SAMESITE: 'lax',
        OAUTH2_PROXY_COOKIE_REFRESH: `${this.props.sessionRefreshSeconds}s`,
        OAUTH2_PROXY_COOKIE_EXPIRE: '12h',
      },
      secrets: {
        OAUTH2_PROXY_CLIENT_SECRET: ecs.Secret.fromSecretsManager(this.clientSecret, SSO_SECRET_KEYS.clientSecret),
        OAUTH2_PROXY_COOKIE_SECRET: ecs.Secret.fromSecretsManager(this.secret, SSO_SECRET_KEYS.cookieSecret),
      },
      logging: ecs.LogDriver.awsLogs({ logGroup, streamPrefix: 'sso' }),
    });
    proxy.addContainerDependencies({ container, condition: ecs.ContainerDependencyCondition.START });
    return container;
  }
}
