import { Fn, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Construct } from 'constructs';
import { labPackagePins, pinnedRequirements, SAGEMAKER_SDK_VERSION } from '../config/lab-packages';

/** The lab's SigV4 provider (an MLflow request-auth provider, not on PyPI): its source tree in the repository. */
export const SIGV4_PROVIDER_SOURCE = join(__dirname, '..', '..', 'lab', 'training', 'mlflow-sigv4');
/** Its files, written onto the instance by the on-start script and pip-installed from there. */
export const SIGV4_PROVIDER_FILES = ['pyproject.toml', 'mlflow_sigv4.py'] as const;
/** MLFLOW_TRACKING_AUTH value that selects it. */
export const SIGV4_AUTH = 'aws-sigv4';
/** SageMaker's limit on a lifecycle configuration script: 16384 characters of base64 (test/lab/lab-drift.test.ts checks it). */
export const LIFECYCLE_SCRIPT_MAX_BASE64 = 16384;

export interface NotebookInstanceProps {
  /** VPC of the instance (its first private subnet with egress, unless `subnets` says otherwise). */
  readonly vpc: ec2.IVpc;
  /**
   * How the instance reaches the internet: through the VPC (`Disabled`: `subnets` must have egress, a NAT gateway) or
   * through SageMaker's network (`Enabled`, for a VPC without NAT). @default 'Disabled'
   */
  readonly directInternetAccess?: 'Enabled' | 'Disabled';
  /** Subnets of the instance (it goes into the first). @default the private subnets with egress */
  readonly subnets?: ec2.SubnetSelection;
  /** The role the notebook acts with (also allowed to use the volume's key). */
  readonly executionRole: iam.IRole;
  /**
   * The gateway's IAM route (`<endpoint>/iam`), which the notebook's kernels get as MLFLOW_TRACKING_URI with
   * MLFLOW_TRACKING_AUTH=aws-sigv4: MLflow's client signs its requests with the execution role (the lab's SigV4
   * provider), no password.
   */
  readonly trackingUri: string;
  /** MLflow client release installed on start, the same as the server's. */
  readonly mlflowVersion: string;
  /** SageMaker instance type (`ml.*`); not one of UNSUPPORTED_AL2023_FAMILIES. */
  readonly instanceType: string;
  /** Size of the encrypted ML storage volume. */
  readonly volumeSizeGiB: number;
  /** Name of the notebook instance. @default NOTEBOOK_INSTANCE_NAME */
  readonly notebookInstanceName?: string;
}

/** The notebook platform: Amazon Linux 2023 with JupyterLab 4. AL2 (notebook-al2-v3) reached end of support on 2026-06-30. */
export const NOTEBOOK_PLATFORM = 'notebook-al2023-v1';

/**
 * The notebook instance's name for a platform: `mlflow-lab-al2023-v1` for notebook-al2023-v1. `PlatformIdentifier` is
 * create-only, so a new platform replaces the instance, and CloudFormation creates the replacement before it deletes
 * the old one: under a fixed name (notebook names are unique per account and region) that update fails. A name that
 * follows the platform lets the replacement happen (`deploy` asks first: the old instance's volume, with the notebooks
 * on it, is deleted with it; see src/cli/deployed-state.ts).
 */
export function notebookInstanceName(platform: string): string {
  const release = /^notebook-(al\d*-v\d+)$/.exec(platform)?.[1];
  if (!release) throw new Error(`Unknown notebook platform ${platform}: expected notebook-<os>-v<n>, e.g. notebook-al2023-v1.`);
  return `mlflow-lab-${release}`;
}

/** Name of the notebook instance on NOTEBOOK_PLATFORM. Deployments before it named theirs `mlflow-lab` (on notebook-al2-v3). */
export const NOTEBOOK_INSTANCE_NAME = notebookInstanceName(NOTEBOOK_PLATFORM);

/** Instance families SageMaker does not offer on notebook-al2023-v1. */
export const UNSUPPORTED_AL2023_FAMILIES: readonly string[] = ['p2', 'p3', 'p3dn', 'inf1', 'g3'];

/**
 * A SageMaker notebook instance in a private subnet of the platform VPC (no direct internet access: traffic goes
 * through the NAT gateway), with a KMS-encrypted volume and a lifecycle configuration that, on every start,
 * points Jupyter at MLflow's IAM route (SigV4 with the execution role) and installs the matching MLflow client. No
 * credential is involved: the role signs the requests and reads no secret.
 */
