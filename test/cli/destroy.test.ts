import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DeleteStackCommand, GetTemplateCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { POLL_INTERVAL_MS } from '../../src/cli/commands/destroy';
import { EXIT } from '../../src/cli/errors';
import { accessDenied, credentialsError, harness, Harness, setStacks, stackMissing } from './helpers';

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
const GATEWAY_TEMPLATE = { Resources: { Api: { Type: 'AWS::ApiGatewayV2::Api' } } };

/** Both core stacks deployed; after DeleteStack each reports DELETE_IN_PROGRESS once, then is gone. */
function deployed(h: Harness, mlflowTemplate: object = MLFLOW_TEMPLATE): void {
  setStacks(h.mocks, {
    MLflowVpcStack: [{}, { StackStatus: 'DELETE_IN_PROGRESS' }, stackMissing('MLflowVpcStack')],
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

  it('database deletion protection on: refuses before deleting anything, says how to turn it off', async () => {
    const h = harness({ answers: ['yes'] });
    const template = structuredClone(MLFLOW_TEMPLATE);
    template.Resources.Database.Properties.DeletionProtection = true;
    deployed(h, template);
    assert.equal(await h.run('destroy'), EXIT.failure);
    assert.match(h.err.join('\n'), /Aurora database cluster mlflow-db \(MLflowVpcStack\) has deletion protection on/);
    assert.match(h.err.join('\n'), /deploy -c dbDeletionProtection=false/);
    assert.deepEqual(deletedStacks(h), []);
    assert.equal(h.questions.length, 0);
  });

  it('destroyDataOnDelete-style template (Delete policies): says nothing is kept', async () => {
    const h = harness({ interactive: false });
    deployed(h, { Resources: { ArtifactBucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Delete' }, Database: { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Delete' } } });
    assert.equal(await h.run('destroy', '-y'), EXIT.ok);
    const text = h.err.join('\n');
    assert.match(text, /Kept[^\n]*\n  - nothing: all data is deleted/);
    assert.match(text, /  - S3 bucket mlflow-artifacts-123456789012 \(MLflowVpcStack\)\n  - Aurora database cluster mlflow-db/);
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
