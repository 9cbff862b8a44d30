import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Match } from 'aws-cdk-lib/assertions';
import { DATABASE_DELETION_PROTECTION_TYPE } from '../../src/lib/contract';
import { healthCheckGracePeriod } from '../../src/lib/service/mlflow-startup';
import { mlflowTemplate, resourcesOfType } from '../support/synth';

const defaults = mlflowTemplate();
const throwaway = mlflowTemplate({ destroyDataOnDelete: true });

const artifactBucket = (template = defaults) => {
  const [entry] = Object.values(template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } })) as any[];
  return entry;
};
/** The bucket the artifact bucket's server access logs go to. */
const accessLogsBucket = (template = defaults) => {
  const logging = artifactBucket(template).Properties.LoggingConfiguration;
  assert.ok(logging?.DestinationBucketName?.Ref, `the artifact bucket logs to a bucket of the stack: ${JSON.stringify(logging)}`);
  return template.toJSON().Resources[logging.DestinationBucketName.Ref];
};
const databaseCluster = (template = defaults) => resourcesOfType(template, 'AWS::RDS::DBCluster')[0][1];
/** Parameters of the cluster parameter group the database cluster uses. */
const clusterParameters = (template = defaults): Record<string, string> => {
  const groupName = databaseCluster(template).Properties.DBClusterParameterGroupName;
  assert.ok(groupName?.Ref, `the cluster uses a parameter group of the stack: ${JSON.stringify(groupName)}`);
  const group = template.toJSON().Resources[groupName.Ref];
  assert.equal(group.Type, 'AWS::RDS::DBClusterParameterGroup');
  assert.equal(group.Properties.Family, 'aurora-mysql8.0');
  return group.Properties.Parameters;
};

describe('nothing is lost by default', () => {
  test('cdk destroy and replacements keep the artifact bucket and all its objects; only a failed first create deletes it (empty)', () => {
    const bucket = artifactBucket();
    assert.equal(bucket.DeletionPolicy, 'RetainExceptOnCreate');
    assert.equal(bucket.UpdateReplacePolicy, 'Retain');
    defaults.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('the access-logs bucket is kept even by a failed first create: the load balancer has written to it, so a rollback could not delete it', () => {
    const logs = accessLogsBucket();
    assert.equal(logs.DeletionPolicy, 'Retain');
    assert.equal(logs.UpdateReplacePolicy, 'Retain');
    // Why: the load balancer logs into it, and writes a test object there as soon as it is created.
    const [[, alb]] = resourcesOfType(defaults, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const attributes = Object.fromEntries(alb.Properties.LoadBalancerAttributes.map((a: any) => [a.Key, a.Value]));
    const logsId = artifactBucket().Properties.LoggingConfiguration.DestinationBucketName.Ref;
    assert.deepEqual(attributes['access_logs.s3.bucket'], { Ref: logsId });
  });

  test('cdk destroy leaves a final database snapshot, and deletion protection is turned on (see database-protection.test.ts)', () => {
    const cluster = databaseCluster();
    assert.equal(cluster.DeletionPolicy, 'Snapshot');
    assert.equal(cluster.UpdateReplacePolicy, 'Snapshot');
    defaults.resourceCountIs(DATABASE_DELETION_PROTECTION_TYPE, 1);
  });

  test('the database has a fixed name, so a change that would replace it fails instead of starting MLflow on an empty one', () => {
    assert.equal(databaseCluster().Properties.DBClusterIdentifier, 'mlflow-backend-store');
  });

  test('turning deletion protection off still leaves a snapshot', () => {
    const unprotected = mlflowTemplate({ dbDeletionProtection: false });
    const cluster = databaseCluster(unprotected);
    assert.equal(cluster.Properties.DeletionProtection, false);
    unprotected.resourceCountIs(DATABASE_DELETION_PROTECTION_TYPE, 0);
    assert.equal(cluster.DeletionPolicy, 'Snapshot');
  });

  test('old artifact versions expire after the configured period; incomplete uploads are cleaned', () => {
    defaults.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({
        NoncurrentVersionExpiration: { NoncurrentDays: 90 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      })]) },
    });
  });
});

