import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { GATEWAY_OUTPUTS } from '../../src/names';
import { buildTestPlatform, resourcesOfType } from '../support/synth';

const platform = buildTestPlatform();
const gateway = Template.fromStack(platform.gateway);
const mlflow = Template.fromStack(platform.mlflow);

describe('HttpGatewayStack', () => {
  test('VPC link over the private subnets of the MLflow VPC', () => {
    const [[, link]] = resourcesOfType(gateway, 'AWS::ApiGatewayV2::VpcLink');
    const subnetImports = JSON.stringify(link.Properties.SubnetIds);
    assert.equal(link.Properties.SubnetIds.length, 2);
    assert.match(subnetImports, /privateSubnet1/);
    assert.match(subnetImports, /privateSubnet2/);
  });

  test('HTTP API with the load balancer listener as default integration, through the VPC link', () => {
    gateway.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    gateway.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    gateway.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'HTTP_PROXY',
      ConnectionType: 'VPC_LINK',
      IntegrationMethod: 'ANY',
      ConnectionId: { Ref: Match.stringLikeRegexp('VpcLink') },
      IntegrationUri: { 'Fn::ImportValue': Match.stringLikeRegexp('LoadBalancerHttp') },
    });
  });

  test('both the $default route and ANY /{proxy+} go to that integration', () => {
    const [[integrationId]] = resourcesOfType(gateway, 'AWS::ApiGatewayV2::Integration');
    const routes = resourcesOfType(gateway, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    assert.deepEqual(routes.map((r) => r.RouteKey).sort(), ['$default', 'ANY /{proxy+}']);
    for (const route of routes) assert.deepEqual(route.Target, { 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] });
  });

  test('auto-deployed $default stage with throttling and access logs', () => {
    gateway.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('\\$context\\.requestId') },
    });
    gateway.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('throttling follows the configuration', () => {
    Template.fromStack(buildTestPlatform({ apiThrottleRateLimit: 20, apiThrottleBurstLimit: 40 }).gateway).hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
  });

  test('the load balancer accepts the VPC link, on port 80, and nothing else', () => {
    const ingress = resourcesOfType(gateway, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    assert.equal(ingress.length, 1);
    assert.equal(ingress[0].FromPort, 80);
    assert.equal(ingress[0].ToPort, 80);
    assert.match(JSON.stringify(ingress[0].GroupId), /LoadBalancerSecurityGroup/);
    assert.match(JSON.stringify(ingress[0].SourceSecurityGroupId), /VpcLinkSecurityGroup/);
    // …and the platform stack itself grants the load balancer no ingress at all.
    assert.equal(resourcesOfType(mlflow, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => /LoadBalancer/.test(JSON.stringify(r.Properties.GroupId))).length, 0);
  });

  test('the VPC link can reach the load balancer only', () => {
    const [[, group]] = resourcesOfType(gateway, 'AWS::EC2::SecurityGroup');
    assert.ok(!JSON.stringify(group.Properties.SecurityGroupEgress ?? []).includes('"IpProtocol":"-1"'));
    const egress = resourcesOfType(gateway, 'AWS::EC2::SecurityGroupEgress').map(([, r]) => r.Properties);
    assert.equal(egress.length, 1);
    assert.match(JSON.stringify(egress[0].DestinationSecurityGroupId), /LoadBalancerSecurityGroup/);
  });

  test('the tracking URI output is the HTTPS stage URL under its documented key', () => {
    const outputs = gateway.toJSON().Outputs;
    const uri = JSON.stringify(outputs[GATEWAY_OUTPUTS.trackingUri].Value);
    assert.match(uri, /"https:\/\/"/);
    assert.match(uri, /execute-api\.us-west-2\./);
  });
});

describe('MLflow accepts requests arriving through API Gateway and the load balancer', () => {
  test('allowed hosts and CORS origins cover the region\'s API Gateway and load balancer host names', () => {
    const [[, taskDefinition]] = resourcesOfType(mlflow, 'AWS::ECS::TaskDefinition');
    const server = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === 'mlflow-server');
    const environment = Object.fromEntries(server.Environment.map((e: any) => [e.Name, e.Value]));
    assert.match(environment.MLFLOW_SERVER_ALLOWED_HOSTS, /\*\.execute-api\.us-west-2\.amazonaws\.com/);
    assert.match(environment.MLFLOW_SERVER_ALLOWED_HOSTS, /\*\.us-west-2\.elb\.amazonaws\.com/);
    assert.match(environment.MLFLOW_SERVER_CORS_ALLOWED_ORIGINS, /^https:\/\/\*\.execute-api\.us-west-2\.amazonaws\.com$/);
  });
});
