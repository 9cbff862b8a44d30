/**
 * When the service runs (`MlflowServiceProps.activeHours`): days and a daily start and end (no aws-cdk-lib import).
 */

/** Day names of `activeHours`, in the order of a week as written there (ranges run in this order, wrapping after SUN). */
export const WEEK_DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type WeekDay = (typeof WEEK_DAYS)[number];

/** A time of day, 00:00 to 23:59. */
export interface TimeOfDay {
  readonly hour: number;
  readonly minute: number;
}

/** `activeHours` understood: the days it covers (week order) and the daily start and end, in the setting's time zone. */
export interface ActiveHours {
  readonly days: readonly WeekDay[];
  readonly start: TimeOfDay;
  readonly end: TimeOfDay;
}
