import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CONTAINER_NAMES, HEALTH_CHECK_PATH, SERVICE_DISCOVERY_NAMESPACE } from '../../src/lib/contract';
import { container, containers, platformTemplate as mlflowTemplate, resourcesOfType } from '../support/synth';

/**
 * MlflowPlatform on a bare stack, with the props the app's configuration gives it (src/app/platform-props.ts): what
 * MLflowVpcStack holds, without its outputs and without synthesizing the app's other stacks.
 */
const template = mlflowTemplate();

function securityGroupId(template: Template, descriptionPattern: RegExp): string {
  const matches = resourcesOfType(template, 'AWS::EC2::SecurityGroup').filter(([, r]) => descriptionPattern.test(r.Properties.GroupDescription));
  assert.equal(matches.length, 1, `exactly one security group described like ${descriptionPattern}`);
  return matches[0][0];
}

describe('network', () => {
  test('VPC with the configured CIDR and public, private and isolated subnets in two AZs', () => {
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.0.0.0/16' });
    const subnets = resourcesOfType(template, 'AWS::EC2::Subnet');
    assert.equal(subnets.length, 6);
    const kinds = subnets.map(([, s]) => s.Properties.Tags.find((t: any) => t.Key === 'aws-cdk:subnet-type').Value).sort();
    assert.deepEqual(kinds, ['Isolated', 'Isolated', 'Private', 'Private', 'Public', 'Public']);
    const azs = new Set(subnets.map(([, s]) => JSON.stringify(s.Properties.AvailabilityZone)));
    assert.equal(azs.size, 2);
  });

  test('NAT gateway count follows the configuration', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    mlflowTemplate({ natGateways: 2 }).resourceCountIs('AWS::EC2::NatGateway', 2);
  });

  test('a non-default CIDR is used as given', () => {
    mlflowTemplate({ vpcCidr: '172.20.0.0/18' }).hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '172.20.0.0/18' });
  });
});

describe('artifact store', () => {
  test('bucket is encrypted, private, versioned, TLS-only and retained', () => {
    const bucket = template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } });
    const entries = Object.values(bucket);
    assert.equal(entries.length, 1, 'one versioned bucket: the artifact store');
    const [artifactBucket] = entries as any[];
    assert.deepEqual(artifactBucket.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    });
    assert.equal(artifactBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
    assert.equal(artifactBucket.DeletionPolicy, 'RetainExceptOnCreate');
    assert.equal(artifactBucket.UpdateReplacePolicy, 'Retain');
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('old object versions expire after the configured number of days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } })]) },
    });
    mlflowTemplate({ artifactVersionExpiryDays: 30 }).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } })]) },
    });
  });
});

describe('backend store', () => {
  test('Aurora Serverless v2, MySQL 8.0-compatible, scaling from 0 ACU with auto-pause', () => {
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-mysql',
      EngineVersion: Match.stringLikeRegexp('^8\\.0\\.mysql_aurora\\.3\\.'),
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 3600 },
      StorageEncrypted: true,
      BackupRetentionPeriod: 7,
      DatabaseName: 'mlflow',
    });
    template.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless', Engine: 'aurora-mysql' });
    template.resourceCountIs('AWS::RDS::DBInstance', 1);
  });

  test('capacity follows the configuration', () => {
    mlflowTemplate({ dbMinCapacity: 0.5, dbMaxCapacity: 16 }).hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: Match.objectLike({ MinCapacity: 0.5, MaxCapacity: 16 }),
    });
  });

  test('a final snapshot is taken when the stack is deleted', () => {
    const [[, cluster]] = resourcesOfType(template, 'AWS::RDS::DBCluster');
    assert.equal(cluster.DeletionPolicy, 'Snapshot');
    assert.equal(cluster.UpdateReplacePolicy, 'Snapshot');
  });

  test('lives in the isolated subnets', () => {
    const [[, subnetGroup]] = resourcesOfType(template, 'AWS::RDS::DBSubnetGroup');
    const isolatedIds = resourcesOfType(template, 'AWS::EC2::Subnet')
      .filter(([, s]) => s.Properties.Tags.some((t: any) => t.Key === 'aws-cdk:subnet-type' && t.Value === 'Isolated'))
      .map(([id]) => id)
      .sort();
    assert.deepEqual(subnetGroup.Properties.SubnetIds.map((ref: any) => ref.Ref).sort(), isolatedIds);
  });

  test('credentials come from a generated secret, not from the template', () => {
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      MasterUsername: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
      MasterUserPassword: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('resolve:secretsmanager')])]) }),
    });
  });
});

