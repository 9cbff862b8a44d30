import { SecretValue, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** JSON key of the token in the secret. */
const TOKEN_KEY = 'token';

/**
 * The IAM route's per-deployment token: a generated secret, JSON `{"token": ...}` of 48 letters and digits. API
 * Gateway writes it into a header of requests it authorized with IAM (beside the caller's ARN); the proxy admits an
 * IAM principal only with it, so the principal header cannot be forged by anything but this deployment's gateway.
 */
export class GatewayToken extends Construct {
  readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'MLflow IAM route: token API Gateway passes to the proxy with the caller\'s IAM principal',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: TOKEN_KEY,
        passwordLength: 48,
        excludePunctuation: true,
        includeSpace: false,
      },
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'CloudFormation copies the token into the gateway\'s integration when it deploys and ECS into the proxy when a task starts; '
        + 'an automatic rotation would leave them different and shut the IAM route. A new token takes a stack update and a service restart.',
    });
  }

  /**
   * The token of a `GatewayToken`'s `secret` as a CloudFormation dynamic reference (`{{resolve:secretsmanager:...}}`),
   * which CloudFormation resolves in any resource property when it deploys.
   */
  static tokenOf(secret: secretsmanager.ISecret): SecretValue {
    return secret.secretValueFromJson(TOKEN_KEY);
  }

  /** JSON key of the token, for `ecs.Secret.fromSecretsManager`. */
  static readonly key = TOKEN_KEY;
}
