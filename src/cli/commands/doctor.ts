/** `doctor`: checks what a deployment needs and says how to fix what is missing. Read-only. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand } from '@aws-sdk/client-service-quotas';
import { PlatformConfig } from '../../app/config/platform-config';
import { callerIdentity, checkAccount, checkIamPrincipalAccounts, describeDomain, listDomains, loadCliConfigOrThrow, Target, usesStudio } from '../aws';
import { CliDeps } from '../deps';
import { CliError, EXIT, ExitCode, isStackMissing, toCliError } from '../errors';
import { parseCommandOptions } from '../options';
import { DOCTOR } from './index';

/** Bootstrap stack version below which the CDK CLI refuses to deploy the app's assets. */
export const MIN_BOOTSTRAP_VERSION = 6;
export const TOOLKIT_STACK_NAME = 'CDKToolkit';

type CheckState = 'ok' | 'info' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  readonly name: string;
  readonly state: CheckState;
  readonly detail: string;
  readonly fix?: string;
  readonly exitCode?: ExitCode;
  /** Set by the bootstrap check when `cdk bootstrap` is the fix. */
  readonly needsBootstrap?: boolean;
}

const MARK: Record<CheckState, string> = { ok: '[ ok ]', info: '[info]', warn: '[warn]', fail: '[FAIL]', skip: '[skip]' };

export async function doctorCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { options } = parseCommandOptions(DOCTOR, args);
  const results: CheckResult[] = [];
  const report = (result: CheckResult): void => {
    results.push(result);
    deps.output.out(`${MARK[result.state]} ${result.name}: ${result.detail}`);
    if (result.fix && (result.state === 'fail' || result.state === 'warn')) deps.output.out(`       fix: ${result.fix}`);
  };

  report(checkNode(deps.nodeVersion, readNodeEngines(deps.projectRoot)));

  let config: PlatformConfig | undefined;
  try {
    config = loadCliConfigOrThrow(deps, options);
    report({ name: 'Configuration', state: 'ok', detail: `region ${config.region}, sagemaker=${config.sagemaker}, imageBuild=${config.imageBuild}${config.domainId ? `, domainId=${config.domainId}` : ''}` });
  } catch (error) {
    const e = error as CliError;
    report({ name: 'Configuration', state: 'fail', detail: e.message, fix: e.hint, exitCode: e.exitCode });
  }

  let target: Target | undefined;
  if (config) {
    const defaultRegion = deps.env.AWS_DEFAULT_REGION;
    const clients = deps.clients({ region: config.region, profile: options.profile });
    try {
      const identity = await callerIdentity(clients, config.region);
      checkAccount(config, identity.account);
      target = { config, clients, region: config.region, profile: options.profile, ...identity };
      report({ name: 'AWS credentials', state: 'ok', detail: `account ${identity.account} as ${identity.arn}` });
      const regionNote = defaultRegion && defaultRegion !== config.region ? ` (AWS_DEFAULT_REGION is ${defaultRegion}; the stacks follow AWS_REGION / -c region)` : '';
      report({ name: 'Region', state: regionNote ? 'warn' : 'ok', detail: `${config.region}${regionNote}`, fix: regionNote ? `export AWS_REGION=${config.region} (or the region you mean) so every tool agrees` : undefined });
    } catch (error) {
      const e = error as CliError;
      report({ name: 'AWS credentials', state: 'fail', detail: e.message, fix: e.hint, exitCode: e.exitCode });
    }
  }

  if (target) {
    const principals = checkIamPrincipals(target);
    if (principals) report(principals);
  }

  if (target) report(await checkBootstrap(target));
  else report({ name: 'CDK bootstrap', state: 'skip', detail: 'needs working credentials' });

  if (config) report(await checkDocker(deps, config));

  if (target) report(await checkCodeBuildQuota(target));
  else report({ name: 'CodeBuild quota', state: 'skip', detail: 'needs working credentials' });

  if (target && usesStudio(target.config)) report(await checkDomains(target));
  else if (config && !usesStudio(config)) report({ name: 'SageMaker domain', state: 'skip', detail: `not used with sagemaker=${config.sagemaker}` });
  else report({ name: 'SageMaker domain', state: 'skip', detail: 'needs working credentials' });

  const failed = results.filter((r) => r.state === 'fail');
  deps.output.out('');
  if (failed.length === 0) {
    deps.output.out('Ready to deploy: npx mlflow-on-aws deploy');
    return EXIT.ok;
  }
  deps.output.out(`${failed.length} check${failed.length > 1 ? 's' : ''} failed: ${failed.map((r) => r.name).join(', ')}.`);
  return failed[0].exitCode ?? EXIT.failure;
}

