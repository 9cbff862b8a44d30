import { Fn, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Construct } from 'constructs';
import { labPackagePins, pinnedRequirements, SAGEMAKER_SDK_VERSION } from './lab-packages';

/** The lab's SigV4 provider (an MLflow request-auth provider, not on PyPI): its source tree in the repository. */
export const SIGV4_PROVIDER_SOURCE = join(__dirname, '..', '..', '..', 'lab', 'training', 'mlflow-sigv4');
/** Its files, written by the lifecycle scripts (notebook instance, Studio) and pip-installed from there. */
export const SIGV4_PROVIDER_FILES = ['pyproject.toml', 'mlflow_sigv4.py'] as const;
/** Its Python module (what an IPython startup file looks for before it selects the provider). */
export const SIGV4_PROVIDER_MODULE = 'mlflow_sigv4';
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

export type OnStartScriptSettings = LabKernelSettings;

/** The lab's settings a kernel gets: the IAM route, SigV4, the region, the pinned packages. */
export interface LabKernelSettings {
  /** The IAM route's tracking URI (SigV4). */
  readonly trackingUri: string;
  readonly mlflowVersion: string;
  /** SageMaker Python SDK release installed beside the client. @default SAGEMAKER_SDK_VERSION */
  readonly sagemakerSdkVersion?: string;
  readonly region: string;
}

/** Jupyter systemd units the on-start script looks for, in this order (jupyter-server on the AL2 and AL2023 platforms). */
export const JUPYTER_UNITS = ['jupyter-server.service', 'jupyterlab.service', 'jupyter.service'] as const;

/** The lab's own Jupyter kernel (a venv of its own, not the shared conda or SageMaker Distribution environment). */
export const LAB_KERNEL_NAME = 'mlflow-lab';
/** What Jupyter shows for it. */
export const LAB_KERNEL_DISPLAY_NAME = 'MLflow lab';
/** ipykernel in the lab's venv (what makes it a Jupyter kernel): exact, like the lab's pins. */
export const IPYKERNEL_VERSION = '6.29.5';

/** The environment variables of the lab's kernel (and, on the notebook instance, of the Jupyter server and shells). */
export function labEnvironment(settings: LabKernelSettings): Array<[string, string]> {
  return [
    ['MLFLOW_TRACKING_URI', settings.trackingUri],
    // MLflow's client signs every request with the role (SigV4, the lab's provider): no password anywhere.
    ['MLFLOW_TRACKING_AUTH', SIGV4_AUTH],
    ['AWS_DEFAULT_REGION', settings.region],
  ];
}

/**
 * What every kernel, the Jupyter server and login shells of the notebook instance get: labEnvironment() without
 * MLFLOW_TRACKING_AUTH, which only a Python with the SigV4 provider can honour.
 */
export function sharedEnvironment(settings: LabKernelSettings): Array<[string, string]> {
  return labEnvironment(settings).filter(([name]) => name !== 'MLFLOW_TRACKING_AUTH');
}

/** What the lab's venv gets: the lab's pins (src/lib/sagemaker/lab-packages.ts, as lab/requirements.txt) and ipykernel. */
export function labKernelRequirements(settings: LabKernelSettings): string[] {
  return [
    ...pinnedRequirements({
      ...labPackagePins({ mlflowVersion: settings.mlflowVersion }),
      sagemaker: settings.sagemakerSdkVersion ?? SAGEMAKER_SDK_VERSION,
    }),
    `ipykernel==${IPYKERNEL_VERSION}`,
  ];
}

/**
 * The part of a lifecycle script that the notebook instance and Studio share: it writes the lab's SigV4 provider
 * (lab/training/mlflow-sigv4, gzip and base64 in the script) into `$LAB_DIR/mlflow-sigv4`, and `$LAB_DIR/setup-kernel.sh`,
 * which builds the lab's venv (`$LAB_DIR/venv`, from `$BASE_PYTHON`) with the pins, ipykernel and the provider, again
 * only when what it installs changes (a hash of it, kept in the venv), and registers it in `$KERNELS_DIR` as the
 * LAB_KERNEL_DISPLAY_NAME kernel with labEnvironment() in its kernel.json. The caller sets LAB_DIR and runs the
 * setup script in the background (lifecycle scripts must finish within five minutes) with LAB_DIR, BASE_PYTHON and
 * KERNELS_DIR as its arguments.
 */
