/**
 * The SageMaker lab notebook, run as far as it runs off AWS: every code cell of lab/sagemaker_mlflow_lab.ipynb,
 * unchanged, in the lab's own Python environment (lab/requirements.txt: the MLflow client and SageMaker Python SDK v3
 * pins), against the end-to-end stack (the real MLflow behind the real proxy, on MariaDB) and moto's server standing in
 * for CloudFormation, IAM, Secrets Manager, S3, ECR and SageMaker. A renamed SDK class, a wrong argument or a
 * hyperparameter the training script does not take fails here.
 *
 * What moto does not do, test/e2e/clients/lab_aws_standin.py does: it runs each training job the notebook submits as
 * SageMaker would (the SDK's own job driver, sm_train.sh, from the request's container entry point, with the channels,
 * hyperparameters and environment of the request, in a private /opt/ml), and answers each endpoint invocation with the
 * predictions of the model the endpoint was created with. Not run: the SageMaker scikit-learn image itself (the lab's
 * environment plays the image), the serving image's scoring server (MLflow's scoring code in this process plays it),
 * CloudWatch logs and metrics, IAM enforcement.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SAGEMAKER_SDK_VERSION } from '../../src/config/lab-packages';
import { ensureLabPythonEnv, REPO_ROOT, type PythonEnv } from '../support/python-env';
import { STANDIN_REGION } from './support/aws-standin';
import { http } from './support/http';
import { startStack, type E2eStack } from './support/stack';

const LAB_DIR = join(REPO_ROOT, 'lab');
const CLIENTS = join(REPO_ROOT, 'test', 'e2e', 'clients');
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** What SageMaker's image registry for the scikit-learn 1.4-2 training image is in the stand-in's region. */
const SKLEARN_IMAGE = `246618743249.dkr.ecr.${STANDIN_REGION}.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3`;

interface Seeded { role_arn: string; notebook_instance_arn: string; metadata_dir: string; data_home: string }
interface Report {
  cells_run: number[];
  code_cells: number[];
  skipped_magics: string[];
  error: { cell: number; type: string; message: string; traceback: string } | null;
  training_jobs: Array<{ name: string; request: any; exit_code: number; failure: string; log: string; model_files: string[]; model_artifact?: string }>;
  invocations: Array<{ endpoint: string; request: any; response: any }>;
  aws_calls: string[];
  values: Record<string, any>;
}

let stack: E2eStack;
let lab: PythonEnv;
let seeded: Seeded;
let sdkConfig: string;

/** A private mount namespace (and a user namespace when not root), in which /opt is the test's own. */
function unsharePrefix(): string[] {
  const base = ['--mount', '--propagation', 'private'];
  return process.getuid?.() === 0 ? base : ['--user', '--map-root-user', ...base];
}