/**
 * Release lines inside the supported range that are past their end of life: still allowed (a warning, not a
 * failure), with what follows for this project.
 */
export const NODE_END_OF_LIFE: Readonly<Record<number, string>> = Object.freeze({
  20: 'Node.js 20 reached end of life on 2026-04-30, and AWS SDK for JavaScript v3 releases from January 2027 on require Node.js 22 or later (the SDK versions pinned here still run on 20)',
});

const NODE_FIX = 'Install Node.js 24 LTS (or 22) from nodejs.org or your package manager.';

/** The supported Node.js range: package.json "engines.node" of the project, the one place it is written. */
export function readNodeEngines(projectRoot: string): string | undefined {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { engines?: { node?: unknown } };
    return typeof pkg.engines?.node === 'string' ? pkg.engines.node : undefined;
  } catch {
    return undefined;
  }
}

export function checkNode(version: string, range: string | undefined): CheckResult {
  const name = 'Node.js';
  if (range === undefined) return { name, state: 'warn', detail: `${version}; cannot read "engines.node" from the project's package.json`, fix: 'Run doctor from an intact checkout of the project (package.json present).' };
  let parsed: NodeRange;
  try {
    parsed = parseNodeRange(range);
  } catch (error) {
    return { name, state: 'warn', detail: `${version}; ${(error as Error).message}` };
  }
  const minimum = minimumVersion(parsed);
  if (compareVersions(version, minimum) < 0) {
    return { name, state: 'fail', detail: `${version} is too old: the minimum is ${minimum} (package.json engines.node "${range}")`, fix: NODE_FIX };
  }
  if (!satisfies(version, parsed)) {
    return { name, state: 'warn', detail: `${version} is outside the supported range "${range}" (package.json engines.node): untested`, fix: NODE_FIX };
  }
  const endOfLife = NODE_END_OF_LIFE[majorOf(version)];
  if (endOfLife) return { name, state: 'warn', detail: `${version}: ${endOfLife}`, fix: NODE_FIX };
  return { name, state: 'ok', detail: `${version} (supported: ${range})` };
}

// ---- the part of npm's semver range syntax that engines.node uses: "||", "^X.Y.Z", ">=", ">", "<=", "<", "=" ----

type Comparator = { readonly op: '>=' | '>' | '<=' | '<' | '='; readonly version: string };
/** Alternatives ("||") of comparator sets (all must hold). */
export type NodeRange = Comparator[][];

export function parseNodeRange(range: string): NodeRange {
  const alternatives = range.split('||').map((part) => part.trim());
  if (alternatives.some((a) => a === '')) throw new Error(`engines.node "${range}" has an empty alternative`);
  return alternatives.map((alternative) =>
    alternative.split(/\s+/).flatMap((token): Comparator[] => {
      const match = /^(\^|>=|>|<=|<|=)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(token);
      if (!match) throw new Error(`engines.node "${range}": cannot read "${token}"`);
      const [, op, major, minor = '0', patch = '0'] = match;
      const version = `${major}.${minor}.${patch}`;
      if (op === '^') return [{ op: '>=', version }, { op: '<', version: `${Number(major) + 1}.0.0` }];
      return [{ op: (op ?? '=') as Comparator['op'], version }];
    }),
  );
}

export function satisfies(version: string, range: NodeRange): boolean {
  return range.some((set) =>
    set.every(({ op, version: bound }) => {
      const c = compareVersions(version, bound);
      return op === '>=' ? c >= 0 : op === '>' ? c > 0 : op === '<=' ? c <= 0 : op === '<' ? c < 0 : c === 0;
    }),
  );
}

/** The lowest version the range admits (its lowest lower bound). */
export function minimumVersion(range: NodeRange): string {
  const lowers = range.map((set) => set.find((c) => c.op === '>=' || c.op === '=' || c.op === '>')?.version ?? '0.0.0');
  return lowers.reduce((a, b) => (compareVersions(a, b) <= 0 ? a : b));
}

