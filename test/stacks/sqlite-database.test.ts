/**
 * database=sqlite (the lean profile's default): no Aurora cluster and nothing that comes with it, the database replica
 * bucket, the MLflow container's sqlite environment, one task replaced stop-then-start, the task's grant limited to the
 * replica prefix, backups of the replica bucket, no database alarm; and the library's `databaseEngine` prop.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SQLITE_ENVIRONMENT, SQLITE_REPLICA_PREFIX } from '../../src/lib/contract';
import { MlflowPlatform } from '../../src/lib/mlflow-platform';
import { SQLITE_STOP_TIMEOUT } from '../../src/lib/service/mlflow-service';
import { CONTAINER_NAMES, MLFLOW_OUTPUTS } from '../../src/app/names';
import { buildTestPlatform, container, resourcesOfType } from '../support/synth';

const platform = buildTestPlatform({ profile: 'lean', auth: 'users', sagemaker: 'both' });
const mlflow = Template.fromStack(platform.mlflow);
const replicaBuckets = () => resourcesOfType(mlflow, 'AWS::S3::Bucket').filter(([id]) => id.startsWith('DatabaseReplica'));
const [[replicaId, replicaBucket]] = replicaBuckets();
const aurora = Template.fromStack(buildTestPlatform({ profile: 'lean', database: 'aurora', sagemaker: 'none' }).mlflow);

describe('database=sqlite: no Aurora', () => {
  test('no cluster, no database secret, no deletion-protection custom resource, no database security group or log groups', () => {
    for (const type of ['AWS::RDS::DBCluster', 'AWS::RDS::DBInstance', 'AWS::RDS::DBSubnetGroup', 'AWS::RDS::DBClusterParameterGroup', 'Custom::DatabaseDeletionProtection']) {
      mlflow.resourceCountIs(type, 0);
      assert.ok(resourcesOfType(aurora, type).length > 0, `${type} with Aurora`);
    }
    const text = JSON.stringify(mlflow.toJSON());
    assert.doesNotMatch(text, /BackendStore/, 'nothing of the backend store construct');
    assert.doesNotMatch(text, /\/aws\/rds\//);
    assert.ok(resourcesOfType(mlflow, 'AWS::SecretsManager::Secret').every(([id]) => !/BackendStore|Database/.test(id)));
    assert.equal(resourcesOfType(mlflow, 'AWS::EC2::SecurityGroup').length, resourcesOfType(aurora, 'AWS::EC2::SecurityGroup').length - 1, 'one security group fewer: the database\'s');
  });
});

describe('database=sqlite: the database replica bucket', () => {
  test('one bucket: versioned, SSE-S3, all public access blocked, server access logs, replaced versions expiring', () => {
    assert.equal(replicaBuckets().length, 1);
    const props = replicaBucket.Properties;
    assert.deepEqual(props.VersioningConfiguration, { Status: 'Enabled' });
    assert.deepEqual(props.BucketEncryption, { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    assert.deepEqual(props.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    assert.equal(props.LoggingConfiguration.LogFilePrefix, 'database-replica/');
    assert.match(JSON.stringify(props.LoggingConfiguration.DestinationBucketName), /ArtifactStoreAccessLogs/);
    assert.deepEqual(props.LifecycleConfiguration.Rules, [{ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, ExpiredObjectDeleteMarker: true, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }]);
  });

  test('kept like the artifact bucket (a stack deletion and a replacement keep it), destroyed only with destroyDataOnDelete', () => {
    const [[, artifacts]] = resourcesOfType(mlflow, 'AWS::S3::Bucket').filter(([id]) => id.startsWith('ArtifactStoreBucket'));
    assert.deepEqual([replicaBucket.DeletionPolicy, replicaBucket.UpdateReplacePolicy], ['RetainExceptOnCreate', 'Retain']);
    assert.deepEqual([replicaBucket.DeletionPolicy, replicaBucket.UpdateReplacePolicy], [artifacts.DeletionPolicy, artifacts.UpdateReplacePolicy]);
    const throwaway = Template.fromStack(buildTestPlatform({ profile: 'lean', destroyDataOnDelete: true, sagemaker: 'none' }).mlflow);
    const [[id, bucket]] = resourcesOfType(throwaway, 'AWS::S3::Bucket').filter(([key]) => key.startsWith('DatabaseReplica'));
    assert.equal(bucket.DeletionPolicy, 'Delete');
    const autoDelete = resourcesOfType(throwaway, 'Custom::S3AutoDeleteObjects').filter(([, r]) => JSON.stringify(r.Properties.BucketName) === JSON.stringify({ Ref: id }));
    assert.equal(autoDelete.length, 1, 'its objects are deleted first');
  });

  test('TLS only: its policy denies any request without SSL', () => {
    const [[, policy]] = resourcesOfType(mlflow, 'AWS::S3::BucketPolicy').filter(([, p]) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: replicaId }));
    assert.ok(policy.Properties.PolicyDocument.Statement.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
  });

  test('its name is the DatabaseReplicaBucketName output; no cluster identifier output', () => {
    const outputs = mlflow.toJSON().Outputs;
    assert.deepEqual(outputs[MLFLOW_OUTPUTS.databaseReplicaBucketName].Value, { Ref: replicaId });
    assert.equal(outputs[MLFLOW_OUTPUTS.databaseClusterIdentifier], undefined);
    assert.equal(aurora.toJSON().Outputs[MLFLOW_OUTPUTS.databaseReplicaBucketName], undefined);
  });
});

describe('database=sqlite: the MLflow task', () => {
  const mlflowContainer = container(mlflow, CONTAINER_NAMES.mlflow);
  const env = Object.fromEntries(mlflowContainer.Environment.map((e: any) => [e.Name, e.Value]));

  test('its environment names the engine, the replica URL (the replica prefix of the bucket) and the sync interval; no Aurora connection', () => {
    assert.equal(env[SQLITE_ENVIRONMENT.engine], 'sqlite');
    assert.deepEqual(env[SQLITE_ENVIRONMENT.replicaUrl], { 'Fn::Join': ['', ['s3://', { Ref: replicaId }, `/${SQLITE_REPLICA_PREFIX}`]] });
    assert.equal(env[SQLITE_ENVIRONMENT.syncSeconds], '10');
    for (const name of ['HOST', 'PORT', 'DATABASE', 'DB_IDLE_DISCONNECT_SECONDS', 'DB_READ_TIMEOUT_SECONDS', 'MLFLOW_DB_WAIT_SECONDS']) assert.equal(env[name], undefined, name);
    const secrets = (mlflowContainer.Secrets ?? []).map((s: any) => s.Name);
    assert.ok(!secrets.includes('USERNAME') && !secrets.includes('PASSWORD'), secrets.join(', '));
    const synced = container(Template.fromStack(buildTestPlatform({ profile: 'lean', databaseReplicaSyncSeconds: 60, sagemaker: 'none' }).mlflow), CONTAINER_NAMES.mlflow);
    assert.ok(synced.Environment.some((e: any) => e.Name === SQLITE_ENVIRONMENT.syncSeconds && e.Value === '60'));
  });

  test('Aurora keeps its environment and no sqlite variable', () => {
    const auroraEnv = Object.fromEntries(container(aurora, CONTAINER_NAMES.mlflow).Environment.map((e: any) => [e.Name, e.Value]));
    assert.ok(auroraEnv.HOST && auroraEnv.PORT && auroraEnv.DATABASE);
    for (const name of Object.values(SQLITE_ENVIRONMENT)) assert.equal(auroraEnv[name], undefined, name);
  });

  test(`the container gets ${SQLITE_STOP_TIMEOUT.toSeconds()} s to stop (Litestream's last upload after MLflow exits); Aurora keeps ECS's default`, () => {
    assert.equal(mlflowContainer.StopTimeout, 120);
    assert.equal(container(aurora, CONTAINER_NAMES.mlflow).StopTimeout, undefined);
  });

  test('one task, the old one stopped before the new one starts', () => {
    const [[, service]] = resourcesOfType(mlflow, 'AWS::ECS::Service');
    assert.equal(service.Properties.DesiredCount, 1);
    assert.equal(service.Properties.DeploymentConfiguration.MinimumHealthyPercent, 0);
    assert.equal(service.Properties.DeploymentConfiguration.MaximumPercent, 100);
    mlflow.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 1 });
    const [[, auroraService]] = resourcesOfType(aurora, 'AWS::ECS::Service');
    assert.deepEqual([auroraService.Properties.DeploymentConfiguration.MinimumHealthyPercent, auroraService.Properties.DeploymentConfiguration.MaximumPercent], [100, 200]);
  });

  test('the task role may list, read, write and delete under the replica prefix only; no other role of any stack names the bucket', () => {
    const [[roleId]] = resourcesOfType(mlflow, 'AWS::IAM::Role').filter(([id]) => /TaskDefinitionTaskRole/.test(id));
    const statements = resourcesOfType(mlflow, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
      .filter((s: any) => JSON.stringify(s.Resource).includes(replicaId));
    const bucketArn = { 'Fn::GetAtt': [replicaId, 'Arn'] };
    assert.deepEqual(statements, [
      { Sid: 'ListDatabaseReplica', Action: 's3:ListBucket', Effect: 'Allow', Resource: bucketArn, Condition: { StringLike: { 's3:prefix': [SQLITE_REPLICA_PREFIX, `${SQLITE_REPLICA_PREFIX}/*`] } } },
      { Sid: 'LocateDatabaseReplicaBucket', Action: 's3:GetBucketLocation', Effect: 'Allow', Resource: bucketArn },
      {
        Sid: 'ReadWriteDatabaseReplica', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [bucketArn, `/${SQLITE_REPLICA_PREFIX}/*`]] },
      },
    ]);
    // Every policy of the stack that names the bucket is the task role's (and the bucket's own, the auto-delete's with destroy).
    const others = resourcesOfType(mlflow, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes(replicaId)
      && JSON.stringify(p.Properties.Roles) !== JSON.stringify([{ Ref: roleId }]));
    assert.deepEqual(others.map(([id]) => id), []);
    // The other stacks (gateway, SageMaker) import nothing of it.
    for (const stack of [platform.gateway, platform.studio!, platform.notebook!]) {
      assert.doesNotMatch(JSON.stringify(Template.fromStack(stack).toJSON()), new RegExp(replicaId), stack.stackName);
    }
  });
});

describe('database=sqlite: operations', () => {
  test('backup=true backs up the replica bucket (and the artifact bucket), no cluster', () => {
    const backedUp = Template.fromStack(buildTestPlatform({ profile: 'lean', backup: true, sagemaker: 'none' }).mlflow);
    const [[id]] = resourcesOfType(backedUp, 'AWS::S3::Bucket').filter(([key]) => key.startsWith('DatabaseReplica'));
    const [[, selection]] = resourcesOfType(backedUp, 'AWS::Backup::BackupSelection');
    const resources = JSON.stringify(selection.Properties.BackupSelection.Resources);
    assert.match(resources, new RegExp(`"${id}","Arn"`));
    assert.match(resources, /ArtifactStoreBucket/);
    assert.equal(selection.Properties.BackupSelection.Resources.length, 2);
  });

  test('monitoring=true: no Aurora alarm and no database widget; the service\'s alarms stay', () => {
    const monitored = buildTestPlatform({ profile: 'lean', monitoring: true, sagemaker: 'none' });
    const gateway = JSON.stringify(Template.fromStack(monitored.gateway).toJSON());
    assert.doesNotMatch(gateway, /AWS\/RDS|ServerlessDatabaseCapacity|DBClusterIdentifier/);
    assert.ok(monitored.gateway.monitoring?.alarms.databaseAtMax === undefined);
    assert.ok(Object.keys(monitored.gateway.monitoring?.alarms ?? {}).length > 0);
    const withAurora = buildTestPlatform({ profile: 'lean', database: 'aurora', monitoring: true, sagemaker: 'none' });
    assert.match(JSON.stringify(Template.fromStack(withAurora.gateway).toJSON()), /ServerlessDatabaseCapacity/);
  });

  test('the sleep function and the starting integration name no database', () => {
    for (const [, fn] of resourcesOfType(Template.fromStack(platform.gateway), 'AWS::Lambda::Function')) {
      assert.doesNotMatch(JSON.stringify(fn.Properties.Environment ?? {}), /rds|DBCluster|Database/i);
    }
  });
});

describe('MlflowPlatform as a library: databaseEngine', () => {
  const build = (props: ConstructorParameters<typeof MlflowPlatform>[2]) => {
    const stack = new Stack(new App(), 'Lib', { env: { region: 'us-west-2' } });
    return { platform: new MlflowPlatform(stack, 'Default', props), stack };
  };

  test('sqlite: a replica bucket and no backend store; aurora (the default): the backend store and no replica', () => {
    const sqlite = build({ databaseEngine: 'sqlite', sqlite: { syncSeconds: 30 } });
    assert.ok(sqlite.platform.databaseReplica && !sqlite.platform.backendStore);
    const template = Template.fromStack(sqlite.stack);
    template.resourceCountIs('AWS::RDS::DBCluster', 0);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 1 });
    assert.ok(container(template, CONTAINER_NAMES.mlflow).Environment.some((e: any) => e.Name === SQLITE_ENVIRONMENT.syncSeconds && e.Value === '30'));
    const standard = build({});
    assert.ok(standard.platform.backendStore && !standard.platform.databaseReplica);
  });

  test('bad input: more than one task with sqlite, Aurora props with sqlite, sqlite props with Aurora', () => {
    assert.throws(() => build({ databaseEngine: 'sqlite', service: { maxCount: 2 } }), /with sqlite at most 1 task \(one writer of the replica\), got desiredCount 1 and maxCount 2/);
    assert.throws(() => build({ databaseEngine: 'sqlite', service: { desiredCount: 1, maxCount: 1 }, database: { maxCapacity: 4 } }), /database \(the Aurora cluster's props\) is for databaseEngine aurora/);
    assert.throws(() => build({ sqlite: { syncSeconds: 5 } }), /sqlite is for databaseEngine sqlite/);
  });
});
