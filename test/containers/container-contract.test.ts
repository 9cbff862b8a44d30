/**
 * The contract between the stack and the containers: every variable the task definition gives a container is one the
 * container documents and reads, and every variable the container needs is given by the stack (or by its image).
 * The end-to-end suite then runs the containers with exactly these variables (test/e2e/support/task-definition.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MIGRATE_ONLY_ENVIRONMENT } from '../../src/cli/commands/upgrade';
import { SQLITE_ENVIRONMENT, SQLITE_WRITER_MARKER } from '../../src/lib/contract';
import { LOOPBACK_ACCOUNT, renderForAccount, taskContract } from '../e2e/support/task-definition';
import { REPO_ROOT } from './support/proxy';

const MLFLOW_ENTRYPOINT = join(REPO_ROOT, 'containers', 'mlflow', 'entrypoint.sh');
const MLFLOW_DOCKERFILE = join(REPO_ROOT, 'containers', 'mlflow', 'Dockerfile');

/** Variable names documented in the header comment of a shell entrypoint (`#   NAME [NAME ...]   text`). */
function documentedVariables(file: string): Set<string> {
  const header = readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('#'));
  const names = new Set<string>();
  for (const line of header) {
    const match = /^#\s{2,}((?:[A-Z][A-Z0-9_]+\s+)+)/.exec(line);
    if (!match) continue;
    for (const name of match[1].trim().split(/\s+/)) names.add(name);
  }
  return names;
}

/** Variables the entrypoint stops without: the names in its `for name in ...; do` required list. */
function requiredVariables(file: string, engine: string = 'aurora'): string[] {
  // One list per database engine (DATABASE_ENGINE): the sqlite one names the replica, Aurora's the database host.
  const lists = [...readFileSync(file, 'utf8').matchAll(/for name in ([A-Z_ ]+); do/g)].map((match) => match[1].trim().split(/\s+/));
  const list = lists.find((names) => names.includes(engine === 'sqlite' ? SQLITE_ENVIRONMENT.replicaUrl : 'HOST'));
  assert.ok(list, `the entrypoint lists its required variables with DATABASE_ENGINE=${engine}`);
  return list;
}

/** Variables the image sets: the NAME= words of its ENV instructions (continuation lines included). */
function imageVariables(dockerfile: string): Set<string> {
  const instructions = readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ').split('\n');
  const names = new Set<string>();
  for (const line of instructions.filter((l) => /^ENV\s/.test(l))) {
    for (const match of line.matchAll(/(?:^ENV|\s)([A-Z][A-Z0-9_]*)=/g)) names.add(match[1]);
  }
  return names;
}

const PROXY_ENTRYPOINT = join(REPO_ROOT, 'containers', 'nginx', 'entrypoint.sh');

/** Configurations whose task definitions differ in the variables they set; together they set every documented one. */
const CONFIGURATIONS = [
  ['defaults', {}],
  ['the lean profile: database=sqlite', { profile: 'lean' }],
  ['the lean profile on Aurora, personal accounts', { profile: 'lean', database: 'aurora', auth: 'users' }],
  ['proxied artifacts and background jobs', { proxyArtifacts: true, mlflowBackgroundJobs: true, taskMemoryMiB: 4096 }],
  ['personal accounts (auth=users) with the Studio role on the IAM route', { auth: 'users' }],
  ['personal accounts, no SageMaker and no IAM principal', { auth: 'users', sagemaker: 'none' }],
  ['sign-in with an OpenID provider (auth=sso), group permissions', {
    auth: 'sso', ssoIssuerUrl: 'https://example.okta.com/oauth2/default', ssoClientId: '0oa123', ssoGroupPermissions: 'analysts=READ',
  }],
] as const;

/**
 * Variables the entrypoint reads that are not the stack's to set: the loopback test settings, and the migrate-only
 * switch that `npx mlflow-on-aws upgrade` sets in its one-off task's container override (never in the task definition).
 */
const NOT_FROM_THE_STACK = ['MLFLOW_DB_HELPER', 'MLFLOW_LISTEN_PORT', MIGRATE_ONLY_ENVIRONMENT.name];

