import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SAGEMAKER_SDK_VERSION } from '../../src/lib/sagemaker/lab-packages';
import { DEFAULT_CONFIG, SAGEMAKER_CHOICES } from '../../src/app/config/platform-config';
import {
  IPYKERNEL_VERSION, LAB_KERNEL_NAME, NOTEBOOK_INSTANCE_NAME, NOTEBOOK_PLATFORM, notebookInstanceName, onStartScript, SIGV4_PROVIDER_FILES, SIGV4_PROVIDER_MODULE, SIGV4_PROVIDER_SOURCE,
  studioJupyterLabScript,
} from '../../src/lib/sagemaker/notebook-instance';
import { HOME_EFS_METADATA_KEY } from '../../src/lib/contract';
import { STUDIO_LIFECYCLE_CONFIG_PREFIX, StudioUser } from '../../src/lib/sagemaker/studio-user';
import { EXPORT_NAMES, STACK_NAMES } from '../../src/app/names';
import { taskContract } from '../e2e/support/task-definition';
import { buildTestPlatform, resourcesOfType } from '../support/synth';

const both = buildTestPlatform({ sagemaker: 'both' });
const studio = Template.fromStack(both.studio!);
const notebook = Template.fromStack(both.notebook!);

/**
 * Name of the export the MLflow stack makes of the artifact bucket's ARN for other stacks: the strong reference CDK
 * makes (not the fixed public export name, which is an output for users' own stacks).
 */
function artifactBucketArnExport(): string {
  const outputs = Object.values<any>(Template.fromStack(both.mlflow).toJSON().Outputs)
    .filter((o) => o.Value['Fn::GetAtt']?.[0]?.startsWith('ArtifactStoreBucket') && o.Value['Fn::GetAtt'][1] === 'Arn' && o.Export);
  const names = outputs.map((o) => o.Export.Name).filter((name: string) => name !== EXPORT_NAMES.artifactBucketArn);
  assert.equal(names.length, 1, 'one reference export of the bucket ARN');
  return names[0];
}

/**
 * A stand-in Python interpreter: it logs how it is called (`<its path> <arguments>`) and, asked for `-m venv DIR`,
 * makes DIR/bin/python a copy of itself.
 */
function fakePython(file: string, calls: string): void {
  fs.writeFileSync(file, `#!/bin/bash\necho "$0 $*" >> "${calls}"\nif [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi\n`, { mode: 0o755 });
}

