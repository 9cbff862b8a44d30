import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { synthesizedConfigurations } from '../support/compliance-synth';

const ROOT = path.join(__dirname, '..', '..');
const DOC = path.join(ROOT, 'docs', 'reference', 'architecture.md');

/** The rows of the "Resource types" table of docs/reference/architecture.md: type -> files. */
export function resourceTable(markdown: string): Map<string, string[]> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Resource types'));
  assert.ok(section, 'docs/reference/architecture.md has a "## Resource types" section');
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const type = /^`((?:AWS|Custom)::[^`]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!type) continue;
    assert.ok(!rows.has(type), `${type} is listed twice`);
    rows.set(type, [...(cells[2] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]));
  }
  return rows;
}

/** Every resource type the templates of the compliance configurations hold (synthesized once per run). */
function createdTypes(): Set<string> {
  const types = new Set<string>();
  for (const { stacks } of synthesizedConfigurations()) {
    for (const stack of stacks) {
      for (const resource of Object.values<any>(stack.template.Resources ?? {})) types.add(resource.Type);
    }
  }
  types.delete('AWS::CDK::Metadata');
  return types;
}

describe('docs/reference/architecture.md maps every resource type the app creates to the file that defines it', () => {
  const table = resourceTable(readFileSync(DOC, 'utf8'));
  const created = createdTypes();

  test('every type a configuration creates is in the table', () => {
    const missing = [...created].filter((type) => !table.has(type)).sort();
    assert.deepEqual(missing, [], `add these to docs/reference/architecture.md: ${missing.join(', ')}`);
  });

  test('the table lists no type that no configuration creates', () => {
    const stale = [...table.keys()].filter((type) => !created.has(type)).sort();
    assert.deepEqual(stale, [], `no configuration creates these any more: ${stale.join(', ')}`);
  });

  test('every row names files, and every file exists', () => {
    for (const [type, files] of table) {
      assert.ok(files.length > 0, `${type} names no file`);
      for (const file of files) assert.ok(existsSync(path.join(ROOT, file)), `${type}: ${file} does not exist`);
    }
  });
});

describe('resourceTable reads the table and only the table', () => {
  test('rows with files; text outside the section ignored', () => {
    const table = resourceTable('# x\n| `AWS::S3::Bucket` | not this |\n## Resource types\n| Resource type | Defined in |\n| --- | --- |\n'
      + '| `AWS::S3::Bucket` | `src/a.ts`, `src/b.ts` |\n| `Custom::X` | `src/c.ts` |\n## Next\n| `AWS::SQS::Queue` | `src/d.ts` |\n');
    assert.deepEqual([...table], [['AWS::S3::Bucket', ['src/a.ts', 'src/b.ts']], ['Custom::X', ['src/c.ts']]]);
  });
});