function spawnCollect(command: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The environment of the notebook's kernel: the stand-in's endpoint and credentials, and nothing of MLflow's. */
function kernelEnv(extra: Record<string, string> = {}): Record<string, string> {
  const aws = stack.aws.clientEnv();
  return {
    PATH: `${lab.bin}:${SYSTEM_PATH}`,
    HOME: stack.workDir,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    AWS_ENDPOINT_URL: aws.AWS_ENDPOINT_URL,
    MLFLOW_S3_ENDPOINT_URL: aws.MLFLOW_S3_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID: aws.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: aws.AWS_SECRET_ACCESS_KEY,
    AWS_DEFAULT_REGION: aws.AWS_DEFAULT_REGION,
    ...extra,
  };
}

/** Runs the whole notebook (lab_notebook.py) from a fresh copy of lab/, with /opt/ml/metadata as on a notebook instance. */
async function runNotebook(failOperation?: string): Promise<Report> {
  const work = mkdtempSync(join(stack.workDir, 'lab-run-'));
  cpSync(LAB_DIR, work, { recursive: true, filter: (source) => !/(\/data|__pycache__|\.ipynb_checkpoints)$/.test(source) });
  const reportPath = join(work, 'report.json');
  const mount = 'mount -t tmpfs tmpfs /opt && mkdir -p /opt/ml && cp -r "$LAB_METADATA_DIR" /opt/ml/metadata && exec "$@"';
  const run = await spawnCollect('unshare', [
    ...unsharePrefix(), '--', 'sh', '-c', mount, 'kernel',
    lab.python, join(CLIENTS, 'lab_notebook.py'), '--notebook', join(work, 'sagemaker_mlflow_lab.ipynb'), '--workdir', work, '--report', reportPath,
    ...(failOperation ? ['--fail-operation', failOperation] : []),
  ], kernelEnv({
    LAB_METADATA_DIR: seeded.metadata_dir,
    SCIKIT_LEARN_DATA: seeded.data_home,
    // No telemetry calls to AWS from the SDK (its documented opt-out, in a user configuration file).
    SAGEMAKER_USER_CONFIG_OVERRIDE: sdkConfig,
  }), 600_000);
  assert.equal(run.status, 0, `lab_notebook.py failed (${run.status}):\n${run.stdout.slice(-4000)}\n${run.stderr.slice(-8000)}`);
  return JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
}

/** Everything SageMaker could bill for, as the stand-in holds it. */
async function sagemakerResources() {
  return {
    endpoints: (await stack.aws.json('sagemaker', 'SageMaker.ListEndpoints', {})).Endpoints.map((e: any) => e.EndpointName),
    endpointConfigs: (await stack.aws.json('sagemaker', 'SageMaker.ListEndpointConfigs', {})).EndpointConfigs.map((c: any) => c.EndpointConfigName),
    models: (await stack.aws.json('sagemaker', 'SageMaker.ListModels', {})).Models.map((m: any) => m.ModelName),
  };
}

const NOTHING_BILLING = { endpoints: [], endpointConfigs: [], models: [] };

before(async () => {
  stack = await startStack();
  lab = ensureLabPythonEnv();
  await stack.aws.startRecording();
  const out = mkdtempSync(join(stack.workDir, 'lab-standin-'));
  sdkConfig = join(out, 'sagemaker-config.yaml');
  writeFileSync(sdkConfig, 'SchemaVersion: "1.0"\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n');
  const seed = await spawnCollect(lab.python, [
    join(CLIENTS, 'lab_aws_standin.py'), 'seed', '--settings', join(LAB_DIR, 'lab-settings.json'), '--out', out,
    '--tracking-uri', stack.proxy!.url, '--bucket', stack.bucket, '--secret-name', stack.secretName,
  ], kernelEnv(), 120_000);
  assert.equal(seed.status, 0, `${seed.stdout}\n${seed.stderr}`);
  seeded = JSON.parse(seed.stdout.trim().split('\n').pop()!) as Seeded;
});

after(async () => {
  await stack?.stop();
});

describe('the lab notebook on the SageMaker Python SDK v3, every cell, against the stand-ins', () => {
  let report: Report;
  let keysBefore: string[];

  before(async () => {
    keysBefore = await stack.aws.listKeys(stack.bucket);
    const started = Date.now();
    report = await runNotebook();
    console.log(`notebook run: ${((Date.now() - started) / 1000).toFixed(1)} s, cells ${report.cells_run.join(', ')}`);
  });

  it('runs every code cell without an error, the %pip line being what built its environment', () => {
    assert.equal(report.error, null, report.error ? `cell ${report.error.cell}: ${report.error.type}: ${report.error.message}\n${report.error.traceback}` : '');
    assert.deepEqual(report.cells_run, report.code_cells);
    assert.deepEqual(report.skipped_magics, ['%pip install --quiet -r requirements.txt']);
  });

  it('the kernel runs the pinned SageMaker SDK v3 and finds MLflow through the stack outputs and the secret, as on SageMaker', async () => {
    const versions = await spawnCollect(lab.python, ['-c', 'import importlib.metadata as m; print(m.version("sagemaker"), m.version("mlflow"))'], kernelEnv(), 60_000);
    assert.equal(versions.stdout.trim(), `${SAGEMAKER_SDK_VERSION} ${lab.mlflowVersion}`);
    assert.equal(report.values.role, seeded.role_arn, 'get_execution_role() resolved the notebook instance\'s role');
    assert.ok(report.aws_calls.includes('cloudformation:DescribeStacks'), report.aws_calls.join(' '));
    assert.ok(report.aws_calls.includes('secretsmanager:GetSecretValue'));
  });

  it('ModelTrainer submits one job: the scikit-learn 1.4-2 image, training/ as source code, the hyperparameters and environment, no secret', () => {
    assert.equal(report.training_jobs.length, 1);
    const [job] = report.training_jobs;
    const request = job.request;
    assert.equal(request.AlgorithmSpecification.TrainingImage, SKLEARN_IMAGE);
    assert.equal(report.values.training_image, SKLEARN_IMAGE);
    assert.equal(request.RoleArn, seeded.role_arn);
    assert.match(request.TrainingJobName, /^california-housing-rf-/);
    assert.equal(report.values.TRAINING_JOB_NAME, request.TrainingJobName);
    assert.deepEqual(request.ResourceConfig.InstanceType, 'ml.m5.large');
    assert.deepEqual(request.HyperParameters, { 'n-estimators': '200', 'max-depth': '16', 'min-samples-leaf': '3', 'random-state': '42', target: 'MedHouseVal' });
    assert.deepEqual(Object.keys(request.Environment).sort(), ['AWS_DEFAULT_REGION', 'LAB_MLFLOW_SECRET_NAME', 'LAB_REGISTERED_MODEL_NAME', 'MLFLOW_EXPERIMENT_NAME', 'MLFLOW_TRACKING_URI']);
    assert.doesNotMatch(JSON.stringify(request), new RegExp(stack.password.replace(/[^A-Za-z0-9]/g, '.')), 'the MLflow password is not in the job');
    const channels = request.InputDataConfig.map((c: any) => c.ChannelName).sort();
    assert.deepEqual(channels, ['code', 'sm_drivers', 'test', 'train']);
    for (const channel of request.InputDataConfig) {
      assert.ok(channel.DataSource.S3DataSource.S3Uri.startsWith(`s3://${stack.bucket}/${report.values.LAB_PREFIX}/`), channel.DataSource.S3DataSource.S3Uri);
    }
    assert.ok(request.OutputDataConfig.S3OutputPath.startsWith(`s3://${stack.bucket}/${report.values.LAB_PREFIX}/`));
    assert.ok(request.StoppingCondition.MaxRuntimeInSeconds <= 3600);
    assert.deepEqual(request.AlgorithmSpecification.MetricDefinitions.map((m: any) => m.Name), ['test_rmse', 'test_mae', 'test_r2']);
  });

  it('the job ran the SDK\'s driver, which installed training/requirements.txt and ran train.py with those hyperparameters', () => {
    const [job] = report.training_jobs;
    assert.equal(job.exit_code, 0, job.failure);
    const log = readFileSync(job.log, 'utf8');
    assert.match(log, /Installing requirements/);
    assert.match(log, /Executing command: .*train\.py --n-estimators 200 --max-depth 16 --min-samples-leaf 3 --random-state 42 --target MedHouseVal/);
    assert.match(log, /test_rmse=\d/);
    assert.ok(job.model_files.includes('mlflow-model/MLmodel'), job.model_files.join(', '));
    assert.ok(job.model_artifact?.endsWith(`/${job.name}/output/model.tar.gz`));
  });

  it('MLflow has the job\'s run (tags naming the job), the registered version and its alias', async () => {
    const auth = { authorization: stack.authorization() };
    const run = JSON.parse((await http(stack.proxy!.url, `/api/2.0/mlflow/runs/get?run_id=${report.values.RUN_ID}`, { headers: auth })).body).run;
    const tags = Object.fromEntries(run.data.tags.map((t: any) => [t.key, t.value]));
    assert.equal(tags['sagemaker.training_job_name'], report.values.TRAINING_JOB_NAME);
    assert.match(tags['sagemaker.training_job_arn'], /:training-job\/california-housing-rf-/);
    assert.equal(tags['sagemaker.endpoint_name'], report.values.ENDPOINT_NAME);
    assert.deepEqual(run.data.metrics.map((m: any) => m.key).filter((k: string) => k.startsWith('test_')).sort(), ['test_mae', 'test_r2', 'test_rmse']);
    const alias = JSON.parse((await http(stack.proxy!.url, `/api/2.0/mlflow/registered-models/alias?name=${report.values.REGISTERED_MODEL_NAME}&alias=sagemaker-lab`, { headers: auth })).body);
    assert.equal(alias.model_version.version, report.values.MODEL_VERSION);
    assert.equal(alias.model_version.run_id, report.values.RUN_ID);
  });

  it('MLflow deploys the registered version with the platform\'s serving image and the execution role, and the endpoint answers', () => {
    const calls = report.aws_calls.filter((call) => call.startsWith('sagemaker:Create') || call.startsWith('sagemaker-runtime:'));
    assert.deepEqual(calls, ['sagemaker:CreateTrainingJob', 'sagemaker:CreateModel', 'sagemaker:CreateEndpointConfig', 'sagemaker:CreateEndpoint', 'sagemaker-runtime:InvokeEndpoint', 'sagemaker-runtime:InvokeEndpoint']);
    assert.equal(report.values.IMAGE_URL, `123456789012.dkr.ecr.${STANDIN_REGION}.amazonaws.com/mlflow-pyfunc:${lab.mlflowVersion}`);
    assert.equal(report.invocations.length, 2);
    const predictions = report.values.response.predictions as number[];
    assert.equal(predictions.length, 5);
    assert.ok(predictions.every((p) => Number.isFinite(p)), JSON.stringify(predictions));
    // The two invocations run the model in separate processes: equal to the last bits of a double, not always exactly.
    const close = (actual: number[], expected: number[], what: string): void => {
      assert.equal(actual.length, expected.length, what);
      actual.forEach((value, i) => assert.ok(Math.abs(value - expected[i]) <= 1e-9 * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${value} vs ${expected[i]}`));
    };
    close((report.values.raw_predictions as { predictions: number[] }).predictions, predictions, 'raw_predictions');
    close(report.values.comparison.predicted as number[], predictions, 'comparison.predicted');
  });

  it('deletes the endpoint, its configuration, the model and its archive, and the lab\'s objects: nothing is left', async () => {
    assert.deepEqual(await sagemakerResources(), NOTHING_BILLING);
    assert.deepEqual(report.values.leftovers, { endpoints: [], endpoint_configs: [], models: [], running_training_jobs: [] });
    for (const call of ['sagemaker:DeleteEndpoint', 'sagemaker:DeleteEndpointConfig', 'sagemaker:DeleteModel', 's3:DeleteObject']) {
      assert.ok(report.aws_calls.includes(call), `${call} in ${report.aws_calls.join(' ')}`);
    }
    const keys = await stack.aws.listKeys(stack.bucket);
    assert.deepEqual(keys.filter((key) => key.startsWith(`${report.values.LAB_PREFIX}/`)), []);
    assert.deepEqual(keys.filter((key) => key.endsWith('model.tar.gz') && !keysBefore.includes(key)), []);
  });
});

describe('a deploy or query that fails part-way leaves nothing billing', () => {
  for (const [operation, what] of [
    ['CreateEndpoint', 'creating the endpoint fails after the model and its configuration exist'],
    ['InvokeEndpoint', 'the query fails while the endpoint is in service'],
  ] as const) {
    it(`${what}: the cell fails, and the endpoint, configuration, model and model archive are gone`, async () => {
      const report = await runNotebook(operation);
      assert.ok(report.error, 'the deploy cell raised');
      const deployCell = report.code_cells[report.code_cells.length - 2];
      assert.equal(report.error!.cell, deployCell, report.error!.traceback);
      assert.match(report.error!.message, new RegExp(`${operation}`));
      assert.ok(report.aws_calls.includes('sagemaker:CreateModel'), 'the deploy had created the SageMaker model');
      assert.deepEqual(await sagemakerResources(), NOTHING_BILLING);
      const keys = await stack.aws.listKeys(stack.bucket);
      assert.deepEqual(keys.filter((key) => key.includes(`${report.values.ENDPOINT_NAME}-model-`)), [], 'the uploaded model.tar.gz is deleted');
    });
  }
});