export class NotebookInstance extends Construct {
  readonly instance: sagemaker.CfnNotebookInstance;
  readonly lifecycleConfig: sagemaker.CfnNotebookInstanceLifecycleConfig;

  constructor(scope: Construct, id: string, props: NotebookInstanceProps) {
    super(scope, id);
    const instanceType = props.instanceType;
    const family = instanceType.split('.')[1];
    if (UNSUPPORTED_AL2023_FAMILIES.includes(family)) {
      throw new Error(
        `Notebook instance type ${instanceType} is not supported on ${NOTEBOOK_PLATFORM} (no ml.${UNSUPPORTED_AL2023_FAMILIES.join(', ml.')}): choose another, e.g. -c notebookInstanceType=ml.t3.medium or ml.g5.xlarge.`,
      );
    }

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
        mlflowVersion: props.mlflowVersion,
        region: Stack.of(this).region,
      })) }],
    });

    this.instance = new sagemaker.CfnNotebookInstance(this, 'Instance', {
      notebookInstanceName: props.notebookInstanceName ?? NOTEBOOK_INSTANCE_NAME,
      instanceType,
      roleArn: props.executionRole.roleArn,
      subnetId: props.vpc.selectSubnets(props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds[0],
      securityGroupIds: [securityGroup.securityGroupId],
      directInternetAccess: props.directInternetAccess ?? 'Disabled',
      rootAccess: 'Disabled',
      kmsKeyId: volumeKey.keyId,
      volumeSizeInGb: props.volumeSizeGiB,
      lifecycleConfigName: this.lifecycleConfig.attrNotebookInstanceLifecycleConfigName,
      platformIdentifier: NOTEBOOK_PLATFORM,
    });
    if (props.directInternetAccess === 'Enabled') {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-SM3',
        reason: 'A VPC without NAT gateway (the lean profile) gives the notebook no way out through the VPC; its internet access is '
          + "SageMaker's, with root access off, and its network interface in the VPC's isolated subnets.",
      });
    }
  }
}

export interface OnStartScriptSettings {
  /** The IAM route's tracking URI (SigV4). */
  readonly trackingUri: string;
  readonly mlflowVersion: string;
  /** SageMaker Python SDK release installed beside the client. @default SAGEMAKER_SDK_VERSION */
  readonly sagemakerSdkVersion?: string;
  readonly region: string;
}

/** Jupyter systemd units the on-start script looks for, in this order (jupyter-server on the AL2 and AL2023 platforms). */
export const JUPYTER_UNITS = ['jupyter-server.service', 'jupyterlab.service', 'jupyter.service'] as const;

/**
 * The notebook instance's on-start script, for notebook-al2023-v1. Lifecycle scripts must finish within five
 * minutes, so the pip install runs in the background. The MLflow settings reach:
 * - kernels, through an IPython startup file: it works whatever the Jupyter unit and conda environment are called;
 * - the Jupyter server (and the kernels and terminals it starts), through a drop-in for its systemd unit, found
 *   among JUPYTER_UNITS rather than assumed;
 * - login shells, through /etc/profile.d.
 * The lab's pinned packages (src/config/lab-packages.ts: the MLflow client at the server's version and the SageMaker
 * Python SDK, exactly the pins of lab/requirements.txt, nothing unpinned) go into the `python3` conda environment (the
 * conda_python3 kernel, Python 3.10 on AL2023), called by its path so that no activate script is needed. Being the
 * notebook's own pins, a start that installs them while the notebook runs changes no version under it. The lab's
 * SigV4 provider (lab/training/mlflow-sigv4) is written from the script itself (gzip, base64) into
 * ~/.mlflow-sigv4 and installed with them.
 */
