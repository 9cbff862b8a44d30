/**
 * What is deployed, read from the deployed stacks' templates (cloudformation:GetTemplate) and outputs, and the moves
 * `deploy` refuses because CloudFormation cannot make them in place or would replace what holds the users' work:
 * - a profile move (standard <-> lean) while the gateway or a SageMaker stack is deployed: MLflowVpcStack would drop
 *   exports they import (so its update is refused), and past that the Studio domain and the notebook are replaced;
 * - another `studioStorageKey` for the domain the Studio stack created: its KmsKeyId cannot change, a new domain it is;
 * - a notebook instance on another platform (or under another name) than this release's: create-only, so the instance
 *   is replaced and its volume, with the notebooks on it, deleted; only with `--replace-notebook`.
 * - another `database` engine than the deployed one, given explicitly: the store would start empty, and no command moves
 *   the data between engines yet; not given, the deploy keeps the deployed engine (`chooseDatabase`).
 * Reads only; needs no synth. The refusal is decided by `checkTransition` and `chooseDatabase`, functions of what was
 * read. The offline transition check's list of refused transitions (src/transition/refused.ts) names the profile move
 * too, and both read the deployed profile and engine with its `profileOfResourceTypes` and `databaseOfResourceTypes`.
 */
import { GetTemplateCommand, Stack } from '@aws-sdk/client-cloudformation';
import type { PlatformConfig } from '../app/config/platform-config';
import { sagemakerStacks, type Profile, type StudioStorageKey } from '../app/config/settings';
import { NOTEBOOK_INSTANCE_NAME, NOTEBOOK_PLATFORM } from '../lib/sagemaker/notebook-instance';
import { MLFLOW_OUTPUTS, STACK_NAMES } from '../app/names';
import { errorContext, findStack, stackOutputs, Target } from './aws';
import { CliError, EXIT, toCliError } from './errors';
import { databaseOfResourceTypes, profileMoveBlockers, profileOfResourceTypes } from '../transition/refused';
import type { DatabaseEngine } from '../lib/contract';

/** Stack states in which a stack holds no resources (a failed first create, a change set never executed). */
const EMPTY_STATES = new Set(['ROLLBACK_COMPLETE', 'REVIEW_IN_PROGRESS']);

const KEY_LABELS: Record<StudioStorageKey, string> = { 'customer-managed': 'a customer managed KMS key', 'aws-managed': 'the AWS managed key' };

/** Where the notebook instance keeps its files: the ML storage volume, the only folder that outlives a stop. */
export const NOTEBOOK_HOME = '/home/ec2-user/SageMaker';
/** A Studio JupyterLab space's home folder (its own EBS volume, deleted with the space). */
export const STUDIO_SPACE_HOME = '/home/sagemaker-user';

export interface DeployedState {
  /** This app's stacks that hold resources. */
  readonly stacks: ReadonlySet<string>;
  /**
   * MLflowVpcStack: the profile it was deployed with (a load balancer: standard; none: lean), its artifact bucket, its
   * database engine (an Aurora cluster: aurora; none: sqlite) and, with sqlite, the database replica bucket.
   */
  readonly mlflow?: {
    readonly profile: Profile;
    readonly artifactBucket?: string;
    readonly database: DatabaseEngine;
    readonly databaseReplicaBucket?: string;
  };
  /** The notebook instance of SageMakerNotebookInstanceStack as its template has it. */
  readonly notebook?: { readonly name: string; readonly platform: string };
  /** How the domain the Studio stack created encrypts its home directories; undefined when it created none. */
  readonly studioDomainKey?: StudioStorageKey;
}

interface TemplateResource {
  Type?: string;
  Properties?: Record<string, unknown>;
}

