import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { GATEWAY_OUTPUTS } from '../../src/app/names';
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

  test('HTTP API with the load balancer listener as integration of both routes, through the VPC link', () => {
    gateway.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    gateway.resourceCountIs('AWS::ApiGatewayV2::Integration', 2);
    for (const [, integration] of resourcesOfType(gateway, 'AWS::ApiGatewayV2::Integration')) {
      assert.equal(integration.Properties.IntegrationType, 'HTTP_PROXY');
      assert.equal(integration.Properties.ConnectionType, 'VPC_LINK');
      assert.equal(integration.Properties.IntegrationMethod, 'ANY');
      assert.match(JSON.stringify(integration.Properties.ConnectionId), /VpcLink/);
      assert.match(JSON.stringify(integration.Properties.IntegrationUri), /LoadBalancerHttp/);
    }
  });

  /** Route key -> [its authorization type, the RequestParameters of its integration]. */
  function routesOf(template: Template): Record<string, [string, Record<string, unknown> | undefined]> {
    const integrations = Object.fromEntries(resourcesOfType(template, 'AWS::ApiGatewayV2::Integration'));
    return Object.fromEntries(resourcesOfType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => {
      const target = JSON.stringify(r.Properties.Target);
      const [integrationId] = Object.keys(integrations).filter((id) => target.includes(`"${id}"`));
      return [r.Properties.RouteKey, [r.Properties.AuthorizationType ?? 'NONE', integrations[integrationId].Properties.RequestParameters]];
    }));
  }

  test('the password routes ($default, ANY /{proxy+}): no authorizer, and the integration deletes the IAM route\'s headers', () => {
    const routes = routesOf(gateway);
    assert.deepEqual(Object.keys(routes).sort(), ['$default', 'ANY /iam/{proxy+}', 'ANY /{proxy+}']);
    for (const key of ['$default', 'ANY /{proxy+}']) {
      assert.deepEqual(routes[key], ['NONE', { 'remove:header.X-MLflow-IAM-Principal': '', 'remove:header.X-MLflow-Gateway-Token': '' }], key);
    }
  });

  test('with either front door (lean: Cloud Map): the password routes delete the IAM route\'s headers, the IAM route overwrites them', () => {
    for (const profile of ['standard', 'lean'] as const) {
      const routes = routesOf(Template.fromStack(buildTestPlatform({ profile }).gateway));
      for (const key of ['$default', 'ANY /{proxy+}']) {
        assert.deepEqual(routes[key], ['NONE', { 'remove:header.X-MLflow-IAM-Principal': '', 'remove:header.X-MLflow-Gateway-Token': '' }], `${profile}: ${key}`);
      }
      const [authorization, parameters] = routes['ANY /iam/{proxy+}'];
      assert.equal(authorization, 'AWS_IAM', profile);
      assert.equal(parameters?.['overwrite:header.X-MLflow-IAM-Principal'], '$context.identity.userArn', profile);
    }
  });

  test('the IAM route: IAM authorizer, prefix cut, the verified caller ARN and the token from its secret overwrite any client header', () => {
    const [authorization, parameters] = routesOf(gateway)['ANY /iam/{proxy+}'];
    assert.equal(authorization, 'AWS_IAM');
    assert.deepEqual(Object.keys(parameters ?? {}).sort(), ['overwrite:header.X-MLflow-Gateway-Token', 'overwrite:header.X-MLflow-IAM-Principal', 'overwrite:path']);
    assert.equal(parameters?.['overwrite:path'], '/$request.path.proxy');
    assert.equal(parameters?.['overwrite:header.X-MLflow-IAM-Principal'], '$context.identity.userArn');
    const token = JSON.stringify(parameters?.['overwrite:header.X-MLflow-Gateway-Token']);
    assert.match(token, /\{\{resolve:secretsmanager:",\{"Fn::ImportValue":"MLflowVpcStack:ExportsOutputRefGatewayTokenSecret[0-9A-F]+"\},":SecretString:token::\}\}/);
  });

  test('the IAM route\'s outputs: its tracking URI (<endpoint>/iam) and the ARN principals are granted execute-api:Invoke on', () => {
    const outputs = gateway.toJSON().Outputs;
    assert.match(JSON.stringify(outputs[GATEWAY_OUTPUTS.iamTrackingUri].Value), /^\{"Fn::Join":\["",\["https:\/\/",.*"\/iam"\]\]\}$/);
    assert.match(JSON.stringify(outputs[GATEWAY_OUTPUTS.iamInvokeArn].Value), /:execute-api:us-west-2:.*"\/\$default\/\*\/iam\/\*"/);
  });

  test('no IAM principal (no SageMaker stack, none configured): no IAM route, no token, no IAM outputs; the headers are still deleted', () => {
    const platformWithout = buildTestPlatform({ sagemaker: 'none' });
    const template = Template.fromStack(platformWithout.gateway);
    const routes = routesOf(template);
    assert.deepEqual(Object.keys(routes).sort(), ['$default', 'ANY /{proxy+}']);
    assert.deepEqual(routes['$default'][1], { 'remove:header.X-MLflow-IAM-Principal': '', 'remove:header.X-MLflow-Gateway-Token': '' });
    assert.equal(template.toJSON().Outputs[GATEWAY_OUTPUTS.iamTrackingUri], undefined);
    Template.fromStack(platformWithout.mlflow).resourceCountIs('AWS::SecretsManager::Secret', 2);
    // A configured principal alone brings the route.
    const withPrincipal = Template.fromStack(buildTestPlatform({ sagemaker: 'none', iamPrincipals: 'arn:aws:iam::123456789012:role/batch' }).gateway);
    assert.equal(routesOf(withPrincipal)['ANY /iam/{proxy+}'][0], 'AWS_IAM');
  });

  test('access logs name the IAM caller', () => {
    gateway.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('\\$context\\.identity\\.userArn') },
    });
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
  test('allowed hosts cover the region\'s API Gateway and load balancer host names; CORS admits no other API of the region (review 2026-12-06, finding 8)', () => {
    const [[, taskDefinition]] = resourcesOfType(mlflow, 'AWS::ECS::TaskDefinition');
    const server = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === 'mlflow-server');
    const environment = Object.fromEntries(server.Environment.map((e: any) => [e.Name, e.Value]));
    assert.match(environment.MLFLOW_SERVER_ALLOWED_HOSTS, /\*\.execute-api\.us-west-2\.amazonaws\.com/);
    assert.match(environment.MLFLOW_SERVER_ALLOWED_HOSTS, /\*\.us-west-2\.elb\.amazonaws\.com/);
    assert.equal(environment.MLFLOW_SERVER_CORS_ALLOWED_ORIGINS, '', 'no cross-origin caller without a custom domain');
  });
});
