/** `cost`: the command line around the estimate (options, errors); the arithmetic is in test/cost/. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOURS_PER_MONTH, PRICES } from '../../src/cost/prices';
import { harness } from './helpers';

describe('cost command', () => {
  it('prints the itemized table for the settings, idle and with the given active hours, without AWS calls', async () => {
    const h = harness();
    assert.equal(await h.run('cost', '--active-hours', '40', '-c', 'desiredTasks=1'), 0, h.text());
    const out = h.out.join('\n');
    assert.match(out, /Estimated monthly cost in us-west-2: list prices as found on \d{4}-\d{2}-\d{2}/);
    assert.match(out, /monthly with 40 active h/);
    assert.match(out, /730 task-h \(1 task, always\)/);
    const fargate = HOURS_PER_MONTH * (PRICES.fargateX86VcpuHour.usd + 2 * PRICES.fargateX86GbHour.usd);
    assert.ok(out.includes(`$${fargate.toFixed(2)}`), out);
    assert.match(out, /Excluded: data transfer/);
    assert.deepEqual(h.targets, [], 'no AWS client created');
  });

  it('--json: one JSON document on stdout, the figures of the text rounded to the cent, in a shape of its own', async () => {
    const h = harness();
    assert.equal(await h.run('cost', '--json', '--active-hours', '40', '-c', 'desiredTasks=1'), 0, h.text());
    assert.equal(h.out.length, 1, 'one document, nothing else on stdout');
    const report = JSON.parse(h.out[0]);
    assert.deepEqual(Object.keys(report), ['region', 'activeHours', 'paused', 'pricesAsOf', 'currency', 'monthly', 'lines', 'notPriced', 'usageOnly', 'assumptions']);
    assert.equal(report.region, 'us-west-2');
    assert.equal(report.activeHours, 40);
    assert.equal(report.paused, false);
    assert.equal(report.currency, 'USD');
    assert.match(report.pricesAsOf, /^\d{4}-\d{2}-\d{2}$/);
    const fargate = HOURS_PER_MONTH * (PRICES.fargateX86VcpuHour.usd + 2 * PRICES.fargateX86GbHour.usd);
    const line = report.lines.find((l: { quantity: string }) => l.quantity === '730 task-h (1 task, always)');
    assert.ok(line, JSON.stringify(report.lines));
    assert.deepEqual(Object.keys(line), ['item', 'quantity', 'unitPrice', 'idle', 'active', 'marks']);
    assert.equal(line.idle, Math.round(fargate * 100) / 100);
    const sum = (key: 'idle' | 'active') => report.lines.reduce((total: number, l: Record<string, number>) => total + l[key], 0);
    assert.ok(Math.abs(sum('idle') - report.monthly.idle) < 0.01 * report.lines.length, 'the total is the sum of the lines');
    assert.ok(report.monthly.active >= report.monthly.idle);
    assert.ok(report.assumptions.length > 0);
  });

  it('--json with a bad option value: exit 2, the error on stderr, nothing on stdout', async () => {
    const h = harness();
    assert.equal(await h.run('cost', '--json', '--active-hours', 'lots'), 2);
    assert.deepEqual(h.out, []);
    assert.match(h.err[0], /Invalid option "--active-hours": got lots/);
  });

  it('--paused prices the services at 0 tasks', async () => {
    const h = harness();
    assert.equal(await h.run('cost', '--paused'), 0, h.text());
    assert.match(h.out.join('\n'), /0 task-h \(2 tasks, paused\)/);
  });

  it('refuses a region without prices, naming the setting, the value and the regions it knows', async () => {
    const h = harness();
    assert.equal(await h.run('cost', '--region', 'af-south-1'), 2);
    assert.match(h.err.join('\n'), /Invalid setting "region" for cost: got af-south-1; allowed: a region of the price table: us-east-1, .*us-west-2/);
  });

  for (const bad of ['-5', 'abc', '731', '']) {
    it(`refuses --active-hours ${JSON.stringify(bad)}`, async () => {
      const h = harness();
      assert.equal(await h.run('cost', `--active-hours=${bad}`), 2);
      assert.match(h.err.join('\n'), new RegExp(`Invalid option "--active-hours": got ${bad}; allowed: a number of hours a month from 0 to 730`));
    });
  }

  it('--hours-per-day H prices H hours on each working day; a lean deployment that sleeps runs its task for them and sleepAfterMinutes a day', async () => {
    const h = harness();
    assert.equal(await h.run('cost', '--hours-per-day', '4', '-c', 'profile=lean'), 0, h.text());
    const text = h.out.join('\n');
    assert.match(text, /87 active hours a month in the last column/);
    // (4 h + 30 min) x 21.74 working days.
    assert.match(text, /Fargate tasks, ARM64 0\.5 vCPU \/ 1 GB\s+97\.8 task-h \(1 task, asleep when idle; with use, the active hours \+ 30 min on each of 21\.7 days\)/);
  });

  for (const [args, message] of [
    [['--hours-per-day', '25'], /Invalid option "--hours-per-day": got 25; allowed: a number of hours a working day from 0 to 24\./],
    [['--hours-per-day', 'x'], /Invalid option "--hours-per-day": got x/],
    [['--hours-per-day', '4', '--active-hours', '80'], /Options "--active-hours" and "--hours-per-day" both say how long MLflow is used: give one\./],
  ] as const) {
    it(`refuses ${args.join(' ')}`, async () => {
      const h = harness();
      assert.equal(await h.run('cost', ...args), 2);
      assert.match(h.err.join('\n'), message);
    });
  }

  it('refuses a bad -c setting with one line naming it', async () => {
    const h = harness();
    assert.equal(await h.run('cost', '-c', 'taskCpu=1000'), 2);
    assert.match(h.err.join('\n'), /Invalid setting "taskCpu": got 1000/);
  });

  it('has help', async () => {
    const h = harness();
    assert.equal(await h.run('cost', '--help'), 0);
    assert.match(h.out.join('\n'), /--active-hours N/);
  });
});
