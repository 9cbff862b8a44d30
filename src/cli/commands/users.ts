/**
 * `users add|list|remove|grant`: personal MLflow accounts of the users access mode (auth=users), through the tracking
 * endpoint with the admin credentials from Secrets Manager. A new account's password is generated here, kept in
 * Secrets Manager under `mlflow/users/<name>` (JSON {username, password}, tagged for this app) and printed only with
 * --show-password. Permissions are MLflow's per-resource grants (its /api/3.0/mlflow/users/permissions/grant API).
 * With auth=sso and the stack's Cognito user pool, add/list/remove manage the pool's users instead (sso-users.ts).
 */
import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  ListSecretsCommand,
  type SecretListEntry,
} from '@aws-sdk/client-secrets-manager';
import { MLFLOW_PERMISSIONS, MLFLOW_USERNAME_PATTERN } from '../../lib/service/auth';
import { STACK_NAMES } from '../../app/names';
import { connect, errorContext, type Target } from '../aws';
import { CliDeps } from '../deps';
import { CliError, EXIT, notDeployedError, toCliError } from '../errors';
import { commandHelp } from '../spec';
import { parseCommandOptions } from '../options';
import { SECRET_RECOVERY_DAYS, USER_SECRET_PREFIX, USERS } from './index';
import { mlflowAdmin } from './credentials';
import { MlflowAnswer, mlflowRequest, MlflowRequestError } from '../mlflow-contents';

export { SECRET_RECOVERY_DAYS, USER_SECRET_PREFIX };
/** MLflow's permissions: the one list of src/lib/service/auth.ts (also the `authDefaultPermission` choices). */
export const PERMISSIONS = MLFLOW_PERMISSIONS;
/** Tag on every user secret, so that `list` and a clean-up find them. */
export const USER_SECRET_TAG = { Key: 'mlflow-on-aws:user', Value: 'true' } as const;
const USERNAME = MLFLOW_USERNAME_PATTERN;

/** What to do instead of `users` in sso mode with an own provider (docs/guides/sso.md, "Connecting a provider"). */
export const SSO_USERS_HINT = 'Add people and their groups in your provider (ssoIssuerUrl): ssoAdminGroup for admins, a group of ssoGroupPermissions for the others; '
  + 'per-experiment grants by an admin in the MLflow UI or its REST API (docs/guides/sso.md).';

/** Why `users grant` is refused in sso mode, and what to do instead. */
export const SSO_GRANT_HINT = 'A member\'s groups give their permission on what nobody granted them (`users add <email> --group G`, ssoGroupPermissions); '
  + 'per-experiment and per-model grants by an admin (ssoAdminGroup) in the MLflow UI or its REST API (docs/guides/sso.md).';

interface Endpoint {
  readonly trackingUri: string;
  readonly authorization: string;
  readonly target: Target;
}

