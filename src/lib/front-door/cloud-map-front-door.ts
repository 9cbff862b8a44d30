import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpServiceDiscoveryIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import { FrontDoorReadiness, IMlflowFrontDoor } from './front-door';
import { SERVICE_DISCOVERY_NAMESPACE } from '../contract';

export interface CloudMapFrontDoorProps {
  /**
   * The Cloud Map service the MLflow tasks register in with SRV records (`MlflowService` with
   * `cloudMapRegistration`): each record names a task's IP and the proxy's port. ECS registers a task once it runs
   * and its proxy health check passes, and deregisters it when it stops or fails that check.
   */
  readonly discoveryService: servicediscovery.IService;
  /** The tasks' security group, which this front door opens to the VPC link (and to nothing else). */
  readonly taskSecurityGroup: ec2.ISecurityGroup;
  /** The proxy's port, the only one the VPC link may reach. */
  readonly port: number;
}

/**
 * The front door without a load balancer (the lean profile): the HTTP API's VPC link integration asks Cloud Map for
 * the service's healthy instances and sends each request to one of them, straight to a task's proxy. No resource of
 * its own: the Cloud Map service belongs to the ECS service, the security group rule to the gateway's stack.
 *
 * When no task is registered (paused, scaled to 0 by the active hours, or none healthy), API Gateway answers 503 itself.
 */
export class CloudMapFrontDoor extends Construct implements IMlflowFrontDoor {
  /**
   * Host headers a request through this front door can carry to MLflow: the service's name in the namespace, and a
   * task's private address (what API Gateway connects to, from the SRV record), as patterns of the VPC's range.
   */
  static hostPatterns(vpcCidr: string): string[] {
    const [a, b] = vpcCidr.split('.');
    const name = `mlflow.${SERVICE_DISCOVERY_NAMESPACE}`;
    return [name, `${name}:*`, `${a}.${b}.*`];
  }

  readonly description = 'the MLflow tasks';
  private readonly props: CloudMapFrontDoorProps;

  constructor(scope: Construct, id: string, props: CloudMapFrontDoorProps) {
    super(scope, id);
    this.props = props;
  }

  get readiness(): FrontDoorReadiness {
    return { cloudMapServiceId: this.props.discoveryService.serviceId, cloudMapServiceArn: this.props.discoveryService.serviceArn };
  }

  allowFromVpcLink(scope: Construct, vpcLinkSecurityGroup: ec2.ISecurityGroup): void {
    // The tasks' group imported into `scope`, so that the ingress rule belongs to the gateway's stack.
    const taskSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(scope, 'TaskSecurityGroup',
      this.props.taskSecurityGroup.securityGroupId, { allowAllOutbound: false });
    const port = ec2.Port.tcp(this.props.port);
    taskSecurityGroup.addIngressRule(vpcLinkSecurityGroup, port, 'API Gateway VPC link to the MLflow proxy');
    vpcLinkSecurityGroup.addEgressRule(taskSecurityGroup, port, 'To the MLflow proxy');
  }

  vpcLinkIntegration(id: string, vpcLink: apigwv2.IVpcLink, parameterMapping?: apigwv2.ParameterMapping): apigwv2.HttpRouteIntegration {
    return new HttpServiceDiscoveryIntegration(id, this.props.discoveryService, { vpcLink, parameterMapping });
  }
}
