/**
 * The lab in users mode (auth=users) with both SageMaker principals (sagemaker=both), against the real MLflow
 * authentication app behind the real proxy, reached over the IAM route's stand-in (SigV4 verified): each principal is
 * its own MLflow user (the notebook instance's role `sagemaker-notebook`, Studio's `sagemaker-studio`), owns what it
 * creates, and MLflow's default is NO_PERMISSIONS (review 2026-12-06, finding 4: with the lab's fixed names the second
 * principal got PERMISSION_DENIED, after paying for its training job, and nobody could see the lab's runs).
 *
 * Each principal in turn runs the lab's MLflow steps (test/e2e/clients/lab_users_client.py: the notebook's names from
 * mlflow_lab, its set_experiment and grants, the job's train.py registering the model, the alias and tag of cells 13
 * and 15) with a person in SHARE_WITH; the person then signs in with a password, as in the UI, and finds both
 * principals' runs and models; another person finds none of them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { basicAuth } from '../containers/support/proxy';
import { startGatewayStandIn, type GatewayStandIn } from '../lab/lab-gateway';
import { installSigV4Provider, sigv4ClientEnv } from '../lab/lab-tools';
import { REPO_ROOT } from '../support/python-env';
import { STANDIN_REGION } from './support/aws-standin';
import { http } from './support/http';
import { startStack, type E2eStack } from './support/stack';
import { LOOPBACK_ACCOUNT } from './support/task-definition';
import { SAGEMAKER_MLFLOW_USERS } from '../../src/app/config/settings';

const CLIENTS = join(REPO_ROOT, 'test', 'e2e', 'clients');
const LAB_DIR = join(REPO_ROOT, 'lab');
/** The two SageMaker roles (sagemaker=both), as the IAM route reports a session of each, with their credentials. */
const PRINCIPALS = {
  notebook: { key: 'ASIALABNOTEBOOK00001', secret: 'notebook/secret+key', arn: `arn:aws:sts::${LOOPBACK_ACCOUNT}:assumed-role/mlflow-lab-notebook-${STANDIN_REGION}/SageMaker` },
  studio: { key: 'ASIALABSTUDIO0000001', secret: 'studio/secret+key', arn: `arn:aws:sts::${LOOPBACK_ACCOUNT}:assumed-role/mlflow-lab-studio-${STANDIN_REGION}/SageMaker` },
} as const;
const PERSON = { username: 'data-scientist', password: 'a-long-password-of-the-person-1' };
const OUTSIDER = { username: 'outsider', password: 'a-long-password-of-the-outsider-2' };

interface LabRun { mlflow_user: string; experiment_name: string; experiment_id: string; registered_model_name: string; model_version: string; run_id: string; granted: string[] }

let stack: E2eStack;
let gateway: GatewayStandIn;
let provider: string;
let data: string;
const runs: Partial<Record<keyof typeof PRINCIPALS, LabRun>> = {};
const failures: string[] = [];

function runClient(args: string[], env: Record<string, string>): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(stack.python.python, [join(CLIENTS, 'lab_users_client.py'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.once('close', (status) => { clearTimeout(timer); resolve({ status, output }); });
  });
}

/** Training and test CSVs shaped like the notebook's. */
function writeChannels(dir: string): void {
  const columns = ['MedInc', 'HouseAge', 'AveRooms', 'AveBedrms', 'Population', 'AveOccup', 'Latitude', 'Longitude'];
  let seed = 3;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (const [channel, rows] of [['train', 200], ['test', 50]] as const) {
    const lines = [[...columns, 'MedHouseVal'].join(',')];
    for (let i = 0; i < rows; i++) {
      const features = columns.map(() => random() * 10);
      lines.push([...features, (0.4 * features[0] + random() * 0.2).toFixed(6)].join(','));
    }
    mkdirSync(join(dir, channel), { recursive: true });
    writeFileSync(join(dir, channel, `${channel}.csv`), `${lines.join('\n')}\n`);
  }
}

async function asUser(user: { username: string; password: string }, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await http(stack.proxy!.url, path, { method: body === undefined ? 'GET' : 'POST', headers: { authorization: basicAuth(user.username, user.password) }, body });
  let json: any = {};
  try {
    json = response.body ? JSON.parse(response.body) : {};
  } catch {
    json = { text: response.body }; // the proxy's plain-text refusals
  }
  return { status: response.status, json };
}