export async function usersCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, positionals: [action, ...positionals], options: common } = parseCommandOptions(USERS, args);
  if (action === undefined) {
    deps.output.err(commandHelp(USERS));
    return EXIT.usage;
  }
  const expected: Record<string, number> = { add: 1, list: 0, remove: 1, grant: 1 };
  if (!(action in expected)) {
    throw new CliError(`users: unknown action "${action}"; allowed: add, list, remove, grant.`, EXIT.usage, commandHelp(USERS));
  }
  if (positionals.length !== expected[action]) {
    throw new CliError(`users ${action}: expected ${expected[action] === 1 ? 'one user name' : 'no argument'}, got ${positionals.length === 0 ? 'none' : positionals.map((p) => `"${p}"`).join(' ')}.`, EXIT.usage, commandHelp(USERS));
  }
  if (values.json === true && action !== 'list') {
    throw new CliError(`users ${action}: --json goes with users list only.`, EXIT.usage);
  }
  const name = positionals[0];
  if (name !== undefined && !USERNAME.test(name)) {
    throw new CliError(`users ${action}: user name "${name}" is not allowed: 1 to 128 letters, digits or . _ @ + -, starting with a letter or digit.`, EXIT.usage);
  }
  let grant: { resourceType: 'experiment' | 'registered_model'; resource: string; permission: string } | undefined;
  if (action === 'grant') {
    const permission = values.permission as string | undefined;
    if (permission === undefined || !(PERMISSIONS as readonly string[]).includes(permission)) {
      throw new CliError(`users grant: --permission ${permission === undefined ? 'is required' : `"${permission}" is not allowed`}; allowed: ${PERMISSIONS.join(', ')}.`, EXIT.usage);
    }
    const experiment = values.experiment as string | undefined;
    const model = values.model as string | undefined;
    if ((experiment === undefined) === (model === undefined)) {
      throw new CliError('users grant: give exactly one of --experiment ID|NAME and --model NAME.', EXIT.usage);
    }
    grant = experiment !== undefined
      ? { resourceType: 'experiment', resource: experiment, permission }
      : { resourceType: 'registered_model', resource: model!, permission };
  }

  const target = await connect(deps, common);
  const admin = values.admin === true;
  const group = values.group as string | undefined;
  if (target.config.auth === 'sso') {
    if (target.config.ssoIssuerUrl !== undefined) {
      // The proxy passes no password to MLflow in sso mode: people and their groups live in the provider.
      throw new CliError('users: with auth=sso and your own provider (ssoIssuerUrl) people and their groups are managed there; '
        + 'there are no MLflow passwords to manage.', EXIT.usage, SSO_USERS_HINT);
    }
    if (action === 'grant') {
      throw new CliError('users grant: with auth=sso permissions come from the groups of the identity provider; this command grants nothing.', EXIT.usage, SSO_GRANT_HINT);
    }
    // Only in this mode: the Cognito client is loaded when needed.
    const { ssoUsers } = require('./sso-users') as typeof import('./sso-users');
    return ssoUsers(deps, target, { action: action as 'add' | 'list' | 'remove', email: name, admin, group, json: values.json === true });
  }
  if (admin || group !== undefined) {
    throw new CliError(`users ${action}: --admin and --group go with auth=sso (the stack's Cognito user pool) only; with auth=${target.config.auth} grant permissions with \`users grant\`.`, EXIT.usage);
  }
  const endpoint = await connectEndpoint(target);
  switch (action) {
    case 'add':
      return addUser(deps, endpoint, name, values['show-password'] === true);
    case 'list':
      return listUsers(deps, endpoint, values.json === true);
    case 'remove':
      return removeUser(deps, endpoint, name);
    default:
      return grantPermission(deps, endpoint, name, grant!);
  }
}