describe('secrets', () => {
  test('MLflow user credentials: generated password, user "admin", configurable name', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'mlflow-server-credentials',
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{"username":"admin"}', GenerateStringKey: 'password' }),
    });
    mlflowTemplate({ mlflowSecretName: 'team-a/mlflow' }).hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'team-a/mlflow' });
  });

  test('database credentials are generated too, and the IAM route\'s token (48 letters and digits) when any IAM principal is admitted', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 3);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { SecretStringTemplate: '{}', GenerateStringKey: 'token', PasswordLength: 48, ExcludePunctuation: true, IncludeSpace: false },
    });
    mlflowTemplate({ sagemaker: 'none' }).resourceCountIs('AWS::SecretsManager::Secret', 2);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{"username":"mlflow"}', GenerateStringKey: 'password' }),
    });
  });
});

describe('service', () => {
  test('ECS cluster; the http-api.local Cloud Map namespace only where the Cloud Map front door reads it (lean)', () => {
    template.resourceCountIs('AWS::ECS::Cluster', 1);
    template.resourceCountIs('AWS::ServiceDiscovery::PrivateDnsNamespace', 0);
    template.resourceCountIs('AWS::ServiceDiscovery::Service', 0);
    assert.equal(resourcesOfType(template, 'AWS::ECS::Service')[0][1].Properties.ServiceRegistries, undefined);
    const lean = mlflowTemplate({ profile: 'lean' });
    lean.hasResourceProperties('AWS::ServiceDiscovery::PrivateDnsNamespace', { Name: SERVICE_DISCOVERY_NAMESPACE });
    lean.hasResourceProperties('AWS::ServiceDiscovery::Service', { Name: 'mlflow', DnsConfig: { DnsRecords: [{ Type: 'SRV', TTL: 60 }] } });
  });

  test('task size follows the configuration', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '1024', Memory: '2048', RequiresCompatibilities: ['FARGATE'] });
    mlflowTemplate({ taskCpu: 2048, taskMemoryMiB: 8192 }).hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '2048', Memory: '8192' });
  });

  test('the proxy container gets the MLflow credentials and the gateway token as ECS secrets and listens on 80', () => {
    const proxy = container(template, CONTAINER_NAMES.proxy);
    assert.deepEqual(proxy.PortMappings.map((p: any) => p.ContainerPort), [80]);
    assert.deepEqual(proxy.Secrets.map((s: any) => s.Name).sort(), ['MLFLOW_GATEWAY_TOKEN', 'MLFLOW_PASSWORD', 'MLFLOW_USERNAME']);
    const token = proxy.Secrets.find((s: any) => s.Name === 'MLFLOW_GATEWAY_TOKEN');
    assert.match(JSON.stringify(token.ValueFrom), /^\{"Fn::Join":\["",\[\{"Ref":"GatewayTokenSecret[0-9A-F]+"\},":token::"\]\]\}$/);
    assert.deepEqual(proxy.Environment.map((e: any) => e.Name), ['MLFLOW_IAM_PRINCIPALS']);
    assert.equal(container(mlflowTemplate({ sagemaker: 'none' }), CONTAINER_NAMES.proxy).Environment, undefined);
    assert.ok(proxy.Essential);
  });

  test('users mode: the admin credentials go to MLflow, not the proxy', () => {
    const users = mlflowTemplate({ auth: 'users' });
    const names = (name: string) => container(users, name).Secrets.map((s: any) => s.Name).sort();
    assert.deepEqual(names(CONTAINER_NAMES.proxy), ['MLFLOW_GATEWAY_TOKEN']);
    assert.deepEqual(names(CONTAINER_NAMES.mlflow), ['MLFLOW_PASSWORD', 'MLFLOW_USERNAME', 'PASSWORD', 'USERNAME']);
    const admin = container(users, CONTAINER_NAMES.mlflow).Secrets.filter((s: any) => s.Name.startsWith('MLFLOW_'));
    for (const secret of admin) assert.match(JSON.stringify(secret.ValueFrom), /"Ref":"MlflowCredentialsSecret[0-9A-F]+"\},":(username|password)::"/);
    const environment = Object.fromEntries(container(users, CONTAINER_NAMES.mlflow).Environment.map((e: any) => [e.Name, e.Value]));
    assert.equal(environment.MLFLOW_AUTH, 'users');
    assert.equal(environment.MLFLOW_AUTH_DEFAULT_PERMISSION, 'NO_PERMISSIONS');
  });

  test('the MLflow container gets bucket, host, port and database as environment and the database login as secrets', () => {
    const mlflow = container(template, CONTAINER_NAMES.mlflow);
    assert.deepEqual(mlflow.PortMappings.map((p: any) => p.ContainerPort), [5000]);
    const environment = Object.fromEntries(mlflow.Environment.map((e: any) => [e.Name, e.Value]));
    for (const name of ['BUCKET', 'HOST', 'PORT', 'DATABASE']) assert.ok(name in environment, `${name} in environment`);
    assert.equal(environment.DATABASE, 'mlflow');
    assert.deepEqual(mlflow.Secrets.map((s: any) => s.Name).sort(), ['PASSWORD', 'USERNAME']);
    for (const secret of mlflow.Secrets) assert.match(JSON.stringify(secret.ValueFrom), /:(username|password)::/);
  });

  test('artifacts go straight to S3 from clients by default; the server proxies them only when asked', () => {
    const environment = (template: Template) => Object.fromEntries(container(template, CONTAINER_NAMES.mlflow).Environment.map((e: any) => [e.Name, e.Value]));
    assert.equal(environment(template).MLFLOW_PROXY_ARTIFACTS, 'false');
    assert.equal(environment(mlflowTemplate({ proxyArtifacts: true })).MLFLOW_PROXY_ARTIFACTS, 'true');
  });

  test('an idle MLflow lets the database pause: pooled connections close after 60 s unused, no background job runner', () => {
    const environment = (template: Template) => Object.fromEntries(container(template, CONTAINER_NAMES.mlflow).Environment.map((e: any) => [e.Name, e.Value]));
    assert.equal(environment(template).DB_IDLE_DISCONNECT_SECONDS, '60');
    assert.equal(environment(template).MLFLOW_SERVER_ENABLE_JOB_EXECUTION, 'false');
    const custom = environment(mlflowTemplate({ dbIdleDisconnectSeconds: 300, mlflowBackgroundJobs: true, taskMemoryMiB: 4096 }));
    assert.equal(custom.DB_IDLE_DISCONNECT_SECONDS, '300');
    assert.equal(custom.MLFLOW_SERVER_ENABLE_JOB_EXECUTION, 'true');
  });

  test('no secret value or secret-looking name in plain environment', () => {
    for (const c of containers(template)) {
      for (const e of c.Environment ?? []) {
        assert.doesNotMatch(e.Name, /PASSWORD|SECRET|TOKEN/, `${c.Name} ${e.Name}`);
        assert.doesNotMatch(JSON.stringify(e.Value), /resolve:secretsmanager/, `${c.Name} ${e.Name}`);
      }
    }
  });

  test('logs go to a log group with the configured retention', () => {
    for (const c of containers(template)) assert.equal(c.LogConfiguration.LogDriver, 'awslogs');
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    mlflowTemplate({ logRetentionDays: 365 }).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  test('the task role can use its bucket and nothing else', () => {
    const [[, taskDefinition]] = resourcesOfType(template, 'AWS::ECS::TaskDefinition');
    const taskRoleId = taskDefinition.Properties.TaskRoleArn['Fn::GetAtt'][0];
    const policies = resourcesOfType(template, 'AWS::IAM::Policy').filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === taskRoleId));
    assert.equal(policies.length, 1);
    const statements = policies[0][1].Properties.PolicyDocument.Statement;
    const bucketId = Object.keys(template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } }))[0];
    for (const statement of statements) {
      const actions = [statement.Action].flat();
      assert.ok(actions.every((a: string) => a.startsWith('s3:')), `only S3 actions: ${actions}`);
      assert.ok(!actions.includes('s3:*'));
      const resources = [statement.Resource].flat();
      for (const resource of resources) assert.match(JSON.stringify(resource), new RegExp(bucketId), 'scoped to the artifact bucket');
    }
    const [[, role]] = resourcesOfType(template, 'AWS::IAM::Role').filter(([id]) => id === taskRoleId);
    assert.equal(role.Properties.ManagedPolicyArns, undefined);
  });

  test('the execution role reads exactly the two secrets', () => {
    const [[, taskDefinition]] = resourcesOfType(template, 'AWS::ECS::TaskDefinition');
    const executionRoleId = taskDefinition.Properties.ExecutionRoleArn['Fn::GetAtt'][0];
    const statements = resourcesOfType(template, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === executionRoleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const secretReads = statements.filter((s: any) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    const secretRefs = secretReads.flatMap((s: any) => [s.Resource].flat()).map((r: any) => r.Ref).sort();
    assert.deepEqual(secretRefs, Object.keys(template.findResources('AWS::SecretsManager::Secret')).sort());
  });

  test('Fargate service: desired count, circuit breaker with rollback', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: 2,
      DeploymentConfiguration: Match.objectLike({ DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100 }),
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
    });
    mlflowTemplate({ desiredTasks: 3 }).hasResourceProperties('AWS::ECS::Service', { DesiredCount: 3 });
  });

  test('tasks are spread over the private subnets of both AZs', () => {
    const [[, service]] = resourcesOfType(template, 'AWS::ECS::Service');
    const privateIds = resourcesOfType(template, 'AWS::EC2::Subnet')
      .filter(([, s]) => s.Properties.Tags.some((t: any) => t.Key === 'aws-cdk:subnet-type' && t.Value === 'Private'))
      .map(([id]) => id)
      .sort();
    assert.deepEqual(service.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets.map((s: any) => s.Ref).sort(), privateIds);
  });

  test('CPU autoscaling with the configured target and ceiling and 60 s cooldowns', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: 70,
        ScaleInCooldown: 60,
        ScaleOutCooldown: 60,
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
      },
    });
    const custom = mlflowTemplate({ maxTasks: 10, cpuTargetPercent: 50 });
    custom.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MaxCapacity: 10 });
    custom.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 50 }),
    });
  });
});

