import { CfnOutput, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HttpGateway, MlflowPlatform } from 'mlflow-on-aws';

/** A stack of the user's: their own VPC, MLflow in it, and the public HTTPS endpoint in front of it. */
export class MlflowStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // The VPC: public subnets (NAT), private subnets with egress (tasks, load balancer, VPC link), isolated (database).
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      ],
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { removalPolicy: RemovalPolicy.DESTROY })),
    });

    // Everything else has a default: one x86 task size, 2 to 6 tasks, an internal load balancer, Aurora Serverless v2.
    // MLflow accepts requests whose host is the gateway's (its execute-api name here; add a custom domain's there).
    const clientHosts = HttpGateway.clientHosts(this.region);
    const mlflow = new MlflowPlatform(this, 'Mlflow', {
      vpc,
      service: { desiredCount: 1, maxCount: 2, allowedHosts: clientHosts.hosts, corsAllowedOrigins: clientHosts.origins },
    });
    const gateway = new HttpGateway(this, 'Gateway', { vpc, frontDoor: mlflow.frontDoor });

    new CfnOutput(this, 'TrackingUri', { value: gateway.api.apiEndpoint });
    new CfnOutput(this, 'CredentialsSecretArn', { value: mlflow.credentials.secret.secretArn });
  }
}
