import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import {
  ApiGatewayV2HttpApiMonitoring,
  AuroraClusterMonitoring,
  CustomMonitoring,
  DefaultDashboardFactory,
  FargateServiceMonitoring,
  MonitoringFacade,
  SnsAlarmActionStrategy,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { ALARM_RULES } from './defaults';

/** Period of every alarm and graph. */
export const ALARM_PERIOD = Duration.minutes(5);

/**
 * The metric math of the alarms that need it, each fact in one place (the tests evaluate what the template renders).
 * Container Insights sends task counts only while the service has a RUNNING task: no data at all while paused, asleep
 * or outside `activeHours` (desired 0), which FILL turns into 0.
 */
export const ALARM_EXPRESSIONS = {
  /**
   * desired - running, the smallest of each over 5 minutes, so one task short at any minute counts; and, since a
   * service with no running task sends nothing, the minutes without data in a period where a task was desired (one
   * task in a crash loop: RUNNING, dead, pending, RUNNING...). Desired 0 (stopped) is never a shortfall; a rolling
   * deployment runs more tasks than desired, not fewer.
   */
  tasksBelowDesired: `MAX([desired - running, IF(desiredMax > 0, ${ALARM_PERIOD.toMinutes()} - minutes, 0)])`,
  /**
   * The front door's 5xx (the load balancer's own and the targets'), counted only in periods with a task running
   * throughout (a running-task count in each of its minutes): a paused or sleeping deployment answers 503 to every call
   * (clients retry), which is no fault, and so does one whose first task is still starting (a wake, a `resume`).
   */
  frontDoor5xx: `IF(FILL(minutes, 0) >= ${ALARM_PERIOD.toMinutes()}, FILL(elb, 0) + FILL(target, 0), 0)`,
  /** The gateway's 5xx, counted like `frontDoor5xx`. */
  gateway5xx: `IF(FILL(minutes, 0) >= ${ALARM_PERIOD.toMinutes()}, FILL(errors, 0), 0)`,
} as const;

/** Namespace and name of the metric the proxy's 401 answers are counted into. */
export const UNAUTHORIZED_METRIC = { namespace: 'MLflowOnAWS', metricName: 'ProxyUnauthorizedRequests' } as const;

/**
 * The NGINX proxy's access log line (containers/nginx/nginx.conf.template, `log_format mlflow`):
 * `$remote_addr "$http_x_forwarded_for" $remote_user [$time_local] "$request" $status ...`. CloudWatch's space-delimited
 * patterns take a quoted or bracketed string as one field, so the status is the sixth. The MLflow container's lines
 * share the log group but never have a 401 there (uvicorn logs `INFO: addr - "request" status`).
 */
export const UNAUTHORIZED_FILTER = logs.FilterPattern.spaceDelimited('ip', 'forwardedFor', 'user', 'time', 'request', 'status', '...')
  .whereNumber('status', '=', 401);

export interface MlflowMonitoringProps {
  /** The MLflow service (its cluster must have Container Insights on, for the task counts). */
  readonly service: ecs.IBaseService;
  /**
   * The load balancer in front of the service and its target group (both or neither): unhealthy targets and 5xx.
   * @default - no front-door alarms (a deployment without a load balancer)
   */
  readonly loadBalancer?: elbv2.IApplicationLoadBalancer;
  /** See `loadBalancer`. @default - none */
  readonly targetGroup?: elbv2.IApplicationTargetGroup;
  /** The public HTTP API (its `$default` stage): traffic, latency and 5xx. @default - no gateway alarms */
  readonly httpApi?: apigwv2.IHttpApi;
  /** The backend store's Aurora cluster: its at-maximum-capacity alarm and dashboard. @default - none (database=sqlite, whose database is the task's) */
  readonly database?: rds.IDatabaseCluster;
  /** With `database`: its maximum capacity in ACU (`serverlessV2MaxCapacity`), the at-maximum alarm's threshold. @default - none */
  readonly databaseMaxCapacity?: number;
  /**
   * CodeBuild projects that build the images (see `deployTimeBuildProjects`): with any, an alarm on failed builds (the
   * account's, so that the alarm refers to none of them). @default - no build alarm
   */
  readonly imageBuildProjects?: codebuild.IProject[];
  /** Log group with the proxy's access log (the service's): 401 answers are counted from it. @default - no 401 alarm */
  readonly proxyLogGroup?: logs.ILogGroup;
  /** 401 answers in 5 minutes that raise the alarm. @default ALARM_RULES.unauthorized.threshold (50) */
  readonly unauthorizedThreshold?: number;
  /** Address subscribed to the alarm topic (it must confirm the subscription). @default - no subscription */
  readonly alarmEmail?: string;
  /** Prefix of the alarm names and name of the dashboard. @default 'MLflow' */
  readonly name?: string;
}

/**
 * Alarms and one dashboard for the MLflow service, from cdk-monitoring-constructs (cdklabs) wherever it has the alarm,
 * CloudWatch math where it has not (tasks below desired, load balancer 5xx, 401s). Every alarm notifies `topic`.
 *
 * None fires on an idle deployment whose database is paused: each treats missing data as not breaching (CloudWatch
 * publishes no 5xx, 401 or build counts and no task metrics while nothing happens), counts are sums over 5 minutes
 * (so a few stray errors or typos do not page), and states (tasks, health, memory, capacity) must last for several
 * periods in a row. What each alarm tolerates is written next to it.
 */
export class MlflowMonitoring extends Construct {
  /** Every alarm notifies this topic. */
  readonly topic: sns.Topic;
  readonly facade: MonitoringFacade;
  /** The alarms, by the key of `ALARM_RULES`. */
  readonly alarms: Partial<Record<keyof typeof ALARM_RULES, cloudwatch.IAlarm>> = {};
  /** Sends ECS's "unable to consistently start tasks" events of the service to `topic`. */
  readonly taskStartImpaired: events.Rule;

  constructor(scope: Construct, id: string, props: MlflowMonitoringProps) {
    super(scope, id);
    if (!!props.loadBalancer !== !!props.targetGroup) {
      throw new Error('MlflowMonitoring: loadBalancer and targetGroup go together: give both (a load-balanced service) or neither.');
    }
    if (props.database && !((props.databaseMaxCapacity ?? 0) > 0)) {
      throw new Error(`MlflowMonitoring: databaseMaxCapacity must be the database's maximum capacity in ACU (above 0), got ${props.databaseMaxCapacity}.`);
    }
    requireContainerInsights(props.service);
    const name = props.name ?? 'MLflow';
    const notBreaching = cloudwatch.TreatMissingData.NOT_BREACHING;
    const periods = (n: number) => ({ evaluationPeriods: n, datapointsToAlarm: n, period: ALARM_PERIOD, treatMissingDataOverride: notBreaching });

    this.topic = new sns.Topic(this, 'AlarmTopic', { displayName: `${name} alarms`, enforceSSL: true });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason: 'Alarm notifications carry alarm names and metric values only; CloudWatch cannot publish to a topic under the AWS-managed SNS key, '
        + 'and a customer-managed key would cost more than the notifications are worth protecting.',
    });
    // `enforceSSL` gives the topic a policy of its own, which replaces SNS's default one (that let the account's
    // services publish): without this statement CloudWatch may not publish, and no alarm is ever delivered. Scoped to
    // this account's alarms whose names carry this construct's prefix.
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarms',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.topic.topicArn],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${name}-*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
      },
    }));
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    this.facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: {
        alarmNamePrefix: name,
        actionsEnabled: true,
        action: new SnsAlarmActionStrategy({ onAlarmTopic: this.topic }),
      },
      metricFactoryDefaults: { period: ALARM_PERIOD },
      dashboardFactory: new DefaultDashboardFactory(this, 'Dashboards', {
        dashboardNamePrefix: name,
        createDashboard: true,
        createSummaryDashboard: false,
        createAlarmDashboard: false,
      }),
    });

    // Service: CPU, memory, task counts (and, with a load balancer, target health), graphed; its memory alarm is ours
    // (below): the library's reads p100, a percentile CloudWatch does not document for AWS/ECS service metrics.
    const service = new FargateServiceMonitoring(this.facade, {
      fargateService: props.service,
      loadBalancer: props.loadBalancer,
      targetGroup: props.targetGroup,
      alarmFriendlyName: 'Service',
      invertLoadBalancerTaskCountMetricsStatistics: false,
      // UnHealthyHostCount's Maximum: a target failing health checks at any moment. A task that is starting is in the
      // `initial` state, not unhealthy, and one being drained is `draining`; no targets (desired 0), no unhealthy ones.
      ...(props.loadBalancer ? {
        addUnhealthyTaskCountAlarm: {
          Critical: { maxUnhealthyTasks: ALARM_RULES.unhealthyTargets.threshold, ...periods(ALARM_RULES.unhealthyTargets.periods) },
        },
      } : {}),
    });
    this.facade.addSegment(service);
    if (props.loadBalancer) this.alarms.unhealthyTargets = onlyAlarm(service, 'Unhealthy');

    // Tasks that never reach RUNNING (a bad image, a failing pull) send no task count at all, so no alarm can see
    // them; ECS says so itself with an event when the service cannot consistently start tasks.
    this.taskStartImpaired = new events.Rule(this, 'TaskStartImpaired', {
      description: `${name}: the ECS service cannot consistently start tasks`,
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Service Action'],
        detail: { eventName: ['SERVICE_TASK_START_IMPAIRED'] },
        resources: [stack.formatArn({ service: 'ecs', resource: 'service', resourceName: `${props.service.cluster.clusterName}/${props.service.serviceName}`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
      },
      targets: [new targets.SnsTopic(this.topic)],
    });

    // Task counts from Container Insights (see ALARM_EXPRESSIONS).
    const taskMetric = (metricName: string, statistic: string) => new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName,
      dimensionsMap: { ClusterName: props.service.cluster.clusterName, ServiceName: props.service.serviceName },
      statistic,
      period: ALARM_PERIOD,
    });
    const running = taskMetric('RunningTaskCount', 'Minimum');
    /** Minutes of the period with a running-task count: Container Insights sends one a minute while a task runs. */
    const runningMinutes = taskMetric('RunningTaskCount', 'SampleCount');
    const shortfall = new cloudwatch.MathExpression({
      expression: ALARM_EXPRESSIONS.tasksBelowDesired,
      usingMetrics: {
        desired: taskMetric('DesiredTaskCount', 'Minimum'),
        desiredMax: taskMetric('DesiredTaskCount', 'Maximum'),
        running,
        minutes: runningMinutes,
      },
      period: ALARM_PERIOD,
      label: 'Tasks below desired',
    });
    // The busiest task's memory: ECS defines the Maximum of a service's MemoryUtilization as the utilization of the task
    // with the highest usage (service_utilization in the ECS guide). No tasks, no data.
    const memory = new cloudwatch.Metric({
      namespace: 'AWS/ECS',
      metricName: 'MemoryUtilization',
      dimensionsMap: { ClusterName: props.service.cluster.clusterName, ServiceName: props.service.serviceName },
      statistic: 'Maximum',
      period: ALARM_PERIOD,
      label: 'Busiest task memory (%)',
    });
    const custom: Array<{ key: keyof typeof ALARM_RULES; title: string; friendly: string; metric: cloudwatch.IMetric; threshold: number; above?: boolean }> = [
      { key: 'tasksBelowDesired', title: 'Tasks below desired', friendly: 'TasksBelowDesired', metric: shortfall, threshold: ALARM_RULES.tasksBelowDesired.threshold },
      { key: 'taskMemoryPercent', title: 'Busiest task memory', friendly: 'TaskMemory', metric: memory, threshold: ALARM_RULES.taskMemoryPercent.threshold, above: true },
    ];

    if (props.loadBalancer) {
      // The load balancer's own 5xx (no healthy target, timeouts) and the targets' (the proxy or MLflow). ALB publishes
      // these counts only when they are not 0: FILL makes a period with one kind only count, and an idle period is 0.
      const lb = props.loadBalancer.metrics;
      const frontDoor5xx = new cloudwatch.MathExpression({
        expression: ALARM_EXPRESSIONS.frontDoor5xx,
        usingMetrics: {
          elb: lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { statistic: 'Sum', period: ALARM_PERIOD }),
          target: lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { statistic: 'Sum', period: ALARM_PERIOD }),
          minutes: runningMinutes,
        },
        period: ALARM_PERIOD,
        label: 'Load balancer 5xx',
      });
      custom.push({ key: 'frontDoor5xx', title: 'Load balancer 5xx', friendly: 'FrontDoor5xx', metric: frontDoor5xx, threshold: ALARM_RULES.frontDoor5xx.threshold });
    }

    if (props.httpApi) {
      // Gateway 5xx: its own errors (no healthy instance or target) and the integration's. No requests, no data.
      const gateway5xx = new cloudwatch.MathExpression({
        expression: ALARM_EXPRESSIONS.gateway5xx,
        usingMetrics: { errors: props.httpApi.metricServerError({ statistic: 'Sum', period: ALARM_PERIOD }), minutes: runningMinutes },
        period: ALARM_PERIOD,
        label: 'Gateway 5xx',
      });
      custom.push({ key: 'gateway5xx', title: 'Gateway 5xx', friendly: 'Gateway5xx', metric: gateway5xx, threshold: ALARM_RULES.gateway5xx.threshold });
    }

    if (props.proxyLogGroup) {
      // Counted at the proxy, which sees every client (API Gateway's and, through the load balancer, the VPC's). A sum
      // over 5 minutes: a user's typo or a browser's first (credential-less) request is one 401; guessing is hundreds.
      // No default value: no 401, no data point, so an idle deployment has nothing to evaluate.
      const filter = new logs.MetricFilter(this, 'UnauthorizedFilter', {
        logGroup: props.proxyLogGroup,
        filterPattern: UNAUTHORIZED_FILTER,
        metricNamespace: UNAUTHORIZED_METRIC.namespace,
        metricName: UNAUTHORIZED_METRIC.metricName,
        metricValue: '1',
      });
      custom.push({
        key: 'unauthorized',
        title: '401 answers (password guessing)',
        friendly: 'Unauthorized',
        metric: filter.metric({ statistic: 'Sum', period: ALARM_PERIOD, label: '401 answers' }),
        threshold: props.unauthorizedThreshold ?? ALARM_RULES.unauthorized.threshold,
      });
    }

    for (const entry of custom) {
      const rule = ALARM_RULES[entry.key] as { periods: number };
      const monitoring = new CustomMonitoring(this.facade, {
        alarmFriendlyName: entry.friendly,
        humanReadableName: entry.title,
        metricGroups: [{
          title: entry.title,
          metrics: [{
            metric: entry.metric as cloudwatch.Metric,
            alarmFriendlyName: entry.friendly,
            addAlarm: {
              Critical: {
                threshold: entry.threshold,
                comparisonOperator: entry.above ? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD : cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                ...periods(rule.periods),
              },
            },
          }],
        }],
      });
      this.facade.addSegment(monitoring);
      this.alarms[entry.key] = onlyAlarm(monitoring);
    }

    if (props.httpApi) {
      // The gateway's traffic, latency and errors, graphed (its 5xx alarm is above).
      this.facade.addSegment(new ApiGatewayV2HttpApiMonitoring(this.facade, { api: props.httpApi, alarmFriendlyName: 'Gateway' }));
    }

    // At maximum: the average capacity of 5 minutes equal to the maximum, for 15 minutes. A paused database reports
    // 0 ACU; no data (before the first instance exists), no alarm.
    if (props.database) {
      const database = new AuroraClusterMonitoring(this.facade, {
        cluster: props.database,
        alarmFriendlyName: 'Database',
        addMaxServerlessDatabaseCapacityAlarm: {
          Critical: {
            maxUsageCount: props.databaseMaxCapacity!,
            comparisonOperatorOverride: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ...periods(ALARM_RULES.databaseAtMax.periods),
          },
        },
      });
      this.facade.addSegment(database);
      this.alarms.databaseAtMax = onlyAlarm(database);
    }

    // Image builds run only during deployments; CodeBuild publishes FailedBuilds only for builds that ran, so no build,
    // no data. Any failure (one or more) alarms: the deployment rolled back, and someone should know why. The metric is
    // the account's (CodeBuild's FailedBuilds without the ProjectName dimension: every project in the region), not the
    // projects': an alarm on a project would import its name from the platform stack, and a setting that removes the
    // project (taskArchitecture, imageBuild, servingImage) would then refuse the platform stack's update.
    if ((props.imageBuildProjects ?? []).length > 0) {
      const build = new CustomMonitoring(this.facade, {
        alarmFriendlyName: 'ImageBuild',
        humanReadableName: 'Failed builds (CodeBuild, account)',
        metricGroups: [{
          title: 'Failed builds (CodeBuild, account)',
          metrics: [{
            metric: new cloudwatch.Metric({ namespace: 'AWS/CodeBuild', metricName: 'FailedBuilds', statistic: 'Sum', period: ALARM_PERIOD, label: 'Failed builds' }),
            alarmFriendlyName: 'ImageBuild',
            addAlarm: {
              Critical: {
                threshold: ALARM_RULES.failedBuilds.threshold,
                comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                ...periods(ALARM_RULES.failedBuilds.periods),
              },
            },
          }],
        }],
      });
      this.facade.addSegment(build);
      this.alarms.failedBuilds = onlyAlarm(build);
    }
  }
}

