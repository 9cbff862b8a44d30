/**
 * MlflowMonitoring and MlflowBackup on a small stack of real resources (VPC, ECS service, ALB, HTTP API, Aurora
 * Serverless v2, bucket, log group, CodeBuild project): each alarm's metric, threshold, comparison, missing-data
 * treatment and periods; the dashboard; the backup plan; cdk-nag and cfn-lint clean on what the constructs add, with
 * and without each option.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ALARM_RULES, BACKUP_DEFAULTS } from '../../src/lib/operations/defaults';
import { MlflowBackup, MlflowBackupCopyVault, MlflowBackupProps } from '../../src/lib/operations/backup';
import { ALARM_EXPRESSIONS, MlflowMonitoring, MlflowMonitoringProps, UNAUTHORIZED_METRIC } from '../../src/lib/operations/monitoring';
import { evaluateMetricMath } from '../support/metric-math';
import { ensurePythonEnv } from '../support/python-env';

const REGION = 'us-west-2';
const MAX_ACU = 4;

interface Options {
  loadBalancer?: boolean;
  httpApi?: boolean;
  proxyLogs?: boolean;
  builds?: boolean;
  email?: string;
  importedBucket?: boolean;
  monitoring?: Partial<MlflowMonitoringProps>;
  backup?: Partial<MlflowBackupProps> | false;
}

/** A stack with real resources and both constructs on them. */
function buildStack(options: Options = {}, app = new App()) {
  const stack = new Stack(app, 'Ops', { env: { account: '123456789012', region: REGION } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
  taskDefinition.addContainer('proxy', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1'), portMappings: [{ containerPort: 8080 }] });
  const service = new ecs.FargateService(stack, 'Service', { cluster, taskDefinition, desiredCount: 2 });
  let loadBalancer: elbv2.ApplicationLoadBalancer | undefined;
  let targetGroup: elbv2.ApplicationTargetGroup | undefined;
  if (options.loadBalancer ?? true) {
    loadBalancer = new elbv2.ApplicationLoadBalancer(stack, 'LoadBalancer', { vpc, internetFacing: false });
    const listener = loadBalancer.addListener('Http', { port: 8080, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
    targetGroup = listener.addTargets('Proxy', { port: 8080, protocol: elbv2.ApplicationProtocol.HTTP, targets: [service] });
  }
  const httpApi = (options.httpApi ?? true) ? new apigwv2.HttpApi(stack, 'Api') : undefined;
  const database = new rds.DatabaseCluster(stack, 'Database', {
    engine: rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_10_3 }),
    vpc,
    writer: rds.ClusterInstance.serverlessV2('Writer'),
    serverlessV2MinCapacity: 0,
    serverlessV2MaxCapacity: MAX_ACU,
  });
  const bucket = options.importedBucket
    ? s3.Bucket.fromBucketName(stack, 'Artifacts', 'existing-artifacts')
    : new s3.Bucket(stack, 'Artifacts', { versioned: true });
  const proxyLogGroup = (options.proxyLogs ?? true) ? new logs.LogGroup(stack, 'Logs') : undefined;
  const project = (options.builds ?? true)
    ? new codebuild.Project(stack, 'ImageBuild', { buildSpec: codebuild.BuildSpec.fromObject({ version: '0.2', phases: { build: { commands: ['true'] } } }) })
    : undefined;

  const monitoring = new MlflowMonitoring(stack, 'Monitoring', {
    service, loadBalancer, targetGroup, httpApi, database, databaseMaxCapacity: MAX_ACU,
    imageBuildProjects: project ? [project] : undefined,
    proxyLogGroup,
    alarmEmail: options.email,
    ...options.monitoring,
  });
  const backup = options.backup === false ? undefined : new MlflowBackup(stack, 'Backup', {
    database, artifactBucket: bucket, alarmTopic: monitoring.topic, ...options.backup,
  });
  return { app, stack, monitoring, backup, template: () => Template.fromStack(stack) };
}

/** The alarm whose name contains `part`, with its properties. */
function alarm(template: Template, part: string): any {
  const found = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
    .filter((r: any) => String(r.Properties.AlarmName).includes(part));
  assert.equal(found.length, 1, `one alarm named *${part}*: ${JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((r: any) => r.Properties.AlarmName))}`);
  return (found[0] as any).Properties;
}

function metricOf(properties: any, id?: string): any {
  if (properties.MetricName) return { namespace: properties.Namespace, name: properties.MetricName, statistic: properties.Statistic, period: properties.Period, dimensions: properties.Dimensions };
  const entry = properties.Metrics.find((m: any) => m.Id === id);
  const stat = entry.MetricStat;
  return { namespace: stat.Metric.Namespace, name: stat.Metric.MetricName, statistic: stat.Stat, period: stat.Period, dimensions: stat.Metric.Dimensions };
}

function expectIdleSafe(properties: any, periods: number): void {
  assert.equal(properties.TreatMissingData, 'notBreaching', 'missing data (an idle deployment) must not breach');
  assert.equal(properties.EvaluationPeriods, periods);
  assert.equal(properties.DatapointsToAlarm, periods);
  assert.ok(properties.ActionsEnabled !== false);
  assert.equal(properties.AlarmActions.length, 1, 'notifies the topic');
}

describe('MlflowMonitoring alarms', () => {
  const template = buildStack().template();

  test('eight alarms, each notifying the one alarm topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[];
    assert.equal(alarms.length, 8, alarms.map((a) => a.Properties.AlarmName).join(', '));
    const topics = Object.keys(template.findResources('AWS::SNS::Topic'));
    assert.equal(topics.length, 1);
    for (const a of alarms) assert.deepEqual(a.Properties.AlarmActions, [{ Ref: topics[0] }], a.Properties.AlarmName);
  });

  test('every alarm\'s topic lets CloudWatch publish, for this account\'s alarms of that name (enforceSSL alone allows nobody)', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[];
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy')) as any[];
    for (const a of alarms) {
      const name = String(a.Properties.AlarmName);
      for (const action of a.Properties.AlarmActions) {
        const topicId = action.Ref;
        const statements = policies.filter((p) => p.Properties.Topics.some((t: any) => t.Ref === topicId)).flatMap((p) => p.Properties.PolicyDocument.Statement);
        const allows = statements.filter((st: any) => st.Effect === 'Allow' && st.Principal?.Service === 'cloudwatch.amazonaws.com'
          && [st.Action].flat().includes('sns:Publish') && JSON.stringify(st.Resource) === JSON.stringify({ Ref: topicId }));
        assert.equal(allows.length, 1, `${name}: topic ${topicId} allows cloudwatch.amazonaws.com to publish`);
        const condition = allows[0].Condition;
        assert.deepEqual(condition.StringEquals, { 'aws:SourceAccount': '123456789012' });
        const sourceArn = condition.ArnLike['aws:SourceArn'];
        const pattern = typeof sourceArn === 'string' ? sourceArn : (sourceArn['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : 'aws')).join('');
        const arn = `arn:aws:cloudwatch:${REGION}:123456789012:alarm:${name}`;
        assert.ok(new RegExp(`^${pattern.split('*').map((x: string) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(arn), `${pattern} matches ${arn}`);
        // The Deny of plain HTTP stays.
        assert.ok(statements.some((st: any) => st.Effect === 'Deny' && st.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
      }
    }
  });

  test('tasks below desired: Container Insights desired and running (Minimum), desired (Maximum) and running minutes (SampleCount), >= 1 for 3 x 5 min', () => {
    const p = alarm(template, 'TasksBelowDesired');
    assert.equal(p.Metrics.find((m: any) => m.Expression).Expression, ALARM_EXPRESSIONS.tasksBelowDesired);
    const stats = Object.fromEntries(['desired', 'desiredMax', 'running', 'minutes'].map((id) => {
      const m = metricOf(p, id);
      assert.equal(m.namespace, 'ECS/ContainerInsights', id);
      assert.equal(m.period, 300, id);
      assert.deepEqual(m.dimensions.map((d: any) => d.Name).sort(), ['ClusterName', 'ServiceName'], id);
      return [id, `${m.name} ${m.statistic}`];
    }));
    assert.deepEqual(stats, { desired: 'DesiredTaskCount Minimum', desiredMax: 'DesiredTaskCount Maximum', running: 'RunningTaskCount Minimum', minutes: 'RunningTaskCount SampleCount' });
    assert.equal(p.Threshold, 1);
    assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    expectIdleSafe(p, 3);
  });

  // Each 5-minute period as CloudWatch would give it to the expression: Container Insights sends one data point a
  // minute while the service has a RUNNING task, nothing otherwise.
  const shortfallIn = (p: any, period: { desired?: number[]; running?: number[] }) => {
    const [desired, running] = [period.desired ?? [], period.running ?? []];
    const none = desired.length === 0;
    return evaluateMetricMath(p.Metrics.find((m: any) => m.Expression).Expression, {
      desired: none ? undefined : Math.min(...desired),
      desiredMax: none ? undefined : Math.max(...desired),
      running: none ? undefined : Math.min(...running),
      minutes: none ? undefined : running.length,
    });
  };
  const breaches = (value: number | undefined, p: any) => value !== undefined && value >= p.Threshold;

  test('tasks below desired, evaluated: a crash loop alarms (one task or two); a replacement, a scale-out, a stop, a pause do not', () => {
    const p = alarm(template, 'TasksBelowDesired');
    const healthy = { desired: [1, 1, 1, 1, 1], running: [1, 1, 1, 1, 1] };
    // One task in a crash loop: RUNNING for its database wait, dead, pending: minutes with no running task send nothing.
    const crashLoopOne = { desired: [1, 1, 1], running: [1, 1, 1] };
    // Two tasks, one of them crash-looping: minutes with one running.
    const crashLoopTwo = { desired: [2, 2, 2, 2, 2], running: [2, 1, 2, 2, 1] };
    assert.equal(breaches(shortfallIn(p, healthy), p), false, 'healthy');
    for (const [what, period] of [['one task', crashLoopOne], ['two tasks', crashLoopTwo]] as const) {
      assert.ok(breaches(shortfallIn(p, period), p), `crash loop, ${what}: every period breaches, so 3 in a row alarm`);
    }
    // Scale-out 2 -> 3 within the period (the third task starting), a scale-in, a rolling deployment (more than desired).
    assert.equal(breaches(shortfallIn(p, { desired: [2, 2, 3, 3, 3], running: [2, 2, 2, 3, 3] }), p), false, 'scale-out: the desired minimum is 2');
    assert.equal(breaches(shortfallIn(p, { desired: [2, 2, 1, 1, 1], running: [2, 2, 2, 1, 1] }), p), false, 'scale-in');
    assert.equal(breaches(shortfallIn(p, { desired: [1, 1, 1, 1, 1], running: [1, 2, 2, 1, 1] }), p), false, 'rolling deployment');
    // Paused, asleep, outside activeHours (desired 0): no data, no value (missing data is not breaching).
    assert.equal(shortfallIn(p, {}), undefined, 'stopped');
    // The period of a stop: desired goes to 0 while the task drains, then nothing. One breaching period at most, then
    // periods without data, which do not breach: never the 3 in a row the alarm needs.
    assert.equal(breaches(shortfallIn(p, { desired: [1, 1, 0], running: [1, 1, 1] }), p), true);
    assert.equal(ALARM_RULES.tasksBelowDesired.periods, 3);
  });

  test('tasks below desired over a sleep and a wake (sleepAfterMinutes): never 3 breaching periods in a row', () => {
    const p = alarm(template, 'TasksBelowDesired');
    // Goes to sleep at the 3rd minute; asleep (no data); woken, the task runs from the 4th minute; running.
    const periods = [
      { desired: [1, 1, 0], running: [1, 1, 1] },
      {},
      {},
      { desired: [1, 1], running: [1, 1] },
      { desired: [1, 1, 1, 1, 1], running: [1, 1, 1, 1, 1] },
      // Put to sleep again right after, woken again at once.
      { desired: [1, 0], running: [1, 1] },
      { desired: [1], running: [1] },
      { desired: [1, 1, 1, 1, 1], running: [1, 1, 1, 1, 1] },
    ];
    const breaching = periods.map((period) => breaches(shortfallIn(p, period), p));
    let run = 0;
    let longest = 0;
    for (const b of breaching) {
      run = b ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    assert.ok(longest < ALARM_RULES.tasksBelowDesired.periods, `breaching periods: ${breaching.join(', ')}`);
  });

  test('task memory: the busiest task (AWS/ECS MemoryUtilization Maximum, which ECS defines as the task with the highest use) above 85 % for 3 x 5 min', () => {
    const p = alarm(template, 'TaskMemory');
    const m = metricOf(p, p.Metrics ? p.Metrics[0].Id : undefined);
    assert.deepEqual([m.namespace, m.name, m.statistic, m.period], ['AWS/ECS', 'MemoryUtilization', 'Maximum', 300]);
    assert.deepEqual(m.dimensions.map((d: any) => d.Name).sort(), ['ClusterName', 'ServiceName']);
    assert.equal(p.Threshold, 85);
    assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
    expectIdleSafe(p, 3);
  });

  test('unhealthy targets: UnHealthyHostCount (Maximum) of the target group above 0 for 2 x 5 min', () => {
    const p = alarm(template, 'Unhealthy');
    const m = metricOf(p, p.Metrics ? p.Metrics[0].Id : undefined);
    assert.deepEqual([m.namespace, m.name, m.statistic], ['AWS/ApplicationELB', 'UnHealthyHostCount', 'Maximum']);
    assert.deepEqual(m.dimensions.map((d: any) => d.Name).sort(), ['LoadBalancer', 'TargetGroup']);
    assert.equal(p.Threshold, 0);
    assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
    expectIdleSafe(p, 2);
  });

  test('front door 5xx: the load balancer\'s and the targets\' 5xx (Sum, FILLed with 0), counted while tasks run: >= 10 in 5 min', () => {
    const p = alarm(template, 'FrontDoor5xx');
    assert.equal(p.Metrics.find((m: any) => m.Expression).Expression, ALARM_EXPRESSIONS.frontDoor5xx);
    assert.deepEqual([metricOf(p, 'elb').name, metricOf(p, 'elb').statistic], ['HTTPCode_ELB_5XX_Count', 'Sum']);
    assert.deepEqual([metricOf(p, 'target').name, metricOf(p, 'target').statistic], ['HTTPCode_Target_5XX_Count', 'Sum']);
    assert.equal(metricOf(p, 'elb').namespace, 'AWS/ApplicationELB');
    assert.deepEqual([metricOf(p, 'minutes').namespace, metricOf(p, 'minutes').name, metricOf(p, 'minutes').statistic], ['ECS/ContainerInsights', 'RunningTaskCount', 'SampleCount']);
    assert.equal(p.Threshold, ALARM_RULES.frontDoor5xx.threshold);
    assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    expectIdleSafe(p, 1);
  });

  test('gateway 5xx: AWS/ApiGateway 5xx (Sum) of the API, counted while tasks run: >= 10 in 5 min', () => {
    const p = alarm(template, 'Gateway5xx');
    assert.equal(p.Metrics.find((m: any) => m.Expression).Expression, ALARM_EXPRESSIONS.gateway5xx);
    const m = metricOf(p, 'errors');
    assert.deepEqual([m.namespace, m.name, m.statistic, m.period], ['AWS/ApiGateway', '5xx', 'Sum', 300]);
    assert.ok(m.dimensions.some((d: any) => d.Name === 'ApiId'), JSON.stringify(m.dimensions));
    assert.deepEqual([metricOf(p, 'minutes').name, metricOf(p, 'minutes').statistic], ['RunningTaskCount', 'SampleCount']);
    assert.equal(p.Threshold, 10);
    assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    expectIdleSafe(p, 1);
  });

  test('5xx alarms, evaluated: the 503s of a paused, sleeping or out-of-hours deployment, and of one whose first task is starting, never breach; 5xx while tasks run do', () => {
    for (const part of ['FrontDoor5xx', 'Gateway5xx']) {
      const p = alarm(template, part);
      const expression = p.Metrics.find((m: any) => m.Expression).Expression;
      const ids: string[] = p.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.Id).filter((id: string) => id !== 'minutes');
      const errors = (n: number | undefined) => Object.fromEntries(ids.map((id, i) => [id, i === 0 ? n : undefined]));
      // Desired 0: no task, so Container Insights sends nothing; every call is answered 503 (MLflow's client retries 7x).
      assert.equal(evaluateMetricMath(expression, { minutes: undefined, ...errors(70) }), 0, `${part}: paused or asleep, 70 answers of 503`);
      // A wake (or resume): the task runs from the 3rd minute; the 503s answered before it was healthy are no fault.
      assert.equal(evaluateMetricMath(expression, { minutes: 2, ...errors(40) }), 0, `${part}: the period a woken task starts in, 40 answers of 503`);
      // Going to sleep: the task stops at the 3rd minute.
      assert.equal(evaluateMetricMath(expression, { minutes: 3, ...errors(15) }), 0, `${part}: the period the service goes to sleep in`);
      assert.ok(evaluateMetricMath(expression, { minutes: 5, ...errors(12) })! >= p.Threshold, `${part}: 12 errors with a task running throughout`);
      assert.equal(evaluateMetricMath(expression, { minutes: 5, ...errors(undefined) }), 0, `${part}: no error, no data point: 0`);
      assert.equal(evaluateMetricMath(expression, { minutes: undefined, ...errors(undefined) }), 0, `${part}: idle and stopped`);
    }
    // Both 5xx kinds of the load balancer add up.
    const p = alarm(template, 'FrontDoor5xx');
    assert.equal(evaluateMetricMath(p.Metrics.find((m: any) => m.Expression).Expression, { minutes: 5, elb: 6, target: 5 }), 11);
  });

  test('401 spike: a metric filter on the proxy log counts status 401 (no default value), Sum >= 50 in 5 min', () => {
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '[ip, forwardedFor, user, time, request, status = 401, ...]',
      MetricTransformations: [Match.objectEquals({ MetricNamespace: UNAUTHORIZED_METRIC.namespace, MetricName: UNAUTHORIZED_METRIC.metricName, MetricValue: '1' })],
    });
    const p = alarm(template, 'Unauthorized');
    const m = metricOf(p, p.Metrics?.[0]?.Id);
    assert.deepEqual([m.namespace, m.name, m.statistic, m.period], [UNAUTHORIZED_METRIC.namespace, UNAUTHORIZED_METRIC.metricName, 'Sum', 300]);
    assert.equal(p.Threshold, 50);
    assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    expectIdleSafe(p, 1);
  });

  test('the 401 threshold is a setting', () => {
    const p = alarm(buildStack({ monitoring: { unauthorizedThreshold: 200 } }).template(), 'Unauthorized');
    assert.equal(p.Threshold, 200);
  });

  test('database at maximum: ServerlessDatabaseCapacity (Average) of the cluster >= its maximum ACU for 3 x 5 min', () => {
    const p = alarm(template, 'Database');
    const m = metricOf(p, p.Metrics?.[0]?.Id);
    assert.deepEqual([m.namespace, m.name, m.statistic, m.period], ['AWS/RDS', 'ServerlessDatabaseCapacity', 'Average', 300]);
    assert.deepEqual(m.dimensions.map((d: any) => d.Name), ['DBClusterIdentifier']);
    assert.equal(p.Threshold, MAX_ACU);
    assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    expectIdleSafe(p, 3);
  });

  test('failed image build: CodeBuild FailedBuilds (Sum) of the account (no project dimension, so no import of a project) >= 1', () => {
    const p = alarm(template, 'ImageBuild');
    const m = metricOf(p, p.Metrics?.[0]?.Id);
    assert.deepEqual([m.namespace, m.name, m.statistic], ['AWS/CodeBuild', 'FailedBuilds', 'Sum']);
    assert.deepEqual((m.dimensions ?? []).map((d: any) => d.Name), []);
    assert.equal(p.Threshold, 1);
    assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    expectIdleSafe(p, 1);
  });

  test('one dashboard with traffic, latency, errors, task count and database capacity', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as any[];
    assert.equal(dashboards.length, 1);
    // The body is a Fn::Join of JSON text and references: the text parts hold the metric names.
    const joined = dashboards[0].Properties.DashboardBody['Fn::Join'][1];
    const body = joined.map((part: unknown) => (typeof part === 'string' ? part : '?')).join('');
    assert.doesNotThrow(() => JSON.parse(body.replace(/\?/g, 'x')), 'the body is JSON');
    for (const metric of ['RunningTaskCount', 'DesiredTaskCount', 'MemoryUtilization', 'Count', 'Latency', '5xx', 'HTTPCode_Target_5XX_Count', 'ServerlessDatabaseCapacity', 'DatabaseConnections', UNAUTHORIZED_METRIC.metricName, 'FailedBuilds']) {
      assert.ok(body.includes(`"${metric}"`), `the dashboard graphs ${metric}`);
    }
  });

  test('ECS\'s SERVICE_TASK_START_IMPAIRED events of the service notify the topic (tasks that never run send no task count)', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r: any) => r.Properties.EventPattern.source?.[0] === 'aws.ecs') as any[];
    assert.equal(rules.length, 1);
    const { EventPattern: pattern, Targets: ruleTargets } = rules[0].Properties;
    assert.deepEqual([pattern['detail-type'], pattern.detail], [['ECS Service Action'], { eventName: ['SERVICE_TASK_START_IMPAIRED'] }]);
    const arn = JSON.stringify(pattern.resources);
    assert.match(arn, /:ecs:us-west-2:123456789012:service\//);
    assert.match(arn, /Cluster.*Service/, 'the service ARN from the cluster and service names');
    const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
    assert.deepEqual(ruleTargets.map((t: any) => t.Arn), [{ Ref: topicId }]);
  });

  test('an e-mail subscription only when an address is given', () => {
    assert.equal(Object.keys(template.findResources('AWS::SNS::Subscription')).length, 0);
    buildStack({ email: 'ops@example.com' }).template().hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  test('without a load balancer (lean profile): no front-door alarms, the others stay', () => {
    const lean = buildStack({ loadBalancer: false, httpApi: false, proxyLogs: false, builds: false }).template();
    const names = Object.values(lean.findResources('AWS::CloudWatch::Alarm')).map((a: any) => String(a.Properties.AlarmName));
    assert.equal(names.length, 3, names.join(', '));
    for (const part of ['TasksBelowDesired', 'TaskMemory', 'Database']) assert.ok(names.some((n) => n.includes(part)), part);
  });

  test('bad input: a load balancer without its target group, a maximum capacity of 0', () => {
    const app = new App();
    const stack = new Stack(app, 'Bad');
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const service = ecs.FargateService.fromFargateServiceAttributes(stack, 'S', { serviceName: 's', cluster: ecs.Cluster.fromClusterAttributes(stack, 'C', { clusterName: 'c', vpc }) });
    const database = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'D', { clusterIdentifier: 'd' });
    const loadBalancer = new elbv2.ApplicationLoadBalancer(stack, 'L', { vpc });
    assert.throws(() => new MlflowMonitoring(stack, 'M1', { service, database, databaseMaxCapacity: 2, loadBalancer }), /loadBalancer and targetGroup go together/);
    assert.throws(() => new MlflowMonitoring(stack, 'M2', { service, database, databaseMaxCapacity: 0 }), /databaseMaxCapacity .* got 0/);
    // A cluster of the app without Container Insights: the task counts would never have data.
    const plainCluster = new ecs.Cluster(stack, 'Plain', { vpc, containerInsightsV2: ecs.ContainerInsights.DISABLED });
    const taskDefinition = new ecs.FargateTaskDefinition(stack, 'T');
    taskDefinition.addContainer('c', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1') });
    const plainService = new ecs.FargateService(stack, 'PlainService', { cluster: plainCluster, taskDefinition });
    assert.throws(() => new MlflowMonitoring(stack, 'M3', { service: plainService, database, databaseMaxCapacity: 2 }), /read Container Insights, which is disabled on the cluster Bad\/Plain/);
  });
});

describe('MlflowBackup', () => {
  const template = buildStack().template();

  test('a daily plan keeping each recovery point 35 days, for the cluster and the bucket, into a vault kept by cdk destroy', () => {
    template.hasResource('AWS::Backup::BackupVault', { DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain' });
    const plan = (Object.values(template.findResources('AWS::Backup::BackupPlan'))[0] as any).Properties.BackupPlan;
    assert.equal(plan.BackupPlanRule.length, 1);
    const rule = plan.BackupPlanRule[0];
    assert.equal(rule.ScheduleExpression, 'cron(0 3 * * ? *)');
    assert.deepEqual(rule.Lifecycle, { DeleteAfterDays: BACKUP_DEFAULTS.retentionDays });
    assert.deepEqual(rule.CopyActions ?? [], []);
    const selection = (Object.values(template.findResources('AWS::Backup::BackupSelection'))[0] as any).Properties.BackupSelection;
    const resources = JSON.stringify(selection.Resources);
    assert.match(resources, /Database/);
    assert.match(resources, /Artifacts.*Arn/);
  });

  test('the backup role has the S3 backup and restore policies as well as the default ones', () => {
    const roles = Object.values(template.findResources('AWS::IAM::Role')).filter((r: any) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('backup.amazonaws.com')) as any[];
    assert.equal(roles.length, 1);
    const policies = JSON.stringify(roles[0].Properties.ManagedPolicyArns);
    for (const name of ['AWSBackupServiceRolePolicyForBackup', 'AWSBackupServiceRolePolicyForRestores', 'AWSBackupServiceRolePolicyForS3Backup', 'AWSBackupServiceRolePolicyForS3Restore']) {
      assert.ok(policies.includes(name), name);
    }
  });

  test('failed backup, copy and restore jobs notify the alarm topic', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.backup'], 'detail-type': Match.arrayWith(['Backup Job State Change', 'Copy Job State Change', 'Restore Job State Change']), detail: { state: ['FAILED', 'ABORTED', 'EXPIRED'] } },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('MonitoringAlarmTopic') } })],
    });
  });

  test('retention and a copy to a second region', () => {
    const t = buildStack({ backup: { retentionDays: 90, copyTo: { region: 'eu-west-1' } } }).template();
    const rule = (Object.values(t.findResources('AWS::Backup::BackupPlan'))[0] as any).Properties.BackupPlan.BackupPlanRule[0];
    assert.deepEqual(rule.Lifecycle, { DeleteAfterDays: 90 });
    assert.equal(rule.CopyActions.length, 1);
    assert.deepEqual(rule.CopyActions[0].Lifecycle, { DeleteAfterDays: 90 });
    assert.match(JSON.stringify(rule.CopyActions[0].DestinationBackupVaultArn), /backup:eu-west-1:123456789012:backup-vault:mlflow-backup-copy/);
  });

  test('the copy vault of the second region is kept by cdk destroy too, and deleted by the rollback of a failed create', () => {
    const app = new App();
    const copyStack = new Stack(app, 'Copy', { env: { region: 'eu-west-1' } });
    new MlflowBackupCopyVault(copyStack, 'CopyVault');
    Template.fromStack(copyStack).hasResource('AWS::Backup::BackupVault', {
      DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain', Properties: { BackupVaultName: BACKUP_DEFAULTS.copyVaultName },
    });
  });

  test('an imported artifact bucket is backed up too (only AWS can tell its versioning)', () => {
    const t = buildStack({ importedBucket: true }).template();
    const selection = (Object.values(t.findResources('AWS::Backup::BackupSelection'))[0] as any).Properties.BackupSelection;
    assert.match(JSON.stringify(selection.Resources), /existing-artifacts/);
  });

  test('bad input: retention out of range, a copy to the same region, an unversioned bucket of the stack', () => {
    assert.throws(() => buildStack({ backup: { retentionDays: 0 } }), /retentionDays must be a whole number of days from 1 to 36500, got 0/);
    assert.throws(() => buildStack({ backup: { retentionDays: 1.5 } }), /got 1.5/);
    assert.throws(() => buildStack({ backup: { copyTo: { region: REGION } } }), /copyTo.region must be another region than the stack's \(us-west-2\), got us-west-2/);
    const app = new App();
    const stack = new Stack(app, 'S', { env: { region: REGION } });
    const database = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'D', { clusterIdentifier: 'd' });
    assert.throws(() => new MlflowBackup(stack, 'B', { database, artifactBucket: new s3.Bucket(stack, 'Plain') }), /needs versioning on the artifact bucket S\/Plain/);
  });
});

// --- compliance: what the constructs add, in each option ---

const VARIANTS: Array<[string, Options]> = [
  ['every option', { email: 'ops@example.com', backup: { copyTo: { region: 'eu-west-1' }, retentionDays: 90 } }],
  ['lean: no load balancer, no gateway, no log, no build, no backup', { loadBalancer: false, httpApi: false, proxyLogs: false, builds: false, backup: false }],
  ['imported artifact bucket', { importedBucket: true }],
];
const OURS = /^Ops\/(Monitoring|Backup)\//;

function synthTo(outdir: string, options: Options): Stack {
  const app = new App({ outdir, context: { [cxapi.PATH_METADATA_ENABLE_CONTEXT]: true } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const { stack } = buildStack(options, app);
  try {
    app.synth();
  } catch (error) {
    if (!/Validation failed/.test(String(error))) throw error; // the test stack's own findings
  }
  return stack;
}

describe('cdk-nag: no unacknowledged finding on the constructs', () => {
  for (const [name, options] of VARIANTS) {
    test(name, () => {
      const outdir = mkdtempSync(path.join(tmpdir(), 'mlflow-ops-nag-'));
      try {
        synthTo(outdir, options);
        const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
        const findings: string[] = report.pluginReports.flatMap((plugin: any) => plugin.violations.flatMap((v: any) =>
          v.violatingConstructs.map((c: any) => `${v.ruleName} at ${c.constructPath}`)));
        assert.deepEqual(findings.filter((f) => / at Ops\/(Monitoring|Backup)\//.test(f)), []);
        assert.ok(findings.some((f) => / at Ops\/Vpc/.test(f)), 'the checks ran (the test stack itself has findings)');
      } finally {
        rmSync(outdir, { recursive: true, force: true });
      }
    });
  }
});

describe('cfn-lint: no finding on the constructs\' resources', () => {
  for (const [name, options] of VARIANTS) {
    test(name, () => {
      const outdir = mkdtempSync(path.join(tmpdir(), 'mlflow-ops-lint-'));
      try {
        synthTo(outdir, options);
        const file = path.join(outdir, readdirSync(outdir).find((f) => f.endsWith('.template.json'))!);
        const template = JSON.parse(readFileSync(file, 'utf8'));
        const run = spawnSync(path.join(ensurePythonEnv().bin, 'cfn-lint'), ['--format', 'json', '--include-checks', 'I', '--ignore-checks', 'I1022', '--regions', REGION, '--', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        assert.ok(run.status !== null && (run.status & 1) === 0, run.stderr);
        const findings = (JSON.parse(run.stdout) as any[]).map((f) => {
          const p: unknown[] = f.Location?.Path ?? [];
          const cdkPath = p[0] === 'Resources' ? template.Resources[p[1] as string]?.Metadata?.['aws:cdk:path'] : undefined;
          return { rule: f.Rule.Id, cdkPath, message: f.Message };
        });
        const ours = findings.filter((f) => f.cdkPath === undefined || OURS.test(f.cdkPath));
        assert.deepEqual(ours, []);
      } finally {
        rmSync(outdir, { recursive: true, force: true });
      }
    });
  }
});
