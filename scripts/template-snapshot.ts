/**
 * Writes the synthesized templates of every compliance configuration (test/compliance/configurations.ts) into one
 * directory, a file per configuration and stack, so that two commits' templates can be compared with `diff -r`:
 *
 *   node --import tsx scripts/template-snapshot.ts /tmp/before   # on the old commit
 *   node --import tsx scripts/template-snapshot.ts /tmp/after    # on the new one
 *   diff -r /tmp/before /tmp/after
 *
 * How a refactoring shows that it changed no resource (or only the ones it meant to).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { COMPLIANCE_CONFIGURATIONS } from '../test/compliance/configurations';
import { buildPlatform } from '../src/app';
import { applyComplianceChecks } from '../src/compliance';
import { resolvePlatformConfig } from '../src/config/platform-config';

const target = process.argv[2];
if (!target) {
  console.error('usage: template-snapshot.ts <directory>');
  process.exit(2);
}
mkdirSync(target, { recursive: true });
COMPLIANCE_CONFIGURATIONS.forEach(([, settings], index) => {
  const outdir = mkdtempSync(join(tmpdir(), 'template-snapshot-'));
  try {
    const app = new App({ outdir });
    buildPlatform(app, resolvePlatformConfig(settings));
    applyComplianceChecks(app);
    for (const stack of app.synth().stacks) {
      writeFileSync(join(target, `${index}-${stack.stackName}.json`), `${JSON.stringify(stack.template, null, 1)}\n`);
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
console.log(`templates of ${COMPLIANCE_CONFIGURATIONS.length} configurations written to ${target}`);
