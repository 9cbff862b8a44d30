/**
 * The command table: every command's options, descriptions and help, declared once (see ../spec.ts). The parser and the
 * help are both made from these declarations. A command's module is required only when the command runs (`load`), so
 * `npx mlflow-on-aws --help` and `<command> --help` load no command module and no aws-cdk-lib. (`require`, not
 * `import()`: bin/cli.js runs the TypeScript through tsx's CommonJS hook, which does not serve `import()`.)
 */
import { HOURS_PER_MONTH, PRICE_REGIONS, WORKING_DAYS_PER_MONTH } from '../../cost/prices';
import { DATABASE_MASTER_USERNAME, DATABASE_NAME } from '../../app/names';
import { SAMPLE_DATABASE } from '../../app/config/settings';
import { MLFLOW_PERMISSIONS } from '../../lib/service/auth';
import { CommandSpec, defineCommand } from '../spec';

/** Active hours a month when none are given: about a working month (8 hours x 20 days). */
export const DEFAULT_ACTIVE_HOURS = 160;
/** Secrets Manager name prefix of the users' secrets: `mlflow/users/<name>`. */
export const USER_SECRET_PREFIX = 'mlflow/users/';
/** Days Secrets Manager keeps a removed user's secret before deleting it (its minimum is 7). */
export const SECRET_RECOVERY_DAYS = 7;

const JSON_OPTION = { type: 'boolean', description: 'print one JSON document on stdout instead of text (its shape: docs/reference/cli.md)' } as const;
const YES_OPTION = { type: 'boolean', short: 'y', description: 'do not ask for confirmation (required when there is no terminal)' } as const;
const DRY_RUN_OPTION = { type: 'boolean', description: 'check everything and print the cdk command without running it' } as const;

export const DOCTOR = defineCommand({
  name: 'doctor',
  summary: 'check Node.js, AWS credentials/account/region, CDK bootstrap, Docker, SageMaker domains',
  description: `Checks Node.js, the configuration, AWS credentials, account and region, iamPrincipals (of the deploying
account), the CDK bootstrap of the target environment, Docker (needed only with imageBuild=local), the
CodeBuild concurrent-build quota of the deploy-time image builds, and existing SageMaker domains.`,
  options: {},
  notes: 'Exit code 0 when nothing blocks a deploy, otherwise the code of the first failed check.',
  load: () => (require('./doctor') as typeof import('./doctor')).doctorCommand,
});

export const DEPLOY = defineCommand({
  name: 'deploy',
  summary: 'deploy all stacks with the project\'s pinned CDK CLI',
  description: `Deploys every stack with the project's pinned CDK CLI:
  cdk deploy --all --require-approval never [-c key=value ...]
--region, --profile and -c (and --platform-profile, as -c profile=NAME) are passed on to cdk.
A change of mlflowVersion is refused: \`npx mlflow-on-aws upgrade\` does it as MLflow requires.`,
  options: {
    'use-existing-domain': {
      type: 'boolean',
      description: 'when DOMAIN_ID is unset, attach the Studio user to the SageMaker domain that already exists in the region (fails if there are several: pick one with --domain-id)',
    },
    'domain-id': { type: 'string', value: 'ID', description: 'attach to this existing domain (same as DOMAIN_ID=ID or -c domainId=ID)' },
    'replace-notebook': {
      type: 'boolean',
      description: 'let the deploy replace the notebook instance when this release changes what only a new instance can get (its platform): the old instance and its volume, with the notebooks on it, are deleted (deploy refuses without it, saying how to copy them to S3 first)',
    },
    bootstrap: { type: 'boolean', description: 'run `cdk bootstrap` first if the account/region is not bootstrapped' },
    'while-paused': {
      type: 'boolean',
      description: 'deploy although MLflow runs no task (paused, or outside activeHours): refused without it, since no task would validate the new revision; the pause is kept',
    },
    'dry-run': DRY_RUN_OPTION,
  },
  load: () => (require('./deploy') as typeof import('./deploy')).deployCommand,
});

