import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct, IConstruct } from 'constructs';
import { DatabaseDeletionProtection } from './database-deletion-protection';
import { AURORA_MYSQL_VERSION, DATABASE_MASTER_USERNAME, DATABASE_NAME } from '../contract';
import { PLATFORM_DEFAULTS, withDefaults } from '../defaults';

export interface BackendStoreProps {
  /** VPC of the cluster (its isolated subnets). */
  readonly vpc: ec2.IVpc;
  /** Schema MLflow keeps its runs, experiments and registry in. @default DATABASE_NAME ('mlflow') */
  readonly databaseName?: string;
  /** Lowest capacity; 0 lets the instance pause when idle. @default PLATFORM_DEFAULTS.dbMinCapacity (0) */
  readonly minCapacity?: number;
  /** Highest capacity in Aurora capacity units. @default PLATFORM_DEFAULTS.dbMaxCapacity (2) */
  readonly maxCapacity?: number;
  /** Idle time before a 0-ACU instance pauses. @default PLATFORM_DEFAULTS.dbAutoPauseMinutes (60 minutes) */
  readonly autoPause?: Duration;
  /** Days of automated backups. @default PLATFORM_DEFAULTS.dbBackupRetentionDays (7) */
  readonly backupRetentionDays?: number;
  /**
   * Refuse deletion of the cluster until this is turned off. The cluster is created without it and a custom resource
   * turns it on (see `DatabaseDeletionProtection` and `protectAfter`), so that a failed first create can roll back.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /** Delete the cluster without a final snapshot with the stack. For throwaway environments only. @default false */
  readonly destroyOnDelete?: boolean;
  /** Retention of the exported database logs (and of the deletion-protection handler's). @default PLATFORM_DEFAULTS.logRetentionDays (30) */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Name of the cluster. Fixed so that a change that would replace the database (and so start MLflow on an
   * empty one) fails loudly instead, and so that the exported log groups can be created, with retention, up front.
   * @default 'mlflow-backend-store'
   */
  readonly clusterIdentifier?: string;
  /** Port the database listens on. @default 3307 (not MySQL's well-known 3306) */
  readonly port?: number;
  /**
   * Create the cluster from this manual DB cluster snapshot (identifier or ARN) instead of an empty one, keeping its
   * data: how another deployment's database moves in. A snapshot of an Aurora MySQL 2 (MySQL 5.7-compatible) cluster
   * is upgraded to the engine version below as it is restored. `databaseName` must then be the schema in the snapshot.
   * @default - a new, empty cluster
   */
  readonly snapshot?: BackendStoreSnapshot;
}

/** The snapshot a backend store is created from. */
export interface BackendStoreSnapshot {
  /** Identifier or ARN of a manual DB cluster snapshot in the stack's region. */
  readonly identifier: string;
  /** The master user name stored in the snapshot (it cannot be changed; the password is generated anew). */
  readonly username: string;
}

/** Database logs exported to CloudWatch Logs. */
const EXPORTED_LOGS = ['error', 'slowquery'];

/**
 * Cluster parameters. The slow-query log is off by default in Aurora MySQL: exporting it (above) needs it on, written
 * to a file (`log_output=FILE`, what RDS publishes), for statements over `long_query_time` seconds.
 * `require_secure_transport` refuses every connection without TLS; the MLflow container connects with TLS.
 */
export const CLUSTER_PARAMETERS: Readonly<Record<string, string>> = Object.freeze({
  slow_query_log: '1',
  long_query_time: '2',
  log_output: 'FILE',
  require_secure_transport: 'ON',
});

/**
 * The MLflow backend store: an Aurora Serverless v2 (MySQL 8.0-compatible) cluster in the isolated subnets,
 * encrypted, backed up, with generated credentials in Secrets Manager. At 0 ACU minimum it pauses when idle,
 * which is what makes the platform cheap when nobody is training. Created empty, or from a snapshot (`snapshot`).
 */
export class BackendStore extends Construct {
  readonly cluster: rds.IDatabaseCluster;
  /** The master user's credentials (`username`, `password`). */
  readonly credentials: rds.DatabaseSecret;
  /** Turns deletion protection on; absent when it is off in the configuration. */
  readonly deletionProtection?: DatabaseDeletionProtection;

