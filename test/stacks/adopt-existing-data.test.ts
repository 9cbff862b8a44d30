/**
 * Moving in another deployment's data (docs/guides/migrate-from-sample.md): an existing artifact bucket imported by name
 * (artifactBucketName) and the database cluster created from a snapshot (dbSnapshot), as synthesized.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from 'aws-cdk-lib/assertions';
import { DATABASE_DELETION_PROTECTION_TYPE } from '../../src/lib/contract';
import { CONTAINER_NAMES, EXPORT_NAMES, MLFLOW_OUTPUTS, STACK_DESCRIPTION_PREFIX } from '../../src/app/names';
import { buildTestPlatform, mlflowTemplate, resourcesOfType } from '../support/synth';

const BUCKET = 'mlflow-123456789012-us-west-2';
const SNAPSHOT = 'mlflow-before-move';

const imported = buildTestPlatform({ artifactBucketName: BUCKET, sagemaker: 'both' });
const importedTemplate = Template.fromStack(imported.mlflow);
const restored = mlflowTemplate({ dbSnapshot: SNAPSHOT });
const defaults = mlflowTemplate();

function mlflowEnvironment(template: Template): Record<string, unknown> {
  const [[, taskDefinition]] = resourcesOfType(template, 'AWS::ECS::TaskDefinition');
  const container = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === CONTAINER_NAMES.mlflow);
  return Object.fromEntries(container.Environment.map((e: any) => [e.Name, e.Value]));
}

/** Every statement of the policies attached to the role with logical ID `roleId`. */
function statementsOf(template: Template, roleId: string): any[] {
  return resourcesOfType(template, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

const bucketArn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${BUCKET}`]] };
const objectsArn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${BUCKET}/*`]] };

describe('artifactBucketName: the existing bucket is used, not created, and nothing on it changes', () => {
  test('no artifact bucket in the stack: only the access-logs bucket, and no auto-delete even for a throwaway environment', () => {
    const buckets = resourcesOfType(importedTemplate, 'AWS::S3::Bucket');
    assert.equal(buckets.length, 1);
    assert.match(buckets[0][0], /^ArtifactStoreAccessLogs/);
    const throwaway = mlflowTemplate({ artifactBucketName: BUCKET, destroyDataOnDelete: true });
    throwaway.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    const [[, autoDelete]] = resourcesOfType(throwaway, 'Custom::S3AutoDeleteObjects');
    assert.match(JSON.stringify(autoDelete.Properties.BucketName), /ArtifactStoreAccessLogs/, 'only the stack\'s own log bucket');
  });

  test('no bucket policy, lifecycle rule, notification or anything else names it: the stack only refers to it', () => {
    for (const [id, resource] of Object.entries(importedTemplate.toJSON().Resources) as Array<[string, any]>) {
      if (resource.Type === 'AWS::IAM::Policy') continue;
      assert.ok(!JSON.stringify(resource.Properties ?? {}).includes(`:s3:::${BUCKET}`), `${id} (${resource.Type}) names the bucket`);
    }
    importedTemplate.resourceCountIs('AWS::S3::BucketPolicy', 1);
    const [[, policy]] = resourcesOfType(importedTemplate, 'AWS::S3::BucketPolicy');
    assert.match(JSON.stringify(policy.Properties.Bucket), /ArtifactStoreAccessLogs/);
  });

  test('MLflow keeps its artifacts in it: BUCKET is s3://<name>', () => {
    assert.equal(mlflowEnvironment(importedTemplate).BUCKET, `s3://${BUCKET}`);
  });

  test('the task role may list it and read, write and delete its objects, and nothing else in S3', () => {
    const [[, taskDefinition]] = resourcesOfType(importedTemplate, 'AWS::ECS::TaskDefinition');
    const s3Statements = statementsOf(importedTemplate, taskDefinition.Properties.TaskRoleArn['Fn::GetAtt'][0])
      .filter((s) => [s.Action].flat().some((a: string) => a.startsWith('s3:')));
    assert.deepEqual(s3Statements.map((s) => [s.Sid, s.Resource]), [['ListArtifactBucket', bucketArn], ['ReadWriteArtifacts', objectsArn]]);
  });

  test('the SageMaker roles name exactly that bucket; the outputs name it, the ARN under its public export name', () => {
    const outputs = importedTemplate.toJSON().Outputs;
    assert.deepEqual(outputs[MLFLOW_OUTPUTS.artifactBucketArn], { Value: bucketArn, Export: { Name: EXPORT_NAMES.artifactBucketArn } });
    assert.equal(outputs[MLFLOW_OUTPUTS.artifactBucketName].Value, BUCKET);
    for (const stack of [imported.studio!, imported.notebook!]) {
      const template = Template.fromStack(stack);
      const [[roleId]] = resourcesOfType(template, 'AWS::IAM::Role');
      const s3Resources = statementsOf(template, roleId)
        .filter((s) => [s.Action].flat().some((a: string) => a.startsWith('s3:')))
        .flatMap((s) => [s.Resource].flat());
      assert.ok(s3Resources.length > 0);
      for (const resource of s3Resources) assert.match(JSON.stringify(resource), new RegExp(`":s3:::${BUCKET}(/\\*)?"`));
    }
  });

  test('without the setting the stack still creates its own bucket', () => {
    assert.equal(resourcesOfType(defaults, 'AWS::S3::Bucket').length, 2);
    assert.match(JSON.stringify(mlflowEnvironment(defaults).BUCKET), /ArtifactStoreBucket/);
  });
});

