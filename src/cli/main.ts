/**
 * The `mlflow-on-aws` command line: doctor, deploy, status, credentials, users, pause, resume, upgrade, destroy, restore, cost.
 * `runCli` takes its dependencies as an argument and returns the exit code, so tests drive it without AWS. The commands
 * are declared in ./commands/index.ts; a command's module is loaded only when it runs, so help loads none.
 */
import { COMMAND_SPECS } from './commands/index';
import { CliDeps, defaultDeps } from './deps';
import { CliError, EXIT, toCliError } from './errors';
import { CommandSpec, commandHelp, parseCommand, usage } from './spec';

export const USAGE = usage(COMMAND_SPECS);

/** The commands by name. */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = Object.fromEntries(COMMAND_SPECS.map((spec) => [spec.name, spec]));

export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const [name, ...args] = argv;
  if (name === 'help' && args.length > 0) return runCli([args[0], '--help'], deps);
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? deps.output.err : deps.output.out)(USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!spec) {
    deps.output.err(`Unknown command "${name}".\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    if (parseCommand(spec, args).values.help === true) {
      deps.output.out(commandHelp(spec));
      return EXIT.ok;
    }
    const command = spec.load();
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
