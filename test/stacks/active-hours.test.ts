import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePlatformConfig } from '../../src/app/config/platform-config';
import { estimateCost } from '../../src/cost/estimate';
import { HOURS_PER_MONTH } from '../../src/cost/prices';
import { scheduledTaskHoursPerMonth } from '../../src/cost/schedule';
import { synthesizeTemplates } from '../../src/cost/synth';
import { platformTemplate as mlflowTemplate, resourcesOfType } from '../support/synth';

function scalableTarget(settings: Record<string, unknown>): any {
  const targets = resourcesOfType(mlflowTemplate(settings as never), 'AWS::ApplicationAutoScaling::ScalableTarget');
  assert.equal(targets.length, 1);
  return targets[0][1].Properties;
}

describe('activeHours: ECS scheduled scaling', () => {
  test('at the start the range goes back to desiredTasks..maxTasks, at the end to 0..0, in the time zone given', () => {
    const target = scalableTarget({ activeHours: 'MON-FRI 07:00-20:30', activeHoursTimeZone: 'Europe/Berlin', desiredTasks: 2, maxTasks: 4 });
    assert.deepEqual(target.ScheduledActions.map((a: any) => ({ ...a, ScheduledActionName: undefined })), [
      { ScalableTargetAction: { MinCapacity: 2, MaxCapacity: 4 }, Schedule: 'cron(0 7 ? * MON,TUE,WED,THU,FRI *)', Timezone: 'Europe/Berlin', ScheduledActionName: undefined },
      { ScalableTargetAction: { MinCapacity: 0, MaxCapacity: 0 }, Schedule: 'cron(30 20 ? * MON,TUE,WED,THU,FRI *)', Timezone: 'Europe/Berlin', ScheduledActionName: undefined },
    ]);
    assert.deepEqual([target.MinCapacity, target.MaxCapacity], [2, 4]);
  });

  test('the lean profile schedules its one task; UTC unless told', () => {
    const target = scalableTarget({ profile: 'lean', activeHours: 'SAT-SUN 10:00-12:00' });
    assert.deepEqual(target.ScheduledActions.map((a: any) => [a.Schedule, a.Timezone, a.ScalableTargetAction.MinCapacity]), [
      ['cron(0 10 ? * SAT,SUN *)', 'UTC', 1],
      ['cron(0 12 ? * SAT,SUN *)', 'UTC', 0],
    ]);
  });

  test('without activeHours there is no scheduled action', () => {
    assert.equal(scalableTarget({}).ScheduledActions, undefined);
  });

  test('the cost report prices the synthesized schedule as its hours: 13 h on 5 days of 1 task', () => {
    const config = resolvePlatformConfig({ profile: 'lean', sagemaker: 'none', sleepAfterMinutes: 0, activeHours: 'MON-FRI 07:00-20:00', activeHoursTimeZone: 'America/New_York' });
    const report = estimateCost(synthesizeTemplates(config), { region: 'us-west-2', activeHours: 65 });
    const fargate = report.lines.find((l) => l.item.startsWith('Fargate tasks, ARM64'));
    assert.ok(fargate, report.lines.map((l) => l.item).join(', '));
    const taskHours = 13 * 5 * (HOURS_PER_MONTH / 168);
    assert.match(fargate.quantity, new RegExp(`^${Math.round(taskHours * 10) / 10} task-h \\(1 task, on its schedule\\)`));
    const always = estimateCost(synthesizeTemplates(resolvePlatformConfig({ profile: 'lean', sagemaker: 'none', sleepAfterMinutes: 0 })), { region: 'us-west-2', activeHours: 65 });
    const alwaysFargate = always.lines.find((l) => l.item.startsWith('Fargate tasks, ARM64'))!;
    assert.ok(Math.abs(fargate.idle / alwaysFargate.idle - taskHours / HOURS_PER_MONTH) < 1e-9);
    assert.equal(scheduledTaskHoursPerMonth(1, { min: 1, max: 2 }, []), HOURS_PER_MONTH);
  });
});
