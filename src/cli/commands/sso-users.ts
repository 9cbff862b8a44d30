/**
 * `users add|list|remove` with auth=sso and the stack's Cognito user pool (output SsoUserPoolId of the MLflow stack):
 * people are users of the pool, named by their e-mail address, and their groups are their MLflow permissions
 * (`ssoAdminGroup`, the groups of `ssoGroupPermissions`). Cognito e-mails a new user a temporary password; nothing
 * secret passes through here. Loaded by users.ts only in that mode, so the Cognito client is required only then.
 */
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminListGroupsForUserCommand,
  CognitoIdentityProviderClient,
  ListUsersCommand,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { MLFLOW_OUTPUTS, STACK_NAMES } from '../../app/names';
import { errorContext, findStack, stackOutputs, type Target } from '../aws';
import { awsClientConfig, CliDeps } from '../deps';
import { CliError, EXIT, notDeployedError, toCliError } from '../errors';

/** What an sso action needs: the action, the e-mail address (add, remove) and add's group options. */
export interface SsoUsersRequest {
  readonly action: 'add' | 'list' | 'remove';
  readonly email?: string;
  readonly admin: boolean;
  readonly group?: string;
  readonly json: boolean;
}

/** What `users list --json` prints with auth=sso (docs/reference/cli.md); fields are only ever added. */
export interface SsoUsersListReport {
  /** The pool's users by e-mail address; `admin` when in `ssoAdminGroup`. */
  readonly users: ReadonlyArray<{
    readonly username: string;
    readonly admin: boolean;
    readonly groups: readonly string[];
    readonly enabled: boolean;
    /** Cognito's user status, e.g. FORCE_CHANGE_PASSWORD until the first sign-in, CONFIRMED after. */
    readonly status: string | null;
  }>;
  readonly userPoolId: string;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;

/** The groups `users add --group` accepts: the admin group and those of `ssoGroupPermissions`. */
export function ssoGroups(target: Target): string[] {
  return [target.config.ssoAdminGroup!, ...Object.keys(target.config.ssoGroupPermissions ?? {})];
}

/** Checks the request against the configuration before any call (bad e-mail address, unknown group). */
export function checkSsoRequest(target: Target, request: SsoUsersRequest): void {
  const { action, email, group } = request;
  if (email !== undefined && !EMAIL.test(email)) {
    throw new CliError(`users ${action}: "${email}" is not an e-mail address; with auth=sso people are named by their e-mail address (the Cognito user pool signs in with it).`, EXIT.usage);
  }
  if (action !== 'add' && (request.admin || group !== undefined)) {
    throw new CliError(`users ${action}: --admin and --group go with users add only.`, EXIT.usage);
  }
  if (request.admin && group !== undefined) {
    throw new CliError('users add: give --admin or --group, not both (--admin is --group ' + target.config.ssoAdminGroup + ').', EXIT.usage);
  }
  const allowed = ssoGroups(target);
  if (group !== undefined && !allowed.includes(group)) {
    throw new CliError(`users add: --group "${group}" is not one of the groups of the deployment; allowed: ${allowed.join(', ')} (ssoAdminGroup and the groups of ssoGroupPermissions).`, EXIT.usage);
  }
}

export async function ssoUsers(deps: CliDeps, target: Target, request: SsoUsersRequest): Promise<number> {
  checkSsoRequest(target, request);
  const stack = await findStack(target, STACK_NAMES.mlflow);
  if (!stack) throw notDeployedError(STACK_NAMES.mlflow, errorContext(target));
  const poolId = stackOutputs(stack)[MLFLOW_OUTPUTS.ssoUserPoolId];
  if (!poolId) {
    throw new CliError(`users: stack ${STACK_NAMES.mlflow} has no ${MLFLOW_OUTPUTS.ssoUserPoolId} output: it was not deployed with auth=sso and the stack's Cognito user pool.`, EXIT.notDeployed, 'Deploy with these settings first: `npx mlflow-on-aws deploy`.');
  }
  const cognito = new CognitoIdentityProviderClient(awsClientConfig({ region: target.region, profile: target.profile }));
  const pool = { target, cognito, poolId };
  switch (request.action) {
    // Lower case: the pool's sign-in names are case insensitive, and MLflow knows a signed-in identity in lower case
    // (containers/mlflow/mlflow_auth.py), so the e-mail claim, the pool and MLflow name the person alike.
    case 'add':
      return addSsoUser(deps, pool, request.email!.toLowerCase(), request.admin ? target.config.ssoAdminGroup! : request.group);
    case 'remove':
      return removeSsoUser(deps, pool, request.email!.toLowerCase());
    default:
      return listSsoUsers(deps, pool, request.json);
  }
}

interface Pool {
  readonly target: Target;
  readonly cognito: CognitoIdentityProviderClient;
  readonly poolId: string;
}

function failure(pool: Pool, error: unknown, action: string): CliError {
  return toCliError(error, errorContext(pool.target, `${action} in Cognito user pool ${pool.poolId}`));
}

async function addSsoUser(deps: CliDeps, pool: Pool, email: string, group: string | undefined): Promise<number> {
  try {
    await pool.cognito.send(new AdminCreateUserCommand({
      UserPoolId: pool.poolId,
      Username: email,
      UserAttributes: [{ Name: 'email', Value: email }, { Name: 'email_verified', Value: 'true' }],
      DesiredDeliveryMediums: ['EMAIL'],
    }));
  } catch (error) {
    if ((error as { name?: string }).name === 'UsernameExistsException') {
      throw new CliError(`users add: ${email} is already a user of Cognito user pool ${pool.poolId}.`, EXIT.failure, 'See `npx mlflow-on-aws users list`.');
    }
    throw failure(pool, error, `creating user ${email} (cognito-idp:AdminCreateUser)`);
  }
  if (group !== undefined) {
    try {
      await pool.cognito.send(new AdminAddUserToGroupCommand({ UserPoolId: pool.poolId, Username: email, GroupName: group }));
    } catch (error) {
      throw failure(pool, error, `adding ${email} to group ${group} (cognito-idp:AdminAddUserToGroup); the user was created`);
    }
  }
  deps.output.out(`Created user ${email} in Cognito user pool ${pool.poolId}${group ? `, group ${group}` : ''}; Cognito e-mails them a temporary password (valid 3 days).`);
  if (group === undefined) {
    deps.output.err(`In no group, ${email} has authDefaultPermission on what nobody granted them; groups: ${ssoGroups(pool.target).join(', ')} (\`users add --group G\` for a new user; an admin grants more in the MLflow UI).`);
  }
  return EXIT.ok;
}

async function removeSsoUser(deps: CliDeps, pool: Pool, email: string): Promise<number> {
  try {
    // Disabled first: the refresh of a browser session fails from then on, even if the deletion were refused.
    await pool.cognito.send(new AdminDisableUserCommand({ UserPoolId: pool.poolId, Username: email }));
    await pool.cognito.send(new AdminDeleteUserCommand({ UserPoolId: pool.poolId, Username: email }));
  } catch (error) {
    if ((error as { name?: string }).name === 'UserNotFoundException') {
      throw new CliError(`users remove: there is no user ${email} in Cognito user pool ${pool.poolId}.`, EXIT.failure, 'See `npx mlflow-on-aws users list`.');
    }
    throw failure(pool, error, `removing user ${email} (cognito-idp:AdminDisableUser, AdminDeleteUser)`);
  }
  deps.output.out(`Removed user ${email} from Cognito user pool ${pool.poolId}; a browser session of theirs ends within ${pool.target.config.ssoSessionRefreshSeconds} seconds (ssoSessionRefreshSeconds), a bearer token they hold at its expiry.`);
  return EXIT.ok;
}

async function listSsoUsers(deps: CliDeps, pool: Pool, json: boolean): Promise<number> {
  const found: UserType[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await pool.cognito.send(new ListUsersCommand({ UserPoolId: pool.poolId, PaginationToken: token }));
      found.push(...(page.Users ?? []));
      token = page.PaginationToken;
    } while (token);
  } catch (error) {
    throw failure(pool, error, 'listing users (cognito-idp:ListUsers)');
  }
  const adminGroup = pool.target.config.ssoAdminGroup!;
  const users: Array<SsoUsersListReport['users'][number]> = [];
  for (const user of found) {
    const groups: string[] = [];
    let next: string | undefined;
    try {
      do {
        const page = await pool.cognito.send(new AdminListGroupsForUserCommand({ UserPoolId: pool.poolId, Username: user.Username!, NextToken: next }));
        groups.push(...(page.Groups ?? []).map((g) => g.GroupName!).filter(Boolean));
        next = page.NextToken;
      } while (next);
    } catch (error) {
      throw failure(pool, error, `listing the groups of ${user.Username} (cognito-idp:AdminListGroupsForUser)`);
    }
    const email = user.Attributes?.find((a) => a.Name === 'email')?.Value ?? user.Username!;
    groups.sort();
    users.push({ username: email, admin: groups.includes(adminGroup), groups, enabled: user.Enabled !== false, status: user.UserStatus ?? null });
  }
  users.sort((a, b) => a.username.localeCompare(b.username));
  if (json) {
    const report: SsoUsersListReport = { users, userPoolId: pool.poolId };
    deps.output.out(JSON.stringify(report, null, 2));
    return EXIT.ok;
  }
  for (const user of users) {
    const notes = [user.groups.length ? `groups ${user.groups.join(', ')}` : 'no group', user.enabled ? '' : 'disabled', user.status === 'FORCE_CHANGE_PASSWORD' ? 'not signed in yet' : ''].filter(Boolean);
    deps.output.out(`${user.username}  (${notes.join(', ')})`);
  }
  if (users.length === 0) deps.output.err(`Cognito user pool ${pool.poolId} has no users: \`npx mlflow-on-aws users add <email> --admin\` for the first admin.`);
  return EXIT.ok;
}