function majorOf(version: string): number {
  return parseInt(version.replace(/^v/, ''), 10) || 0;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split('.').map((n) => parseInt(n, 10) || 0);
  const pb = b.replace(/^v/, '').split('.').map((n) => parseInt(n, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  }
  return 0;
}

export async function checkBootstrap(target: Target): Promise<CheckResult> {
  const name = 'CDK bootstrap';
  const fix = `npx cdk bootstrap aws://${target.account}/${target.region}   (or: npx mlflow-on-aws deploy --bootstrap)`;
  try {
    const stack = (await target.clients.cloudFormation.send(new DescribeStacksCommand({ StackName: TOOLKIT_STACK_NAME }))).Stacks?.[0];
    if (!stack || stack.StackStatus === 'DELETE_COMPLETE') return { name, state: 'fail', detail: `${TOOLKIT_STACK_NAME} not found in ${target.region}`, fix, needsBootstrap: true };
    const status = stack.StackStatus ?? 'unknown';
    const version = Number(stack.Outputs?.find((o) => o.OutputKey === 'BootstrapVersion')?.OutputValue);
    if (/FAILED|ROLLBACK_COMPLETE$/.test(status) && !/UPDATE_ROLLBACK_COMPLETE$/.test(status)) {
      return { name, state: 'fail', detail: `${TOOLKIT_STACK_NAME} is ${status}`, fix: `Delete the failed ${TOOLKIT_STACK_NAME} stack in the CloudFormation console, then: ${fix}` };
    }
    if (!Number.isFinite(version)) return { name, state: 'warn', detail: `${TOOLKIT_STACK_NAME} is ${status} but has no BootstrapVersion output`, fix };
    if (version < MIN_BOOTSTRAP_VERSION) {
      return { name, state: 'fail', detail: `bootstrap version ${version} is older than ${MIN_BOOTSTRAP_VERSION}`, fix, needsBootstrap: true };
    }
    return { name, state: 'ok', detail: `${TOOLKIT_STACK_NAME} version ${version} (${status})` };
  } catch (error) {
    if (isStackMissing(error)) {
      return { name, state: 'fail', detail: `${TOOLKIT_STACK_NAME} not found: account ${target.account} is not bootstrapped in ${target.region}`, fix, needsBootstrap: true };
    }
    const e = toCliError(error, { region: target.region, account: target.account, action: `reading ${TOOLKIT_STACK_NAME}` });
    return { name, state: 'fail', detail: e.message, fix: e.hint, exitCode: e.exitCode };
  }
}

export async function checkDocker(deps: CliDeps, config: PlatformConfig): Promise<CheckResult> {
  const needed = config.imageBuild === 'local';
  const docker = await dockerAvailable(deps);
  if (docker.ok) return { name: 'Docker', state: 'ok', detail: `engine ${docker.detail}${needed ? '' : ' (not needed: images are built in AWS CodeBuild)'}` };
  if (!needed) return { name: 'Docker', state: 'info', detail: `${docker.detail}; not needed, imageBuild=codebuild builds the images in AWS` };
  return {
    name: 'Docker',
    state: 'fail',
    detail: `${docker.detail}, and imageBuild=local builds the images on this machine`,
    fix: 'Start Docker, or build in AWS instead: -c imageBuild=codebuild',
  };
}

export async function dockerAvailable(deps: CliDeps): Promise<{ ok: boolean; detail: string }> {
  const result = await deps.runner.run('docker', ['info', '--format', '{{.ServerVersion}}'], { capture: true, timeoutMs: 20_000, env: deps.env });
  if (result.spawnError === 'ENOENT') return { ok: false, detail: 'docker is not installed' };
  if (result.exitCode !== 0) {
    const reason = (result.stderr || result.stdout).trim().split('\n')[0];
    return { ok: false, detail: `docker engine not reachable${reason ? ` (${reason})` : ''}` };
  }
  return { ok: true, detail: result.stdout.trim() || 'running' };
}

export async function checkDomains(target: Target): Promise<CheckResult> {
  const name = 'SageMaker domain';
  let domains;
  try {
    domains = await listDomains(target);
  } catch (error) {
    const e = error as CliError;
    return { name, state: 'fail', detail: e.message, fix: e.hint, exitCode: e.exitCode };
  }
  const domainId = target.config.domainId;
  if (domainId) {
    const found = domains.find((d) => d.DomainId === domainId);
    if (!found) {
      return { name, state: 'fail', detail: `DOMAIN_ID ${domainId} not found in ${target.region} (found: ${domains.map((d) => d.DomainId).join(', ') || 'none'})`, fix: 'Unset DOMAIN_ID to create a new domain, or use an id from this region.' };
    }
    if (found.Status !== 'InService') return { name, state: 'warn', detail: `${describeDomain(found)} is not InService`, fix: 'Wait for the domain to be InService, or choose another.' };
    return { name, state: 'ok', detail: `using existing ${describeDomain(found)}` };
  }
  if (domains.length === 0) return { name, state: 'ok', detail: `none in ${target.region}; deploy creates one` };
  return {
    name,
    state: 'info',
    detail: `${domains.length} existing: ${domains.map(describeDomain).join('; ')}. deploy creates a new domain unless you reuse one: deploy --use-existing-domain, or DOMAIN_ID=<id>`,
  };
}

/** iamPrincipals of another account than the credentials' (see checkIamPrincipalAccounts); nothing to report without any. */
export function checkIamPrincipals(target: Target): CheckResult | undefined {
  const count = target.config.iamPrincipals?.length ?? 0;
  if (count === 0) return undefined;
  try {
    checkIamPrincipalAccounts(target.config, target.account);
    return { name: 'IAM principals', state: 'ok', detail: `${count} of account ${target.account}` };
  } catch (error) {
    const e = error as CliError;
    return { name: 'IAM principals', state: 'fail', detail: e.message, fix: e.hint, exitCode: e.exitCode };
  }
}

/**
 * Service Quotas codes of CodeBuild's "Concurrently running builds" for the environments the deploy-time builds use
 * (BUILD_GENERAL1_SMALL: LINUX_CONTAINER for x86_64 images and the serving image, ARM_CONTAINER for arm64 ones).
 */
export const CODEBUILD_QUOTAS = {
  linux: { code: 'L-9D07B6EF', name: 'Linux/Small' },
  arm: { code: 'L-5ED1D25B', name: 'ARM/Small' },
} as const;

/**
 * The deploy-time builds run one at a time (src/lib/service/container-images.ts), so CodeBuild must allow one running
 * build in each environment they use. New accounts can have 0 (the first deploy then fails with
 * AccountLimitExceededException). Read with servicequotas:GetServiceQuota, or the AWS default when no value applies.
 */
export async function checkCodeBuildQuota(target: Target): Promise<CheckResult> {
  const name = 'CodeBuild quota';
  const { imageBuild, taskArchitecture, servingImage } = target.config;
  const needed = new Map<keyof typeof CODEBUILD_QUOTAS, string>();
  if (imageBuild === 'codebuild') needed.set(taskArchitecture === 'arm64' ? 'arm' : 'linux', `the ${taskArchitecture} proxy and MLflow images`);
  if (servingImage) needed.set('linux', [needed.get('linux'), 'the serving image'].filter(Boolean).join(' and '));
  if (needed.size === 0) return { name, state: 'skip', detail: 'no deploy-time build: imageBuild=local and servingImage=false' };

  const found: string[] = [];
  const zero: string[] = [];
  const unknown: string[] = [];
  for (const [kind, what] of needed) {
    const quota = CODEBUILD_QUOTAS[kind];
    const label = `${quota.name} (${quota.code}, for ${what})`;
    try {
      const value = await quotaValue(target, quota.code);
      if (value === undefined) unknown.push(`${label}: no value returned`);
      else if (value < 1) zero.push(`${label}: ${value}`);
      else found.push(`${quota.name}: ${value}`);
    } catch (error) {
      unknown.push(`${label}: ${toCliError(error, { region: target.region, account: target.account, action: 'reading it (servicequotas:GetServiceQuota)' }).message.replace(/\.$/, '')}`);
    }
  }
  const kinds = [...needed.keys()].map((kind) => CODEBUILD_QUOTAS[kind]);
  if (zero.length) {
    const increase = kinds.filter((q) => zero.some((line) => line.includes(q.code)))
      .map((q) => `aws service-quotas request-service-quota-increase --service-code codebuild --quota-code ${q.code} --desired-value 1 --region ${target.region}`).join('; ');
    const local = [imageBuild === 'codebuild' ? '-c imageBuild=local (the local Docker engine builds the app images)' : '', servingImage ? '-c servingImage=false' : ''].filter(Boolean).join(', ');
    return {
      name,
      state: 'fail',
      detail: `CodeBuild allows no running build in ${target.region} for ${zero.join('; ')}: the deploy-time image builds cannot start`,
      fix: `Ask for 1 (free): ${increase}; or build without CodeBuild: ${local}`,
    };
  }
  if (unknown.length) {
    return {
      name,
      state: 'warn',
      detail: `could not read ${unknown.join('; ')}`,
      fix: `Check it yourself (the deploy needs at least 1): ${kinds.map((q) => `aws service-quotas get-service-quota --service-code codebuild --quota-code ${q.code} --region ${target.region}`).join('; ')}`,
    };
  }
  return { name, state: 'ok', detail: `concurrent builds ${found.join(', ')} (the deploy runs one at a time)` };
}

/** The quota's value for the account: the applied one, else the AWS default (no value applied to the account). */
async function quotaValue(target: Target, quotaCode: string): Promise<number | undefined> {
  try {
    const answer = await target.clients.serviceQuotas.send(new GetServiceQuotaCommand({ ServiceCode: 'codebuild', QuotaCode: quotaCode }));
    return answer?.Quota?.Value;
  } catch (error) {
    if ((error as { name?: string }).name !== 'NoSuchResourceException') throw error;
    const answer = await target.clients.serviceQuotas.send(new GetAWSDefaultServiceQuotaCommand({ ServiceCode: 'codebuild', QuotaCode: quotaCode }));
    return answer?.Quota?.Value;
  }
}
