/** The README's cost table is the cost report's output for the defaults: regenerate with `npm run docs`. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { costSection, profileCostSection, README_PATH, replaceGeneratedSection } from '../../scripts/generate-docs';

describe('README cost section', () => {
  it('is what the cost report prints for the defaults in us-west-2', () => {
    const readme = readFileSync(README_PATH, 'utf8');
    assert.equal(replaceGeneratedSection(readme, 'cost', costSection()), readme, 'README.md cost section is out of date: run `npm run docs`');
  });

  it("has the profiles' totals the cost report prints (standard, lean, lean paused, lean on a schedule)", () => {
    const readme = readFileSync(README_PATH, 'utf8');
    assert.equal(replaceGeneratedSection(readme, 'cost-profiles', profileCostSection()), readme, 'README.md cost-profiles section is out of date: run `npm run docs`');
    assert.match(profileCostSection(), /^\| lean \(asleep: `sleepAfterMinutes` 30\) \| `npx mlflow-on-aws cost -c profile=lean` \| \$\d+\.\d\d \|$/m);
    assert.match(profileCostSection(), /^\| lean, always on \| `npx mlflow-on-aws cost -c profile=lean -c sleepAfterMinutes=0` \| \$\d+\.\d\d \|$/m);
  });
});
