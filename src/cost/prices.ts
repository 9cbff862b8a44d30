/**
 * The one price table of the cost report (`npx mlflow-on-aws cost`, docs/reference/cost.md).
 *
 * On-demand list prices in USD, "as found" on the date below in the pages named by each entry's `source` (AWS pages
 * where the search found them, otherwise third-party pages that quote AWS's price list). Free tiers, Savings Plans
 * and taxes are not applied. A price is tied to the regions its source names (`foundIn`); in any other supported
 * region the report uses the us-east-1 price and marks the line as such, instead of guessing a regional price.
 * `confirmed: false` marks a figure no found page stated: the report marks those lines too.
 *
 * To update: change the figures and their sources, then the date, then run `npm run docs`.
 */
import type { DatabaseEngine } from '../lib/contract';

/** The day the prices below were looked up. */
export const PRICES_AS_OF = '2026-11-26';

/** Hours in a month, as AWS's pricing pages and calculator count them (8760 / 12). */
export const HOURS_PER_MONTH = 730;

/** Working days (Monday to Friday) in an average month. */
export const WORKING_DAYS_PER_MONTH = (365.25 * 5) / 7 / 12;

/** Regions the report knows. Others are refused: the project does not claim prices it has not looked up. */
export const PRICE_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-northeast-1'] as const;
export type PriceRegion = (typeof PRICE_REGIONS)[number];

export interface PriceEntry {
  /** The us-east-1 list price. */
  readonly usd: number;
  /** What one unit is, for the report's "unit price" column. */
  readonly unit: string;
  /** Where the figure was found. */
  readonly source: string;
  /** Regions the source gives this same price for; 'all' when it says the price is the same everywhere. */
  readonly foundIn: readonly PriceRegion[] | 'all';
  /** False: no found page stated this figure (it is carried from the project's issue or recalled); verify before relying on it. */
  readonly confirmed: boolean;
}

const US_EAST_1: readonly PriceRegion[] = ['us-east-1'];
const FARGATE_GROUP: readonly PriceRegion[] = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1'];
const FARGATE_SOURCE =
  'vantage.sh/blog/fargate-pricing (us-east-1 Linux/x86 and Linux/ARM rates); aws.amazon.com/jp/fargate/pricing lists us-east-1, us-east-2, us-west-2 and eu-west-1 as one price group';