/**
 * The task-count alarm and the gating of the 5xx alarms read Container Insights: without it they would see no data and
 * stay quiet forever. A cluster of this app must have it on (an imported one is taken on trust).
 */
function requireContainerInsights(service: ecs.IBaseService): void {
  const cfn = service.cluster.node.defaultChild;
  if (!(cfn instanceof ecs.CfnCluster)) return;
  const settings = Stack.of(cfn).resolve(cfn.clusterSettings) as Array<{ name?: string; value?: string }> | undefined;
  const value = settings?.find((s) => s.name === 'containerInsights')?.value;
  if (value !== 'enabled' && value !== 'enhanced') {
    throw new Error(`MlflowMonitoring: the alarms read Container Insights, which is ${value ?? 'not set'} on the cluster ${service.cluster.node.path}; turn it on (containerInsightsV2: ENABLED).`);
  }
}

/** The alarm a monitoring segment created whose name contains `part` (the only one, without `part`). */
function onlyAlarm(monitoring: { createdAlarms(): Array<{ alarm: cloudwatch.IAlarm; alarmName: string }> }, part?: string): cloudwatch.IAlarm {
  const alarms = monitoring.createdAlarms().filter((a) => part === undefined || a.alarmName.includes(part));
  if (alarms.length !== 1) throw new Error(`MlflowMonitoring: expected one alarm${part ? ` named *${part}*` : ''}, found ${alarms.map((a) => a.alarmName).join(', ') || 'none'}`);
  return alarms[0].alarm;
}

/**
 * The CodeBuild projects of a stack's deploy-time image builds (@cdklabs/deploy-time-build keeps one per stack, a
 * child of the stack whose id starts with `ContainerImageBuild`): what `imageBuildProjects` watches.
 */
export function deployTimeBuildProjects(stack: Stack): codebuild.IProject[] {
  return stack.node.children.filter((child): child is codebuild.Project =>
    child instanceof codebuild.Project && child.node.id.startsWith('ContainerImageBuild'));
}
