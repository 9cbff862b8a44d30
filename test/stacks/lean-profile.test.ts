import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from 'aws-cdk-lib/assertions';
import { PAUSED_RETRY_AFTER_SECONDS } from '../../src/lib/gateway/http-gateway';
import { PROXY_CONTAINER_HEALTH_CHECK } from '../../src/lib/service/mlflow-startup';
import { CONTAINER_NAMES, HEALTH_CHECK_PATH, MLFLOW_OUTPUTS, PORTS } from '../../src/app/names';
import { buildTestPlatform, resourcesOfType } from '../support/synth';

const lean = buildTestPlatform({ profile: 'lean', sagemaker: 'both' });
const mlflow = Template.fromStack(lean.mlflow);
const gateway = Template.fromStack(lean.gateway);
const standard = buildTestPlatform({ sagemaker: 'both' });
/** A lean stack deployed before 0.3.0 keeps Aurora (deploy pins database to the deployed engine). */
const leanAurora = Template.fromStack(buildTestPlatform({ profile: 'lean', database: 'aurora', sagemaker: 'both' }).mlflow);

function only<T>(entries: T[], what: string): T {
  assert.equal(entries.length, 1, `exactly one ${what}`);
  return entries[0];
}

function subnetKinds(template: Template): string[] {
  return resourcesOfType(template, 'AWS::EC2::Subnet')
    .map(([, s]) => s.Properties.Tags.find((t: any) => t.Key === 'aws-cdk:subnet-type').Value).sort();
}

describe('lean profile: network', () => {
  test('no NAT gateway, no private subnets with egress: public and isolated subnets in two AZs', () => {
    mlflow.resourceCountIs('AWS::EC2::NatGateway', 0);
    mlflow.resourceCountIs('AWS::EC2::EIP', 0);
    assert.deepEqual(subnetKinds(mlflow), ['Isolated', 'Isolated', 'Public', 'Public']);
    mlflow.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
  });

  test('the standard profile keeps its NAT gateway and private subnets', () => {
    const template = Template.fromStack(standard.mlflow);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    assert.deepEqual(subnetKinds(template), ['Isolated', 'Isolated', 'Private', 'Private', 'Public', 'Public']);
  });
});

describe('moving between profiles keeps the database where it is', () => {
  test('the isolated subnets, the database subnet group and the cluster are the same resources with the same addresses in both layouts', () => {
    const databaseSide = (template: Template) => ({
      subnets: resourcesOfType(template, 'AWS::EC2::Subnet').filter(([id]) => /isolated/.test(id)).map(([id, r]) => [id, r.Properties.CidrBlock]),
      subnetGroups: resourcesOfType(template, 'AWS::RDS::DBSubnetGroup'),
      clusters: resourcesOfType(template, 'AWS::RDS::DBCluster').map(([id, r]) => [id, r.Properties.DBSubnetGroupName]),
    });
    const before = databaseSide(Template.fromStack(standard.mlflow));
    assert.equal(before.subnets.length, 2);
    assert.deepEqual(databaseSide(leanAurora), before, 'a changed isolated subnet would be replaced, and with it the database\'s subnets');
  });
});