/** Reads the deployed stacks of the platform (one DescribeStacks and, for those that matter here, one GetTemplate each). */
export async function readDeployedState(target: Target): Promise<DeployedState> {
  const stacks = new Set<string>();
  const found = new Map<string, Stack>();
  for (const name of [STACK_NAMES.mlflow, STACK_NAMES.gateway, STACK_NAMES.studio, STACK_NAMES.notebook]) {
    const stack = await findStack(target, name);
    if (stack && !EMPTY_STATES.has(stack.StackStatus ?? '')) {
      stacks.add(name);
      found.set(name, stack);
    }
  }
  let mlflow: DeployedState['mlflow'];
  if (found.has(STACK_NAMES.mlflow)) {
    const resources = await deployedResources(target, STACK_NAMES.mlflow);
    const outputs = stackOutputs(found.get(STACK_NAMES.mlflow));
    mlflow = {
      profile: profileOfResourceTypes(resources.map((r) => r.Type)),
      artifactBucket: outputs[MLFLOW_OUTPUTS.artifactBucketName],
      database: databaseOfResourceTypes(resources.map((r) => r.Type)),
      databaseReplicaBucket: outputs[MLFLOW_OUTPUTS.databaseReplicaBucketName],
    };
  }
  let notebook: DeployedState['notebook'];
  if (found.has(STACK_NAMES.notebook)) {
    const instance = (await deployedResources(target, STACK_NAMES.notebook)).find((r) => r.Type === 'AWS::SageMaker::NotebookInstance');
    if (instance) {
      const name = instance.Properties?.NotebookInstanceName;
      const platform = instance.Properties?.PlatformIdentifier;
      notebook = {
        name: typeof name === 'string' ? name : stackOutputs(found.get(STACK_NAMES.notebook)).NotebookInstanceName ?? '(unnamed)',
        // Not in the template: whatever SageMaker defaulted to. This release's template sets it, a change of a create-only property.
        platform: typeof platform === 'string' ? platform : 'platform not set',
      };
    }
  }
  let studioDomainKey: StudioStorageKey | undefined;
  if (found.has(STACK_NAMES.studio)) {
    const domain = (await deployedResources(target, STACK_NAMES.studio)).find((r) => r.Type === 'AWS::SageMaker::Domain');
    if (domain) studioDomainKey = domain.Properties?.KmsKeyId === undefined ? 'aws-managed' : 'customer-managed';
  }
  return { stacks, mlflow, notebook, studioDomainKey };
}

