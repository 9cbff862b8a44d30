/** The README's cost table is the cost report's output for the defaults: regenerate with `npm run docs:cost`. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COST_MARKERS, README_PATH, costSection, replaceBetweenMarkers } from '../../scripts/generate-cost-docs';

describe('README cost section', () => {
  it('matches what npm run docs:cost writes', () => {
    const readme = readFileSync(README_PATH, 'utf8');
    assert.ok(readme.includes(COST_MARKERS.start) && readme.includes(COST_MARKERS.end), 'README.md lost its cost markers');
    assert.equal(readme, replaceBetweenMarkers(readme, costSection()), 'README.md cost section is out of date: run `npm run docs:cost`');
  });

  it('replaces only the text between the markers, and refuses a README without them', () => {
    assert.equal(replaceBetweenMarkers(`a\n${COST_MARKERS.start}\nold\n${COST_MARKERS.end}\nb`, 'new'), `a\n${COST_MARKERS.start}\nnew\n${COST_MARKERS.end}\nb`);
    assert.throws(() => replaceBetweenMarkers('no markers', 'x'), /README.md needs <!-- cost:start --> followed by <!-- cost:end -->/);
    assert.throws(() => replaceBetweenMarkers(`${COST_MARKERS.end} ${COST_MARKERS.start}`, 'x'), /needs/);
  });
});
