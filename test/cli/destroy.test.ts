import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DeleteStackCommand, GetTemplateCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DeleteSecurityGroupCommand, DescribeSecurityGroupsCommand, RevokeSecurityGroupEgressCommand, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { DeleteFileSystemCommand, DeleteMountTargetCommand, DescribeMountTargetsCommand } from '@aws-sdk/client-efs';
import { AppDetails, DeleteAppCommand, DeleteSpaceCommand, DescribeDomainCommand, ListAppsCommand, ListSpacesCommand, ListUserProfilesCommand, SpaceDetails } from '@aws-sdk/client-sagemaker';
import { DBClusterNotFoundFault, DescribeDBClustersCommand, RDSServiceException } from '@aws-sdk/client-rds';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { POLL_INTERVAL_MS } from '../../src/cli/commands/destroy';
import { DATABASE_DELETION_PROTECTION_TYPE, HOME_EFS_METADATA_KEY } from '../../src/lib/contract';
import { CliDeps } from '../../src/cli/deps';
import { EXIT } from '../../src/cli/errors';
import { runCli } from '../../src/cli/main';
import { STUDIO_MAX_WAIT_MS, STUDIO_POLL_INTERVAL_MS } from '../../src/cli/studio-cleanup';
import { accessDenied, credentialsError, harness, Harness, outputs, setStacks, stackMissing } from './helpers';

/** Deployed with dbDeletionProtection=false: the template says false, and there is no protecting custom resource. */
const MLFLOW_TEMPLATE = {
  Resources: {
    ArtifactBucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' },
    AccessLogsBucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain' },
    Database: { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Snapshot', Properties: { DeletionProtection: false } },
    Credentials: { Type: 'AWS::SecretsManager::Secret', DeletionPolicy: 'Delete' },
    Logs: { Type: 'AWS::Logs::LogGroup', DeletionPolicy: 'Delete' },
    Service: { Type: 'AWS::ECS::Service' },
  },
};
/**
 * A default deployment: the cluster's template does not mention DeletionProtection, a custom resource turns it on
 * at the end of every successful deploy (docs/decisions/database-protection.md).
 */
const PROTECTED_TEMPLATE = {
  Resources: {
    ...MLFLOW_TEMPLATE.Resources,
    Database: { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Snapshot', Properties: {} },
    DeletionProtection: { Type: DATABASE_DELETION_PROTECTION_TYPE, DeletionPolicy: 'Delete' },
  },
};
const GATEWAY_TEMPLATE = { Resources: { Api: { Type: 'AWS::ApiGatewayV2::Api' } } };

/** What RDS answers about the cluster: its deletion protection, gone, or an error. */
function liveDatabase(h: Harness, answer: { protection: boolean } | 'gone' | Error): void {
  const rds = h.mocks.rds.on(DescribeDBClustersCommand);
  if (answer === 'gone') {
    rds.rejects(new DBClusterNotFoundFault({ $metadata: { httpStatusCode: 404 }, message: 'DBCluster mlflow-db not found.' }));
  } else if (answer instanceof Error) {
    rds.rejects(answer);
  } else {
    rds.resolves({ DBClusters: [{ DBClusterIdentifier: 'mlflow-db', Status: 'available', DeletionProtection: answer.protection }] });
  }
}

/** database=sqlite (lean): no Aurora cluster, no protection custom resource; the retained database replica bucket. */
const SQLITE_TEMPLATE = {
  Resources: {
    ArtifactBucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' },
    DatabaseReplicaBucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' },
    Credentials: { Type: 'AWS::SecretsManager::Secret', DeletionPolicy: 'Delete' },
    Service: { Type: 'AWS::ECS::Service' },
  },
};

function rdsAccessDenied(): Error {
  return new RDSServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: 'User: arn:aws:iam::123456789012:user/dev is not authorized to perform: rds:DescribeDBClusters on resource: arn:aws:rds:us-west-2:123456789012:cluster:mlflow-db',
  });
}

