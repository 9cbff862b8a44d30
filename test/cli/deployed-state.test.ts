import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Stack } from '@aws-sdk/client-cloudformation';
import { Template } from 'aws-cdk-lib/assertions';
import { Target } from '../../src/cli/aws';
import { checkTransition, chooseDatabase, DATABASE_ENGINES_DOC, readDeployedState } from '../../src/cli/deployed-state';
import { givenDatabase } from '../../src/cli/aws';
import { EXIT } from '../../src/cli/errors';
import { resolvePlatformConfig, SETTING_NAMES } from '../../src/app/config/platform-config';
import { NOTEBOOK_INSTANCE_NAME, NOTEBOOK_PLATFORM } from '../../src/lib/sagemaker/notebook-instance';
import { buildTestPlatform } from '../support/synth';
import { ACCOUNT, ARN, DEPLOYED_TEMPLATES, harness, Harness, HarnessOptions, NODE_PATH, outputs, setStacks, setTemplates } from './helpers';

const TOOLKIT = { CDKToolkit: { Outputs: outputs({ BootstrapVersion: '27' }) } };
const BUCKET = 'mlflow-artifacts-123456789012-us-west-2';
const MLFLOW_STACK: Partial<Stack> = { Outputs: outputs({ ArtifactBucketName: BUCKET }) };

/** The notebook stack as the previous release deployed it: mlflow-lab on Amazon Linux 2. */
const AL2_NOTEBOOK = {
  Resources: {
    Instance: { Type: 'AWS::SageMaker::NotebookInstance', Properties: { NotebookInstanceName: 'mlflow-lab', PlatformIdentifier: 'notebook-al2-v3' } },
  },
};
/** The notebook stack of this release. */
const CURRENT_NOTEBOOK = {
  Resources: {
    Instance: { Type: 'AWS::SageMaker::NotebookInstance', Properties: { NotebookInstanceName: NOTEBOOK_INSTANCE_NAME, PlatformIdentifier: NOTEBOOK_PLATFORM } },
  },
};
/** A Studio stack with a domain of its own, encrypted with its customer managed key (standard) or the AWS managed one (lean). */
const STUDIO_CUSTOMER_KEY = { Resources: { Domain: { Type: 'AWS::SageMaker::Domain', Properties: { KmsKeyId: { 'Fn::GetAtt': ['StudioStorageKey', 'Arn'] } } } } };
const STUDIO_AWS_KEY = { Resources: { Domain: { Type: 'AWS::SageMaker::Domain', Properties: { DomainName: 'mlflow-studio' } } } };
/** A Studio stack that only adds a profile to an existing domain (domainId). */
const STUDIO_PROFILE_ONLY = { Resources: { Profile: { Type: 'AWS::SageMaker::UserProfile', Properties: {} } } };

function runner(): NonNullable<HarnessOptions['runner']> {
  return (call) => (call.command === 'docker' ? { exitCode: 0, stdout: '28.2.2', stderr: '' } : { exitCode: 0, stdout: '', stderr: '' });
}

/** A bootstrapped target with these stacks deployed (name -> template). */
function deployed(stacks: Record<string, object>, options: HarnessOptions = {}): Harness {
  const h = harness({ runner: runner(), ...options });
  setStacks(h.mocks, { ...TOOLKIT, ...Object.fromEntries(Object.keys(stacks).map((name) => [name, name === 'MLflowVpcStack' ? MLFLOW_STACK : {}])) });
  setTemplates(h.mocks, stacks);
  return h;
}

function cdkDeploys(h: Harness): number {
  return h.runs.filter((r) => r.command === NODE_PATH && r.args[1] === 'deploy').length;
}

