/**
 * The transition check: what CloudFormation does when `cdk deploy --all` takes a deployment from one synthesized
 * assembly to another, stack by stack in deploy order, reduced to the ways such an update fails or loses data. Offline:
 * it reads templates only. Each problem is one line, naming the stack, the resource or export and why.
 *
 * What CloudFormation does that is modelled here:
 * - A stack's update is refused while another stack imports (`Fn::ImportValue`) an export it would remove or change
 *   ("Cannot delete/update export ... as it is in use"); a stack that imports an export nobody has fails too. Stacks
 *   an assembly no longer has stay deployed (`cdk deploy` does not delete them) and keep importing.
 * - A weak reference (`Fn::GetStackOutput`) is resolved when its stack is created or updated, and never again: an output
 *   that is gone breaks the consumer's next update, and one whose value changes leaves a consumer that is not updated
 *   with the old value (stale).
 * - Which property changes replace a resource is `@aws-cdk/cloudformation-diff`'s answer, the one `cdk diff` prints
 *   (the registry's create-only properties, with replacements propagated to the resources that reference them).
 *   A replacement creates the new resource before it deletes the old one: with the same fixed physical name that is
 *   a collision, and the update fails. So is a new logical ID whose fixed name another resource still has.
 * - A resource that holds data (`DATA_RESOURCE_TYPES`) and is replaced, or removed without being retained, loses its
 *   data: a problem unless the caller lists it in `intended` (see intended-replacements.ts).
 */
import { fullDiff, ResourceImpact } from '@aws-cdk/cloudformation-diff';
import { loadResourceModel } from '@aws-cdk/cloudformation-diff/lib/diff/util';
import { Assembly, Template } from './assembly';

/** Resource types whose replacement or deletion loses data someone kept in them. */
export const DATA_RESOURCE_TYPES: Readonly<Record<string, string>> = {
  'AWS::RDS::DBCluster': 'the MLflow database',
  'AWS::S3::Bucket': 'stored objects',
  'AWS::EFS::FileSystem': 'a file system',
  'AWS::SageMaker::NotebookInstance': 'the notebooks on its volume',
  'AWS::Backup::BackupVault': 'recovery points',
  'AWS::SageMaker::Domain': 'the Studio home file system',
  'AWS::Cognito::UserPool': 'its people (users, their passwords and MFA, groups)',
};

/** A replacement (or removal) of a data-holding resource made on purpose; see intended-replacements.ts. */
export interface IntendedReplacement {
  /** Stack name. */
  readonly stack: string;
  /** Logical ID of the resource in the deployed template. */
  readonly resource: string;
  /** Why losing (or moving) its data is accepted, and what users are told. */
  readonly reason: string;
}

export interface UpdateCheckOptions {
  /** Data-holding resources whose replacement is intended. @default - none */
  readonly intended?: readonly IntendedReplacement[];
}

const RETAINED = new Set(['Retain', 'RetainExceptOnCreate']);
/** Deletion policies that keep the data of a removed resource (Snapshot: a final snapshot of a database). */
const KEEPS_DATA = new Set([...RETAINED, 'Snapshot']);
/** Pseudo parameters whose value differs between two deployments of the same stack name. */
const UNIQUE_PSEUDO = new Set(['AWS::StackId']);

/** Every `Fn::ImportValue` name in `value` (literal names, as CDK renders them; Fn::Sub/Join of literals too). */
export function importsIn(value: unknown, found = new Set<string>()): Set<string> {
  walk(value, (node) => {
    if ('Fn::ImportValue' in node) {
      const name = literal(node['Fn::ImportValue']);
      if (name !== undefined) found.add(name);
    }
  });
  return found;
}

/** Every `Fn::GetStackOutput` in `value`, as `stack/output`. */
export function stackOutputsIn(value: unknown, found = new Set<string>()): Set<string> {
  walk(value, (node) => {
    const ref = node['Fn::GetStackOutput'];
    if (ref && typeof ref === 'object' && typeof ref.StackName === 'string' && typeof ref.OutputName === 'string') {
      found.add(`${ref.StackName}/${ref.OutputName}`);
    }
  });
  return found;
}

/** Export name → output (key and value) of a template. */
export function exportsOf(template: Template | undefined): Map<string, { key: string; value: unknown }> {
  const exports = new Map<string, { key: string; value: unknown }>();
  for (const [key, output] of Object.entries(template?.Outputs ?? {})) {
    const name = literal(output?.Export?.Name);
    if (name !== undefined) exports.set(name, { key, value: output.Value });
  }
  return exports;
}

/** The physical-name property of a resource type that the template sets to a value fixed across deployments. */
export function fixedName(resource: any): { property: string; value: string } | undefined {
  const model = loadResourceModel(resource?.Type);
  if (!model || !resource.Properties) return undefined;
  const candidates = new Set([...(model.primaryIdentifier ?? []), `${model.name}Name`, `${model.name}Identifier`, 'Name']);
  for (const property of candidates) {
    const value = resource.Properties[property];
    if (value === undefined || model.properties[property]?.causesReplacement !== 'yes') continue;
    if (isFixed(value)) return { property, value: JSON.stringify(value) };
  }
  return undefined;
}

