import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PlatformConfig } from '../config/platform-config';
import { IMlflowFrontDoor } from '../constructs/front-door';
import { GatewayToken } from '../constructs/gateway-token';
import { HttpGateway } from '../constructs/http-gateway';
import { GATEWAY_OUTPUTS } from '../names';

export interface HttpGatewayStackProps extends StackProps {
  /** The validated configuration. */
  readonly config: PlatformConfig;
  /** The platform's VPC. */
  readonly vpc: ec2.IVpc;
  /** The private way into MLflow that the VPC link forwards to. */
  readonly frontDoor: IMlflowFrontDoor;
  /** The IAM route's token (`GatewayToken`), when the MLflow stack admits IAM principals. @default no IAM route */
  readonly gatewayToken?: secretsmanager.ISecret;
}

/** Public HTTPS endpoint of MLflow: HTTP API Gateway to MLflow's front door through a VPC link. */
export class HttpGatewayStack extends Stack {
  readonly trackingUri: string;
  /** The IAM route's tracking URI and what `execute-api:Invoke` is granted on to use it, when there is an IAM route. */
  readonly iamRoute?: { readonly trackingUri: string; readonly invokeArn: string };

  constructor(scope: Construct, id: string, props: HttpGatewayStackProps) {
    super(scope, id, props);
    const gateway = new HttpGateway(this, 'Gateway', {
      vpc: props.vpc,
      frontDoor: props.frontDoor,
      throttleRateLimit: props.config.apiThrottleRateLimit,
      throttleBurstLimit: props.config.apiThrottleBurstLimit,
      logRetention: props.config.logRetentionDays as logs.RetentionDays,
      iamRouteToken: props.gatewayToken ? GatewayToken.tokenOf(props.gatewayToken) : undefined,
    });
    this.trackingUri = gateway.trackingUri;
    this.iamRoute = gateway.hasIamRoute ? { trackingUri: gateway.iamTrackingUri, invokeArn: gateway.iamInvokeArn } : undefined;

    new CfnOutput(this, GATEWAY_OUTPUTS.trackingUri, { value: gateway.trackingUri, description: 'Set as MLFLOW_TRACKING_URI' });
    new CfnOutput(this, GATEWAY_OUTPUTS.apiId, { value: gateway.api.apiId });
    if (this.iamRoute) {
      new CfnOutput(this, GATEWAY_OUTPUTS.iamTrackingUri, {
        value: this.iamRoute.trackingUri,
        description: 'Set as MLFLOW_TRACKING_URI with MLFLOW_TRACKING_AWS_SIGV4=true (IAM principals, no password)',
      });
      new CfnOutput(this, GATEWAY_OUTPUTS.iamInvokeArn, {
        value: this.iamRoute.invokeArn,
        description: 'Grant execute-api:Invoke on this to an IAM principal listed in iamPrincipals',
      });
    }
  }
}
