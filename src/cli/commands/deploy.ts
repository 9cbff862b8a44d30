/**
 * `deploy`: checks the target, optionally picks an existing SageMaker domain, then runs the project's pinned
 * CDK CLI (`cdk deploy --all --require-approval never`) with the same context, streaming its progress.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GATEWAY_OUTPUTS, MLFLOW_OUTPUTS, STACK_NAMES } from '../../app/names';
import { checkIamPrincipalAccounts, connect, givenDatabase, describeDomain, findStack, foreignStacks, foreignStacksError, listDomains, locateCdk, stackOutputs, STACKS_IN_DELETION_ORDER, Target, usesStudio } from '../aws';
import { checkSnapshotSettings } from '../db-snapshot';
import { checkTransition, chooseDatabase, readDeployedState, TransitionOptions } from '../deployed-state';
import { CliDeps } from '../deps';
import { CliError, EXIT } from '../errors';
import { CommonOptions, contextArgs, parseCommandOptions } from '../options';
import type { DatabaseEngine } from '../../lib/contract';
import { DEPLOY } from './index';
import { checkDeployWhilePaused, checkSleepOffWhileHeld, keepPausedAfterDeploy, ROUTES_BACK_BEFORE_SLEEP_OFF_PROBES, routesBackAfterDeploy } from './capacity';
import { checkBootstrap, dockerAvailable } from './doctor';
import { checkMlflowVersionChange } from './upgrade';
import { signInLine } from './status';

/** What `upgrade` lets its own deploys do that a plain `deploy` refuses. */
export interface DeployGuards {
  /** Deploy another mlflowVersion than the deployed one (the upgrade has stopped every writer). @default false */
  readonly allowVersionChange?: boolean;
  /** Deploy while the service runs no task, keeping it so (as --while-paused). @default false */
  readonly whilePaused?: boolean;
}

export async function deployCommand(args: readonly string[], deps: CliDeps, guards: DeployGuards = {}): Promise<number> {
  const { values, options: base } = parseCommandOptions(DEPLOY, args);
  const domainFlag = values['domain-id'] as string | undefined;
  const options: CommonOptions = domainFlag ? { ...base, context: { ...base.context, domainId: domainFlag } } : base;
  const log = deps.output.err;

  if (!fs.existsSync(path.join(deps.projectRoot, 'cdk.json'))) {
    throw new CliError(`No cdk.json in ${deps.projectRoot}.`, EXIT.failure, 'Run the CLI from a checkout of the project (after `npm ci`).');
  }
  const cdk = locateCdk(deps.projectRoot);
  let target = await connect(deps, options);
  log(`Deploying MLflow on AWS to account ${target.account}, region ${target.region} (sagemaker=${target.config.sagemaker}, imageBuild=${target.config.imageBuild}).`);

  // The original sample's stacks have this app's names: a deploy would update them in place, not beside them.
  const foreign = await foreignStacks(target, STACKS_IN_DELETION_ORDER);
  if (foreign.length > 0) {
    throw foreignStacksError(target, foreign, 'Deploying would update them in place into this app\'s stacks: their resources would be replaced, '
      + 'and the sample deletes its artifact bucket, with every object in it, when the bucket leaves its stack.');
  }

  const context: Record<string, string> = { ...options.context };
  if (values['use-existing-domain'] === true) {
    const domainId = await pickExistingDomain(target, log);
    if (domainId) {
      context.domainId = domainId;
      target = { ...target, config: { ...target.config, domainId } };
    }
  }

  // connect() resolved the configuration with the deployed engine when `database` is not given (target.databasePin);
  // cdk must build with the same: -c database=<deployed engine>.
  const pinned = await checkDeployedState(target, { replaceNotebook: values['replace-notebook'] === true }, givenDatabase(deps, context), log);
  if (pinned) context.database = pinned;

  const env: NodeJS.ProcessEnv = { ...deps.env, AWS_REGION: target.region, AWS_DEFAULT_REGION: target.region };
  if (options.profile) env.AWS_PROFILE = options.profile;
  const common = [...contextArgs(context), ...(options.profile ? ['--profile', options.profile] : [])];

  // The deployment's region, and with backupCopyRegion the copy vault's (its stack is deployed there, by the same cdk).
  const copyRegion = target.config.backup ? target.config.backupCopyRegion : undefined;
  const regions: Target[] = [target];
  if (copyRegion) regions.push({ ...target, region: copyRegion, clients: deps.clients({ region: copyRegion, profile: options.profile }) });
  const toBootstrap: string[] = [];
  for (const regionTarget of regions) {
    const bootstrap = await checkBootstrap(regionTarget);
    const needsBootstrap = bootstrap.needsBootstrap === true;
    if (bootstrap.state === 'fail' && !needsBootstrap) throw new CliError(bootstrap.detail, bootstrap.exitCode ?? EXIT.failure, bootstrap.fix);
    if (needsBootstrap && values.bootstrap !== true) {
      throw new CliError(`The target is not ready for CDK: ${bootstrap.detail}.`, EXIT.failure, `Run again with --bootstrap, or: ${bootstrap.fix?.split('   ')[0]}`);
    }
    if (needsBootstrap) toBootstrap.push(`aws://${target.account}/${regionTarget.region}`);
  }

  if (target.config.imageBuild === 'local') {
    const docker = await dockerAvailable(deps);
    if (!docker.ok) {
      throw new CliError(`imageBuild=local needs a running Docker engine: ${docker.detail}.`, EXIT.failure, 'Start Docker, or build the images in AWS: -c imageBuild=codebuild');
    }
  }

  // Upgrades and deploys while paused: see upgrade.ts and capacity.ts.
  await checkMlflowVersionChange(target, guards.allowVersionChange === true);
  const before = await checkDeployWhilePaused(target, values['while-paused'] === true || guards.whilePaused === true, log);
  const held = before && 'state' in before ? before : undefined;
  const woken = before && 'woken' in before ? before : undefined;
  if (held) await checkSleepOffWhileHeld(target, held);
  // Turning sleep off on a service that was asleep: the deploy removes the starting integration its gateway routes
  // point at, so they go back on the VPC link first (a request once the woken task is healthy does it).
  if (woken && target.config.sleepAfterMinutes === 0 && values['dry-run'] !== true) {
    log('Turning sleep off (sleepAfterMinutes=0): waiting for the woken service to answer through the gateway first, which puts its routes back on the VPC link ...');
    if (!(await routesBackAfterDeploy(deps, woken, log, ROUTES_BACK_BEFORE_SLEEP_OFF_PROBES))) {
      throw new CliError('The gateway\'s routes still point at the sleep function\'s starting integration, which this deploy (sleepAfterMinutes=0) would remove.', EXIT.failure,
        'Run `npx mlflow-on-aws resume`, wait until MLflow answers, then deploy again.');
    }
  }

  const steps: string[][] = [];
  if (toBootstrap.length > 0) steps.push(['bootstrap', ...toBootstrap, ...common]);
  steps.push(['deploy', '--all', '--require-approval', 'never', ...common]);

  for (const step of steps) {
    log(`$ cdk ${step.join(' ')}`);
    if (values['dry-run'] === true) continue;
    const result = await deps.runner.run(deps.nodePath, [cdk, ...step], { cwd: deps.projectRoot, env });
    if (held && step[0] === 'deploy') await keepPausedAfterDeploy(target, held, log);
    if (result.exitCode !== 0) {
      throw new CliError(`cdk ${step[0]} failed (exit code ${result.exitCode}).`, EXIT.failure, 'The CloudFormation events above name the failing resource. Run `npx mlflow-on-aws status` to see where each stack stands.');
    }
  }
  if (values['dry-run'] === true) {
    log('Dry run: nothing was deployed.');
    return EXIT.ok;
  }

  // Woken from sleep: the deploy ends with the gateway's routes on the VPC link (docs/guides/sleep.md).
  if (woken) await routesBackAfterDeploy(deps, woken, log);
  const trackingUri = stackOutputs(await findStack(target, STACK_NAMES.gateway))[GATEWAY_OUTPUTS.trackingUri];
  log('');
  log('Deployed.');
  if (trackingUri) deps.output.out(`MLflow tracking URI: ${trackingUri}`);
  if (target.config.auth === 'sso') {
    const userPoolId = stackOutputs(await findStack(target, STACK_NAMES.mlflow))[MLFLOW_OUTPUTS.ssoUserPoolId];
    deps.output.out(`Sign-in: ${signInLine(trackingUri, userPoolId, target.region)}`);
    if (userPoolId) log('Next: npx mlflow-on-aws users add <your e-mail> --admin   # the first admin; Cognito e-mails a temporary password');
    else log(`Next: put yourself in group ${target.config.ssoAdminGroup} at your provider to be an MLflow admin`);
    log('      npx mlflow-on-aws status');
    return EXIT.ok;
  }
  log('Next: eval "$(npx mlflow-on-aws credentials --env)"   # sets MLFLOW_TRACKING_URI/USERNAME/PASSWORD');
  log('      npx mlflow-on-aws status');
  return EXIT.ok;
}