/** Every statement of every policy attached to the stack's SageMaker execution role. */
function roleStatements(template: Template): any[] {
  const roles = resourcesOfType(template, 'AWS::IAM::Role');
  assert.equal(roles.length, 1, 'one role: the execution role');
  const [[roleId, role]] = roles;
  assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal, { Service: 'sagemaker.amazonaws.com' });
  assert.equal(role.Properties.ManagedPolicyArns, undefined, 'no managed policies');
  assert.equal(role.Properties.Policies, undefined, 'no inline policies besides the attached one');
  return resourcesOfType(template, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

describe('the `sagemaker` setting chooses the SageMaker stacks', () => {
  const expected: Record<(typeof SAGEMAKER_CHOICES)[number], string[]> = {
    studio: [STACK_NAMES.studio],
    notebook: [STACK_NAMES.notebook],
    both: [STACK_NAMES.studio, STACK_NAMES.notebook],
    none: [],
  };
  for (const choice of SAGEMAKER_CHOICES) {
    test(`sagemaker=${choice}`, () => {
      const platform = buildTestPlatform({ sagemaker: choice });
      const names = platform.mlflow.node.root.node.children.map((c) => c.node.id).sort();
      assert.deepEqual(names, [STACK_NAMES.mlflow, STACK_NAMES.gateway, ...expected[choice]].sort());
    });
  }
  test('the default is studio', () => {
    const platform = buildTestPlatform();
    assert.ok(platform.studio);
    assert.equal(platform.notebook, undefined);
  });
});

describe('SageMakerStudioUserStack', () => {
  test('a new IAM-authenticated domain in the MLflow VPC\'s private subnets, VPC-only, encrypted', () => {
    const [[, domain]] = resourcesOfType(studio, 'AWS::SageMaker::Domain');
    assert.equal(domain.Properties.AuthMode, 'IAM');
    assert.equal(domain.Properties.AppNetworkAccessType, 'VpcOnly');
    assert.match(JSON.stringify(domain.Properties.VpcId), /MLflowVpcStack/);
    assert.equal(domain.Properties.SubnetIds.length, 2);
    assert.match(JSON.stringify(domain.Properties.SubnetIds), /privateSubnet1.*privateSubnet2/);
    assert.ok(domain.Properties.KmsKeyId);
    assert.match(JSON.stringify(domain.Properties.DefaultUserSettings.ExecutionRole), /ExecutionRole/);
  });

  test('user profile mlflow-user in that domain, acting with the execution role', () => {
    studio.hasResourceProperties('AWS::SageMaker::UserProfile', {
      UserProfileName: 'mlflow-user',
      DomainId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Domain'), 'DomainId'] },
      UserSettings: Match.objectLike({ ExecutionRole: { 'Fn::GetAtt': [Match.stringLikeRegexp('ExecutionRole'), 'Arn'] } }),
    });
  });

  test('with DOMAIN_ID set, only the profile is created, in that domain', () => {
    const existing = Template.fromStack(buildTestPlatform({ domainId: 'd-abcdefghijkl', studioUserName: 'alice' }).studio!);
    existing.resourceCountIs('AWS::SageMaker::Domain', 0);
    existing.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    existing.hasResourceProperties('AWS::SageMaker::UserProfile', { DomainId: 'd-abcdefghijkl', UserProfileName: 'alice' });
  });

  test('the domain tells `destroy` to keep its home EFS (users\' notebooks) unless told otherwise', () => {
    const [[, domain]] = resourcesOfType(studio, 'AWS::SageMaker::Domain');
    assert.deepEqual(domain.Metadata?.[HOME_EFS_METADATA_KEY], 'Retain');
    assert.equal(domain.Properties.RetentionPolicy, undefined, 'CloudFormation has no such property: the CLI does the deleting');

    const stack = new Stack(new App(), 'Throwaway', { env: { region: 'us-west-2' } });
    new StudioUser(stack, 'Studio', {
      vpc: new ec2.Vpc(stack, 'Vpc'),
      executionRole: new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') }),
      userProfileName: 'mlflow-user',
      trackingUri: 'https://abc123.execute-api.us-west-2.amazonaws.com/iam',
      mlflowVersion: '3.17.2',
      homeFileSystemOnDelete: 'Delete',
    });
    const [[, throwaway]] = resourcesOfType(Template.fromStack(stack), 'AWS::SageMaker::Domain');
    assert.equal(throwaway.Metadata?.[HOME_EFS_METADATA_KEY], 'Delete');

    const [[, fromSetting]] = resourcesOfType(Template.fromStack(buildTestPlatform({ destroyDataOnDelete: true }).studio!), 'AWS::SageMaker::Domain');
    assert.equal(fromSetting.Metadata?.[HOME_EFS_METADATA_KEY], 'Delete', 'destroyDataOnDelete reaches the domain');
  });

  test('a JupyterLab lifecycle configuration, the default of the new domain\'s users and of the profile', () => {
    const configs = resourcesOfType(studio, 'AWS::SageMaker::StudioLifecycleConfig');
    assert.equal(configs.length, 1);
    const [[configId, config]] = configs;
    assert.equal(config.Properties.StudioLifecycleConfigAppType, 'JupyterLab');
    assert.match(config.Properties.StudioLifecycleConfigName, new RegExp(`^${STUDIO_LIFECYCLE_CONFIG_PREFIX}-[0-9a-f]{12}$`));
    const arn = { 'Fn::GetAtt': [configId, 'StudioLifecycleConfigArn'] };
    const attached = { DefaultResourceSpec: { LifecycleConfigArn: arn }, LifecycleConfigArns: [arn] };
    const [[, profile]] = resourcesOfType(studio, 'AWS::SageMaker::UserProfile');
    assert.deepEqual(profile.Properties.UserSettings.JupyterLabAppSettings, attached, 'the profile starts JupyterLab with it');
    const [[, domain]] = resourcesOfType(studio, 'AWS::SageMaker::Domain');
    assert.deepEqual(domain.Properties.DefaultUserSettings.JupyterLabAppSettings, attached, 'the new domain\'s other users too');
  });

  test('the Studio script gets the IAM route from the gateway stack, SigV4 on, the region, the pins, and no credential', () => {
    const [[, config]] = resourcesOfType(studio, 'AWS::SageMaker::StudioLifecycleConfig');
    const script = JSON.stringify(config.Properties.StudioLifecycleConfigContent['Fn::Base64']);
    assert.match(script, /"MLFLOW_TRACKING_URI\\": \\"https:\/\/",\{"Fn::ImportValue":"HttpGatewayStack:ExportsOutputRefGatewayApi[0-9A-F]+"\},".execute-api.us-west-2.",\{"Ref":"AWS::URLSuffix"\},"\/iam\\", \\"MLFLOW_TRACKING_AUTH\\": \\"aws-sigv4\\", \\"AWS_DEFAULT_REGION\\": \\"us-west-2\\"/);
    const installs = [...script.matchAll(/pip install --quiet (.+?)\\n/g)].map((m) => m[1].split(' '));
    assert.deepEqual(installs, [[`mlflow==${DEFAULT_CONFIG.mlflowVersion}`, `sagemaker==${SAGEMAKER_SDK_VERSION}`, `ipykernel==${IPYKERNEL_VERSION}`, '\\"$LAB_DIR/mlflow-sigv4\\"']]);
    assert.doesNotMatch(script, /resolve:secretsmanager|MLFLOW_TRACKING_PASSWORD|get-secret-value|mlflow-server-credentials/);
  });

  test('with DOMAIN_ID set, the lifecycle configuration goes to the created profile only; the domain is not touched', () => {
    const existing = Template.fromStack(buildTestPlatform({ domainId: 'd-abcdefghijkl', studioUserName: 'alice' }).studio!);
    const [[configId]] = resourcesOfType(existing, 'AWS::SageMaker::StudioLifecycleConfig');
    const arn = { 'Fn::GetAtt': [configId, 'StudioLifecycleConfigArn'] };
    existing.hasResourceProperties('AWS::SageMaker::UserProfile', {
      DomainId: 'd-abcdefghijkl',
      UserSettings: Match.objectLike({ JupyterLabAppSettings: { DefaultResourceSpec: { LifecycleConfigArn: arn }, LifecycleConfigArns: [arn] } }),
    });
    assert.deepEqual(Object.keys(existing.toJSON().Resources).filter((id) => /Domain/.test(existing.toJSON().Resources[id].Type)), []);
  });

  test('the lifecycle configuration\'s name follows its content (create-only, unique per region: a new content is a new name)', () => {
    const name = (overrides: Parameters<typeof buildTestPlatform>[0]) => {
      const [[, config]] = resourcesOfType(Template.fromStack(buildTestPlatform(overrides).studio!), 'AWS::SageMaker::StudioLifecycleConfig');
      return config.Properties.StudioLifecycleConfigName;
    };
    assert.equal(name({}), name({}));
    assert.notEqual(name({}), name({ mlflowVersion: '3.13.0' }));
  });

  test('a Studio lifecycle script over SageMaker\'s 16384 base64 characters is refused at synth', () => {
    const stack = new Stack(new App(), 'Throwaway', { env: { region: 'us-west-2' } });
    assert.throws(() => new StudioUser(stack, 'Studio', {
      vpc: new ec2.Vpc(stack, 'Vpc'),
      executionRole: new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') }),
      userProfileName: 'mlflow-user',
      trackingUri: `https://${'a'.repeat(8000)}.example/iam`,
      mlflowVersion: '3.17.2',
      homeFileSystemOnDelete: 'Retain',
    }), /The Studio lifecycle script is \d+ base64 characters; SageMaker allows 16384\./);
  });

  describe('the Studio lifecycle script, run against a stand-in JupyterLab app', () => {
    const settings = { trackingUri: 'https://abc123.execute-api.us-west-2.amazonaws.com/iam', mlflowVersion: '3.17.2', region: 'us-west-2' };
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'studio-lcc-'));
    after(() => fs.rmSync(root, { recursive: true, force: true }));
    const home = path.join(root, 'home', 'sagemaker-user');
    const bin = path.join(root, 'bin');
    const calls = path.join(root, 'calls.log');
    fs.mkdirSync(home, { recursive: true });
    fs.mkdirSync(bin, { recursive: true });
    fakePython(path.join(bin, 'python3'), calls);

    /** Runs the script as the app would (HOME, python3 on PATH) and waits (bounded) for the background set-up's log line. */
    function start(script: string) {
      fs.rmSync(calls, { force: true });
      fs.rmSync(path.join(home, '.mlflow-lab', 'install.log'), { force: true });
      const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH}` } });
      const log = path.join(home, '.mlflow-lab', 'install.log');
      const deadline = Date.now() + 5_000;
      while (!/^installed: /m.test(fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '') && Date.now() < deadline) spawnSync('sleep', ['0.05']);
      return { result, calls: fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8') : '', log: fs.readFileSync(log, 'utf8') };
    }

    test('a venv of its own from the image\'s python3, the pins and the provider in it, the "MLflow lab" kernel with the settings', () => {
      const run = start(studioJupyterLabScript(settings));
      assert.equal(run.result.status, 0, run.result.stderr);
      const labDir = path.join(home, '.mlflow-lab');
      assert.match(run.calls, new RegExp(`^${bin}/python3 -m venv ${labDir}/venv$`, 'm'));
      assert.match(run.calls, new RegExp(`^${labDir}/venv/bin/python -m pip install --quiet mlflow==3\\.17\\.2 sagemaker==\\S+ ipykernel==\\S+ ${labDir}/mlflow-sigv4$`, 'm'));
      assert.doesNotMatch(run.calls, new RegExp(`^${bin}/python3 -m pip`, 'm'), 'nothing installed into the image\'s environment');
      const kernel = JSON.parse(fs.readFileSync(path.join(home, '.local', 'share', 'jupyter', 'kernels', LAB_KERNEL_NAME, 'kernel.json'), 'utf8'));
      assert.equal(kernel.display_name, 'MLflow lab');
      assert.equal(kernel.argv[0], `${labDir}/venv/bin/python`);
      assert.deepEqual(kernel.env, { MLFLOW_TRACKING_URI: settings.trackingUri, MLFLOW_TRACKING_AUTH: 'aws-sigv4', AWS_DEFAULT_REGION: 'us-west-2' });
      for (const file of SIGV4_PROVIDER_FILES) {
        assert.equal(fs.readFileSync(path.join(labDir, 'mlflow-sigv4', file), 'utf8'), fs.readFileSync(path.join(SIGV4_PROVIDER_SOURCE, file), 'utf8'), file);
      }
    });

    test('the next start keeps the venv; a change of pins rebuilds it', () => {
      const again = start(studioJupyterLabScript(settings));
      assert.equal(again.result.status, 0, again.result.stderr);
      assert.doesNotMatch(again.calls, /-m venv|-m pip/, again.calls);
      assert.ok(fs.existsSync(path.join(home, '.local', 'share', 'jupyter', 'kernels', LAB_KERNEL_NAME, 'kernel.json')));
      const changed = start(studioJupyterLabScript({ ...settings, mlflowVersion: '3.18.0' }));
      assert.match(changed.calls, /-m venv/);
      assert.match(changed.calls, /-m pip install --quiet mlflow==3\.18\.0 /);
    });
  });

  test('the Studio lifecycle script is clean for bash -n and shellcheck', () => {
    const script = studioJupyterLabScript({ trackingUri: 'https://abc123.execute-api.us-west-2.amazonaws.com/iam', mlflowVersion: '3.13.0', region: 'us-west-2' });
    assert.equal(spawnSync('bash', ['-n'], { input: script }).status, 0);
    const result = spawnSync('shellcheck', ['--shell=bash', '-'], { input: script, encoding: 'utf8' });
    assert.equal(result.error, undefined, 'shellcheck must be installed (CI installs it)');
    assert.equal(result.status, 0, result.stdout);
  });

  test('Studio apps may send HTTPS out and talk among themselves, nothing more', () => {
    const ingress = resourcesOfType(studio, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    for (const rule of ingress) {
      assert.equal(rule.CidrIp, undefined);
      assert.deepEqual(rule.SourceSecurityGroupId, rule.GroupId, 'self-referencing only');
    }
  });
});

describe('the SageMaker execution role grants only what the lab needs', () => {
  const expectedSids = [
    'AttachToVpc', 'FindMlflowServingImage', 'InvokeMlflowIamRoute', 'ListArtifactBucket', 'PassThisRoleToSageMaker', 'PublishTrainingMetrics', 'PullContainerImages',
    'ReadPlatformStackOutputs', 'ReadWriteArtifacts', 'SageMakerInThisAccountAndRegion',
    'SageMakerListAndSearch', 'WriteSageMakerLogs',
  ];

  for (const [name, template] of [['studio', studio], ['notebook', notebook]] as const) {
    test(`${name}: the statements are exactly the expected ones`, () => {
      const statements = roleStatements(template);
      const named = statements.filter((s) => s.Sid).map((s) => s.Sid).sort();
      assert.deepEqual(named, expectedSids);
      for (const statement of statements) {
        assert.equal(statement.Effect, 'Allow');
        const actions = [statement.Action].flat() as string[];
        if (statement.Sid) continue;
        // The grant CDK writes for the notebook's KMS key carries no Sid.
        const services = new Set(actions.map((a) => a.split(':')[0]));
        assert.ok([...services].every((s) => ['kms'].includes(s)), `unexpected actions ${actions}`);
      }
    });

    test(`${name}: S3 on the artifact bucket only, no s3:*`, () => {
      const s3Statements = roleStatements(template).filter((s) => [s.Action].flat().some((a: string) => a.startsWith('s3:')));
      assert.ok(s3Statements.length > 0);
      for (const statement of s3Statements) {
        assert.ok(![statement.Action].flat().includes('s3:*'));
        for (const resource of [statement.Resource].flat()) {
          assert.ok(JSON.stringify(resource).includes(JSON.stringify({ 'Fn::ImportValue': artifactBucketArnExport() })), JSON.stringify(resource));
        }
      }
    });

    test(`${name}: reads no secret: reaches MLflow on the gateway's IAM route only (execute-api:Invoke on /iam/*)`, () => {
      const statements = roleStatements(template);
      assert.deepEqual(statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('secretsmanager:'))), []);
      const invoke = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('execute-api:')));
      assert.equal(invoke.length, 1);
      assert.equal(invoke[0].Action, 'execute-api:Invoke');
      const resource = JSON.stringify(invoke[0].Resource);
      assert.match(resource, /^\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":execute-api:us-west-2:",\{"Ref":"AWS::AccountId"\},":",\{"Fn::ImportValue":"HttpGatewayStack:ExportsOutputRefGatewayApi[0-9A-F]+"\},"\/\$default\/\*\/iam\/\*"\]\]\}$/);
    });

    test(`${name}: the role has the fixed name the MLflow stack admits on the IAM route, as its SageMaker user`, () => {
      const [[, role]] = resourcesOfType(template, 'AWS::IAM::Role');
      assert.equal(role.Properties.RoleName, `mlflow-lab-${name}-us-west-2`);
      const principals = JSON.stringify(taskContract({ sagemaker: 'both' }).proxy.environment.MLFLOW_IAM_PRINCIPALS);
      assert.ok(principals.includes(`:role/mlflow-lab-${name}-us-west-2=sagemaker-${name}`), principals);
    });

    test(`${name}: DescribeStacks on the platform's own stacks only`, () => {
      const [statement] = roleStatements(template).filter((s) => s.Sid === 'ReadPlatformStackOutputs');
      assert.deepEqual(statement.Action, 'cloudformation:DescribeStacks');
      const resources = JSON.stringify(statement.Resource);
      assert.match(resources, /stack\/HttpGatewayStack\/\*/);
      assert.match(resources, /stack\/MLflowVpcStack\/\*/);
      assert.equal([statement.Resource].flat().length, 2);
    });

    test(`${name}: ECR: pulls images and looks up the serving image, pushes nothing (the platform builds the serving image in CodeBuild)`, () => {
      const statements = roleStatements(template);
      const ecrActions = statements.flatMap((s) => [s.Action].flat()).filter((a: string) => a.startsWith('ecr:')).sort();
      assert.deepEqual(ecrActions, ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:GetAuthorizationToken', 'ecr:GetDownloadUrlForLayer']);
      const find = statements.find((s) => s.Sid === 'FindMlflowServingImage');
      assert.match(JSON.stringify(find.Resource), /:repository\/mlflow-pyfunc"/);
    });

    test(`${name}: SageMaker scoped to this account and region; PassRole only to SageMaker, only itself`, () => {
      const statements = roleStatements(template);
      const sagemaker = statements.find((s) => s.Sid === 'SageMakerInThisAccountAndRegion');
      assert.match(JSON.stringify(sagemaker.Resource), /:sagemaker:us-west-2:.*AWS::AccountId.*:\*/);
      const pass = statements.find((s) => s.Sid === 'PassThisRoleToSageMaker');
      assert.deepEqual(pass.Condition, { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } });
      assert.match(JSON.stringify(pass.Resource), /ExecutionRole/);
    });
  }
});