describe('dbSnapshot: the cluster is created from the snapshot, with its data, schema and master user', () => {
  const cluster = (template = restored) => resourcesOfType(template, 'AWS::RDS::DBCluster')[0][1];

  test('restored from the snapshot as an Aurora MySQL 3.10 Serverless v2 cluster, encrypted, under the fixed name', () => {
    const properties = cluster().Properties;
    assert.equal(properties.SnapshotIdentifier, SNAPSHOT);
    assert.equal(properties.EngineVersion, '8.0.mysql_aurora.3.10.3');
    assert.equal(properties.StorageEncrypted, true, 'an unencrypted snapshot is refused rather than restored unencrypted');
    assert.equal(properties.DBClusterIdentifier, 'mlflow-backend-store');
    assert.deepEqual(properties.ServerlessV2ScalingConfiguration, { MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 3600 });
    assert.equal(properties.DatabaseName, undefined, 'the schema comes with the snapshot');
    assert.equal(properties.DBClusterParameterGroupName.Ref, cluster(defaults).Properties.DBClusterParameterGroupName.Ref);
  });

  test("the snapshot's master user (the original sample's \"master\") with a new generated password from the stack's secret", () => {
    const properties = cluster().Properties;
    assert.equal(properties.MasterUsername, 'master');
    const secretRef = JSON.stringify(properties.MasterUserPassword).match(/"Ref":"(BackendStoreCredentials[A-Z0-9]+)"/)?.[1];
    assert.ok(secretRef, JSON.stringify(properties.MasterUserPassword));
    const secret = restored.toJSON().Resources[secretRef];
    assert.equal(JSON.parse(secret.Properties.GenerateSecretString.SecretStringTemplate).username, 'master');
    // One database secret, attached to the cluster: no second, unused "admin" secret of the deprecated credentials path.
    const databaseSecrets = resourcesOfType(restored, 'AWS::SecretsManager::Secret').filter(([id]) => id.startsWith('BackendStore'));
    assert.equal(databaseSecrets.length, 1);
    restored.resourceCountIs('AWS::SecretsManager::SecretTargetAttachment', 1);
  });

  test("MLflow connects to the snapshot's schema (the original sample's mlflowdb) as that user", () => {
    assert.equal(mlflowEnvironment(restored).DATABASE, 'mlflowdb');
    const own = mlflowTemplate({ dbSnapshot: SNAPSHOT, dbSnapshotUsername: 'mlflow', dbSnapshotDatabaseName: 'mlflow' });
    assert.equal(mlflowEnvironment(own).DATABASE, 'mlflow');
    assert.equal(cluster(own).Properties.MasterUsername, 'mlflow');
  });

  test('a snapshot ARN is passed as given', () => {
    const arn = `arn:aws:rds:us-west-2:210987654321:cluster-snapshot:${SNAPSHOT}`;
    assert.equal(cluster(mlflowTemplate({ dbSnapshot: arn })).Properties.SnapshotIdentifier, arn);
  });

  test('data safety is the same as for a new cluster: final snapshot on deletion, deletion protection turned on last', () => {
    assert.equal(cluster().DeletionPolicy, 'Snapshot');
    assert.equal(cluster().UpdateReplacePolicy, 'Snapshot');
    assert.equal(cluster().Properties.DeletionProtection, undefined);
    restored.resourceCountIs(DATABASE_DELETION_PROTECTION_TYPE, 1);
  });

  test('without the setting: an empty cluster with the mlflow schema and user', () => {
    const properties = cluster(defaults).Properties;
    assert.equal(properties.SnapshotIdentifier, undefined);
    assert.equal(properties.DatabaseName, 'mlflow');
    assert.equal(properties.StorageEncrypted, true);
    assert.equal(mlflowEnvironment(defaults).DATABASE, 'mlflow');
  });
});

describe("this app's stacks are told from the original sample's, which have the same names", () => {
  test('every stack\'s description starts with the prefix the CLI looks for before deploy and destroy', () => {
    const stacks = [imported.mlflow, imported.gateway, imported.studio!, imported.notebook!];
    for (const stack of stacks) {
      assert.ok(Template.fromStack(stack).toJSON().Description.startsWith(STACK_DESCRIPTION_PREFIX), stack.stackName);
    }
  });
});
