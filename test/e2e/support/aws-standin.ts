/**
 * The AWS services MLflow and its clients reach, stood in by moto's server (PyPI `moto[server]`) on a loopback port:
 * S3 (the artifact bucket) and Secrets Manager (the MLflow credentials secret the lab reads). Clients reach it
 * through `AWS_ENDPOINT_URL` (boto3) and `MLFLOW_S3_ENDPOINT_URL` (MLflow's S3 artifact repository).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../containers/support/proxy';
import type { PythonEnv } from '../../support/python-env';
import { startService, waitFor, type Service } from './service';

export const STANDIN_REGION = 'us-west-2';

export interface AwsStandIn {
  readonly endpoint: string;
  readonly service: Service;
  /** Environment a boto3 or MLflow client needs to use the stand-in instead of AWS. */
  clientEnv(): Record<string, string>;
  createBucket(name: string): Promise<void>;
  /** Keys of the objects under `prefix` in `bucket`. */
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  createSecret(name: string, value: string): Promise<void>;
  /** One call of an AWS JSON API (`service` as in a signature's credential scope, e.g. `sagemaker`); its parsed answer. */
  json(service: string, target: string, body: unknown): Promise<any>;
  /** Starts moto's request recorder (its file is in the stand-in's own folder); clients download it from /moto-api/recorder/. */
  startRecording(): Promise<void>;
  stop(): Promise<void>;
}

export async function startAwsStandIn(python: PythonEnv): Promise<AwsStandIn> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-e2e-moto-'));
  const service = startService('moto_server', join(python.bin, 'moto_server'), ['-H', '127.0.0.1', '-p', String(port)], {
    PATH: `${python.bin}:${process.env.PATH ?? ''}`,
    HOME: dir,
    MOTO_ALLOW_NONEXISTENT_REGION: 'false',
    // The request recorder, off until startRecording(), writes here rather than into the working directory.
    MOTO_RECORDER_FILEPATH: join(dir, 'recording.jsonl'),
  }, join(dir, 'moto.log'));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor('the S3 stand-in to answer', async () => (await fetch(`${endpoint}/moto-api/`)).status < 500, 60_000, service);

  const json = async (service: string, target: string, body: unknown): Promise<any> => {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': target,
        // moto routes a request to a service by the credential scope of its signature.
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${STANDIN_REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${target} on the stand-in: ${response.status} ${text}`);
    return JSON.parse(text);
  };

  return {
    endpoint,
    service,
    clientEnv: () => ({
      AWS_ENDPOINT_URL: endpoint,
      MLFLOW_S3_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_DEFAULT_REGION: STANDIN_REGION,
      AWS_REGION: STANDIN_REGION,
    }),
    async createBucket(name) {
      const response = await fetch(`${endpoint}/${name}`, {
        method: 'PUT',
        body: `<CreateBucketConfiguration><LocationConstraint>${STANDIN_REGION}</LocationConstraint></CreateBucketConfiguration>`,
      });
      if (!response.ok) throw new Error(`creating bucket ${name} on the stand-in: ${response.status} ${await response.text()}`);
    },
    async listKeys(bucket, prefix = '') {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const query = new URLSearchParams({ 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) });
        const response = await fetch(`${endpoint}/${bucket}?${query}`);
        const xml = await response.text();
        if (!response.ok) throw new Error(`listing ${bucket} on the stand-in: ${response.status} ${xml}`);
        keys.push(...[...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]));
        token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1];
      } while (token);
      return keys;
    },
    createSecret: async (name, value) => {
      await json('secretsmanager', 'secretsmanager.CreateSecret', { Name: name, SecretString: value });
    },
    json,
    async startRecording() {
      const response = await fetch(`${endpoint}/moto-api/recorder/start-recording`, { method: 'POST' });
      if (!response.ok) throw new Error(`starting the stand-in's recorder: ${response.status} ${await response.text()}`);
    },
    async stop() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
