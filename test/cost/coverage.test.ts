/**
 * Every resource type the app creates, in every compliance configuration, is priced by a rule or declared free or
 * usage-based in src/cost/prices.ts: a new type added to the app without a price fails here instead of being
 * reported as "not priced" to users.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolvePlatformConfig } from '../../src/app/config/platform-config';
import { estimateCost } from '../../src/cost/estimate';
import { RESOURCE_TYPES } from '../../src/cost/prices';
import { synthesizeTemplates } from '../../src/cost/synth';
import { COMPLIANCE_CONFIGURATIONS } from '../compliance/configurations';

const DECLARED = new Set<string>([...RESOURCE_TYPES.priced, ...Object.keys(RESOURCE_TYPES.free), ...Object.keys(RESOURCE_TYPES.usage)]);

describe('every resource type the app creates has a price rule or a declaration', () => {
  for (const [name, settings] of COMPLIANCE_CONFIGURATIONS) {
    it(name, () => {
      const stacks = synthesizeTemplates(resolvePlatformConfig(settings));
      const types = new Set(stacks.flatMap((s) => Object.values(s.template.Resources ?? {}).map((r) => r.Type)));
      assert.deepEqual([...types].filter((t) => !DECLARED.has(t)), [], 'add these types to RESOURCE_TYPES in src/cost/prices.ts');
      const report = estimateCost(stacks, { region: 'us-west-2', activeHours: 160 });
      assert.deepEqual(report.notPriced, [], 'a priced type whose configuration the rule cannot read');
      assert.ok(report.idleTotal > 0);
    });
  }

  it('no type is both priced and declared free or usage-based', () => {
    const lists = [RESOURCE_TYPES.priced, Object.keys(RESOURCE_TYPES.free), Object.keys(RESOURCE_TYPES.usage)];
    const all = lists.flat();
    assert.equal(new Set(all).size, all.length);
  });
});
