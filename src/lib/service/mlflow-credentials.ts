import { Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PLATFORM_DEFAULTS, withDefaults } from '../defaults';

export interface MlflowCredentialsProps {
  /** Name clients and the lab look the secret up by. @default PLATFORM_DEFAULTS.mlflowSecretName ('mlflow-server-credentials') */
  readonly secretName?: string;
  /** Basic-auth user name. @default PLATFORM_DEFAULTS.mlflowUsername ('admin') */
  readonly username?: string;
}

/** The MLflow user's basic-auth credentials: a generated password in Secrets Manager, JSON `{username, password}`. */
export class MlflowCredentials extends Construct {
  readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, given: MlflowCredentialsProps = {}) {
    super(scope, id);
    const props = withDefaults(given, { secretName: PLATFORM_DEFAULTS.mlflowSecretName, username: PLATFORM_DEFAULTS.mlflowUsername });
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      secretName: props.secretName,
      description: 'MLflow basic-auth credentials checked by the NGINX proxy',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: props.username }),
        generateStringKey: 'password',
        passwordLength: 32,
        // Printable ASCII without quotes and backslash: safe to paste into a shell or a URL-less client config.
        excludeCharacters: ' "\'\\`',
      },
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The proxy reads the credentials when its task starts and every MLflow user holds the password, so a silent automatic '
        + 'rotation would lock everyone out; rotate deliberately (README, "Rotating credentials").',
    });
  }
}