export const STATUS = defineCommand({
  name: 'status',
  summary: 'stack states, MLflow endpoint, ECS tasks, database (running or paused)',
  description: 'Shows the stacks, the MLflow endpoint, ECS tasks and the Aurora database state.',
  options: {
    counts: {
      type: 'boolean',
      description: 'also count what MLflow holds (experiments, runs, registered models, versions) through the endpoint with the MLflow credentials, e.g. to check a migration; this wakes a paused database',
    },
    json: JSON_OPTION,
  },
  notes: 'Exit code 0 when healthy, 1 when something needs attention, 5 when MLflow is not deployed.',
  load: () => (require('./status') as typeof import('./status')).statusCommand,
});

export const CREDENTIALS = defineCommand({
  name: 'credentials',
  summary: 'MLflow username and password; --env prints shell export lines',
  description: 'Prints the MLflow tracking URI, username and password (from Secrets Manager).',
  options: {
    env: {
      type: 'boolean',
      description: 'print only shell export lines (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD), for: eval "$(npx mlflow-on-aws credentials --env)"',
    },
  },
  load: () => (require('./credentials') as typeof import('./credentials')).credentialsCommand,
});

export const PAUSE = defineCommand({
  name: 'pause',
  summary: 'stop every MLflow task and hold the service at 0 (nothing deleted; the endpoint answers 503)',
  description: `Stops every MLflow task (desired count 0) and holds the service there: autoscaling and active-hours schedules
are suspended until \`resume\`. Nothing is deleted; the endpoint answers 503 (Retry-After) while paused, and the
database pauses after dbAutoPauseMinutes without connections.`,
  options: { wait: { type: 'boolean', description: 'wait until no task runs any more' } },
  load: () => (require('./capacity') as typeof import('./capacity')).pauseCommand,
});

export const RESUME = defineCommand({
  name: 'resume',
  summary: 'start MLflow again with the deployed task counts and wait until it answers',
  description: `Starts MLflow again with the task counts of the deployed stack and lifts the suspension of autoscaling and
schedules. Waits until the endpoint answers (typically 2 to 4 minutes: task start and image pull, MLflow's
start-up, a paused database's resume, the first passing health checks), and says how long it took.`,
  options: { 'no-wait': { type: 'boolean', description: 'return once the service is told, without waiting' } },
  load: () => (require('./capacity') as typeof import('./capacity')).resumeCommand,
});

export const UPGRADE = defineCommand({
  name: 'upgrade',
  summary: 'change the MLflow release as MLflow requires: stop, snapshot, deploy, migrate once, start, check',
  synopsis: ['[--yes] [options]', '--rollback [--snapshot S] [--yes] [options]'],
  description: `Changes the deployed MLflow release to the configured mlflowVersion as MLflow requires for a database
(every writer stopped, a restorable backup, \`mlflow db upgrade\` once before the new release starts):
  1. stops every MLflow task (as \`pause\`) and waits until none runs; clients get 503 with Retry-After
  2. takes a manual snapshot of the Aurora cluster, mlflow-upgrade-<from>-to-<to>-<time>, and waits for it
     (database=sqlite: copies the replica, litestream/ of the replica bucket, to backups/<time>-mlflow-<from>/
     and checks the copy by listing it)
  3. deploys the new release with the service kept at 0 tasks
  4. runs \`mlflow db upgrade\` once in a one-off ECS task of the new task definition, its log shown here
  5. starts the new release (as \`resume\`) and checks a write and a read through the endpoint
A failed migration leaves MLflow stopped; \`upgrade --rollback\` then gets the old release back on the data
of the snapshot. \`deploy\` refuses a change of mlflowVersion and points here.`,
  options: {
    rollback: {
      type: 'boolean',
      description: 'restore the newest upgrade snapshot (or --snapshot S) in place of the database (the current cluster is renamed <id>-failed-<time> and kept; database=sqlite: the replica replaced by the newest copy an upgrade took, the replaced objects kept as earlier versions), deploy the release it was taken from, start it and check it; writes since the snapshot are not in it',
    },
    snapshot: { type: 'string', value: 'S', description: 'with --rollback: the upgrade snapshot to restore (database=sqlite: the copy of the replica, an id of `restore --list`)', default: 'the newest one' },
    yes: YES_OPTION,
  },
  load: () => (require('./upgrade') as typeof import('./upgrade')).upgradeCommand,
});