export function onStartScript(settings: OnStartScriptSettings): string {
  const env: Array<[string, string]> = [
    ['MLFLOW_TRACKING_URI', settings.trackingUri],
    // MLflow's client signs every request with the instance's role (SigV4, the lab's provider): no password anywhere.
    ['MLFLOW_TRACKING_AUTH', SIGV4_AUTH],
    ['AWS_DEFAULT_REGION', settings.region],
  ];
  const requirements = pinnedRequirements({
    ...labPackagePins({ mlflowVersion: settings.mlflowVersion }),
    sagemaker: settings.sagemakerSdkVersion ?? SAGEMAKER_SDK_VERSION,
  });
  const provider = SIGV4_PROVIDER_FILES.flatMap((file) => [
    `base64 -d <<'EOF' | gunzip > "$PROVIDER_DIR/${file}"`,
    gzipSync(readFileSync(join(SIGV4_PROVIDER_SOURCE, file)), { level: 9 }).toString('base64'),
    'EOF',
  ]);
  const install = [...requirements, '"$PROVIDER_DIR"'].join(' ');
  return [
    '#!/bin/bash',
    '# Written by the MLflow on AWS CDK app for notebook-al2023-v1 (Amazon Linux 2023, JupyterLab 4).',
    '# No credential appears here: MLflow\'s client signs its requests with the execution role (SigV4).',
    'set -euo pipefail',
    'NOTEBOOK_USER=ec2-user',
    'NOTEBOOK_HOME=/home/ec2-user',
    'SYSTEMD_DIR=/etc/systemd/system',
    'PROFILE_DIR=/etc/profile.d',
    'KERNEL_ENV="$NOTEBOOK_HOME/anaconda3/envs/python3"',
    'PROVIDER_DIR="$NOTEBOOK_HOME/.mlflow-sigv4"',
    '',
    '# Login shells (terminals).',
    'cat > "$PROFILE_DIR/mlflow.sh" <<\'EOF\'',
    ...env.map(([k, v]) => `export ${k}=${v}`),
    'EOF',
    '',
    '# Kernels: IPython runs this at every kernel start, in any conda environment.',
    'STARTUP_DIR="$NOTEBOOK_HOME/.ipython/profile_default/startup"',
    'mkdir -p "$STARTUP_DIR"',
    'cat > "$STARTUP_DIR/00-mlflow.py" <<\'EOF\'',
    'import os',
    ...env.map(([k, v]) => `os.environ.setdefault("${k}", "${v}")`),
    'EOF',
    'chown -R "$NOTEBOOK_USER:$NOTEBOOK_USER" "$NOTEBOOK_HOME/.ipython"',
    '',
    '# The Jupyter server\'s environment: a drop-in for its systemd unit, which is looked up, not assumed.',
    'JUPYTER_UNIT=""',
    `for unit in ${JUPYTER_UNITS.join(' ')}; do`,
    '  if systemctl cat "$unit" >/dev/null 2>&1; then JUPYTER_UNIT="$unit"; break; fi',
    'done',
    'if [ -n "$JUPYTER_UNIT" ]; then',
    '  mkdir -p "$SYSTEMD_DIR/$JUPYTER_UNIT.d"',
    '  cat > "$SYSTEMD_DIR/$JUPYTER_UNIT.d/mlflow.conf" <<\'EOF\'',
    '[Service]',
    ...env.map(([k, v]) => `Environment=${k}=${v}`),
    'EOF',
    '  systemctl daemon-reload',
    '  systemctl restart "$JUPYTER_UNIT" --no-block',
    'else',
    `  echo "mlflow: no Jupyter systemd unit (${JUPYTER_UNITS.join(', ')}); kernels still get the settings from $STARTUP_DIR" >&2`,
    'fi',
    '',
    '# The lab\'s SigV4 provider (MLFLOW_TRACKING_AUTH=aws-sigv4), from its source in the repository.',
    'rm -rf "$PROVIDER_DIR"',
    'mkdir -p "$PROVIDER_DIR"',
    ...provider,
    'chown -R "$NOTEBOOK_USER:$NOTEBOOK_USER" "$PROVIDER_DIR"',
    '',
    '# The lab\'s pinned packages (lab/requirements.txt) and the provider in the conda_python3 environment, in the background.',
    'if [ -x "$KERNEL_ENV/bin/python" ]; then',
    `  { nohup sudo -u "$NOTEBOOK_USER" -H "$KERNEL_ENV/bin/python" -m pip install --quiet ${install} && echo "installed: ${requirements.join(' ')} $PROVIDER_DIR"; } >"$NOTEBOOK_HOME/mlflow-client-install.log" 2>&1 &`,
    'else',
    `  echo "mlflow: no conda environment at $KERNEL_ENV; install the lab's packages in a notebook: %pip install ${requirements.join(' ')} $PROVIDER_DIR" >&2`,
    'fi',
    '',
  ].join('\n');
}
