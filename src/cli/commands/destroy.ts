/**
 * `destroy`: deletes the deployed stacks (dependents first) after confirmation, saying beforehand what is kept
 * and what is deleted. What is kept is read from the deployed templates' DeletionPolicy, not assumed.
 * Whether the database's deletion protection is on is asked of RDS (the template no longer says it: see
 * docs/decisions/database-protection.md); only when RDS cannot be asked is it judged from the template.
 * Works through CloudFormation directly, so it needs no synth and no matching local configuration.
 */
import { DeleteStackCommand, GetTemplateCommand, ListStackResourcesCommand, Stack, StackResourceSummary } from '@aws-sdk/client-cloudformation';
import { DBCluster, DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { MLFLOW_OUTPUTS, STACK_NAMES } from '../../app/names';
import { connect, errorContext, findStack, foreignStacksError, isOwnStack, STACKS_IN_DELETION_ORDER, stackOutputs, Target } from '../aws';
import { CliDeps } from '../deps';
import { CliError, EXIT, toCliError } from '../errors';
import { confirmed, parseCommandOptions } from '../options';
import { DESTROY } from './index';
import { DATABASE_DELETION_PROTECTION_TYPE, HOME_EFS_METADATA_KEY, SQLITE_BACKUP_PREFIX, SQLITE_REPLICA_PREFIX } from '../../lib/contract';
import { deleteStudioAppsAndSpaces, describeStudioPlan, planStudio, removeDomainLeftovers, StudioPlan } from '../studio-cleanup';


/** How often the deletion is polled, and for how long at most. */
export const POLL_INTERVAL_MS = 10_000;
export const MAX_WAIT_MS = 2 * 60 * 60 * 1000;

const NOTABLE_TYPES: Record<string, string> = {
  'AWS::S3::Bucket': 'S3 bucket',
  'AWS::RDS::DBCluster': 'Aurora database cluster',
  'AWS::RDS::DBInstance': 'database instance',
  'AWS::SecretsManager::Secret': 'secret',
  'AWS::Logs::LogGroup': 'log group',
  'AWS::ECR::Repository': 'ECR repository',
  'AWS::SageMaker::Domain': 'SageMaker domain',
  'AWS::SageMaker::UserProfile': 'SageMaker user profile',
  'AWS::SageMaker::NotebookInstance': 'notebook instance',
  'AWS::EFS::FileSystem': 'EFS file system',
  'AWS::KMS::Key': 'KMS key',
  'AWS::Backup::BackupVault': 'AWS Backup vault',
};

/** What becomes of a backup vault's recovery points, by the vault's DeletionPolicy. */
const VAULT_KEPT = 'with its recovery points (each removed by AWS Backup when its retention ends)';
const VAULT_DELETED = 'only if it holds no recovery point: AWS Backup refuses to delete a vault that holds any, and MLflowVpcStack then ends DELETE_FAILED (see docs/reference/cli.md, destroy)';

interface TemplateResource {
  Type?: string;
  DeletionPolicy?: unknown;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface DeletionPlan {
  readonly stacks: string[];
  readonly kept: string[];
  readonly snapshots: string[];
  readonly deleted: string[];
  readonly blockers: string[];
  /** What happens to each database cluster, and how its deletion protection was found out. */
  readonly database: string[];
  /** Clusters whose deletion protection stops the destroy. */
  readonly protectedClusters: ProtectedCluster[];
  /** Set when the Studio stack is deployed and its domain still exists. */
  studio?: StudioPlan;
}

export interface ProtectedCluster {
  /** The cluster's name in RDS, when known. */
  readonly clusterId?: string;
  /**
   * The deployed template states `DeletionProtection: false` (deployed with dbDeletionProtection=false), so
   * deploying with that setting again changes nothing: only RDS itself can turn protection off.
   */
  readonly templateSaysOff: boolean;
  /** RDS could not be asked: protection was judged from the template. */
  readonly fromTemplate: boolean;
}

export async function destroyCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, options } = parseCommandOptions(DESTROY, args);
  const log = deps.output.err;
  const target = await connect(deps, options);

  const keepMlflowStack = values['keep-mlflow-stack'] === true;
  const deployed: string[] = [];
  const found = new Map<string, Stack>();
  for (const name of STACKS_IN_DELETION_ORDER.filter((stack) => !keepMlflowStack || stack !== STACK_NAMES.mlflow)) {
    const stack = await findStack(target, name);
    if (stack) {
      deployed.push(name);
      found.set(name, stack);
    }
  }
  if (deployed.length === 0) {
    throw new CliError(
      `No MLflow on AWS stacks ${keepMlflowStack ? `besides ${STACK_NAMES.mlflow} ` : ''}are deployed in account ${target.account}, region ${target.region}: nothing to destroy.`,
      EXIT.notDeployed,
      'If you deployed to another region, set AWS_REGION or pass --region.',
    );
  }

  const foreign = deployed.filter((name) => !isOwnStack(found.get(name)!));
  if (foreign.length > 0) {
    throw foreignStacksError(target, foreign, 'destroy would delete them with their data: the sample deletes its artifact bucket, with every object in it, with its stack.');
  }

  const plan = await planDeletion(target, deployed, found);
  log(`Account ${target.account}, region ${target.region}. Stacks to delete, in this order: ${plan.stacks.join(', ')}`);
  if (keepMlflowStack) log(`${STACK_NAMES.mlflow} stays (--keep-mlflow-stack): its network, database, artifact bucket and MLflow service are not touched.`);
  log('Deleted: everything in these stacks, including:');
  for (const line of plan.deleted.length ? plan.deleted : ['(no data resources)']) log(`  - ${line}`);
  log('Kept (billed until you delete them yourself):');
  for (const line of [...plan.kept, ...plan.snapshots].length ? [...plan.kept, ...plan.snapshots] : ['nothing: all data is deleted']) log(`  - ${line}`);

  if (plan.database.length) {
    log('Database:');
    for (const line of plan.database) log(`  - ${line}`);
  }

  if (plan.blockers.length > 0) {
    throw new CliError(
      `Cannot destroy yet:\n${plan.blockers.map((b) => `  - ${b}`).join('\n')}`,
      EXIT.failure,
      [
        ...plan.protectedClusters.map((cluster) => unprotectHint(target, cluster)),
        'Nothing was deleted. Fix the items above, then run destroy again.',
      ].join('\n'),
    );
  }

  if (!(await confirmed(deps, values.yes === true, 'destroy', `Delete ${plan.stacks.length} stack(s) from account ${target.account}, region ${target.region}? Type "yes" to continue: `))) {
    log('Aborted: nothing was deleted.');
    return EXIT.failure;
  }

  if (plan.studio) await deleteStudioAppsAndSpaces(target, deps, plan.studio);
  for (const name of plan.stacks) {
    await deleteStack(target, name, deps);
    if (name === STACK_NAMES.studio && plan.studio) await removeDomainLeftovers(target, deps, plan.studio);
  }
  log('');
  log('Destroyed.');
  if (plan.kept.length || plan.snapshots.length) log('Still there (see above): ' + [...plan.kept, ...plan.snapshots].join('; '));
  return EXIT.ok;
}