describe('the MLflow container contract', () => {
  const contracts = CONFIGURATIONS.map(([name, settings]) => [name, taskContract(settings)] as const);
  for (const [name, { mlflow, proxy }] of contracts) {
    it(`${name}: the stack sets only documented variables, and every required one`, () => {
      const given = [...Object.keys(mlflow.environment), ...mlflow.secrets];
      const documented = documentedVariables(MLFLOW_ENTRYPOINT);
      const undocumented = given.filter((variable) => !documented.has(variable));
      assert.deepEqual(undocumented, [], 'set by the stack but not part of the entrypoint\'s documented contract');
      const fromImage = imageVariables(MLFLOW_DOCKERFILE);
      const engine = typeof mlflow.environment[SQLITE_ENVIRONMENT.engine] === 'string' ? mlflow.environment[SQLITE_ENVIRONMENT.engine] as string : 'aurora';
      const missing = requiredVariables(MLFLOW_ENTRYPOINT, engine).filter((variable) => !given.includes(variable) && !fromImage.has(variable));
      assert.deepEqual(missing, [], 'required by the entrypoint but set neither by the stack nor by the image');
    });
    it(`${name}: the proxy gets only variables its entrypoint documents`, () => {
      const documented = documentedVariables(PROXY_ENTRYPOINT);
      const given = [...Object.keys(proxy.environment), ...proxy.secrets];
      assert.deepEqual(given.filter((variable) => !documented.has(variable)), []);
    });
  }

  it('every variable the MLflow entrypoint documents is set by the stack in some configuration (or by the image)', () => {
    const everGiven = new Set(contracts.flatMap(([, { mlflow }]) => [...Object.keys(mlflow.environment), ...mlflow.secrets]));
    const fromImage = imageVariables(MLFLOW_DOCKERFILE);
    const unused = [...documentedVariables(MLFLOW_ENTRYPOINT)].filter((variable) => !everGiven.has(variable) && !fromImage.has(variable)
      && !NOT_FROM_THE_STACK.includes(variable));
    assert.deepEqual(unused, [], 'documented as set by the stack, but the stack sets it in no configuration');
  });

  it('every variable the proxy entrypoint documents is set by the stack in some configuration', () => {
    const everGiven = new Set(contracts.flatMap(([, { proxy }]) => [...Object.keys(proxy.environment), ...proxy.secrets]));
    assert.deepEqual([...documentedVariables(PROXY_ENTRYPOINT)].filter((variable) => !everGiven.has(variable)), []);
  });

  it('users mode: MLflow gets the mode, the default permission, the IAM principals and the admin from the secret; the proxy no password', () => {
    const { mlflow, proxy } = taskContract({ auth: 'users', authDefaultPermission: 'READ' });
    assert.equal(mlflow.environment.MLFLOW_AUTH, 'users');
    assert.equal(mlflow.environment.MLFLOW_AUTH_DEFAULT_PERMISSION, 'READ');
    assert.deepEqual(mlflow.secrets, ['MLFLOW_PASSWORD', 'MLFLOW_USERNAME', 'PASSWORD', 'USERNAME']);
    assert.deepEqual(proxy.secrets, ['MLFLOW_GATEWAY_TOKEN']);
    assert.deepEqual(Object.keys(proxy.environment).sort(), ['MLFLOW_AUTH', 'MLFLOW_IAM_PRINCIPALS']);
    assert.equal(proxy.environment.MLFLOW_AUTH, 'users');
    assert.deepEqual(proxy.environment.MLFLOW_IAM_PRINCIPALS, mlflow.environment.MLFLOW_IAM_PRINCIPALS, 'both containers admit the same principals');
  });

  it('the IAM principals: the SageMaker roles by their fixed names, then the configured ones, as ARN=user', () => {
    const { mlflow } = taskContract({ auth: 'users', sagemaker: 'both', iamPrincipals: 'arn:aws:iam::123456789012:role/ci=ci-bot' });
    const rendered = JSON.stringify(mlflow.environment.MLFLOW_IAM_PRINCIPALS);
    assert.match(rendered, /:role\/mlflow-lab-studio-us-west-2=sagemaker-studio,arn:/);
    assert.match(rendered, /:role\/mlflow-lab-notebook-us-west-2=sagemaker-notebook,arn:aws:iam::123456789012:role\/ci=ci-bot"/);
    assert.match(rendered, /"Ref":"AWS::AccountId"/, 'the roles\' ARNs name the deployment\'s account');
  });

  it('the end-to-end harness renders the principals for its account, and refuses any other deploy-time expression', () => {
    const { mlflow } = taskContract({ auth: 'users', sagemaker: 'both' });
    assert.equal(renderForAccount(mlflow.environment.MLFLOW_IAM_PRINCIPALS),
      `arn:aws:iam::${LOOPBACK_ACCOUNT}:role/mlflow-lab-studio-us-west-2=sagemaker-studio,arn:aws:iam::${LOOPBACK_ACCOUNT}:role/mlflow-lab-notebook-us-west-2=sagemaker-notebook`);
    assert.throws(() => renderForAccount(mlflow.environment.HOST), /not a value of the account and partition alone/);
    assert.throws(() => renderForAccount({ 'Fn::Join': ['', [{ Ref: 'AWS::Region' }]] }), /not a value of the account/);
  });

  it('no IAM principal (no SageMaker stack, none configured): no IAM route variables, users mode or not', () => {
    for (const auth of ['shared', 'users'] as const) {
      const { mlflow, proxy } = taskContract({ auth, sagemaker: 'none' });
      assert.equal(mlflow.environment.MLFLOW_IAM_PRINCIPALS, undefined, auth);
      assert.equal(proxy.environment.MLFLOW_IAM_PRINCIPALS, undefined, auth);
      assert.ok(!proxy.secrets.includes('MLFLOW_GATEWAY_TOKEN'), auth);
    }
  });

  it('the database credentials come from secrets, never from the plain environment', () => {
    const { mlflow, proxy } = taskContract({ sagemaker: 'none' });
    assert.deepEqual(mlflow.secrets, ['PASSWORD', 'USERNAME']);
    assert.deepEqual(proxy.secrets, ['MLFLOW_PASSWORD', 'MLFLOW_USERNAME']);
    for (const value of Object.values(mlflow.environment)) assert.doesNotMatch(JSON.stringify(value), /SecretString|secretsmanager/i);
  });

  it('the image sets MLFLOW_VERSION and the database CA bundle', () => {
    const fromImage = imageVariables(MLFLOW_DOCKERFILE);
    for (const name of ['MLFLOW_VERSION', 'DB_TLS_CA_FILE']) assert.ok(fromImage.has(name), name);
  });

  it('the proxy closes idle connections to MLflow well before MLflow does (else a reused one fails a POST with 502)', () => {
    const template = readFileSync(join(REPO_ROOT, 'containers', 'nginx', 'nginx.conf.template'), 'utf8');
    const start = template.indexOf('upstream mlflow {');
    const upstream = template.slice(start, template.indexOf('\n    }', start));
    const proxySeconds = Number(/^\s*keepalive_timeout (\d+)s;/m.exec(upstream)?.[1]);
    const mlflowSeconds = Number(/^KEEPALIVE_SECONDS=(\d+)$/m.exec(readFileSync(MLFLOW_ENTRYPOINT, 'utf8'))?.[1]);
    assert.ok(proxySeconds > 0 && mlflowSeconds > 0, `${proxySeconds} / ${mlflowSeconds}`);
    assert.ok(mlflowSeconds >= proxySeconds + 30, `proxy ${proxySeconds} s, MLflow ${mlflowSeconds} s`);
  });

  it('shared mode: the proxy gets its listen port and upstream from the image, and only the IAM route\'s variables', () => {
    assert.deepEqual(taskContract({ sagemaker: 'none' }).proxy.environment, {});
    const { proxy, mlflow } = taskContract();
    assert.deepEqual(Object.keys(proxy.environment), ['MLFLOW_IAM_PRINCIPALS']);
    assert.deepEqual(proxy.secrets, ['MLFLOW_GATEWAY_TOKEN', 'MLFLOW_PASSWORD', 'MLFLOW_USERNAME']);
    assert.equal(mlflow.environment.MLFLOW_AUTH, undefined, 'MLflow runs without its authentication app');
  });
});

describe('database=sqlite: the writer marker', () => {
  it('the container and the CLI name the same marker, and the stack gives a start the stop timeout and a margin to wait for it', () => {
    const helper = readFileSync(join(REPO_ROOT, 'containers', 'mlflow', 'mlflow_db.py'), 'utf8');
    assert.deepEqual([...helper.matchAll(/^WRITER_MARKER = "(.*)"$/gm)].map((m) => m[1]), [SQLITE_WRITER_MARKER]);
    const { mlflow } = taskContract({ profile: 'lean' });
    assert.equal(mlflow.environment[SQLITE_ENVIRONMENT.writerWaitSeconds], '150');
  });
});
