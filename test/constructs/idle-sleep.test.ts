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

  it('lean: the wake subscription hands the gateway\'s 503s of someone\'s requests to the sleep function', () => {
    const subscription = Object.values(lean.findResources('AWS::Logs::SubscriptionFilter'))[0] as any;
    assert.equal(subscription.Properties.FilterPattern, activityFilterPattern({ status: '503' }));
    assert.match(JSON.stringify(subscription.Properties.LogGroupName), /GatewayAccessLogs/);
    assert.match(JSON.stringify(subscription.Properties.DestinationArn), /IdleSleepFunction/);
    lean.hasResourceProperties('AWS::Lambda::Permission', { Principal: 'logs.amazonaws.com', Action: 'lambda:InvokeFunction' });
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
    const other = (Object.values(gateway({ profile: 'lean', sleepAfterMinutes: 45, desiredTasks: 2 }).findResources('AWS::Lambda::Function'))[0] as any).Properties.Environment.Variables;
    assert.deepEqual([other.SLEEP_AFTER_MINUTES, other.WAKE_TASKS], ['45', '2']);
  });

  it('lean: its role may set the MLflow service only, and has no managed policy', () => {
    const role = Object.values(lean.findResources('AWS::IAM::Role')).find((r: any) => /sleep function/.test(r.Properties.Description ?? '')) as any;
    assert.ok(role);
    assert.equal(role.Properties.ManagedPolicyArns, undefined);
    const policy = JSON.stringify(lean.findResources('AWS::IAM::Policy'));
    assert.match(policy, /"ecs:DescribeServices","ecs:UpdateService"\],"Effect":"Allow","Resource":\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":ecs:us-west-2:",\{"Ref":"AWS::AccountId"\},":service\//);
  });
});