describe('deploy reads the deployed templates the way this app synthesizes them', () => {
  const targetOf = (h: Harness, settings: Record<string, string>): Target => ({
    config: resolvePlatformConfig(settings), clients: h.deps.clients({ region: 'us-west-2' }), region: 'us-west-2', account: ACCOUNT, arn: ARN,
  });

  for (const settings of [{ sagemaker: 'both' }, { sagemaker: 'both', profile: 'lean' }] as Array<Record<string, string>>) {
    it(`${JSON.stringify(settings)}: profile, Studio key and notebook read back, and deploying it over itself is not refused`, async () => {
      const platform = buildTestPlatform(settings);
      const templates = {
        MLflowVpcStack: Template.fromStack(platform.mlflow).toJSON(),
        HttpGatewayStack: Template.fromStack(platform.gateway).toJSON(),
        SageMakerStudioUserStack: Template.fromStack(platform.studio!).toJSON(),
        SageMakerNotebookInstanceStack: Template.fromStack(platform.notebook!).toJSON(),
      };
      const h = deployed(templates);
      const target = targetOf(h, settings);
      const state = await readDeployedState(target);
      assert.equal(state.mlflow?.profile, target.config.profile);
      assert.equal(state.mlflow?.artifactBucket, BUCKET);
      // The engine the configuration resolves (aurora until the setting exists) is the one read back from the template.
      assert.equal(state.mlflow?.database, (target.config as { database?: string }).database ?? 'aurora');
      assert.equal(state.studioDomainKey, target.config.studioStorageKey);
      assert.deepEqual(state.notebook, { name: NOTEBOOK_INSTANCE_NAME, platform: NOTEBOOK_PLATFORM });
      assert.deepEqual(checkTransition(state, target.config, { replaceNotebook: false }), { notes: [] });
    });
  }
});

describe('deploy: notebook instance replaced by a platform change (finding 2)', () => {
  it('the previous release\'s mlflow-lab on notebook-al2-v3: refuses, saying the volume is deleted and how to copy the notebooks to S3', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.standard, HttpGatewayStack: DEPLOYED_TEMPLATES.gateway, SageMakerNotebookInstanceStack: AL2_NOTEBOOK });
    assert.equal(await h.run('deploy', '-c', 'sagemaker=notebook'), EXIT.usage);
    const text = h.err.join('\n');
    assert.match(text, /notebook instance mlflow-lab \(notebook-al2-v3\) is replaced by mlflow-lab-al2023-v1 \(notebook-al2023-v1, which only a new instance can get\): mlflow-lab is deleted with its volume and every notebook on it\./);
    assert.ok(text.includes(`in a terminal of mlflow-lab (start it if stopped; JupyterLab: File > New > Terminal): aws s3 sync /home/ec2-user/SageMaker s3://${BUCKET}/notebook-backup/mlflow-lab/ --exclude "lost+found/*" ; then deploy again with --replace-notebook`), text);
    assert.equal(cdkDeploys(h), 0);
  });

  it('--replace-notebook: deploys, and says what is deleted and how to copy the notebooks back', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.standard, HttpGatewayStack: DEPLOYED_TEMPLATES.gateway, SageMakerNotebookInstanceStack: AL2_NOTEBOOK });
    assert.equal(await h.run('deploy', '-c', 'sagemaker=notebook', '--replace-notebook'), EXIT.ok, h.text());
    assert.equal(cdkDeploys(h), 1);
    assert.ok(h.err.join('\n').includes(`mlflow-lab is deleted with its volume and every notebook on it (--replace-notebook). Copy the notebooks back in a terminal of mlflow-lab-al2023-v1: aws s3 sync s3://${BUCKET}/notebook-backup/mlflow-lab/ /home/ec2-user/SageMaker/`), h.text());
  });

  it('a notebook of this release, or none, or sagemaker without notebook: deploys without asking', async () => {
    for (const [stacks, sagemaker] of [
      [{ SageMakerNotebookInstanceStack: CURRENT_NOTEBOOK }, 'notebook'],
      [{}, 'notebook'],
      [{ SageMakerNotebookInstanceStack: AL2_NOTEBOOK }, 'studio'],
    ] as const) {
      const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.standard, ...stacks });
      assert.equal(await h.run('deploy', '-c', `sagemaker=${sagemaker}`), EXIT.ok, h.text());
      assert.equal(cdkDeploys(h), 1);
    }
  });

  it('a notebook stack whose first create rolled back (no resources) is no reason to refuse', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.standard, SageMakerNotebookInstanceStack: AL2_NOTEBOOK });
    setStacks(h.mocks, { ...TOOLKIT, MLflowVpcStack: MLFLOW_STACK, SageMakerNotebookInstanceStack: { StackStatus: 'ROLLBACK_COMPLETE' } });
    assert.equal(await h.run('deploy', '-c', 'sagemaker=notebook'), EXIT.ok, h.text());
  });
});

