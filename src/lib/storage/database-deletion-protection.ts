import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IConstruct } from 'constructs';
import { DATABASE_DELETION_PROTECTION_TYPE } from '../contract';

export interface DatabaseDeletionProtectionProps {
  /** The cluster to protect. */
  readonly cluster: rds.IDatabaseCluster;
  /** Retention of the handler's logs. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * Turns on deletion protection of an Aurora cluster that was created without it, once the deployment has got this far.
 *
 * Why not simply `DeletionProtection: true` on the cluster: CloudFormation cannot delete a protected cluster, so a first
 * create that fails (an image build, the service never getting healthy) would end in ROLLBACK_FAILED, and the cluster,
 * left behind under its fixed name, would make every retry fail. Created unprotected, a failed first create deletes it
 * (leaving a final snapshot, by the cluster's Snapshot policy) and the next `deploy` simply starts over.
 *
 * The custom resource calls `ModifyDBCluster DeletionProtection=true` on create and on update. It has no delete call:
 * removing it, replacing it, or deleting the stack leaves protection as it is, so a `destroy` of a deployment that was
 * once healthy meets deletion protection, as intended. Make it depend on everything else in the stack
 * (`protectAfter`), so that it runs last and a rollback has nothing left after it.
 *
 * The cluster's template must not carry `DeletionProtection: false` at the same time: the RDS resource handler sends
 * the template's value with every ModifyDBCluster, so every later change of the cluster would turn protection off
 * again. Left out of the template, it is not sent and stays as this resource set it.
 */
export class DatabaseDeletionProtection extends Construct {
  readonly resource: cr.AwsCustomResource;

  constructor(scope: Construct, id: string, props: DatabaseDeletionProtectionProps) {
    super(scope, id);
    const cluster = props.cluster;
    const protect: cr.AwsSdkCall = {
      service: 'RDS',
      action: 'modifyDBCluster',
      parameters: { DBClusterIdentifier: cluster.clusterIdentifier, DeletionProtection: true, ApplyImmediately: true },
      physicalResourceId: cr.PhysicalResourceId.of(cluster.clusterIdentifier),
      // The whole DBCluster description would exceed the 4 KB a custom resource may return.
      outputPaths: ['DBCluster.DeletionProtection'],
    };
    this.resource = new cr.AwsCustomResource(this, 'Resource', {
      resourceType: DATABASE_DELETION_PROTECTION_TYPE,
      onCreate: protect,
      onUpdate: protect,
      // No onDelete, deliberately: see above.
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['rds:ModifyDBCluster'], resources: [cluster.clusterArn] }),
      ]),
      installLatestAwsSdk: false,
      timeout: Duration.minutes(2),
      serviceTimeout: Duration.minutes(5),
      logGroup: new logs.LogGroup(this, 'Logs', {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    // After the cluster's instances too (the calls name the cluster only; depending on the cluster itself as well
    // would only repeat what its Ref already orders).
    this.resource.node.addDependency(...cluster.node.findAll().filter((c) => c instanceof rds.CfnDBInstance));
    // The handler is CDK's AwsCustomResource singleton; its role is a construct of the stack.
    Validations.of(this.resource.grantPrincipal as iam.Role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'CDK gives the handler of AwsCustomResource this policy to write its own logs; its one other permission is '
        + 'rds:ModifyDBCluster on this cluster alone.',
    });
  }

  /** Runs only after every resource under `scopes` is in place (created or updated). */
  protectAfter(...scopes: IConstruct[]): void {
    this.resource.node.addDependency(...scopes);
  }
}
