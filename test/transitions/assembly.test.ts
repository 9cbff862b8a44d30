/** Reading and writing the assemblies the transition check compares (src/transition/assembly.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployOrder, readAssembly, writeAssembly } from '../../src/transition/assembly';

describe('transition assemblies', () => {
  test('deploy order: each stack after the stacks it depends on, otherwise as given; a cycle is an error', () => {
    const deps: Record<string, string[]> = { Studio: ['Gateway', 'Mlflow'], Gateway: ['Mlflow'], Mlflow: ['Copy'], Copy: [], Notebook: [] };
    assert.deepEqual(deployOrder(['Studio', 'Notebook', 'Gateway', 'Mlflow', 'Copy'], (n) => deps[n]), ['Copy', 'Mlflow', 'Gateway', 'Studio', 'Notebook']);
    assert.throws(() => deployOrder(['A', 'B'], (n) => (n === 'A' ? ['B'] : ['A'])), /Stack dependency cycle through A/);
  });

  test('a baseline directory is written and read back the same; a directory that is neither kind is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'transition-assembly-'));
    try {
      const assembly = { stacks: { B: { Resources: { Q: { Type: 'AWS::SQS::Queue' } } }, A: { Resources: {} } }, order: ['B', 'A'] };
      writeAssembly(assembly, join(dir, 'base'));
      assert.deepEqual(readAssembly(join(dir, 'base')), assembly);
      mkdirSync(join(dir, 'empty'));
      assert.throws(() => readAssembly(join(dir, 'empty')), /neither a cloud assembly \(manifest\.json\) nor a baseline directory \(deploy-order\.json\)/);
      writeFileSync(join(dir, 'base', 'deploy-order.json'), JSON.stringify(['B', 'A', 'C']));
      assert.throws(() => readAssembly(join(dir, 'base')), /deploy-order\.json names C, which has no template file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