async function connectEndpoint(target: Target): Promise<Endpoint> {
  const { trackingUri, username, password } = await mlflowAdmin(target);
  if (!trackingUri) throw notDeployedError(STACK_NAMES.gateway, errorContext(target));
  return { trackingUri: trackingUri.replace(/\/+$/, ''), authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`, target };
}

/** One call of MLflow's REST API as the admin; its JSON answer. MLflow's own error message on failure. */
async function mlflow(endpoint: Endpoint, method: 'GET' | 'POST' | 'DELETE', path: string, body?: Record<string, string>, query?: Record<string, string>): Promise<any> {
  let response: MlflowAnswer;
  try {
    response = await mlflowRequest(endpoint.trackingUri, endpoint.authorization, {
      method, path: `${path}${query ? `?${new URLSearchParams(query)}` : ''}`, body, timeoutMs: 30_000,
    });
  } catch (error) {
    if (!(error instanceof MlflowRequestError)) throw error;
    throw new CliError(`No answer from MLflow at ${endpoint.trackingUri}: ${error.message}.`, EXIT.wrongTarget, 'Is the service running? `npx mlflow-on-aws status`.');
  }
  const { text } = response;
  if (response.ok) return text ? JSON.parse(text) : {};
  let message = text.slice(0, 300);
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    // not JSON: the text as is
  }
  if (response.status === 401) throw new CliError(`MLflow refused the admin credentials (401) at ${endpoint.trackingUri}.`, EXIT.failure, 'Is the deployment in users mode (setting auth=users)? After a password change in the secret, restart the ECS service.');
  if (response.status === 404 && /users|permissions/.test(path) && !/RESOURCE_DOES_NOT_EXIST/.test(text)) {
    throw new CliError(`MLflow at ${endpoint.trackingUri} has no user API (404): the deployment runs in shared mode.`, EXIT.usage, 'Deploy with -c auth=users to have personal accounts.');
  }
  throw new CliError(`MLflow answered ${response.status} to ${method} ${path}: ${message}`, EXIT.failure);
}

async function addUser(deps: CliDeps, endpoint: Endpoint, name: string, show: boolean): Promise<number> {
  // 32 random bytes as base64url: 43 characters, no character a shell or a URL would mangle.
  const password = randomBytes(32).toString('base64url');
  const secretId = `${USER_SECRET_PREFIX}${name}`;
  try {
    await endpoint.target.clients.secretsManager.send(new CreateSecretCommand({
      Name: secretId,
      Description: `MLflow account ${name} (npx mlflow-on-aws users)`,
      SecretString: JSON.stringify({ username: name, password, tracking_uri: endpoint.trackingUri }),
      Tags: [USER_SECRET_TAG],
    }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceExistsException') {
      throw new CliError(`users add: secret ${secretId} already exists (a user "${name}", or one removed less than ${SECRET_RECOVERY_DAYS} days ago).`, EXIT.failure, `Pick another name, or remove the old one for good: aws secretsmanager delete-secret --secret-id ${secretId} --force-delete-without-recovery`);
    }
    throw toCliError(error, errorContext(endpoint.target, `creating secret ${secretId} (secretsmanager:CreateSecret, TagResource)`));
  }
  try {
    await mlflow(endpoint, 'POST', '/api/2.0/mlflow/users/create', { username: name, password });
  } catch (error) {
    // No account without its secret, no secret without its account.
    await endpoint.target.clients.secretsManager.send(new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true })).catch(() => undefined);
    throw error;
  }
  deps.output.out(`Created MLflow user ${name}; password in Secrets Manager: ${secretId}.`);
  if (show) deps.output.out(`Password: ${password}`);
  deps.output.err(`Next: npx mlflow-on-aws users grant ${name} --experiment <id or name> --permission READ|EDIT|MANAGE`);
  return EXIT.ok;
}

async function userSecrets(endpoint: Endpoint): Promise<SecretListEntry[]> {
  const found: SecretListEntry[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await endpoint.target.clients.secretsManager.send(new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: [USER_SECRET_PREFIX] }],
        NextToken: token,
      }));
      found.push(...(page.SecretList ?? []).filter((s) => s.Name?.startsWith(USER_SECRET_PREFIX)));
      token = page.NextToken;
    } while (token);
  } catch (error) {
    throw toCliError(error, errorContext(endpoint.target, 'listing secrets (secretsmanager:ListSecrets)'));
  }
  return found;
}

/** What `users list --json` prints (docs/reference/cli.md); fields are only ever added. */
export interface UsersListReport {
  /** MLflow's accounts, by name. */
  readonly users: ReadonlyArray<{ readonly username: string; readonly admin: boolean; readonly secret: string | null }>;
  /** Secrets under mlflow/users/ whose account MLflow does not have (each also named on stderr). */
  readonly secretsWithoutUser: readonly string[];
}

async function listUsers(deps: CliDeps, endpoint: Endpoint, json: boolean): Promise<number> {
  const answer = await mlflow(endpoint, 'GET', '/api/2.0/mlflow/users/list');
  const secrets = new Set((await userSecrets(endpoint)).map((s) => s.Name!.slice(USER_SECRET_PREFIX.length)));
  const users = ((answer.users ?? []) as Array<{ username: string; is_admin: boolean }>).sort((a, b) => a.username.localeCompare(b.username));
  const orphans = [...secrets].filter((name) => !users.some((u) => u.username === name)).sort();
  if (json) {
    const report: UsersListReport = {
      users: users.map((user) => ({ username: user.username, admin: user.is_admin === true, secret: secrets.has(user.username) ? `${USER_SECRET_PREFIX}${user.username}` : null })),
      secretsWithoutUser: orphans.map((name) => `${USER_SECRET_PREFIX}${name}`),
    };
    deps.output.out(JSON.stringify(report, null, 2));
  } else {
    for (const user of users) {
      const notes = [user.is_admin ? 'admin' : '', secrets.has(user.username) ? `secret ${USER_SECRET_PREFIX}${user.username}` : ''].filter(Boolean);
      deps.output.out(`${user.username}${notes.length ? `  (${notes.join(', ')})` : ''}`);
    }
  }
  for (const orphan of orphans) {
    deps.output.err(`Secret ${USER_SECRET_PREFIX}${orphan} has no MLflow user: remove it with \`npx mlflow-on-aws users remove ${orphan}\`.`);
  }
  return EXIT.ok;
}

