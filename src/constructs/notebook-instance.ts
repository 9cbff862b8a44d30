import { Fn, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';

export interface NotebookInstanceProps {
  readonly vpc: ec2.IVpc;
  readonly executionRole: iam.IRole;
  /** MLflow endpoint the notebook's kernels get as MLFLOW_TRACKING_URI. */
  readonly trackingUri: string;
  /** Name of the secret holding the MLflow credentials; the lab reads it at run time. */
  readonly mlflowSecretName: string;
  /** MLflow client release installed on start, the same as the server's. */
  readonly mlflowVersion: string;
  /** @default 'ml.t3.medium' */
  readonly instanceType?: string;
  /** Size of the encrypted ML storage volume. @default 20 */
  readonly volumeSizeGiB?: number;
  /** @default 'mlflow-lab' */
  readonly notebookInstanceName?: string;
}

/**
 * A SageMaker notebook instance in a private subnet of the platform VPC (no direct internet access: traffic goes
 * through the NAT gateway), with a KMS-encrypted volume and a lifecycle configuration that, on every start,
 * points Jupyter at MLflow and installs the matching MLflow client. Credentials are never written anywhere:
 * only the secret's *name* is exported, and the lab reads the secret when it runs.
 */
export class NotebookInstance extends Construct {
  readonly instance: sagemaker.CfnNotebookInstance;
  readonly lifecycleConfig: sagemaker.CfnNotebookInstanceLifecycleConfig;

  constructor(scope: Construct, id: string, props: NotebookInstanceProps) {
    super(scope, id);

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'SageMaker notebook instance: HTTPS out only',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs, the MLflow endpoint and package indexes');

    const volumeKey = new kms.Key(this, 'VolumeKey', { enableKeyRotation: true, description: 'SageMaker notebook instance volume' });
    // Named actions rather than grantEncryptDecrypt's ReEncrypt*/GenerateDataKey* wildcards.
    volumeKey.grant(props.executionRole, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:DescribeKey');

    this.lifecycleConfig = new sagemaker.CfnNotebookInstanceLifecycleConfig(this, 'LifecycleConfig', {
      onStart: [{ content: Fn.base64(onStartScript({
        trackingUri: props.trackingUri,
        secretName: props.mlflowSecretName,
        mlflowVersion: props.mlflowVersion,
        region: Stack.of(this).region,
      })) }],
    });

    this.instance = new sagemaker.CfnNotebookInstance(this, 'Instance', {
      notebookInstanceName: props.notebookInstanceName ?? 'mlflow-lab',
      instanceType: props.instanceType ?? 'ml.t3.medium',
      roleArn: props.executionRole.roleArn,
      subnetId: props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds[0],
      securityGroupIds: [securityGroup.securityGroupId],
      directInternetAccess: 'Disabled',
      rootAccess: 'Disabled',
      kmsKeyId: volumeKey.keyId,
      volumeSizeInGb: props.volumeSizeGiB ?? 20,
      lifecycleConfigName: this.lifecycleConfig.attrNotebookInstanceLifecycleConfigName,
      platformIdentifier: 'notebook-al2-v3',
    });
  }
}

export interface OnStartScriptSettings {
  readonly trackingUri: string;
  readonly secretName: string;
  readonly mlflowVersion: string;
  readonly region: string;
}

/**
 * The notebook instance's on-start script. Lifecycle scripts must finish within five minutes, so the
 * pip install runs in the background; the environment is set for the Jupyter server before it restarts.
 */
export function onStartScript(settings: OnStartScriptSettings): string {
  return [
    '#!/bin/bash',
    'set -euo pipefail',
    '# Written by the MLflow on AWS CDK app. No credential appears here: the lab reads them from Secrets Manager.',
    'cat > /etc/profile.d/mlflow.sh <<EOF',
    `export MLFLOW_TRACKING_URI=${settings.trackingUri}`,
    `export MLFLOW_CREDENTIALS_SECRET_NAME=${settings.secretName}`,
    `export AWS_DEFAULT_REGION=${settings.region}`,
    'EOF',
    '# Kernels inherit the Jupyter server\'s environment.',
    'mkdir -p /etc/systemd/system/jupyter-server.service.d',
    'cat > /etc/systemd/system/jupyter-server.service.d/mlflow.conf <<EOF',
    '[Service]',
    `Environment=MLFLOW_TRACKING_URI=${settings.trackingUri}`,
    `Environment=MLFLOW_CREDENTIALS_SECRET_NAME=${settings.secretName}`,
    `Environment=AWS_DEFAULT_REGION=${settings.region}`,
    'EOF',
    'systemctl daemon-reload',
    `nohup sudo -u ec2-user -i bash -c 'source /home/ec2-user/anaconda3/bin/activate python3 && pip install --quiet "mlflow==${settings.mlflowVersion}" boto3 sagemaker' >/home/ec2-user/mlflow-client-install.log 2>&1 &`,
    'systemctl restart jupyter-server --no-block',
    '',
  ].join('\n');
}
