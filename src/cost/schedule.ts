/**
 * Task-hours a month of an ECS service whose task count Application Auto Scaling changes on a schedule
 * (AWS::ApplicationAutoScaling::ScalableTarget ScheduledActions with `cron(...)` expressions).
 *
 * One week is played minute by minute, twice (so the second week starts from the state the first left), each action
 * clamping the desired count to its MinCapacity/MaxCapacity as Application Auto Scaling does. Load-based scaling is
 * not modelled: between actions the service runs at the clamped desired count. The week is scaled to a month.
 */
import { HOURS_PER_MONTH } from './prices';

export interface ScheduledAction {
  readonly Schedule?: unknown;
  readonly ScalableTargetAction?: { readonly MinCapacity?: unknown; readonly MaxCapacity?: unknown };
}

const MINUTES_PER_WEEK = 7 * 24 * 60;
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Parses one cron field into the set of values it matches, or undefined when it uses syntax this model does not support. */
function field(text: string, min: number, max: number, names: readonly string[] = [], nameBase = 0): Set<number> | undefined {
  const values = new Set<number>();
  const value = (token: string): number => {
    const index = names.indexOf(token.toUpperCase());
    return index >= 0 ? index + nameBase : Number(token);
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let from: number;
    let to: number;
    if (range === '*' || range === '?') {
      from = min;
      to = max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      from = value(a);
      to = value(b);
    } else {
      from = value(range);
      to = stepText === undefined ? from : max;
    }
    if (![from, to, step].every(Number.isInteger) || step < 1 || from < min || to > max || from > to) return undefined;
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

/** Minute-of-week (Sunday 00:00 = 0) a `cron(...)` expression fires at, or undefined when it is not a weekly cron this model reads. */
export function cronMinutesOfWeek(expression: string): number[] | undefined {
  const match = /^cron\((.*)\)$/.exec(expression.trim());
  if (!match) return undefined;
  const parts = match[1].trim().split(/\s+/);
  if (parts.length !== 6) return undefined;
  const [minuteText, hourText, dayOfMonth, month, dayOfWeek, year] = parts;
  if (!['*', '?'].includes(dayOfMonth) || month !== '*' || !['*', '?'].includes(year)) return undefined;
  const minutes = field(minuteText, 0, 59);
  const hours = field(hourText, 0, 23);
  // AWS cron days of week: 1-7 = SUN-SAT, or names.
  const days = field(dayOfWeek, 1, 7, DAY_NAMES, 1);
  if (!minutes || !hours || !days) return undefined;
  const result: number[] = [];
  for (const day of days) for (const hour of hours) for (const minute of minutes) result.push((day - 1) * 1440 + hour * 60 + minute);
  return result.sort((a, b) => a - b);
}

function capacity(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * Running task-hours a month, or undefined when an action's schedule is not a weekly `cron(...)` (then the caller
 * prices the service as always running and says so).
 */
export function scheduledTaskHoursPerMonth(
  desiredCount: number,
  bounds: { min?: number; max?: number },
  actions: readonly ScheduledAction[],
): number | undefined {
  const events = new Map<number, Array<{ min?: number; max?: number }>>();
  for (const action of actions) {
    if (typeof action.Schedule !== 'string') return undefined;
    const minutes = cronMinutesOfWeek(action.Schedule);
    if (!minutes) return undefined;
    const change = { min: capacity(action.ScalableTargetAction?.MinCapacity), max: capacity(action.ScalableTargetAction?.MaxCapacity) };
    for (const minute of minutes) events.set(minute, [...(events.get(minute) ?? []), change]);
  }
  let min = bounds.min ?? 0;
  let max = bounds.max ?? Number.POSITIVE_INFINITY;
  let desired = Math.min(Math.max(desiredCount, min), max);
  let taskMinutes = 0;
  for (let t = 0; t < 2 * MINUTES_PER_WEEK; t += 1) {
    for (const change of events.get(t % MINUTES_PER_WEEK) ?? []) {
      if (change.min !== undefined) min = change.min;
      if (change.max !== undefined) max = change.max;
      desired = Math.min(Math.max(desired, min), max);
    }
    if (t >= MINUTES_PER_WEEK) taskMinutes += desired;
  }
  return (taskMinutes / 60) * (HOURS_PER_MONTH / (7 * 24));
}
