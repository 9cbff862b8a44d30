/** `cost`: an itemized monthly estimate of the deployment the settings describe, priced from its synthesized templates. */
import { estimateCost, WORKING_DAYS_PER_MONTH } from '../../cost/estimate';
import { HOURS_PER_MONTH, PRICE_REGIONS, isPriceRegion } from '../../cost/prices';
import { renderText } from '../../cost/render';
import { synthesizeTemplates } from '../../cost/synth';
import { CliDeps } from '../deps';
import { CliError, EXIT } from '../errors';
import { commonOptions, loadCliConfig, parseCommandArgs } from '../options';

/** Active hours a month when none are given: about a working month (8 hours x 20 days). */
export const DEFAULT_ACTIVE_HOURS = 160;

export const COST_HELP = `Usage: npx mlflow-on-aws cost [--active-hours N | --hours-per-day H] [--paused] [--region R] [-c key=value ...]

Prints an itemized monthly estimate of what the settings deploy, from the synthesized templates and the dated
price table in src/cost/prices.ts (list prices; no AWS call, no credentials needed):
  monthly at idle (nobody uses MLflow) and with N active hours a month.
  --active-hours N   hours a month someone uses MLflow, 0..${HOURS_PER_MONTH} (default ${DEFAULT_ACTIVE_HOURS})
  --hours-per-day H  instead: hours someone uses MLflow each working day, 0..24 (${WORKING_DAYS_PER_MONTH.toFixed(2)} a month); a
                     deployment that sleeps (sleepAfterMinutes) runs them plus sleepAfterMinutes each day
  --paused           as after \`pause\`: every ECS service at 0 tasks
Regions with prices: ${PRICE_REGIONS.join(', ')}.`;

export async function costCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const values = parseCommandArgs('cost', args, { 'active-hours': { type: 'string' }, 'hours-per-day': { type: 'string' }, paused: { type: 'boolean' } });
  const options = commonOptions(values);
  if (options.help) {
    deps.output.out(COST_HELP);
    return EXIT.ok;
  }
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
  deps.output.out(renderText(report));
  return EXIT.ok;
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