/** Both core stacks deployed; after DeleteStack each reports DELETE_IN_PROGRESS once, then is gone. RDS: protection off. */
function deployed(h: Harness, mlflowTemplate: object = MLFLOW_TEMPLATE): void {
  const mlflowOutputs = { Outputs: outputs({ DatabaseClusterIdentifier: 'mlflow-db' }) };
  setStacks(h.mocks, {
    // connect() reads the stack's outputs once (its database engine), then destroy's own reads.
    MLflowVpcStack: [mlflowOutputs, mlflowOutputs, { ...mlflowOutputs, StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('MLflowVpcStack')],
    HttpGatewayStack: [{}, { StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('HttpGatewayStack')],
  });
  h.mocks.cfn.on(GetTemplateCommand, { StackName: 'MLflowVpcStack' }).resolves({ TemplateBody: JSON.stringify(mlflowTemplate) });
  h.mocks.cfn.on(GetTemplateCommand, { StackName: 'HttpGatewayStack' }).resolves({ TemplateBody: JSON.stringify(GATEWAY_TEMPLATE) });
  h.mocks.cfn.on(ListStackResourcesCommand, { StackName: 'MLflowVpcStack' }).resolves({
    StackResourceSummaries: [
      { LogicalResourceId: 'ArtifactBucket', PhysicalResourceId: 'mlflow-artifacts-123456789012', ResourceType: 'AWS::S3::Bucket', ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date() },
      { LogicalResourceId: 'Database', PhysicalResourceId: 'mlflow-db', ResourceType: 'AWS::RDS::DBCluster', ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date() },
    ],
  });
  h.mocks.cfn.on(ListStackResourcesCommand, { StackName: 'HttpGatewayStack' }).resolves({ StackResourceSummaries: [] });
  h.mocks.cfn.on(DeleteStackCommand).resolves({});
  liveDatabase(h, { protection: false });
}

function deletedStacks(h: Harness): string[] {
  return h.mocks.cfn.commandCalls(DeleteStackCommand).map((c) => c.args[0].input.StackName ?? '');
}

describe('destroy', () => {
  it('shows what is kept and deleted, asks, and on "yes" deletes dependents first, waiting for each', async () => {
    const h = harness({ answers: ['yes'] });
    deployed(h);
    assert.equal(await h.run('destroy'), EXIT.ok, h.text());
    const text = h.err.join('\n');
    assert.match(text, /Stacks to delete, in this order: HttpGatewayStack, MLflowVpcStack/);
    assert.match(text, /Kept[^\n]*\n  - S3 bucket mlflow-artifacts-123456789012 \(MLflowVpcStack\)\n  - S3 bucket AccessLogsBucket \(MLflowVpcStack\)\n  - final snapshot of Aurora database cluster mlflow-db/);
    assert.match(text, /Deleted[^\n]*\n  - secret Credentials \(MLflowVpcStack\)\n  - log group Logs \(MLflowVpcStack\)/);
    assert.equal(h.questions.length, 1);
    assert.match(h.questions[0], /Delete 2 stack\(s\) from account 123456789012, region us-west-2\? Type "yes"/);
    assert.deepEqual(deletedStacks(h), ['HttpGatewayStack', 'MLflowVpcStack']);
    assert.match(text, /HttpGatewayStack: DELETE_IN_PROGRESS\n  HttpGatewayStack: deleted\nDeleting MLflowVpcStack/);
    assert.deepEqual(h.sleeps, [POLL_INTERVAL_MS, POLL_INTERVAL_MS]);
    assert.match(text, /Destroyed\./);
  });

  it('database=sqlite: no RDS call, no database blocker; says the replica bucket is kept (RETAIN) and how to delete it', async () => {
    const h = harness();
    deployed(h, SQLITE_TEMPLATE);
    const sqliteOutputs = { Outputs: outputs({ DatabaseReplicaBucketName: 'mlflow-db-replica-123456789012' }) };
    setStacks(h.mocks, {
      MLflowVpcStack: [sqliteOutputs, { ...sqliteOutputs, StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('MLflowVpcStack')],
      HttpGatewayStack: [{}, { StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('HttpGatewayStack')],
    });
    assert.equal(await h.run('destroy', '--yes'), EXIT.ok, h.text());
    assert.equal(h.mocks.rds.calls().length, 0, 'no cluster to ask about');
    assert.deepEqual(deletedStacks(h), ['HttpGatewayStack', 'MLflowVpcStack']);
    const text = h.err.join('\n');
    assert.match(text, /Kept[^\n]*\n(  - [^\n]*\n)*  - S3 bucket DatabaseReplicaBucket \(MLflowVpcStack\)/);
    assert.ok(text.includes('Database:\n  - database=sqlite: MLflow\'s database is the Litestream replica in the bucket mlflow-db-replica-123456789012 (litestream/, and the copies upgrade took under backups/); '
      + 'the bucket is kept (RETAIN), with every version of its objects. To delete it once you no longer need the data: empty it in the S3 console (Empty removes every version), then aws s3 rb s3://mlflow-db-replica-123456789012 --region us-west-2'), text);
    assert.doesNotMatch(text, /snapshot|deletion protection/);
  });

  it('declined: nothing deleted, exit 1', async () => {
    const h = harness({ answers: ['no'] });
    deployed(h);
    assert.equal(await h.run('destroy'), EXIT.failure);
    assert.deepEqual(deletedStacks(h), []);
    assert.match(h.err.join('\n'), /Aborted: nothing was deleted/);
  });

  it('empty answer (just Enter) is a no', async () => {
    const h = harness({ answers: [''] });
    deployed(h);
    assert.equal(await h.run('destroy'), EXIT.failure);
    assert.deepEqual(deletedStacks(h), []);
  });

  it('--yes skips the prompt', async () => {
    const h = harness({ interactive: false });
    deployed(h);
    assert.equal(await h.run('destroy', '--yes'), EXIT.ok, h.text());
    assert.equal(h.questions.length, 0);
    assert.deepEqual(deletedStacks(h), ['HttpGatewayStack', 'MLflowVpcStack']);
  });

  it('no terminal and no --yes: refuses with exit 2', async () => {
    const h = harness({ interactive: false });
    deployed(h);
    assert.equal(await h.run('destroy'), EXIT.usage);
    assert.match(h.err.join('\n'), /Pass --yes/);
    assert.deepEqual(deletedStacks(h), []);
  });

  it('default deployment, RDS says deletion protection is on: stops before deleting anything, exit 1, with both ways to turn it off', async () => {
    const h = harness({ answers: ['yes'] });
    deployed(h, PROTECTED_TEMPLATE);
    liveDatabase(h, { protection: true });
    assert.equal(await h.run('destroy'), EXIT.failure);
    const text = h.err.join('\n');
    assert.deepEqual(h.mocks.rds.commandCalls(DescribeDBClustersCommand).map((c) => c.args[0].input.DBClusterIdentifier), ['mlflow-db'], 'asks RDS about the cluster the stack output names');
    assert.match(text, /Database:\n  - mlflow-db: deletion protection is on \(asked of RDS\), so it cannot be deleted: destroy stops before deleting anything\./);
    assert.match(text, /Cannot destroy yet:\n  - Aurora database cluster mlflow-db \(MLflowVpcStack\) has deletion protection on \(rds:DescribeDBClusters\)/);
    assert.match(text, /Either through the stack[^\n]*\n  npx mlflow-on-aws deploy -c dbDeletionProtection=false\n  npx mlflow-on-aws destroy\n/);
    assert.match(text, /or directly in RDS:\n  aws rds modify-db-cluster --db-cluster-identifier mlflow-db --no-deletion-protection --apply-immediately --region us-west-2\n  npx mlflow-on-aws destroy\n/);
    assert.match(text, /Nothing was deleted\./);
    assert.deepEqual(deletedStacks(h), []);
    assert.equal(h.questions.length, 0);
  });

  it('--profile reaches the commands it prints', async () => {
    const h = harness({ interactive: false });
    deployed(h, PROTECTED_TEMPLATE);
    liveDatabase(h, { protection: true });
    assert.equal(await h.run('destroy', '--yes', '--profile', 'ops'), EXIT.failure);
    const text = h.err.join('\n');
    assert.match(text, /deploy -c dbDeletionProtection=false --profile ops\n  npx mlflow-on-aws destroy --profile ops/);
    assert.match(text, /--apply-immediately --region us-west-2 --profile ops/);
    assert.deepEqual(deletedStacks(h), []);
  });

  it('default deployment, RDS says protection is off (turned off by hand): proceeds, the plan says a final snapshot is taken', async () => {
    const h = harness({ interactive: false });
    deployed(h, PROTECTED_TEMPLATE);
    liveDatabase(h, { protection: false });
    assert.equal(await h.run('destroy', '--yes'), EXIT.ok, h.text());
    const text = h.err.join('\n');
    assert.match(text, /Database:\n  - mlflow-db: deletion protection is off \(asked of RDS\); CloudFormation takes a final snapshot of it, then deletes it\./);
    assert.match(text, /Kept[^]*final snapshot of Aurora database cluster mlflow-db/);
    assert.deepEqual(deletedStacks(h), ['HttpGatewayStack', 'MLflowVpcStack']);
  });

  it('older deployment (template DeletionProtection: true) and RDS agrees: stops', async () => {
    const h = harness({ answers: ['yes'] });
    const template = structuredClone(MLFLOW_TEMPLATE);
    template.Resources.Database.Properties.DeletionProtection = true;
    deployed(h, template);
    liveDatabase(h, { protection: true });
    assert.equal(await h.run('destroy'), EXIT.failure);
    assert.match(h.err.join('\n'), /Aurora database cluster mlflow-db \(MLflowVpcStack\) has deletion protection on/);
    assert.match(h.err.join('\n'), /deploy -c dbDeletionProtection=false/);
    assert.deepEqual(deletedStacks(h), []);
    assert.equal(h.questions.length, 0);
  });

  it('template says DeletionProtection: false but RDS says on (turned on by hand): only the RDS command helps', async () => {
    const h = harness({ interactive: false });
    deployed(h);
    liveDatabase(h, { protection: true });
    assert.equal(await h.run('destroy', '--yes'), EXIT.failure);
    const text = h.err.join('\n');
    assert.match(text, /turned on outside the stack \(its template already says DeletionProtection: false\), so a deploy would not change it/);
    assert.match(text, /aws rds modify-db-cluster --db-cluster-identifier mlflow-db --no-deletion-protection/);
    assert.doesNotMatch(text, /deploy -c dbDeletionProtection=false/);
    assert.deepEqual(deletedStacks(h), []);
  });

  it('RDS cannot be asked (access denied), template has the protecting custom resource: stops, saying it judged from the template', async () => {
    const h = harness({ interactive: false });
    deployed(h, PROTECTED_TEMPLATE);
    liveDatabase(h, rdsAccessDenied());
    assert.equal(await h.run('destroy', '--yes'), EXIT.failure);
    const text = h.err.join('\n');
    assert.match(text, /could not ask RDS whether mlflow-db has deletion protection on \(Access denied[^\n]*missing permission rds:DescribeDBClusters\); judging from the deployed template instead: Custom::DatabaseDeletionProtection turns it on after a successful deploy, so it is taken to be on/);
    assert.match(text, /has deletion protection on, judging from the deployed template/);
    assert.match(text, /deploy -c dbDeletionProtection=false/);
    assert.match(text, /If protection is already off, allow these credentials rds:DescribeDBClusters and destroy again/);
    assert.deepEqual(deletedStacks(h), []);
  });

  it('RDS cannot be asked, template without protection (dbDeletionProtection=false): proceeds, saying it judged from the template', async () => {
    const h = harness({ interactive: false });
    deployed(h);
    liveDatabase(h, rdsAccessDenied());
    assert.equal(await h.run('destroy', '--yes'), EXIT.ok, h.text());
    assert.match(h.err.join('\n'), /could not ask RDS whether mlflow-db[^\n]*judging from the deployed template instead: it does not turn protection on \(DeletionProtection: false\), so it is taken to be off; CloudFormation takes a final snapshot of it, then deletes it\./);
    assert.deepEqual(deletedStacks(h), ['HttpGatewayStack', 'MLflowVpcStack']);
  });

  it('the cluster is already gone from RDS: no protection check, no snapshot promised, the stacks are deleted', async () => {
    const h = harness({ interactive: false });
    deployed(h, PROTECTED_TEMPLATE);
    liveDatabase(h, 'gone');
    assert.equal(await h.run('destroy', '--yes'), EXIT.ok, h.text());
    const text = h.err.join('\n');
    assert.match(text, /Database:\n  - mlflow-db no longer exists in RDS: there is nothing to delete and no final snapshot will be taken\./);
    assert.doesNotMatch(text, /final snapshot of/);
    assert.deepEqual(deletedStacks(h), ['HttpGatewayStack', 'MLflowVpcStack']);
  });

  it('without the DatabaseClusterIdentifier output, asks RDS about the physical id of the cluster', async () => {
    const h = harness({ interactive: false });
    deployed(h, PROTECTED_TEMPLATE);
    setStacks(h.mocks, {
      MLflowVpcStack: [{}, { StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('MLflowVpcStack')],
      HttpGatewayStack: [{}, { StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('HttpGatewayStack')],
    });
    liveDatabase(h, { protection: true });
    assert.equal(await h.run('destroy', '--yes'), EXIT.failure);
    assert.deepEqual(h.mocks.rds.commandCalls(DescribeDBClustersCommand).map((c) => c.args[0].input.DBClusterIdentifier), ['mlflow-db']);
    assert.deepEqual(deletedStacks(h), []);
  });

  it('destroyDataOnDelete-style template (Delete policies): says nothing is kept', async () => {
    const h = harness({ interactive: false });
    deployed(h, { Resources: { ArtifactBucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Delete' }, Database: { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Delete' } } });
    assert.equal(await h.run('destroy', '-y'), EXIT.ok);
    const text = h.err.join('\n');
    assert.match(text, /Kept[^\n]*\n  - nothing: all data is deleted/);
    assert.match(text, /  - S3 bucket mlflow-artifacts-123456789012 \(MLflowVpcStack\)\n  - Aurora database cluster mlflow-db/);
    assert.match(text, /Database:\n  - mlflow-db: deletion protection is off \(asked of RDS\); CloudFormation deletes it with all its data, without a final snapshot\./);
  });

  it('destroyDataOnDelete with backup: the vault is kept (Retain) with its recovery points, and the plan says so instead of "nothing is kept"', async () => {
    const h = harness({ interactive: false });
    deployed(h, {
      Resources: {
        ArtifactBucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Delete' },
        Database: { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Delete' },
        BackupVault: { Type: 'AWS::Backup::BackupVault', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' },
      },
    });
    assert.equal(await h.run('destroy', '-y'), EXIT.ok, h.text());
    const text = h.err.join('\n');
    assert.match(text, /Kept[^\n]*\n  - AWS Backup vault BackupVault \(MLflowVpcStack\), with its recovery points \(each removed by AWS Backup when its retention ends\)\n/);
    assert.doesNotMatch(text, /nothing: all data is deleted/);
    assert.match(text, /Still there \(see above\): AWS Backup vault BackupVault/);
  });

  it('a vault with DeletionPolicy Delete: listed as deleted only if it holds no recovery point, and what happens otherwise', async () => {
    const h = harness({ interactive: false });
    deployed(h, { Resources: { ...MLFLOW_TEMPLATE.Resources, BackupVault: { Type: 'AWS::Backup::BackupVault', DeletionPolicy: 'Delete' } } });
    assert.equal(await h.run('destroy', '-y'), EXIT.ok, h.text());
    assert.match(h.err.join('\n'), /Deleted[^]*  - AWS Backup vault BackupVault \(MLflowVpcStack\), only if it holds no recovery point: AWS Backup refuses to delete a vault that holds any, and MLflowVpcStack then ends DELETE_FAILED/);
  });

  it('DELETE_FAILED on a vault that holds recovery points: says how to delete them or keep the vault', async () => {
    const h = harness({ interactive: false });
    deployed(h);
    setStacks(h.mocks, {
      MLflowVpcStack: [{}, { StackStatus: 'DELETE_FAILED', StackStatusReason: 'The following resource(s) failed to delete: [BackupVaultADF21B19]. ' }],
    });
    h.mocks.cfn.on(GetTemplateCommand, { StackName: 'MLflowVpcStack' }).resolves({ TemplateBody: JSON.stringify(MLFLOW_TEMPLATE) });
    assert.equal(await h.run('destroy', '--yes'), EXIT.failure);
    assert.match(h.err.join('\n'), /A backup vault that holds recovery points cannot be deleted: delete them \(AWS Backup console > Backup vaults\), or keep the vault: aws cloudformation delete-stack --stack-name MLflowVpcStack --retain-resources <its logical id, named above> --region us-west-2\./);
  });

  it('--keep-mlflow-stack: deletes the gateway (and SageMaker) stacks only; MLflowVpcStack and its database are not touched', async () => {
    const h = harness({ interactive: false });
    deployed(h);
    assert.equal(await h.run('destroy', '--keep-mlflow-stack', '--yes'), EXIT.ok, h.text());
    assert.deepEqual(deletedStacks(h), ['HttpGatewayStack']);
    const text = h.err.join('\n');
    assert.match(text, /Stacks to delete, in this order: HttpGatewayStack\nMLflowVpcStack stays \(--keep-mlflow-stack\)/);
    assert.doesNotMatch(text, /Aurora database cluster|final snapshot/);
    assert.equal(h.mocks.rds.commandCalls(DescribeDBClustersCommand).length, 0);
  });

  it('--keep-mlflow-stack with only MLflowVpcStack deployed: nothing to destroy (exit 5)', async () => {
    const h = harness({ interactive: false });
    deployed(h);
    setStacks(h.mocks, { MLflowVpcStack: {} });
    assert.equal(await h.run('destroy', '--keep-mlflow-stack', '--yes'), EXIT.notDeployed);
    assert.match(h.err[0], /No MLflow on AWS stacks besides MLflowVpcStack are deployed/);
    assert.deepEqual(deletedStacks(h), []);
  });

  it('backup with destroyDataOnDelete (RetainExceptOnCreate vault): the vault is listed as kept, the rest as deleted', async () => {
    const h = harness({ interactive: false });
    deployed(h, { Resources: {
      ArtifactBucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Delete' },
      Database: { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Delete' },
      BackupVault: { Type: 'AWS::Backup::BackupVault', DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain' },
    } });
    assert.equal(await h.run('destroy', '-y'), EXIT.ok);
    const text = h.err.join('\n');
    assert.match(text, /Kept[^\n]*\n  - AWS Backup vault BackupVault \(MLflowVpcStack\), with its recovery points/);
    assert.doesNotMatch(text, /nothing: all data is deleted/);
  });

  it('DELETE_FAILED: exit 1 with the reason, later stacks untouched', async () => {
    const h = harness({ interactive: false });
    deployed(h);
    setStacks(h.mocks, {
      MLflowVpcStack: {},
      HttpGatewayStack: [{}, { StackStatus: 'DELETE_FAILED', StackStatusReason: 'The following resource(s) failed to delete: [Api].' }],
    });
    assert.equal(await h.run('destroy', '--yes'), EXIT.failure);
    assert.match(h.err.join('\n'), /Deleting HttpGatewayStack failed: The following resource\(s\) failed to delete: \[Api\]/);
    assert.deepEqual(deletedStacks(h), ['HttpGatewayStack']);
  });

  it("the original sample's stacks (same names, no MLflow on AWS description): refuses before asking or deleting anything", async () => {
    const h = harness({ answers: ['yes'] });
    deployed(h);
    setStacks(h.mocks, { MLflowVpcStack: { Description: undefined }, HttpGatewayStack: {} });
    assert.equal(await h.run('destroy'), EXIT.failure);
    const text = h.err.join('\n');
    assert.match(text, /MLflowVpcStack in account 123456789012, region us-west-2 was not deployed by MLflow on AWS/);
    assert.match(text, /destroy would delete them with their data/);
    assert.match(text, /docs\/guides\/migrate-from-sample\.md/);
    assert.equal(h.questions.length, 0);
    assert.deepEqual(deletedStacks(h), []);
  });

  it('nothing deployed: exit 5 and no prompt', async () => {
    const h = harness({ answers: ['yes'] });
    assert.equal(await h.run('destroy'), EXIT.notDeployed);
    assert.match(h.err[0], /No MLflow on AWS stacks are deployed in account 123456789012, region us-west-2/);
    assert.equal(h.questions.length, 0);
  });

  it('no credentials: exit 3', async () => {
    const h = harness({ answers: ['yes'] });
    h.mocks.sts.on(GetCallerIdentityCommand).rejects(credentialsError());
    assert.equal(await h.run('destroy'), EXIT.noCredentials);
  });

  it('access denied on DeleteStack: exit 4', async () => {
    const h = harness({ interactive: false });
    deployed(h);
    h.mocks.cfn.on(DeleteStackCommand).rejects(accessDenied('cloudformation:DeleteStack'));
    assert.equal(await h.run('destroy', '--yes'), EXIT.accessDenied);
    assert.match(h.err.join('\n'), /missing permission cloudformation:DeleteStack/);
  });
});

// ---- SageMaker Studio in use ----

const DOMAIN = 'd-abcdefghijkl';
const PROFILE = 'mlflow-user';
const EFS = 'fs-0123456789abcdef0';
const VPC = 'vpc-0abc';
const SG_IN = 'sg-0inbound';
const SG_OUT = 'sg-0outbound';

interface World {
  events: string[];
  apps: Array<AppDetails & { stuck?: boolean }>;
  spaces: SpaceDetails[];
  profiles: string[];
  mountTargets: Array<{ MountTargetId: string; LifeCycleState: string }>;
  groupsInUse: number;
  tick(): void;
}

/**
 * All four stacks' worth of Studio: the core stacks plus SageMakerStudioUserStack whose user has a running
 * JupyterServer app and a space with a JupyterLab app. Deletions take effect on the next poll (sleep).
 */
function studioInUse(h: Harness, options: { homeEfs?: 'Retain' | 'Delete' | 'absent'; existingDomain?: boolean; stuckApps?: boolean } = {}): { world: World; deps: CliDeps } {
  deployed(h);
  setStacks(h.mocks, {
    SageMakerStudioUserStack: [{ Outputs: outputs({ StudioDomainId: DOMAIN, StudioUserProfileName: PROFILE }) }, { StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('SageMakerStudioUserStack')],
    MLflowVpcStack: [{}, { StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('MLflowVpcStack')],
    HttpGatewayStack: [{}, { StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('HttpGatewayStack')],
  });
  const domainResource = {
    Type: 'AWS::SageMaker::Domain',
    ...(options.homeEfs === 'absent' ? {} : { Metadata: { [HOME_EFS_METADATA_KEY]: options.homeEfs ?? 'Retain' } }),
  };
  const studioTemplate = { Resources: { ...(options.existingDomain ? {} : { Domain: domainResource }), UserProfile: { Type: 'AWS::SageMaker::UserProfile' } } };
  h.mocks.cfn.on(GetTemplateCommand, { StackName: 'SageMakerStudioUserStack' }).resolves({ TemplateBody: JSON.stringify(studioTemplate) });
  h.mocks.cfn.on(ListStackResourcesCommand, { StackName: 'SageMakerStudioUserStack' }).resolves({ StackResourceSummaries: [] });

  const world: World = {
    events: [],
    apps: [
      { DomainId: DOMAIN, UserProfileName: PROFILE, AppType: 'JupyterServer', AppName: 'default', Status: 'InService', stuck: options.stuckApps },
      { DomainId: DOMAIN, SpaceName: 'my-space', AppType: 'JupyterLab', AppName: 'default', Status: 'InService' },
      { DomainId: DOMAIN, UserProfileName: PROFILE, AppType: 'KernelGateway', AppName: 'old', Status: 'Deleted' },
    ],
    spaces: [{ DomainId: DOMAIN, SpaceName: 'my-space', Status: 'InService', OwnershipSettingsSummary: { OwnerUserProfileName: PROFILE } }],
    profiles: [PROFILE],
    mountTargets: [
      { MountTargetId: 'fsmt-1', LifeCycleState: 'available' },
      { MountTargetId: 'fsmt-2', LifeCycleState: 'available' },
    ],
    groupsInUse: 1,
    tick() {
      for (const app of this.apps) if (app.Status === 'Deleting' && !app.stuck) app.Status = 'Deleted';
      this.spaces = this.spaces.filter((s) => s.Status !== 'Deleting');
      this.mountTargets = this.mountTargets.filter((m) => m.LifeCycleState !== 'deleting');
      if (this.mountTargets.length === 0 && this.groupsInUse > 0) this.groupsInUse--;
    },
  };
  const log = (event: string) => world.events.push(event);

  h.mocks.cfn.on(DeleteStackCommand).callsFake(async (input: { StackName?: string }) => {
    log(`cfn:DeleteStack ${input.StackName}`);
    return {};
  });
  h.mocks.sm.on(DescribeDomainCommand).resolves({ DomainId: DOMAIN, HomeEfsFileSystemId: EFS, VpcId: VPC, Status: 'InService' });
  h.mocks.sm.on(ListAppsCommand).callsFake(async (input: { UserProfileNameEquals?: string; SpaceNameEquals?: string }) => ({
    Apps: world.apps
      .filter((a) => (input.SpaceNameEquals ? a.SpaceName === input.SpaceNameEquals : a.UserProfileName === input.UserProfileNameEquals && !a.SpaceName))
      .map(({ stuck: _stuck, ...a }) => ({ ...a })),
  }));
  h.mocks.sm.on(DeleteAppCommand).callsFake(async (input: { AppType?: string; SpaceName?: string; UserProfileName?: string }) => {
    log(`sm:DeleteApp ${input.AppType} ${input.SpaceName ?? input.UserProfileName}`);
    for (const app of world.apps) if (app.AppType === input.AppType && app.SpaceName === input.SpaceName && app.Status !== 'Deleted') app.Status = 'Deleting';
    return {};
  });
  h.mocks.sm.on(ListSpacesCommand).callsFake(async () => ({ Spaces: world.spaces.map((s) => ({ ...s })) }));
  h.mocks.sm.on(DeleteSpaceCommand).callsFake(async (input: { SpaceName?: string }) => {
    log(`sm:DeleteSpace ${input.SpaceName}`);
    for (const space of world.spaces) if (space.SpaceName === input.SpaceName) space.Status = 'Deleting';
    return {};
  });
  h.mocks.sm.on(ListUserProfilesCommand).callsFake(async () => ({ UserProfiles: world.profiles.map((UserProfileName) => ({ DomainId: DOMAIN, UserProfileName, Status: 'InService' })) }));

  h.mocks.efs.on(DescribeMountTargetsCommand).callsFake(async () => ({ MountTargets: world.mountTargets.map((m) => ({ ...m, FileSystemId: EFS, SubnetId: 'subnet-1' })) }));
  h.mocks.efs.on(DeleteMountTargetCommand).callsFake(async (input: { MountTargetId?: string }) => {
    log(`efs:DeleteMountTarget ${input.MountTargetId}`);
    for (const m of world.mountTargets) if (m.MountTargetId === input.MountTargetId) m.LifeCycleState = 'deleting';
    return {};
  });
  h.mocks.efs.on(DeleteFileSystemCommand).callsFake(async (input: { FileSystemId?: string }) => {
    log(`efs:DeleteFileSystem ${input.FileSystemId}`);
    return {};
  });

  const nfsRule = (groupId: string) => [{ IpProtocol: 'tcp', FromPort: 2049, ToPort: 2049, UserIdGroupPairs: [{ GroupId: groupId }] }];
  h.mocks.ec2.on(DescribeSecurityGroupsCommand).resolves({
    SecurityGroups: [
      { GroupId: SG_IN, GroupName: `security-group-for-inbound-nfs-${DOMAIN}`, VpcId: VPC, IpPermissions: nfsRule(SG_OUT), IpPermissionsEgress: [] },
      { GroupId: SG_OUT, GroupName: `security-group-for-outbound-nfs-${DOMAIN}`, VpcId: VPC, IpPermissions: [], IpPermissionsEgress: nfsRule(SG_IN) },
    ],
  });
  h.mocks.ec2.on(RevokeSecurityGroupIngressCommand).callsFake(async (input: { GroupId?: string }) => {
    log(`ec2:RevokeSecurityGroupIngress ${input.GroupId}`);
    return {};
  });
  h.mocks.ec2.on(RevokeSecurityGroupEgressCommand).callsFake(async (input: { GroupId?: string }) => {
    log(`ec2:RevokeSecurityGroupEgress ${input.GroupId}`);
    return {};
  });
  h.mocks.ec2.on(DeleteSecurityGroupCommand).callsFake(async (input: { GroupId?: string }) => {
    if (world.groupsInUse > 0) throw Object.assign(new Error(`resource ${input.GroupId} has a dependent object`), { name: 'DependencyViolation' });
    log(`ec2:DeleteSecurityGroup ${input.GroupId}`);
    return {};
  });

  const deps: CliDeps = {
    ...h.deps,
    sleep: async (ms) => {
      await h.deps.sleep(ms);
      world.tick();
    },
  };
  return { world, deps };
}

describe('destroy with SageMaker Studio in use', () => {
  it('deletes the profile\'s apps, then its spaces, waits for each, then the stacks; keeps the home EFS but clears the VPC of its mount targets and NFS security groups', async () => {
    const h = harness({ interactive: false });
    const { world, deps } = studioInUse(h);
    const code = await runCli(['destroy', '--yes'], deps);
    const text = h.err.join('\n');
    assert.equal(code, EXIT.ok, text);

    assert.match(text, /Deleted[^\n]*\n  - first, the Studio apps and spaces of mlflow-user \(work not saved to the home folder is lost\): JupyterServer app default \(user mlflow-user\), JupyterLab app default \(space my-space\), space my-space/);
    assert.match(text, new RegExp(`Kept[^]*SageMaker Studio home EFS ${EFS} \\(users' home folders and notebooks\\): its mount targets are removed so the VPC can go; the files stay\\. Delete it yourself with: aws efs delete-file-system --file-system-id ${EFS} --region us-west-2`));
    assert.match(text, /Studio apps: 2 Deleting\n  Studio apps: all Deleted/);
    assert.match(text, /Studio spaces: 1 Deleting\n  Studio spaces: all deleted/);
    assert.match(text, new RegExp(`Kept the Studio home EFS ${EFS} with the users' files`));

    assert.deepEqual(world.events, [
      'sm:DeleteApp JupyterServer mlflow-user',
      'sm:DeleteApp JupyterLab my-space',
      'sm:DeleteSpace my-space',
      'cfn:DeleteStack SageMakerStudioUserStack',
      'efs:DeleteMountTarget fsmt-1',
      'efs:DeleteMountTarget fsmt-2',
      `ec2:RevokeSecurityGroupIngress ${SG_IN}`,
      `ec2:RevokeSecurityGroupEgress ${SG_OUT}`,
      `ec2:DeleteSecurityGroup ${SG_IN}`,
      `ec2:DeleteSecurityGroup ${SG_OUT}`,
      'cfn:DeleteStack HttpGatewayStack',
      'cfn:DeleteStack MLflowVpcStack',
    ]);
    const sgFilters = h.mocks.ec2.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input.Filters;
    assert.deepEqual(sgFilters, [
      { Name: 'vpc-id', Values: [VPC] },
      { Name: 'group-name', Values: [`security-group-for-inbound-nfs-${DOMAIN}`, `security-group-for-outbound-nfs-${DOMAIN}`] },
    ]);
    assert.equal(h.mocks.efs.commandCalls(DeleteFileSystemCommand).length, 0, 'the home EFS is kept');
    assert.ok(h.sleeps.every((ms) => ms === STUDIO_POLL_INTERVAL_MS || ms === POLL_INTERVAL_MS));
  });

  it('a template without the home-EFS setting (older deployments) keeps the EFS too', async () => {
    const h = harness({ interactive: false });
    const { deps } = studioInUse(h, { homeEfs: 'absent' });
    assert.equal(await runCli(['destroy', '--yes'], deps), EXIT.ok, h.text());
    assert.equal(h.mocks.efs.commandCalls(DeleteFileSystemCommand).length, 0);
    assert.match(h.err.join('\n'), /Kept[^]*SageMaker Studio home EFS/);
  });

  it('destroyDataOnDelete (template Metadata Delete): the home EFS is deleted once its mount targets are gone', async () => {
    const h = harness({ interactive: false });
    const { world, deps } = studioInUse(h, { homeEfs: 'Delete' });
    assert.equal(await runCli(['destroy', '--yes'], deps), EXIT.ok, h.text());
    const text = h.err.join('\n');
    assert.match(text, new RegExp(`Deleted[^]*SageMaker Studio home EFS ${EFS} \\(users' home folders and notebooks\\), after the domain \\(destroyDataOnDelete\\)`));
    assert.doesNotMatch(text, /Kept the Studio home EFS/);
    const events = world.events;
    assert.ok(events.indexOf(`efs:DeleteFileSystem ${EFS}`) > events.indexOf('efs:DeleteMountTarget fsmt-2'));
    assert.ok(events.indexOf(`efs:DeleteFileSystem ${EFS}`) < events.indexOf('cfn:DeleteStack MLflowVpcStack'));
  });

  it('another user profile or another user\'s space in the domain: stops before deleting anything, with the commands to run', async () => {
    const h = harness({ interactive: false });
    const { world, deps } = studioInUse(h);
    world.profiles.push('alice');
    world.spaces.push({ DomainId: DOMAIN, SpaceName: 'alice-space', Status: 'InService', OwnershipSettingsSummary: { OwnerUserProfileName: 'alice' } });
    assert.equal(await runCli(['destroy', '--yes'], deps), EXIT.failure);
    const text = h.err.join('\n');
    assert.match(text, new RegExp(`space alice-space \\(owner alice\\) is in domain ${DOMAIN} but was not created for mlflow-user: delete its apps, then the space: aws sagemaker delete-space --domain-id ${DOMAIN} --space-name alice-space --region us-west-2`));
    assert.match(text, new RegExp(`user profile alice is in domain ${DOMAIN} but is not part of this deployment: delete its apps and spaces, then the profile: aws sagemaker delete-user-profile --domain-id ${DOMAIN} --user-profile-name alice --region us-west-2`));
    assert.match(text, /Nothing was deleted\. Fix the items above, then run destroy again\./);
    assert.deepEqual(world.events, []);
  });

  it('an existing domain (DOMAIN_ID): only the profile\'s apps and spaces are deleted; the domain\'s EFS and security groups are not touched', async () => {
    const h = harness({ interactive: false });
    const { world, deps } = studioInUse(h, { existingDomain: true });
    world.profiles.push('someone-else');
    assert.equal(await runCli(['destroy', '--yes'], deps), EXIT.ok, h.text());
    assert.deepEqual(world.events.slice(0, 4), ['sm:DeleteApp JupyterServer mlflow-user', 'sm:DeleteApp JupyterLab my-space', 'sm:DeleteSpace my-space', 'cfn:DeleteStack SageMakerStudioUserStack']);
    assert.equal(h.mocks.efs.commandCalls(DescribeMountTargetsCommand).length, 0);
    assert.equal(h.mocks.ec2.commandCalls(DescribeSecurityGroupsCommand).length, 0);
    assert.doesNotMatch(h.err.join('\n'), /home EFS/);
  });

  it('apps that never finish deleting: gives up after the bounded wait, before any stack is deleted, and says what to do', async () => {
    const h = harness({ interactive: false });
    const { world, deps } = studioInUse(h, { stuckApps: true });
    assert.equal(await runCli(['destroy', '--yes'], deps), EXIT.failure);
    const text = h.err.join('\n');
    assert.match(text, new RegExp(`Studio apps: still 1 Deleting after ${STUDIO_MAX_WAIT_MS / 60_000} minutes`));
    assert.match(text, /Run `npx mlflow-on-aws destroy` again once it has finished/);
    assert.ok(!world.events.some((e) => e.startsWith('cfn:DeleteStack')));
    assert.ok(h.sleeps.length <= STUDIO_MAX_WAIT_MS / STUDIO_POLL_INTERVAL_MS + 1);
  });

  it('the domain already gone (a second run after a failure): no Studio clean-up, the stack is deleted', async () => {
    const h = harness({ interactive: false });
    const { world, deps } = studioInUse(h);
    h.mocks.sm.on(DescribeDomainCommand).rejects(Object.assign(new Error(`Cannot find Domain ${DOMAIN}`), { name: 'ResourceNotFound' }));
    assert.equal(await runCli(['destroy', '--yes'], deps), EXIT.ok, h.text());
    assert.deepEqual(world.events, ['cfn:DeleteStack SageMakerStudioUserStack', 'cfn:DeleteStack HttpGatewayStack', 'cfn:DeleteStack MLflowVpcStack']);
  });
});
