import { Duration } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpAlbIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FrontDoorReadiness, IMlflowFrontDoor } from './front-door';
import { LOAD_BALANCER_HEALTH_CHECK } from '../service/mlflow-startup';
import { HEALTH_CHECK_PATH } from '../contract';

export interface LoadBalancerFrontDoorProps {
  /** VPC of the load balancer (its private subnets with egress). */
  readonly vpc: ec2.IVpc;
  /** What the load balancer forwards to: the service's proxy container (`MlflowService.proxyTarget`). */
  readonly target: ecs.IEcsLoadBalancerTarget;
  /** Port of the listener and of the target. */
  readonly port: number;
  /** Bucket the load balancer writes its access logs to. */
  readonly accessLogsBucket: s3.IBucket;
  /** Key prefix of the access logs in that bucket. @default 'alb' */
  readonly accessLogsPrefix?: string;
}

/**
 * An internal Application Load Balancer in front of the MLflow service: an HTTP listener with no open ingress, a target
 * group that health-checks the proxy (`/elb-status`), its own security group (ingress from the VPC link only, granted
 * by `allowFromVpcLink`) and access logs in the platform's log bucket.
 *
 * Created under the `MlflowService` construct with the id `Default`, which CDK leaves out of logical IDs: its resources
 * keep the logical IDs they had when the service created them itself, so a deployed load balancer is not replaced.
 */
export class LoadBalancerFrontDoor extends Construct implements IMlflowFrontDoor {
  /**
   * Host names the load balancer answers to, as a host pattern: they are generated at deployment
   * (`internal-<name>-<id>.<region>.elb.amazonaws.com`).
   */
  static hostPatterns(region: string): string[] {
    return [`*.${region}.elb.amazonaws.com`];
  }

  readonly description = 'the MLflow load balancer';
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly securityGroup: ec2.SecurityGroup;
  readonly listener: elbv2.ApplicationListener;
  /** The service's targets (their health and 5xx are monitored). */
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  private readonly port: number;

  constructor(scope: Construct, id: string, props: LoadBalancerFrontDoorProps) {
    super(scope, id);
    this.port = props.port;
    this.securityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: props.vpc,
      description: 'Internal MLflow load balancer: ingress is granted to the API Gateway VPC link only',
      allowAllOutbound: false,
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroup: this.securityGroup,
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(120),
    });
    this.loadBalancer.logAccessLogs(props.accessLogsBucket, props.accessLogsPrefix ?? 'alb');
    // `open: false`: no 0.0.0.0/0 rule; callers are allowed explicitly (`allowFromVpcLink`).
    this.listener = this.loadBalancer.addListener('Http', { port: props.port, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
    this.targetGroup = this.listener.addTargets('Proxy', {
      port: props.port,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [props.target],
      healthCheck: {
        path: HEALTH_CHECK_PATH,
        healthyHttpCodes: '200',
        ...LOAD_BALANCER_HEALTH_CHECK,
      },
      deregistrationDelay: Duration.seconds(30),
    });
  }

  allowFromVpcLink(scope: Construct, vpcLinkSecurityGroup: ec2.ISecurityGroup): void {
    // The load balancer's group imported into `scope`, so that the ingress rule belongs to the gateway's stack.
    const loadBalancerSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(scope, 'LoadBalancerSecurityGroup',
      this.securityGroup.securityGroupId, { allowAllOutbound: false });
    const port = ec2.Port.tcp(this.port);
    loadBalancerSecurityGroup.addIngressRule(vpcLinkSecurityGroup, port, 'API Gateway VPC link to the MLflow load balancer');
    vpcLinkSecurityGroup.addEgressRule(loadBalancerSecurityGroup, port, 'To the MLflow load balancer');
  }

  get readiness(): FrontDoorReadiness {
    return { targetGroupArn: this.targetGroup.targetGroupArn };
  }

  vpcLinkIntegration(id: string, vpcLink: apigwv2.IVpcLink, parameterMapping?: apigwv2.ParameterMapping): apigwv2.HttpRouteIntegration {
    return new HttpAlbIntegration(id, this.listener, { vpcLink, parameterMapping });
  }
}
