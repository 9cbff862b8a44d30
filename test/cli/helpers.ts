/** Test doubles for the CLI: mocked AWS SDK v3 clients (aws-sdk-client-mock), a recording sink, a scripted runner. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
  GetTemplateCommand,
  Stack,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EFSClient } from '@aws-sdk/client-efs';
import { RDSClient } from '@aws-sdk/client-rds';
import { CopyObjectCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { AwsClients, AwsTarget, CliDeps, RunOptions, RunResult } from '../../src/cli/deps';
import { runCli } from '../../src/cli/main';
import { STACK_DESCRIPTION_PREFIX } from '../../src/app/names';

export const ACCOUNT = '123456789012';
export const ARN = `arn:aws:iam::${ACCOUNT}:user/dev`;

export interface Mocks {
  aas: AwsClientStub<ApplicationAutoScalingClient>;
  cfn: AwsClientStub<CloudFormationClient>;
  cw: AwsClientStub<CloudWatchClient>;
  logs: AwsClientStub<CloudWatchLogsClient>;
  ec2: AwsClientStub<EC2Client>;
  ecs: AwsClientStub<ECSClient>;
  efs: AwsClientStub<EFSClient>;
  rds: AwsClientStub<RDSClient>;
  s3: AwsClientStub<S3Client>;
  sm: AwsClientStub<SageMakerClient>;
  secrets: AwsClientStub<SecretsManagerClient>;
  quotas: AwsClientStub<ServiceQuotasClient>;
  sts: AwsClientStub<STSClient>;
}

export interface RunnerCall {
  command: string;
  args: readonly string[];
  options: RunOptions;
}

export interface Harness {
  deps: CliDeps;
  mocks: Mocks;
  out: string[];
  err: string[];
  /** Targets the commands asked clients for. */
  targets: AwsTarget[];
  runs: RunnerCall[];
  questions: string[];
  sleeps: number[];
  projectRoot: string;
  run(...argv: string[]): Promise<number>;
  text(): string;
}

export interface HarnessOptions {
  env?: NodeJS.ProcessEnv;
  interactive?: boolean;
  answers?: string[];
  nodeVersion?: string;
  /** Answers of the process runner, by program name ("docker", or the node path for cdk). */
  runner?: (call: RunnerCall) => RunResult;
  /** cdk.json context written to the temporary project. */
  cdkContext?: Record<string, unknown>;
  /** Leave node_modules/aws-cdk out of the temporary project. */
  withoutCdk?: boolean;
  /** package.json "engines.node" of the temporary project: the real one by default; null for no package.json. */
  nodeEngines?: string | null;
}

/** The project's own package.json "engines.node". */
export const REAL_NODE_ENGINES = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

export const NODE_PATH = '/usr/bin/node-for-tests';

const TEMP_PROJECTS: string[] = [];
process.once('exit', () => {
  for (const dir of TEMP_PROJECTS) fs.rmSync(dir, { recursive: true, force: true });
});

/** A temporary project folder: cdk.json plus a stand-in node_modules/aws-cdk so that locating the CDK CLI works. */
export function makeProject(options: HarnessOptions = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mlflow-cli-test-'));
  TEMP_PROJECTS.push(root);
  fs.writeFileSync(path.join(root, 'cdk.json'), JSON.stringify({ app: 'npx tsx bin/mlflow-on-aws.ts', context: options.cdkContext ?? {} }));
  const engines = options.nodeEngines === undefined ? REAL_NODE_ENGINES : options.nodeEngines;
  if (engines !== null) fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'mlflow-on-aws', private: true, engines: { node: engines } }));
  if (!options.withoutCdk) {
    const cdkDir = path.join(root, 'node_modules', 'aws-cdk');
    fs.mkdirSync(path.join(cdkDir, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(cdkDir, 'package.json'), JSON.stringify({ name: 'aws-cdk', version: '0.0.0-test', bin: { cdk: 'bin/cdk' } }));
    fs.writeFileSync(path.join(cdkDir, 'bin', 'cdk'), '#!/usr/bin/env node\n');
  }
  return root;
}

