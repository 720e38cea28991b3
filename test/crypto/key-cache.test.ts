// The native backend's cache of imported keys (src/crypto/key-cache.ts, native.ts): eviction
// order, and results that follow the bytes of a key, never the array that held them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KeyCache } from '../../src/crypto/key-cache.js';
import {
  ed25519PublicFromSeed, ed25519Sign, equalBytes, randomBytes, wipeSecretKey, withBackend, x25519, x25519KeyPair,
  x25519PublicFromSecret, type Ed25519Seed, type X25519SecretKey,
} from '../../src/crypto/index.js';

test('KeyCache evicts the least recently used entry, and a hit refreshes an entry', () => {
  const c = new KeyCache<number>(2);
  let made = 0;
  const make = (v: number) => () => { made++; return v; };
  assert.is(c.get('a', make(1)), 1);
  assert.is(c.get('b', make(2)), 2);
  assert.is(c.get('a', make(99)), 1, 'hit returns the cached value');
  assert.is(c.get('c', make(3)), 3); // evicts b, the least recent
  assert.is(c.size, 2);
  assert.is(made, 3);
  assert.is(c.get('a', make(98)), 1, 'a survived: it was refreshed');
  assert.is(c.get('b', make(4)), 4, 'b was evicted and is made again');
  c.delete('a');
  assert.is(c.get('a', make(5)), 5, 'a deleted entry is made again');
});

test('native results follow the key bytes: an array rewritten in place gives the new key\'s result', () => {
  const peer = withBackend('noble', () => x25519KeyPair());
  const sk = randomBytes(32) as X25519SecretKey;
  const seed = randomBytes(32) as Ed25519Seed;
  const msg = randomBytes(64);
  for (let round = 0; round < 40; round++) {
    const native = withBackend('node', () => ({
      pub: x25519PublicFromSecret(sk), dh: x25519(sk, peer.publicKey),
      edPub: ed25519PublicFromSeed(seed), sig: ed25519Sign(seed, msg),
    }));
    const noble = withBackend('noble', () => ({
      pub: x25519PublicFromSecret(sk), dh: x25519(sk, peer.publicKey),
      edPub: ed25519PublicFromSeed(seed), sig: ed25519Sign(seed, msg),
    }));
    assert.ok(equalBytes(native.pub, noble.pub), `round ${round}: public key`);
    assert.ok(equalBytes(native.dh, noble.dh), `round ${round}: shared secret`);
    assert.ok(equalBytes(native.edPub, noble.edPub), `round ${round}: Ed25519 public key`);
    assert.ok(equalBytes(native.sig, noble.sig), `round ${round}: signature`);
    // Half the rounds reuse the same bytes (cache hits), half rewrite them in place.
    if (round % 2 === 1) { sk.set(randomBytes(32)); seed.set(randomBytes(32)); }
  }
});

test('more keys than the cache holds still give correct results, and wipeSecretKey zeroes the key', () => {
  const peer = withBackend('noble', () => x25519KeyPair());
  const keys = Array.from({ length: 40 }, () => randomBytes(32) as X25519SecretKey);
  for (let pass = 0; pass < 2; pass++) {
    for (const k of keys) {
      const a = withBackend('node', () => x25519(k, peer.publicKey));
      const b = withBackend('noble', () => x25519(k, peer.publicKey));
      assert.ok(equalBytes(a, b));
    }
  }
  const k = keys[0]!;
  const before = withBackend('node', () => x25519(k, peer.publicKey));
  withBackend('node', () => wipeSecretKey(k));
  assert.ok(k.every((b) => b === 0), 'wiped');
  k.set(randomBytes(32));
  const after = withBackend('node', () => x25519(k, peer.publicKey));
  assert.not.ok(equalBytes(before, after), 'a new key in the same array gives a new secret');
});

test.run();