export function labKernelScript(settings: LabKernelSettings): string[] {
  const requirements = labKernelRequirements(settings);
  const sources = SIGV4_PROVIDER_FILES.map((file) => [file, readFileSync(join(SIGV4_PROVIDER_SOURCE, file))] as const);
  const fingerprint = createHash('sha256');
  for (const part of [...requirements, ...sources.flatMap(([file, content]) => [file, content.toString('utf8')])]) fingerprint.update(`${part}\0`);
  const provider = sources.flatMap(([file, content]) => [
    `base64 -d <<'EOF' | gunzip > "$LAB_DIR/mlflow-sigv4/${file}"`,
    gzipSync(content, { level: 9 }).toString('base64'),
    'EOF',
  ]);
  const env = labEnvironment(settings).map(([k, v]) => `"${k}": "${v}"`).join(', ');
  return [
    '# The lab\'s SigV4 provider (MLFLOW_TRACKING_AUTH=aws-sigv4), from its source in the repository.',
    'rm -rf "$LAB_DIR/mlflow-sigv4"',
    'mkdir -p "$LAB_DIR/mlflow-sigv4"',
    ...provider,
    `# The lab's kernel environment: a venv of its own, rebuilt only when what it installs changes; the "${LAB_KERNEL_DISPLAY_NAME}" kernel.`,
    'cat > "$LAB_DIR/setup-kernel.sh" <<\'EOF\'',
    '#!/bin/bash',
    'set -euo pipefail',
    'LAB_DIR="$1" BASE_PYTHON="$2" KERNELS_DIR="$3"',
    'VENV="$LAB_DIR/venv"',
    `WANTED=${fingerprint.digest('hex').slice(0, 16)}`,
    'if [ "$(cat "$VENV/.requirements-hash" 2>/dev/null)" != "$WANTED" ]; then',
    '  rm -rf "$VENV"',
    '  "$BASE_PYTHON" -m venv "$VENV"',
    `  "$VENV/bin/python" -m pip install --quiet ${[...requirements, '"$LAB_DIR/mlflow-sigv4"'].join(' ')}`,
    '  echo "$WANTED" > "$VENV/.requirements-hash"',
    'fi',
    `mkdir -p "$KERNELS_DIR/${LAB_KERNEL_NAME}"`,
    `cat > "$KERNELS_DIR/${LAB_KERNEL_NAME}/kernel.json" <<KERNEL`,
    `{"argv": ["$VENV/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "${LAB_KERNEL_DISPLAY_NAME}", "language": "python", "env": {${env}}}`,
    'KERNEL',
    `echo "installed: ${requirements.join(' ')} $LAB_DIR/mlflow-sigv4 in $VENV, kernel ${LAB_KERNEL_NAME}"`,
    'EOF',
  ];
}

/**
 * The notebook instance's on-start script, for notebook-al2023-v1. Lifecycle scripts must finish within five
 * minutes, so the kernel's set-up runs in the background. The tracking URI and the region (sharedEnvironment())
 * reach:
 * - kernels, through an IPython startup file: it works whatever the Jupyter unit and conda environment are called;
 *   it also sets MLFLOW_TRACKING_AUTH=aws-sigv4, but only in a kernel that has the SigV4 provider (the "MLflow lab"
 *   kernel, or one where the user installed it): elsewhere MLflow would warn that no provider is registered and send
 *   its requests unsigned;
 * - the Jupyter server (and the kernels and terminals it starts), through a drop-in for its systemd unit, found
 *   among JUPYTER_UNITS rather than assumed;
 * - login shells, through /etc/profile.d (a terminal signs after `source <lab dir>/venv/bin/activate` and
 *   `export MLFLOW_TRACKING_AUTH=aws-sigv4`).
 * The "MLflow lab" kernel gets all of labEnvironment() from its kernel.json.
 * The lab's pinned packages (src/lib/sagemaker/lab-packages.ts: the MLflow client at the server's version and the SageMaker
 * Python SDK, exactly the pins of lab/requirements.txt, nothing unpinned) and its SigV4 provider go into a venv of
 * their own on the instance's volume (/home/ec2-user/SageMaker/.mlflow-lab/venv, made from the conda_python3
 * environment's Python 3.10, which is left as it is), registered as the "MLflow lab" kernel: labKernelScript(), the
 * part Studio's lifecycle configuration shares. The volume keeps the venv across stops, so a start rebuilds it only
 * when the pins or the provider change.
 */
