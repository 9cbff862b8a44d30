import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DATABASE_DELETION_PROTECTION_TYPE } from '../../src/lib/contract';
import { platformTemplate as mlflowTemplate, resourcesOfType } from '../support/synth';

/**
 * A failed first create must roll back clean (the cluster unprotected until the end), while a deployment that was
 * once healthy meets deletion protection on destroy. Design: docs/decisions/database-protection.md.
 */

const template = mlflowTemplate();
const resources = template.toJSON().Resources as Record<string, any>;
const [[clusterId, cluster]] = resourcesOfType(template, 'AWS::RDS::DBCluster');
const protections = resourcesOfType(template, DATABASE_DELETION_PROTECTION_TYPE);

/** Logical ids a resource refers to: DependsOn, Ref, Fn::GetAtt and ${...} in Fn::Sub. */
function directDependencies(resource: any): Set<string> {
  const found = new Set<string>([resource.DependsOn ?? []].flat());
  const walk = (value: any): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (value === null || typeof value !== 'object') return;
    if (typeof value.Ref === 'string') found.add(value.Ref);
    if (Array.isArray(value['Fn::GetAtt'])) found.add(value['Fn::GetAtt'][0]);
    const sub = value['Fn::Sub'];
    for (const match of String(Array.isArray(sub) ? sub[0] : sub ?? '').matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)) found.add(match[1]);
    Object.values(value).forEach(walk);
  };
  walk(resource.Properties ?? {});
  return new Set([...found].filter((id) => id in resources));
}

/** Every resource `id` waits for, directly or not. */
function dependencyClosure(id: string): Set<string> {
  const seen = new Set<string>();
  const queue = [...directDependencies(resources[id])];
  while (queue.length) {
    const next = queue.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    queue.push(...directDependencies(resources[next]));
  }
  return seen;
}

/** The SDK call a Custom::AWS-style property (a Fn::Join of a JSON text around tokens) makes, tokens as "<Ref>". */
function sdkCall(property: any): any {
  if (property === undefined) return undefined;
  const parts: any[] = property['Fn::Join']?.[1] ?? [property];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : `<${p.Ref ?? JSON.stringify(p)}>`)).join(''));
}

describe('the cluster is created without deletion protection, so a failed first create can delete it', () => {
  test('the template sets neither true (a create rollback could not delete the cluster) nor false (sent again with every later cluster change)', () => {
    assert.equal('DeletionProtection' in cluster.Properties, false, JSON.stringify(cluster.Properties.DeletionProtection));
  });

  test('a rollback or destroy that deletes the cluster still leaves a final snapshot', () => {
    assert.equal(cluster.DeletionPolicy, 'Snapshot');
  });
});

describe('a custom resource turns deletion protection on once everything else is in place', () => {
  test('exactly one, and it sets DeletionProtection=true on this cluster on create and on update', () => {
    assert.equal(protections.length, 1);
    const [, protection] = protections[0];
    for (const event of ['Create', 'Update']) {
      const call = sdkCall(protection.Properties[event]);
      assert.equal(call.service, 'RDS', event);
      assert.equal(call.action, 'modifyDBCluster', event);
      assert.deepEqual(call.parameters, { DBClusterIdentifier: `<${clusterId}>`, DeletionProtection: true, ApplyImmediately: true }, event);
      assert.deepEqual(call.outputPaths, ['DBCluster.DeletionProtection'], `${event}: a small response (custom resources may return 4 KB)`);
    }
  });

  test('it has no delete call: removing it or deleting the stack leaves protection on', () => {
    const [, protection] = protections[0];
    assert.equal(protection.Properties.Delete, undefined);
  });

  test('it runs last: after the ECS service is stable and after every other resource of the stack', () => {
    const [protectionId] = protections[0];
    const before = dependencyClosure(protectionId);
    const [[serviceId]] = resourcesOfType(template, 'AWS::ECS::Service');
    assert.ok(before.has(serviceId), 'after the ECS service');
    const missing = Object.keys(resources).filter((id) => id !== protectionId && !before.has(id));
    assert.deepEqual(missing, [], 'resources that could still fail after protection is on');
  });

  test('its handler may change this one cluster and nothing else, with a bounded wait', () => {
    const [, protection] = protections[0];
    const handler = resources[protection.Properties.ServiceToken['Fn::GetAtt'][0]];
    const roleId = handler.Properties.Role['Fn::GetAtt'][0];
    const statements = resourcesOfType(template, 'AWS::IAM::Policy')
      .filter(([, policy]) => policy.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
    assert.deepEqual(statements.map((s: any) => [s.Effect, s.Action]), [['Allow', 'rds:ModifyDBCluster']]);
    assert.match(JSON.stringify(statements[0].Resource), new RegExp(`:cluster:",\\{"Ref":"${clusterId}"\\}`));
    assert.ok(Number(protection.Properties.ServiceTimeout) <= 600, `ServiceTimeout ${protection.Properties.ServiceTimeout}`);
  });
});

describe('with protection off in the configuration, the template turns it off and nothing turns it on', () => {
  for (const [name, settings] of [['dbDeletionProtection=false', { dbDeletionProtection: false }], ['destroyDataOnDelete=true', { destroyDataOnDelete: true }]] as const) {
    test(name, () => {
      const off = mlflowTemplate(settings);
      const [[, offCluster]] = resourcesOfType(off, 'AWS::RDS::DBCluster');
      assert.equal(offCluster.Properties.DeletionProtection, false);
      off.resourceCountIs(DATABASE_DELETION_PROTECTION_TYPE, 0);
    });
  }
});
