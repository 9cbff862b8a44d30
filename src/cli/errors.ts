/**
 * Exit codes and the translation of AWS SDK / configuration errors into messages a user can act on.
 * Every command fails by throwing a `CliError`; `runCli` prints it and returns its exit code.
 */
import { ConfigError } from '../app/config/declare';

/** Process exit codes. Documented in docs/reference/cli.md; scripts may rely on them. */
export const EXIT = {
  ok: 0,
  /** A command ran and found or caused a failure (doctor check failed, cdk failed, unhealthy status, declined prompt). */
  failure: 1,
  /** Bad command line or invalid setting. */
  usage: 2,
  /** No AWS credentials, or expired / invalid ones. */
  noCredentials: 3,
  /** Credentials work but lack a permission. */
  accessDenied: 4,
  /** The stacks (or the secret) are not deployed in the target account and region. */
  notDeployed: 5,
  /** Region unreachable (no answer in time, unknown host, refused) or credentials for another account than the configured one. */
  wrongTarget: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** What to do about it, printed under the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Where a failed call was aimed, so that the message can name it. */
export interface ErrorContext {
  readonly region: string;
  readonly account?: string;
  /** What the command was doing, e.g. "reading stack MLflowVpcStack". */
  readonly action?: string;
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnauthorizedException', 'AuthorizationError']);
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);
const INVALID_CREDENTIALS = new Set(['InvalidClientTokenId', 'UnrecognizedClientException', 'SignatureDoesNotMatch', 'IncompleteSignature', 'InvalidSignatureException']);
const NETWORK_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'EPIPE']);
/** What the SDK's HTTP handler throws when a connection or a request runs past its limit (see AWS_CALL_LIMITS). */
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

const STACK_MISSING = /Stack with id (\S+) does not exist/;

/** Turns anything thrown by an SDK call, the config loader or a command into a `CliError`. */
export function toCliError(error: unknown, context: ErrorContext): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof ConfigError) {
    return new CliError(error.message, EXIT.usage, 'Fix the setting (cdk.json context, `-c key=value` or the environment variable) and run again.');
  }
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as ErrorLike;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(error);
  const where = `account ${context.account ?? '(unknown)'}, region ${context.region}`;
  const doing = context.action ? ` while ${context.action}` : '';

  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new CliError(
      `No AWS credentials found${doing}.`,
      EXIT.noCredentials,
      'Configure credentials: `aws configure`, `aws sso login --profile NAME` with AWS_PROFILE=NAME (or --profile NAME), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment.',
    );
  }
  if (EXPIRED.has(name) || /security token included in the request is expired/i.test(message)) {
    return new CliError(`The AWS credentials have expired${doing}: ${message}`, EXIT.noCredentials, 'Refresh them (e.g. `aws sso login`) and run again.');
  }
  if (INVALID_CREDENTIALS.has(name)) {
    return new CliError(
      `AWS rejected the credentials in region ${context.region}${doing}: ${message}`,
      EXIT.noCredentials,
      `Check the access key and secret. If ${context.region} is an opt-in region, enable it for the account or choose another region (AWS_REGION or --region).`,
    );
  }
  if (ACCESS_DENIED.has(name) || /is not authorized to perform/i.test(message)) {
    const action = /not authorized to perform:? ([\w:*-]+)/.exec(message)?.[1];
    return new CliError(
      `Access denied${doing} (${where})${action ? `: missing permission ${action}` : ''}.`,
      EXIT.accessDenied,
      `${message}\nUse credentials allowed to ${action ?? 'perform this call'}, e.g. a role with AdministratorAccess for deploy/destroy; see docs/reference/cli.md for the read-only permissions of status/credentials.`,
    );
  }
  const stackMissing = STACK_MISSING.exec(message);
  if (name === 'ValidationError' && stackMissing) {
    return notDeployedError(stackMissing[1], context);
  }
  if (name === 'ResourceNotFoundException') {
    return new CliError(`Not found${doing} (${where}): ${message}`, EXIT.notDeployed, 'Deploy first (`npx mlflow-on-aws deploy`), or point at the right region/account.');
  }
  if (TIMEOUT_NAMES.has(name)) {
    const attempts = typeof e.$metadata?.attempts === 'number' ? e.$metadata.attempts : undefined;
    return new CliError(
      `No answer from AWS in region "${context.region}"${doing}${attempts ? ` after ${attempts} attempt${attempts > 1 ? 's' : ''}` : ''}: ${message}`,
      EXIT.wrongTarget,
      'The network dropped or held the connection. Check the connection (VPN, firewall, proxy) and the region name (AWS_REGION, -c region=..., --region), then run again.',
    );
  }
  if (NETWORK_CODES.has(code) || NETWORK_CODES.has(name) || /getaddrinfo|Region is missing|Invalid region/i.test(message)) {
    return new CliError(
      `Cannot reach AWS in region "${context.region}"${doing}: ${message}`,
      EXIT.wrongTarget,
      'Check the region name (AWS_REGION, -c region=..., --region) and your network connection.',
    );
  }
  return new CliError(`${name && name !== 'Error' ? `${name}: ` : ''}${message}${doing ? ` (${doing.trim()})` : ''}`, EXIT.failure);
}

export function notDeployedError(stackName: string, context: ErrorContext): CliError {
  return new CliError(
    `Stack ${stackName} is not deployed in account ${context.account ?? '(unknown)'}, region ${context.region}.`,
    EXIT.notDeployed,
    `Deploy it with \`npx mlflow-on-aws deploy\`. If you deployed to another region, set AWS_REGION or pass --region.`,
  );
}

/** True for the CloudFormation answer to DescribeStacks on a stack that does not exist. */
export function isStackMissing(error: unknown): boolean {
  const e = error as ErrorLike | undefined;
  return !!e && e.name === 'ValidationError' && typeof e.message === 'string' && STACK_MISSING.test(e.message);
}