describe('deploy: profile moves (finding 3)', () => {
  it('standard -> lean with the gateway and SageMaker stacks deployed: refuses with the steps (back up, destroy --keep-mlflow-stack, deploy)', async () => {
    const h = deployed({
      MLflowVpcStack: DEPLOYED_TEMPLATES.standard,
      HttpGatewayStack: DEPLOYED_TEMPLATES.gateway,
      SageMakerStudioUserStack: STUDIO_CUSTOMER_KEY,
      SageMakerNotebookInstanceStack: CURRENT_NOTEBOOK,
    });
    assert.equal(await h.run('deploy', '-c', 'profile=lean', '-c', 'sagemaker=both'), EXIT.usage);
    const text = h.err.join('\n');
    assert.match(text, /MLflowVpcStack was deployed with profile=standard \(it has a load balancer\) and the configuration says profile=lean: CloudFormation cannot move it while HttpGatewayStack, SageMakerStudioUserStack, SageMakerNotebookInstanceStack are deployed/);
    assert.match(text, /the move would replace the Studio domain and the notebook instance mlflow-lab-al2023-v1\./);
    assert.ok(text.includes(`notebook instance mlflow-lab-al2023-v1: aws s3 sync /home/ec2-user/SageMaker s3://${BUCKET}/notebook-backup/mlflow-lab-al2023-v1/`), text);
    assert.ok(text.includes(`each Studio space: aws s3 sync /home/sagemaker-user s3://${BUCKET}/studio-backup/SPACE_NAME/`), text);
    assert.match(text, /npx mlflow-on-aws destroy --keep-mlflow-stack \(deletes the gateway and SageMaker stacks; the database, its subnets and the artifact bucket stay\), then deploy with profile=lean\./);
    assert.match(text, /To stay: -c profile=standard\./);
    assert.equal(cdkDeploys(h), 0);
  });

  it('lean -> standard with the gateway deployed: refuses the same way', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.lean, HttpGatewayStack: DEPLOYED_TEMPLATES.gateway });
    assert.equal(await h.run('deploy', '-c', 'sagemaker=none'), EXIT.usage);
    const text = h.err.join('\n');
    assert.match(text, /MLflowVpcStack was deployed with profile=lean \(it has no load balancer\) and the configuration says profile=standard: CloudFormation cannot move it while HttpGatewayStack is deployed/);
    assert.doesNotMatch(text, /copy the notebooks/);
    assert.match(text, /To stay: -c profile=lean\./);
    assert.equal(cdkDeploys(h), 0);
  });

  it('only MLflowVpcStack left (after destroy --keep-mlflow-stack): the move goes ahead, saying what stays', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.standard });
    assert.equal(await h.run('deploy', '-c', 'profile=lean'), EXIT.ok, h.text());
    assert.match(h.err.join('\n'), /MLflowVpcStack moves from profile=standard to profile=lean \(network, load balancer, tasks\); the database, its subnets and the artifact bucket stay\./);
    assert.equal(cdkDeploys(h), 1);
  });

  it('same profile: deploys', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.lean, HttpGatewayStack: DEPLOYED_TEMPLATES.gateway, SageMakerStudioUserStack: STUDIO_AWS_KEY });
    assert.equal(await h.run('deploy', '-c', 'profile=lean'), EXIT.ok, h.text());
    assert.equal(cdkDeploys(h), 1);
  });
});

