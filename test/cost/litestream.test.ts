/**
 * The cost model prices Litestream's listings at the L0 retention check interval the container configures: the two
 * declarations (the model is TypeScript, the configuration is written by the container's Python) must agree.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { estimateCost, LITESTREAM_L0_RETENTION_CHECK_SECONDS, LITESTREAM_LISTS_PER_TASK_HOUR } from '../../src/cost/estimate';
import { renderText } from '../../src/cost/render';
import { synthesizeTemplates } from '../../src/cost/synth';
import { resolvePlatformConfig } from '../../src/app/config/platform-config';

const MLFLOW_DB = join(__dirname, '..', '..', 'containers', 'mlflow', 'mlflow_db.py');

describe('Litestream in the cost model', () => {
  it('the L0 retention check interval is the one mlflow_db.py writes into litestream.yml', () => {
    const source = readFileSync(MLFLOW_DB, 'utf8');
    const declared = [...source.matchAll(/^L0_RETENTION_CHECK_SECONDS = (\d+)$/gm)].map((match) => Number(match[1]));
    assert.deepEqual(declared, [LITESTREAM_L0_RETENTION_CHECK_SECONDS]);
    assert.match(source, /"l0-retention-check-interval": f"\{L0_RETENTION_CHECK_SECONDS\}s"/);
  });

  it('two listings a check: 24 an hour per database file', () => {
    assert.equal(LITESTREAM_LISTS_PER_TASK_HOUR, 24);
  });
});

describe('the usage notes name the storage of the engine deployed', () => {
  it('Aurora storage with Aurora, the replica bucket\'s S3 storage with sqlite, never both', () => {
    const text = (settings: Record<string, unknown>): string => renderText(estimateCost(synthesizeTemplates(resolvePlatformConfig(settings)), { region: 'us-west-2', activeHours: 0 }));
    const usage = (settings: Record<string, unknown>): string => text(settings).split('\n').find((line) => line.startsWith('Usage-based'))!;
    assert.match(usage({}), /Aurora storage/);
    assert.doesNotMatch(usage({}), /database replica bucket/);
    assert.match(usage({ profile: 'lean' }), /S3 storage of the database replica bucket/);
    assert.doesNotMatch(usage({ profile: 'lean' }), /Aurora storage/);
  });
});
