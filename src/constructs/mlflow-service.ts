import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import { grantArtifactReadWrite } from './artifact-store';
import { DATABASE_WAIT, healthCheckGracePeriod, LOAD_BALANCER_HEALTH_CHECK } from './mlflow-startup';
import { CONTAINER_NAMES, HEALTH_CHECK_PATH, PORTS, SERVICE_DISCOVERY_NAMESPACE } from '../names';

export interface MlflowServiceProps {
  readonly vpc: ec2.IVpc;
  readonly artifactBucket: s3.IBucket;
  /** Bucket the load balancer writes its access logs to (prefix `alb/`). */
  readonly accessLogsBucket: s3.IBucket;
  readonly database: rds.DatabaseClusterBase;
  readonly databaseCredentials: secretsmanager.ISecret;
  readonly databaseName: string;
  /** Secret with `username` and `password` that clients use for basic auth at the proxy. */
  readonly mlflowCredentials: secretsmanager.ISecret;
  readonly proxyImage: ecs.ContainerImage;
  readonly mlflowImage: ecs.ContainerImage;
  /** Task CPU units. @default 1024 */
  readonly cpu?: number;
  /** Task memory in MiB. @default 2048 */
  readonly memoryMiB?: number;
  /** Tasks kept running (also the autoscaling floor). @default 2 */
  readonly desiredCount?: number;
  /** Autoscaling ceiling. @default 6 */
  readonly maxCount?: number;
  /** Average task CPU the autoscaler aims for, in percent. @default 70 */
  readonly cpuTargetPercent?: number;
  /**
   * The server proxies artifact reads and writes to the bucket instead of clients using S3 directly.
   * @default false
   */
  readonly proxyArtifacts?: boolean;
  /**
   * Run MLflow 3's background job runner (huey consumers plus a scheduler that queries the database every minute).
   * While it runs the database is never idle, so Aurora Serverless v2 cannot pause.
   * @default false
   */
  readonly backgroundJobs?: boolean;
  /**
   * Seconds after which the database closes a pooled MLflow connection nobody used: the delay before an idle server
   * holds no connection (Aurora's auto-pause timer starts then).
   * @default 60
   */
  readonly dbIdleDisconnectSeconds?: number;
  /**
   * Seconds MLflow waits for any answer on a database connection before giving up on it.
   * @default 60
   */
  readonly dbReadTimeoutSeconds?: number;
  /** Retention of the containers' logs. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Host headers MLflow's security middleware (MLflow 3.5+) accepts. Requests reach MLflow through API Gateway
   * and the internal load balancer, whose host names are not known before deployment, hence patterns.
   * @default the region's API Gateway and load balancer host patterns, plus localhost
   */
  readonly allowedHosts?: string[];
  /**
   * Origins allowed to make cross-origin browser requests to MLflow (the UI served through API Gateway).
   * @default the region's API Gateway HTTPS origins
   */
  readonly corsAllowedOrigins?: string[];
}

/**
 * MLflow on ECS Fargate: one task runs the NGINX basic-auth proxy (the only port the load balancer sees)
 * and the MLflow server (listening inside the task only); an internal ALB health-checks the proxy,
 * the service scales on CPU, rolls back failed deployments and registers in Cloud Map.
 */
