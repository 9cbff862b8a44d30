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
 * Allowance for a task's own part once it holds the schema lock: the first creation of MLflow's tables, or the
 * migration of a database no MLflow release of this project serves yet (moving in from the original sample with
 * `dbSnapshot`), then the server's start. A change of MLflow release does not migrate in a task's start: `npx
 * mlflow-on-aws upgrade` runs `mlflow db upgrade` in a one-off task with every server stopped, and waits for it as long
 * as it takes (containers/mlflow/mlflow_db.py, "Who migrates"). Moving in a database so large that its migration runs
 * longer than this needs a larger value here.
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
 * During the grace period ECS ignores failed load balancer and container health checks, so it does not replace a task
 * that is still waiting or migrating. The longer period delays no failure the circuit breaker must see: a task that gives up
 * (database unreachable, lock not obtained within the wait, migration failed) exits by itself, and ECS counts that at once.
 */
export function healthCheckGracePeriod(databaseWait: Duration = DATABASE_WAIT): Duration {
  const seconds = 2 * databaseWait.toSeconds() + MIGRATION_ALLOWANCE.toSeconds()
    + LOAD_BALANCER_HEALTH_CHECK.healthyThresholdCount * LOAD_BALANCER_HEALTH_CHECK.interval.toSeconds();
  if (seconds > ECS_MAX_GRACE_PERIOD_SECONDS) throw new Error(`health check grace period of ${seconds} s is more than ECS accepts`);
  return Duration.seconds(seconds);
}

/**
 * Container health check of the proxy, for a service that no load balancer checks (the lean profile's, found through
 * Cloud Map): ECS registers a task in Cloud Map as healthy only while this passes, and replaces a task on which it
 * fails (after the grace period above, which covers the database and migration waits). It asks the proxy for
 * `/elb-status`, which answers 200 once MLflow does, with the Perl the proxy image has for its password check (the
 * image's build verifies Perl). `%PORT%` and `%PATH%` are filled in by `proxyHealthCheckCommand`.
 */
export const PROXY_CONTAINER_HEALTH_CHECK = {
  interval: Duration.seconds(15),
  timeout: Duration.seconds(5),
  retries: 3,
  startPeriod: Duration.seconds(300),
} as const;

/** The proxy's health-check command: exit 0 only when `path` on the proxy's `port` answers HTTP 200. */
export function proxyHealthCheckCommand(port: number, path: string): string[] {
  const script = `my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:${port}", Timeout => 3) or exit 1; `
    + `print $s "GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n"; `
    + 'my $line = <$s>; exit((defined $line && $line =~ m{^HTTP/1\\.[01] 200 }) ? 0 : 1);';
  return ['CMD', 'perl', '-MIO::Socket::INET', '-e', script];
}