describe('lean profile: the service', () => {
  const [, taskDefinition] = only(resourcesOfType(mlflow, 'AWS::ECS::TaskDefinition'), 'task definition');
  const [, service] = only(resourcesOfType(mlflow, 'AWS::ECS::Service'), 'ECS service');

  test('one ARM64 task of 0.5 vCPU and 1 GiB, at most 1 with SQLite (its default), scaling up to 2 with Aurora', () => {
    assert.deepEqual(taskDefinition.Properties.RuntimePlatform, { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    assert.equal(taskDefinition.Properties.Cpu, '512');
    assert.equal(taskDefinition.Properties.Memory, '1024');
    assert.equal(service.Properties.DesiredCount, 1);
    mlflow.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 1 });
    leanAurora.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 2 });
  });

  test('the images are built for arm64 in an ARM CodeBuild environment', () => {
    const [, project] = only(resourcesOfType(mlflow, 'AWS::CodeBuild::Project'), 'build project');
    assert.equal(project.Properties.Environment.Type, 'ARM_CONTAINER');
    const builds = resourcesOfType(mlflow, 'Custom::CDKContainerImageBuild');
    assert.equal(builds.length, 2);
    for (const [, build] of builds) assert.match(JSON.stringify(build.Properties), /linux\/arm64/);
  });

  test('tasks in the public subnets with a public IPv4', () => {
    const network = service.Properties.NetworkConfiguration.AwsvpcConfiguration;
    assert.equal(network.AssignPublicIp, 'ENABLED');
    assert.match(JSON.stringify(network.Subnets), /publicSubnet1.*publicSubnet2/);
  });

  test('registered in Cloud Map with SRV records of the proxy port, kept healthy by the proxy health check', () => {
    const [discoveryId, discovery] = only(resourcesOfType(mlflow, 'AWS::ServiceDiscovery::Service'), 'Cloud Map service');
    assert.deepEqual(discovery.Properties.DnsConfig.DnsRecords, [{ TTL: 60, Type: 'SRV' }]);
    assert.deepEqual(discovery.Properties.HealthCheckCustomConfig, { FailureThreshold: 1 });
    assert.deepEqual(service.Properties.ServiceRegistries, [{
      ContainerName: CONTAINER_NAMES.proxy, ContainerPort: PORTS.proxy, RegistryArn: { 'Fn::GetAtt': [discoveryId, 'Arn'] },
    }]);
    const proxy = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === CONTAINER_NAMES.proxy);
    assert.deepEqual(proxy.HealthCheck.Command.slice(0, 3), ['CMD', 'perl', '-MIO::Socket::INET']);
    assert.match(proxy.HealthCheck.Command[4], new RegExp(`127\\.0\\.0\\.1:${PORTS.proxy}.*GET ${HEALTH_CHECK_PATH} `));
    assert.equal(proxy.HealthCheck.StartPeriod, PROXY_CONTAINER_HEALTH_CHECK.startPeriod.toSeconds());
  });

  test('no load balancer, and no load balancer outputs', () => {
    assert.deepEqual(Object.keys(mlflow.toJSON().Resources).filter((id) => /ElasticLoadBalancing/.test(mlflow.toJSON().Resources[id].Type)), []);
    const outputs = Object.keys(mlflow.toJSON().Outputs);
    assert.ok(!outputs.includes(MLFLOW_OUTPUTS.loadBalancerDnsName) && !outputs.includes(MLFLOW_OUTPUTS.listenerArn));
    assert.ok(outputs.includes(MLFLOW_OUTPUTS.serviceName));
  });

  test('MLflow accepts the Host headers of the Cloud Map front door, not the load balancer\'s', () => {
    const server = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === CONTAINER_NAMES.mlflow);
    const hosts = server.Environment.find((e: any) => e.Name === 'MLFLOW_SERVER_ALLOWED_HOSTS').Value.split(',');
    assert.ok(hosts.includes('mlflow.http-api.local') && hosts.includes('10.0.*'), hosts.join(','));
    assert.ok(!hosts.some((h: string) => h.includes('elb.amazonaws.com')));
  });
});

