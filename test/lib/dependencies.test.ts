/**
 * The library (src/lib) depends on nothing of the app: dependencies run one way, app -> library. And what does not
 * synthesize (the configuration the CLI validates settings with, the contract it reads) loads no CDK module.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const LIB = path.join(ROOT, 'src', 'lib');
const OUTSIDE_LIB = ['src/app', 'src/cli', 'src/cost', 'src/transition'].map((dir) => path.join(ROOT, dir));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const file = path.join(dir, entry);
    return statSync(file).isDirectory() ? tsFiles(file) : file.endsWith('.ts') ? [file] : [];
  });
}

/** The relative modules a TypeScript file imports (import/export ... from, import(), require()), resolved to paths. */
export function relativeImports(file: string, source: string): string[] {
  const specifiers = [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]*)['"]/gm)].map((m) => m[1]);
  return specifiers.map((specifier) => path.resolve(path.dirname(file), specifier));
}

/** The modules loaded by requiring `modules` in a fresh node process (as the CLI would). */
function loadedModules(modules: string[]): string[] {
  const script = `${modules.map((m) => `require(${JSON.stringify(m)});`).join('')} process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8' }));
}

const CDK_PACKAGES = /node_modules\/(aws-cdk-lib|constructs|cdk-nag|cdk-monitoring-constructs|@cdklabs\/deploy-time-build)\//;

describe('dependencies run one way: app -> library', () => {
  test('no file under src/lib imports from src/app, src/cli, src/cost or src/transition', () => {
    const files = tsFiles(LIB);
    assert.ok(files.length > 20, `found the library's files (${files.length})`);
    const offending = files.flatMap((file) => relativeImports(file, readFileSync(file, 'utf8'))
      .filter((target) => OUTSIDE_LIB.some((dir) => target === dir || target.startsWith(dir + path.sep)))
      .map((target) => `${path.relative(ROOT, file)} imports ${path.relative(ROOT, target)}`));
    assert.deepEqual(offending, []);
  });

  test('the import scan sees the forms a back arrow could take', () => {
    const file = path.join(LIB, 'x.ts');
    const found = relativeImports(file, "import { a } from '../app/names';\nexport * from \"../cli/main\";\nimport type { B } from '../cost/estimate';\nconst c = require('../app/app');\nimport '../app/side-effect';\n");
    assert.deepEqual(found.map((target) => path.relative(ROOT, target)), ['src/app/names', 'src/cli/main', 'src/cost/estimate', 'src/app/app', 'src/app/side-effect']);
  });
});

describe('what does not synthesize loads no CDK module', () => {
  test('the app configuration (what the CLI validates settings with) and the library contract', () => {
    const loaded = loadedModules(['./src/app/config/load.ts', './src/lib/contract.ts']);
    assert.ok(loaded.some((file) => file.endsWith(path.join('src', 'app', 'config', 'settings.ts'))), 'the settings were loaded');
    assert.deepEqual(loaded.filter((file) => CDK_PACKAGES.test(file)), []);
  });

  test('the check sees a CDK module when one is loaded', () => {
    const loaded = loadedModules(['./src/lib/network.ts']);
    assert.ok(loaded.some((file) => CDK_PACKAGES.test(file)));
  });
});
