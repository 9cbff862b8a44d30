/**
 * Everything a command touches outside its own logic: AWS clients, the terminal, child processes, time.
 * `defaultDeps()` wires the real ones; tests pass mocked clients, a recording sink and a fake runner.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EFSClient } from '@aws-sdk/client-efs';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { STSClient } from '@aws-sdk/client-sts';

export interface AwsClients {
  readonly applicationAutoScaling: ApplicationAutoScalingClient;
  readonly cloudFormation: CloudFormationClient;
  readonly cloudWatch: CloudWatchClient;
  readonly cloudWatchLogs: CloudWatchLogsClient;
  readonly ec2: EC2Client;
  readonly ecs: ECSClient;
  readonly efs: EFSClient;
  readonly rds: RDSClient;
  /** database=sqlite: the database replica bucket (upgrade, rollback, restore, status). */
  readonly s3: S3Client;
  readonly sageMaker: SageMakerClient;
  readonly secretsManager: SecretsManagerClient;
  readonly serviceQuotas: ServiceQuotasClient;
  readonly sts: STSClient;
}

export interface AwsTarget {
  readonly region: string;
  /** Named profile from ~/.aws/config; the SDK's default chain (AWS_PROFILE, env keys, SSO, ...) when unset. */
  readonly profile?: string;
}

export type ClientFactory = (target: AwsTarget) => AwsClients;

/** Two channels: `out` is the command's result (stdout, safe to `eval` for `credentials --env`), `err` is everything else. */
export interface OutputSink {
  out(line: string): void;
  err(line: string): void;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Capture stdout/stderr instead of passing the terminal through. */
  readonly capture?: boolean;
  readonly timeoutMs?: number;
}

export interface RunResult {
  /** The child's exit code; 127 when it could not be started (see `spawnError`). */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the program could not be started, e.g. "ENOENT". */
  readonly spawnError?: string;
}

export interface ProcessRunner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

export interface Prompter {
  /** Shows the question and returns the line the user typed. */
  ask(question: string): Promise<string>;
}

export interface CliDeps {
  readonly clients: ClientFactory;
  readonly output: OutputSink;
  readonly runner: ProcessRunner;
  readonly prompter: Prompter;
  /** Whether a person can answer prompts (stdin is a TTY). */
  readonly interactive: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** `process.versions.node`. */
  readonly nodeVersion: string;
  /** The node binary used to start the pinned CDK CLI. */
  readonly nodePath: string;
  /** Root of this package: where package.json, cdk.json and node_modules/aws-cdk are. */
  readonly projectRoot: string;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => Date;
}

/**
 * How long one AWS call may take. Without these the SDK waits on a silent network for as long as the OS keeps
 * the socket (many minutes per attempt). A call fails after at most maxAttempts x (connect + request) plus
 * the SDK's short retry back-off: about 1.5 minutes with these values. The one place these numbers are set.
 */
export const AWS_CALL_LIMITS: AwsCallLimits = Object.freeze({
  /** Time to open the TCP (and TLS) connection. */
  connectionTimeoutMs: 5_000,
  /** Time for one attempt, from sending the request to the whole response. */
  requestTimeoutMs: 30_000,
  /** Attempts per call, the first included (the SDK retries throttling, 5xx and network errors). */
  maxAttempts: 3,
});

export interface AwsCallLimits {
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxAttempts: number;
}

/** Overrides for tests: smaller limits, a local endpoint, fixed credentials. */
export interface AwsClientOptions {
  readonly limits?: AwsCallLimits;
  readonly endpoint?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** The configuration every client gets: region, profile, retries and the HTTP handler's timeouts. */
export function awsClientConfig({ region, profile }: AwsTarget, options: AwsClientOptions = {}) {
  const limits = options.limits ?? AWS_CALL_LIMITS;
  return {
    region,
    ...(profile ? { profile } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: limits.maxAttempts,
    // Options for the SDK's default NodeHttpHandler. Without throwOnRequestTimeout a request past
    // requestTimeout only logs a warning and keeps waiting.
    requestHandler: {
      connectionTimeout: limits.connectionTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  };
}

export function createAwsClients(target: AwsTarget, options: AwsClientOptions = {}): AwsClients {
  const config = awsClientConfig(target, options);
  return {
    applicationAutoScaling: new ApplicationAutoScalingClient(config),
    cloudFormation: new CloudFormationClient(config),
    cloudWatch: new CloudWatchClient(config),
    cloudWatchLogs: new CloudWatchLogsClient(config),
    ec2: new EC2Client(config),
    ecs: new ECSClient(config),
    efs: new EFSClient(config),
    rds: new RDSClient(config),
    s3: new S3Client(config),
    sageMaker: new SageMakerClient(config),
    secretsManager: new SecretsManagerClient(config),
    serviceQuotas: new ServiceQuotasClient(config),
    sts: new STSClient(config),
  };
}

export const consoleOutput: OutputSink = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export const spawnRunner: ProcessRunner = {
  run(command, args, options = {}) {
    return new Promise((resolve) => {
      const child = spawn(command, [...args], {
        cwd: options.cwd,
        env: options.env,
        stdio: options.capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
        timeout: options.timeoutMs,
      });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      // Ctrl-C reaches the child too (same process group): let it stop cleanly and report its own exit code.
      const ignoreInterrupt = (): void => undefined;
      if (!options.capture) process.on('SIGINT', ignoreInterrupt);
      let settled = false;
      const finish = (result: RunResult): void => {
        if (settled) return;
        settled = true;
        process.off('SIGINT', ignoreInterrupt);
        resolve(result);
      };
      child.on('error', (error: NodeJS.ErrnoException) =>
        finish({ exitCode: 127, stdout, stderr: stderr || error.message, spawnError: error.code ?? error.message }),
      );
      child.on('close', (code, signal) => finish({ exitCode: code ?? (signal ? 128 : 1), stdout, stderr }));
    });
  },
};

export const terminalPrompter: Prompter = {
  ask(question) {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    return new Promise((resolve) => {
      rl.question(question, (answer) => {
        rl.close();
        resolve(answer);
      });
      rl.on('close', () => resolve(''));
    });
  },
};

export function defaultDeps(): CliDeps {
  return {
    clients: (target) => createAwsClients(target),
    output: consoleOutput,
    runner: spawnRunner,
    prompter: terminalPrompter,
    interactive: Boolean(process.stdin.isTTY),
    env: process.env,
    nodeVersion: process.versions.node,
    nodePath: process.execPath,
    projectRoot: path.resolve(__dirname, '..', '..'),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => new Date(),
  };
}