export function onStartScript(settings: OnStartScriptSettings): string {
  const env = sharedEnvironment(settings);
  return [
    '#!/bin/bash',
    '# Written by the MLflow on AWS CDK app for notebook-al2023-v1 (Amazon Linux 2023, JupyterLab 4).',
    '# No credential appears here: MLflow\'s client signs its requests with the execution role (SigV4).',
    'set -euo pipefail',
    'NOTEBOOK_USER=ec2-user',
    'NOTEBOOK_HOME=/home/ec2-user',
    'SYSTEMD_DIR=/etc/systemd/system',
    'PROFILE_DIR=/etc/profile.d',
    'BASE_PYTHON="$NOTEBOOK_HOME/anaconda3/envs/python3/bin/python"',
    'LAB_DIR="$NOTEBOOK_HOME/SageMaker/.mlflow-lab"',
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
    'import importlib.util',
    'import os',
    ...env.map(([k, v]) => `os.environ.setdefault("${k}", "${v}")`),
    `if importlib.util.find_spec("${SIGV4_PROVIDER_MODULE}") is not None:  # only where the SigV4 provider is installed`,
    `    os.environ.setdefault("MLFLOW_TRACKING_AUTH", "${SIGV4_AUTH}")`,
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
    'mkdir -p "$LAB_DIR"',
    ...labKernelScript(settings),
    'chown -R "$NOTEBOOK_USER:$NOTEBOOK_USER" "$LAB_DIR"',
    '',
    '# The kernel\'s set-up in the background, as the notebook user (its kernels live in ~/.local, rewritten at each start).',
    'if [ -x "$BASE_PYTHON" ]; then',
    '  nohup sudo -u "$NOTEBOOK_USER" -H bash "$LAB_DIR/setup-kernel.sh" "$LAB_DIR" "$BASE_PYTHON" "$NOTEBOOK_HOME/.local/share/jupyter/kernels" >"$NOTEBOOK_HOME/mlflow-client-install.log" 2>&1 &',
    'else',
    `  echo "mlflow: no Python at $BASE_PYTHON; set the lab's kernel up in a terminal: bash $LAB_DIR/setup-kernel.sh $LAB_DIR <python3.10+> ~/.local/share/jupyter/kernels" >&2`,
    'fi',
    '',
  ].join('\n');
}

/**
 * Studio's JupyterLab lifecycle script: it runs as sagemaker-user at each start of a JupyterLab app, and sets up the
 * lab's kernel (labKernelScript(), the part the notebook instance shares) in the background: a venv under the
 * space's home (~/.mlflow-lab/venv, from the image's python3, whose environment is left as it is) and the
 * "MLflow lab" kernel, whose kernel.json carries the tracking URI (the IAM route), MLFLOW_TRACKING_AUTH=aws-sigv4 and
 * the region. The home volume keeps the venv, so a start rebuilds it only when the pins or the provider change.
 */
export function studioJupyterLabScript(settings: LabKernelSettings): string {
  return [
    '#!/bin/bash',
    '# Written by the MLflow on AWS CDK app: the "MLflow lab" kernel for SageMaker Studio JupyterLab. No credential appears here.',
    'set -euo pipefail',
    'LAB_DIR="$HOME/.mlflow-lab"',
    'mkdir -p "$LAB_DIR"',
    ...labKernelScript(settings),
    'BASE_PYTHON="$(command -v python3 || true)"',
    'if [ -n "$BASE_PYTHON" ]; then',
    '  nohup bash "$LAB_DIR/setup-kernel.sh" "$LAB_DIR" "$BASE_PYTHON" "$HOME/.local/share/jupyter/kernels" >"$LAB_DIR/install.log" 2>&1 &',
    'else',
    '  echo "mlflow: no python3 in the image; the MLflow lab kernel is not set up" >&2',
    'fi',
    '',
  ].join('\n');
}
