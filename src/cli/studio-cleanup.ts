/**
 * What `destroy` does around the SageMaker Studio stack, which CloudFormation alone cannot delete while Studio
 * is in use, and which leaves things behind in the VPC:
 *
 * - a user profile cannot be deleted while it has apps or owns spaces: they are deleted first (and waited for);
 * - SageMaker creates the domain's home EFS (users' home folders and notebooks) and, in the VPC, its mount
 *   targets and two NFS security groups. Deleting the domain (CloudFormation always deletes it with the
 *   default RetentionPolicy, HomeEfsFileSystem=Retain) keeps all three, and they block deleting the VPC.
 *   After the Studio stack is gone, the mount targets are removed (the file system and its data stay), the
 *   file system itself only when the deployment says so (destroyDataOnDelete), and the security groups are
 *   deleted.
 */
import { DeleteSecurityGroupCommand, DescribeSecurityGroupsCommand, RevokeSecurityGroupEgressCommand, RevokeSecurityGroupIngressCommand, SecurityGroup } from '@aws-sdk/client-ec2';
import { DeleteFileSystemCommand, DeleteMountTargetCommand, DescribeMountTargetsCommand } from '@aws-sdk/client-efs';
import {
  AppDetails,
  DeleteAppCommand,
  DeleteSpaceCommand,
  DescribeDomainCommand,
  DescribeDomainCommandOutput,
  ListAppsCommand,
  ListAppsCommandInput,
  ListSpacesCommand,
  ListUserProfilesCommand,
  SpaceDetails,
} from '@aws-sdk/client-sagemaker';
import { errorContext, Target } from './aws';
import { CliDeps } from './deps';
import { CliError, EXIT, toCliError } from './errors';

export type HomeEfsOnDelete = 'Retain' | 'Delete';

/** Polling of the Studio clean-up: how often, and how long at most for each step. */
export const STUDIO_POLL_INTERVAL_MS = 10_000;
export const STUDIO_MAX_WAIT_MS = 20 * 60 * 1000;

export interface StudioPlan {
  readonly domainId: string;
  readonly userProfileName: string;
  /** The domain was created by the Studio stack (not DOMAIN_ID): deleting the stack deletes it. */
  readonly ownsDomain: boolean;
  readonly homeEfsOnDelete: HomeEfsOnDelete;
  /** From DescribeDomain; unset when the domain is already gone. */
  readonly homeEfsId?: string;
  readonly vpcId?: string;
  /** Apps of the profile and of the spaces it owns that are not deleted yet. */
  readonly apps: AppDetails[];
  /** Spaces owned by the profile. */
  readonly spaces: SpaceDetails[];
  /** What stops the deletion and what to do about it. */
  readonly blockers: string[];
}

/** Names SageMaker gives the security groups of a domain's home EFS. */
export function nfsSecurityGroupNames(domainId: string): string[] {
  return [`security-group-for-inbound-nfs-${domainId}`, `security-group-for-outbound-nfs-${domainId}`];
}

export function appLabel(app: AppDetails): string {
  const owner = app.SpaceName ? `space ${app.SpaceName}` : `user ${app.UserProfileName}`;
  return `${app.AppType} app ${app.AppName} (${owner})`;
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; message?: string } | undefined;
  return !!e && (e.name === 'ResourceNotFound' || e.name === 'ResourceNotFoundException' || e.name === 'FileSystemNotFound' || e.name === 'MountTargetNotFound' || e.name === 'InvalidGroup.NotFound');
}

async function call<T>(target: Target, action: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw toCliError(error, errorContext(target, action));
  }
}

