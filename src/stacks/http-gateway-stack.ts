import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { HttpGateway } from '../constructs/http-gateway';
import { GATEWAY_OUTPUTS, PORTS } from '../names';

export interface HttpGatewayStackProps extends StackProps {
  readonly config: PlatformConfig;
  readonly vpc: ec2.IVpc;
  readonly listener: elbv2.IApplicationListener;
  readonly loadBalancerSecurityGroup: ec2.ISecurityGroup;
}

/** Public HTTPS endpoint of MLflow: HTTP API Gateway to the internal load balancer through a VPC link. */
export class HttpGatewayStack extends Stack {
  readonly trackingUri: string;

  constructor(scope: Construct, id: string, props: HttpGatewayStackProps) {
    super(scope, id, props);
    const gateway = new HttpGateway(this, 'Gateway', {
      vpc: props.vpc,
      listener: props.listener,
      loadBalancerSecurityGroup: props.loadBalancerSecurityGroup,
      listenerPort: PORTS.proxy,
      throttleRateLimit: props.config.apiThrottleRateLimit,
      throttleBurstLimit: props.config.apiThrottleBurstLimit,
      logRetention: props.config.logRetentionDays as logs.RetentionDays,
    });
    this.trackingUri = gateway.trackingUri;

    new CfnOutput(this, GATEWAY_OUTPUTS.trackingUri, { value: gateway.trackingUri, description: 'Set as MLFLOW_TRACKING_URI' });
    new CfnOutput(this, GATEWAY_OUTPUTS.apiId, { value: gateway.api.apiId });
  }
}
