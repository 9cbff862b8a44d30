/** AWS look-ups shared by the commands: who am I, which stacks exist, their outputs, SageMaker domains. */
import { DescribeStacksCommand, Stack } from '@aws-sdk/client-cloudformation';
import { DomainDetails, ListDomainsCommand } from '@aws-sdk/client-sagemaker';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { PlatformConfig } from '../app/config/platform-config';
import { PROFILE_DEFAULTS, sagemakerStacks } from '../app/config/settings';
import { MLFLOW_OUTPUTS, STACK_DESCRIPTION_PREFIX, STACK_NAMES } from '../app/names';
import type { DatabaseEngine } from '../lib/contract';
import { AwsClients, CliDeps } from './deps';
import { CliError, ErrorContext, EXIT, isStackMissing, toCliError } from './errors';
import { CommonOptions, givenCliSettings, loadCliConfig } from './options';

/** Where a command works: the configuration, the clients for its region, and the identity of the credentials. */
export interface Target {
  readonly config: PlatformConfig;
  readonly clients: AwsClients;
  readonly region: string;
  readonly profile?: string;
  readonly account: string;
  readonly arn: string;
  /**
   * The deployed MLflowVpcStack's database engine when the user gave no `database` and it differs from the
   * configuration's default (lean's sqlite over a lean deployment on Aurora): `config` is resolved with it, and
   * `deploy` passes it to cdk. Undefined otherwise.
   */
  readonly databasePin?: { readonly engine: DatabaseEngine; readonly defaultEngine: DatabaseEngine };
}

/**
 * Loads the configuration and checks the credentials (sts:GetCallerIdentity) and, when one is configured, the account.
 * The configuration is the deployed engine's: with `database` not given, a deployed MLflowVpcStack's engine (read from
 * its outputs, one DescribeStacks) is pinned, so that every command, not only `deploy`, sees the configuration that
 * deployment has (an Aurora setting such as dbAutoPauseMinutes is valid on a lean deployment kept on Aurora).
 */
export async function connect(deps: CliDeps, options: CommonOptions): Promise<Target> {
  const where = { region: options.region ?? deps.env.AWS_REGION ?? '(unset)' };
  let given: string | undefined;
  let config: PlatformConfig;
  let defaultError: unknown;
  try {
    given = givenDatabase(deps, options.context);
    config = loadCliConfig(deps, options.context);
  } catch (error) {
    // Not given, the default engine may be what refuses the other settings: try them on Aurora, kept only if deployed so.
    if (given !== undefined) throw toCliError(error, where);
    defaultError = error;
    try {
      config = loadCliConfig(deps, { ...options.context, database: 'aurora' });
    } catch {
      throw toCliError(error, where);
    }
  }
  const clients = deps.clients({ region: config.region, profile: options.profile });
  const identity = await callerIdentity(clients, config.region);
  checkAccount(config, identity.account);
  const target: Target = { config, clients, region: config.region, profile: options.profile, ...identity };
  if (given !== undefined) return target;
  const deployed = databaseOfOutputs(stackOutputs(await findStack(target, STACK_NAMES.mlflow)));
  if (defaultError !== undefined) {
    if (deployed !== 'aurora') throw toCliError(defaultError, { region: config.region });
    return { ...target, databasePin: { engine: 'aurora', defaultEngine: PROFILE_DEFAULTS[config.profile].database } };
  }
  if (deployed === undefined || deployed === config.database) return target;
  const pinned = loadCliConfigOrThrow(deps, { ...options, context: { ...options.context, database: deployed } });
  return { ...target, config: pinned, databasePin: { engine: deployed, defaultEngine: config.database } };
}

/**
 * The database engine of a deployed MLflowVpcStack from its outputs: the Aurora cluster's identifier (every release has
 * it) or the replica bucket (database=sqlite); undefined when the stack is not deployed or has neither (a failed create).
 */
export function databaseOfOutputs(outputs: Readonly<Record<string, string>>): DatabaseEngine | undefined {
  if (outputs[MLFLOW_OUTPUTS.databaseClusterIdentifier]) return 'aurora';
  if (outputs[MLFLOW_OUTPUTS.databaseReplicaBucketName]) return 'sqlite';
  return undefined;
}

/** The `database` setting as the user gave it (`-c`, cdk.json, cdk.context.json, or its environment variable), else undefined. */
export function givenDatabase(deps: CliDeps, context: Readonly<Record<string, string>>): string | undefined {
  const value = givenCliSettings(deps, context).database;
  return value === undefined || value === '' ? undefined : String(value);
}

export function loadCliConfigOrThrow(deps: CliDeps, options: CommonOptions): PlatformConfig {
  try {
    return loadCliConfig(deps, options.context);
  } catch (error) {
    throw toCliError(error, { region: options.region ?? deps.env.AWS_REGION ?? '(unset)' });
  }
}

export async function callerIdentity(clients: AwsClients, region: string): Promise<{ account: string; arn: string }> {
  try {
    const identity = await clients.sts.send(new GetCallerIdentityCommand({}));
    return { account: identity.Account ?? '', arn: identity.Arn ?? '' };
  } catch (error) {
    throw toCliError(error, { region, action: 'checking the credentials (sts:GetCallerIdentity)' });
  }
}

export function checkAccount(config: PlatformConfig, account: string): void {
  if (config.account && config.account !== account) {
    throw new CliError(
      `The credentials are for account ${account}, but the configuration targets account ${config.account} (AWS_ACCOUNT / CDK_DEFAULT_ACCOUNT / -c account).`,
      EXIT.wrongTarget,
      'Use credentials for the configured account (AWS_PROFILE or --profile), or change the account setting.',
    );
  }
}

