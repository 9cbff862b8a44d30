/**
 * Writes the synthesized templates of every compliance configuration (test/compliance/configurations.ts) into one
 * directory, a file per configuration and stack, so that two commits' templates can be compared with `diff -r`:
 *
 *   node --import tsx scripts/template-snapshot.ts /tmp/before   # on the old commit
 *   node --import tsx scripts/template-snapshot.ts /tmp/after    # on the new one
 *   diff -r /tmp/before /tmp/after
 *
 * How a refactoring shows that it changed no resource (or only the ones it meant to). The templates are synthesized
 * with cdk.json's context, as `cdk deploy` does. For what an update would do to a deployment, see `npm run transitions`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { COMPLIANCE_CONFIGURATIONS } from '../test/compliance/configurations';
import { configureApp } from '../src/app/app';
import { synthesizeAssembly } from '../src/transition/assembly';

const target = process.argv[2];
if (!target) {
  console.error('usage: template-snapshot.ts <directory>');
  process.exit(2);
}
mkdirSync(target, { recursive: true });
// With cdk.json's context, as `cdk deploy` synthesizes (its feature flags change the templates).
COMPLIANCE_CONFIGURATIONS.forEach(([, settings], index) => {
  const assembly = synthesizeAssembly(resolve(__dirname, '..'), settings, (app) => configureApp(app, {}));
  for (const stackName of assembly.order) {
    writeFileSync(join(target, `${index}-${stackName}.json`), `${JSON.stringify(assembly.stacks[stackName], null, 1)}\n`);
  }
});
console.log(`templates of ${COMPLIANCE_CONFIGURATIONS.length} configurations written to ${target}`);
