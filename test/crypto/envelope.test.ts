// The sealed envelope (spec/crypto.md §9): only the mailbox owner opens it, only the sender could have made it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BUCKETS, CryptoError, openEnvelope, randomBytes, sealEnvelope, withBackend, x25519KeyPair, concat,
} from '../../src/crypto/index.js';

const mailbox = x25519KeyPair();
const sender = x25519KeyPair();
const open = (envelope: Uint8Array, box = mailbox) => openEnvelope({ mailboxSecret: box.secretKey, mailboxKey: box.publicKey, envelope });
const failure = (fn: () => unknown): string => {
  try { fn(); } catch (e) { return e instanceof CryptoError ? e.code : String(e); }
  return 'no error';
};

test('round trip in every bucket, on both backends and across them', () => {
  for (const bucket of BUCKETS) {
    const body = randomBytes(Math.min(bucket - 49 - 4 - 64, 3000));
    const env = withBackend('noble', () => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, bucket }));
    assert.is(env.length, bucket);
    const got = withBackend('node', () => open(env));
    assert.equal(got.body, body);
    assert.equal(got.senderKey, sender.publicKey);
  }
});

test('the envelope size is the bucket, never the body length', () => {
  const sizes = new Set([0, 1, 100, 139].map((n) => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body: randomBytes(n) }).length));
  assert.equal([...sizes], [256]);
});

test('any flipped bit fails to open', () => {
  const env = sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body: randomBytes(50) });
  for (let i = 0; i < env.length; i += 7) {
    const t = env.slice();
    t[i] = t[i]! ^ (1 << (i % 8));
    assert.ok(['DECRYPT_FAILED', 'BAD_PADDING', 'LOW_ORDER_POINT', 'NON_CANONICAL'].includes(failure(() => open(t))), `byte ${i}`);
  }
  assert.is(failure(() => open(env.subarray(0, 100))), 'DECRYPT_FAILED');
});

test('another mailbox cannot open it', () => {
  const env = sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body: randomBytes(10) });
  assert.is(failure(() => open(env, x25519KeyPair())), 'DECRYPT_FAILED');
});

test('someone holding only the mailbox public key cannot forge a sender (the relay case)', () => {
  // The forger seals to the mailbox with its own key pair, then claims another sender inside.
  // It cannot compute X25519(victimSecret, mailboxKey), so the authenticator fails.
  const forger = x25519KeyPair();
  const env = sealEnvelope({ mailboxKey: mailbox.publicKey, sender: { secretKey: forger.secretKey, publicKey: sender.publicKey }, body: randomBytes(10) });
  assert.is(failure(() => open(env)), 'DECRYPT_FAILED');
});

test('a wrong version byte and a body too large are refused', () => {
  const env = sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body: randomBytes(10) });
  assert.is(failure(() => open(concat(new Uint8Array([2]), env.subarray(1)))), 'DECRYPT_FAILED');
  assert.is(failure(() => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body: randomBytes(70_000) })), 'INVALID_ARGUMENT');
  assert.is(failure(() => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body: randomBytes(300), bucket: 256 })), 'INVALID_ARGUMENT');
});

test.run();
