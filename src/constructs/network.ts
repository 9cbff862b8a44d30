import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface MlflowNetworkProps {
  /** IPv4 range of the VPC. */
  readonly cidr: string;
  /** NAT gateways for the private subnets' egress (image pulls, AWS APIs); 2 removes the single-AZ dependency. */
  readonly natGateways: number;
  /** Retention of the VPC flow logs. */
  readonly flowLogRetention: logs.RetentionDays;
}

/**
 * The VPC of the platform, over two Availability Zones:
 * public subnets hold only the NAT gateway(s), private subnets the Fargate tasks, the internal load balancer,
 * the API Gateway VPC link and SageMaker, isolated subnets (no route out) the database.
 */
export class MlflowNetwork extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: MlflowNetworkProps) {
    super(scope, id);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      maxAzs: 2,
      natGateways: props.natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        // Large enough for Fargate tasks at max scale plus SageMaker Studio and notebook ENIs.
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 26 },
      ],
      // S3 traffic (artifacts, image layers) stays off the NAT gateway: cheaper and private.
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
  }
}
