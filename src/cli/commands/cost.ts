/**
 * `cost`: an itemized monthly estimate of the deployment the settings describe, priced from its synthesized templates;
 * with `--json`, the same figures as one JSON document (`costJson`) on stdout.
 */
import { CostReport, estimateCost, WORKING_DAYS_PER_MONTH } from '../../cost/estimate';
import { HOURS_PER_MONTH, PRICE_REGIONS, isPriceRegion } from '../../cost/prices';
import { renderText } from '../../cost/render';
import { synthesizeTemplates } from '../../cost/synth';
import { CliDeps } from '../deps';
import { CliError, EXIT } from '../errors';
import { loadCliConfig, parseCommandOptions } from '../options';
import { COST, DEFAULT_ACTIVE_HOURS } from './index';

export { DEFAULT_ACTIVE_HOURS };

export async function costCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, options } = parseCommandOptions(COST, args);
  if (values['active-hours'] !== undefined && values['hours-per-day'] !== undefined) {
    throw new CliError('Options "--active-hours" and "--hours-per-day" both say how long MLflow is used: give one.', EXIT.usage);
  }
  const perDay = parseHoursPerDay(values['hours-per-day']);
  const activeHours = perDay === undefined ? parseActiveHours(values['active-hours']) : perDay * WORKING_DAYS_PER_MONTH;
  const config = loadCliConfig(deps, options.context);
  if (!isPriceRegion(config.region)) {
    throw new CliError(
      `Invalid setting "region" for cost: got ${config.region}; allowed: a region of the price table: ${PRICE_REGIONS.join(', ')}.`,
      EXIT.usage,
      'Add the region\'s prices to src/cost/prices.ts, or estimate with --region us-west-2 and compare.',
    );
  }
  const report = estimateCost(synthesizeTemplates(config), { region: config.region, activeHours, paused: values.paused === true });
  deps.output.out(values.json === true ? JSON.stringify(costJson(report), null, 2) : renderText(report));
  return EXIT.ok;
}

const cents = (usd: number): number => Math.round(usd * 100) / 100;

/**
 * What `cost --json` prints: the report's figures in a shape of their own, documented in docs/reference/cli.md, so that
 * the estimate's internals can change without changing it (fields are only ever added). Amounts are USD a month,
 * rounded to the cent.
 */
export function costJson(report: CostReport) {
  return {
    region: report.region,
    activeHours: report.activeHours,
    paused: report.paused,
    pricesAsOf: report.pricesAsOf,
    currency: 'USD',
    monthly: { idle: cents(report.idleTotal), active: cents(report.activeTotal) },
    lines: report.lines.map((line) => ({
      item: line.item,
      quantity: line.quantity,
      unitPrice: line.unitPrice,
      idle: cents(line.idle),
      active: cents(line.active),
      marks: [...line.marks],
    })),
    notPriced: report.notPriced.map(({ type, count, note }) => ({ type, count, note })),
    usageOnly: report.usageOnly.map(({ type, count, note }) => ({ type, count, note })),
    assumptions: [...report.assumptions],
  };
}

function parseHoursPerDay(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const hours = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(hours >= 0 && hours <= 24)) {
    throw new CliError(`Invalid option "--hours-per-day": got ${value}; allowed: a number of hours a working day from 0 to 24.`, EXIT.usage);
  }
  return hours;
}

function parseActiveHours(value: string | undefined): number {
  if (value === undefined) return DEFAULT_ACTIVE_HOURS;
  const hours = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(hours >= 0 && hours <= HOURS_PER_MONTH)) {
    throw new CliError(`Invalid option "--active-hours": got ${value}; allowed: a number of hours a month from 0 to ${HOURS_PER_MONTH}.`, EXIT.usage);
  }
  return hours;
}
