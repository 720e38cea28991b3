// The rules of disappearing timers (spec/client.md §10.2; spec/admission.md §5.4), pure.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isClientError } from '../../src/client/errors.js';
import { appliedTimer, checkOwnTimer, conversationTimer, expiryOf, takesOver } from '../../src/client/timer-rules.js';
import type { ContactRecord } from '../../src/client/state.js';

const POLICY = { minTimerSeconds: 3600, defaultTimerSeconds: 86_400 };
const contact = (timer?: number, timerAt = 0): ContactRecord => ({
  id: 'c', name: 'c', account: null, deviceList: null, safetyCode: '', verified: false, createdAt: 0, announced: [],
  ...(timer === undefined ? {} : { timer, timerAt }),
});

test('our own timer: a whole number of seconds, and under a minimum neither lower nor off', () => {
  for (const ok of [0, 1, 3600, 0xffffffff]) assert.is(checkOwnTimer(null, ok), ok);
  for (const bad of [-1, 1.5, 2 ** 32, Number.NaN, '60', null]) {
    assert.throws(() => checkOwnTimer(null, bad), (e: unknown) => isClientError(e, 'INVALID_ARGUMENT'), String(bad));
  }
  assert.is(checkOwnTimer(POLICY, 3600), 3600);
  assert.is(checkOwnTimer(POLICY, 7200), 7200);
  for (const bad of [0, 1, 3599]) assert.throws(() => checkOwnTimer(POLICY, bad), (e: unknown) => isClientError(e, 'INVALID_ARGUMENT'));
});

test('a timer set elsewhere: raised to the minimum, off becomes the default; no policy leaves it', () => {
  assert.is(appliedTimer(null, 0), 0);
  assert.is(appliedTimer(null, 5), 5);
  assert.is(appliedTimer({ minTimerSeconds: 0, defaultTimerSeconds: 60 }, 0), 0);
  assert.is(appliedTimer(POLICY, 5), 3600);
  assert.is(appliedTimer(POLICY, 0), 86_400);
  assert.is(appliedTimer(POLICY, 7200), 7200);
});

test('a conversation never set runs under the policy default; expiry is sentAt + seconds', () => {
  assert.is(conversationTimer(POLICY, contact()), 86_400);
  assert.is(conversationTimer(null, contact()), 0);
  assert.is(conversationTimer(POLICY, contact(0, 1)), 0);
  assert.is(expiryOf(1000, 0), 0);
  assert.is(expiryOf(1000, 2), 3000);
});

test('the later setting wins; at the same millisecond the shorter, off the longest', () => {
  assert.ok(takesOver(contact(), 0, 0), 'a first setting');
  assert.ok(takesOver(contact(60, 100), 0, 101));
  assert.not.ok(takesOver(contact(60, 100), 30, 99));
  assert.ok(takesOver(contact(60, 100), 30, 100));
  assert.not.ok(takesOver(contact(60, 100), 90, 100));
  assert.not.ok(takesOver(contact(60, 100), 0, 100));
  assert.ok(takesOver(contact(0, 100), 90, 100));
  assert.not.ok(takesOver(contact(60, 100), 60, 100), 'the same setting again changes nothing');
});

test.run();
