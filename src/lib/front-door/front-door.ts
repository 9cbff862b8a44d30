import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/**
 * The private way into the MLflow service that the public endpoint (the HTTP API's VPC link, `HttpGateway`) forwards
 * to. `LoadBalancerFrontDoor` is an internal Application Load Balancer; `CloudMapFrontDoor` (the lean profile's) sends
 * requests straight to the tasks that Cloud Map service discovery lists. Both plug into the gateway the same way.
 */
/**
 * Where a healthy MLflow task shows behind a front door (the sleep function puts the gateway's routes back on the VPC
 * link once one does): a healthy target of the load balancer's target group, or a healthy instance of the Cloud Map
 * service.
 */
export type FrontDoorReadiness =
  | { readonly targetGroupArn: string }
  | { readonly cloudMapServiceId: string; readonly cloudMapServiceArn: string };

export interface IMlflowFrontDoor {
  /** What the VPC link reaches through this front door, for descriptions ("the MLflow load balancer"). */
  readonly description: string;
  /** Where a healthy task shows behind this front door. */
  readonly readiness: FrontDoorReadiness;
  /**
   * Lets traffic from the VPC link's security group through to the front door, and only to it. The rules are created
   * in `scope` (the gateway's), so that the stack of the front door does not depend on the gateway's.
   */
  allowFromVpcLink(scope: Construct, vpcLinkSecurityGroup: ec2.ISecurityGroup): void;
  /**
   * The route integration, named `id`, that sends an HTTP API's requests through `vpcLink` to the front door, changing
   * them by `parameterMapping` (headers, path) on the way.
   */
  vpcLinkIntegration(id: string, vpcLink: apigwv2.IVpcLink, parameterMapping?: apigwv2.ParameterMapping): apigwv2.HttpRouteIntegration;
}