/**
 * What the configuration may not do to what is deployed, checked before anything runs (read-only): iamPrincipals of
 * another account, the moves CloudFormation cannot make in place or that replace users' work (src/cli/deployed-state.ts),
 * and dbSnapshot settings that do not match the snapshot (src/cli/db-snapshot.ts). Prints what the deploy will replace.
 */
async function checkDeployedState(target: Target, options: TransitionOptions, givenDatabase: string | undefined, log: (line: string) => void): Promise<DatabaseEngine | undefined> {
  checkIamPrincipalAccounts(target.config, target.account);
  const state = await readDeployedState(target);
  const { refusal, notes } = checkTransition(state, target.config, options);
  if (refusal) throw refusal;
  const database = chooseDatabase(state.mlflow?.database, givenDatabase, target.databasePin?.defaultEngine ?? target.config.database);
  if (database.refusal) throw database.refusal;
  const snapshotNote = await checkSnapshotSettings(target, target.config, state.stacks.has(STACK_NAMES.mlflow));
  for (const line of [...notes, ...(database.note ? [database.note] : []), ...(snapshotNote ? [snapshotNote] : [])]) log(line);
  return database.pin;
}

/** The one InService domain of the region, or undefined (a new domain will be created). Several: the user must choose. */
async function pickExistingDomain(target: Target, log: (line: string) => void): Promise<string | undefined> {
  if (!usesStudio(target.config)) {
    log(`--use-existing-domain ignored: sagemaker=${target.config.sagemaker} creates no Studio user.`);
    return undefined;
  }
  if (target.config.domainId) {
    log(`Using SageMaker domain ${target.config.domainId} (DOMAIN_ID / domainId is set).`);
    return target.config.domainId;
  }
  const domains = (await listDomains(target)).filter((d) => d.Status === 'InService');
  if (domains.length === 0) {
    log(`No InService SageMaker domain in ${target.region}: a new one will be created.`);
    return undefined;
  }
  if (domains.length > 1) {
    throw new CliError(
      `${domains.length} SageMaker domains are in service in ${target.region}: ${domains.map(describeDomain).join('; ')}.`,
      EXIT.usage,
      'Choose one: --domain-id <id> (or DOMAIN_ID=<id>).',
    );
  }
  log(`Using existing SageMaker domain ${describeDomain(domains[0])}.`);
  return domains[0].DomainId;
}