describe('deploy: the Studio domain keeps its storage key (finding 3)', () => {
  it('a domain with the customer managed key and studioStorageKey=aws-managed: refuses, naming the setting that keeps it', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.standard, SageMakerStudioUserStack: STUDIO_CUSTOMER_KEY });
    assert.equal(await h.run('deploy', '-c', 'studioStorageKey=aws-managed'), EXIT.usage);
    const text = h.err.join('\n');
    assert.match(text, /The Studio domain of SageMakerStudioUserStack encrypts its home directories with a customer managed KMS key, and studioStorageKey=aws-managed would replace the domain \(its KmsKeyId cannot change\)/);
    assert.match(text, /Keep the key: -c studioStorageKey=customer-managed/);
    assert.equal(cdkDeploys(h), 0);
  });

  it('a lean domain (AWS managed key) and studioStorageKey=customer-managed: refuses, naming aws-managed', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.lean, SageMakerStudioUserStack: STUDIO_AWS_KEY });
    assert.equal(await h.run('deploy', '-c', 'profile=lean', '-c', 'studioStorageKey=customer-managed'), EXIT.usage);
    assert.match(h.err.join('\n'), /encrypts its home directories with the AWS managed key, and studioStorageKey=customer-managed would replace the domain[^\n]*\nKeep the key: -c studioStorageKey=aws-managed/);
  });

  it('the key kept, or a profile only in an existing domain (domainId): deploys', async () => {
    const kept = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.lean, SageMakerStudioUserStack: STUDIO_CUSTOMER_KEY });
    assert.equal(await kept.run('deploy', '-c', 'profile=lean', '-c', 'studioStorageKey=customer-managed'), EXIT.ok, kept.text());
    const existing = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.standard, SageMakerStudioUserStack: STUDIO_PROFILE_ONLY });
    assert.equal(await existing.run('deploy', '-c', 'studioStorageKey=aws-managed', '--domain-id', 'd-aaaaaaaaaaaa'), EXIT.ok, existing.text());
  });
});