export const PRICES = {
  fargateX86VcpuHour: { usd: 0.04048, unit: 'vCPU-hour (x86)', source: FARGATE_SOURCE, foundIn: FARGATE_GROUP, confirmed: true },
  fargateX86GbHour: { usd: 0.004445, unit: 'GB-hour (x86)', source: FARGATE_SOURCE, foundIn: FARGATE_GROUP, confirmed: true },
  fargateArmVcpuHour: { usd: 0.03238, unit: 'vCPU-hour (ARM64)', source: FARGATE_SOURCE, foundIn: FARGATE_GROUP, confirmed: true },
  fargateArmGbHour: { usd: 0.00356, unit: 'GB-hour (ARM64)', source: FARGATE_SOURCE, foundIn: FARGATE_GROUP, confirmed: true },
  natGatewayHour: {
    usd: 0.045,
    unit: 'NAT gateway-hour',
    source: 'cloudpipelines.pages.dev/guides/aws-nat-gateway-pricing-2026 (US East and US West ~$0.045/h; Europe given only as ~$0.048-0.052)',
    foundIn: ['us-east-1', 'us-east-2', 'us-west-2'],
    confirmed: true,
  },
  publicIpv4Hour: {
    usd: 0.005,
    unit: 'public IPv4 address-hour',
    source: 'besthub.dev on the AWS public IPv4 charge since 2024-02-01: $0.005/h per address, all regions (NAT gateway EIPs and tasks with AssignPublicIp alike)',
    foundIn: 'all',
    confirmed: true,
  },
  albHour: {
    usd: 0.0225,
    unit: 'ALB-hour',
    source: 'cal53.calculator.city/aws-alb-cost-calculator (US East $0.0225/h); LCU-hour $0.008 from aws.darcy-it.com on ELB pricing',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  albLcuHour: { usd: 0.008, unit: 'LCU-hour', source: 'aws.darcy-it.com on ELB pricing (ALB $0.008 per LCU-hour)', foundIn: US_EAST_1, confirmed: true },
  auroraAcuHour: {
    usd: 0.12,
    unit: 'ACU-hour',
    source: 'c3x.dev/blog/aws-aurora-serverless-v2-cost and awsnegotiations.com (Aurora Serverless v2 ~$0.12 per ACU-hour in us-east-1, Aurora Standard)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  auroraStorageGbMonth: {
    usd: 0.1,
    unit: 'GB-month',
    source: 'awsnegotiations.com/blog/aurora-serverless-v2-pricing (storage ~$0.10 per GB-month, same as provisioned Aurora)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  interfaceEndpointHour: {
    usd: 0.01,
    unit: 'endpoint-AZ-hour',
    source: 'egresscost.com/nat-gateway (interface VPC endpoint $7.20 per AZ per month, $0.01/GB)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  secretMonth: {
    usd: 0.4,
    unit: 'secret-month',
    source: 'hivebook.wiki on AWS Secrets Manager ($0.40 per secret per month + $0.05 per 10k API calls)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  kmsKeyMonth: {
    usd: 1,
    unit: 'key-month',
    source: 'cloudburn.io/blog/aws-kms-pricing and wring.co ($1 per customer managed key per month; rotated versions can add up to $2)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  hostedZoneMonth: {
    usd: 0.5,
    unit: 'hosted zone-month',
    source: 'ns1.com/resources/aws-dns and trustedinstitute.com ($0.50 per hosted zone per month, first 25; Route 53 is a global service)',
    foundIn: 'all',
    confirmed: true,
  },
  alarmMonth: {
    usd: 0.1,
    unit: 'standard alarm-month',
    source: 'c3x.dev/resources/aws/aws_cloudwatch_metric_alarm ($0.10 per standard-resolution alarm-month; free tier of 10 not applied)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  dashboardMonth: {
    usd: 3,
    unit: 'dashboard-month',
    source: 'factualminds.com on Amazon CloudWatch pricing ($3 per dashboard; free tier of 3 not applied)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  notebookMlT3MediumHour: {
    usd: 0.05,
    unit: 'instance-hour (ml.t3.medium)',
    source: 'not found on a stored page; recalled SageMaker notebook list price for ml.t3.medium in us-east-1',
    foundIn: US_EAST_1,
    confirmed: false,
  },
  sagemakerMlStorageGbMonth: {
    usd: 0.14,
    unit: 'GB-month (ML storage)',
    source: 'not found on a stored page; recalled SageMaker ML storage (notebook volume) list price in us-east-1',
    foundIn: US_EAST_1,
    confirmed: false,
  },
  logsIngestGb: {
    usd: 0.5,
    unit: 'GB ingested',
    source: 'factualminds.com on Amazon CloudWatch pricing (Logs ingestion $0.50/GB)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  containerInsightsServiceMonth: {
    usd: 11.4,
    unit: 'ECS service-month of Container Insights (38 metrics x $0.30)',
    source: 'looked up 2026-12-06: c3x.dev/blog/aws-cloudwatch-metrics-cost (custom metrics $0.30 per metric-month, first 10,000); '
      + 'docs.aws.amazon.com AmazonECS cloudwatch-container-insights ("metrics collected by Container Insights are charged as custom metrics", '
      + 'sent only for resources with RUNNING tasks); the count of 38 (cluster, service and task-family dimensions of a Fargate service) '
      + 'is from the Container Insights metric list as recalled, not a found page',
    foundIn: US_EAST_1,
    confirmed: false,
  },
  s3StandardGbMonth: {
    usd: 0.023,
    unit: 'GB-month (S3 Standard)',
    source: 'deepeshsoni.com/archives/256 on Amazon S3 pricing (S3 Standard about $0.023 per GB-month for the first 50 TB, US East (N. Virginia))',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  s3PutThousand: {
    usd: 0.005,
    unit: '1,000 PUT, COPY, POST or LIST requests (S3 Standard)',
    source: 'c3x.dev/blog/s3-request-fees-explained (S3 Standard tier 1: PUT, COPY, POST, LIST $0.005 per 1,000)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  s3GetThousand: {
    usd: 0.0004,
    unit: '1,000 GET requests (S3 Standard)',
    source: 'c3x.dev/blog/s3-request-fees-explained (S3 Standard tier 2: GET, HEAD, SELECT $0.0004 per 1,000)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  httpApiMillion: {
    usd: 1,
    unit: 'million requests',
    source: 'docs.aws.amazon.com whitepaper "Best Practices for Designing Amazon API Gateway Private APIs", cost optimization (HTTP API $1.00 per million, us-east-1)',
    foundIn: US_EAST_1,
    confirmed: true,
  },
  sagemakerMlflowSmallMonth: {
    usd: 470,
    unit: 'month (Small tracking server)',
    source: 'the project\'s issue 13 ("about $470 a month"); no stored page found with the hourly rate',
    foundIn: US_EAST_1,
    confirmed: false,
  },
} as const satisfies Record<string, PriceEntry>;

export type PriceKey = keyof typeof PRICES;

/** SageMaker notebook instance hourly prices by instance type; other types are reported as not priced. */
export const NOTEBOOK_INSTANCE_PRICES: Readonly<Record<string, PriceKey>> = { 'ml.t3.medium': 'notebookMlT3MediumHour' };

export interface RegionalPrice {
  readonly usd: number;
  readonly unit: string;
  /** The source gives no price for this region: the us-east-1 price is used. */
  readonly assumed: boolean;
  readonly confirmed: boolean;
}

export function isPriceRegion(region: string): region is PriceRegion {
  return (PRICE_REGIONS as readonly string[]).includes(region);
}

/** A price in a region: the found price, or the us-east-1 one marked `assumed`. */
export function priceIn(key: PriceKey, region: PriceRegion): RegionalPrice {
  const entry: PriceEntry = PRICES[key];
  const found = entry.foundIn === 'all' || entry.foundIn.includes(region);
  return { usd: entry.usd, unit: entry.unit, assumed: !found, confirmed: entry.confirmed };
}

/**
 * How the report treats each CloudFormation resource type the app can create. 'priced': the estimator has a rule for
 * it. 'free': no charge of its own (or charged through another resource, named in the note). 'usage': charged only by
 * use (requests, bytes, builds), so not in the totals. A type in no list is reported as "not priced".
 */
export const RESOURCE_TYPES = {
  priced: [
    'AWS::EC2::NatGateway',
    'AWS::EC2::EIP',
    'AWS::EC2::VPCEndpoint',
    'AWS::ECS::Service',
    'AWS::ElasticLoadBalancingV2::LoadBalancer',
    'AWS::RDS::DBCluster',
    'AWS::SecretsManager::Secret',
    'AWS::KMS::Key',
    'AWS::ServiceDiscovery::PrivateDnsNamespace',
    'AWS::Route53::HostedZone',
    'AWS::CloudWatch::Alarm',
    'AWS::CloudWatch::Dashboard',
    'AWS::SageMaker::NotebookInstance',
  ],
  free: {
    'AWS::IAM::Role': 'no charge',
    'AWS::IAM::Policy': 'no charge',
    'AWS::EC2::VPC': 'no charge',
    'AWS::EC2::Subnet': 'no charge',
    'AWS::EC2::RouteTable': 'no charge',
    'AWS::EC2::Route': 'no charge',
    'AWS::EC2::SubnetRouteTableAssociation': 'no charge',
    'AWS::EC2::SecurityGroup': 'no charge',
    'AWS::EC2::SecurityGroupIngress': 'no charge',
    'AWS::EC2::SecurityGroupEgress': 'no charge',
    'AWS::EC2::InternetGateway': 'no charge (data transfer excluded)',
    'AWS::EC2::VPCGatewayAttachment': 'no charge',
    'AWS::ECS::Cluster': 'no charge (its Container Insights is priced with each service of the cluster)',
    'AWS::ECS::TaskDefinition': 'priced through the ECS service that runs it',
    'AWS::ApplicationAutoScaling::ScalableTarget': 'no charge; its scheduled actions set the service\'s hours',
    'AWS::ApplicationAutoScaling::ScalingPolicy': 'no charge (its alarms are managed by the service)',
    'AWS::ElasticLoadBalancingV2::Listener': 'priced with the load balancer',
    'AWS::ElasticLoadBalancingV2::TargetGroup': 'priced with the load balancer',
    'AWS::RDS::DBInstance': 'priced with its Aurora Serverless v2 cluster (ACUs per instance)',
    'AWS::RDS::DBSubnetGroup': 'no charge',
    'AWS::RDS::DBClusterParameterGroup': 'no charge',
    'AWS::RDS::DBParameterGroup': 'no charge',
    'AWS::SecretsManager::SecretTargetAttachment': 'no charge',
    'AWS::S3::BucketPolicy': 'no charge',
    'AWS::Cognito::UserPoolClient': 'no charge (users are counted by the user pool)',
    'AWS::Cognito::UserPoolDomain': 'no charge (the hosted sign-in on a Cognito domain)',
    'AWS::Cognito::UserPoolGroup': 'no charge',
    'AWS::Cognito::UserPoolIdentityProvider': 'no charge (federated people are monthly active users of the pool)',
    'AWS::SSM::Parameter': 'no charge (standard parameters)',
    'AWS::ApiGatewayV2::Authorizer': 'no charge (JWT authorizers are part of the HTTP API\'s request price)',
    'AWS::ApiGatewayV2::Integration': 'no charge (requests are priced on the API)',
    'AWS::ApiGatewayV2::Route': 'no charge',
    'AWS::ApiGatewayV2::Stage': 'no charge',
    'AWS::ApiGatewayV2::VpcLink': 'no charge for HTTP API VPC links',
    'AWS::SageMaker::Domain': 'no charge at idle (apps and home-directory storage are usage)',
    'AWS::SageMaker::UserProfile': 'no charge',
    'AWS::SageMaker::NotebookInstanceLifecycleConfig': 'no charge',
    'AWS::SageMaker::StudioLifecycleConfig': 'no charge (the kernel it sets up runs in the user\'s JupyterLab app, priced as usage)',
    'AWS::SNS::TopicPolicy': 'no charge',
    'AWS::SNS::Subscription': 'no charge (deliveries are priced on the topic)',
    'AWS::Events::Rule': 'no charge for AWS service events and schedules on the default event bus',
    'AWS::Lambda::Permission': 'no charge',
    'AWS::Logs::SubscriptionFilter': 'no charge (its deliveries are invocations of the sleep function)',
    'AWS::Backup::BackupPlan': 'no charge (its recovery points are priced in the vault)',
    'AWS::Backup::BackupSelection': 'no charge',
    'AWS::CertificateManager::Certificate': 'public ACM certificates are free',
    'AWS::ApiGatewayV2::DomainName': 'no charge (requests are priced on the API)',
    'AWS::ApiGatewayV2::ApiMapping': 'no charge',
    'AWS::Route53::RecordSet': 'no charge for the record; alias queries to API Gateway are free (the hosted zone is yours)',
  },
  usage: {
    'AWS::S3::Bucket': 'storage and requests',
    'AWS::Logs::LogGroup': 'ingestion and storage',
    'AWS::EC2::FlowLog': 'log ingestion',
    'AWS::ApiGatewayV2::Api': 'per request',
    'AWS::ServiceDiscovery::Service': 'registered instances and discovery calls',
    'AWS::ECR::Repository': 'image storage',
    'AWS::CodeBuild::Project': 'build minutes at deploy time',
    'AWS::Lambda::Function': 'invocations (custom resources at deploy time; the sleep function every 5 minutes, cents a month; with a federated provider, the groups trigger once per sign-in and session refresh)',
    'AWS::SNS::Topic': 'notifications (e-mail: the first 1,000 a month are free)',
    'AWS::Logs::MetricFilter': 'a custom metric, charged by the hour only while it gets data (401 answers; with sleep, requests someone made)',
    'AWS::Backup::BackupVault': 'backup storage per GB-month (database snapshots, S3 objects) and cross-region copy transfer',
    'Custom::CDKContainerImageBuild': 'a build at deploy time',
    'Custom::DatabaseDeletionProtection': 'a Lambda call at deploy time',
    'Custom::S3AutoDeleteObjects': 'a Lambda call at deploy time',
    'Custom::VpcRestrictDefaultSG': 'a Lambda call at deploy time',
    'AWS::Cognito::UserPool': 'monthly active users (auth=sso; the Essentials plan\'s first 10,000 a month are free)',
    'Custom::DescribeCognitoUserPoolClient': 'a Lambda call at deploy time (reads the app client\'s secret)',
  },
} as const satisfies {
  priced: readonly string[];
  free: Readonly<Record<string, string>>;
  usage: Readonly<Record<string, string>>;
};

/** Usage-based charges the report names (with their unit prices) but leaves out of the totals. */
export const USAGE_NOTES: ReadonlyArray<{ readonly what: string; readonly price: PriceKey; /** Named only when the templates have this engine. */ readonly database?: DatabaseEngine }> = [
  { what: 'CloudWatch Logs ingestion (service, database and VPC flow logs; with Container Insights, its performance events)', price: 'logsIngestGb' },
  { what: 'HTTP API requests', price: 'httpApiMillion' },
  { what: 'Aurora storage (the data MLflow keeps; backups within the retention are mostly free)', price: 'auroraStorageGbMonth', database: 'aurora' },
  { what: 'S3 storage of the database replica bucket (database=sqlite: about the SQLite files\' size, plus replaced versions for 30 days and upgrade copies)', price: 's3StandardGbMonth', database: 'sqlite' },
];