describe('SageMakerNotebookInstanceStack', () => {
  test('instance in a private subnet, no direct internet, encrypted volume, no root', () => {
    notebook.hasResourceProperties('AWS::SageMaker::NotebookInstance', {
      InstanceType: 'ml.t3.medium',
      DirectInternetAccess: 'Disabled',
      RootAccess: 'Disabled',
      KmsKeyId: { Ref: Match.stringLikeRegexp('VolumeKey') },
      SubnetId: { 'Fn::ImportValue': Match.stringLikeRegexp('privateSubnet1') },
      VolumeSizeInGB: 20,
    });
    notebook.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('runs on Amazon Linux 2023 (notebook-al2023-v1): AL2 notebook instances cannot be started after 2026-06-30', () => {
    assert.equal(NOTEBOOK_PLATFORM, 'notebook-al2023-v1');
    notebook.hasResourceProperties('AWS::SageMaker::NotebookInstance', { PlatformIdentifier: 'notebook-al2023-v1' });
  });

  test('the instance is named after its platform, so a platform change (create-only) can replace it under a new name', () => {
    assert.equal(NOTEBOOK_INSTANCE_NAME, 'mlflow-lab-al2023-v1');
    notebook.hasResourceProperties('AWS::SageMaker::NotebookInstance', { NotebookInstanceName: NOTEBOOK_INSTANCE_NAME, PlatformIdentifier: NOTEBOOK_PLATFORM });
    // The previous release's instance: mlflow-lab on notebook-al2-v3. Any other platform gives another name.
    assert.notEqual(NOTEBOOK_INSTANCE_NAME, 'mlflow-lab');
    assert.equal(notebookInstanceName('notebook-al2-v3'), 'mlflow-lab-al2-v3');
    assert.equal(notebookInstanceName('notebook-al2023-v2'), 'mlflow-lab-al2023-v2');
    assert.throws(() => notebookInstanceName('al2023'), /Unknown notebook platform al2023/);
  });

  test('an instance type AL2023 notebook instances do not offer is refused at synth', () => {
    for (const type of ['ml.p3.2xlarge', 'ml.p2.xlarge', 'ml.g3.4xlarge', 'ml.inf1.xlarge', 'ml.p3dn.24xlarge']) {
      assert.throws(() => buildTestPlatform({ sagemaker: 'notebook', notebookInstanceType: type }), new RegExp(`${type.replace(/\./g, '\\.')} is not supported on notebook-al2023-v1`));
    }
  });

  test('instance type and volume size are configurable', () => {
    Template.fromStack(buildTestPlatform({ sagemaker: 'notebook', notebookInstanceType: 'ml.m5.xlarge', notebookVolumeSizeGiB: 50 }).notebook!)
      .hasResourceProperties('AWS::SageMaker::NotebookInstance', { InstanceType: 'ml.m5.xlarge', VolumeSizeInGB: 50 });
  });

  test('the lifecycle script gets the IAM route from the gateway stack, SigV4 on, the pinned client, and no credential', () => {
    const [[, config]] = resourcesOfType(notebook, 'AWS::SageMaker::NotebookInstanceLifecycleConfig');
    const script = JSON.stringify(config.Properties.OnStart[0].Content['Fn::Base64']);
    assert.match(script, /MLFLOW_TRACKING_URI=https:\/\//);
    assert.match(script, /HttpGatewayStack:ExportsOutputRefGatewayApi[0-9A-F]+"\},".execute-api.us-west-2.",\{"Ref":"AWS::URLSuffix"\},"\/iam\\nexport AWS_DEFAULT_REGION=us-west-2\\n/);
    // SigV4 (the provider) in the MLflow lab kernel's kernel.json, not for every kernel, server and shell.
    assert.match(script, /\\"MLFLOW_TRACKING_AUTH\\": \\"aws-sigv4\\"/);
    assert.doesNotMatch(script, /export MLFLOW_TRACKING_AUTH|Environment=MLFLOW_TRACKING_AUTH/);
    assert.doesNotMatch(script, /MLFLOW_CREDENTIALS_SECRET_NAME|mlflow-server-credentials/);
    // The client pinned to the server's default release, and the SDK to the lab's; no package without an exact pin.
    assert.ok(script.includes(`mlflow==${DEFAULT_CONFIG.mlflowVersion}`), script);
    assert.ok(script.includes(`sagemaker==${SAGEMAKER_SDK_VERSION}`), script);
    const installs = [...script.matchAll(/pip install --quiet (.+?)\\n/g)].map((m) => m[1].split(' '));
    assert.equal(installs.length, 1, script);
    // The pins and ipykernel, and the lab's SigV4 provider from the source the script writes (not an index).
    assert.equal(installs[0].pop(), '\\"$LAB_DIR/mlflow-sigv4\\"');
    for (const requirement of installs[0]) assert.match(requirement, /^[a-z0-9-]+==\d+(\.\d+)+$/, `unpinned install ${requirement}`);
    assert.deepEqual(installs[0], [`mlflow==${DEFAULT_CONFIG.mlflowVersion}`, `sagemaker==${SAGEMAKER_SDK_VERSION}`, `ipykernel==${IPYKERNEL_VERSION}`]);
    assert.doesNotMatch(script, /resolve:secretsmanager|MLFLOW_TRACKING_PASSWORD|get-secret-value/);
  });

  describe('the lifecycle script, run against a stand-in notebook instance', () => {
    const settings = { trackingUri: 'https://abc123.execute-api.us-west-2.amazonaws.com/iam', mlflowVersion: '3.17.2', region: 'us-west-2' };
    const roots: string[] = [];
    after(() => roots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

    /**
     * Runs the script with its paths moved under a temporary folder and stand-ins for systemctl (knowing only
     * `unit`), chown, sudo and the conda environment's python, each logging its arguments.
     */
    function runOnStart(options: { unit?: string; condaEnv?: boolean }) {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'onstart-'));
      roots.push(root);
      const bin = path.join(root, 'bin');
      const home = path.join(root, 'home', 'ec2-user');
      const calls = path.join(root, 'calls.log');
      fs.mkdirSync(bin, { recursive: true });
      fs.mkdirSync(path.join(root, 'profile.d'), { recursive: true });
      fs.mkdirSync(home, { recursive: true });
      const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >> "${calls}"\n${body}\n`, { mode: 0o755 });
      stub('systemctl', `if [ "$1" = cat ]; then [ "$2" = "${options.unit ?? 'none'}" ]; exit; fi`);
      stub('chown', '');
      stub('sudo', 'shift 3; exec "$@"');
      if (options.condaEnv !== false) {
        const envBin = path.join(home, 'anaconda3', 'envs', 'python3', 'bin');
        fs.mkdirSync(envBin, { recursive: true });
        fakePython(path.join(envBin, 'python'), calls);
      }
      const script = onStartScript(settings)
        .replace(/^NOTEBOOK_HOME=.*$/m, `NOTEBOOK_HOME=${home}`)
        .replace(/^SYSTEMD_DIR=.*$/m, `SYSTEMD_DIR=${root}/systemd`)
        .replace(/^PROFILE_DIR=.*$/m, `PROFILE_DIR=${root}/profile.d`);
      const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
      // The pip install runs in the background: wait (bounded) for its stand-in to log.
      const deadline = Date.now() + 5_000;
      const log = () => (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8') : '');
      const read = (p: string) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : undefined);
      const installed = () => /^installed: /m.test(read(path.join(home, 'mlflow-client-install.log')) ?? '');
      while (options.condaEnv !== false && !installed() && Date.now() < deadline) spawnSync('sleep', ['0.05']);
      return { result, root, home, calls: log(), read };
    }

    test('the Jupyter unit gets a drop-in and a restart, kernels an IPython startup file, shells a profile script', () => {
      const run = runOnStart({ unit: 'jupyter-server.service' });
      assert.equal(run.result.status, 0, run.result.stderr);
      const dropIn = run.read(path.join(run.root, 'systemd', 'jupyter-server.service.d', 'mlflow.conf'));
      // The URI and the region for every kernel and terminal; SigV4 only where the provider is (see below).
      assert.equal(dropIn, '[Service]\nEnvironment=MLFLOW_TRACKING_URI=https://abc123.execute-api.us-west-2.amazonaws.com/iam\nEnvironment=AWS_DEFAULT_REGION=us-west-2\n');
      assert.match(run.calls, /^systemctl daemon-reload$/m);
      assert.match(run.calls, /^systemctl restart jupyter-server\.service --no-block$/m);
      const startup = run.read(path.join(run.home, '.ipython', 'profile_default', 'startup', '00-mlflow.py'))!;
      const startKernel = (pythonPath?: string) => spawnSync('python3', ['-c', `${startup}\nimport os\nprint(os.environ["MLFLOW_TRACKING_URI"], os.environ.get("MLFLOW_TRACKING_AUTH"), os.environ["AWS_DEFAULT_REGION"])`], { encoding: 'utf8', env: pythonPath ? { PYTHONPATH: pythonPath } : {} });
      // A kernel without the SigV4 provider (conda_python3): no MLFLOW_TRACKING_AUTH naming a provider it lacks.
      assert.equal(startKernel().stdout.trim(), 'https://abc123.execute-api.us-west-2.amazonaws.com/iam None us-west-2', startKernel().stderr);
      // A kernel with it (its module importable): SigV4.
      const withProvider = fs.mkdtempSync(path.join(run.root, 'provider-'));
      fs.writeFileSync(path.join(withProvider, `${SIGV4_PROVIDER_MODULE}.py`), '');
      assert.equal(startKernel(withProvider).stdout.trim(), 'https://abc123.execute-api.us-west-2.amazonaws.com/iam aws-sigv4 us-west-2', startKernel(withProvider).stderr);
      const profile = run.read(path.join(run.root, 'profile.d', 'mlflow.sh'))!;
      assert.match(profile, /^export MLFLOW_TRACKING_URI=https:\/\/abc123/m);
      assert.doesNotMatch(profile, /MLFLOW_TRACKING_AUTH/);
      assert.match(run.calls, new RegExp(`^chown -R ec2-user:ec2-user ${run.home}/\\.ipython$`, 'm'));
      // Exactly the lab's pins (src/lib/sagemaker/lab-packages.ts) and ipykernel, nothing unpinned, in a venv of its own on the
      // instance's volume, made from conda_python3's Python, whose environment gets no install; a line in the log once done.
      const labDir = `${run.home}/SageMaker/.mlflow-lab`;
      const pins = `mlflow==3\\.17\\.2 sagemaker==${SAGEMAKER_SDK_VERSION.replace(/\./g, '\\.')} ipykernel==${IPYKERNEL_VERSION.replace(/\./g, '\\.')} ${labDir}/mlflow-sigv4`;
      assert.match(run.calls, new RegExp(`^${run.home}/anaconda3/envs/python3/bin/python -m venv ${labDir}/venv$`, 'm'));
      assert.match(run.calls, new RegExp(`^${labDir}/venv/bin/python -m pip install --quiet ${pins}$`, 'm'));
      assert.doesNotMatch(run.calls, /anaconda3\/envs\/python3\/bin\/python -m pip/, 'nothing installed into the shared conda environment');
      assert.match(run.read(path.join(run.home, 'mlflow-client-install.log')) ?? '', new RegExp(`^installed: ${pins} in ${labDir}/venv, kernel mlflow-lab$`, 'm'));
      // The "MLflow lab" kernel, registered for the notebook user, runs the venv's Python with the MLflow settings.
      const kernel = JSON.parse(run.read(path.join(run.home, '.local', 'share', 'jupyter', 'kernels', LAB_KERNEL_NAME, 'kernel.json'))!);
      assert.deepEqual(kernel, {
        argv: [`${labDir}/venv/bin/python`, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        display_name: 'MLflow lab',
        language: 'python',
        env: { MLFLOW_TRACKING_URI: settings.trackingUri, MLFLOW_TRACKING_AUTH: 'aws-sigv4', AWS_DEFAULT_REGION: 'us-west-2' },
      });
      assert.match(run.calls, new RegExp(`^sudo -u ec2-user -H bash ${labDir}/setup-kernel\\.sh `, 'm'), 'set up as the notebook user');
      assert.match(run.calls, new RegExp(`^chown -R ec2-user:ec2-user ${labDir}$`, 'm'));
      // The provider's source, written by the script, is the repository's (lab/training/mlflow-sigv4).
      for (const file of SIGV4_PROVIDER_FILES) {
        assert.equal(run.read(path.join(labDir, 'mlflow-sigv4', file)), fs.readFileSync(path.join(SIGV4_PROVIDER_SOURCE, file), 'utf8'), file);
      }
      // The kernel's set-up script, written by the lifecycle script, is itself clean for bash and shellcheck.
      const setup = path.join(labDir, 'setup-kernel.sh');
      assert.equal(spawnSync('bash', ['-n', setup]).status, 0);
      const lint = spawnSync('shellcheck', ['--shell=bash', setup], { encoding: 'utf8' });
      assert.equal(lint.error, undefined, 'shellcheck must be installed (CI installs it)');
      assert.equal(lint.status, 0, lint.stdout);
    });

    test('another Jupyter unit name is found, not assumed', () => {
      const run = runOnStart({ unit: 'jupyterlab.service' });
      assert.equal(run.result.status, 0, run.result.stderr);
      assert.ok(run.read(path.join(run.root, 'systemd', 'jupyterlab.service.d', 'mlflow.conf')));
      assert.match(run.calls, /^systemctl restart jupyterlab\.service --no-block$/m);
    });

    test('no known Jupyter unit and no python3 conda environment: the start still succeeds, says so, and kernels keep the settings', () => {
      const run = runOnStart({ condaEnv: false });
      assert.equal(run.result.status, 0, run.result.stderr);
      assert.match(run.result.stderr, /mlflow: no Jupyter systemd unit/);
      assert.match(run.result.stderr, /mlflow: no Python at .*anaconda3\/envs\/python3\/bin\/python; set the lab's kernel up in a terminal: bash \S+\/SageMaker\/\.mlflow-lab\/setup-kernel\.sh /m);
      assert.doesNotMatch(run.calls, /setup-kernel/);
      assert.doesNotMatch(run.calls, /restart/);
      assert.ok(run.read(path.join(run.home, '.ipython', 'profile_default', 'startup', '00-mlflow.py')));
    });
  });

  test('the lifecycle script is clean for shellcheck', () => {
    const script = onStartScript({ trackingUri: 'https://abc123.execute-api.us-west-2.amazonaws.com/iam', mlflowVersion: '3.13.0', region: 'us-west-2' });
    const result = spawnSync('shellcheck', ['--shell=bash', '-'], { input: script, encoding: 'utf8' });
    assert.equal(result.error, undefined, 'shellcheck must be installed (CI installs it)');
    assert.equal(result.status, 0, result.stdout);
  });
});
