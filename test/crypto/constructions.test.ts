// Behaviour of the project's own constructions beyond their vectors: limits and failures.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BUCKETS, ENVELOPE_OVERHEAD, MAX_CONTENT, bucketFor, pad, unpad, CryptoError, randomBytes, solvePow, verifyPow,
  safetyCode, safetyCodesMatch, deliveryKey, sealDelivery, openDelivery, x25519KeyPair, leadingZeroBits,
} from '../../src/crypto/index.js';

const code = (fn: () => unknown): string | undefined => {
  try { fn(); } catch (e) { return e instanceof CryptoError ? e.code : 'not a CryptoError'; }
  return undefined;
};

test('padding picks the smallest bucket and round-trips at every boundary', () => {
  for (const b of BUCKETS) {
    const max = b - ENVELOPE_OVERHEAD - 4;
    assert.is(bucketFor(max), b);
    if (b !== 65536) assert.is(bucketFor(max + 1), BUCKETS[BUCKETS.indexOf(b) + 1]);
    for (const n of [0, 1, max]) {
      const content = randomBytes(n);
      const padded = pad(content, b);
      assert.is(padded.length, b - ENVELOPE_OVERHEAD);
      assert.equal(unpad(padded), content);
    }
  }
  assert.is(code(() => bucketFor(MAX_CONTENT + 1)), 'INVALID_ARGUMENT');
  assert.is(code(() => pad(new Uint8Array(10), 1000)), 'INVALID_ARGUMENT');
  assert.is(code(() => pad(new Uint8Array(300), 256)), 'INVALID_ARGUMENT');
});

test('unpadding refuses a wrong length prefix and non-zero filler', () => {
  const padded = pad(new Uint8Array([1, 2, 3]), 256);
  const longPrefix = padded.slice(); longPrefix[0] = 0xff;
  assert.is(code(() => unpad(longPrefix)), 'BAD_PADDING');
  const dirty = padded.slice(); dirty[dirty.length - 1] = 1;
  assert.is(code(() => unpad(dirty)), 'BAD_PADDING');
  assert.is(code(() => unpad(new Uint8Array(3))), 'BAD_PADDING');
});

test('proof-of-work binds connection, mailbox and envelope', () => {
  const nonce = randomBytes(32), sendId = randomBytes(32), env = randomBytes(256);
  const proof = solvePow(nonce, sendId, env, 10);
  assert.ok(verifyPow(nonce, sendId, env, proof, 10));
  assert.not.ok(verifyPow(randomBytes(32), sendId, env, proof, 10) && verifyPow(nonce, sendId, randomBytes(256), proof, 10));
  assert.is(leadingZeroBits(new Uint8Array([0, 0, 0x10, 0xff])), 19);
  assert.is(leadingZeroBits(new Uint8Array(4)), 32);
});

test('safety codes are symmetric, formatted, and change with any input', () => {
  const a = randomBytes(64), b = randomBytes(64), t = randomBytes(32);
  const c = safetyCode(a, b, t);
  assert.match(c, /^\d{5} \d{5} \d{5} \d{5}$/);
  assert.is(safetyCode(b, a, t), c);
  assert.is.not(safetyCode(a, randomBytes(64), t), c);
  assert.is.not(safetyCode(a, b, randomBytes(32)), c);
  assert.ok(safetyCodesMatch(c, c.replace(/ /g, '-')));
  assert.not.ok(safetyCodesMatch(c, c.slice(0, -1) + String((Number(c.at(-1)) + 1) % 10)));
  assert.is(code(() => safetyCode(a.subarray(0, 32), b, t)), 'INVALID_LENGTH');
});

test('the delivery layer authenticates msgId and content', () => {
  const relay = x25519KeyPair(), owner = x25519KeyPair();
  const dkR = deliveryKey(relay.secretKey, owner.publicKey, relay.publicKey, owner.publicKey);
  const dkO = deliveryKey(owner.secretKey, relay.publicKey, relay.publicKey, owner.publicKey);
  assert.equal(dkR, dkO);
  const env = randomBytes(1024);
  const d = sealDelivery(dkR, 9, 123, env);
  assert.is(d.length, 1024 + 44);
  assert.equal(openDelivery(dkO, 9, d), { receivedAtMinutes: 123, envelope: env });
  assert.is(code(() => openDelivery(dkO, 10, d)), 'DECRYPT_FAILED');
  const t = d.slice(); t[100] = t[100]! ^ 1;
  assert.is(code(() => openDelivery(dkO, 9, t)), 'DECRYPT_FAILED');
  assert.is(code(() => openDelivery(dkO, 9, d.subarray(0, 20))), 'DECRYPT_FAILED');
  // the same envelope delivered twice never gives the same bytes (random nonce)
  assert.is.not(Buffer.from(sealDelivery(dkR, 9, 123, env)).toString('hex'), Buffer.from(d).toString('hex'));
});

test.run();
