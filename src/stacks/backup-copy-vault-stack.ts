import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { MlflowBackupCopyVault } from '../constructs/backup';

export interface BackupCopyVaultStackProps extends StackProps {
  /** Delete the vault with the stack (AWS Backup refuses while it holds recovery points). */
  readonly destroyOnDelete: boolean;
}

/**
 * The vault that the backup plan copies each recovery point to, in the second region (`backupCopyRegion`). Deployed
 * before the platform stack, whose plan names it; kept by `destroy` (with its recovery points) unless data is destroyed.
 */
export class BackupCopyVaultStack extends Stack {
  readonly vault: MlflowBackupCopyVault;

  constructor(scope: Construct, id: string, props: BackupCopyVaultStackProps) {
    super(scope, id, props);
    this.vault = new MlflowBackupCopyVault(this, 'CopyVault', { destroyOnDelete: props.destroyOnDelete });
  }
}
