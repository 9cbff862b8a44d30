import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcards } from '../compliance';
import { SQLITE_REPLICA_PREFIX } from '../contract';
import { PLATFORM_DEFAULTS, withDefaults } from '../defaults';

/** Object actions Litestream needs on its replica: read and write its LTX files, delete those it compacted or retired. */
const REPLICA_OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'];

export interface DatabaseReplicaProps {
  /**
   * Delete the bucket and every object in it (the replicas and the CLI's copies of them) with the stack. For throwaway
   * environments only. @default false
   */
  readonly destroyOnDelete?: boolean;
  /**
   * Where the bucket's server access logs go (the artifact store's access-logs bucket), under `database-replica/`.
   * @default - no server access logs
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * Days after which replaced or deleted object versions are removed for good. Litestream deletes the files it has
   * compacted all the time, so these are mostly small superseded pieces of the replica; a version kept this long is
   * how an object deleted by mistake (or by a bad restore) comes back. @default PLATFORM_DEFAULTS.databaseReplicaVersionExpiryDays (30)
   */
  readonly noncurrentVersionExpiryDays?: number;
}

/**
 * database=sqlite: the bucket MLflow's SQLite files are replicated to by Litestream (under `SQLITE_REPLICA_PREFIX`, one
 * path per file) and where the CLI's `upgrade` keeps copies of the replicas (`SQLITE_BACKUP_PREFIX`). Private,
 * encrypted (SSE-S3), TLS-only and versioned (AWS Backup needs versioning; a deleted object stays a noncurrent version).
 *
 * A bucket of its own rather than a prefix of the artifact bucket: SageMaker roles and clients may write the artifact
 * bucket, and whoever writes the replica can rewrite the permission database (auth=users/sso). Only the MLflow task
 * (`grantReadWrite`, the replica prefix only) and the CLI's user (its own credentials) read or write it.
 *
 * Kept like the artifact bucket (`RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE`): a stack deletion and a replacement keep it,
 * the rollback of a failed first create deletes it (nothing has been written by then; S3 refuses to delete a bucket
 * that is not empty anyway). With `destroyOnDelete` it goes with the stack, objects included.
 */
export class DatabaseReplica extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, given: DatabaseReplicaProps = {}) {
    super(scope, id);
    const props = withDefaults(given, {
      destroyOnDelete: false,
      noncurrentVersionExpiryDays: PLATFORM_DEFAULTS.databaseReplicaVersionExpiryDays,
    });
    const destroy = props.destroyOnDelete;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      ...(props.accessLogsBucket ? { serverAccessLogsBucket: props.accessLogsBucket, serverAccessLogsPrefix: 'database-replica/' } : {}),
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpiryDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      autoDeleteObjects: destroy,
    });
  }

  /** `s3://<bucket>/<SQLITE_REPLICA_PREFIX>`: the container's DATABASE_REPLICA_URL (one replica path per file below it). */
  get replicaUrl(): string {
    return this.bucket.s3UrlForObject(SQLITE_REPLICA_PREFIX);
  }

  /**
   * Lets `grantee` (the MLflow task) list the replica prefix and read, write and delete the objects under it, and
   * nothing else of the bucket (not the CLI's copies under `SQLITE_BACKUP_PREFIX`) or of S3.
   */
  grantReadWrite(grantee: iam.IGrantable): iam.Grant {
    const list = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [SQLITE_REPLICA_PREFIX, `${SQLITE_REPLICA_PREFIX}/*`] } },
    });
    const location = iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetBucketLocation'], resourceArns: [this.bucket.bucketArn] });
    const objects = iam.Grant.addToPrincipal({
      grantee,
      actions: REPLICA_OBJECT_ACTIONS,
      resourceArns: [this.bucket.arnForObjects(`${SQLITE_REPLICA_PREFIX}/*`)],
    });
    for (const statement of list.principalStatements) statement.sid = 'ListDatabaseReplica';
    for (const statement of location.principalStatements) statement.sid = 'LocateDatabaseReplicaBucket';
    for (const statement of objects.principalStatements) {
      statement.sid = 'ReadWriteDatabaseReplica';
      if (Construct.isConstruct(grantee.grantPrincipal)) {
        acknowledgeWildcards(grantee.grantPrincipal, statement, 'Litestream names its replica files by generation and position (not known beforehand): '
          + `every object under the replica prefix ${SQLITE_REPLICA_PREFIX}/ of the database replica bucket, and nothing else.`);
      }
    }
    return list.combine(location).combine(objects);
  }
}
