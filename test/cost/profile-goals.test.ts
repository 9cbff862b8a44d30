/**
 * The cost goals of the lean profile (the project's issue 13), as the cost report prints them for us-west-2 at idle:
 * lean at most $20 a month, lean while paused at most $3. Priced from the synthesized templates, so a resource added
 * to the lean layout that breaks the budget fails here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolvePlatformConfig } from '../../src/app/config/platform-config';
import { estimateCost } from '../../src/cost/estimate';
import { synthesizeTemplates } from '../../src/cost/synth';

const LEAN_IDLE_BUDGET_USD = 20;
const LEAN_PAUSED_BUDGET_USD = 3;
/** The default (standard) deployment's idle total as the cost report first printed it (commit 42b9460), before issue 13. */
const STANDARD_BEFORE_USD = 127.31;

describe('lean profile cost goals (us-west-2, idle)', () => {
  const stacks = synthesizeTemplates(resolvePlatformConfig({ profile: 'lean' }));
  const standard = estimateCost(synthesizeTemplates(resolvePlatformConfig({})), { region: 'us-west-2', activeHours: 160 });

  it(`at most $${LEAN_IDLE_BUDGET_USD} a month with the default Studio stack`, () => {
    const report = estimateCost(stacks, { region: 'us-west-2', activeHours: 160 });
    assert.ok(report.idleTotal <= LEAN_IDLE_BUDGET_USD, `lean at idle: $${report.idleTotal.toFixed(2)}\n${report.lines.map((l) => `${l.item} ${l.idle.toFixed(2)}`).join('\n')}`);
    assert.ok(!report.lines.some((l) => /NAT gateway|load balancer|KMS/.test(l.item)), report.lines.map((l) => l.item).join(', '));
  });

  it('lean (monitoring off) pays no Container Insights: nothing reads it', () => {
    const report = estimateCost(stacks, { region: 'us-west-2', activeHours: 160 });
    assert.ok(!report.lines.some((l) => /Container Insights/.test(l.item)), report.lines.map((l) => l.item).join(', '));
    const monitored = estimateCost(synthesizeTemplates(resolvePlatformConfig({ profile: 'lean', monitoring: true })), { region: 'us-west-2', activeHours: 160 });
    assert.ok(monitored.lines.some((l) => /Container Insights/.test(l.item)), 'priced once monitoring reads it');
  });

  it(`at most $${LEAN_PAUSED_BUDGET_USD} a month while paused`, () => {
    const report = estimateCost(stacks, { region: 'us-west-2', activeHours: 160, paused: true });
    assert.ok(report.idleTotal <= LEAN_PAUSED_BUDGET_USD, `lean paused: $${report.idleTotal.toFixed(2)}`);
  });

  it(`standard: the same features as before cost no more than $${STANDARD_BEFORE_USD}; the default adds only the alarms, the dashboard and the Container Insights they read`, () => {
    const withoutMonitoring = estimateCost(synthesizeTemplates(resolvePlatformConfig({ monitoring: false })), { region: 'us-west-2', activeHours: 160 });
    assert.ok(withoutMonitoring.idleTotal <= STANDARD_BEFORE_USD, `standard without monitoring: $${withoutMonitoring.idleTotal.toFixed(2)}`);
    const added = standard.lines.filter((l) => !withoutMonitoring.lines.some((w) => w.item === l.item && Math.abs(w.idle - l.idle) < 0.005));
    assert.deepEqual(added.map((l) => l.item).sort(), ['CloudWatch alarm', 'CloudWatch dashboard', 'Container Insights (ECS service metrics)']);
  });

  it('far below the standard profile', () => {
    const report = estimateCost(stacks, { region: 'us-west-2', activeHours: 160 });
    assert.ok(report.idleTotal < standard.idleTotal / 5, `lean $${report.idleTotal.toFixed(2)}, standard $${standard.idleTotal.toFixed(2)}`);
  });
});
