/**
 * The cost report's arithmetic on a small hand-written template (test/cost/fixture-template.json): each line and the
 * totals against figures computed here from the price table, not copied from the report's output.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CostLine, CostReport, MARKS, StackTemplate, WORKING_DAYS_PER_MONTH, estimateCost } from '../../src/cost/estimate';
import { HOURS_PER_MONTH, PRICES, priceIn } from '../../src/cost/prices';
import { cronMinutesOfWeek, scheduledTaskHoursPerMonth } from '../../src/cost/schedule';

const FIXTURE: StackTemplate = { stackName: 'Fixture', template: JSON.parse(readFileSync(join(__dirname, 'fixture-template.json'), 'utf8')) };
const H = HOURS_PER_MONTH;
const P = Object.fromEntries(Object.entries(PRICES).map(([k, v]) => [k, v.usd])) as Record<keyof typeof PRICES, number>;
const ACTIVE = 100;

function line(report: CostReport, prefix: string, nth = 0): CostLine {
  const found = report.lines.filter((l) => l.item.startsWith(prefix));
  assert.ok(found[nth], `no line "${prefix}" #${nth} in ${report.lines.map((l) => l.item).join(', ')}`);
  return found[nth];
}

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: got ${actual}, expected ${expected}`);
}

// The ARM service runs 10 hours (08:00-18:00) on 5 weekdays: 50 task-hours a week, scaled to a 730-hour month.
const ARM_TASK_HOURS = 50 * (H / 168);

describe('cost estimate of the fixture template (us-west-2)', () => {
  const report = estimateCost([FIXTURE], { region: 'us-west-2', activeHours: ACTIVE });

  const expected: Array<[string, number, number, number?]> = [
    ['NAT gateway', P.natGatewayHour * H, P.natGatewayHour * H],
    ['Elastic IP', P.publicIpv4Hour * H, P.publicIpv4Hour * H],
    ['Application load balancer', P.albHour * H, P.albHour * H + P.albLcuHour * ACTIVE],
    // 2 tasks x (1 vCPU x86 + 2 GB x86) all month
    ['Fargate tasks, x86', 2 * H * (1 * P.fargateX86VcpuHour + 2 * P.fargateX86GbHour), 2 * H * (1 * P.fargateX86VcpuHour + 2 * P.fargateX86GbHour)],
    // 1 task x (0.5 vCPU ARM + 1 GB ARM) on its schedule
    ['Fargate tasks, ARM64', ARM_TASK_HOURS * (0.5 * P.fargateArmVcpuHour + 1 * P.fargateArmGbHour), ARM_TASK_HOURS * (0.5 * P.fargateArmVcpuHour + 1 * P.fargateArmGbHour)],
    ['Public IPv4 of Fargate tasks', ARM_TASK_HOURS * P.publicIpv4Hour, ARM_TASK_HOURS * P.publicIpv4Hour],
    // MinCapacity 0: nothing at idle, 0.5 ACU for the active hours and, after each working day's, until it pauses: the
    // pool's connections close 2 min after the last request (DB_IDLE_DISCONNECT_SECONDS 120), it pauses 30 min later
    ['Aurora Serverless v2', 0, 0.5 * (ACTIVE + WORKING_DAYS_PER_MONTH * (32 / 60)) * P.auroraAcuHour, 0],
    // MinCapacity 0.5: 0.5 ACU all month in both columns
    ['Aurora Serverless v2', 0.5 * H * P.auroraAcuHour, 0.5 * H * P.auroraAcuHour, 1],
    ['Secrets Manager secret', 2 * P.secretMonth, 2 * P.secretMonth],
    ['KMS customer managed key', 1 * P.kmsKeyMonth, 1 * P.kmsKeyMonth],
  ];

  for (const [item, idle, active, nth] of expected) {
    it(`${item}${nth === undefined ? '' : ` #${nth}`}: idle and with ${ACTIVE} active hours`, () => {
      const l = line(report, item, nth ?? 0);
      near(l.idle, idle, `${item} idle`);
      near(l.active, active, `${item} active`);
    });
  }

  it('has exactly these lines, and the totals are their sums', () => {
    assert.equal(report.lines.length, expected.length, report.lines.map((l) => l.item).join('\n'));
    near(report.idleTotal, expected.reduce((t, [, idle]) => t + idle, 0), 'idle total');
    near(report.activeTotal, expected.reduce((t, [, , active]) => t + active, 0), 'active total');
  });

  it('counts tasks and secrets in the quantity column', () => {
    assert.match(line(report, 'Fargate tasks, x86').quantity, /^1460 task-h \(2 tasks, always\)$/);
    assert.match(line(report, 'Fargate tasks, ARM64').quantity, /on its schedule/);
    assert.equal(line(report, 'Secrets Manager secret').quantity, '2');
  });

  it('lists the unknown resource type as not priced, and the log group as usage-based', () => {
    assert.deepEqual(report.notPriced.map((n) => [n.type, n.count]), [['AWS::Example::Thing', 1]]);
    assert.deepEqual(report.usageOnly.map((u) => u.type), ['AWS::Logs::LogGroup']);
  });

  it('paused: no Fargate task and no task address; the database at MinCapacity 0 stays paused; the rest unchanged', () => {
    const paused = estimateCost([FIXTURE], { region: 'us-west-2', activeHours: ACTIVE, paused: true });
    for (const item of ['Fargate tasks, x86', 'Fargate tasks, ARM64', 'Public IPv4 of Fargate tasks']) {
      near(line(paused, item).idle, 0, `${item} idle`);
      near(line(paused, item).active, 0, `${item} active`);
    }
    near(line(paused, 'Aurora Serverless v2', 0).active, 0, 'pausing database active');
    near(line(paused, 'Aurora Serverless v2', 1).idle, 0.5 * H * P.auroraAcuHour, 'awake database idle');
    near(line(paused, 'NAT gateway').idle, P.natGatewayHour * H, 'NAT gateway');
  });

  it('the database runs until it pauses after each stretch of use, for as many stretches as active days; with no use, never', () => {
    const tenDays = estimateCost([FIXTURE], { region: 'us-west-2', activeHours: ACTIVE, activeDays: 10 });
    near(line(tenDays, 'Aurora Serverless v2', 0).active, 0.5 * (ACTIVE + 10 * (32 / 60)) * P.auroraAcuHour, 'ten stretches');
    const unused = estimateCost([FIXTURE], { region: 'us-west-2', activeHours: 0 });
    near(line(unused, 'Aurora Serverless v2', 0).active, 0, 'no active hours');
    assert.ok(report.assumptions.some((a) => /32 minutes until it pauses: MLflow's last connection closes 2 min after the last request/.test(a)), report.assumptions.join('\n'));
  });

  it('marks prices that the table gives for us-east-1 only, and none of the Fargate prices in us-west-2', () => {
    assert.deepEqual(line(report, 'Fargate tasks, x86').marks, []);
    assert.deepEqual(line(report, 'Aurora Serverless v2').marks, [MARKS.assumed]);
    const frankfurt = estimateCost([FIXTURE], { region: 'eu-central-1', activeHours: ACTIVE });
    assert.deepEqual(line(frankfurt, 'Fargate tasks, x86').marks, [MARKS.assumed]);
    assert.deepEqual(line(frankfurt, 'Elastic IP').marks, [], 'the public IPv4 price is the same in every region');
    assert.equal(priceIn('natGatewayHour', 'eu-west-1').assumed, true);
  });

  it('refuses negative or impossible active hours', () => {
    assert.throws(() => estimateCost([FIXTURE], { region: 'us-west-2', activeHours: -1 }), /active hours must be between 0 and 730, got -1/);
    assert.throws(() => estimateCost([FIXTURE], { region: 'us-west-2', activeHours: 731 }), /got 731/);
    assert.throws(() => estimateCost([FIXTURE], { region: 'us-west-2', activeHours: Number.NaN }), /got NaN/);
  });
});

describe('Container Insights of a cluster: priced per service for the hours it has a task running', () => {
  const withInsights = (value: string): StackTemplate => {
    const template = JSON.parse(JSON.stringify(FIXTURE.template));
    template.Resources.Cluster.Properties = { ClusterSettings: [{ Name: 'containerInsights', Value: value }] };
    return { stackName: 'Fixture', template };
  };
  const insightsLines = (report: CostReport) => report.lines.filter((l) => l.item.startsWith('Container Insights'));

  it('enabled: the x86 service all month, the ARM one on its schedule, in both columns, marked unconfirmed', () => {
    const report = estimateCost([withInsights('enabled')], { region: 'us-west-2', activeHours: ACTIVE });
    const lines = insightsLines(report);
    assert.deepEqual(lines.map((l) => l.quantity), ['730 h with a task running', `${Math.round(ARM_TASK_HOURS * 10) / 10} h with a task running`]);
    near(lines[0].idle, P.containerInsightsServiceMonth, 'x86 service idle');
    near(lines[1].idle, P.containerInsightsServiceMonth * (ARM_TASK_HOURS / H), 'ARM service idle');
    for (const l of lines) {
      near(l.active, l.idle, 'active');
      assert.ok(l.marks.includes(MARKS.unconfirmed));
    }
    const without = estimateCost([FIXTURE], { region: 'us-west-2', activeHours: ACTIVE });
    near(report.idleTotal - without.idleTotal, lines[0].idle + lines[1].idle, 'added to the total');
  });

  it('paused: nothing (no task, no metric)', () => {
    const paused = estimateCost([withInsights('enabled')], { region: 'us-west-2', activeHours: ACTIVE, paused: true });
    near(insightsLines(paused).reduce((t, l) => t + l.idle, 0), 0, 'paused');
  });

  it('disabled or not set: no line; enhanced observability: not priced, never 0', () => {
    assert.deepEqual(insightsLines(estimateCost([withInsights('disabled')], { region: 'us-west-2', activeHours: ACTIVE })), []);
    assert.deepEqual(insightsLines(estimateCost([FIXTURE], { region: 'us-west-2', activeHours: ACTIVE })), []);
    const enhanced = estimateCost([withInsights('enhanced')], { region: 'us-west-2', activeHours: ACTIVE });
    assert.ok(enhanced.notPriced.some((n) => n.type === 'AWS::ECS::Cluster' && /enhanced/.test(n.note)), JSON.stringify(enhanced.notPriced));
  });
});

describe('scheduled task hours', () => {
  it('reads weekly cron expressions (AWS day numbers 1-7 = SUN-SAT, names, ranges, lists)', () => {
    assert.deepEqual(cronMinutesOfWeek('cron(30 8 ? * MON *)'), [1 * 1440 + 8 * 60 + 30]);
    assert.deepEqual(cronMinutesOfWeek('cron(0 0 ? * 1 *)'), [0]);
    assert.equal(cronMinutesOfWeek('cron(0 8 ? * MON-FRI *)')?.length, 5);
    assert.equal(cronMinutesOfWeek('cron(0 8,12 ? * SAT,SUN *)')?.length, 4);
  });

  it('declines what it cannot place in a week: rate(), at(), days of the month, bad fields', () => {
    for (const expression of ['rate(1 hour)', 'at(2026-12-01T08:00:00)', 'cron(0 8 1 * ? *)', 'cron(0 25 ? * * *)', 'cron(0 8 ? * *)']) {
      assert.equal(cronMinutesOfWeek(expression), undefined, expression);
    }
    assert.equal(scheduledTaskHoursPerMonth(1, {}, [{ Schedule: 'rate(1 hour)', ScalableTargetAction: { MinCapacity: 0 } }]), undefined);
  });

  it('a service scaled to 2 tasks from 09:00 to 17:00 every day and to 0 otherwise runs 2 x 8 x 7 task-hours a week', () => {
    const hours = scheduledTaskHoursPerMonth(2, { min: 0, max: 2 }, [
      { Schedule: 'cron(0 9 ? * * *)', ScalableTargetAction: { MinCapacity: 2, MaxCapacity: 2 } },
      { Schedule: 'cron(0 17 ? * * *)', ScalableTargetAction: { MinCapacity: 0, MaxCapacity: 0 } },
    ]);
    near(hours ?? Number.NaN, 2 * 8 * 7 * (H / 168), 'task-hours');
  });
});