before(async () => {
  stack = await startStack({ settings: { auth: 'users', sagemaker: 'both', proxyArtifacts: true } });
  provider = installSigV4Provider(stack.python.python, stack.workDir);
  gateway = await startGatewayStandIn(stack, Object.fromEntries(Object.values(PRINCIPALS).map((p) => [p.key, { secret: p.secret, arn: p.arn }])));
  for (const user of [PERSON, OUTSIDER]) {
    const created = await http(stack.proxy!.url, '/api/2.0/mlflow/users/create', { method: 'POST', headers: { authorization: stack.authorization() }, body: user });
    assert.equal(created.status, 200, created.body);
  }
  data = mkdtempSync(join(stack.workDir, 'lab-data-'));
  writeChannels(data);
  // One principal after the other, as a teammate would run the lab after the first.
  for (const [kind, principal] of Object.entries(PRINCIPALS) as Array<[keyof typeof PRINCIPALS, (typeof PRINCIPALS)[keyof typeof PRINCIPALS]]>) {
    const out = join(mkdtempSync(join(stack.workDir, `lab-${kind}-`)), 'run.json');
    const started = Date.now();
    const run = await runClient(['--lab-dir', LAB_DIR, '--data', data, '--share-with', PERSON.username, '--job-name', `california-housing-rf-${kind}-1`, '--out', out], sigv4ClientEnv({
      pythonBin: stack.python.bin, home: stack.workDir, provider, trackingUri: `${gateway.url}/iam`, region: STANDIN_REGION,
      credentials: { AWS_ACCESS_KEY_ID: principal.key, AWS_SECRET_ACCESS_KEY: principal.secret },
    }));
    console.log(`${kind}: the lab's MLflow steps and train.py in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (run.status === 0) runs[kind] = JSON.parse(readFileSync(out, 'utf8')) as LabRun;
    else failures.push(`${kind}: ${run.output.slice(-5000)}`);
  }
});

after(async () => {
  await gateway?.service.stop();
  await stack?.stop();
});

describe('the lab in users mode, with both SageMaker principals and a person to share with', () => {
  it('both principals run the lab through (the second gets no PERMISSION_DENIED), each as its own MLflow user with its own names', () => {
    assert.deepEqual(failures, []);
    assert.equal(runs.notebook!.mlflow_user, SAGEMAKER_MLFLOW_USERS.notebook);
    assert.equal(runs.studio!.mlflow_user, SAGEMAKER_MLFLOW_USERS.studio);
    assert.equal(runs.notebook!.experiment_name, `california-housing-${SAGEMAKER_MLFLOW_USERS.notebook}`);
    assert.equal(runs.studio!.registered_model_name, `california-housing-rf-${SAGEMAKER_MLFLOW_USERS.studio}`);
    for (const run of Object.values(runs)) assert.equal(run!.model_version, '1');
    assert.deepEqual(gateway.verdicts().filter((v) => v.verdict !== 'verified'), []);
  });

  it('each principal granted the person READ on its experiment and its registered model', () => {
    for (const run of Object.values(runs)) {
      assert.deepEqual(run!.granted, [
        `${PERSON.username}: READ on experiment ${run!.experiment_id}`,
        `${PERSON.username}: READ on registered_model ${run!.registered_model_name}`,
      ]);
    }
  });

  it('signed in with a password, as in the UI, the person finds both principals\' experiments, runs and models', async () => {
    const experiments = await asUser(PERSON, '/ajax-api/2.0/mlflow/experiments/search', { max_results: 100 });
    assert.equal(experiments.status, 200);
    const names = experiments.json.experiments.map((e: any) => e.name);
    for (const run of Object.values(runs)) {
      assert.ok(names.includes(run!.experiment_name), names.join(', '));
      const found = await asUser(PERSON, '/ajax-api/2.0/mlflow/runs/search', { experiment_ids: [run!.experiment_id] });
      assert.equal(found.status, 200);
      assert.deepEqual(found.json.runs.map((r: any) => r.info.run_id), [run!.run_id]);
      const version = await asUser(PERSON, `/ajax-api/2.0/mlflow/model-versions/get?name=${encodeURIComponent(run!.registered_model_name)}&version=${run!.model_version}`);
      assert.equal(version.status, 200, JSON.stringify(version.json));
      assert.equal(version.json.model_version.run_id, run!.run_id);
    }
  });

  it('someone not shared with finds none of it', async () => {
    const experiments = await asUser(OUTSIDER, '/ajax-api/2.0/mlflow/experiments/search', { max_results: 100 });
    assert.equal(experiments.status, 200);
    const names = (experiments.json.experiments ?? []).map((e: any) => e.name);
    for (const run of Object.values(runs)) {
      assert.ok(!names.includes(run!.experiment_name), names.join(', '));
      const version = await asUser(OUTSIDER, `/ajax-api/2.0/mlflow/model-versions/get?name=${encodeURIComponent(run!.registered_model_name)}&version=${run!.model_version}`);
      assert.equal(version.status, 403, JSON.stringify(version.json));
    }
  });
});
