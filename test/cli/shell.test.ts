import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { exportLine, shellQuote } from '../../src/cli/shell';

const NASTY = [
  '',
  'plain',
  "it's",
  "''",
  'two words',
  '$HOME',
  '$(touch /tmp/pwned-by-test)',
  '`id`',
  'back\\slash',
  '"double"',
  'new\nline',
  'bang!history',
  'semi;colon&amp|pipe>redirect',
  'tab\tand*glob?[x]',
  'ünïcødé €',
];

describe('shellQuote', () => {
  it('wraps in single quotes and escapes embedded single quotes', () => {
    assert.equal(shellQuote('abc'), "'abc'");
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote(''), "''");
  });

  for (const value of NASTY) {
    it(`round-trips ${JSON.stringify(value)} through sh -c eval`, () => {
      const script = `${exportLine('MLFLOW_TRACKING_PASSWORD', value)}\nprintf '%s' "$MLFLOW_TRACKING_PASSWORD"`;
      const printed = execFileSync('sh', ['-c', 'eval "$1"', 'sh', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
      assert.equal(printed, value);
    });
  }

  it('rejects names that are not shell variables', () => {
    assert.throws(() => exportLine('BAD-NAME', 'x'));
    assert.throws(() => exportLine('X; rm -rf /', 'x'));
  });
});
