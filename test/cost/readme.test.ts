/** The README's cost table is the cost report's output for the defaults: regenerate with `npm run docs`. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { costSection, README_PATH, replaceGeneratedSection } from '../../scripts/generate-docs';

describe('README cost section', () => {
  it('is what the cost report prints for the defaults in us-west-2', () => {
    const readme = readFileSync(README_PATH, 'utf8');
    assert.equal(replaceGeneratedSection(readme, 'cost', costSection()), readme, 'README.md cost section is out of date: run `npm run docs`');
  });
});
