import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CreateSecretCommand, DeleteSecretCommand, GetSecretValueCommand, ListSecretsCommand, ResourceExistsException,
} from '@aws-sdk/client-secrets-manager';
import {
  AdminAddUserToGroupCommand, AdminCreateUserCommand, AdminDeleteUserCommand, AdminDisableUserCommand, AdminListGroupsForUserCommand,
  CognitoIdentityProviderClient, ListUsersCommand, UserNotFoundException, UsernameExistsException, type UserStatusType,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { EXIT } from '../../src/cli/errors';
import { harness, Harness, outputs, setStacks } from './helpers';

const ADMIN = 'Basic ' + Buffer.from('admin:admin-password-123').toString('base64');

/** A loopback stand-in for MLflow's auth API: records requests, answers from `users` and `experiments`. */
interface Seen { method: string; path: string; query: URLSearchParams; body: any; authorization?: string }
let server: Server;
let uri: string;
let seen: Seen[];
let users: Map<string, boolean>;
let failCreate: number | undefined;

before(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body = raw ? JSON.parse(raw) : undefined;
      seen.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, body, authorization: req.headers.authorization });
      const send = (status: number, value: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.headers.authorization !== ADMIN) return send(401, { error_code: 'UNAUTHENTICATED', message: 'no' });
      switch (`${req.method} ${url.pathname}`) {
        case 'POST /api/2.0/mlflow/users/create':
          if (failCreate) return send(failCreate, { error_code: 'INTERNAL_ERROR', message: 'database down' });
          users.set(body.username, false);
          return send(200, { user: { username: body.username } });
        case 'GET /api/2.0/mlflow/users/list':
          return send(200, { users: [...users].map(([username, is_admin]) => ({ username, is_admin })) });
        case 'GET /api/2.0/mlflow/users/get':
          return users.has(url.searchParams.get('username')!) ? send(200, { user: {} }) : send(404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'User not found' });
        case 'DELETE /api/2.0/mlflow/users/delete':
          users.delete(body.username);
          return send(200, {});
        case 'GET /api/2.0/mlflow/experiments/get-by-name':
          return url.searchParams.get('experiment_name') === 'team'
            ? send(200, { experiment: { experiment_id: '7', name: 'team' } })
            : send(404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Could not find experiment' });
        case 'POST /api/3.0/mlflow/users/permissions/grant':
          return send(200, {});
        default:
          return send(404, { message: 'Not Found' });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

/** The Cognito client is made by the sso module itself (loaded only in that mode): mocked for every instance. */
const cognito = mockClient(CognitoIdentityProviderClient);

beforeEach(() => {
  cognito.reset();
  seen = [];
  users = new Map([['admin', true]]);
  failCreate = undefined;
});

function deployed(): Harness {
  const h = harness();
  setStacks(h.mocks, {
    MLflowVpcStack: { Outputs: outputs({ MlflowCredentialsSecretName: 'mlflow-server-credentials' }) },
    HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: `${uri}/` }) },
  });
  h.mocks.secrets.on(GetSecretValueCommand, { SecretId: 'mlflow-server-credentials' }).resolves({ SecretString: JSON.stringify({ username: 'admin', password: 'admin-password-123' }) });
  h.mocks.secrets.on(CreateSecretCommand).resolves({});
  h.mocks.secrets.on(DeleteSecretCommand).resolves({});
  return h;
}

