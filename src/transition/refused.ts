/**
 * The transitions `deploy` refuses: setting changes that the transition check (check.ts) shows CloudFormation cannot
 * make on a deployed stack, each with the one line that says what to do instead. The single list of them: the CLI asks
 * `refusedTransition` before it runs `cdk deploy`, docs/guides/upgrades.md and docs/guides/upgrading-mlflow.md point here, and
 * test/transitions/switches.test.ts checks every switch the documentation supports either passes the check or is listed here.
 *
 * Imports nothing at run time (no aws-cdk-lib), so that the CLI can load it cheaply.
 */
import type { PlatformConfig } from '../app/config/platform-config';
import type { Profile } from '../app/config/settings';
import { STACK_NAMES } from '../app/names';
import type { Template } from './assembly';
import type { DatabaseEngine } from '../lib/contract';

/** The deployed templates, by stack name (what CloudFormation's GetTemplate returns for each stack of the app). */
export type DeployedTemplates = Readonly<Record<string, Template | undefined>>;

/** What the rules read of the next configuration (resolved after `pinnedSettings`). */
export type RefusedTransitionNext = Pick<PlatformConfig, 'profile' | 'database'>;

export interface RefusedTransitionRule {
  /** Short name, e.g. `profile`. */
  readonly id: string;
  /** The transition, for people. */
  readonly transition: string;
  /** Why CloudFormation cannot make it (what the transition check reports). */
  readonly why: string;
  /** One line: what the user does instead. */
  readonly whatToDo: string;
  /** True when deploying `next` over `deployed` is this transition. */
  applies(deployed: DeployedTemplates, next: RefusedTransitionNext): boolean;
}

/** A refused transition found for one deploy: the rule and the one-line message the CLI prints. */
export interface RefusedTransition {
  readonly rule: RefusedTransitionRule;
  readonly message: string;
}

/**
 * The profile a deployed MLflowVpcStack was made with: `standard` has the internal load balancer, `lean` has none;
 * undefined when the stack is not deployed.
 */
export function deployedProfile(deployed: DeployedTemplates): 'standard' | 'lean' | undefined {
  const mlflow = deployed[STACK_NAMES.mlflow];
  if (!mlflow) return undefined;
  return profileOfResourceTypes(Object.values(mlflow.Resources ?? {}).map((resource: any) => resource?.Type));
}

/** The profile of an MLflowVpcStack holding resources of these types (the CLI reads them with GetTemplate too). */
export function profileOfResourceTypes(types: ReadonlyArray<string | undefined>): 'standard' | 'lean' {
  return types.includes('AWS::ElasticLoadBalancingV2::LoadBalancer') ? 'standard' : 'lean';
}

/**
 * The database engine of an MLflowVpcStack holding resources of these types: `aurora` when it has the Aurora cluster,
 * `sqlite` otherwise (its replica bucket). `deploy` pins the `database` setting to it when the user does not give one,
 * and the transition check does the same, so that a default that changed between releases never moves a deployed store.
 */
export function databaseOfResourceTypes(types: ReadonlyArray<string | undefined>): DatabaseEngine {
  return types.includes('AWS::RDS::DBCluster') ? 'aurora' : 'sqlite';
}

/** The database engine of the deployed MLflowVpcStack; undefined when it is not deployed. */
export function deployedDatabase(deployed: DeployedTemplates): DatabaseEngine | undefined {
  const mlflow = deployed[STACK_NAMES.mlflow];
  if (!mlflow) return undefined;
  return databaseOfResourceTypes(Object.values(mlflow.Resources ?? {}).map((resource: any) => resource?.Type));
}

/**
 * The settings a deploy over `deployed` uses: `settings` with `database` pinned to the deployed MLflowVpcStack's engine
 * when they do not give it (a default that changed between releases, lean's aurora → sqlite in 0.3.0, never moves a
 * deployed store); `settings` as they are on a first deploy or when they give `database`. `deploy` resolves the
 * configuration from these, and so does the transition check (test/transitions, `npm run transitions`).
 */
export function pinnedSettings<S extends Readonly<Record<string, unknown>>>(deployed: DeployedTemplates, settings: S): S | (S & { database: DatabaseEngine }) {
  const engine = deployedDatabase(deployed);
  if (engine === undefined || (settings.database !== undefined && settings.database !== '')) return settings;
  return { ...settings, database: engine };
}

/** Stacks that import what a profile change removes from MLflowVpcStack, or hold resources it would replace. */
const PROFILE_DEPENDENT_STACKS = [STACK_NAMES.gateway, STACK_NAMES.studio, STACK_NAMES.notebook] as const;

/**
 * The deployed stacks that stop a move of MLflowVpcStack from profile `from` to `to` (empty when there is no move, or
 * nothing depends on it). The one decision of the profile rule, for this list and for the CLI's deploy.
 */
export function profileMoveBlockers(from: Profile | undefined, to: Profile, isDeployed: (stack: string) => boolean): string[] {
  if (from === undefined || from === to) return [];
  return PROFILE_DEPENDENT_STACKS.filter(isDeployed);
}

export const REFUSED_TRANSITIONS: readonly RefusedTransitionRule[] = [
  {
    id: 'profile',
    transition: 'profile standard ↔ lean on a deployment with the gateway or a SageMaker stack',
    why: 'MLflowVpcStack (updated first) drops exports HttpGatewayStack and the SageMaker stacks import (subnets, load '
      + 'balancer or Cloud Map service, security groups), and the Studio domain (KmsKeyId, AppNetworkAccessType, SubnetIds) '
      + 'and notebook instance (SubnetId, DirectInternetAccess) would be replaced under their fixed names',
    whatToDo: `back up the Studio home directories and the notebook instance's notebooks, delete ${[STACK_NAMES.notebook, STACK_NAMES.studio, STACK_NAMES.gateway].join(', ')} `
      + `(npx mlflow-on-aws destroy --keep-mlflow-stack), then deploy with the new profile: ${STACK_NAMES.mlflow} keeps the database, its subnets `
      + 'and the bucket; the endpoint URL changes unless you use a custom domain',
    applies: (deployed, next) => profileMoveBlockers(deployedProfile(deployed), next.profile, (stack) => deployed[stack] !== undefined).length > 0,
  },
  {
    id: 'database',
    transition: 'database aurora ↔ sqlite on a deployed stack',
    why: 'MLflow\'s runs, experiments, models and permissions stay in the deployed engine (the Aurora cluster, or the SQLite replicas in the '
      + 'database replica bucket): the other engine would start empty, and the old one would only be kept (retained bucket, final snapshot), not moved',
    whatToDo: 'no command moves the data between the engines yet: keep the deployed engine, by leaving database unset (deploy keeps it) '
      + 'or giving it, -c database=aurora on a stack with the Aurora cluster, -c database=sqlite on one with the database replica bucket',
    applies: (deployed, next) => {
      const engine = deployedDatabase(deployed);
      return engine !== undefined && engine !== next.database;
    },
  },
];

/**
 * The first refused transition that deploying `next` over the `deployed` templates would be, or undefined when the
 * deploy may go ahead. For the CLI's `deploy`, before it runs `cdk deploy`: print `message` and stop.
 */
export function refusedTransition(deployed: DeployedTemplates, next: RefusedTransitionNext): RefusedTransition | undefined {
  const rule = REFUSED_TRANSITIONS.find((candidate) => candidate.applies(deployed, next));
  return rule ? { rule, message: `Refused: ${rule.transition} (${rule.why}). What to do: ${rule.whatToDo}.` } : undefined;
}
