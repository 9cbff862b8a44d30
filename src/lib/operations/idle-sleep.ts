import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as destinations from 'aws-cdk-lib/aws-logs-destinations';
import { Construct } from 'constructs';
import { activityFilterPattern } from './sleep-function/logic';
// Part of the library build (tsc emits the function's files beside this one, dist/lib/operations/sleep-function/).
export { handle as sleepFunctionHandle } from './sleep-function/handler';

/** The sleep function's code (./sleep-function): plain CommonJS run as is on Lambda's Node.js runtime, no build step. */
export const SLEEP_FUNCTION_CODE = path.join(__dirname, 'sleep-function');

/** Namespace and name of the metric the gateway's activity requests are counted into (sleep-function/logic.js). */
export const ACTIVITY_METRIC = { namespace: 'MLflowOnAWS', metricName: 'ActivityRequests' } as const;

/** How often the sleep function looks for a service nobody uses. */
export const SLEEP_CHECK_INTERVAL = Duration.minutes(5);

/** The status a sleeping deployment answers with (no task behind the front door): requests with it wake the service. */
export const SLEEPING_STATUS = '503';

export interface IdleSleepProps {
  /**
   * The gateway's access log (`HttpGateway.accessLogs`: one JSON object a request with `method`, `path` and
   * `status`): activity is counted from it, and its requests answered 503 wake a sleeping service.
   */
  readonly accessLogs: logs.ILogGroup;
  /** The MLflow service's ECS cluster name. */
  readonly clusterName: string;
  /** The MLflow service's name. */
  readonly serviceName: string;
  /** Minutes without anyone's request after which the service goes to sleep (`sleepAfterMinutes`, above 0). */
  readonly sleepAfterMinutes: number;
  /** Tasks a wake starts, also the scalable target's minimum it puts back (`desiredTasks`). */
  readonly wakeTasks: number;
  /** Retention of the function's log. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * Sleep and wake of the MLflow service (docs/guides/sleep.md): a metric filter counts the requests someone made from the
 * gateway's access log (not health checks, not the UI's own auto-refresh, not refused ones); every 5 minutes the sleep
 * function takes a running service with none in `sleepAfterMinutes` to 0 tasks (its scalable target's minimum to 0,
 * scaling not suspended: "asleep", unlike `pause`); a subscription on the same log hands it the requests answered 503,
 * and someone's among them wakes a sleeping service. A paused service and one outside its active hours stay off.
 */
export class IdleSleep extends Construct {
  readonly function: lambda.Function;
  readonly activityFilter: logs.MetricFilter;
  readonly schedule: events.Rule;
  readonly wakeSubscription: logs.SubscriptionFilter;

  constructor(scope: Construct, id: string, props: IdleSleepProps) {
    super(scope, id);
    if (!Number.isInteger(props.sleepAfterMinutes) || props.sleepAfterMinutes < 1) {
      throw new Error(`IdleSleep: sleepAfterMinutes must be a whole number of minutes above 0, got ${props.sleepAfterMinutes}`);
    }
    const stack = Stack.of(this);

    // No default value: minutes without activity have no data point, which the function reads as 0.
    this.activityFilter = new logs.MetricFilter(this, 'ActivityFilter', {
      logGroup: props.accessLogs,
      filterPattern: logs.FilterPattern.literal(activityFilterPattern()),
      metricNamespace: ACTIVITY_METRIC.namespace,
      metricName: ACTIVITY_METRIC.metricName,
      metricValue: '1',
    });

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    // Its own role with only what it does: no managed policy.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'MLflow sleep function: reads and sets the MLflow service\'s task count, reads the activity metric',
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['ecs:DescribeServices', 'ecs:UpdateService'],
      resources: [stack.formatArn({ service: 'ecs', resource: 'service', resourceName: `${props.clusterName}/${props.serviceName}`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
    }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['application-autoscaling:DescribeScalableTargets', 'application-autoscaling:RegisterScalableTarget', 'cloudwatch:GetMetricData'],
      resources: ['*'],
    }));
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'application-autoscaling:DescribeScalableTargets and cloudwatch:GetMetricData have no resource-level permissions; '
        + 'RegisterScalableTarget is used on the MLflow service\'s target only (the function is given its resource id).',
    });

    this.function = new lambda.Function(this, 'Function', {
      description: `MLflow sleep: 0 tasks after ${props.sleepAfterMinutes} min without anyone's request, woken by the next one`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'handler.handler',
      code: lambda.Code.fromAsset(SLEEP_FUNCTION_CODE, { exclude: ['*.ts', '*.md'] }),
      memorySize: 128,
      timeout: Duration.seconds(30),
      role,
      logGroup,
      environment: {
        CLUSTER: props.clusterName,
        SERVICE: props.serviceName,
        SLEEP_AFTER_MINUTES: String(props.sleepAfterMinutes),
        WAKE_TASKS: String(props.wakeTasks),
        METRIC_NAMESPACE: ACTIVITY_METRIC.namespace,
        METRIC_NAME: ACTIVITY_METRIC.metricName,
      },
    });

    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'MLflow sleep: look for a service nobody uses',
      schedule: events.Schedule.rate(SLEEP_CHECK_INTERVAL),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });

    this.wakeSubscription = new logs.SubscriptionFilter(this, 'WakeSubscription', {
      logGroup: props.accessLogs,
      destination: new destinations.LambdaDestination(this.function),
      filterPattern: logs.FilterPattern.literal(activityFilterPattern({ status: SLEEPING_STATUS })),
    });
  }
}
