/**
 * The operations constructs' defaults (backup plan, alarm thresholds): no aws-cdk-lib import, so that the app's
 * configuration can state them as its defaults without loading the CDK.
 */

/** Defaults of the backup plan: each in one place. */
export const BACKUP_DEFAULTS = {
  /** Days each daily recovery point is kept. */
  retentionDays: 35,
  /** Name of the vault in the second region that copies go to (created by `MlflowBackupCopyVault`). */
  copyVaultName: 'mlflow-backup-copy',
  /** Start of the plan's vault name; the rest is the stack's id (`backupVaultName`). */
  vaultNamePrefix: 'mlflow-backup-',
  /** Daily at 03:00 UTC; AWS Backup starts within the hour after. */
  schedule: { hour: '3', minute: '0' },
} as const;

/**
 * Thresholds and time windows of the alarms: each fact in one place, read by the construct and the tests.
 * Every alarm is evaluated over 5-minute periods; `periods` is how many in a row must breach.
 */
export const ALARM_RULES = {
  /**
   * Running tasks below desired: at least one task short (or, with one task, minutes without a running task) in each
   * 5 minutes for 15 minutes (replacing a task takes a few, so a crash loop alarms and a single replacement does not).
   */
  tasksBelowDesired: { threshold: 1, periods: 3 },
  /** Load balancer targets failing health checks, at any moment of each 5 minutes, for 10 minutes. */
  unhealthyTargets: { threshold: 0, periods: 2 },
  /** 5xx answers of the load balancer (its own and the targets') in 5 minutes with a task running throughout. */
  frontDoor5xx: { threshold: 10, periods: 1 },
  /** 5xx answers of the API Gateway stage in 5 minutes with a task running throughout. */
  gateway5xx: { threshold: 10, periods: 1 },
  /** 401 answers of the proxy in 5 minutes: password guessing, or a client with a wrong password in a loop. */
  unauthorized: { threshold: 50, periods: 1 },
  /** The busiest task's memory, in percent (AWS/ECS MemoryUtilization, Maximum), for 15 minutes. */
  taskMemoryPercent: { threshold: 85, periods: 3 },
  /** The database at its maximum capacity (average of 5 minutes equal to the maximum), for 15 minutes. */
  databaseAtMax: { periods: 3 },
  /** Any failed image build. */
  failedBuilds: { threshold: 1, periods: 1 },
} as const;
