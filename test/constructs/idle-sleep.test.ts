/**
 * IdleSleep in the synthesized gateway stack: present only with sleepAfterMinutes (the lean default), the activity
 * metric filter and the wake subscription on the gateway's access log with the patterns of src/lib/operations/sleep-function/logic.js, the
 * sleep function's schedule, environment and permissions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildPlatform } from '../../src/app/app';
import { resolvePlatformConfig, type RawSettings } from '../../src/app/config/platform-config';
import { ACTIVITY_METRIC } from '../../src/lib/operations/idle-sleep';
import { activityFilterPattern } from '../../src/lib/operations/sleep-function/logic';

function gateway(settings: RawSettings): Template {
  const app = new App();
  buildPlatform(app, resolvePlatformConfig({ sagemaker: 'none', ...settings }));
  const stack = app.synth().getStackByName('HttpGatewayStack');
  return Template.fromJSON(stack.template);
}

describe('IdleSleep', () => {
  const lean = gateway({ profile: 'lean' });

  it('standard (sleepAfterMinutes 0 by default): no sleep function, filter or subscription', () => {
    const standard = gateway({});
    standard.resourceCountIs('AWS::Logs::SubscriptionFilter', 0);
    standard.resourceCountIs('AWS::Lambda::Function', 0);
    assert.ok(!Object.values(standard.findResources('AWS::Logs::MetricFilter')).some((r: any) => r.Properties.MetricTransformations[0].MetricName === ACTIVITY_METRIC.metricName));
  });

  it('lean: the activity metric filter on the gateway access log, no default value', () => {
    const filters = Object.values(lean.findResources('AWS::Logs::MetricFilter')) as any[];
    const activity = filters.find((r) => r.Properties.MetricTransformations[0].MetricName === ACTIVITY_METRIC.metricName);
    assert.ok(activity, 'activity filter');
    assert.equal(activity.Properties.FilterPattern, activityFilterPattern());
    assert.deepEqual(activity.Properties.MetricTransformations[0], { MetricNamespace: ACTIVITY_METRIC.namespace, MetricName: ACTIVITY_METRIC.metricName, MetricValue: '1' });
    assert.match(JSON.stringify(activity.Properties.LogGroupName), /GatewayAccessLogs/);
  });

  it('lean: no log subscription (the starting integration is the one wake path); the starting integration is attached to no route', () => {
    lean.resourceCountIs('AWS::Logs::SubscriptionFilter', 0);
    const integrations = lean.findResources('AWS::ApiGatewayV2::Integration');
    const starting = Object.entries(integrations).filter(([, r]: [string, any]) => r.Properties.IntegrationType === 'AWS_PROXY');
    assert.equal(starting.length, 1);
    const [startingId, integration] = starting[0] as [string, any];
    assert.equal(integration.Properties.PayloadFormatVersion, '2.0');
    assert.match(JSON.stringify(integration.Properties.IntegrationUri), /:function:HttpGatewayStack-MLflowSleep"/);
    const routes = Object.values(lean.findResources('AWS::ApiGatewayV2::Route')) as any[];
    assert.ok(routes.length >= 2);
    for (const route of routes) assert.doesNotMatch(JSON.stringify(route.Properties.Target), new RegExp(startingId), 'no route targets the starting integration');
    const fn = Object.values(lean.findResources('AWS::Lambda::Function'))[0] as any;
    assert.equal(fn.Properties.FunctionName, 'HttpGatewayStack-MLflowSleep');
    assert.deepEqual(fn.Properties.Environment.Variables.STARTING_INTEGRATION, { Ref: startingId });
  });

  it('lean: the function knows every route with its own target, and the Cloud Map service to read health from', () => {
    const env = (Object.values(lean.findResources('AWS::Lambda::Function'))[0] as any).Properties.Environment.Variables;
    const routes = Object.entries(lean.findResources('AWS::ApiGatewayV2::Route')) as Array<[string, any]>;
    const listed = JSON.stringify(env.ROUTES);
    for (const [id, route] of routes) {
      assert.ok(listed.includes(`{\\"Ref\\":\\"${id}\\"}`) || listed.includes(`"Ref":"${id}"`), `${id} listed`);
      const integration = JSON.stringify(route.Properties.Target).match(/"Ref":"([^"]+)"/)![1];
      assert.ok(listed.includes(integration), `${id}'s integration ${integration} listed`);
    }
    assert.match(JSON.stringify(env.READINESS), /cloudMapServiceId/);
    assert.equal(env.RETRY_AFTER_SECONDS, '30');
  });

  it('lean: API Gateway may invoke it for this API only', () => {
    const permission = Object.values(lean.findResources('AWS::Lambda::Permission')).find((r: any) => r.Properties.Principal === 'apigateway.amazonaws.com') as any;
    assert.ok(permission);
    assert.match(JSON.stringify(permission.Properties.SourceArn), /:execute-api:us-west-2:",\{"Ref":"AWS::AccountId"\},":",\{"Ref":"GatewayApi[0-9A-F]+"\},"\/\*"/);
  });

  it('its role may read and repoint these routes only, and read the health of the front door it has', () => {
    const statements = (policy: Template) => (Object.values(policy.findResources('AWS::IAM::Policy')) as any[]).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const routeStatement = statements(lean).find((st) => JSON.stringify(st.Action) === '["apigateway:GET","apigateway:PATCH"]');
    assert.ok(routeStatement, 'route statement');
    const routeIds = Object.keys(lean.findResources('AWS::ApiGatewayV2::Route'));
    assert.equal(routeStatement.Resource.length, routeIds.length);
    for (const resource of routeStatement.Resource) assert.match(JSON.stringify(resource), /::\/apis\/",\{"Ref":"GatewayApi[0-9A-F]+"\},"\/routes\/",\{"Ref":"Gateway/);
    const cloudMap = statements(lean).find((st) => st.Action === 'servicediscovery:GetInstancesHealthStatus');
    assert.match(JSON.stringify(cloudMap.Resource), /CloudmapService/);
    assert.ok(!statements(lean).some((st) => st.Action === 'elasticloadbalancing:DescribeTargetHealth'));
    const standardSleeps = gateway({ sleepAfterMinutes: 30 });
    assert.ok(statements(standardSleeps).some((st) => st.Action === 'elasticloadbalancing:DescribeTargetHealth' && st.Resource === '*'));
    assert.ok(!statements(standardSleeps).some((st) => st.Action === 'servicediscovery:GetInstancesHealthStatus'));
    const env = (Object.values(standardSleeps.findResources('AWS::Lambda::Function'))[0] as any).Properties.Environment.Variables;
    assert.match(JSON.stringify(env.READINESS), /targetGroupArn/);
  });

  it('lean: the function runs every 5 minutes with the settings it acts on', () => {
    lean.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    const fn = Object.values(lean.findResources('AWS::Lambda::Function'))[0] as any;
    const env = fn.Properties.Environment.Variables;
    assert.equal(env.SLEEP_AFTER_MINUTES, '30');
    assert.equal(env.WAKE_TASKS, '1');
    assert.deepEqual([env.METRIC_NAMESPACE, env.METRIC_NAME], [ACTIVITY_METRIC.namespace, ACTIVITY_METRIC.metricName]);
    assert.match(JSON.stringify(env.SERVICE), /MLflowVpcStack/);
    assert.equal(fn.Properties.Handler, 'handler.handler');
    const other = (Object.values(gateway({ profile: 'lean', database: 'aurora', sleepAfterMinutes: 45, desiredTasks: 2 }).findResources('AWS::Lambda::Function'))[0] as any).Properties.Environment.Variables;
    assert.deepEqual([other.SLEEP_AFTER_MINUTES, other.WAKE_TASKS], ['45', '2']);
  });

  it('lean: its role may set the MLflow service only, and has no managed policy', () => {
    const role = Object.values(lean.findResources('AWS::IAM::Role')).find((r: any) => /sleep function/.test(r.Properties.Description ?? '')) as any;
    assert.ok(role);
    assert.equal(role.Properties.ManagedPolicyArns, undefined);
    const policy = JSON.stringify(lean.findResources('AWS::IAM::Policy'));
    assert.match(policy, /"ecs:DescribeServices","ecs:UpdateService"\],"Effect":"Allow","Resource":\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":ecs:us-west-2:",\{"Ref":"AWS::AccountId"\},":service\//);
    // The tasks' age (ListTasks has no resource-level permission): in the MLflow cluster only.
    assert.match(policy, /\{"Action":\["ecs:ListTasks","ecs:DescribeTasks"\],"Condition":\{"ArnEquals":\{"ecs:cluster":\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":ecs:us-west-2:",\{"Ref":"AWS::AccountId"\},":cluster\//);
  });
});