export function harness(options: HarnessOptions = {}): Harness {
  const clients: AwsClients = {
    applicationAutoScaling: new ApplicationAutoScalingClient({ region: 'us-west-2' }),
    cloudFormation: new CloudFormationClient({ region: 'us-west-2' }),
    cloudWatch: new CloudWatchClient({ region: 'us-west-2' }),
    cloudWatchLogs: new CloudWatchLogsClient({ region: 'us-west-2' }),
    ec2: new EC2Client({ region: 'us-west-2' }),
    ecs: new ECSClient({ region: 'us-west-2' }),
    efs: new EFSClient({ region: 'us-west-2' }),
    rds: new RDSClient({ region: 'us-west-2' }),
    s3: new S3Client({ region: 'us-west-2' }),
    sageMaker: new SageMakerClient({ region: 'us-west-2' }),
    secretsManager: new SecretsManagerClient({ region: 'us-west-2' }),
    serviceQuotas: new ServiceQuotasClient({ region: 'us-west-2' }),
    sts: new STSClient({ region: 'us-west-2' }),
  };
  const mocks: Mocks = {
    aas: mockClient(clients.applicationAutoScaling),
    cfn: mockClient(clients.cloudFormation),
    cw: mockClient(clients.cloudWatch),
    logs: mockClient(clients.cloudWatchLogs),
    ec2: mockClient(clients.ec2),
    ecs: mockClient(clients.ecs),
    efs: mockClient(clients.efs),
    rds: mockClient(clients.rds),
    s3: mockClient(clients.s3),
    sm: mockClient(clients.sageMaker),
    secrets: mockClient(clients.secretsManager),
    quotas: mockClient(clients.serviceQuotas),
    sts: mockClient(clients.sts),
  };
  mocks.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: ARN, UserId: 'AIDAEXAMPLE' });
  setStacks(mocks, {});

  const out: string[] = [];
  const err: string[] = [];
  const targets: AwsTarget[] = [];
  const runs: RunnerCall[] = [];
  const questions: string[] = [];
  const sleeps: number[] = [];
  const answers = [...(options.answers ?? [])];
  const projectRoot = makeProject(options);
  let clock = Date.parse('2026-01-15T12:00:00Z');

  const deps: CliDeps = {
    clients: (target) => {
      targets.push(target);
      return clients;
    },
    output: { out: (line) => out.push(line), err: (line) => err.push(line) },
    runner: {
      run: async (command, args, runOptions = {}) => {
        const call = { command, args, options: runOptions };
        runs.push(call);
        if (options.runner) return options.runner(call);
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    },
    prompter: {
      ask: async (question) => {
        questions.push(question);
        return answers.shift() ?? '';
      },
    },
    interactive: options.interactive ?? true,
    env: options.env ?? { AWS_REGION: 'us-west-2' },
    nodeVersion: options.nodeVersion ?? '24.11.1',
    nodePath: NODE_PATH,
    projectRoot,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => new Date(clock),
  };
  return {
    deps,
    mocks,
    out,
    err,
    targets,
    runs,
    questions,
    sleeps,
    projectRoot,
    run: (...argv) => runCli(argv, deps),
    text: () => [...out, ...err].join('\n'),
  };
}

/** DescribeStacks answers from this table; any other stack name gets CloudFormation's "does not exist" ValidationError. */
export function setStacks(mocks: Mocks, stacks: Record<string, Partial<Stack> | Array<Partial<Stack> | Error>>): void {
  const sequences = new Map(Object.entries(stacks).map(([name, s]) => [name, Array.isArray(s) ? [...s] : [s]]));
  mocks.cfn.on(DescribeStacksCommand).callsFake(async (input: { StackName?: string }) => {
    const name = input.StackName ?? '';
    const sequence = sequences.get(name);
    if (!sequence || sequence.length === 0) throw stackMissing(name);
    const next = sequence.length > 1 ? sequence.shift()! : sequence[0];
    if (next instanceof Error) throw next;
    // This app's stacks carry its description (the CLI tells them from the original sample's by it); others do not.
    const description = name.startsWith('CDKToolkit') ? {} : { Description: `${STACK_DESCRIPTION_PREFIX}test stack` };
    return { Stacks: [{ StackName: name, CreationTime: new Date('2026-01-01T00:00:00Z'), StackStatus: 'CREATE_COMPLETE', ...description, ...next }] };
  });
}

/** GetTemplate answers: each stack's deployed template (a JSON object, sent as CloudFormation sends it: a JSON string). */
export function setTemplates(mocks: Mocks, templates: Record<string, object>): void {
  for (const [name, template] of Object.entries(templates)) {
    mocks.cfn.on(GetTemplateCommand, { StackName: name }).resolves({ TemplateBody: JSON.stringify(template) });
  }
}

