/**
 * How a setting is declared, once: its parser (which also says what is allowed), its default, the environment
 * variables that feed it, its README group and one line of documentation. From a table of such declarations come
 * the configuration type (`ConfigOf`), the resolved configuration (`resolveSettings`), the loader's list of known
 * names and environment variables, and the README's settings table (scripts/generate-docs.ts).
 *
 * Why not a schema library such as zod: the messages name the value as the user typed it (`got "7"`, before any
 * coercion), several allowed ranges depend on other settings (`1 to maxTasks (6)`, a memory size per `taskCpu`, a
 * snapshot ARN in `region`), and a setting's default may depend on another setting (`dbSnapshotUsername` only with
 * `dbSnapshot`, and the coming `profile`). Each of these needs a custom refinement and error mapping in zod, so the
 * schema would carry no rule of its own; a parser per setting that reads the other settings on demand is smaller.
 */

/** A setting that cannot be used. The message names the setting, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`Invalid setting "${setting}": got ${JSON.stringify(value)}; allowed: ${allowed}.`);
    this.name = 'ConfigError';
  }
}

/** The other settings, as a parser or a computed default sees them: each is resolved (and validated) on first use. */
export interface SettingLookup {
  /** The resolved value of the setting `name`, `undefined` when it is unset. */
  get(name: string): unknown;
  /** The resolved value of a number setting. */
  number(name: string): number;
  /** The resolved value of a boolean setting. */
  boolean(name: string): boolean;
  /** The resolved value of a string setting that has a default. */
  string(name: string): string;
}

/** What a parser gets besides the value: the name of the setting it parses (for its `ConfigError`) and the others. */
export interface SettingContext extends SettingLookup {
  readonly setting: string;
}

/** Validates and converts one setting's value: a typed value given in code, or its string form from `-c key=value`. */
export interface Parser<T> {
  /** What is allowed, as the error message (and, unless the declaration says otherwise, the README) puts it. */
  readonly allowed: string;
  /** The typed value, or a `ConfigError` naming `context.setting`, the value as given and what is allowed. */
  parse(value: unknown, context: SettingContext): T;
}

/**
 * A default: a value, or a function of the other settings (a default that depends on another setting, such as a
 * profile's); `undefined` from the function leaves the setting unset. A default goes through the parser like a
 * given value. Explicit values always win: the default is only consulted when the setting is not given.
 */
export type SettingDefault<T> = T | ((settings: SettingLookup) => T | undefined);

export interface SettingDeclaration<T> {
  /** The README group the setting is listed under (groups in the order of the `groups` given to the README table). */
  readonly group: string;
  /** One line: what the setting does. */
  readonly doc: string;
  readonly parser: Parser<T>;
  /** Absent: unset unless given (the setting's type then admits `undefined`). */
  readonly default?: SettingDefault<T>;
  /** The README's default column when the plain default would not say enough (unset, computed, conditional). */
  readonly defaultText?: string;
  /** The README's allowed column when it should be shorter or say more than `parser.allowed`. */
  readonly allowedText?: string;
  /** Environment variables that feed the setting when the CDK context does not, the first one set wins. */
  readonly env?: readonly string[];
  /**
   * When the setting may not be given at all, whatever its value (a setting of something the other settings left out,
   * such as the Aurora cluster's with database=sqlite): what is allowed then, for the `ConfigError`; undefined when it
   * may be given. Asked only of a given value, never of the default (which the configuration keeps, unused).
   */
  readonly refuseGiven?: (settings: SettingLookup) => string | undefined;
}

// `any`: a table mixes settings of every value type; defineSettings checks each entry against its own parser.
type AnyDeclaration = SettingDeclaration<any>;
export type SettingDeclarations = Readonly<Record<string, AnyDeclaration>>;

/** The type of a declared setting's value: what its parser returns. */
export type SettingValue<D> = D extends { readonly parser: Parser<infer T> } ? T : never;

/** Whether a declared setting may be unset: no default, or a computed default that may be `undefined`. */
type MayBeUnset<D> = D extends { readonly default: infer X }
  ? X extends (...args: never[]) => infer R ? (undefined extends R ? true : false) : false
  : true;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The configuration object the declarations describe: settings that may be unset are optional properties. */
export type ConfigOf<S> = Simplify<
  { readonly [K in keyof S as MayBeUnset<S[K]> extends true ? never : K]: SettingValue<S[K]> }
  & { readonly [K in keyof S as MayBeUnset<S[K]> extends true ? K : never]?: SettingValue<S[K]> }
>;

/** Raw settings as they arrive from CDK context (`-c key=value` gives strings) or from code (typed values). */
export type RawOf<S> = { readonly [K in keyof S]?: unknown };

/**
 * Checks a table of declarations (each default against its parser's type) and keeps its exact type, from which the
 * configuration type is derived. The table's order is the order in which settings are resolved and errors reported,
 * except that a setting another one reads is resolved first.
 */
export function defineSettings<const S extends { readonly [K in keyof S]: SettingDeclaration<SettingValue<S[K]>> }>(declarations: S): S {
  return declarations;
}