/** Reads each deployed template and sorts its notable resources into kept, snapshotted and deleted. */
export async function planDeletion(target: Target, stacks: string[], found: ReadonlyMap<string, Stack> = new Map()): Promise<DeletionPlan> {
  const plan: DeletionPlan = { stacks, kept: [], snapshots: [], deleted: [], blockers: [], database: [], protectedClusters: [] };
  for (const stackName of stacks) {
    let body: string | undefined;
    let physical: Map<string, string>;
    try {
      body = (await target.clients.cloudFormation.send(new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Processed' }))).TemplateBody;
      physical = await physicalIds(target, stackName);
    } catch (error) {
      throw toCliError(error, errorContext(target, `reading the template of ${stackName}`));
    }
    let resources: Record<string, TemplateResource> = {};
    try {
      resources = (JSON.parse(body ?? '{}') as { Resources?: Record<string, TemplateResource> }).Resources ?? {};
    } catch {
      throw new CliError(`The deployed template of ${stackName} is not JSON; was it deployed by this project?`, EXIT.failure);
    }
    const outputs = stackOutputs(found.get(stackName));
    for (const [logicalId, resource] of Object.entries(resources)) {
      const kind = resource.Type ? NOTABLE_TYPES[resource.Type] : undefined;
      if (!kind) continue;
      const label = `${kind} ${physical.get(logicalId) ?? logicalId} (${stackName})`;
      const policy = typeof resource.DeletionPolicy === 'string' ? resource.DeletionPolicy : 'Delete';
      if (resource.Type === 'AWS::RDS::DBCluster') {
        const clusterId = (stackName === STACK_NAMES.mlflow ? outputs[MLFLOW_OUTPUTS.databaseClusterIdentifier] : undefined) ?? physical.get(logicalId);
        const live = await liveCluster(target, clusterId);
        if (live.state === 'gone') {
          plan.database.push(`${clusterId} no longer exists in RDS: there is nothing to delete and no final snapshot will be taken.`);
          continue;
        }
        planDatabase(plan, { label, clusterId, policy, resource, resources, live });
      }
      const vault = resource.Type === 'AWS::Backup::BackupVault';
      if (policy === 'Retain' || policy === 'RetainExceptOnCreate') plan.kept.push(vault ? `${label}, ${VAULT_KEPT}` : label);
      else if (vault) plan.deleted.push(`${label}, ${VAULT_DELETED}`);
      else if (policy === 'Snapshot') plan.snapshots.push(`final snapshot of ${label}, taken on delete (RDS > Snapshots)`);
      else plan.deleted.push(label);
    }
    if (stackName === STACK_NAMES.studio) await planStudioDeletion(target, plan, resources, found.get(stackName));
    const replicaBucket = stackName === STACK_NAMES.mlflow ? outputs[MLFLOW_OUTPUTS.databaseReplicaBucketName] : undefined;
    if (replicaBucket && !Object.values(resources).some((r) => r.Type === 'AWS::RDS::DBCluster')) plan.database.push(replicaBucketLine(target, replicaBucket));
  }
  return plan;
}

/**
 * database=sqlite: no cluster, so no deletion protection or final snapshot to see to. MLflow's database is the replica
 * in the database replica bucket, which the stack retains (with the copies `upgrade` took): said, with how to delete it.
 */
function replicaBucketLine(target: Target, bucket: string): string {
  const profile = target.profile ? ` --profile ${target.profile}` : '';
  return `database=sqlite: MLflow's database is the Litestream replica in the bucket ${bucket} (${SQLITE_REPLICA_PREFIX}/, and the copies upgrade took under ${SQLITE_BACKUP_PREFIX}/); `
    + `the bucket is kept (RETAIN), with every version of its objects. To delete it once you no longer need the data: empty it in the S3 console (Empty removes every version), then aws s3 rb s3://${bucket} --region ${target.region}${profile}`;
}

type LiveCluster =
  | { state: 'found'; cluster: DBCluster }
  | { state: 'gone' }
  /** RDS could not be asked (no name, access denied, network): why. */
  | { state: 'unknown'; reason: string };

/** The cluster as RDS describes it now (rds:DescribeDBClusters). */
async function liveCluster(target: Target, clusterId: string | undefined): Promise<LiveCluster> {
  if (!clusterId) return { state: 'unknown', reason: `the stack names no cluster (no ${MLFLOW_OUTPUTS.databaseClusterIdentifier} output or physical id)` };
  try {
    const answer = await target.clients.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }));
    const cluster = answer?.DBClusters?.find((c) => c.DBClusterIdentifier === undefined || c.DBClusterIdentifier.toLowerCase() === clusterId.toLowerCase());
    return cluster ? { state: 'found', cluster } : { state: 'gone' };
  } catch (error) {
    if ((error as { name?: unknown } | undefined)?.name === 'DBClusterNotFoundFault') return { state: 'gone' };
    const reason = toCliError(error, errorContext(target, `reading database cluster ${clusterId} (rds:DescribeDBClusters)`)).message;
    return { state: 'unknown', reason: reason.replace(/\.$/, '') };
  }
}

