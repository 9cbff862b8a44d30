import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FrontDoorReadiness } from '../front-door/front-door';
import { activityFilterPattern } from './sleep-function/logic';
// Part of the library build (tsc emits the function's files beside this one, dist/lib/operations/sleep-function/).
export { handle as sleepFunctionHandle } from './sleep-function/handler';

/** The sleep function's code (./sleep-function): plain CommonJS run as is on Lambda's Node.js runtime, no build step. */
export const SLEEP_FUNCTION_CODE = path.join(__dirname, 'sleep-function');

/** Namespace and name of the metric the gateway's activity requests are counted into (sleep-function/logic.js). */
export const ACTIVITY_METRIC = { namespace: 'MLflowOnAWS', metricName: 'ActivityRequests' } as const;

/** How often the sleep function looks for a service nobody uses. */
export const SLEEP_CHECK_INTERVAL = Duration.minutes(5);

/** Name of the sleep function in a stack: fixed, so that the starting integration can name it before it exists. */
export const SLEEP_FUNCTION_NAME_SUFFIX = 'MLflowSleep';

export interface IdleSleepProps {
  /**
   * The gateway's access log (`HttpGateway.accessLogs`: one JSON object a request with `method`, `path` and
   * `status`): activity is counted from it.
   */
  readonly accessLogs: logs.ILogGroup;
  /** The gateway's HTTP API: the starting integration is added to it, attached to no route. */
  readonly api: apigwv2.IHttpApi;
  /** The API's routes and their own targets (`HttpGateway.routeTargets`): flipped to the starting integration and back. */
  readonly routes: ReadonlyArray<{ readonly routeId: string; readonly target: string }>;
  /** Where a healthy task shows behind the front door (`IMlflowFrontDoor.readiness`). */
  readonly readiness: FrontDoorReadiness;
  /** `Retry-After` (seconds) of the starting function's 503s. */
  readonly retryAfterSeconds: number;
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
 * scaling not suspended: "asleep", unlike `pause`) and points the gateway's routes at its starting integration (a
 * Lambda integration in the template, attached to no route). There it answers every request 503 with `Retry-After` (a
 * browser's page load: a page that says MLflow is starting and reloads itself), wakes the service on someone's request,
 * and points the routes back at the VPC link once a healthy task runs. A paused service and one outside its active
 * hours get the page too (it says so) and never start.
 */
export class IdleSleep extends Construct {
  readonly function: lambda.Function;
  readonly activityFilter: logs.MetricFilter;
  readonly schedule: events.Rule;
  /** The Lambda integration the routes point at while the service runs no task. */
  readonly startingIntegration: apigwv2.CfnIntegration;

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
    // The age of the service's tasks (a start nobody's request made gets sleepAfterMinutes too): in its cluster only.
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['ecs:ListTasks', 'ecs:DescribeTasks'],
      resources: ['*'],
      conditions: { ArnEquals: { 'ecs:cluster': stack.formatArn({ service: 'ecs', resource: 'cluster', resourceName: props.clusterName }) } },
    }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['application-autoscaling:DescribeScalableTargets', 'application-autoscaling:RegisterScalableTarget', 'cloudwatch:GetMetricData'],
      resources: ['*'],
    }));
    // The gateway's routes: read and repointed, these routes only.
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['apigateway:GET', 'apigateway:PATCH'],
      resources: props.routes.map((route) => `arn:${stack.partition}:apigateway:${stack.region}::/apis/${props.api.apiId}/routes/${route.routeId}`),
    }));
    const readiness = props.readiness;
    if ('targetGroupArn' in readiness) {
      role.addToPolicy(new iam.PolicyStatement({ actions: ['elasticloadbalancing:DescribeTargetHealth'], resources: ['*'] }));
    } else {
      role.addToPolicy(new iam.PolicyStatement({ actions: ['servicediscovery:GetInstancesHealthStatus'], resources: [readiness.cloudMapServiceArn] }));
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'application-autoscaling:DescribeScalableTargets, cloudwatch:GetMetricData and elasticloadbalancing:DescribeTargetHealth have no '
        + 'resource-level permissions; RegisterScalableTarget is used on the MLflow service\'s target only (the function is given its resource id); '
        + 'ecs:ListTasks and ecs:DescribeTasks are limited to the MLflow cluster by the ecs:cluster condition.',
    });

    // A fixed name: the starting integration names the function (the function's environment names the integration).
    const functionName = `${stack.stackName}-${SLEEP_FUNCTION_NAME_SUFFIX}`;
    const functionArn = stack.formatArn({ service: 'lambda', resource: 'function', resourceName: functionName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.startingIntegration = new apigwv2.CfnIntegration(this, 'StartingIntegration', {
      apiId: props.api.apiId,
      description: 'MLflow is starting: the sleep function answers while the service runs no task (attached to no route in the template)',
      integrationType: 'AWS_PROXY',
      integrationUri: functionArn,
      payloadFormatVersion: '2.0',
    });

    this.function = new lambda.Function(this, 'Function', {
      functionName,
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
        API_ID: props.api.apiId,
        ROUTES: stack.toJsonString(props.routes.map((route) => ({ id: route.routeId, target: route.target }))),
        STARTING_INTEGRATION: this.startingIntegration.ref,
        READINESS: stack.toJsonString('targetGroupArn' in readiness ? { targetGroupArn: readiness.targetGroupArn } : { cloudMapServiceId: readiness.cloudMapServiceId }),
        RETRY_AFTER_SECONDS: String(props.retryAfterSeconds),
      },
    });
    // API Gateway may invoke it for this API's requests only.
    this.function.addPermission('GatewayInvoke', {
      principal: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      sourceArn: stack.formatArn({ service: 'execute-api', resource: props.api.apiId, resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
    });

    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'MLflow sleep: look for a service nobody uses, and where the gateway\'s routes should point',
      schedule: events.Schedule.rate(SLEEP_CHECK_INTERVAL),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }
}