describe('destroyDataOnDelete=true (throwaway environments) destroys data with the stack', () => {
  test('the buckets and their objects are deleted', () => {
    assert.equal(artifactBucket(throwaway).DeletionPolicy, 'Delete');
    assert.equal(artifactBucket(throwaway).UpdateReplacePolicy, 'Delete');
    assert.equal(accessLogsBucket(throwaway).DeletionPolicy, 'Delete');
    throwaway.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
  });

  test('the database is deleted without snapshot and without deletion protection', () => {
    const cluster = databaseCluster(throwaway);
    assert.equal(cluster.DeletionPolicy, 'Delete');
    assert.equal(cluster.Properties.DeletionProtection, false);
    throwaway.resourceCountIs(DATABASE_DELETION_PROTECTION_TYPE, 0);
  });
});

describe('encryption, transport and logs', () => {
  test('bucket, database and flow logs', () => {
    assert.ok(artifactBucket().Properties.BucketEncryption);
    assert.equal(databaseCluster().Properties.StorageEncrypted, true);
    defaults.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
  });

  test('every bucket refuses plain HTTP', () => {
    const buckets = Object.keys(defaults.findResources('AWS::S3::Bucket'));
    const policies = resourcesOfType(defaults, 'AWS::S3::BucketPolicy').map(([, p]) => p.Properties);
    for (const bucket of buckets) {
      const policy = policies.find((p) => p.Bucket.Ref === bucket);
      assert.ok(policy, `policy for ${bucket}`);
      assert.ok(policy.PolicyDocument.Statement.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
    }
  });

  test('the load balancer writes access logs', () => {
    const [[, alb]] = resourcesOfType(defaults, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const attributes = Object.fromEntries(alb.Properties.LoadBalancerAttributes.map((a: any) => [a.Key, a.Value]));
    assert.equal(attributes['access_logs.s3.enabled'], 'true');
    assert.equal(attributes['access_logs.s3.prefix'], 'alb');
    assert.equal(attributes['routing.http.drop_invalid_header_fields.enabled'], 'true');
  });

  test('database logs are exported to log groups with retention, without a log-retention Lambda', () => {
    for (const log of ['error', 'slowquery']) {
      defaults.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/aws/rds/cluster/mlflow-backend-store/${log}`, RetentionInDays: 30 });
    }
    defaults.resourceCountIs('Custom::LogRetention', 0);
  });

  test('the exported slow-query log is switched on in the cluster parameter group: to a file, statements over 2 s', () => {
    const cluster = databaseCluster();
    assert.ok(cluster.Properties.EnableCloudwatchLogsExports.includes('slowquery'));
    const parameters = clusterParameters();
    assert.equal(parameters.slow_query_log, '1');
    assert.equal(parameters.log_output, 'FILE');
    assert.equal(parameters.long_query_time, '2');
  });

  test('the database refuses connections without TLS', () => {
    assert.equal(clusterParameters().require_secure_transport, 'ON');
  });

  test('the database listens on a non-default port', () => {
    assert.equal(databaseCluster().Properties.Port, 3307);
  });
});

describe('upgrades', () => {
  test('new tasks start before old ones stop, and a deployment that fails health checks rolls back', () => {
    defaults.hasResourceProperties('AWS::ECS::Service', {
      DeploymentConfiguration: Match.objectLike({
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      }),
      HealthCheckGracePeriodSeconds: healthCheckGracePeriod().toSeconds(),
    });
  });

  test('the MLflow version reaches the image build as a build argument', () => {
    const assets = JSON.stringify(mlflowTemplate({ mlflowVersion: '3.5.1' }).toJSON());
    // The image asset hash changes with the build argument, so a version change rolls out new tasks.
    assert.notEqual(assets, JSON.stringify(defaults.toJSON()));
  });
});
