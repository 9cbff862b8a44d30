/**
 * The SageMaker lab notebook, run as far as it runs off AWS: every code cell of lab/sagemaker_mlflow_lab.ipynb,
 * unchanged, in the lab's own Python environment (lab/requirements.txt: the MLflow client and SageMaker Python SDK v3
 * pins, and the lab's SigV4 provider installed from training/mlflow-sigv4 as the notebook's %pip line does), against
 * the end-to-end stack with the notebook instance's role on the IAM route (the real MLflow behind the real proxy, on
 * MariaDB), reached as on SageMaker: through API Gateway's IAM route (test/lab/lab-gateway.ts: every request's SigV4
 * signature verified from AWS's documented algorithm, then the route's path and header mapping), and moto's server
 * standing in for CloudFormation, IAM, S3, ECR and SageMaker. A renamed SDK class, a wrong argument or a
 * hyperparameter the training script does not take fails here.
 *
 * What moto does not do, test/e2e/clients/lab_aws_standin.py does: it runs each training job the notebook submits as
 * SageMaker would (the SDK's own job driver, sm_train.sh, from the request's container entry point, with the channels,
 * hyperparameters and environment of the request, in a private /opt/ml, with a fresh Python whose pip installs the
 * job's requirements offline, the SigV4 provider from the code channel among them), and answers each endpoint invocation with the
 * predictions of the model the endpoint was created with. Not run: the SageMaker scikit-learn image itself (the lab's
 * environment plays the image), the serving image's scoring server (MLflow's scoring code in this process plays it),
 * CloudWatch logs and metrics, IAM enforcement.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SAGEMAKER_SDK_VERSION } from '../../src/lib/sagemaker/lab-packages';
import { startGatewayStandIn, type GatewayStandIn } from '../lab/lab-gateway';
import { installSigV4Provider } from '../lab/lab-tools';
import { ensureLabPythonEnv, type PythonEnv, REPO_ROOT, SYSTEM_PATH } from '../support/python-env';
import { STANDIN_REGION } from './support/aws-standin';
import { http } from './support/http';
import { startStack, type E2eStack } from './support/stack';
import { LOOPBACK_ACCOUNT } from './support/task-definition';

const LAB_DIR = join(REPO_ROOT, 'lab');
const CLIENTS = join(REPO_ROOT, 'test', 'e2e', 'clients');
/**
 * The scikit-learn 1.9-0 training image in the stand-in's region, as SageMaker's image registry names it: scikit-learn
 * 1.9.0, inside the range MLflow supports (1.4-2's 1.4.2 was below it; review finding 7).
 */
const SKLEARN_IMAGE = `246618743249.dkr.ecr.${STANDIN_REGION}.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3`;

interface Seeded { role_arn: string; notebook_instance_arn: string; metadata_dir: string; data_home: string }
interface Report {
  cells_run: number[];
  code_cells: number[];
  skipped_magics: string[];
  error: { cell: number; type: string; message: string; traceback: string } | null;
  training_jobs: Array<{ name: string; request: any; exit_code: number; failure: string; log: string; model_files: string[]; model_artifact?: string; model_requirements?: string[] }>;
  invocations: Array<{ endpoint: string; request: any; response: any }>;
  aws_calls: string[];
  values: Record<string, any>;
}

/** The notebook instance's role (sagemaker=notebook), as the IAM route reports a session of it. */
const NOTEBOOK_SESSION_ARN = `arn:aws:sts::${LOOPBACK_ACCOUNT}:assumed-role/mlflow-lab-notebook-${STANDIN_REGION}/SageMaker`;

let stack: E2eStack;
let gateway: GatewayStandIn;
let provider: string;
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
    PYTHONPATH: provider,
    AWS_EC2_METADATA_DISABLED: 'true',
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
  stack = await startStack({ settings: { sagemaker: 'notebook' } });
  lab = ensureLabPythonEnv();
  provider = installSigV4Provider(lab.python, stack.workDir);
  // moto's credentials are the role's: the IAM route knows them as a session of the notebook instance's role.
  const credentials = stack.aws.clientEnv();
  gateway = await startGatewayStandIn(stack, { [credentials.AWS_ACCESS_KEY_ID]: { secret: credentials.AWS_SECRET_ACCESS_KEY, arn: NOTEBOOK_SESSION_ARN } });
  await stack.aws.startRecording();
  const out = mkdtempSync(join(stack.workDir, 'lab-standin-'));
  sdkConfig = join(out, 'sagemaker-config.yaml');
  writeFileSync(sdkConfig, 'SchemaVersion: "1.0"\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n');
  const seed = await spawnCollect(lab.python, [
    join(CLIENTS, 'lab_aws_standin.py'), 'seed', '--settings', join(LAB_DIR, 'lab-settings.json'), '--out', out,
    '--tracking-uri', stack.proxy!.url, '--bucket', stack.bucket, '--secret-name', stack.secretName, '--iam-tracking-uri', `${gateway.url}/iam`,
  ], kernelEnv(), 120_000);
  assert.equal(seed.status, 0, `${seed.stdout}\n${seed.stderr}`);
  seeded = JSON.parse(seed.stdout.trim().split('\n').pop()!) as Seeded;
});

