import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { MlflowBackupCopyVault } from '../../lib/operations/backup';

export type BackupCopyVaultStackProps = StackProps;

/**
 * The vault that the backup plan copies each recovery point to, in the second region (`backupCopyRegion`). Deployed
 * before the platform stack, whose plan names it; the vault outlives the stack (with its recovery points), also with
 * `destroyDataOnDelete`.
 */
export class BackupCopyVaultStack extends Stack {
  readonly vault: MlflowBackupCopyVault;

  constructor(scope: Construct, id: string, props: BackupCopyVaultStackProps) {
    super(scope, id, props);
    this.vault = new MlflowBackupCopyVault(this, 'CopyVault');
  }
}