/**
 * Checks an update of the deployment `deployed` to `next` (`cdk deploy --all`): one line per problem, [] when
 * CloudFormation would take every stack through and no data is lost that `intended` does not list.
 */
export function checkUpdate(deployed: Assembly, next: Assembly, options: UpdateCheckOptions = {}): string[] {
  const problems: string[] = [];
  const intended = options.intended ?? [];
  const isIntended = (stack: string, id: string) => intended.some((entry) => entry.stack === stack && entry.resource === id);
  // What is deployed at each moment: every stack of `deployed`, each replaced by its new template once updated.
  const state = new Map<string, Template>(Object.entries(deployed.stacks));
  const updated = new Set<string>();

  for (const name of next.order) {
    const before = state.get(name);
    const after = next.stacks[name];
    const others = [...state.entries()].filter(([other]) => other !== name);

    // Imports of the new template: an export some other deployed stack has at this moment.
    const available = new Set(others.flatMap(([, template]) => [...exportsOf(template).keys()]));
    for (const imported of importsIn(after.Resources)) {
      if (!available.has(imported)) problems.push(`${name}: imports ${imported}, which no deployed stack exports when ${name} is deployed`);
    }
    for (const imported of stackOutputsIn(after.Resources)) {
      const [stack, output] = imported.split('/');
      if (!state.get(stack)?.Outputs?.[output]) problems.push(`${name}: Fn::GetStackOutput ${imported}: ${stack} has no such output when ${name} is deployed`);
    }

    const diff = before ? fullDiff(before, after) : undefined;
    const replaced = new Map<string, ResourceImpact>();
    diff?.resources.forEachDifference((id, change) => {
      if (change.changeImpact === ResourceImpact.WILL_REPLACE || change.changeImpact === ResourceImpact.MAY_REPLACE) replaced.set(id, change.changeImpact);
    });

    // Exports this update removes or changes, while another deployed stack imports them.
    const newExports = exportsOf(after);
    for (const [exportName, old] of exportsOf(before)) {
      const change = outputChange(old.value, newExports.get(exportName)?.value, newExports.has(exportName), replaced);
      if (!change) continue;
      const importers = others.filter(([, template]) => importsIn(template.Resources).has(exportName)).map(([other]) => other);
      if (importers.length > 0) problems.push(`${name}: export ${exportName} ${change} while ${importers.join(', ')} (deployed) imports it`);
    }

    // Outputs read by weak references: gone, or changed under a consumer that will not be updated to read them again.
    for (const [key, output] of Object.entries(before?.Outputs ?? {})) {
      const change = outputChange(output.Value, after.Outputs?.[key]?.Value, key in (after.Outputs ?? {}), replaced);
      if (!change) continue;
      for (const [other, template] of others) {
        if (!stackOutputsIn(template.Resources).has(`${name}/${key}`)) continue;
        const reread = !updated.has(other) && next.stacks[other] !== undefined && next.order.indexOf(other) > next.order.indexOf(name)
          && JSON.stringify(next.stacks[other]) !== JSON.stringify(template);
        if (change === 'removed' || !reread) problems.push(`${name}: output ${key} ${change}; ${other} reads it with Fn::GetStackOutput${change === 'removed' ? '' : ' and is not updated after it, so it keeps the old value'}`);
      }
    }

    // Replacements: a fixed physical name collides; data is lost unless intended.
    for (const [id, impact] of replaced) {
      const oldResource = before!.Resources![id];
      const newResource = after.Resources![id];
      const verb = impact === ResourceImpact.MAY_REPLACE ? 'may be replaced' : 'is replaced';
      const oldName = fixedName(oldResource);
      const newName = fixedName(newResource);
      if (newName && oldName && oldName.value === newName.value && oldResource.Type === newResource.Type) {
        problems.push(`${name}: ${id} (${newResource.Type}) ${verb} (${replacementCause(diff!, id)}) but keeps its fixed ${newName.property} ${newName.value}: the new one cannot be created beside the old one`);
      }
      const data = DATA_RESOURCE_TYPES[oldResource.Type];
      if (data && !isIntended(name, id)) {
        problems.push(`${name}: ${id} (${oldResource.Type}) ${verb} (${replacementCause(diff!, id)}): ${data} would be lost; not an intended replacement`);
      }
    }

    // New logical IDs (and replacements) with a fixed name another deployed resource still has.
    const existing = new Map<string, string>();
    for (const [stack, template] of state) {
      for (const [id, resource] of Object.entries(template.Resources ?? {})) {
        const fixed = fixedName(resource);
        if (fixed) existing.set(`${resource.Type} ${fixed.value}`, `${stack}/${id}`);
      }
    }
    for (const [id, resource] of Object.entries(after.Resources ?? {})) {
      if (before?.Resources?.[id] !== undefined && before.Resources[id].Type === resource.Type) continue;
      const fixed = fixedName(resource);
      const holder = fixed && existing.get(`${resource.Type} ${fixed.value}`);
      if (fixed && holder) problems.push(`${name}: new ${id} (${resource.Type}) has the fixed ${fixed.property} ${fixed.value} of ${holder}, which still exists when it is created`);
    }

    // Data-holding resources removed without a deletion policy that keeps them.
    for (const [id, resource] of Object.entries(before?.Resources ?? {})) {
      if (after.Resources?.[id] !== undefined) continue;
      const data = DATA_RESOURCE_TYPES[resource.Type];
      if (data && !KEEPS_DATA.has(resource.DeletionPolicy) && !isIntended(name, id)) {
        problems.push(`${name}: ${id} (${resource.Type}) is removed and deleted (DeletionPolicy ${resource.DeletionPolicy ?? 'Delete'}): ${data} would be lost; not an intended replacement`);
      }
    }

    state.set(name, after);
    updated.add(name);
  }
  return problems;
}