describe('deploy: the database engine stays the deployed one', () => {
  const cdkArgs = (h: Harness): string[] => h.runs.find((r) => r.command === NODE_PATH && r.args[1] === 'deploy')?.args.slice(1) ?? [];

  it('an Aurora deployment, database not given: cdk gets -c database=aurora (lean\'s default engine never moves it)', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.lean });
    assert.equal(await h.run('deploy', '-c', 'profile=lean'), EXIT.ok, h.text());
    assert.deepEqual(cdkArgs(h).slice(-4), ['-c', 'profile=lean', '-c', 'database=aurora']);
  });

  it('a sqlite deployment, database not given: cdk gets -c database=sqlite; its replica bucket is read', async () => {
    const h = deployed({ MLflowVpcStack: DEPLOYED_TEMPLATES.leanSqlite });
    setStacks(h.mocks, { ...TOOLKIT, MLflowVpcStack: { Outputs: outputs({ ArtifactBucketName: BUCKET, DatabaseReplicaBucketName: 'mlflow-db-replica' }) } });
    assert.equal(await h.run('deploy', '-c', 'profile=lean'), EXIT.ok, h.text());
    assert.deepEqual(cdkArgs(h).slice(-2), ['-c', 'database=sqlite']);
    const state = await readDeployedState({ config: resolvePlatformConfig({ profile: 'lean' }), clients: h.deps.clients({ region: 'us-west-2' }), region: 'us-west-2', account: ACCOUNT, arn: ARN });
    assert.deepEqual({ database: state.mlflow?.database, replica: state.mlflow?.databaseReplicaBucket }, { database: 'sqlite', replica: 'mlflow-db-replica' });
  });

  it('nothing deployed: no pin (the configuration chooses)', async () => {
    const h = deployed({});
    assert.equal(await h.run('deploy'), EXIT.ok, h.text());
    assert.ok(!cdkArgs(h).some((arg) => arg.startsWith('database=')), cdkArgs(h).join(' '));
  });

  // Runs once the `database` setting exists (src/app/config/settings.ts): until then `-c database=...` is an unknown setting.
  it('deploy -c database=<the other engine> over a deployed stack: refused in one line, cdk not run', { skip: !(SETTING_NAMES as readonly string[]).includes('database') && 'no database setting yet' }, async () => {
    for (const [template, other] of [[DEPLOYED_TEMPLATES.standard, 'sqlite'], [DEPLOYED_TEMPLATES.leanSqlite, 'aurora']] as const) {
      const h = deployed({ MLflowVpcStack: template });
      assert.equal(await h.run('deploy', '-c', 'profile=lean', '-c', `database=${other}`), EXIT.usage, h.text());
      assert.match(h.err.join('\n'), new RegExp(`and database=${other} would start an empty store: no command moves the data between engines yet`));
      assert.equal(cdkDeploys(h), 0);
    }
  });

  it('chooseDatabase: not given, the deployed engine is pinned, with one line when the default differs', () => {
    assert.deepEqual(chooseDatabase('aurora', undefined, 'aurora'), { pin: 'aurora' });
    assert.deepEqual(chooseDatabase('sqlite', undefined, undefined), { pin: 'sqlite' });
    const kept = chooseDatabase('aurora', undefined, 'sqlite');
    assert.equal(kept.pin, 'aurora');
    assert.equal(kept.note, `MLflowVpcStack keeps its database engine: database=aurora (deployed so; the configuration's default is sqlite). The other engine, and why a deployment keeps its own: ${DATABASE_ENGINES_DOC}.`);
    assert.ok(!kept.note!.includes('\n'));
    assert.deepEqual(chooseDatabase(undefined, undefined, 'sqlite'), {}, 'nothing deployed: nothing pinned');
    assert.deepEqual(chooseDatabase(undefined, 'sqlite', 'sqlite'), {});
  });

  it('chooseDatabase: the other engine given explicitly is refused in one line (no command moves the data); the same one passes', () => {
    for (const [deployedEngine, given] of [['aurora', 'sqlite'], ['sqlite', 'aurora']] as const) {
      const { refusal, pin } = chooseDatabase(deployedEngine, given, given);
      assert.equal(pin, undefined);
      assert.equal(refusal?.exitCode, EXIT.usage);
      assert.equal(refusal?.message, `MLflowVpcStack keeps MLflow's data in database=${deployedEngine}, and database=${given} would start an empty store: no command moves the data between engines yet.`);
      assert.equal(refusal?.hint, `Keep the engine (-c database=${deployedEngine}, or leave database unset), or deploy a new platform (another account or region) with database=${given}.`);
    }
    assert.deepEqual(chooseDatabase('sqlite', 'sqlite', 'sqlite'), {});
  });

  it('givenDatabase: -c, then cdk.json, else not given', () => {
    const files = harness({ cdkContext: { database: 'sqlite' } });
    assert.equal(givenDatabase(files.deps, {}), 'sqlite');
    assert.equal(givenDatabase(files.deps, { database: 'aurora' }), 'aurora');
    assert.equal(givenDatabase(harness().deps, {}), undefined);
    // Empty is not given, as the configuration resolves it (its default), whether on the command line or in cdk.json.
    assert.equal(givenDatabase(harness().deps, { database: '' }), undefined);
    assert.equal(givenDatabase(harness({ cdkContext: { database: '' } }).deps, {}), undefined);
  });
});
