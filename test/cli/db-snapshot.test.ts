import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DBClusterSnapshot, DBClusterSnapshotNotFoundFault, DescribeDBClusterSnapshotsCommand } from '@aws-sdk/client-rds';
import { DATABASE_MASTER_USERNAME as PROJECT_MASTER_USERNAME } from '../../src/app/names';
import { EXIT } from '../../src/cli/errors';
import { SAMPLE_DATABASE } from '../../src/app/config/settings';
import { DATABASE_NAME } from '../../src/app/names';
import { mlflowTemplate, resourcesOfType } from '../support/synth';
import { DEPLOYED_TEMPLATES, harness, Harness, NODE_PATH, outputs, setStacks, setTemplates } from './helpers';

const TOOLKIT = { CDKToolkit: { Outputs: outputs({ BootstrapVersion: '27' }) } };
const SNAPSHOT = 'mlflow-final-2026-12-01';

function snapshotOf(masterUsername: string): DBClusterSnapshot {
  return { DBClusterSnapshotIdentifier: SNAPSHOT, Status: 'available', SnapshotType: 'manual', Engine: 'aurora-mysql', MasterUsername: masterUsername };
}

/** A bootstrapped target; RDS knows the snapshot (or not); MLflowVpcStack deployed or not. */
function setup(snapshot: DBClusterSnapshot | 'gone', mlflowDeployed = false): Harness {
  const h = harness({ runner: () => ({ exitCode: 0, stdout: '', stderr: '' }) });
  setStacks(h.mocks, { ...TOOLKIT, ...(mlflowDeployed ? { MLflowVpcStack: {} } : {}) });
  if (mlflowDeployed) setTemplates(h.mocks, { MLflowVpcStack: DEPLOYED_TEMPLATES.standard });
  const rds = h.mocks.rds.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: SNAPSHOT });
  if (snapshot === 'gone') rds.rejects(new DBClusterSnapshotNotFoundFault({ $metadata: { httpStatusCode: 404 }, message: `DBClusterSnapshot ${SNAPSHOT} not found.` }));
  else rds.resolves({ DBClusterSnapshots: [snapshot] });
  return h;
}

const cdkDeploys = (h: Harness) => h.runs.filter((r) => r.command === NODE_PATH && r.args[1] === 'deploy').length;

describe('deploy -c dbSnapshot=... checks the settings against the snapshot (finding 14)', () => {
  it('this project\'s snapshot with the sample\'s defaults (master / mlflowdb): refuses, naming both -c to add', async () => {
    const h = setup(snapshotOf(PROJECT_MASTER_USERNAME));
    assert.equal(await h.run('deploy', '-c', `dbSnapshot=${SNAPSHOT}`), EXIT.usage);
    const text = h.err.join('\n');
    assert.match(text, new RegExp(`Snapshot ${SNAPSHOT}: dbSnapshotUsername is master \\(the original sample's, the default\\) but the snapshot's master user is mlflow, so the MLflow tasks could not log in; `
      + 'and it is a snapshot of this project\'s database \\(master user mlflow\\), whose MLflow tables are in mlflow, but dbSnapshotDatabaseName is mlflowdb'));
    assert.match(text, /Add -c dbSnapshotUsername=mlflow -c dbSnapshotDatabaseName=mlflow \(and keep them in cdk.json for every later deploy\), or use `npx mlflow-on-aws restore`/);
    assert.equal(cdkDeploys(h), 0);
  });

  it('the settings given: deploys', async () => {
    const h = setup(snapshotOf(PROJECT_MASTER_USERNAME));
    assert.equal(await h.run('deploy', '-c', `dbSnapshot=${SNAPSHOT}`, '-c', 'dbSnapshotUsername=mlflow', '-c', `dbSnapshotDatabaseName=${DATABASE_NAME}`), EXIT.ok, h.text());
    assert.equal(cdkDeploys(h), 1);
  });

  it('only the user name wrong (another master user): names that -c alone', async () => {
    const h = setup(snapshotOf('admin'));
    assert.equal(await h.run('deploy', '-c', `dbSnapshot=${SNAPSHOT}`, '-c', 'dbSnapshotDatabaseName=mlflowdb'), EXIT.usage);
    assert.match(h.err.join('\n'), /Add -c dbSnapshotUsername=admin \(and keep it in cdk.json/);
    assert.doesNotMatch(h.err.join('\n'), /dbSnapshotDatabaseName=/);
  });

  it('the original sample\'s snapshot (master user master): its defaults fit, deploys', async () => {
    const h = setup(snapshotOf(SAMPLE_DATABASE.username));
    assert.equal(await h.run('deploy', '-c', `dbSnapshot=${SNAPSHOT}`), EXIT.ok, h.text());
    assert.equal(cdkDeploys(h), 1);
  });

  it('no such snapshot and nothing deployed: refuses (the deploy would fail on it)', async () => {
    const h = setup('gone');
    assert.equal(await h.run('deploy', '-c', `dbSnapshot=${SNAPSHOT}`), EXIT.usage);
    assert.match(h.err.join('\n'), new RegExp(`No DB cluster snapshot ${SNAPSHOT} in account 123456789012, region us-west-2`));
  });

  it('the snapshot deleted after the database was made from it: deploys, saying the settings were not checked', async () => {
    const h = setup('gone', true);
    assert.equal(await h.run('deploy', '-c', `dbSnapshot=${SNAPSHOT}`, '-c', 'dbSnapshotUsername=mlflow', '-c', 'dbSnapshotDatabaseName=mlflow'), EXIT.ok, h.text());
    assert.match(h.err.join('\n'), /Snapshot mlflow-final-2026-12-01 no longer exists; the database made from it is deployed/);
  });

  it('DATABASE_MASTER_USERNAME is the master user the backend store creates', () => {
    const secrets = resourcesOfType(mlflowTemplate({}), 'AWS::SecretsManager::Secret')
      .map(([, secret]) => secret.Properties.GenerateSecretString?.SecretStringTemplate)
      .filter((template): template is string => typeof template === 'string' && template.includes('"username"'))
      .map((template) => JSON.parse(template).username);
    assert.ok(secrets.includes(PROJECT_MASTER_USERNAME), JSON.stringify(secrets));
  });
});

describe('deploy refuses iamPrincipals of another account (finding 15)', () => {
  it('a role of another account: exit 2, naming it and what to list instead; one of the deploying account passes', async () => {
    const h = harness({ runner: () => ({ exitCode: 0, stdout: '', stderr: '' }) });
    setStacks(h.mocks, TOOLKIT);
    const other = 'arn:aws:iam::111122223333:role/ci';
    assert.equal(await h.run('deploy', '-c', 'auth=users', '-c', `iamPrincipals=${other}=ci,arn:aws:iam::123456789012:user/alice`), EXIT.usage);
    const text = h.err.join('\n');
    assert.match(text, /iamPrincipals names arn:aws:iam::111122223333:role\/ci of another account than the deployment's \(123456789012\): the IAM route is an HTTP API, which has no resource policy to admit another account, so its calls would be refused \(403\)\./);
    assert.match(text, /List a role of account 123456789012 instead, which the other account's principal assumes \(sts:AssumeRole\): -c iamPrincipals=arn:aws:iam::123456789012:role\/NAME\[=user\]\./);
    assert.equal(cdkDeploys(h), 0);
    assert.equal(await h.run('deploy', '-c', 'auth=users', '-c', 'iamPrincipals=arn:aws:iam::123456789012:role/ci=ci,arn:aws:iam::123456789012:user/alice'), EXIT.ok, h.text());
  });
});
