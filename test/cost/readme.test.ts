/**
 * The cost tables are the cost report's output: the itemized table for the defaults in docs/reference/cost.md, the
 * profiles' totals in README.md. Regenerate with `npm run docs`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COST_DOC_PATH, costSection, profileCostSection, README_PATH, replaceGeneratedSection, SLEEP_DOC_PATH, sleepCostSection } from '../../scripts/generate-docs';

describe('generated cost sections', () => {
  it('docs/reference/cost.md has what the cost report prints for the defaults in us-west-2', () => {
    const doc = readFileSync(COST_DOC_PATH, 'utf8');
    assert.equal(replaceGeneratedSection(doc, 'cost', costSection()), doc, 'docs/reference/cost.md cost section is out of date: run `npm run docs`');
  });

  it("README.md has the profiles' totals the cost report prints (standard, lean, lean paused, lean on a schedule)", () => {
    const readme = readFileSync(README_PATH, 'utf8');
    assert.equal(replaceGeneratedSection(readme, 'cost-profiles', profileCostSection()), readme, 'README.md cost-profiles section is out of date: run `npm run docs`');
    assert.match(profileCostSection(), /^\| lean \(asleep: `sleepAfterMinutes` 30\) \| `npx mlflow-on-aws cost -c profile=lean` \| \$\d+\.\d\d \|$/m);
    assert.match(profileCostSection(), /^\| lean, always on \| `npx mlflow-on-aws cost -c profile=lean -c sleepAfterMinutes=0` \| \$\d+\.\d\d \|$/m);
  });

  it('docs/guides/sleep.md has the cost report\'s totals for lean asleep and with a team\'s 4 hours, on each engine', () => {
    const guide = readFileSync(SLEEP_DOC_PATH, 'utf8');
    const section = sleepCostSection();
    assert.equal(replaceGeneratedSection(guide, 'sleep-costs', section), guide, 'docs/guides/sleep.md sleep-costs section is out of date: run `npm run docs`');
    assert.match(section, /^\| lean, its defaults \(`database=sqlite`, `sleepAfterMinutes` 30\) \| `npx mlflow-on-aws cost --hours-per-day 4 -c profile=lean` \| \$\d+\.\d\d \| \$\d+\.\d\d \|$/m);
  });
});