describe('users', () => {
  it('auth=sso with an own provider (ssoIssuerUrl): refused with what to do in the provider instead (no MLflow password is ever checked in that mode)', async () => {
    const h = harness({ cdkContext: { auth: 'sso', ssoIssuerUrl: 'https://example.okta.com/', ssoClientId: '0oa1' } });
    assert.equal(await h.run('users', 'add', 'alice@example.com'), EXIT.usage, h.text());
    assert.match(h.text(), /with auth=sso and your own provider \(ssoIssuerUrl\) people and their groups are managed there/);
    assert.match(h.text(), /Add people and their groups in your provider/);
    assert.equal(h.mocks.secrets.commandCalls(CreateSecretCommand).length, 0);
    assert.equal(cognito.calls().length, 0);
    assert.deepEqual(seen, []);
  });

  it('add: stores a generated password in mlflow/users/<name>, tagged, creates the user with it, prints it only when asked', async () => {
    const h = deployed();
    assert.equal(await h.run('users', 'add', 'alice'), EXIT.ok, h.text());
    const created = h.mocks.secrets.commandCalls(CreateSecretCommand)[0].args[0].input;
    assert.equal(created.Name, 'mlflow/users/alice');
    assert.deepEqual(created.Tags, [{ Key: 'mlflow-on-aws:user', Value: 'true' }]);
    const secret = JSON.parse(created.SecretString!);
    assert.equal(secret.username, 'alice');
    assert.match(secret.password, /^[A-Za-z0-9_-]{43}$/);
    const create = seen.find((s) => s.path === '/api/2.0/mlflow/users/create')!;
    assert.deepEqual(create.body, { username: 'alice', password: secret.password });
    assert.equal(create.authorization, ADMIN);
    assert.ok(!h.text().includes(secret.password), 'the password is not printed without --show-password');

    const shown = deployed();
    assert.equal(await shown.run('users', 'add', 'bob', '--show-password'), EXIT.ok);
    const password = JSON.parse(shown.mocks.secrets.commandCalls(CreateSecretCommand)[0].args[0].input.SecretString!).password;
    assert.ok(shown.out.includes(`Password: ${password}`));
    assert.notEqual(password, secret.password);
  });

  it('add: an existing secret stops it before MLflow is called; a failed MLflow call deletes the new secret', async () => {
    const h = deployed();
    h.mocks.secrets.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    assert.equal(await h.run('users', 'add', 'alice'), EXIT.failure);
    assert.match(h.text(), /secret mlflow\/users\/alice already exists/);
    assert.equal(seen.filter((s) => s.path.includes('users/create')).length, 0);

    failCreate = 500;
    const g = deployed();
    assert.equal(await g.run('users', 'add', 'carol'), EXIT.failure);
    assert.match(g.text(), /MLflow answered 500 .*database down/);
    const deleted = g.mocks.secrets.commandCalls(DeleteSecretCommand)[0].args[0].input;
    assert.deepEqual(deleted, { SecretId: 'mlflow/users/carol', ForceDeleteWithoutRecovery: true });
  });

  it('list: MLflow\'s users with their secrets, and secrets without a user', async () => {
    users.set('alice', false);
    const h = deployed();
    h.mocks.secrets.on(ListSecretsCommand).resolves({ SecretList: [{ Name: 'mlflow/users/alice' }, { Name: 'mlflow/users/ghost' }] });
    assert.equal(await h.run('users', 'list'), EXIT.ok, h.text());
    assert.deepEqual(h.out, ['admin  (admin)', 'alice  (secret mlflow/users/alice)']);
    assert.match(h.err.join('\n'), /mlflow\/users\/ghost has no MLflow user/);
  });

  it('list --json: one JSON document on stdout, the secrets without a user in it and named on stderr', async () => {
    users.set('alice', false);
    users.set('bob', false);
    const h = deployed();
    h.mocks.secrets.on(ListSecretsCommand).resolves({ SecretList: [{ Name: 'mlflow/users/alice' }, { Name: 'mlflow/users/ghost' }] });
    assert.equal(await h.run('users', 'list', '--json'), EXIT.ok, h.text());
    assert.equal(h.out.length, 1, 'one document, nothing else on stdout');
    assert.deepEqual(JSON.parse(h.out[0]), {
      users: [
        { username: 'admin', admin: true, secret: null },
        { username: 'alice', admin: false, secret: 'mlflow/users/alice' },
        { username: 'bob', admin: false, secret: null },
      ],
      secretsWithoutUser: ['mlflow/users/ghost'],
    });
    assert.match(h.err.join('\n'), /mlflow\/users\/ghost has no MLflow user/);
  });

  it('list --json, admin credentials refused: exit 1, the error on stderr, nothing on stdout', async () => {
    const h = deployed();
    h.mocks.secrets.on(GetSecretValueCommand, { SecretId: 'mlflow-server-credentials' }).resolves({ SecretString: JSON.stringify({ username: 'admin', password: 'wrong' }) });
    assert.equal(await h.run('users', 'list', '--json'), EXIT.failure);
    assert.deepEqual(h.out, []);
    assert.match(h.err.join('\n'), /MLflow refused the admin credentials \(401\)/);
  });

  it('--json with another action than list is a usage error, before any AWS call', async () => {
    const h = deployed();
    assert.equal(await h.run('users', 'add', 'carol', '--json'), EXIT.usage);
    assert.match(h.err[0], /users add: --json goes with users list only/);
    assert.deepEqual(h.targets, []);
  });

  it('remove: deletes the user and schedules the secret\'s deletion with a recovery window', async () => {
    users.set('alice', false);
    const h = deployed();
    assert.equal(await h.run('users', 'remove', 'alice'), EXIT.ok, h.text());
    assert.ok(!users.has('alice'));
    assert.deepEqual(h.mocks.secrets.commandCalls(DeleteSecretCommand)[0].args[0].input, { SecretId: 'mlflow/users/alice', RecoveryWindowInDays: 7 });
  });

  it('grant: by experiment name or ID and by model, with MLflow\'s per-user grant API', async () => {
    const h = deployed();
    assert.equal(await h.run('users', 'grant', 'alice', '--experiment', 'team', '--permission', 'READ'), EXIT.ok, h.text());
    assert.equal(await h.run('users', 'grant', 'alice', '--experiment', '12', '--permission', 'MANAGE'), EXIT.ok, h.text());
    assert.equal(await h.run('users', 'grant', 'alice', '--model', 'churn', '--permission', 'EDIT'), EXIT.ok, h.text());
    const grants = seen.filter((s) => s.path === '/api/3.0/mlflow/users/permissions/grant').map((s) => s.body);
    assert.deepEqual(grants, [
      { username: 'alice', resource_type: 'experiment', resource_id: '7', permission: 'READ' },
      { username: 'alice', resource_type: 'experiment', resource_id: '12', permission: 'MANAGE' },
      { username: 'alice', resource_type: 'registered_model', resource_id: 'churn', permission: 'EDIT' },
    ]);
    assert.equal(await h.run('users', 'grant', 'alice', '--experiment', 'nope', '--permission', 'READ'), EXIT.usage);
    assert.match(h.text(), /--experiment "nope": no experiment has that name or ID/);
  });

  it('bad input: one-line errors naming the option, the value and what is allowed, before any AWS call', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['users', 'grant', 'alice', '--experiment', '1', '--permission', 'WRITE'], /--permission "WRITE" is not allowed; allowed: READ, EDIT, MANAGE, NO_PERMISSIONS/],
      [['users', 'grant', 'alice', '--experiment', '1'], /--permission is required; allowed: READ, EDIT, MANAGE, NO_PERMISSIONS/],
      [['users', 'grant', 'alice', '--permission', 'READ'], /exactly one of --experiment ID\|NAME and --model NAME/],
      [['users', 'grant', 'alice', '--experiment', '1', '--model', 'm', '--permission', 'READ'], /exactly one of/],
      [['users', 'add', 'bad name!'], /user name "bad name!" is not allowed/],
      [['users', 'add'], /users add: expected one user name, got none/],
      [['users', 'list', 'extra'], /users list: expected no argument, got "extra"/],
      [['users', 'rename', 'x'], /unknown action "rename"; allowed: add, list, remove, grant/],
      [['users', 'add', 'x', '--bogus'], /users: Unknown option '--bogus'/],
    ];
    for (const [argv, message] of cases) {
      const h = deployed();
      assert.equal(await h.run(...argv), EXIT.usage, argv.join(' '));
      assert.match(h.text(), message, argv.join(' '));
      assert.equal(h.mocks.cfn.calls().length, 0, 'no AWS call');
    }
    assert.equal(seen.length, 0, 'no MLflow call');
  });

  it('admin credentials refused, or a shared-mode deployment: clear errors', async () => {
    const h = deployed();
    h.mocks.secrets.on(GetSecretValueCommand, { SecretId: 'mlflow-server-credentials' }).resolves({ SecretString: JSON.stringify({ username: 'admin', password: 'stale' }) });
    assert.equal(await h.run('users', 'list'), EXIT.failure);
    assert.match(h.text(), /MLflow refused the admin credentials \(401\)/);
  });
});