export const DESTROY = defineCommand({
  name: 'destroy',
  summary: 'delete the stacks after confirmation (--yes to skip it)',
  description: `Deletes the MLflow on AWS stacks of the account/region, dependents first, after showing what is kept
(retained bucket, final database snapshot, Studio home EFS, ...) and what is deleted. Stops before deleting
anything while the database has deletion protection on (asked of RDS), and says how to turn it off.
With Studio in use, first deletes the user profile's apps and spaces; after the domain, what SageMaker left in the VPC.`,
  options: {
    yes: YES_OPTION,
    'keep-mlflow-stack': {
      type: 'boolean',
      description: 'delete only the gateway and SageMaker stacks; MLflowVpcStack (network, database, artifact bucket, MLflow service) stays: the first step of a profile move (see deploy)',
    },
  },
  load: () => (require('./destroy') as typeof import('./destroy')).destroyCommand,
});

export const COST = defineCommand({
  name: 'cost',
  summary: 'itemized monthly estimate from the synthesized templates (idle and with --active-hours N or --hours-per-day H)',
  description: `Prints an itemized monthly estimate of what the settings deploy, from the synthesized templates and the dated
price table in src/cost/prices.ts (list prices; no AWS call, no credentials needed):
monthly at idle (nobody uses MLflow) and with N active hours a month.`,
  options: {
    'active-hours': { type: 'string', value: 'N', description: `hours a month someone uses MLflow, 0..${HOURS_PER_MONTH}`, default: String(DEFAULT_ACTIVE_HOURS) },
    'hours-per-day': {
      type: 'string', value: 'H',
      description: `instead of --active-hours: hours someone uses MLflow each working day, 0..24 (${WORKING_DAYS_PER_MONTH.toFixed(2)} working days a month); a deployment that sleeps (sleepAfterMinutes) runs them plus sleepAfterMinutes each day`,
    },
    paused: { type: 'boolean', description: 'as after `pause`: every ECS service at 0 tasks' },
    json: JSON_OPTION,
  },
  notes: `Regions with prices: ${PRICE_REGIONS.join(', ')}.`,
  load: () => (require('./cost') as typeof import('./cost')).costCommand,
});

