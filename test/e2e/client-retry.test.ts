/**
 * The MLflow client (the configured release, default retries) carries a call over a start answered 503, as a sleeping
 * deployment's is: a loopback stand-in answers 503 and then serves. Two short starts, run at once: with the
 * gateway's `Retry-After` (the client waits that long between attempts) and without it (urllib3's backoff). How long
 * a start the client survives in all (about 210 s and 246 s) is measured by `npm run bench:client-retry`, outside the
 * suite because it waits out every retry; figures in docs/guides/sleep.md.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ensurePythonEnv } from '../support/python-env';
import { clientAgainst, PAUSED_RETRY_AFTER_SECONDS, standIn, type StandIn } from './support/retry-stand-in';

const standIns: StandIn[] = [];
after(async () => {
  for (const s of standIns) await s.close();
});

describe('the MLflow client against a deployment that answers 503 while it starts', () => {
  it('waits Retry-After between attempts and carries the call over the start; without the header, backs off and carries it too', async () => {
    const python = ensurePythonEnv();
    // Serving from 1.5 Retry-After periods: the third attempt (at 2 periods) is answered.
    const withHeader = await standIn(PAUSED_RETRY_AFTER_SECONDS, 1.5 * PAUSED_RETRY_AFTER_SECONDS);
    // Serving from 20 s: urllib3's backoff (0, 0, 4.5, 13.2, 30 s) reaches it at its fifth attempt.
    const withoutHeader = await standIn(undefined, 20);
    standIns.push(withHeader, withoutHeader);
    const [a, b] = await Promise.all([clientAgainst(python, withHeader), clientAgainst(python, withoutHeader)]);
    console.log(`Retry-After ${PAUSED_RETRY_AFTER_SECONDS}: ${a.ok ? 'ok' : 'failed'} after ${a.seconds.toFixed(1)} s, attempts at ${a.attempts.map((t) => t.toFixed(1)).join(', ')} s`);
    console.log(`no Retry-After: ${b.ok ? 'ok' : 'failed'} after ${b.seconds.toFixed(1)} s, attempts at ${b.attempts.map((t) => t.toFixed(1)).join(', ')} s`);

    assert.equal(a.ok, true, `with Retry-After: ${a.error}`);
    assert.equal(a.attempts.length, 3, `with Retry-After: three attempts (${a.attempts.join(', ')})`);
    const gaps = a.attempts.slice(1).map((t, i) => t - a.attempts[i]);
    assert.ok(gaps.every((g) => g >= PAUSED_RETRY_AFTER_SECONDS - 0.5 && g < PAUSED_RETRY_AFTER_SECONDS + 3), `gaps ${gaps.join(', ')}`);

    assert.equal(b.ok, true, `without Retry-After: ${b.error}`);
    assert.ok(b.attempts.length >= 4 && b.attempts.length <= 6, `without Retry-After: attempts ${b.attempts.join(', ')}`);
    assert.ok(b.attempts.at(-1)! >= 20, 'served only after the start');
  });
});
