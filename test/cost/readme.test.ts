/** The README's cost tables are the cost report's output: regenerate with `npm run docs`. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { profileCostSection, README_PATH, replaceGeneratedSection } from '../../scripts/generate-docs';

// That the section is what the cost report prints is checked with every other generated section by
// test/config/settings.test.ts ("its generated sections are up to date"); here, what its numbers must show.
describe('README cost section', () => {
  it("has the profiles' totals the cost report prints (standard, lean, lean paused, lean on a schedule)", () => {
    const readme = readFileSync(README_PATH, 'utf8');
    assert.equal(replaceGeneratedSection(readme, 'cost-profiles', profileCostSection()), readme, 'README.md cost-profiles section is out of date: run `npm run docs`');
    assert.match(profileCostSection(), /^\| lean \| `npx mlflow-on-aws cost -c profile=lean` \| \$\d+\.\d\d \|$/m);
  });
});
