/** POSIX shell quoting for the lines `credentials --env` prints to be `eval`ed. */

/** Quotes a value for sh/bash/zsh: single quotes, each embedded `'` written as `'\''`. Nothing inside is expanded. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function exportLine(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`Not a shell variable name: ${name}`);
  return `export ${name}=${shellQuote(value)}`;
}