const POOL = 'us-west-2_AbC123';
const SSO_CONTEXT = {
  auth: 'sso', domainName: 'mlflow.example.com', certificateArn: 'arn:aws:acm:us-west-2:123456789012:certificate/abc', ssoGroupPermissions: 'analysts=READ,ml-team=EDIT',
};

/** A deployment with auth=sso and the stack's Cognito user pool. */
function ssoDeployed(stackOutputs: Record<string, string> | null = { SsoUserPoolId: POOL }): Harness {
  const h = harness({ cdkContext: SSO_CONTEXT });
  setStacks(h.mocks, stackOutputs === null ? {} : { MLflowVpcStack: { Outputs: outputs(stackOutputs) } });
  cognito.on(AdminCreateUserCommand).resolves({ User: { Username: 'b2c3', Enabled: true } });
  cognito.on(AdminAddUserToGroupCommand).resolves({});
  cognito.on(AdminDisableUserCommand).resolves({});
  cognito.on(AdminDeleteUserCommand).resolves({});
  return h;
}

function cognitoError(Type: typeof UserNotFoundException | typeof UsernameExistsException, message: string): Error {
  return new Type({ message, $metadata: { httpStatusCode: 400 } });
}

describe('users with auth=sso and the stack\'s Cognito user pool', () => {
  it('add --admin: creates the user by e-mail (verified; Cognito e-mails the temporary password) in ssoAdminGroup, prints nothing secret', async () => {
    const h = ssoDeployed();
    assert.equal(await h.run('users', 'add', 'alice@example.com', '--admin'), EXIT.ok, h.text());
    const [created] = cognito.commandCalls(AdminCreateUserCommand);
    assert.deepEqual(created.args[0].input, {
      UserPoolId: POOL, Username: 'alice@example.com', DesiredDeliveryMediums: ['EMAIL'],
      UserAttributes: [{ Name: 'email', Value: 'alice@example.com' }, { Name: 'email_verified', Value: 'true' }],
    });
    assert.equal(created.args[0].input.TemporaryPassword, undefined, 'Cognito generates and e-mails it');
    assert.deepEqual(cognito.commandCalls(AdminAddUserToGroupCommand).map((c) => c.args[0].input), [{ UserPoolId: POOL, Username: 'alice@example.com', GroupName: 'mlflow-admins' }]);
    assert.deepEqual(h.out, [`Created user alice@example.com in Cognito user pool ${POOL}, group mlflow-admins; Cognito e-mails them a temporary password (valid 3 days).`]);
    assert.equal(h.mocks.secrets.commandCalls(CreateSecretCommand).length, 0);
    assert.deepEqual(seen, [], 'MLflow is not called');
  });

  it('add and remove name the person in lower case (the pool\'s sign-in names and MLflow\'s sso users are lower case)', async () => {
    const h = ssoDeployed();
    assert.equal(await h.run('users', 'add', 'Alice.Smith@Example.COM'), EXIT.ok, h.text());
    const [created] = cognito.commandCalls(AdminCreateUserCommand);
    assert.equal(created.args[0].input.Username, 'alice.smith@example.com');
    assert.deepEqual(created.args[0].input.UserAttributes, [{ Name: 'email', Value: 'alice.smith@example.com' }, { Name: 'email_verified', Value: 'true' }]);
    assert.equal(await h.run('users', 'remove', 'Alice.Smith@example.com'), EXIT.ok, h.text());
    assert.deepEqual(cognito.commandCalls(AdminDeleteUserCommand).map((c) => c.args[0].input.Username), ['alice.smith@example.com']);
  });

  it('add --group G: G of ssoGroupPermissions; without a group: no group, and a note naming the groups', async () => {
    const h = ssoDeployed();
    assert.equal(await h.run('users', 'add', 'bob@example.com', '--group', 'ml-team'), EXIT.ok, h.text());
    assert.deepEqual(cognito.commandCalls(AdminAddUserToGroupCommand).map((c) => c.args[0].input.GroupName), ['ml-team']);
    cognito.resetHistory();
    const plain = ssoDeployed();
    assert.equal(await plain.run('users', 'add', 'carol@example.com'), EXIT.ok, plain.text());
    assert.equal(cognito.commandCalls(AdminCreateUserCommand).length, 1);
    assert.equal(cognito.commandCalls(AdminAddUserToGroupCommand).length, 0);
    assert.match(plain.err.join('\n'), /In no group.*groups: mlflow-admins, analysts, ml-team/);
  });

  it('add --group with a group the deployment does not have: one-line usage error naming it and the allowed groups, nothing created', async () => {
    const h = ssoDeployed();
    assert.equal(await h.run('users', 'add', 'alice@example.com', '--group', 'admins'), EXIT.usage, h.text());
    assert.match(h.text(), /users add: --group "admins" is not one of the groups of the deployment; allowed: mlflow-admins, analysts, ml-team/);
    assert.equal(cognito.calls().length, 0);
  });

  it('bad input: not an e-mail address, --admin with --group, --group with list; refused before any Cognito call', async () => {
    const h = ssoDeployed();
    assert.equal(await h.run('users', 'add', 'alice', '--admin'), EXIT.usage);
    assert.match(h.text(), /"alice" is not an e-mail address/);
    assert.equal(await h.run('users', 'add', 'alice@example.com', '--admin', '--group', 'analysts'), EXIT.usage);
    assert.match(h.text(), /give --admin or --group, not both/);
    assert.equal(await h.run('users', 'list', '--group', 'analysts'), EXIT.usage);
    assert.match(h.text(), /users list: --admin and --group go with users add only/);
    assert.equal(cognito.calls().length, 0);
  });

  it('add of an existing user: says so, adds no group', async () => {
    const h = ssoDeployed();
    cognito.on(AdminCreateUserCommand).rejects(cognitoError(UsernameExistsException, 'An account with the given email already exists.'));
    assert.equal(await h.run('users', 'add', 'alice@example.com', '--admin'), EXIT.failure);
    assert.match(h.text(), /alice@example.com is already a user of Cognito user pool us-west-2_AbC123/);
    assert.equal(cognito.commandCalls(AdminAddUserToGroupCommand).length, 0);
  });

  it('without the SsoUserPoolId output, or without the stack: not deployed (exit 4), no Cognito call', async () => {
    const h = ssoDeployed({ MlflowVersion: '3.1.0' });
    assert.equal(await h.run('users', 'add', 'alice@example.com'), EXIT.notDeployed, h.text());
    assert.match(h.text(), /stack MLflowVpcStack has no SsoUserPoolId output/);
    const none = ssoDeployed(null);
    assert.equal(await none.run('users', 'list'), EXIT.notDeployed, none.text());
    assert.match(none.text(), /Stack MLflowVpcStack is not deployed/);
    assert.equal(cognito.calls().length, 0);
  });

  it('remove: disables, then deletes the user; names the session bound (ssoSessionRefreshSeconds)', async () => {
    const h = ssoDeployed();
    assert.equal(await h.run('users', 'remove', 'alice@example.com', '-c', 'ssoSessionRefreshSeconds=120'), EXIT.ok, h.text());
    assert.deepEqual(cognito.calls().map((c) => c.args[0].constructor.name), ['AdminDisableUserCommand', 'AdminDeleteUserCommand']);
    assert.deepEqual(cognito.commandCalls(AdminDeleteUserCommand)[0].args[0].input, { UserPoolId: POOL, Username: 'alice@example.com' });
    assert.match(h.out.join('\n'), /Removed user alice@example.com .*ends within 120 seconds \(ssoSessionRefreshSeconds\)/);
  });

  it('remove of an unknown user: says so (exit 1)', async () => {
    const h = ssoDeployed();
    cognito.on(AdminDisableUserCommand).rejects(cognitoError(UserNotFoundException, 'User does not exist.'));
    assert.equal(await h.run('users', 'remove', 'ghost@example.com'), EXIT.failure);
    assert.match(h.text(), /there is no user ghost@example.com in Cognito user pool/);
    assert.equal(cognito.commandCalls(AdminDeleteUserCommand).length, 0);
  });

  it('list: every page of users and of each user\'s groups; --json with users[].username/admin like users mode, plus groups', async () => {
    const h = ssoDeployed();
    const user = (id: string, email: string, status: UserStatusType = 'CONFIRMED') => ({ Username: id, Enabled: true, UserStatus: status, Attributes: [{ Name: 'sub', Value: id }, { Name: 'email', Value: email }] });
    cognito.on(ListUsersCommand, { UserPoolId: POOL, PaginationToken: undefined }).resolves({ Users: [user('u1', 'zoe@example.com')], PaginationToken: 'p2' });
    cognito.on(ListUsersCommand, { UserPoolId: POOL, PaginationToken: 'p2' }).resolves({ Users: [user('u2', 'alice@example.com', 'FORCE_CHANGE_PASSWORD')] });
    cognito.on(AdminListGroupsForUserCommand, { Username: 'u1', NextToken: undefined }).resolves({ Groups: [{ GroupName: 'analysts' }], NextToken: 'g2' });
    cognito.on(AdminListGroupsForUserCommand, { Username: 'u1', NextToken: 'g2' }).resolves({ Groups: [{ GroupName: 'mlflow-admins' }] });
    cognito.on(AdminListGroupsForUserCommand, { Username: 'u2' }).resolves({ Groups: [] });
    assert.equal(await h.run('users', 'list', '--json'), EXIT.ok, h.text());
    assert.deepEqual(JSON.parse(h.out.join('\n')), {
      users: [
        { username: 'alice@example.com', admin: false, groups: [], enabled: true, status: 'FORCE_CHANGE_PASSWORD' },
        { username: 'zoe@example.com', admin: true, groups: ['analysts', 'mlflow-admins'], enabled: true, status: 'CONFIRMED' },
      ],
      userPoolId: POOL,
    });
    assert.equal(cognito.commandCalls(ListUsersCommand).length, 2);
    assert.equal(cognito.commandCalls(AdminListGroupsForUserCommand).length, 3);
    const text = ssoDeployed();
    assert.equal(await text.run('users', 'list'), EXIT.ok, text.text());
    assert.deepEqual(text.out, ['alice@example.com  (no group, not signed in yet)', 'zoe@example.com  (groups analysts, mlflow-admins)']);
  });

  it('grant: refused (groups give permissions; admins grant in the MLflow UI), before any Cognito or MLflow call', async () => {
    const h = ssoDeployed();
    assert.equal(await h.run('users', 'grant', 'alice@example.com', '--experiment', '1', '--permission', 'READ'), EXIT.usage);
    assert.match(h.text(), /users grant: with auth=sso permissions come from the groups of the identity provider/);
    assert.match(h.text(), /MLflow UI or its REST API/);
    assert.equal(cognito.calls().length, 0);
    assert.deepEqual(seen, []);
  });

  it('--admin and --group with auth=users: refused (they go with auth=sso)', async () => {
    const h = deployed();
    assert.equal(await h.run('users', 'add', 'alice', '--admin'), EXIT.usage);
    assert.match(h.text(), /users add: --admin and --group go with auth=sso/);
    assert.equal(h.mocks.secrets.commandCalls(CreateSecretCommand).length, 0);
    assert.deepEqual(seen, []);
  });
});