/**
 * The configuration the declarations give for `raw`: a given value (neither `undefined` nor `''`) goes through the
 * setting's parser, otherwise its default does; a setting without a default stays `undefined`. Settings are resolved
 * in declaration order, each dependency on first use. Keys of `raw` that are not declared are ignored.
 */
export function resolveSettings<S extends SettingDeclarations>(declarations: S, raw: RawOf<S>): ConfigOf<S> {
  const given = raw as Readonly<Record<string, unknown>>;
  const resolved = new Map<string, unknown>();
  const resolving: string[] = [];

  const resolve = (name: string): unknown => {
    if (resolved.has(name)) return resolved.get(name);
    if (!Object.hasOwn(declarations, name)) throw new Error(`A parser or default reads "${name}", which is not a declared setting`);
    if (resolving.includes(name)) throw new Error(`Settings read each other in a circle: ${[...resolving, name].join(' -> ')}`);
    resolving.push(name);
    const declaration = declarations[name];
    const context = contextFor(name);
    const value = given[name];
    let result: unknown;
    if (value !== undefined && value !== '') {
      const refusal = declaration.refuseGiven?.(context);
      if (refusal !== undefined) throw new ConfigError(name, value, refusal);
      result = declaration.parser.parse(value, context);
    } else {
      const fallback = typeof declaration.default === 'function' ? declaration.default(context) : declaration.default;
      result = fallback === undefined ? undefined : declaration.parser.parse(fallback, context);
    }
    resolving.pop();
    resolved.set(name, result);
    return result;
  };

  const contextFor = (setting: string): SettingContext => ({
    setting,
    get: resolve,
    number: (name) => typed(name, resolve(name), 'number') as number,
    boolean: (name) => typed(name, resolve(name), 'boolean') as boolean,
    string: (name) => typed(name, resolve(name), 'string') as string,
  });

  const config: Record<string, unknown> = {};
  for (const name of Object.keys(declarations)) config[name] = resolve(name);
  return Object.freeze(config) as ConfigOf<S>;
}

function typed(name: string, value: unknown, type: 'number' | 'boolean' | 'string'): unknown {
  if (typeof value !== type) throw new Error(`Setting "${name}" is read as a ${type} but resolves to ${JSON.stringify(value)}`);
  return value;
}

/** Every environment variable that feeds a setting, in declaration order (which decides between two for one setting). */
export function environmentVariables<S extends SettingDeclarations>(declarations: S): ReadonlyArray<{ variable: string; setting: keyof S & string }> {
  return Object.entries(declarations).flatMap(([setting, declaration]) => (declaration.env ?? []).map((variable) => ({ variable, setting })));
}

// ---- parsers: each accepts the typed value or its string form from `-c key=value` ----

/** A parser from its allowed text and a function; for rules that read other settings. */
export function parser<T>(allowed: string, parse: (value: unknown, context: SettingContext) => T): Parser<T> {
  return { allowed, parse };
}

/** A number given as such or as its decimal string form; anything else is returned as it is, for the parser to refuse. */
export function toNumber(value: unknown): number | unknown {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  return value;
}

/** A whole number from `min` to `max`. */
export function integer(min: number, max: number, allowed = `a whole number from ${min} to ${max}`): Parser<number> {
  return parser(allowed, (value, { setting }) => {
    const n = toNumber(value);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(setting, value, allowed);
    return n;
  });
}

/** Aurora capacity units from `min` to `max` in steps of 0.5. */
export function halfStep(min: number, max: number, allowed = `${min} to ${max} ACU in steps of 0.5`): Parser<number> {
  return parser(allowed, (value, { setting }) => {
    const n = toNumber(value);
    if (typeof n !== 'number' || !Number.isInteger(n * 2) || n < min || n > max) throw new ConfigError(setting, value, allowed);
    return n;
  });
}

export function bool(): Parser<boolean> {
  return parser('true or false', (value, { setting }) => {
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new ConfigError(setting, value, 'true or false');
  });
}

/** One of `choices`, described as "one of the <what>: a, b, c"; numbers may be given as strings. */
export function oneOf<const T extends string | number>(choices: readonly T[], what: string): Parser<T> {
  const allowed = `one of the ${what}: ${describeList(choices)}`;
  return parser(allowed, (value, { setting }) => {
    // A number setting reports the value as a number (`got 1000`), as it compares it.
    const candidate = typeof choices[0] === 'number' ? toNumber(value) : value;
    if (!choices.includes(candidate as T)) throw new ConfigError(setting, candidate, allowed);
    return candidate as T;
  });
}

/** A string that `pattern` matches. */
export function matching(pattern: RegExp, allowed: string): Parser<string> {
  return parser(allowed, (value, { setting }) => {
    if (typeof value !== 'string' || !pattern.test(value)) throw new ConfigError(setting, value, allowed);
    return value;
  });
}

export function describeList(values: readonly unknown[]): string {
  return values.map((v) => String(v)).join(', ');
}
