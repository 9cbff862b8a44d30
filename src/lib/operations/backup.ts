import { ArnFormat, Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledgeRoleAsBuilt } from '../compliance';
import { BACKUP_DEFAULTS } from './defaults';

/** Copies of each recovery point to a vault in another region. */
export interface BackupCopy {
  /** The region of the copy vault, not the stack's. */
  readonly region: string;
  /** Name of the vault there, which must exist before the first copy (`MlflowBackupCopyVault`). @default BACKUP_DEFAULTS.copyVaultName */
  readonly vaultName?: string;
}

export interface MlflowBackupProps {
  /** The backend store cluster (database=aurora). Give it or `databaseReplicaBucket`. @default - none */
  readonly database?: rds.IDatabaseCluster;
  /**
   * database=sqlite: the database replica bucket (Litestream's replicas and the CLI's copies), instead of `database`;
   * versioned, like the artifact bucket (checked here). @default - none
   */
  readonly databaseReplicaBucket?: s3.IBucket;
  /**
   * The artifact bucket. AWS Backup needs S3 versioning on it: a bucket created in the stack must have it (checked
   * here); an existing bucket is only referenced, so a backup of one without versioning fails, and `alarmTopic` hears of it.
   */
  readonly artifactBucket: s3.IBucket;
  /** Days each recovery point is kept (1 to 36500). @default BACKUP_DEFAULTS.retentionDays (35) */
  readonly retentionDays?: number;
  /** Copy each recovery point to a vault in a second region. @default - no copy */
  readonly copyTo?: BackupCopy;
  /** Notified of failed backup, copy and restore jobs. @default - no notification */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * The vault's name: `mlflow-backup-` and the UUID of the stack's id (50 characters, AWS Backup's maximum), so each
 * stack instance gets its own. The vault outlives its stack (`VAULT_REMOVAL_POLICY`); with a fixed name, a stack created
 * again after `destroy` (or the README's destroy-then-restore) would fail on "vault already exists".
 */
export function backupVaultName(stack: Stack): string {
  return Fn.join('', [BACKUP_DEFAULTS.vaultNamePrefix, Fn.select(2, Fn.split('/', stack.stackId))]);
}

/**
 * Both vaults: kept by a stack deletion and by a replacement (with their recovery points), deleted by the rollback of a
 * failed first create (they are empty then, and a retry starts clean). Also with `destroyDataOnDelete`: AWS Backup
 * refuses to delete a vault that holds recovery points, so `Delete` would end the stack's deletion in DELETE_FAILED.
 */
export const VAULT_REMOVAL_POLICY = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;

/**
 * A daily AWS Backup plan for the backend store and the artifact bucket, into a vault that survives the stack. Aurora
 * recovery points are DB cluster snapshots (restore: `npx mlflow-on-aws restore --snapshot <arn>`); S3 recovery points
 * restore the bucket's objects as they were (AWS Backup console or StartRestoreJob).
 */
export class MlflowBackup extends Construct {
  readonly vault: backup.BackupVault;
  readonly plan: backup.BackupPlan;
  readonly selection: backup.BackupSelection;

  constructor(scope: Construct, id: string, props: MlflowBackupProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const retentionDays = props.retentionDays ?? BACKUP_DEFAULTS.retentionDays;
    if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 36500) {
      throw new Error(`MlflowBackup: retentionDays must be a whole number of days from 1 to 36500, got ${retentionDays}.`);
    }
    if (props.copyTo && !Token.isUnresolved(stack.region) && props.copyTo.region === stack.region) {
      throw new Error(`MlflowBackup: copyTo.region must be another region than the stack's (${stack.region}), got ${props.copyTo.region}.`);
    }
    if (!props.database === !props.databaseReplicaBucket) {
      throw new Error('MlflowBackup: give database (Aurora) or databaseReplicaBucket (SQLite), one of them.');
    }
    requireVersioning(props.artifactBucket, 'artifact bucket');
    if (props.databaseReplicaBucket) requireVersioning(props.databaseReplicaBucket, 'database replica bucket');

    this.vault = new backup.BackupVault(this, 'Vault', {
      backupVaultName: backupVaultName(stack),
      removalPolicy: VAULT_REMOVAL_POLICY,
    });
    const deleteAfter = Duration.days(retentionDays);
    const copyActions: backup.BackupPlanCopyActionProps[] = props.copyTo ? [{
      destinationBackupVault: backup.BackupVault.fromBackupVaultArn(this, 'CopyVault', stack.formatArn({
        service: 'backup',
        region: props.copyTo.region,
        resource: 'backup-vault',
        resourceName: props.copyTo.vaultName ?? BACKUP_DEFAULTS.copyVaultName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })),
      deleteAfter,
    }] : [];
    this.plan = new backup.BackupPlan(this, 'Plan', { backupVault: this.vault });
    this.plan.addRule(new backup.BackupPlanRule({
      ruleName: 'Daily',
      scheduleExpression: events.Schedule.cron(BACKUP_DEFAULTS.schedule),
      startWindow: Duration.hours(1),
      completionWindow: Duration.hours(8),
      deleteAfter,
      copyActions,
    }));
    this.selection = this.plan.addSelection('Selection', {
      resources: [
        backup.BackupResource.fromArn(props.database ? props.database.clusterArn : props.databaseReplicaBucket!.bucketArn),
        backup.BackupResource.fromArn(props.artifactBucket.bucketArn),
      ],
      allowRestores: true,
    });
    // The managed policies AWS Backup documents for S3 (the default ones cover RDS only).
    const role = this.selection.grantPrincipal as iam.Role;
    role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AWSBackupServiceRolePolicyForS3Backup'));
    role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AWSBackupServiceRolePolicyForS3Restore'));
    acknowledgeRoleAsBuilt(role, 'AWS Backup\'s service role with the managed policies AWS documents for backing up and restoring Aurora and S3.');

    if (props.alarmTopic) new BackupJobAlerts(this, 'FailedJobs', { topic: props.alarmTopic });
  }
}

export interface BackupJobAlertsProps {
  /** Notified of each failed, aborted or expired job. */
  readonly topic: sns.ITopic;
}

/**
 * Notifies `topic` of AWS Backup jobs (backup, copy, restore) of the account and region that fail. A job's failure is an
 * event, not a metric: AWS Backup sends one per job state change. Usable in another stack than the plan's (the one of
 * the alarm topic), since it names no vault.
 */
export class BackupJobAlerts extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: BackupJobAlertsProps) {
    super(scope, id);
    // The id `Default` keeps the rule's logical ID what it was when MlflowBackup created it itself.
    this.rule = new events.Rule(this, 'Default', {
      description: 'MLflow backup, copy or restore job failed',
      eventPattern: {
        source: ['aws.backup'],
        detailType: ['Backup Job State Change', 'Copy Job State Change', 'Restore Job State Change'],
        detail: { state: ['FAILED', 'ABORTED', 'EXPIRED'] },
      },
      targets: [new targets.SnsTopic(props.topic)],
    });
  }
}

