import { Duration } from 'aws-cdk-lib';

/**
 * How long an MLflow task may take to start, in one place: what the container waits for, what the load balancer
 * needs to see it healthy, and the health-check grace period of the ECS service derived from both.
 */

/**
 * `MLFLOW_DB_WAIT_SECONDS` of the MLflow container (containers/mlflow/mlflow_db.py, whose own default is the same):
 * how long it waits for the database to accept connections (an auto-paused Aurora Serverless v2 resumes in seconds,
 * a cluster that is still being created takes longer) and then, separately, for the schema lock another task holds
 * while it migrates. The stack passes it to the container explicitly, so that the grace period below is derived
 * from the value the task really uses.
 */
export const DATABASE_WAIT = Duration.seconds(300);

/**
 * Allowance for a task's own part once it holds the schema lock: the first creation of MLflow's tables or a
 * `mlflow db upgrade` to a new release, then the server's start. Migrations that run longer than this (very large
 * databases) need a larger value here.
 */
export const MIGRATION_ALLOWANCE = Duration.seconds(300);

/** Load balancer health check of the proxy (`/elb-status`, which answers 200 once MLflow does). */
export const LOAD_BALANCER_HEALTH_CHECK = {
  interval: Duration.seconds(15),
  timeout: Duration.seconds(5),
  healthyThresholdCount: 2,
  unhealthyThresholdCount: 3,
} as const;

/** The largest health-check grace period ECS accepts (HealthCheckGracePeriodSeconds). */
export const ECS_MAX_GRACE_PERIOD_SECONDS = 2_147_483_647;

/**
 * Health-check grace period of the MLflow service: the longest a healthy task may legitimately take before it serves
 * (database wait, lock wait, its own migration and start) plus the time the load balancer needs to count it healthy.
 * During the grace period ECS ignores failed load balancer health checks, so it does not replace a task that is still
 * waiting or migrating. The longer period delays no failure the circuit breaker must see: a task that gives up
 * (database unreachable, lock not obtained within the wait, migration failed) exits by itself, and ECS counts that at once.
 */
export function healthCheckGracePeriod(databaseWait: Duration = DATABASE_WAIT): Duration {
  const seconds = 2 * databaseWait.toSeconds() + MIGRATION_ALLOWANCE.toSeconds()
    + LOAD_BALANCER_HEALTH_CHECK.healthyThresholdCount * LOAD_BALANCER_HEALTH_CHECK.interval.toSeconds();
  if (seconds > ECS_MAX_GRACE_PERIOD_SECONDS) throw new Error(`health check grace period of ${seconds} s is more than ECS accepts`);
  return Duration.seconds(seconds);
}
