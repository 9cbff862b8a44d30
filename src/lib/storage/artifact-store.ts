import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcards } from '../compliance';
import { PLATFORM_DEFAULTS, withDefaults } from '../defaults';

/** Object actions every artifact user needs; named one by one rather than grantReadWrite's `s3:GetObject*`-style wildcards. */
const ARTIFACT_OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'];

/** The artifact store as its users see it: the bucket, and the one way to be let into it. */
export interface IArtifactStore {
  /** The artifact bucket. */
  readonly bucket: s3.IBucket;
  /**
   * Lets `grantee` list the artifact bucket and read, write and delete its objects, and nothing else in S3.
   * `extraObjectActions` adds named object actions a particular user needs.
   */
  /** Lets `grantee` list the bucket and read, write and delete its objects (see `IArtifactStore.grantReadWrite`). */
  grantReadWrite(grantee: iam.IGrantable, extraObjectActions?: string[]): iam.Grant;
}

export interface ArtifactStoreProps {
  /** Delete the bucket and every object in it with the stack. For throwaway environments only. @default false */
  readonly destroyOnDelete?: boolean;
  /** Days after which overwritten or deleted object versions are removed for good. @default PLATFORM_DEFAULTS.artifactVersionExpiryDays (90) */
  readonly noncurrentVersionExpiryDays?: number;
  /**
   * Use this existing bucket (another deployment's, whose runs' artifact URIs name it) instead of creating one. It is
   * only referenced: nothing on it changes (policy, lifecycle, versioning, logging), and the stack never deletes it,
   * so `destroyOnDelete` and `noncurrentVersionExpiryDays` do not apply to it.
   * @default - a new bucket
   */
  readonly existingBucketName?: string;
}

/**
 * The MLflow artifact store: an S3 bucket that is private, encrypted, TLS-only and versioned.
 * By default it outlives the stack, so `cdk destroy` never takes months of models with it.
 *
 * What a failed first create leaves behind (docs/decisions/database-protection.md):
 * - The artifact bucket is `RetainExceptOnCreate` (`RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE`): the rollback of a
 *   failed first create deletes it, a stack deletion or a replacement keeps it. Nothing writes to it while the stack
 *   is being created, so there is nothing to lose; and should it hold an object after all, S3 refuses to delete a
 *   bucket that is not empty, so the data stays either way.
 * - The access-logs bucket stays `Retain`: it is not empty by then. The load balancer writes a test object
 *   (`AWSLogs/<account>/ELBAccessLogTestFile`) as soon as its access logs are switched on, and S3 delivers the
 *   artifact bucket's server access logs to it; a rollback could not delete it, and the stack would end in
 *   ROLLBACK_FAILED instead of ROLLBACK_COMPLETE. Left behind, it blocks nothing (its name is generated).
 */
export class ArtifactStore extends Construct implements IArtifactStore {
  /** The artifact bucket: created here, or the existing one named by `existingBucketName`. */
  readonly bucket: s3.IBucket;
  /** Receives the bucket's server access logs; other platform logs (the load balancer's) may go here too. */
  readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, given: ArtifactStoreProps = {}) {
    super(scope, id);
    const props = withDefaults(given, { destroyOnDelete: false, noncurrentVersionExpiryDays: PLATFORM_DEFAULTS.artifactVersionExpiryDays });
    const destroy = props.destroyOnDelete;

    const accessLogs = this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      // Not RETAIN_ON_UPDATE_OR_DELETE: a rollback could not delete it (see above).
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: destroy,
    });

    if (props.existingBucketName) {
      this.bucket = s3.Bucket.fromBucketName(this, 'Bucket', props.existingBucketName);
      // cdk-nag counts a bucket as a log bucket by the server-access-log grant a bucket of the stack gives it; with the
      // artifact bucket imported there is none, though the load balancer still logs here.
      Validations.of(accessLogs).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'This is the log bucket: it receives the load balancer\'s access logs; logging its own accesses into itself would loop.',
      });
      return;
    }
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpiryDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      // Kept by a stack deletion and a replacement; deleted by the rollback of a failed first create (see above).
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      autoDeleteObjects: destroy,
    });
  }

  /** Lets `grantee` list the bucket and read, write and delete its objects (see `IArtifactStore.grantReadWrite`). */
  grantReadWrite(grantee: iam.IGrantable, extraObjectActions: string[] = []): iam.Grant {
    const list = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket', 's3:GetBucketLocation'],
      resourceArns: [this.bucket.bucketArn],
    });
    const objects = iam.Grant.addToPrincipal({
      grantee,
      actions: [...ARTIFACT_OBJECT_ACTIONS, ...extraObjectActions, 's3:AbortMultipartUpload'],
      resourceArns: [this.bucket.arnForObjects('*')],
    });
    for (const statement of list.principalStatements) statement.sid = 'ListArtifactBucket';
    for (const statement of objects.principalStatements) {
      statement.sid = 'ReadWriteArtifacts';
      if (Construct.isConstruct(grantee.grantPrincipal)) {
        acknowledgeWildcards(grantee.grantPrincipal, statement, 'MLflow and its clients store artifacts under per-run and per-job keys '
          + 'that do not exist beforehand: every object of the artifact bucket, and of no other bucket.');
      }
    }
    return list.combine(objects);
  }
}
