/**
 * How the lab reaches MLflow (lab/mlflow_lab.py `connect`): on SageMaker with SigV4 and no password (the gateway's IAM
 * route, from the notebook instance's environment or the gateway stack's output), elsewhere with the password of the
 * credentials secret. Run in the lab's own Python environment with a stand-in boto3 session that records its calls.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GATEWAY_OUTPUTS } from '../../src/app/names';
import { ensureLabPythonEnv } from '../support/python-env';
import { installSigV4Provider, LAB_DIR } from './lab-tools';

const PROBE = `
import json, os, sys
sys.path.insert(0, sys.argv[1])
import mlflow_lab
outputs = json.loads(sys.argv[2])
calls = []
class CloudFormation:
    def describe_stacks(self, StackName):
        calls.append("cloudformation:DescribeStacks")
        return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.get(StackName, {}).items()]}]}
class SecretsManager:
    def get_secret_value(self, SecretId):
        calls.append("secretsmanager:GetSecretValue " + SecretId)
        return {"SecretString": json.dumps({"username": "admin", "password": "pw"})}
class Session:
    region_name = "us-west-2"
    def client(self, name, region_name=None):
        return {"cloudformation": CloudFormation(), "secretsmanager": SecretsManager()}[name]
lab = mlflow_lab.connect(boto_session=Session())
print(json.dumps({"uri": lab.tracking_uri, "sigv4": lab.sigv4, "secret": lab.secret_name, "calls": calls,
                  "job": lab.job_environment(), "credentials": lab.credentials,
                  "env": {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_AWS_SIGV4", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "AWS_DEFAULT_REGION", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT")}}))
`;

describe('the lab connects with SigV4 on the IAM route, or else with the password', () => {
  const python = ensureLabPythonEnv().python;
  const provider = installSigV4Provider(python);
  const settings = JSON.parse(spawnSync('cat', [join(LAB_DIR, 'lab-settings.json')], { encoding: 'utf8' }).stdout);
  const gatewayStack = settings.stacks.gateway as string;
  const mlflowStack = settings.stacks.mlflow as string;
  const base = { [mlflowStack]: { ArtifactBucketName: 'bucket', MlflowCredentialsSecretName: 'mlflow-server-credentials' } };

  function run(outputs: Record<string, Record<string, string>>, env: Record<string, string> = {}) {
    return spawnSync(python, ['-c', PROBE, LAB_DIR, JSON.stringify(outputs)], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PYTHONPATH: provider, MLFLOW_TRACKING_USERNAME: 'stale', ...env },
    });
  }

  function connect(outputs: Record<string, Record<string, string>>, env: Record<string, string> = {}) {
    const result = run(outputs, env);
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout.trim().split('\n').pop()!);
  }

  it('the gateway stack\'s IAM route output: SigV4, no secret read, no password in the environment or the job\'s', () => {
    const got = connect({ ...base, [gatewayStack]: { [GATEWAY_OUTPUTS.trackingUri]: 'https://api', [GATEWAY_OUTPUTS.iamTrackingUri]: 'https://api/iam' } });
    assert.equal(got.uri, 'https://api/iam');
    assert.equal(got.sigv4, true);
    assert.equal(got.secret, null);
    assert.ok(!got.calls.some((call: string) => call.startsWith('secretsmanager:')), got.calls.join(' '));
    // The lab's provider signs; MLflow's own signer (requests-auth-aws-sigv4) is off, since it would take precedence.
    // The region the lab settled on (the session's) is exported for the signer and the SDK.
    // MLflow's own run links would name the IAM route, which no browser opens: off (the notebook prints ui_uri links).
    assert.deepEqual(got.env, { MLFLOW_TRACKING_AUTH: 'aws-sigv4', MLFLOW_TRACKING_AWS_SIGV4: null, MLFLOW_TRACKING_USERNAME: null, MLFLOW_TRACKING_PASSWORD: null, AWS_DEFAULT_REGION: 'us-west-2', MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT: 'true' });
    assert.deepEqual(got.job, { MLFLOW_TRACKING_URI: 'https://api/iam', MLFLOW_TRACKING_AUTH: 'aws-sigv4', AWS_DEFAULT_REGION: 'us-west-2' });
    assert.match(got.credentials, /SigV4/);
  });

  it('an older set-up\'s MLFLOW_TRACKING_AWS_SIGV4=true is turned into the lab\'s provider', () => {
    const got = connect(base, { MLFLOW_TRACKING_URI: 'https://api/iam', MLFLOW_TRACKING_AWS_SIGV4: 'true' });
    assert.equal(got.sigv4, true);
    assert.equal(got.env.MLFLOW_TRACKING_AUTH, 'aws-sigv4');
    assert.equal(got.env.MLFLOW_TRACKING_AWS_SIGV4, null);
  });

  it('SigV4 without the provider installed: one error that says how to install it', () => {
    const result = run(base, { PYTHONPATH: '', MLFLOW_TRACKING_URI: 'https://api/iam', MLFLOW_TRACKING_AUTH: 'aws-sigv4' });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /RuntimeError: The lab's SigV4 provider \(mlflow-sigv4\) is not installed in this kernel: run `%pip install -r requirements.txt \.\/training\/mlflow-sigv4`/);
  });

  it('the notebook instance\'s environment (MLFLOW_TRACKING_URI with MLFLOW_TRACKING_AUTH=aws-sigv4): SigV4 without a stack lookup for the URI', () => {
    const got = connect(base, { MLFLOW_TRACKING_URI: 'https://api/iam/', MLFLOW_TRACKING_AUTH: 'aws-sigv4', AWS_REGION: 'eu-west-1' });
    assert.equal(got.env.AWS_DEFAULT_REGION, null, 'a region in the environment is left as it is');
    assert.equal(got.uri, 'https://api/iam');
    assert.equal(got.sigv4, true);
    assert.ok(!got.calls.some((call: string) => call.startsWith('secretsmanager:')));
  });

  it('no IAM route (a local run, an older deployment): the tracking URI with the password of the stack\'s secret', () => {
    const got = connect({ ...base, [gatewayStack]: { [GATEWAY_OUTPUTS.trackingUri]: 'https://api' } });
    assert.equal(got.uri, 'https://api');
    assert.equal(got.sigv4, false);
    assert.equal(got.secret, 'mlflow-server-credentials');
    assert.ok(got.calls.includes('secretsmanager:GetSecretValue mlflow-server-credentials'));
    assert.deepEqual(got.env, { MLFLOW_TRACKING_AUTH: null, MLFLOW_TRACKING_AWS_SIGV4: null, MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: 'pw', AWS_DEFAULT_REGION: 'us-west-2', MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT: null });
    assert.deepEqual(got.job, { MLFLOW_TRACKING_URI: 'https://api', LAB_MLFLOW_SECRET_NAME: 'mlflow-server-credentials', AWS_DEFAULT_REGION: 'us-west-2' });
  });
});