/** The resources of a deployed stack's template (cloudformation:GetTemplate, as processed). */
export async function deployedResources(target: Target, stackName: string): Promise<TemplateResource[]> {
  let body: string | undefined;
  try {
    body = (await target.clients.cloudFormation.send(new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Processed' })))?.TemplateBody;
  } catch (error) {
    throw toCliError(error, errorContext(target, `reading the deployed template of ${stackName} (cloudformation:GetTemplate)`));
  }
  try {
    return Object.values((JSON.parse(body ?? '') as { Resources?: Record<string, TemplateResource> }).Resources ?? {});
  } catch {
    throw new CliError(`The deployed template of ${stackName} is not JSON, so deploy cannot tell what an update would replace.`, EXIT.failure,
      'Was it deployed by this project? See `npx mlflow-on-aws status`.');
  }
}

export interface TransitionOptions {
  /** The user accepts that the notebook instance is replaced (its volume deleted). */
  readonly replaceNotebook: boolean;
}

export interface TransitionCheck {
  /** Why the deploy must not run, and what to do instead. */
  readonly refusal?: CliError;
  /** What the deploy will do that the user should know (printed before it runs). */
  readonly notes: string[];
}

/** Whether moving the deployed `state` to `config` is a deploy CloudFormation can make without losing users' work. */
export function checkTransition(state: DeployedState, config: PlatformConfig, options: TransitionOptions): TransitionCheck {
  const notes: string[] = [];
  const bucket = state.mlflow?.artifactBucket ?? 'ARTIFACT_BUCKET';

  const dependents = profileMoveBlockers(state.mlflow?.profile, config.profile, (name) => state.stacks.has(name));
  if (state.mlflow && state.mlflow.profile !== config.profile) {
    if (dependents.length > 0) return { notes, refusal: profileMoveRefusal(state, config.profile, dependents, bucket) };
    notes.push(`${STACK_NAMES.mlflow} moves from profile=${state.mlflow.profile} to profile=${config.profile} (network, load balancer, tasks); the database, its subnets and the artifact bucket stay.`);
  }

  if (state.studioDomainKey && !config.domainId && state.studioDomainKey !== config.studioStorageKey) {
    return {
      notes,
      refusal: new CliError(
        `The Studio domain of ${STACK_NAMES.studio} encrypts its home directories with ${KEY_LABELS[state.studioDomainKey]}, `
          + `and studioStorageKey=${config.studioStorageKey} would replace the domain (its KmsKeyId cannot change): a new, empty domain, and the old one's deletion fails while its user has apps or spaces.`,
        EXIT.usage,
        `Keep the key: -c studioStorageKey=${state.studioDomainKey} (put it in cdk.json for every later deploy). To change it, copy the spaces' files to S3 `
          + `(aws s3 sync ${STUDIO_SPACE_HOME} s3://${bucket}/studio-backup/SPACE_NAME/ in each space's terminal) and run npx mlflow-on-aws destroy --keep-mlflow-stack first.`,
      ),
    };
  }

  if (state.notebook && sagemakerStacks(config.sagemaker).includes('notebook')
    && (state.notebook.platform !== NOTEBOOK_PLATFORM || state.notebook.name !== NOTEBOOK_INSTANCE_NAME)) {
    const { name, platform } = state.notebook;
    const what = `${STACK_NAMES.notebook}'s notebook instance ${name} (${platform}) is replaced by ${NOTEBOOK_INSTANCE_NAME} (${NOTEBOOK_PLATFORM}, which only a new instance can get): `
      + `${name} is deleted with its volume and every notebook on it`;
    if (!options.replaceNotebook) {
      return {
        notes,
        refusal: new CliError(`${what}.`, EXIT.usage,
          `Copy the notebooks to S3 first, in a terminal of ${name} (start it if stopped; JupyterLab: File > New > Terminal): ${notebookBackupCommand(bucket, name)} ; then deploy again with --replace-notebook.`),
      };
    }
    notes.push(`${what} (--replace-notebook). Copy the notebooks back in a terminal of ${NOTEBOOK_INSTANCE_NAME}: aws s3 sync s3://${bucket}/${backupPrefix(name)} ${NOTEBOOK_HOME}/`);
  }
  return { notes };
}

/** Where the choice between the engines is explained (the docs page `deploy` names when it keeps the deployed engine). */
export const DATABASE_ENGINES_DOC = 'docs/decisions/lean-database-cost.md';

/** What `deploy` does about the `database` setting: the engine to pass to cdk, a line to print, or a refusal. */
export interface DatabaseChoice {
  /** Passed to cdk as `-c database=<pin>`: the deployed engine, when the user gave none. */
  readonly pin?: DatabaseEngine;
  readonly note?: string;
  readonly refusal?: CliError;
}

/**
 * The `database` setting of a deploy over what is deployed. `deployed`: the engine of the deployed MLflowVpcStack
 * (undefined: not deployed, any engine goes); `given`: the value the user set (cdk.json, cdk.context.json, `-c` or the
 * environment), undefined when not set; `configured`: what the configuration resolves to without a pin (its default
 * for the profile), undefined when unknown. Not given: the deployed engine is kept (so a default that differs, e.g.
 * lean's sqlite over a lean deployment on Aurora, never moves a deployed store), said in one line when the default
 * differs. Given and different: refused, since the new engine's store would start empty.
 */
export function chooseDatabase(deployed: DatabaseEngine | undefined, given: string | undefined, configured: DatabaseEngine | undefined): DatabaseChoice {
  if (deployed === undefined) return {};
  if (given === undefined) {
    return {
      pin: deployed,
      ...(configured !== undefined && configured !== deployed
        ? { note: `${STACK_NAMES.mlflow} keeps its database engine: database=${deployed} (deployed so; the configuration's default is ${configured}). The other engine, and why a deployment keeps its own: ${DATABASE_ENGINES_DOC}.` }
        : {}),
    };
  }
  if (given === deployed) return {};
  return {
    refusal: new CliError(
      `${STACK_NAMES.mlflow} keeps MLflow's data in database=${deployed}, and database=${given} would start an empty store: no command moves the data between engines yet.`,
      EXIT.usage,
      `Keep the engine (-c database=${deployed}, or leave database unset), or deploy a new platform (another account or region) with database=${given}.`,
    ),
  };
}

/** Where the notebooks of the instance `name` go in the artifact bucket. */
function backupPrefix(name: string): string {
  return `notebook-backup/${name}/`;
}

/** The command that copies a notebook instance's files into the artifact bucket (the execution role may write there). */
export function notebookBackupCommand(bucket: string, name: string): string {
  return `aws s3 sync ${NOTEBOOK_HOME} s3://${bucket}/${backupPrefix(name)} --exclude "lost+found/*"`;
}

function profileMoveRefusal(state: DeployedState, profile: Profile, dependents: readonly string[], bucket: string): CliError {
  const from = state.mlflow!.profile;
  const replaced = [...(state.studioDomainKey ? ['the Studio domain'] : []), ...(state.notebook ? [`the notebook instance ${state.notebook.name}`] : [])];
  const backups = [
    ...(state.notebook ? [`notebook instance ${state.notebook.name}: ${notebookBackupCommand(bucket, state.notebook.name)}`] : []),
    ...(state.stacks.has(STACK_NAMES.studio) ? [`each Studio space: aws s3 sync ${STUDIO_SPACE_HOME} s3://${bucket}/studio-backup/SPACE_NAME/`] : []),
  ];
  return new CliError(
    `${STACK_NAMES.mlflow} was deployed with profile=${from} (${from === 'standard' ? 'it has a' : 'it has no'} load balancer) and the configuration says profile=${profile}: `
      + `CloudFormation cannot move it while ${dependents.join(', ')} ${dependents.length === 1 ? 'is' : 'are'} deployed (they import the subnets and front door the move replaces)`
      + `${replaced.length ? `, and the move would replace ${replaced.join(' and ')}` : ''}.`,
    EXIT.usage,
    [
      `To move: ${backups.length ? `copy the notebooks to S3 (${backups.join('; ')}), then ` : ''}`
        + `npx mlflow-on-aws destroy --keep-mlflow-stack (deletes the gateway and SageMaker stacks; the database, its subnets and the artifact bucket stay), then deploy with profile=${profile}.`,
      `To stay: -c profile=${from}.`,
    ].join('\n'),
  );
}
