import { RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, IConstruct } from 'constructs';
import { PLATFORM_DEFAULTS, withDefaults } from './defaults';

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
  /** IPv4 range of the VPC. @default PLATFORM_DEFAULTS.vpcCidr ('10.0.0.0/16') */
  readonly cidr?: string;
  /**
   * NAT gateways for the private subnets' egress (image pulls, AWS APIs); 2 removes the single-AZ dependency.
   * 0: no NAT gateway and no private subnets with egress (the lean layout: what needs AWS runs in the public subnets).
   * @default PLATFORM_DEFAULTS.natGateways (1)
   */
  readonly natGateways?: number;
  /** Retention of the VPC flow logs. @default PLATFORM_DEFAULTS.logRetentionDays (30) */
  readonly flowLogRetention?: logs.RetentionDays;
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

  constructor(scope: Construct, id: string, given: MlflowNetworkProps = {}) {
    super(scope, id);
    const props = withDefaults(given, {
      cidr: PLATFORM_DEFAULTS.vpcCidr,
      natGateways: PLATFORM_DEFAULTS.natGateways,
      flowLogRetention: PLATFORM_DEFAULTS.logRetentionDays as logs.RetentionDays,
    });

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
    const flowLog = this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    keepNameTagsWithoutDefault(this.vpc, [flowLog]);
  }
}

/**
 * `ec2.Vpc` names the VPC and its subnets (Name tags, seen in the console) after their construct paths. Logical IDs leave
 * out the ids `Default`; these names do too, so that a network placed under a construct with the id `Default` (such as
 * `MlflowPlatform` in the app's stack) keeps the names it had as the stack's own, and an update changes no tag.
 */
function keepNameTagsWithoutDefault(vpc: ec2.Vpc, named: IConstruct[]): void {
  const name = (construct: IConstruct) => construct.node.scopes.slice(1).map((scope) => scope.node.id).filter((id) => id !== 'Default').join('/');
  if (name(vpc) === vpc.node.path) return;
  // Above the priority of ec2.Vpc's own Name tags (100); those of the subnets and `named` (which name themselves too)
  // above the VPC's, so that theirs win on their resources.
  Tags.of(vpc).add('Name', name(vpc), { priority: 101 });
  for (const construct of [...vpc.publicSubnets, ...vpc.privateSubnets, ...vpc.isolatedSubnets, ...named]) {
    Tags.of(construct).add('Name', name(construct), { priority: 102 });
  }
}
