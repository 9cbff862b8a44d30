/**
 * Every resource type the app creates, in every compliance configuration, is priced by a rule or declared free or
 * usage-based in src/cost/prices.ts: a new type added to the app without a price fails here instead of being
 * reported as "not priced" to users.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimateCost } from '../../src/cost/estimate';
import { RESOURCE_TYPES } from '../../src/cost/prices';
import { COMPLIANCE_CONFIGURATIONS } from '../compliance/configurations';
import { synthesizedConfigurations } from '../support/compliance-synth';

const DECLARED = new Set<string>([...RESOURCE_TYPES.priced, ...Object.keys(RESOURCE_TYPES.free), ...Object.keys(RESOURCE_TYPES.usage)]);

describe('every resource type the app creates has a price rule or a declaration', () => {
  COMPLIANCE_CONFIGURATIONS.forEach(([name], index) => {
    it(name, () => {
      // Synthesized once per run for the four tests that read every configuration (test/support/compliance-synth.ts).
      // They are `cdk synth`'s templates, with its analytics resource (AWS::CDK::Metadata), which the cost report's own
      // synth (src/cost/synth.ts) leaves out.
      const stacks = synthesizedConfigurations()[index].stacks.map(({ stackName, template }) => ({
        stackName,
        template: { ...template, Resources: Object.fromEntries(Object.entries<any>(template.Resources ?? {}).filter(([, r]) => r.Type !== 'AWS::CDK::Metadata')) },
      }));
      const types = new Set(stacks.flatMap((s) => Object.values(s.template.Resources ?? {}).map((r: any) => r.Type)));
      assert.deepEqual([...types].filter((t) => !DECLARED.has(t)), [], 'add these types to RESOURCE_TYPES in src/cost/prices.ts');
      const report = estimateCost(stacks, { region: 'us-west-2', activeHours: 160 });
      assert.deepEqual(report.notPriced, [], 'a priced type whose configuration the rule cannot read');
      assert.ok(report.idleTotal > 0);
    });
  });

  it('no type is both priced and declared free or usage-based', () => {
    const lists = [RESOURCE_TYPES.priced, Object.keys(RESOURCE_TYPES.free), Object.keys(RESOURCE_TYPES.usage)];
    const all = lists.flat();
    assert.equal(new Set(all).size, all.length);
  });
});