after(async () => {
  await gateway?.service.stop();
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
    assert.deepEqual(report.skipped_magics, ['%pip install --quiet -r requirements.txt ./training/mlflow-sigv4']);
  });

  it('the kernel runs the pinned SageMaker SDK v3 and finds MLflow through the stack outputs: the IAM route, no secret, as on SageMaker', async () => {
    const versions = await spawnCollect(lab.python, ['-c', 'import importlib.metadata as m; print(m.version("sagemaker"), m.version("mlflow"))'], kernelEnv(), 60_000);
    assert.equal(versions.stdout.trim(), `${SAGEMAKER_SDK_VERSION} ${lab.mlflowVersion}`);
    assert.equal(report.values.role, seeded.role_arn, 'get_execution_role() resolved the notebook instance\'s role');
    assert.ok(report.aws_calls.includes('cloudformation:DescribeStacks'), report.aws_calls.join(' '));
    assert.ok(!report.aws_calls.some((call) => call.startsWith('secretsmanager:')), report.aws_calls.join(' '));
    assert.equal(report.values.tracking_uri, `${gateway.url}/iam`);
    // The UI link the notebook prints is the password route's: no browser signs SigV4.
    assert.equal(report.values.ui_uri, gateway.url);
  });

  it('every MLflow request of the kernel and of the job came over the IAM route, SigV4 verified, as the notebook role', () => {
    const verdicts = gateway.verdicts();
    assert.ok(verdicts.length > 20, `${verdicts.length} requests`);
    assert.deepEqual(verdicts.filter((v) => v.verdict !== 'verified'), []);
    assert.deepEqual([...new Set(verdicts.map((v) => v.principal))], [NOTEBOOK_SESSION_ARN]);
    // The job's requests too: it created the run and registered the version.
    assert.ok(verdicts.some((v) => v.method === 'POST' && v.target.endsWith('/model-versions/create')), 'the job registered over the IAM route');
    // 404s the lab expects: a name not created yet, and "who am I" on a server without users (auth=users: lab-users.test.ts).
    assert.deepEqual(verdicts.filter((v) => (v.status ?? 0) >= 400 && !(v.status === 404 && /get-by-name|registered-models\/get|\/users\/current$/.test(v.target))), []);
  });

  it('ModelTrainer submits one job: the scikit-learn 1.9-0 image, training/ as source code, the hyperparameters and environment, no secret', () => {
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
    assert.deepEqual(request.Environment, {
      MLFLOW_TRACKING_URI: `${gateway.url}/iam`, MLFLOW_TRACKING_AUTH: 'aws-sigv4', AWS_DEFAULT_REGION: STANDIN_REGION,
      MLFLOW_EXPERIMENT_NAME: report.values.EXPERIMENT_NAME, LAB_REGISTERED_MODEL_NAME: report.values.REGISTERED_MODEL_NAME,
    });
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
    assert.match(log, /Successfully installed mlflow-sigv4-/, 'the SigV4 provider built from the code channel');
    assert.match(log, /Executing command: .*train\.py --n-estimators 200 --max-depth 16 --min-samples-leaf 3 --random-state 42 --target MedHouseVal/);
    assert.match(log, /test_rmse=\d/);
    // Run links a browser opens (the password route), not MLflow's own "View run ... at: <IAM route>" lines.
    assert.doesNotMatch(log, /View (run .* |experiment )at: .*\/iam\//);
    assert.ok(log.includes(`MLflow UI: ${gateway.url}/#/experiments/`), log.slice(-3000));
    assert.ok(job.model_files.includes('mlflow-model/MLmodel'), job.model_files.join(', '));
    // Exactly the explicit pip_requirements, at the job's versions: nothing MLflow inferred (finding: typing==3.10.0.0).
    assert.deepEqual(job.model_requirements?.map((line) => line.split('==')[0]), ['mlflow', 'scikit-learn', 'skops', 'numpy', 'scipy', 'pandas']);
    assert.ok(job.model_requirements?.every((line) => /^[a-z-]+==\d+(\.\d+)+$/.test(line)), job.model_requirements?.join(' '));
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
