import { Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface MlflowCredentialsProps {
  /** Name clients and the lab look the secret up by. */
  readonly secretName: string;
  /** Basic-auth user name. */
  readonly username: string;
}

/** The MLflow user's basic-auth credentials: a generated password in Secrets Manager, JSON `{username, password}`. */
export class MlflowCredentials extends Construct {
  readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: MlflowCredentialsProps) {
    super(scope, id);
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
