/** `credentials`: the MLflow username and password from Secrets Manager, or with --env the export lines for a shell. */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GATEWAY_OUTPUTS, MLFLOW_OUTPUTS, STACK_NAMES } from '../../app/names';
import { connect, errorContext, findStack, stackOutputs, Target } from '../aws';
import { CliDeps } from '../deps';
import { CliError, EXIT, notDeployedError, toCliError } from '../errors';
import { parseCommandOptions } from '../options';
import { CREDENTIALS } from './index';
import { exportLine } from '../shell';

export async function credentialsCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, options } = parseCommandOptions(CREDENTIALS, args);
  const target = await connect(deps, options);

  const { secretId, trackingUri, username, password } = await mlflowAdmin(target);

  if (values.env === true) {
    if (!trackingUri) throw notDeployedError(STACK_NAMES.gateway, errorContext(target));
    deps.output.out(exportLine('MLFLOW_TRACKING_URI', trackingUri));
    deps.output.out(exportLine('MLFLOW_TRACKING_USERNAME', username));
    deps.output.out(exportLine('MLFLOW_TRACKING_PASSWORD', password));
    return EXIT.ok;
  }
  deps.output.out(`Tracking URI: ${trackingUri ?? `(not deployed: stack ${STACK_NAMES.gateway} missing)`}`);
  deps.output.out(`Username:     ${username}`);
  deps.output.out(`Password:     ${password}`);
  deps.output.err(`Secret ${secretId} in account ${target.account}, region ${target.region}. For a shell: eval "$(npx mlflow-on-aws credentials --env)"`);
  return EXIT.ok;
}

/**
 * The MLflow admin account of the deployment: the secret named by the MLflow stack's output (the configured name when
 * the output is missing), its username and password, and the gateway's tracking URI (unset when the gateway stack is).
 */
export async function mlflowAdmin(target: Target): Promise<{ secretId: string; trackingUri?: string; username: string; password: string }> {
  const mlflowStack = await findStack(target, STACK_NAMES.mlflow);
  if (!mlflowStack) throw notDeployedError(STACK_NAMES.mlflow, errorContext(target));
  const secretId = stackOutputs(mlflowStack)[MLFLOW_OUTPUTS.mlflowCredentialsSecretName] ?? target.config.mlflowSecretName;
  const trackingUri = stackOutputs(await findStack(target, STACK_NAMES.gateway))[GATEWAY_OUTPUTS.trackingUri];
  return { secretId, trackingUri, ...(await readMlflowSecret(target, secretId)) };
}

/** The username and password in the MLflow credentials secret `secretId`. */
export async function readMlflowSecret(target: Target, secretId: string): Promise<{ username: string; password: string }> {
  let secretString: string | undefined;
  try {
    secretString = (await target.clients.secretsManager.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    throw toCliError(error, errorContext(target, `reading secret ${secretId} (secretsmanager:GetSecretValue)`));
  }
  return parseSecret(secretString, secretId);
}

/** The secret is JSON {"username", "password"}; anything else is reported, never printed. */
export function parseSecret(secretString: string | undefined, secretId: string): { username: string; password: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString ?? '');
  } catch {
    parsed = undefined;
  }
  const { username, password } = (parsed ?? {}) as { username?: unknown; password?: unknown };
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw new CliError(`Secret ${secretId} is not JSON with string "username" and "password" fields.`, EXIT.failure, 'Was the secret edited by hand? Restore both fields, then restart the ECS service.');
  }
  return { username, password };
}
