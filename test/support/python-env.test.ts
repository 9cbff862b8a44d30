/**
 * The Python environments build behind a TLS-inspecting proxy whose CA is only in the system's certificate store: uv
 * reads only the roots it bundles unless told to use the system's (`--system-certs`, uv 0.13's name for
 * `--native-tls`); without it `uv venv --seed` fails with `invalid peer certificate: UnknownIssuer`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { uv, uvBuildCommands } from './python-env';

describe('uv trusts the system certificate store', () => {
  const commands = uvBuildCommands('python3', '/tmp/env', '/tmp/env/bin/python', ['/tmp/env/requirements-0.txt']);

  test('both commands that build an environment (the venv, the requirements) pass --system-certs', () => {
    assert.deepEqual(commands.map((command) => command.slice(0, command[0] === 'pip' ? 2 : 1)), [['venv'], ['pip', 'install']]);
    for (const command of commands) assert.ok(command.includes('--system-certs'), command.join(' '));
  });

  test('the pinned uv accepts the flag on those commands', () => {
    for (const command of commands) {
      const words = command.slice(0, command[0] === 'pip' ? 2 : 1);
      const run = spawnSync(uv(), [...words, '--system-certs', '--help'], { encoding: 'utf8' });
      assert.equal(run.status, 0, `uv ${words.join(' ')} --system-certs: ${run.stderr}`);
    }
  });
});