describe('load balancer', () => {
  test('internal ALB with an HTTP listener on 80', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal', Type: 'application' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
  });

  test('target group points at the proxy container with the /elb-status health check', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 80,
      Protocol: 'HTTP',
      TargetType: 'ip',
      HealthCheckPath: HEALTH_CHECK_PATH,
      Matcher: { HttpCode: '200' },
    });
    template.hasResourceProperties('AWS::ECS::Service', {
      LoadBalancers: [Match.objectLike({ ContainerName: CONTAINER_NAMES.proxy, ContainerPort: 80 })],
    });
  });
});

describe('security groups', () => {
  const ingressRules = () => [
    ...resourcesOfType(template, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties),
    ...resourcesOfType(template, 'AWS::EC2::SecurityGroup').flatMap(([id, r]) =>
      (r.Properties.SecurityGroupIngress ?? []).map((rule: any) => ({ ...rule, GroupId: { 'Fn::GetAtt': [id, 'GroupId'] } }))),
  ];

  test('nothing accepts 0.0.0.0/0 or ::/0', () => {
    for (const rule of ingressRules()) {
      assert.notEqual(rule.CidrIp, '0.0.0.0/0', JSON.stringify(rule));
      assert.notEqual(rule.CidrIpv6, '::/0', JSON.stringify(rule));
    }
  });

  test('the service accepts port 80 from the load balancer only, and nothing on 5000', () => {
    const serviceSg = securityGroupId(template, /^MLflow tasks/);
    const albSg = securityGroupId(template, /^Internal MLflow load balancer/);
    const rules = ingressRules().filter((r) => r.GroupId['Fn::GetAtt']?.[0] === serviceSg);
    assert.equal(rules.length, 1);
    assert.equal(rules[0].FromPort, 80);
    assert.equal(rules[0].ToPort, 80);
    assert.equal(rules[0].SourceSecurityGroupId['Fn::GetAtt'][0], albSg);
    for (const rule of ingressRules()) assert.ok(!(rule.FromPort <= 5000 && rule.ToPort >= 5000), `port 5000 open: ${JSON.stringify(rule)}`);
  });

  test('the database accepts its port from the service only, and opens no connections', () => {
    const dbSg = securityGroupId(template, /^MLflow backend store/);
    const serviceSg = securityGroupId(template, /^MLflow tasks/);
    const rules = ingressRules().filter((r) => r.GroupId['Fn::GetAtt']?.[0] === dbSg);
    assert.equal(rules.length, 1);
    assert.equal(rules[0].SourceSecurityGroupId['Fn::GetAtt'][0], serviceSg);
    assert.deepEqual(rules[0].FromPort, { 'Fn::GetAtt': [Object.keys(template.findResources('AWS::RDS::DBCluster'))[0], 'Endpoint.Port'] });
    const [[, group]] = resourcesOfType(template, 'AWS::EC2::SecurityGroup').filter(([id]) => id === dbSg);
    assert.ok(!JSON.stringify(group.Properties.SecurityGroupEgress ?? []).includes('"IpProtocol":"-1"'), 'no allow-all egress');
  });

  test('the load balancer has no ingress until the gateway grants its VPC link', () => {
    const albSg = securityGroupId(template, /^Internal MLflow load balancer/);
    assert.equal(ingressRules().filter((r) => r.GroupId['Fn::GetAtt']?.[0] === albSg).length, 0);
  });
});
