import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { IMlflowFrontDoor } from '../constructs/front-door';
import { HttpGateway } from '../constructs/http-gateway';
import { networkLayout } from '../constructs/network';
import { GATEWAY_OUTPUTS } from '../names';

export interface HttpGatewayStackProps extends StackProps {
  /** The validated configuration. */
  readonly config: PlatformConfig;
  /** The platform's VPC. */
  readonly vpc: ec2.IVpc;
  /** The private way into MLflow that the VPC link forwards to. */
  readonly frontDoor: IMlflowFrontDoor;
}

/** Public HTTPS endpoint of MLflow: HTTP API Gateway to MLflow's front door through a VPC link. */
export class HttpGatewayStack extends Stack {
  readonly trackingUri: string;

  constructor(scope: Construct, id: string, props: HttpGatewayStackProps) {
    super(scope, id, props);
    const gateway = new HttpGateway(this, 'Gateway', {
      vpc: props.vpc,
      subnets: networkLayout(props.config.natGateways).serviceSubnets,
      frontDoor: props.frontDoor,
      throttleRateLimit: props.config.apiThrottleRateLimit,
      throttleBurstLimit: props.config.apiThrottleBurstLimit,
      logRetention: props.config.logRetentionDays as logs.RetentionDays,
    });
    this.trackingUri = gateway.trackingUri;

    new CfnOutput(this, GATEWAY_OUTPUTS.trackingUri, { value: gateway.trackingUri, description: 'Set as MLFLOW_TRACKING_URI' });
    new CfnOutput(this, GATEWAY_OUTPUTS.apiId, { value: gateway.api.apiId });
  }
}
