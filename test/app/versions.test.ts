import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareVersions } from '../../src/app/versions';
import { configurationsOf, RELEASES } from '../../src/transition/releases';

describe('compareVersions', () => {
  it('orders dotted versions part by part as numbers, missing parts as 0', () => {
    assert.ok(compareVersions('3.10.3', '3.9.9') > 0, 'not as strings');
    assert.ok(compareVersions('0.1.0', '0.2.0') < 0);
    assert.ok(compareVersions('3.17.2', '3.13.0') > 0);
    assert.equal(compareVersions('22', '22.0.0'), 0);
    assert.equal(compareVersions('0.2.0', '0.2.0'), 0);
  });

  it('decides which baseline configurations a release has: lean and users from 0.2.0 on', () => {
    const byVersion = Object.fromEntries(RELEASES.map((release) => [release.version, configurationsOf(release)]));
    assert.deepEqual(byVersion['0.1.0'], ['defaults', 'sagemaker-both']);
    assert.deepEqual(byVersion['0.2.0'], ['defaults', 'sagemaker-both', 'lean', 'users']);
  });
});
