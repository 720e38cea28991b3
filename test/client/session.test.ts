// The session adapter (src/client/session.ts): both directions, out-of-order delivery,
// replays refused as 'replay', tampering as 'undecryptable', and the encoded state
// surviving a round trip in the middle of a conversation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes, utf8, fromUtf8, x25519KeyPair } from '../../src/crypto/index.js';
import {
  decodeSession, encodeSession, SessionError, sessionDecrypt, sessionEncrypt, startInitiator, startResponder, type Session,
} from '../../src/client/session.js';

function pair(): { a: Session; b: Session } {
  const sk = randomBytes(32), ad = randomBytes(32), e = x25519KeyPair();
  return { a: startInitiator(sk, ad, e.publicKey), b: startResponder(sk, ad, e) };
}
const enc = (s: Session, t: string): Uint8Array => sessionEncrypt(s, utf8(t));
const dec = (s: Session, m: Uint8Array): string => fromUtf8(sessionDecrypt(s, m));
function reason(fn: () => unknown): string {
  try { fn(); } catch (e) { return e instanceof SessionError ? e.reason : `other: ${String(e)}`; }
  return 'none';
}

test('both directions, out of order, replays and tampering', () => {
  let { a, b } = pair();
  assert.throws(() => enc(b, 'too early'));
  const m1 = enc(a, 'one'), m2 = enc(a, 'two'), m3 = enc(a, 'three');
  assert.is(dec(b, m3), 'three');
  assert.is(dec(b, m1), 'one');
  assert.is(reason(() => dec(b, m1)), 'replay');
  const r1 = enc(b, 'reply');
  assert.is(dec(a, r1), 'reply');
  // encode/decode both sides mid-conversation
  a = decodeSession(encodeSession(a));
  b = decodeSession(encodeSession(b));
  assert.is(dec(b, m2), 'two', 'a skipped key survives the encoding');
  const m4 = enc(a, 'four');
  const bad = m4.slice(); bad[bad.length - 1]! ^= 1;
  const copy = decodeSession(encodeSession(b));
  assert.is(reason(() => dec(copy, bad)), 'undecryptable');
  assert.is(dec(b, m4), 'four');
  assert.is(reason(() => dec(b, m3)), 'replay', 'a message of a finished chain');
  assert.is(reason(() => dec(b, m4)), 'replay');
  assert.is(reason(() => dec(b, randomBytes(20))), 'undecryptable');
});

test('a message too far ahead is refused', () => {
  const { a, b } = pair();
  let last: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < 1002; i++) last = enc(a, `m${i}`);
  assert.is(reason(() => dec(b, last)), 'undecryptable');
});

test.run();