async function listApps(target: Target, input: ListAppsCommandInput): Promise<AppDetails[]> {
  const apps: AppDetails[] = [];
  let NextToken: string | undefined;
  do {
    const page = await call(target, 'listing Studio apps (sagemaker:ListApps)', () => target.clients.sageMaker.send(new ListAppsCommand({ ...input, NextToken, MaxResults: 100 })));
    apps.push(...(page.Apps ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return apps;
}

async function listSpaces(target: Target, domainId: string): Promise<SpaceDetails[]> {
  const spaces: SpaceDetails[] = [];
  let NextToken: string | undefined;
  do {
    const page = await call(target, 'listing Studio spaces (sagemaker:ListSpaces)', () => target.clients.sageMaker.send(new ListSpacesCommand({ DomainIdEquals: domainId, NextToken, MaxResults: 100 })));
    spaces.push(...(page.Spaces ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return spaces;
}

/** Apps of the profile and of the given spaces that still exist (Deleted ones stay listed for a while). */
async function liveApps(target: Target, domainId: string, userProfileName: string, spaceNames: string[]): Promise<AppDetails[]> {
  const apps = await listApps(target, { DomainIdEquals: domainId, UserProfileNameEquals: userProfileName });
  for (const SpaceNameEquals of spaceNames) apps.push(...(await listApps(target, { DomainIdEquals: domainId, SpaceNameEquals })));
  return apps.filter((a) => a.Status !== 'Deleted');
}

/** Reads the domain, the profile's apps and spaces, and what else in the domain would stop its deletion. */
export async function planStudio(target: Target, settings: { domainId: string; userProfileName: string; ownsDomain: boolean; homeEfsOnDelete: HomeEfsOnDelete }): Promise<StudioPlan> {
  const { domainId, userProfileName, ownsDomain } = settings;
  let domain: DescribeDomainCommandOutput | undefined;
  try {
    domain = await target.clients.sageMaker.send(new DescribeDomainCommand({ DomainId: domainId }));
  } catch (error) {
    if (!isNotFound(error)) throw toCliError(error, errorContext(target, `reading SageMaker domain ${domainId} (sagemaker:DescribeDomain)`));
  }
  if (!domain) return { ...settings, apps: [], spaces: [], blockers: [] };

  const allSpaces = await listSpaces(target, domainId);
  const owned = allSpaces.filter((s) => s.OwnershipSettingsSummary?.OwnerUserProfileName === userProfileName);
  const apps = await liveApps(target, domainId, userProfileName, owned.map((s) => s.SpaceName ?? ''));
  const blockers: string[] = [];
  if (ownsDomain) {
    for (const space of allSpaces.filter((s) => !owned.includes(s))) {
      blockers.push(
        `space ${space.SpaceName} (owner ${space.OwnershipSettingsSummary?.OwnerUserProfileName ?? 'none'}) is in domain ${domainId} but was not created for ${userProfileName}: ` +
          `delete its apps, then the space: aws sagemaker delete-space --domain-id ${domainId} --space-name ${space.SpaceName} --region ${target.region}`,
      );
    }
    let NextToken: string | undefined;
    do {
      const page = await call(target, 'listing user profiles (sagemaker:ListUserProfiles)', () => target.clients.sageMaker.send(new ListUserProfilesCommand({ DomainIdEquals: domainId, NextToken, MaxResults: 100 })));
      for (const profile of page.UserProfiles ?? []) {
        if (profile.UserProfileName === userProfileName || profile.Status === 'Deleting') continue;
        blockers.push(
          `user profile ${profile.UserProfileName} is in domain ${domainId} but is not part of this deployment: ` +
            `delete its apps and spaces, then the profile: aws sagemaker delete-user-profile --domain-id ${domainId} --user-profile-name ${profile.UserProfileName} --region ${target.region}`,
        );
      }
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return { ...settings, homeEfsId: domain.HomeEfsFileSystemId, vpcId: domain.VpcId, apps, spaces: owned, blockers };
}

/** Lines for the destroy plan: what is deleted first, and what happens to the home EFS. */
export function describeStudioPlan(plan: StudioPlan, region: string): { deleted: string[]; kept: string[] } {
  const deleted: string[] = [];
  const kept: string[] = [];
  if (plan.apps.length || plan.spaces.length) {
    deleted.push(
      `first, the Studio apps and spaces of ${plan.userProfileName} (work not saved to the home folder is lost): ` +
        [...plan.apps.map(appLabel), ...plan.spaces.map((s) => `space ${s.SpaceName}`)].join(', '),
    );
  }
  if (plan.ownsDomain && plan.homeEfsId) {
    const efs = `SageMaker Studio home EFS ${plan.homeEfsId} (users' home folders and notebooks)`;
    if (plan.homeEfsOnDelete === 'Delete') deleted.push(`${efs}, after the domain (destroyDataOnDelete)`);
    else kept.push(`${efs}: its mount targets are removed so the VPC can go; the files stay. Delete it yourself with: aws efs delete-file-system --file-system-id ${plan.homeEfsId} --region ${region}`);
    deleted.push(`the NFS security groups SageMaker created for the domain (${nfsSecurityGroupNames(plan.domainId).join(', ')})`);
  }
  return { deleted, kept };
}

/** Polls `check` until it says done, printing each new status; bounded by STUDIO_MAX_WAIT_MS. */
async function waitFor(deps: CliDeps, what: string, timeoutHint: string, check: () => Promise<{ done: boolean; status: string }>): Promise<void> {
  const started = deps.now().getTime();
  let last = '';
  for (;;) {
    const { done, status } = await check();
    if (status !== last) deps.output.err(`  ${what}: ${status}`);
    last = status;
    if (done) return;
    if (deps.now().getTime() - started > STUDIO_MAX_WAIT_MS) {
      throw new CliError(`${what}: still ${status} after ${STUDIO_MAX_WAIT_MS / 60_000} minutes.`, EXIT.failure, timeoutHint);
    }
    await deps.sleep(STUDIO_POLL_INTERVAL_MS);
  }
}

function countStatuses(statuses: string[]): string {
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
}

/** Deletes the profile's apps (and those of its spaces), waits until they are Deleted, then deletes its spaces and waits. */
export async function deleteStudioAppsAndSpaces(target: Target, deps: CliDeps, plan: StudioPlan): Promise<void> {
  const log = deps.output.err;
  const { domainId, userProfileName } = plan;
  const spaceNames = plan.spaces.map((s) => s.SpaceName ?? '');
  const rerun = `Run \`npx mlflow-on-aws destroy\` again once it has finished (SageMaker console > Domains > ${domainId}); nothing after this step has been deleted yet.`;

  if (plan.apps.length) {
    log(`Deleting ${plan.apps.length} Studio app(s) of ${userProfileName} ...`);
    for (const app of plan.apps) {
      if (app.Status === 'Deleting') continue;
      await call(target, `deleting ${appLabel(app)} (sagemaker:DeleteApp)`, () =>
        target.clients.sageMaker.send(new DeleteAppCommand({ DomainId: domainId, AppType: app.AppType, AppName: app.AppName, UserProfileName: app.SpaceName ? undefined : app.UserProfileName, SpaceName: app.SpaceName })),
      );
    }
    await waitFor(deps, 'Studio apps', rerun, async () => {
      const apps = await liveApps(target, domainId, userProfileName, spaceNames);
      const failed = apps.filter((a) => a.Status === 'Failed');
      if (failed.length) {
        throw new CliError(`Deleting Studio apps failed: ${failed.map((a) => `${appLabel(a)}: ${a.Status}`).join('; ')}.`, EXIT.failure, `Delete them in the SageMaker console (Domains > ${domainId}), then ${rerun}`);
      }
      return { done: apps.length === 0, status: apps.length ? countStatuses(apps.map((a) => a.Status ?? 'unknown')) : 'all Deleted' };
    });
  }
  if (plan.spaces.length) {
    log(`Deleting ${plan.spaces.length} Studio space(s) of ${userProfileName} ...`);
    for (const space of plan.spaces) {
      if (space.Status === 'Deleting') continue;
      await call(target, `deleting space ${space.SpaceName} (sagemaker:DeleteSpace)`, () => target.clients.sageMaker.send(new DeleteSpaceCommand({ DomainId: domainId, SpaceName: space.SpaceName })));
    }
    await waitFor(deps, 'Studio spaces', rerun, async () => {
      const left = (await listSpaces(target, domainId)).filter((s) => spaceNames.includes(s.SpaceName ?? ''));
      const failed = left.filter((s) => s.Status === 'Delete_Failed');
      if (failed.length) {
        throw new CliError(`Deleting Studio spaces failed: ${failed.map((s) => `${s.SpaceName}: ${s.Status}`).join('; ')}.`, EXIT.failure, `Delete them in the SageMaker console (Domains > ${domainId}), then ${rerun}`);
      }
      return { done: left.length === 0, status: left.length ? countStatuses(left.map((s) => s.Status ?? 'unknown')) : 'all deleted' };
    });
  }
}

/**
 * After the Studio stack (and so the domain) is gone: removes the home EFS's mount targets, deletes the file
 * system when the deployment says so, and deletes SageMaker's NFS security groups, so that the VPC can go.
 */
export async function removeDomainLeftovers(target: Target, deps: CliDeps, plan: StudioPlan): Promise<void> {
  if (!plan.ownsDomain) return;
  const log = deps.output.err;
  const { efs, ec2 } = target.clients;
  const efsId = plan.homeEfsId;
  const manual = (step: string) =>
    `Then run \`npx mlflow-on-aws destroy\` again for the remaining stacks. By hand: ${step}`;

  if (efsId) {
    const mountTargets = async () => {
      try {
        return (await efs.send(new DescribeMountTargetsCommand({ FileSystemId: efsId }))).MountTargets ?? [];
      } catch (error) {
        if (isNotFound(error)) return [];
        throw toCliError(error, errorContext(target, `listing the mount targets of ${efsId} (elasticfilesystem:DescribeMountTargets)`));
      }
    };
    const existing = await mountTargets();
    if (existing.length) {
      log(`Removing the ${existing.length} mount target(s) of the Studio home EFS ${efsId} from the VPC ...`);
      for (const mt of existing) {
        if (mt.LifeCycleState === 'deleting') continue;
        await call(target, `deleting mount target ${mt.MountTargetId} (elasticfilesystem:DeleteMountTarget)`, () => efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId })));
      }
      await waitFor(deps, `mount targets of ${efsId}`, manual(`aws efs describe-mount-targets --file-system-id ${efsId} --region ${target.region}, and delete each with aws efs delete-mount-target --mount-target-id ID`), async () => {
        const left = await mountTargets();
        return { done: left.length === 0, status: left.length ? countStatuses(left.map((m) => m.LifeCycleState ?? 'unknown')) : 'all deleted' };
      });
    }
    if (plan.homeEfsOnDelete === 'Delete') {
      log(`Deleting the Studio home EFS ${efsId} (destroyDataOnDelete) ...`);
      try {
        await efs.send(new DeleteFileSystemCommand({ FileSystemId: efsId }));
      } catch (error) {
        if (!isNotFound(error)) throw toCliError(error, errorContext(target, `deleting ${efsId} (elasticfilesystem:DeleteFileSystem)`));
      }
    } else {
      log(`Kept the Studio home EFS ${efsId} with the users' files. To delete it: aws efs delete-file-system --file-system-id ${efsId} --region ${target.region}`);
    }
  }

  if (!plan.vpcId) return;
  const names = nfsSecurityGroupNames(plan.domainId);
  const groups = await call(target, 'finding the NFS security groups of the domain (ec2:DescribeSecurityGroups)', async () =>
    (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [plan.vpcId!] }, { Name: 'group-name', Values: names }] }))).SecurityGroups ?? [],
  );
  if (!groups.length) return;
  log(`Deleting SageMaker's NFS security groups ${groups.map((g) => g.GroupId).join(', ')} ...`);
  // The inbound group admits NFS from the outbound one and the outbound one sends to the inbound one: while
  // either rule exists neither group can be deleted, so both lose their rules first.
  for (const group of groups) await revokeRules(target, group);
  const left = new Set(groups.map((g) => g.GroupId!));
  await waitFor(deps, 'NFS security groups', manual(`aws ec2 delete-security-group --group-id ID --region ${target.region} for ${[...left].join(' and ')}`), async () => {
    for (const groupId of [...left]) {
      try {
        await ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
        left.delete(groupId);
      } catch (error) {
        const name = (error as { name?: string }).name;
        if (isNotFound(error)) left.delete(groupId);
        // Still used by a network interface that is going away (a mount target or an app).
        else if (name !== 'DependencyViolation') throw toCliError(error, errorContext(target, `deleting security group ${groupId} (ec2:DeleteSecurityGroup)`));
      }
    }
    return { done: left.size === 0, status: left.size ? `${left.size} still in use` : 'deleted' };
  });
}

async function revokeRules(target: Target, group: SecurityGroup): Promise<void> {
  const { ec2 } = target.clients;
  if (group.IpPermissions?.length) {
    await call(target, `removing the inbound rules of ${group.GroupId} (ec2:RevokeSecurityGroupIngress)`, () => ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: group.GroupId, IpPermissions: group.IpPermissions })));
  }
  if (group.IpPermissionsEgress?.length) {
    await call(target, `removing the outbound rules of ${group.GroupId} (ec2:RevokeSecurityGroupEgress)`, () => ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: group.GroupId, IpPermissions: group.IpPermissionsEgress })));
  }
}
