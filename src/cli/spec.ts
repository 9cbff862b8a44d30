/**
 * How a command is declared: its options, each once with its description and default, from which both the parser
 * (node's util.parseArgs, strict) and the help text are made. This module and the command table (./commands.ts) import
 * no command module, no AWS SDK client and no aws-cdk-lib, so that `--help` stays cheap; a command's module is loaded
 * only when the command runs.
 */
import { parseArgs, ParseArgsConfig } from 'node:util';
import type { CliDeps } from './deps';
import { CliError, EXIT } from './errors';

/** One command-line option. */
export interface OptionDef {
  readonly type: 'string' | 'boolean';
  /** One-letter alias (`-y`). @default - none */
  readonly short?: string;
  /** Repeatable; the values come as an array. @default false */
  readonly multiple?: boolean;
  /** Placeholder of a string option's value in the help (`--snapshot S`). @default 'VALUE' */
  readonly value?: string;
  /** What the option does: one sentence, shown in the help. */
  readonly description: string;
  /** What applies when the option is not given, as the help shows it. @default - none shown */
  readonly default?: string;
}

export type OptionDefs = Readonly<Record<string, OptionDef>>;

/** A command's entry point: its arguments (the options after the command name) and dependencies; the exit code. */
export type Command = (args: readonly string[], deps: CliDeps) => Promise<number>;

export interface CommandSpec<O extends OptionDefs = OptionDefs> {
  readonly name: string;
  /** One line for the command list of `npx mlflow-on-aws --help`. */
  readonly summary: string;
  /** The synopsis after `npx mlflow-on-aws <name>`, one entry a line. @default ['[options]'] */
  readonly synopsis?: readonly string[];
  /** What the command does, for its own help. */
  readonly description: string;
  /** The command's own options (the options of every command are added). */
  readonly options: O;
  /** Whether the command takes positional arguments (`users add NAME`). @default false */
  readonly positionals?: boolean;
  /** Text after the options: exit codes, notes. @default - none */
  readonly notes?: string;
  /** Loads the command's module (only when it runs) and returns its entry point. */
  readonly load: () => Command;
}

/** Declares a command, keeping the literal types of its options for the parsed values. */
export function defineCommand<const O extends OptionDefs>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  region: { type: 'string', value: 'R', description: 'AWS region', default: 'AWS_REGION, else us-west-2' },
  profile: {
    type: 'string', value: 'P',
    description: 'named AWS profile (~/.aws/config), as for the AWS CLI; the platform profile is --platform-profile',
    default: 'the SDK chain: AWS_PROFILE, env keys, SSO, ...',
  },
  'platform-profile': {
    type: 'string', value: 'NAME',
    description: 'platform profile (the profile setting, e.g. lean); the same as -c profile=NAME',
    default: 'the profile setting',
  },
  context: { type: 'string', short: 'c', multiple: true, value: 'key=value', description: 'a setting, as for cdk (repeatable), e.g. -c sagemaker=both' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
} as const satisfies OptionDefs;

type ValueOf<D extends OptionDef> = D['type'] extends 'boolean'
  ? (D['multiple'] extends true ? boolean[] : boolean)
  : (D['multiple'] extends true ? string[] : string);

/** The values util.parseArgs returns for these options (each one absent when not given). */
export type ParsedValues<O extends OptionDefs> = { -readonly [K in keyof O]?: ValueOf<O[K]> };

/** The parseArgs options of a command: its own and the common ones, as parseArgs takes them. */
export function parserOptions(spec: CommandSpec): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, def] of Object.entries({ ...COMMON_OPTIONS, ...spec.options } as OptionDefs)) {
    options[name] = { type: def.type, ...(def.short ? { short: def.short } : {}), ...(def.multiple ? { multiple: true } : {}) };
  }
  return options;
}

/** Parses a command's arguments; unknown options, and stray positionals unless the command takes some, are usage errors. */
export function parseCommand<O extends OptionDefs>(spec: CommandSpec<O>, args: readonly string[]): { values: ParsedValues<O & typeof COMMON_OPTIONS>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...args], options: parserOptions(spec as CommandSpec), strict: true, allowPositionals: spec.positionals === true });
    return { values: parsed.values as ParsedValues<O & typeof COMMON_OPTIONS>, positionals: parsed.positionals };
  } catch (error) {
    throw new CliError(`${spec.name}: ${(error as Error).message}`, EXIT.usage, `Run \`npx mlflow-on-aws ${spec.name} --help\` for the options.`);
  }
}

/** How an option is written in the help: `-y, --yes`, `--snapshot S`, `-c, --context key=value`. */
export function optionLabel(name: string, def: OptionDef): string {
  const value = def.type === 'string' ? ` ${def.value ?? 'VALUE'}` : '';
  return `${def.short ? `-${def.short}, ` : ''}--${name}${value}`;
}

const INDENT = '  ';
/** Width the option descriptions are wrapped to. */
const LINE_WIDTH = 116;

/** `text` in lines of at most `width` characters (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line];
}

function optionLines(options: OptionDefs): string[] {
  const entries = Object.entries(options);
  const width = Math.max(...entries.map(([name, def]) => optionLabel(name, def).length)) + 3;
  return entries.flatMap(([name, def]) => {
    const text = `${def.description}${def.default ? ` (default: ${def.default})` : ''}`;
    return wrap(text, LINE_WIDTH - INDENT.length - width)
      .map((line, i) => `${INDENT}${(i === 0 ? optionLabel(name, def) : '').padEnd(width)}${line}`);
  });
}

/** A command's help: synopsis, description, its options, the common options, notes. */
export function commandHelp(spec: CommandSpec): string {
  const synopsis = (spec.synopsis ?? ['[options]']).map((line, i) => `${i === 0 ? 'Usage: ' : '       '}npx mlflow-on-aws ${spec.name} ${line}`);
  const own = Object.keys(spec.options).length > 0 ? ['', 'Options:', ...optionLines(spec.options)] : [];
  return [
    ...synopsis,
    '',
    spec.description,
    ...own,
    '',
    'Options for every command:',
    ...optionLines(COMMON_OPTIONS),
    ...(spec.notes ? ['', spec.notes] : []),
  ].join('\n');
}

/** The exit codes of every command (src/cli/errors.ts). */
export const EXIT_CODES_TEXT = `Exit codes: 0 ok, 1 failure, 2 usage/config error, 3 no or invalid credentials, 4 access denied,
            5 not deployed, 6 wrong region or account, or no answer from AWS in time. See docs/reference/cli.md.`;

/** `npx mlflow-on-aws --help`: the commands with their summaries, the common options, the exit codes. */
export function usage(specs: readonly CommandSpec[]): string {
  const width = Math.max(...specs.map((s) => s.name.length)) + 2;
  return [
    'Usage: npx mlflow-on-aws <command> [options]',
    '',
    'Commands:',
    ...specs.map((s) => `${INDENT}${s.name.padEnd(width)}${s.summary}`),
    '',
    'Options for every command:',
    ...optionLines(COMMON_OPTIONS),
    '',
    'Help for a command: npx mlflow-on-aws <command> --help (or: npx mlflow-on-aws help <command>)',
    '',
    EXIT_CODES_TEXT,
  ].join('\n');
}