describe('lean profile: the gateway', () => {
  test('the VPC link integration is the Cloud Map service, through the VPC link in the public subnets', () => {
    // The password routes' integration and the IAM route's; besides them only the sleep function's starting integration
    // (a Lambda integration, attached to no route: test/constructs/idle-sleep.test.ts).
    const all = resourcesOfType(gateway, 'AWS::ApiGatewayV2::Integration');
    const integrations = all.filter(([, r]) => r.Properties.ConnectionType === 'VPC_LINK');
    assert.equal(integrations.length, 2);
    assert.deepEqual(all.filter(([, r]) => r.Properties.ConnectionType !== 'VPC_LINK').map(([, r]) => r.Properties.IntegrationType), ['AWS_PROXY']);
    for (const [, integration] of integrations) {
      assert.equal(integration.Properties.ConnectionType, 'VPC_LINK');
      assert.match(JSON.stringify(integration.Properties.IntegrationUri), /CloudmapService/);
    }
    const [, link] = only(resourcesOfType(gateway, 'AWS::ApiGatewayV2::VpcLink'), 'VPC link');
    assert.match(JSON.stringify(link.Properties.SubnetIds), /publicSubnet1.*publicSubnet2/);
  });

  test('the tasks admit the proxy port from the VPC link security group, and nothing else', () => {
    const ingress = [
      ...resourcesOfType(gateway, 'AWS::EC2::SecurityGroupIngress'),
      ...resourcesOfType(mlflow, 'AWS::EC2::SecurityGroupIngress'),
    ].filter(([, r]) => /ServiceSecurityGroup/.test(JSON.stringify(r.Properties.GroupId)));
    const [, rule] = only(ingress, 'ingress rule of the task security group');
    assert.deepEqual([rule.Properties.FromPort, rule.Properties.ToPort, rule.Properties.IpProtocol], [PORTS.proxy, PORTS.proxy, 'tcp']);
    const vpcLinkGroupId = only(resourcesOfType(gateway, 'AWS::EC2::SecurityGroup').map(([id]) => id), 'VPC link security group');
    assert.deepEqual(rule.Properties.SourceSecurityGroupId, { 'Fn::GetAtt': [vpcLinkGroupId, 'GroupId'] });
    const taskGroup = only(resourcesOfType(mlflow, 'AWS::EC2::SecurityGroup').filter(([id]) => /ServiceSecurityGroup/.test(id)), 'task group');
    assert.equal(taskGroup[1].Properties.SecurityGroupIngress, undefined);
  });

  test(`a 503 carries Retry-After: ${PAUSED_RETRY_AFTER_SECONDS}, with either front door, on every route's integration`, () => {
    for (const template of [gateway, Template.fromStack(standard.gateway)]) {
      // The routes' integrations (the sleep function's starting integration sets Retry-After in its own answers).
      const integrations = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration').filter(([, r]) => r.Properties.ConnectionType === 'VPC_LINK');
      assert.ok(integrations.length > 0);
      for (const [, integration] of integrations) {
        assert.deepEqual(integration.Properties.ResponseParameters, {
          503: { ResponseParameters: [{ Destination: 'overwrite:header.Retry-After', Source: String(PAUSED_RETRY_AFTER_SECONDS) }] },
        });
      }
    }
  });
});

describe('lean profile: SageMaker without NAT', () => {
  test('the Studio domain uses SageMaker\'s internet access from the isolated subnets, and the AWS managed key', () => {
    const studio = Template.fromStack(lean.studio!);
    const [, domain] = only(resourcesOfType(studio, 'AWS::SageMaker::Domain'), 'domain');
    assert.equal(domain.Properties.AppNetworkAccessType, 'PublicInternetOnly');
    assert.match(JSON.stringify(domain.Properties.SubnetIds), /isolatedSubnet1.*isolatedSubnet2/);
    assert.equal(domain.Properties.KmsKeyId, undefined);
    studio.resourceCountIs('AWS::KMS::Key', 0);
    const standardStudio = Template.fromStack(standard.studio!);
    standardStudio.hasResourceProperties('AWS::SageMaker::Domain', { AppNetworkAccessType: 'VpcOnly' });
    standardStudio.resourceCountIs('AWS::KMS::Key', 1);
    Template.fromStack(buildTestPlatform({ profile: 'lean', studioStorageKey: 'customer-managed' }).studio!).resourceCountIs('AWS::KMS::Key', 1);
  });

  test('the notebook instance has direct internet access, in an isolated subnet', () => {
    const notebook = Template.fromStack(lean.notebook!);
    const [, instance] = only(resourcesOfType(notebook, 'AWS::SageMaker::NotebookInstance'), 'notebook instance');
    assert.equal(instance.Properties.DirectInternetAccess, 'Enabled');
    assert.match(JSON.stringify(instance.Properties.SubnetId), /isolatedSubnet1/);
    Template.fromStack(standard.notebook!).hasResourceProperties('AWS::SageMaker::NotebookInstance', { DirectInternetAccess: 'Disabled' });
  });
});