/**
 * Checks a fresh deploy of `assembly` where a previous deployment was destroyed (or its first create failed and rolled
 * back): a retained resource (DeletionPolicy Retain or RetainExceptOnCreate) with a fixed physical name is still there,
 * and creating it again fails. One line per such resource.
 */
export function checkFreshDeploy(assembly: Assembly): string[] {
  const problems: string[] = [];
  for (const name of assembly.order) {
    for (const [id, resource] of Object.entries(assembly.stacks[name].Resources ?? {}) as Array<[string, any]>) {
      if (!RETAINED.has(resource.DeletionPolicy)) continue;
      const fixed = fixedName(resource);
      if (!fixed) continue;
      const when = resource.DeletionPolicy === 'Retain' ? 'a retry after a failed create and a deploy after destroy' : 'a deploy after destroy';
      problems.push(`${name}: ${id} (${resource.Type}) is retained (${resource.DeletionPolicy}) with the fixed ${fixed.property} ${fixed.value}: ${when} would collide with the kept one`);
    }
  }
  return problems;
}

/** 'removed', 'changed' or undefined: how an output's value changes, counting references to replaced resources. */
function outputChange(oldValue: unknown, newValue: unknown, stillThere: boolean, replaced: Map<string, ResourceImpact>): string | undefined {
  if (!stillThere) return 'removed';
  if (JSON.stringify(oldValue) !== JSON.stringify(newValue)) return 'changed';
  const through = [...referencesIn(newValue)].filter((id) => replaced.has(id));
  return through.length > 0 ? `changed (${through.join(', ')} replaced)` : undefined;
}

/** The properties whose change replaces a resource, for the message (or "type changed", "a replaced reference"). */
function replacementCause(diff: ReturnType<typeof fullDiff>, id: string): string {
  const change = diff.resources.get(id);
  if (!change) return 'unknown';
  if (change.resourceTypeChanged) return 'type changed';
  const properties = Object.entries(change.propertyUpdates)
    .filter(([, update]) => update.changeImpact === ResourceImpact.WILL_REPLACE || update.changeImpact === ResourceImpact.MAY_REPLACE)
    .map(([property]) => property);
  return properties.length > 0 ? properties.join(', ') : 'a referenced resource is replaced';
}

/** Logical IDs referenced by Ref / Fn::GetAtt in `value`. */
function referencesIn(value: unknown): Set<string> {
  const found = new Set<string>();
  walk(value, (node) => {
    if (typeof node.Ref === 'string' && !node.Ref.startsWith('AWS::')) found.add(node.Ref);
    const getAtt = node['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') found.add(getAtt[0]);
    if (typeof getAtt === 'string') found.add(getAtt.split('.')[0]);
  });
  return found;
}

/** True when a property value is the same in every deployment of the stack: no resource reference, no stack ID. */
function isFixed(value: unknown): boolean {
  let fixed = true;
  walk(value, (node) => {
    if (typeof node.Ref === 'string' && (!node.Ref.startsWith('AWS::') || UNIQUE_PSEUDO.has(node.Ref))) fixed = false;
    if ('Fn::GetAtt' in node) fixed = false;
    if (typeof node['Fn::Sub'] === 'string' && /\$\{(?!AWS::(?:Region|AccountId|Partition|URLSuffix|StackName)\})[^}]*\}/.test(node['Fn::Sub'])) fixed = false;
  });
  return fixed;
}

/** A literal string, or a Fn::Join / Fn::Sub of literals, else undefined. */
function literal(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const join = (value as any)['Fn::Join'];
    if (Array.isArray(join) && Array.isArray(join[1]) && join[1].every((part: unknown) => typeof part === 'string')) return join[1].join(join[0]);
    const sub = (value as any)['Fn::Sub'];
    if (typeof sub === 'string' && !sub.includes('${')) return sub;
  }
  return undefined;
}

/** Calls `visit` on every object node of a JSON value. */
function walk(value: unknown, visit: (node: Record<string, any>) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, visit);
  } else if (value && typeof value === 'object') {
    visit(value as Record<string, any>);
    for (const child of Object.values(value)) walk(child, visit);
  }
}