export const RESTORE = defineCommand({
  name: 'restore',
  summary: 'deploy on a database snapshot and the existing artifact bucket (--snapshot, --artifact-bucket); database=sqlite: put back a copy of the replica (--list, --backup)',
  synopsis: ['--snapshot <id|arn> --artifact-bucket <name> [--yes] [options]', '--list | --backup <id> [--yes] [options]   (database=sqlite)'],
  description: `Deploys MLflow on a copy of a database snapshot, with the artifact bucket the runs' artifacts are in:
  cdk deploy --all -c dbSnapshot=<id> -c dbSnapshotUsername=<its master user>
                   -c dbSnapshotDatabaseName=<its MLflow database> -c artifactBucketName=<name>
The deployment must not exist: run \`npx mlflow-on-aws destroy\` first (it keeps a final snapshot of the
current database and the artifact bucket). The snapshot itself is only read. --region, --profile and -c are
passed on to cdk.
With database=sqlite (the deployed stack has the database replica bucket) there is no snapshot: --list lists
the copies of the replica under backups/ (\`upgrade\` takes one before each upgrade), and --backup <id> puts
one back in place: stops every task, replaces the objects under litestream/ by the copy's (the bucket is
versioned: the replaced ones stay as earlier versions), and starts MLflow again on it.`,
  options: {
    snapshot: {
      type: 'string', value: 'S',
      description: 'manual DB cluster snapshot: identifier or ARN, in the target region. An AWS Backup recovery point or an automated (rds:) snapshot: copy it to a manual one first',
    },
    'artifact-bucket': { type: 'string', value: 'B', description: 'the existing artifact bucket', default: 'the artifactBucketName setting' },
    list: { type: 'boolean', description: 'database=sqlite: list the copies of the database replica (backups/<id>/) with their size' },
    backup: { type: 'string', value: 'ID', description: 'database=sqlite: the copy to put back in place of the replica (an id of --list)' },
    'database-name': {
      type: 'string', value: 'D',
      description: 'the database in the snapshot that holds MLflow\'s tables',
      default: `${DATABASE_NAME} for a snapshot of this project (master user ${DATABASE_MASTER_USERNAME}), ${SAMPLE_DATABASE.databaseName} for one of the original sample (master user ${SAMPLE_DATABASE.username}); needed for any other`,
    },
    yes: YES_OPTION,
    'dry-run': DRY_RUN_OPTION,
  },
  load: () => (require('./restore') as typeof import('./restore')).restoreCommand,
});

export const USERS = defineCommand({
  name: 'users',
  summary: 'personal MLflow accounts (auth=users), or the Cognito user pool\'s people (auth=sso): add, list, remove, grant',
  synopsis: ['<action> [options]'],
  description: `Personal MLflow accounts (setting auth=users), managed with the admin credentials through the tracking endpoint.
Actions:
  add <name> [--show-password]   create the account; its generated password goes to Secrets Manager
                                 (${USER_SECRET_PREFIX}<name>) and is printed only with --show-password
  list [--json]                  the accounts MLflow knows, and whether each has a secret
  remove <name>                  delete the account; its secret is deleted after ${SECRET_RECOVERY_DAYS} days
  grant <name> --permission P (--experiment ID|NAME | --model NAME)
                                 give the account permission P on one experiment or registered model
With auth=sso and the stack's Cognito user pool, people are the pool's users, named by e-mail address:
  add <email> [--admin | --group G]
                                 create the user (Cognito e-mails a temporary password), in ssoAdminGroup
                                 with --admin or in G, one of the groups of ssoGroupPermissions
  list [--json]                  the pool's users and their groups
  remove <email>                 disable and delete the user (a browser session ends within
                                 ssoSessionRefreshSeconds)
  grant is refused: groups give permissions, admins grant more in the MLflow UI.`,
  positionals: true,
  options: {
    'show-password': { type: 'boolean', description: 'add: print the generated password' },
    permission: { type: 'string', value: 'P', description: `grant: the permission, one of ${MLFLOW_PERMISSIONS.join(', ')}` },
    experiment: { type: 'string', value: 'ID|NAME', description: 'grant: on this experiment (its ID or name)' },
    model: { type: 'string', value: 'NAME', description: 'grant: on this registered model' },
    admin: { type: 'boolean', description: 'add with auth=sso: in the admin group (ssoAdminGroup)' },
    group: { type: 'string', value: 'G', description: 'add with auth=sso: in group G (ssoAdminGroup or a group of ssoGroupPermissions)' },
    json: { ...JSON_OPTION, description: `list: ${JSON_OPTION.description}` },
  },
  load: () => (require('./users') as typeof import('./users')).usersCommand,
});

/** Every command, in the order of `npx mlflow-on-aws --help`. */
export const COMMAND_SPECS: readonly CommandSpec[] = [DOCTOR, DEPLOY, STATUS, CREDENTIALS, PAUSE, RESUME, UPGRADE, DESTROY, COST, RESTORE, USERS];
