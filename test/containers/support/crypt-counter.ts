/**
 * Counts the crypt(3) computations of the shipped MlflowAuth.pm inside running nginx workers, without
 * changing the shipped module and without timing: a Perl library directory (NGINX_PERL_LIB) whose
 * MlflowAuth.pm overrides Perl's built-in crypt with a wrapper that appends one line to a file per
 * call, then compiles the shipped containers/nginx/perl/MlflowAuth.pm under that override.
 *
 * nginx's own auth_basic hashes in C and cannot be counted this way; the tests look for its
 * "password mismatch" error line instead, which it logs exactly when it hashed a wrong password.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NGINX_PERL_LIB } from './proxy';

export interface CryptCounter {
  /** Pass as `perlLib` to startProxy(). */
  readonly perlLib: string;
  /** crypt(3) calls made by MlflowAuth.pm in every nginx worker so far. */
  count(): number;
  cleanup(): void;
}

function perlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function createCryptCounter(): CryptCounter {
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-crypt-counter-'));
  // The workers may run as another user (nobody, when the tests run as root): let them append.
  chmodSync(dir, 0o755);
  const countFile = join(dir, 'crypt-calls');
  writeFileSync(countFile, '');
  chmodSync(countFile, 0o666);
  const shipped = join(NGINX_PERL_LIB, 'MlflowAuth.pm');
  writeFileSync(
    join(dir, 'MlflowAuth.pm'),
    `# Test wrapper (test/containers/support/crypt-counter.ts): the shipped module, with crypt counted.
use strict;
use warnings;
BEGIN {
    my $count_file = ${perlString(countFile)};
    no warnings 'once';
    *CORE::GLOBAL::crypt = sub ($$) {
        if (open(my $fh, '>>', $count_file)) {
            print {$fh} "$$\\n";
            close $fh;
        }
        return CORE::crypt($_[0], $_[1]);
    };
}
my $shipped = ${perlString(shipped)};
my $loaded = do $shipped;
die "cannot load $shipped: " . ($@ || $! || 'it returned false') . "\\n" unless $loaded;
1;
`,
    { mode: 0o644 },
  );
  return {
    perlLib: dir,
    count: () => readFileSync(countFile, 'utf8').split('\n').filter(Boolean).length,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