/**
 * Says what happens to the database cluster, and stops the destroy while its deletion protection is on: deleting
 * the stack would otherwise delete everything around the cluster, then end in DELETE_FAILED, a state from which the
 * stack can no longer be updated (so `deploy -c dbDeletionProtection=false` would no longer help).
 * RDS is asked first; the template (`Custom::DatabaseDeletionProtection`, or `DeletionProtection: true` in older
 * deployments) is only the fallback when it cannot be.
 */
function planDatabase(
  plan: DeletionPlan,
  db: { label: string; clusterId?: string; policy: string; resource: TemplateResource; resources: Record<string, TemplateResource>; live: Exclude<LiveCluster, { state: 'gone' }> },
): void {
  const name = db.clusterId ?? db.label;
  if (db.policy === 'Retain' || db.policy === 'RetainExceptOnCreate') {
    // CloudFormation never asks RDS to delete a retained cluster, so its deletion protection does not matter.
    plan.database.push(`${name}: kept as it is, with its data (DeletionPolicy ${db.policy}).`);
    return;
  }
  const templateProperty = db.resource.Properties?.DeletionProtection;
  const templateSaysOff = templateProperty === false || templateProperty === 'false';
  const onDelete = db.policy === 'Snapshot'
    ? 'CloudFormation takes a final snapshot of it, then deletes it'
    : 'CloudFormation deletes it with all its data, without a final snapshot';
  const stop = (line: string, blocker: string): void => {
    plan.database.push(line);
    plan.blockers.push(blocker);
    plan.protectedClusters.push({ clusterId: db.clusterId, templateSaysOff, fromTemplate: db.live.state !== 'found' });
  };

  if (db.live.state === 'found') {
    if (db.live.cluster.DeletionProtection === true) {
      stop(`${name}: deletion protection is on (asked of RDS), so it cannot be deleted: destroy stops before deleting anything.`,
        `${db.label} has deletion protection on (rds:DescribeDBClusters)`);
    } else {
      plan.database.push(`${name}: deletion protection is off (asked of RDS); ${onDelete}.`);
    }
    return;
  }

  const turnedOnBy = Object.values(db.resources).some((r) => r.Type === DATABASE_DELETION_PROTECTION_TYPE)
    ? `${DATABASE_DELETION_PROTECTION_TYPE} turns it on after a successful deploy`
    : templateProperty === true || templateProperty === 'true' ? 'DeletionProtection: true' : undefined;
  const unknown = `could not ask RDS whether ${name} has deletion protection on (${db.live.reason}); judging from the deployed template instead`;
  if (turnedOnBy) {
    stop(`${unknown}: ${turnedOnBy}, so it is taken to be on and destroy stops before deleting anything.`,
      `${db.label} has deletion protection on, judging from the deployed template (${turnedOnBy}); RDS could not be asked (rds:DescribeDBClusters)`);
  } else {
    plan.database.push(`${unknown}: it does not turn protection on${templateSaysOff ? ' (DeletionProtection: false)' : ''}, so it is taken to be off; ${onDelete}.`);
  }
}