export class MlflowService extends Construct {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly loadBalancerSecurityGroup: ec2.SecurityGroup;
  readonly listener: elbv2.ApplicationListener;
  readonly namespace: servicediscovery.PrivateDnsNamespace;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: MlflowServiceProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    const cpu = props.cpu ?? 1024;
    const memoryMiB = props.memoryMiB ?? 2048;
    const desiredCount = props.desiredCount ?? 2;

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    this.namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
      name: SERVICE_DISCOVERY_NAMESPACE,
      vpc: props.vpc,
      description: 'Private DNS namespace of the MLflow service',
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu,
      memoryLimitMiB: memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    // The server touches artifacts only when it proxies them (the documented alternative to clients writing to S3).
    grantArtifactReadWrite(taskDefinition.taskRole, props.artifactBucket);
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The plain environment holds only non-secret settings (bucket, database host/port/name, worker count, allowed hosts); '
        + 'every credential is passed as an ECS secret from Secrets Manager.',
    });

    const mlflowContainer = taskDefinition.addContainer('Mlflow', {
      containerName: CONTAINER_NAMES.mlflow,
      image: props.mlflowImage,
      essential: true,
      portMappings: [{ containerPort: PORTS.mlflow, name: 'mlflow' }],
      environment: {
        BUCKET: props.artifactBucket.s3UrlForObject(),
        HOST: props.database.clusterEndpoint.hostname,
        PORT: props.database.clusterEndpoint.port.toString(),
        DATABASE: props.databaseName,
        MLFLOW_DB_WAIT_SECONDS: String(DATABASE_WAIT.toSeconds()),
        MLFLOW_WORKERS: String(workerCount(cpu, memoryMiB)),
        MLFLOW_PROXY_ARTIFACTS: String(props.proxyArtifacts ?? false),
        // MLflow pools its database connections; the database closes each one after this long unused, so an idle
        // server holds none and Aurora Serverless v2 can pause (the end-to-end suite checks SHOW PROCESSLIST;
        // `npm run bench:e2e` compares it with no pool at all).
        DB_IDLE_DISCONNECT_SECONDS: String(props.dbIdleDisconnectSeconds ?? 60),
        DB_READ_TIMEOUT_SECONDS: String(props.dbReadTimeoutSeconds ?? 60),
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: String(props.backgroundJobs ?? false),
        MLFLOW_SERVER_ALLOWED_HOSTS: (props.allowedHosts ?? defaultAllowedHosts(region)).join(','),
        MLFLOW_SERVER_CORS_ALLOWED_ORIGINS: (props.corsAllowedOrigins ?? [`https://*.execute-api.${region}.amazonaws.com`]).join(','),
      },
      secrets: {
        USERNAME: ecs.Secret.fromSecretsManager(props.databaseCredentials, 'username'),
        PASSWORD: ecs.Secret.fromSecretsManager(props.databaseCredentials, 'password'),
      },
      logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'mlflow' }),
    });

    const proxyContainer = taskDefinition.addContainer('Proxy', {
      containerName: CONTAINER_NAMES.proxy,
      image: props.proxyImage,
      essential: true,
      portMappings: [{ containerPort: PORTS.proxy, name: 'http' }],
      secrets: {
        MLFLOW_USERNAME: ecs.Secret.fromSecretsManager(props.mlflowCredentials, 'username'),
        MLFLOW_PASSWORD: ecs.Secret.fromSecretsManager(props.mlflowCredentials, 'password'),
      },
      logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'proxy' }),
    });
    Validations.of(taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken, needed to pull the task images, has no resource-level permissions; the image pulls themselves are scoped to the image repositories.',
    });
    proxyContainer.addContainerDependencies({ container: mlflowContainer, condition: ecs.ContainerDependencyCondition.START });

    const serviceSecurityGroup = new ec2.SecurityGroup(this, 'ServiceSecurityGroup', {
      vpc: props.vpc,
      description: 'MLflow tasks: HTTP from the load balancer only',
      allowAllOutbound: false,
    });
    // Outbound: HTTPS to AWS APIs (ECR, Secrets Manager, S3, CloudWatch Logs) through the NAT gateway or endpoints.
    serviceSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs');

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition,
      desiredCount,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [serviceSecurityGroup],
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      // Covers the container's database and schema-lock waits and a migration (see mlflow-startup.ts).
      healthCheckGracePeriod: healthCheckGracePeriod(DATABASE_WAIT),
      cloudMapOptions: { name: 'mlflow', cloudMapNamespace: this.namespace },
    });
    props.database.connections.allowDefaultPortFrom(this.service, 'MLflow tasks to the backend store');
    // The task names the cluster endpoint only; without these, tasks could start before the writer instance exists
    // (or before the rule that lets them reach it), and spend their database wait on a database that is not there.
    this.service.node.addDependency(props.database, ...props.database.connections.securityGroups);

    const loadBalancerSecurityGroup = this.loadBalancerSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: props.vpc,
      description: 'Internal MLflow load balancer: ingress is granted to the API Gateway VPC link only',
      allowAllOutbound: false,
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroup: loadBalancerSecurityGroup,
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(120),
    });
    this.loadBalancer.logAccessLogs(props.accessLogsBucket, 'alb');
    // `open: false`: no 0.0.0.0/0 rule; callers are allowed explicitly through `listener.connections`.
    this.listener = this.loadBalancer.addListener('Http', { port: PORTS.proxy, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
    this.listener.addTargets('Proxy', {
      port: PORTS.proxy,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service.loadBalancerTarget({ containerName: CONTAINER_NAMES.proxy, containerPort: PORTS.proxy })],
      healthCheck: {
        path: HEALTH_CHECK_PATH,
        healthyHttpCodes: '200',
        ...LOAD_BALANCER_HEALTH_CHECK,
      },
      deregistrationDelay: Duration.seconds(30),
    });

    const scaling = this.service.autoScaleTaskCount({ minCapacity: desiredCount, maxCapacity: props.maxCount ?? 6 });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: props.cpuTargetPercent ?? 70,
      scaleInCooldown: Duration.seconds(60),
      scaleOutCooldown: Duration.seconds(60),
    });
  }
}

/** MLflow server workers: two per vCPU, fewer when memory is short (a worker needs roughly 512 MiB). */
export function workerCount(cpu: number, memoryMiB: number): number {
  return Math.max(1, Math.min(Math.round((cpu / 1024) * 2), Math.floor(memoryMiB / 512)));
}

function defaultAllowedHosts(region: string): string[] {
  return [`*.execute-api.${region}.amazonaws.com`, `*.${region}.elb.amazonaws.com`, 'localhost', 'localhost:*', '127.0.0.1', '127.0.0.1:*'];
}