  constructor(scope: Construct, id: string, given: BackendStoreProps) {
    super(scope, id);
    const props = withDefaults(given, {
      databaseName: DATABASE_NAME,
      minCapacity: PLATFORM_DEFAULTS.dbMinCapacity,
      maxCapacity: PLATFORM_DEFAULTS.dbMaxCapacity,
      autoPause: Duration.minutes(PLATFORM_DEFAULTS.dbAutoPauseMinutes),
      backupRetentionDays: PLATFORM_DEFAULTS.dbBackupRetentionDays,
      deletionProtection: true,
      destroyOnDelete: false,
      logRetention: PLATFORM_DEFAULTS.logRetentionDays as logs.RetentionDays,
    });
    const destroy = props.destroyOnDelete;
    const protect = !destroy && props.deletionProtection;
    if (props.snapshot) {
      // Without it, a cluster from a snapshot also gets the deprecated `credentials` default: a second, generated
      // "admin" secret attached to the cluster but never applied to it. (Context must be set before any child exists.)
      this.node.setContext(cxapi.RDS_PREVENT_RENDERING_DEPRECATED_CREDENTIALS, true);
    }

    this.credentials = new rds.DatabaseSecret(this, 'Credentials', {
      // A snapshot keeps its master user; only the password is new (set on the restored cluster from this secret).
      username: props.snapshot?.username ?? DATABASE_MASTER_USERNAME,
      // The password ends up in a connection URI; the entrypoint URL-encodes it, but a plain alphabet is one risk fewer.
      excludeCharacters: ' %+~`#$&*()|[]{}:;<>?!\'/@"\\,=^',
    });

    // The database only answers; it never opens connections of its own.
    const clusterIdentifier = props.clusterIdentifier ?? 'mlflow-backend-store';
    // Created here rather than by RDS so that they carry a retention period without a log-retention Lambda.
    const logGroups = EXPORTED_LOGS.map((log) => new logs.LogGroup(this, `${log}Logs`, {
      logGroupName: `/aws/rds/cluster/${clusterIdentifier}/${log}`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    }));

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'MLflow backend store: MySQL from the MLflow tasks only',
      allowAllOutbound: false,
    });

    const clusterProps = {
      clusterIdentifier,
      port: props.port ?? 3307,
      // Aurora MySQL 3.10 is a long-term-support release; scaling to 0 ACU needs 3.08 or later. A snapshot of an older
      // engine (Aurora MySQL 2, MySQL 5.7-compatible, included) is upgraded to it by the restore.
      engine: rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.of(`8.0.mysql_aurora.${AURORA_MYSQL_VERSION}`, '8.0') }),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      writer: rds.ClusterInstance.serverlessV2('Writer', { autoMinorVersionUpgrade: true }),
      serverlessV2MinCapacity: props.minCapacity,
      serverlessV2MaxCapacity: props.maxCapacity,
      serverlessV2AutoPauseDuration: props.autoPause,
      // From a snapshot too: RDS restores an encrypted snapshot encrypted, and CloudFormation refuses to restore an
      // unencrypted one with this set (rather than giving MLflow an unencrypted database).
      storageEncrypted: true,
      iamAuthentication: true,
      backup: { retention: Duration.days(props.backupRetentionDays) },
      // Protected: left out of the template, turned on by `this.deletionProtection` (never `false` here, which the RDS
      // handler would send again with every later change of the cluster). Unprotected: `false`, which turns it off.
      deletionProtection: protect ? undefined : false,
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.SNAPSHOT,
      cloudwatchLogsExports: EXPORTED_LOGS,
      parameters: { ...CLUSTER_PARAMETERS },
    } satisfies rds.DatabaseClusterProps;
    this.cluster = props.snapshot
      ? new rds.DatabaseClusterFromSnapshot(this, 'Cluster', {
        ...clusterProps,
        snapshotIdentifier: props.snapshot.identifier,
        // The snapshot's master user with the password of `this.credentials`, which CloudFormation sets on the restored
        // cluster (ModifyDBCluster after the restore).
        snapshotCredentials: rds.SnapshotCredentials.fromSecret(this.credentials),
      })
      : new rds.DatabaseCluster(this, 'Cluster', {
        ...clusterProps,
        credentials: rds.Credentials.fromSecret(this.credentials),
        defaultDatabaseName: props.databaseName,
      });
    if (props.snapshot) {
      // The snapshot's master user, which the restore keeps. CloudFormation ignores it on a restore (the RDS resource
      // handler passes it only to CreateDBCluster, and reads the same name back), but without it the template breaks
      // CloudFormation's schema rule that MasterUserPassword needs MasterUsername (cfn-lint E3021), an error, where
      // with it cfn-lint and CDK's validation only note that it is ignored (W3688, accepted).
      const cfnCluster = this.cluster.node.defaultChild as rds.CfnDBCluster;
      cfnCluster.masterUsername = props.snapshot.username;
      Validations.of(cfnCluster).acknowledge({
        id: 'CloudFormation-Validate::W3688',
        reason: 'MasterUsername is ignored with SnapshotIdentifier, on purpose: it names the snapshot\'s master user so that the MasterUserPassword next to it is valid.',
      });
    }
    for (const logGroup of logGroups) this.cluster.node.addDependency(logGroup);
    if (protect) {
      this.deletionProtection = new DatabaseDeletionProtection(this, 'DeletionProtection', { cluster: this.cluster, logRetention: props.logRetention });
      this.deletionProtection.protectAfter(this.credentials, securityGroup, ...logGroups);
    }

    Validations.of(this.cluster).acknowledge({
      id: 'AwsSolutions-RDS14',
      reason: 'Recovery is covered by continuous backups (point-in-time restore within the retention period) and the final snapshot; '
        + 'Backtrack would rewind the whole cluster, not one experiment, and bills for every change record.',
    });
    Validations.of(this.credentials).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'ECS injects the password into MLflow tasks when they start, so an automatic rotation would break running tasks; '
        + 'rotate by updating the secret and forcing a new deployment (README, "Rotating credentials").',
    });
    Validations.of(this.cluster).acknowledge({
      id: 'AwsSolutions-RDS10',
      reason: protect
        ? 'Deletion protection is on, but not in the template: Custom::DatabaseDeletionProtection turns it on once the rest of the stack is in place, '
          + 'so that a failed first create can delete the cluster instead of ending in ROLLBACK_FAILED (docs/decisions/database-protection.md).'
        : 'Deletion protection was turned off explicitly in the configuration (dbDeletionProtection=false or destroyDataOnDelete=true).',
    });
  }

  /**
   * Deletion protection is turned on only after every resource under `scopes` is in place: give it the rest of the
   * stack, so that nothing can fail after it in a first create.
   */
  protectAfter(...scopes: IConstruct[]): void {
    this.deletionProtection?.protectAfter(...scopes);
  }
}