async function removeUser(deps: CliDeps, endpoint: Endpoint, name: string): Promise<number> {
  const secretId = `${USER_SECRET_PREFIX}${name}`;
  const exists = await mlflow(endpoint, 'GET', '/api/2.0/mlflow/users/get', undefined, { username: name }).then(() => true, (error: CliError) => {
    if (/RESOURCE_DOES_NOT_EXIST|not found/i.test(error.message)) return false;
    throw error;
  });
  if (exists) await mlflow(endpoint, 'DELETE', '/api/2.0/mlflow/users/delete', { username: name });
  let hadSecret = true;
  try {
    await endpoint.target.clients.secretsManager.send(new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: SECRET_RECOVERY_DAYS }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw toCliError(error, errorContext(endpoint.target, `deleting secret ${secretId} (secretsmanager:DeleteSecret)`));
    hadSecret = false;
  }
  if (!exists && !hadSecret) throw new CliError(`users remove: there is no user "${name}" and no secret ${secretId}.`, EXIT.failure, 'See `npx mlflow-on-aws users list`.');
  deps.output.out(`Removed MLflow user ${name}${exists ? '' : ' (MLflow had no such user)'}; ${hadSecret ? `secret ${secretId} is deleted in ${SECRET_RECOVERY_DAYS} days` : 'there was no secret'}.`);
  return EXIT.ok;
}

async function grantPermission(deps: CliDeps, endpoint: Endpoint, name: string, grant: { resourceType: 'experiment' | 'registered_model'; resource: string; permission: string }): Promise<number> {
  let resourceId = grant.resource;
  if (grant.resourceType === 'experiment' && !/^\d+$/.test(grant.resource)) {
    const found = await mlflow(endpoint, 'GET', '/api/2.0/mlflow/experiments/get-by-name', undefined, { experiment_name: grant.resource }).catch((error: CliError) => {
      if (/RESOURCE_DOES_NOT_EXIST|404/.test(error.message)) throw new CliError(`users grant: --experiment "${grant.resource}": no experiment has that name or ID.`, EXIT.usage);
      throw error;
    });
    resourceId = found.experiment.experiment_id;
  }
  await mlflow(endpoint, 'POST', '/api/3.0/mlflow/users/permissions/grant', {
    username: name, resource_type: grant.resourceType, resource_id: resourceId, permission: grant.permission,
  });
  const what = grant.resourceType === 'experiment' ? `experiment ${resourceId}${resourceId === grant.resource ? '' : ` (${grant.resource})`}` : `registered model ${grant.resource}`;
  deps.output.out(`Granted ${grant.permission} on ${what} to ${name}.`);
  return EXIT.ok;
}