/** Deployed templates as `deploy` reads them: MLflowVpcStack of each profile (standard has the load balancer) on Aurora, and lean on sqlite. */
export const DEPLOYED_TEMPLATES = {
  standard: { Resources: { LoadBalancer: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer' }, Database: { Type: 'AWS::RDS::DBCluster' }, Service: { Type: 'AWS::ECS::Service' } } },
  lean: { Resources: { Discovery: { Type: 'AWS::ServiceDiscovery::Service' }, Database: { Type: 'AWS::RDS::DBCluster' }, Service: { Type: 'AWS::ECS::Service' } } },
  /** database=sqlite (lean): no Aurora cluster, the database replica bucket. */
  leanSqlite: { Resources: { Discovery: { Type: 'AWS::ServiceDiscovery::Service' }, Replica: { Type: 'AWS::S3::Bucket' }, Service: { Type: 'AWS::ECS::Service' } } },
  gateway: { Resources: { Api: { Type: 'AWS::ApiGatewayV2::Api' } } },
} as const;

export function outputs(values: Record<string, string>): Stack['Outputs'] {
  return Object.entries(values).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }));
}

// ---- errors shaped as the SDK throws them ----

export function credentialsError(): Error {
  return Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError', tryNextLink: false });
}

export function stackMissing(name: string): Error {
  return new CloudFormationServiceException({
    name: 'ValidationError',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message: `Stack with id ${name} does not exist`,
  });
}

export function accessDenied(action: string, name = 'AccessDenied'): Error {
  return new CloudFormationServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: `User: ${ARN} is not authorized to perform: ${action} on resource: arn:aws:cloudformation:us-west-2:${ACCOUNT}:stack/MLflowVpcStack/*`,
  });
}

export function unknownRegionError(region: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND sts.${region}.amazonaws.com`), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo' });
}

/** An S3 bucket held in memory: key -> size and time written. */
export type FakeObjects = Map<string, { size: number; lastModified: Date }>;

export interface FakeBucketOptions {
  /** Objects per ListObjectsV2 page (the CLI must follow the continuation tokens). @default 2 */
  pageSize?: number;
  /** Each CopyObject's record, in order. */
  log?: string[];
  /** CopyObject writes one byte less than the source (a copy the listing check must catch). */
  shortCopies?: boolean;
}

/** ListObjectsV2 (paged), CopyObject and DeleteObjects of the S3 mock answered from `objects` for `bucket`. */
export function fakeBucket(mocks: Mocks, bucket: string, objects: FakeObjects, options: FakeBucketOptions = {}): FakeObjects {
  const pageSize = options.pageSize ?? 2;
  mocks.s3.on(ListObjectsV2Command).callsFake(async (input: { Bucket?: string; Prefix?: string; ContinuationToken?: string }) => {
    if (input.Bucket !== bucket) throw Object.assign(new Error('The specified bucket does not exist'), { name: 'NoSuchBucket' });
    const keys = [...objects.keys()].filter((key) => key.startsWith(input.Prefix ?? '')).sort();
    const start = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
    const page = keys.slice(start, start + pageSize);
    const more = start + pageSize < keys.length;
    return {
      Contents: page.map((Key) => ({ Key, Size: objects.get(Key)!.size, LastModified: objects.get(Key)!.lastModified })),
      IsTruncated: more,
      ...(more ? { NextContinuationToken: String(start + pageSize) } : {}),
    };
  });
  mocks.s3.on(CopyObjectCommand).callsFake(async (input: { Bucket?: string; Key?: string; CopySource?: string }) => {
    const source = decodeURIComponent(input.CopySource ?? '');
    const sourceKey = source.slice(bucket.length + 1);
    const found = objects.get(sourceKey);
    if (input.Bucket !== bucket || !source.startsWith(`${bucket}/`) || !found) throw Object.assign(new Error(`no ${source}`), { name: 'NoSuchKey' });
    objects.set(input.Key!, { size: options.shortCopies ? Math.max(0, found.size - 1) : found.size, lastModified: new Date('2026-01-15T12:30:00Z') });
    options.log?.push(`copy ${sourceKey} -> ${input.Key}`);
    return {};
  });
  mocks.s3.on(DeleteObjectsCommand).callsFake(async (input: { Bucket?: string; Delete?: { Objects?: Array<{ Key?: string }> } }) => {
    for (const { Key } of input.Delete?.Objects ?? []) {
      objects.delete(Key!);
      options.log?.push(`delete ${Key}`);
    }
    return {};
  });
  return objects;
}
