/**
 * MlflowPlatform as a library user places it (bare stacks, no app configuration), and the one function that turns the
 * app's configuration into its props (src/app/platform-props.ts), tested as a pure function.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { resolvePlatformConfig } from '../../src/app/config/platform-config';
import { iamPrincipalEntries, mlflowPlatformProps } from '../../src/app/platform-props';
import { PLATFORM_DEFAULTS, withDefaults } from '../../src/lib/defaults';
import { MlflowPlatform, MlflowPlatformProps } from '../../src/lib/mlflow-platform';
import { resourcesOfType } from '../support/synth';

function place(props?: MlflowPlatformProps, id = 'Mlflow', build?: (stack: Stack) => MlflowPlatformProps): { stack: Stack; platform: MlflowPlatform; template: Template } {
  const stack = new Stack(new App(), 'User', { env: { region: 'eu-west-1' } });
  const platform = new MlflowPlatform(stack, id, build ? build(stack) : props);
  return { stack, platform, template: Template.fromStack(stack) };
}

function containerEnvironment(template: Template, name: string): Record<string, string> {
  const [[, taskDefinition]] = resourcesOfType(template, 'AWS::ECS::TaskDefinition');
  const container = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === name);
  return Object.fromEntries((container.Environment ?? []).map((e: any) => [e.Name, e.Value]));
}

describe('MlflowPlatform with no props: the library\'s own defaults (the standard layout)', () => {
  const { template, platform } = place();

  test('its own VPC (10.0.0.0/16, one NAT gateway), an internal load balancer, two 1 vCPU / 2 GiB tasks up to six', () => {
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: PLATFORM_DEFAULTS.vpcCidr });
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '1024', Memory: '2048' });
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 2 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
    assert.deepEqual(platform.layout.serviceSubnets, { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
  });

  test('Aurora from 0 to 2 ACU, deletion protection turned on after the create, logs kept 30 days, the shared account "admin"', () => {
    template.hasResourceProperties('AWS::RDS::DBCluster', { ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 2 } });
    template.resourceCountIs('Custom::DatabaseDeletionProtection', 1);
    for (const [, group] of resourcesOfType(template, 'AWS::Logs::LogGroup')) assert.equal(group.Properties.RetentionInDays, 30);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: PLATFORM_DEFAULTS.mlflowSecretName,
      GenerateSecretString: { SecretStringTemplate: JSON.stringify({ username: 'admin' }) },
    });
    assert.equal(containerEnvironment(template, 'mlflow-server').MLFLOW_AUTH, undefined, 'shared account: no MLflow auth app');
    template.resourceCountIs('AWS::Backup::BackupPlan', 0);
  });

  test('no IAM principal, no gateway token', () => {
    assert.equal(platform.gatewayToken, undefined);
    assert.equal(containerEnvironment(template, 'nginx-auth-proxy').MLFLOW_IAM_PRINCIPALS, undefined);
  });
});

describe('MlflowPlatform in a stack that has its own VPC', () => {
  const { template, platform, stack } = place(undefined, 'Mlflow', (s) => ({
    vpc: new ec2.Vpc(s, 'Vpc', { maxAzs: 2, subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ] }),
    iamPrincipals: [{ roleName: 'my-training-role', username: 'training' }, { arn: 'arn:aws:iam::111122223333:role/ci', username: 'ci' }],
  }));

  test('makes no VPC of its own and runs the tasks in its private subnets', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    assert.equal(platform.vpc, stack.node.findChild('Vpc'));
    assert.deepEqual(platform.layout.sageMakerSubnets, { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
  });

  test('IAM principals by role name become ARNs of the stack\'s account, each with its MLflow user, and get a gateway token', () => {
    assert.ok(platform.gatewayToken);
    const principals = JSON.stringify(stack.resolve(containerEnvironment(template, 'nginx-auth-proxy').MLFLOW_IAM_PRINCIPALS));
    assert.match(principals, /"arn:",\{"Ref":"AWS::Partition"\},":iam::",\{"Ref":"AWS::AccountId"\},":role\/my-training-role=training,arn:aws:iam::111122223333:role\/ci=ci"/);
  });

  test('the Cloud Map front door refuses a VPC whose range is not known at synth time', () => {
    assert.throws(() => place(undefined, 'Mlflow', (s) => ({ vpc: new ec2.Vpc(s, 'Vpc'), frontDoor: 'cloud-map' })),
      /cloud-map front door needs the platform's own network/);
  });
});

describe('placed with the id Default', () => {
  const { template } = place(undefined, 'Default');

  test('the logical IDs are those of the stack\'s own constructs', () => {
    assert.ok(template.toJSON().Resources.NetworkVpc7FB7348F, Object.keys(template.toJSON().Resources).slice(0, 5).join(', '));
  });

  test('the VPC, its subnets and its flow log keep names without "Default" (ec2.Vpc names them after construct paths)', () => {
    const names = (type: string) => resourcesOfType(template, type).map(([, r]) => r.Properties.Tags.find((t: any) => t.Key === 'Name')?.Value).sort();
    assert.deepEqual(names('AWS::EC2::VPC'), ['User/Network/Vpc']);
    assert.deepEqual(names('AWS::EC2::Subnet'), ['User/Network/Vpc/isolatedSubnet1', 'User/Network/Vpc/isolatedSubnet2',
      'User/Network/Vpc/privateSubnet1', 'User/Network/Vpc/privateSubnet2', 'User/Network/Vpc/publicSubnet1', 'User/Network/Vpc/publicSubnet2']);
    assert.deepEqual(names('AWS::EC2::FlowLog'), ['User/Network/Vpc/FlowLog']);
  });

  test('elsewhere the names are ec2.Vpc\'s own', () => {
    const [[, vpc]] = resourcesOfType(place().template, 'AWS::EC2::VPC');
    assert.deepEqual(vpc.Properties.Tags, [{ Key: 'Name', Value: 'User/Mlflow/Network/Vpc' }]);
  });
});

describe('withDefaults', () => {
  test('fills in what is undefined and keeps what is given, false and 0 included', () => {
    assert.deepEqual(withDefaults({ a: undefined as number | undefined, b: false as boolean | undefined, c: 0 as number | undefined }, { a: 1, b: true, c: 5 }),
      { a: 1, b: false, c: 0 });
  });
});

describe('mlflowPlatformProps: the configuration decides the layout once', () => {
  test('standard: load balancer, one NAT gateway, x86, the gateway\'s hosts', () => {
    const props = mlflowPlatformProps(resolvePlatformConfig({}));
    assert.equal(props.frontDoor, 'load-balancer');
    assert.deepEqual(props.network, { cidr: '10.0.0.0/16', natGateways: 1 });
    assert.equal(props.images?.architecture, undefined);
    assert.ok(props.service?.allowedHosts?.includes('*.execute-api.us-west-2.amazonaws.com'), String(props.service?.allowedHosts));
  });

  test('lean: Cloud Map, no NAT gateway, ARM64', () => {
    const props = mlflowPlatformProps(resolvePlatformConfig({ profile: 'lean' }));
    assert.equal(props.frontDoor, 'cloud-map');
    assert.equal(props.network?.natGateways, 0);
    assert.equal(props.images?.architecture, 'arm64');
  });

  test('activeHours arrives parsed, with its time zone', () => {
    const props = mlflowPlatformProps(resolvePlatformConfig({ activeHours: 'MON-FRI 07:00-20:00', activeHoursTimeZone: 'Europe/Berlin' }));
    assert.deepEqual(props.service?.activeHours, {
      hours: { days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], start: { hour: 7, minute: 0 }, end: { hour: 20, minute: 0 } },
      timeZone: 'Europe/Berlin',
    });
  });

  test('a database from a snapshot keeps the snapshot\'s schema', () => {
    const props = mlflowPlatformProps(resolvePlatformConfig({ dbSnapshot: 'my-snapshot' }));
    assert.equal(props.database?.databaseName, 'mlflowdb');
    assert.deepEqual(props.database?.snapshot, { identifier: 'my-snapshot', username: 'master' });
  });

  test('the IAM principals: the SageMaker roles by name first, then iamPrincipals', () => {
    const config = resolvePlatformConfig({ sagemaker: 'both', iamPrincipals: 'arn:aws:iam::111122223333:role/ci=ci' });
    assert.deepEqual(iamPrincipalEntries(config), [
      { roleName: 'mlflow-lab-studio-us-west-2', username: 'sagemaker-studio' },
      { roleName: 'mlflow-lab-notebook-us-west-2', username: 'sagemaker-notebook' },
      { arn: 'arn:aws:iam::111122223333:role/ci', username: 'ci' },
    ]);
  });
});