/** The way out of a deletion-protection stop: through the stack if it can still do it, or RDS directly. */
function unprotectHint(target: Target, cluster: ProtectedCluster): string {
  const profile = target.profile ? ` --profile ${target.profile}` : '';
  const id = cluster.clusterId ?? 'CLUSTER_ID';
  const direct = `aws rds modify-db-cluster --db-cluster-identifier ${id} --no-deletion-protection --apply-immediately --region ${target.region}${profile}`;
  const again = `npx mlflow-on-aws destroy${profile}`;
  if (cluster.templateSaysOff) {
    return [
      `Deletion protection of ${id} was turned on outside the stack (its template already says DeletionProtection: false), so a deploy would not change it. Turn it off in RDS, then destroy again:`,
      `  ${direct}`,
      `  ${again}`,
    ].join('\n');
  }
  return [
    `Turn deletion protection of ${id} off, then destroy again. Either through the stack (with the settings you deployed with):`,
    `  npx mlflow-on-aws deploy -c dbDeletionProtection=false${profile}`,
    `  ${again}`,
    'or directly in RDS:',
    `  ${direct}`,
    `  ${again}`,
    ...(cluster.fromTemplate
      ? ['(RDS could not be asked, so this was judged from the template. If protection is already off, allow these credentials rds:DescribeDBClusters and destroy again.)']
      : []),
  ].join('\n');
}