/**
 * The `iamPrincipals` entries of another account than the deployment's. The IAM route is an HTTP API route with IAM
 * authorization, and HTTP APIs have no resource policy that could admit another account: such a caller is refused
 * (403) whatever its own policy grants (https://repost.aws/knowledge-center/api-gateway-cross-account-403). It has to
 * assume a role of the deployment's account, and that role is the one to list.
 */
export function iamPrincipalsOfOtherAccounts(config: PlatformConfig, account: string): string[] {
  return (config.iamPrincipals ?? []).map((principal) => principal.arn).filter((arn) => arn.split(':')[4] !== account);
}

/** Refuses `iamPrincipals` of another account (see iamPrincipalsOfOtherAccounts), with what to list instead. */
export function checkIamPrincipalAccounts(config: PlatformConfig, account: string): void {
  const foreign = iamPrincipalsOfOtherAccounts(config, account);
  if (foreign.length === 0) return;
  throw new CliError(
    `iamPrincipals names ${foreign.join(', ')} of another account than the deployment's (${account}): the IAM route is an HTTP API, which has no resource policy to admit another account, so ${foreign.length === 1 ? 'its' : 'their'} calls would be refused (403).`,
    EXIT.usage,
    `List a role of account ${account} instead, which the other account's principal assumes (sts:AssumeRole): -c iamPrincipals=arn:aws:iam::${account}:role/NAME[=user].`,
  );
}

export function errorContext(target: Target, action?: string): ErrorContext {
  return { region: target.region, account: target.account, action };
}

/** The stack, or undefined when CloudFormation says it does not exist. Other errors are translated and thrown. */
export async function findStack(target: Target, stackName: string): Promise<Stack | undefined> {
  try {
    const answer = await target.clients.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = answer.Stacks?.[0];
    return stack && stack.StackStatus !== 'DELETE_COMPLETE' ? stack : undefined;
  } catch (error) {
    if (isStackMissing(error)) return undefined;
    throw toCliError(error, errorContext(target, `reading stack ${stackName}`));
  }
}

export function stackOutputs(stack: Stack | undefined): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const output of stack?.Outputs ?? []) {
    if (output.OutputKey && output.OutputValue !== undefined) outputs[output.OutputKey] = output.OutputValue;
  }
  return outputs;
}

/**
 * The stacks among `names` that exist in the target but were not deployed by this app: every stack of this app has a
 * description starting with STACK_DESCRIPTION_PREFIX, the original aws-mlflow-sagemaker-cdk sample's stacks (which
 * have the same names) have none.
 */
export async function foreignStacks(target: Target, names: readonly string[]): Promise<string[]> {
  const foreign: string[] = [];
  for (const name of names) {
    const stack = await findStack(target, name);
    if (stack && !isOwnStack(stack)) foreign.push(name);
  }
  return foreign;
}

/** Whether this app deployed `stack` (see foreignStacks). */
export function isOwnStack(stack: Stack): boolean {
  return (stack.Description ?? '').startsWith(STACK_DESCRIPTION_PREFIX);
}

/** Refuses to `what` (deploy over, destroy) stacks of the platform's names that another app deployed. */
export function foreignStacksError(target: Target, foreign: readonly string[], consequence: string): CliError {
  return new CliError(
    `${foreign.join(', ')} in account ${target.account}, region ${target.region} ${foreign.length === 1 ? 'was' : 'were'} not deployed by MLflow on AWS `
      + `(no "${STACK_DESCRIPTION_PREFIX.trim()}" description): most likely the original aws-mlflow-sagemaker-cdk sample's, whose stacks have the same names. ${consequence}`,
    EXIT.failure,
    'Nothing was changed. To move its data in, follow docs/guides/migrate-from-sample.md (snapshot the database, detach the bucket from the old stack, '
      + 'delete the old stacks, then deploy with -c dbSnapshot=... -c artifactBucketName=...); or use another region or account.',
  );
}

/** All stacks of the platform, dependents first (the order to delete them in). */
export const STACKS_IN_DELETION_ORDER = [STACK_NAMES.studio, STACK_NAMES.notebook, STACK_NAMES.gateway, STACK_NAMES.mlflow] as const;

/** The stacks the app synthesizes with this configuration. */
export function expectedStacks(config: PlatformConfig): string[] {
  return [STACK_NAMES.mlflow, STACK_NAMES.gateway, ...sagemakerStacks(config.sagemaker).map((kind) => STACK_NAMES[kind])];
}

export function usesStudio(config: PlatformConfig): boolean {
  return sagemakerStacks(config.sagemaker).includes('studio');
}

export async function listDomains(target: Target): Promise<DomainDetails[]> {
  const domains: DomainDetails[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await target.clients.sageMaker.send(new ListDomainsCommand({ NextToken: nextToken, MaxResults: 100 }));
      domains.push(...(page.Domains ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
  } catch (error) {
    throw toCliError(error, errorContext(target, 'listing SageMaker domains (sagemaker:ListDomains)'));
  }
  return domains;
}

export function describeDomain(domain: DomainDetails): string {
  return `${domain.DomainId} (${domain.DomainName ?? 'no name'}, ${domain.Status ?? 'unknown status'})`;
}

/** Absolute path of the pinned CDK CLI entry point (node_modules/aws-cdk/bin/cdk), or a clear error. */
export function locateCdk(projectRoot: string): string {
  try {
    return require.resolve('aws-cdk/bin/cdk', { paths: [projectRoot] });
  } catch {
    throw new CliError(
      `The project's CDK CLI (node_modules/aws-cdk) is not installed in ${projectRoot}.`,
      EXIT.failure,
      'Run `npm ci` in the project folder first.',
    );
  }
}