/** A bucket created in this app without versioning cannot be backed up: fail at synth, naming the bucket. */
function requireVersioning(bucket: s3.IBucket, what: string): void {
  const cfn = bucket.node.defaultChild;
  if (!(cfn instanceof s3.CfnBucket)) return; // imported: only AWS can tell (see `artifactBucket`)
  const versioning = Stack.of(bucket).resolve(cfn.versioningConfiguration) as { status?: string } | undefined;
  if (versioning?.status !== 'Enabled') {
    throw new Error(`MlflowBackup: AWS Backup needs versioning on the ${what} ${bucket.node.path}; it is not enabled (set versioned: true).`);
  }
}

export interface MlflowBackupCopyVaultProps {
  /** @default BACKUP_DEFAULTS.copyVaultName */
  readonly vaultName?: string;
}

/**
 * The vault in the second region that `MlflowBackup`'s copies go to: deploy it in a stack of that region first. Its name
 * is fixed, because the plan in the other region must name it and CloudFormation passes no value between regions; a
 * failed first create deletes it (a retry starts clean), a deletion of its stack keeps it (`VAULT_REMOVAL_POLICY`).
 */
export class MlflowBackupCopyVault extends Construct {
  readonly vault: backup.BackupVault;

  constructor(scope: Construct, id: string, props: MlflowBackupCopyVaultProps = {}) {
    super(scope, id);
    this.vault = new backup.BackupVault(this, 'Vault', {
      backupVaultName: props.vaultName ?? BACKUP_DEFAULTS.copyVaultName,
      removalPolicy: VAULT_REMOVAL_POLICY,
    });
  }
}
