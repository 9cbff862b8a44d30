import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpAlbIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface HttpGatewayProps {
  readonly vpc: ec2.IVpc;
  /** Listener of the internal load balancer in front of MLflow. */
  readonly listener: elbv2.IApplicationListener;
  /** Security group of that load balancer; the VPC link is granted ingress to it and nothing else is. */
  readonly loadBalancerSecurityGroup: ec2.ISecurityGroup;
  /** Port of the listener. */
  readonly listenerPort: number;
  /** Steady-state requests per second the stage accepts. @default 100 */
  readonly throttleRateLimit?: number;
  /** Burst of requests the stage accepts above the rate. @default 200 */
  readonly throttleBurstLimit?: number;
  /** Retention of the access logs. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The public HTTPS entry point of MLflow: an HTTP API whose `$default` stage forwards every path and method
 * through a VPC link to the internal load balancer. API Gateway endpoints are HTTPS only.
 */
export class HttpGateway extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly vpcLink: apigwv2.VpcLink;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HttpGatewayProps) {
    super(scope, id);

    const vpcLinkSecurityGroup = new ec2.SecurityGroup(this, 'VpcLinkSecurityGroup', {
      vpc: props.vpc,
      description: 'API Gateway VPC link: reaches the MLflow load balancer only',
      allowAllOutbound: false,
    });
    this.vpcLink = new apigwv2.VpcLink(this, 'VpcLink', {
      vpc: props.vpc,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [vpcLinkSecurityGroup],
    });
    // The only ingress the load balancer ever gets: from this VPC link, on the listener port. The group is
    // imported here so that the rule belongs to this stack (the platform stack must not depend on the gateway).
    const loadBalancerSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'LoadBalancerSecurityGroup',
      props.loadBalancerSecurityGroup.securityGroupId, { allowAllOutbound: false });
    const listenerPort = ec2.Port.tcp(props.listenerPort);
    loadBalancerSecurityGroup.addIngressRule(vpcLinkSecurityGroup, listenerPort, 'API Gateway VPC link to the MLflow load balancer');
    vpcLinkSecurityGroup.addEgressRule(loadBalancerSecurityGroup, listenerPort, 'To the MLflow load balancer');

    const integration = new HttpAlbIntegration('Mlflow', props.listener, { vpcLink: this.vpcLink });
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'MLflow tracking server',
      defaultIntegration: integration,
      // The stage is declared below so that it can carry throttling and access logging.
      createDefaultStage: false,
    });
    this.api.addRoutes({ path: '/{proxy+}', methods: [apigwv2.HttpMethod.ANY], integration });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'MLflow clients authenticate with HTTP basic auth (MLFLOW_TRACKING_USERNAME/PASSWORD), which the NGINX proxy checks on every '
        + 'request but the health check; API Gateway authorizers (IAM, JWT) are not something MLflow clients can speak.',
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 100, burstLimit: props.throttleBurstLimit ?? 200 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify({
          requestId: '$context.requestId',
          ip: '$context.identity.sourceIp',
          requestTime: '$context.requestTime',
          method: '$context.httpMethod',
          path: '$context.path',
          status: '$context.status',
          responseLength: '$context.responseLength',
          integrationStatus: '$context.integrationStatus',
          integrationLatency: '$context.integrationLatency',
          integrationError: '$context.integrationErrorMessage',
        })),
      },
    });
  }

  /** The tracking URI clients use: the stage URL without its trailing slash. */
  get trackingUri(): string {
    return `https://${this.api.apiId}.execute-api.${this.api.stack.region}.${this.api.stack.urlSuffix}`;
  }
}
