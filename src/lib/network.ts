import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Where things go in the VPC `MlflowNetwork` builds for a number of NAT gateways (also read by the stacks that get only the VPC). */
export interface NetworkLayout {
  /** Whether the private subnets reach the internet through NAT (false: there are no private subnets with egress). */
  readonly natEgress: boolean;
  /** The MLflow tasks and the VPC link: the private subnets, or the public ones without NAT (the tasks then get a public IPv4). */
  readonly serviceSubnets: ec2.SubnetSelection;
  /** SageMaker's network interfaces: the private subnets, or the isolated ones without NAT (SageMaker then gives internet access its own way). */
  readonly sageMakerSubnets: ec2.SubnetSelection;
}

export function networkLayout(natGateways: number): NetworkLayout {
  const natEgress = natGateways > 0;
  return {
    natEgress,
    serviceSubnets: { subnetType: natEgress ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PUBLIC },
    sageMakerSubnets: { subnetType: natEgress ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED },
  };
}

export interface MlflowNetworkProps {
  /** IPv4 range of the VPC. */
  readonly cidr: string;
  /**
   * NAT gateways for the private subnets' egress (image pulls, AWS APIs); 2 removes the single-AZ dependency.
   * 0: no NAT gateway and no private subnets with egress (the lean layout: what needs AWS runs in the public subnets).
   */
  readonly natGateways: number;
  /** Retention of the VPC flow logs. */
  readonly flowLogRetention: logs.RetentionDays;
}

/**
 * The VPC of the platform, over two Availability Zones:
 * public subnets hold only the NAT gateway(s), private subnets the Fargate tasks, the internal load balancer,
 * the API Gateway VPC link and SageMaker, isolated subnets (no route out) the database.
 * Without NAT gateways (the lean profile) there are no private subnets: the Fargate tasks and the VPC link are in the
 * public subnets, SageMaker's network interfaces in the isolated ones (its apps reach the internet SageMaker's way).
 */
export class MlflowNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** Where the MLflow tasks and the VPC link go: the private subnets, or the public ones when there is no NAT gateway. */
  readonly serviceSubnets: ec2.SubnetSelection;
  /** Where SageMaker's network interfaces go: the private subnets, or the isolated ones when there is no NAT gateway. */
  readonly sageMakerSubnets: ec2.SubnetSelection;

  constructor(scope: Construct, id: string, props: MlflowNetworkProps) {
    super(scope, id);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      maxAzs: 2,
      natGateways: props.natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        // Large enough for Fargate tasks at max scale plus SageMaker Studio and notebook ENIs. Without a NAT gateway
        // (CDK refuses subnets with egress then) their address space stays reserved: the isolated subnets keep their
        // addresses in both layouts, so moving between profiles leaves the database's subnets (and the database) as
        // they are.
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22, reserved: props.natGateways === 0 },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 26 },
      ],
      // S3 traffic (artifacts, image layers) stays off the NAT gateway: cheaper and private.
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });

    const layout = networkLayout(props.natGateways);
    this.serviceSubnets = layout.serviceSubnets;
    this.sageMakerSubnets = layout.sageMakerSubnets;

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
