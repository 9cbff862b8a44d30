import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { sagemakerStacks } from '../config/settings';
import { BackupJobAlerts } from '../../lib/operations/backup';
import { IMlflowFrontDoor } from '../../lib/front-door/front-door';
import { GatewayToken } from '../../lib/gateway/gateway-token';
import { HttpGateway, PAUSED_RETRY_AFTER_SECONDS } from '../../lib/gateway/http-gateway';
import { IdleSleep } from '../../lib/operations/idle-sleep';
import { MlflowMonitoring } from '../../lib/operations/monitoring';
import { NetworkLayout } from '../../lib/network';
import type { SsoTokens } from '../../lib/service/sso-access';
import { ALARM_DASHBOARD_NAME, GATEWAY_OUTPUTS } from '../names';
import { MonitoredResources } from '../../lib/mlflow-platform';
import { gatewayCustomDomain } from '../platform-props';

export interface HttpGatewayStackProps extends StackProps {
  /** The validated configuration. */
  readonly config: PlatformConfig;
  /** The platform's VPC. */
  readonly vpc: ec2.IVpc;
  /** Where things go in it (`MlflowPlatform.layout`): the VPC link in its `serviceSubnets`. */
  readonly layout: NetworkLayout;
  /** The private way into MLflow that the VPC link forwards to. */
  readonly frontDoor: IMlflowFrontDoor;
  /** What the alarms watch in the platform stack (with `monitoring`). */
  readonly monitored: MonitoredResources;
  /** The IAM route's token (`GatewayToken`), when the MLflow stack admits IAM principals. @default no IAM route */
  readonly gatewayToken?: secretsmanager.ISecret;
  /** auth=sso: bearer tokens on `/api/*` are checked by a JWT authorizer of this issuer and these audiences. */
  readonly ssoTokens?: SsoTokens;
}

/**
 * Public HTTPS endpoint of MLflow: HTTP API Gateway to MLflow's front door through a VPC link, on a custom domain when
 * configured; and, with `monitoring`, the alarms and the dashboard of the whole platform. They live here because they
 * watch this stack's API as well as the platform stack's resources, and this stack already depends on that one.
 */
export class HttpGatewayStack extends Stack {
  readonly trackingUri: string;
  readonly gateway: HttpGateway;
  /** The alarms, their topic and the dashboard, with `monitoring`. */
  readonly monitoring?: MlflowMonitoring;
  /** The IAM route's tracking URI and what `execute-api:Invoke` is granted on to use it, when there is an IAM route. */
  readonly iamRoute?: { readonly trackingUri: string; readonly invokeArn: string };

  constructor(scope: Construct, id: string, props: HttpGatewayStackProps) {
    super(scope, id, props);
    const { config } = props;
    const gateway = new HttpGateway(this, 'Gateway', {
      vpc: props.vpc,
      subnets: props.layout.serviceSubnets,
      frontDoor: props.frontDoor,
      throttleRateLimit: config.apiThrottleRateLimit,
      throttleBurstLimit: config.apiThrottleBurstLimit,
      logRetention: config.logRetentionDays as logs.RetentionDays,
      customDomain: gatewayCustomDomain(config),
      iamRouteToken: props.gatewayToken ? GatewayToken.tokenOf(props.gatewayToken) : undefined,
      tokenRoute: props.ssoTokens,
    });
    this.gateway = gateway;
    this.trackingUri = gateway.trackingUri;
    this.iamRoute = gateway.hasIamRoute ? { trackingUri: gateway.iamTrackingUri, invokeArn: gateway.iamInvokeArn } : undefined;

    new CfnOutput(this, GATEWAY_OUTPUTS.trackingUri, { value: gateway.trackingUri, description: 'Set as MLFLOW_TRACKING_URI' });
    new CfnOutput(this, GATEWAY_OUTPUTS.apiId, { value: gateway.api.apiId });
    // The notebook stack imports the API's id for its tracking URI unless there is a custom domain (then the URI is
    // a plain string): kept exported either way, so adding a domain does not drop an export the notebook still uses.
    if (sagemakerStacks(config.sagemaker).includes('notebook')) this.exportValue(gateway.api.apiId);
    if (gateway.domainName && !config.hostedZoneId) {
      new CfnOutput(this, GATEWAY_OUTPUTS.customDomainTarget, {
        value: gateway.domainName.regionalDomainName,
        description: `Point ${config.domainName} at this name (CNAME, or an alias to it) in your DNS`,
      });
    }

    if (this.iamRoute) {
      new CfnOutput(this, GATEWAY_OUTPUTS.iamTrackingUri, {
        value: this.iamRoute.trackingUri,
        description: 'Set as MLFLOW_TRACKING_URI with MLFLOW_TRACKING_AUTH=aws-sigv4 (the lab SigV4 provider; IAM principals, no password)',
      });
      new CfnOutput(this, GATEWAY_OUTPUTS.iamInvokeArn, {
        value: this.iamRoute.invokeArn,
        description: 'Grant execute-api:Invoke on this to an IAM principal listed in iamPrincipals',
      });
    }
    if (config.monitoring) this.monitoring = this.addMonitoring(config, props.monitored, gateway);
    if (config.sleepAfterMinutes > 0) {
      new IdleSleep(this, 'IdleSleep', {
        accessLogs: gateway.accessLogs,
        api: gateway.api,
        routes: gateway.routeTargets,
        readiness: props.frontDoor.readiness,
        retryAfterSeconds: PAUSED_RETRY_AFTER_SECONDS,
        clusterName: props.monitored.service.cluster.clusterName,
        serviceName: props.monitored.service.serviceName,
        sleepAfterMinutes: config.sleepAfterMinutes,
        wakeTasks: config.desiredTasks,
        logRetention: config.logRetentionDays as logs.RetentionDays,
      });
    }
  }

  private addMonitoring(config: PlatformConfig, monitored: MonitoredResources, gateway: HttpGateway): MlflowMonitoring {
    const monitoring = new MlflowMonitoring(this, 'Monitoring', {
      ...monitored,
      httpApi: gateway.api,
      alarmEmail: config.alarmEmail,
      unauthorizedThreshold: config.alarmUnauthorizedPer5Min,
      name: ALARM_DASHBOARD_NAME,
    });
    // Failed backup, copy and restore jobs: the plan is in the platform stack, the topic here.
    if (config.backup) new BackupJobAlerts(this, 'BackupJobAlerts', { topic: monitoring.topic });
    new CfnOutput(this, GATEWAY_OUTPUTS.alarmTopicArn, { value: monitoring.topic.topicArn, description: 'SNS topic every alarm notifies' });
    return monitoring;
  }
}