/** The Studio part of the plan: apps and spaces to delete first, the home EFS, what blocks the domain's deletion. */
async function planStudioDeletion(target: Target, plan: DeletionPlan, resources: Record<string, TemplateResource>, stack: Stack | undefined): Promise<void> {
  const outputs = stackOutputs(stack);
  const domainId = outputs.StudioDomainId;
  const userProfileName = outputs.StudioUserProfileName;
  if (!domainId || !userProfileName) {
    plan.blockers.push(`${STACK_NAMES.studio} has no StudioDomainId / StudioUserProfileName outputs, so its Studio apps cannot be found: delete the user profile's apps and spaces in the SageMaker console, then delete the stack in the CloudFormation console`);
    return;
  }
  const domain = Object.values(resources).find((r) => r.Type === 'AWS::SageMaker::Domain');
  // CloudFormation deletes a domain with SageMaker's default retention: the home EFS is kept unless this says Delete.
  const homeEfsOnDelete = domain?.Metadata?.[HOME_EFS_METADATA_KEY] === 'Delete' ? 'Delete' : 'Retain';
  const studio = await planStudio(target, { domainId, userProfileName, ownsDomain: domain !== undefined, homeEfsOnDelete });
  const lines = describeStudioPlan(studio, target.region);
  plan.deleted.unshift(...lines.deleted);
  plan.kept.push(...lines.kept);
  plan.blockers.push(...studio.blockers);
  plan.studio = studio;
}

async function physicalIds(target: Target, stackName: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  let nextToken: string | undefined;
  do {
    const page = await target.clients.cloudFormation.send(new ListStackResourcesCommand({ StackName: stackName, NextToken: nextToken }));
    for (const r of page.StackResourceSummaries ?? ([] as StackResourceSummary[])) {
      if (r.LogicalResourceId && r.PhysicalResourceId) ids.set(r.LogicalResourceId, r.PhysicalResourceId);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return ids;
}

/** Starts the deletion of one stack and waits for it, printing each status change. */
async function deleteStack(target: Target, stackName: string, deps: CliDeps): Promise<void> {
  const log = deps.output.err;
  try {
    await target.clients.cloudFormation.send(new DeleteStackCommand({ StackName: stackName }));
  } catch (error) {
    throw toCliError(error, errorContext(target, `deleting ${stackName} (cloudformation:DeleteStack)`));
  }
  log(`Deleting ${stackName} ...`);
  let last = '';
  const started = deps.now().getTime();
  for (;;) {
    const stack = await findStack(target, stackName);
    if (!stack) break;
    const status = stack.StackStatus ?? 'unknown';
    if (status !== last) log(`  ${stackName}: ${status}`);
    last = status;
    if (status === 'DELETE_FAILED') {
      throw new CliError(
        `Deleting ${stackName} failed: ${stack.StackStatusReason ?? 'no reason given'}`,
        EXIT.failure,
        [
          'Fix the resource named above (CloudFormation console, Events tab), then run destroy again; stacks already deleted stay deleted.',
          /BackupVault|recovery point/i.test(stack.StackStatusReason ?? '')
            ? `A backup vault that holds recovery points cannot be deleted: delete them (AWS Backup console > Backup vaults), or keep the vault: aws cloudformation delete-stack --stack-name ${stackName} --retain-resources <its logical id, named above> --region ${target.region}.`
            : '',
          stackName === STACK_NAMES.mlflow
            ? 'A VPC or subnet that "has dependencies" is usually held by what a SageMaker Studio domain left behind: its home EFS mount targets and the security groups security-group-for-inbound-nfs-d-* / security-group-for-outbound-nfs-d-* (see docs/reference/cli.md, destroy).'
            : '',
        ].filter(Boolean).join('\n'),
      );
    }
    if (deps.now().getTime() - started > MAX_WAIT_MS) {
      throw new CliError(`${stackName} is still ${status} after ${MAX_WAIT_MS / 60_000} minutes.`, EXIT.failure, 'Follow it in the CloudFormation console; run destroy again when it has finished.');
    }
    await deps.sleep(POLL_INTERVAL_MS);
  }
  log(`  ${stackName}: deleted`);
}
