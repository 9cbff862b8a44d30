/**
 * The `mlflow-on-aws` command line: doctor, deploy, status, credentials, users, pause, resume, upgrade, destroy, restore, cost.
 * `runCli` takes its dependencies as an argument and returns the exit code, so tests drive it without AWS.
 */
import { pauseCommand, resumeCommand } from './commands/capacity';
import { deployCommand } from './commands/deploy';
import { restoreCommand } from './commands/restore';
import { upgradeCommand } from './commands/upgrade';
import { destroyCommand } from './commands/destroy';
import { doctorCommand } from './commands/doctor';
import { costCommand } from './commands/cost';
import { credentialsCommand } from './commands/credentials';
import { statusCommand } from './commands/status';
import { usersCommand } from './commands/users';
import { CliDeps, defaultDeps } from './deps';
import { CliError, EXIT, toCliError } from './errors';

export const USAGE = `Usage: npx mlflow-on-aws <command> [options]

Commands:
  doctor        check Node.js, AWS credentials/account/region, CDK bootstrap, Docker, SageMaker domains
  deploy        deploy all stacks with the project's pinned CDK CLI
  status        stack states, MLflow endpoint, ECS tasks, database (running or paused)
  credentials   MLflow username and password; --env prints shell export lines
  pause         stop every MLflow task and hold the service at 0 (nothing deleted; the endpoint answers 503)
  resume        start MLflow again with the deployed task counts and wait until it answers
  upgrade       change the MLflow release as MLflow requires: stop, snapshot, deploy, migrate once, start, check
  destroy       delete the stacks after confirmation (--yes to skip it)
  cost          itemized monthly estimate from the synthesized templates (idle and with --active-hours N)
  restore       deploy on a database snapshot and the existing artifact bucket (--snapshot, --artifact-bucket)
  users         personal MLflow accounts (auth=users): add, list, remove, grant

Options for every command:
  --region R        AWS region (default: AWS_REGION, else us-west-2)
  --profile P       named AWS profile (default: the SDK chain: AWS_PROFILE, env keys, SSO, ...)
  -c key=value      a setting, as for cdk (repeatable), e.g. -c sagemaker=both
  -h, --help        help for a command

Exit codes: 0 ok, 1 failure, 2 usage/config error, 3 no or invalid credentials, 4 access denied,
            5 not deployed, 6 wrong region or account, or no answer from AWS in time. See docs/cli.md.`;

type Command = (args: readonly string[], deps: CliDeps) => Promise<number>;

export const COMMANDS: Readonly<Record<string, Command>> = {
  doctor: doctorCommand,
  deploy: deployCommand,
  status: statusCommand,
  credentials: credentialsCommand,
  pause: pauseCommand,
  resume: resumeCommand,
  destroy: destroyCommand,
  cost: costCommand,
  restore: restoreCommand,
  upgrade: upgradeCommand,
  users: usersCommand,
};

export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? deps.output.err : deps.output.out)(USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    deps.output.err(`Unknown command "${name}".\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await command(args, deps);
  } catch (error) {
    const e = error instanceof CliError ? error : toCliError(error, { region: deps.env.AWS_REGION ?? '(unset)', action: `running ${name}` });
    deps.output.err(`Error: ${e.message}`);
    if (e.hint) deps.output.err(e.hint);
    return e.exitCode;
  }
}

/** Entry point used by bin/cli.js. */
export function main(): void {
  runCli(process.argv.slice(2), defaultDeps()).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
