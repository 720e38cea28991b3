// Two small pieces of the crypto core that the per-message path leans on: the pooled
// randomBytes (each byte handed out once) and x25519Static (the same value as x25519,
// remembered per key pair, forgotten when the secret is wiped).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  equalBytes, randomBytes, toHex, wipeSecretKey, withBackend, x25519, x25519Ephemeral, x25519KeyPair, x25519Static, type X25519SecretKey,
} from '../../src/crypto/index.js';

test('randomBytes: small requests from the pool never repeat and are not zero; large ones bypass it', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const b = randomBytes(24);
    assert.is(b.length, 24);
    const h = toHex(b);
    assert.not.ok(seen.has(h), 'a pooled value was handed out twice');
    seen.add(h);
  }
  // Across a refill (8 KiB) and for every size up to the pooled maximum.
  for (let n = 0; n <= 300; n++) assert.is(randomBytes(n).length, n);
  const big = randomBytes(100_000);
  assert.is(big.length, 100_000);
  assert.ok(big.some((x) => x !== 0));
  // Outputs are copies: changing one changes no later output.
  const a = randomBytes(32);
  a.fill(0);
  assert.not.ok(randomBytes(32).every((x) => x === 0));
  assert.throws(() => randomBytes(-1));
});

test('x25519Static equals x25519, both ways, and returns a copy the caller may wipe', () => {
  const a = x25519KeyPair(), b = x25519KeyPair();
  const want = x25519(a.secretKey, b.publicKey);
  const first = x25519Static(a.secretKey, b.publicKey);
  assert.ok(equalBytes(first, want));
  first.fill(0);
  assert.ok(equalBytes(x25519Static(a.secretKey, b.publicKey), want), 'the cached value survives the caller wiping its copy');
  assert.ok(equalBytes(x25519Static(b.secretKey, a.publicKey), want));
});

test('x25519Static forgets a secret wiped with wipeSecretKey, and checks its inputs like x25519', () => {
  const a = x25519KeyPair(), b = x25519KeyPair();
  const secret = a.secretKey.slice() as X25519SecretKey;
  const before = x25519Static(secret, b.publicKey);
  wipeSecretKey(secret); // now all zero
  const after = x25519Static(secret, b.publicKey);
  assert.not.ok(equalBytes(before, after), 'a wiped secret must not answer with the old shared secret');
  assert.ok(equalBytes(after, x25519(secret, b.publicKey)));
  assert.throws(() => x25519Static(a.secretKey, new Uint8Array(32) as never), /LOW_ORDER_POINT/);
  assert.throws(() => x25519Static(new Uint8Array(31) as never, b.publicKey), /INVALID_LENGTH/);
});

for (const backend of ['node', 'noble'] as const) {
  test(`x25519Ephemeral (${backend}): a fresh public key each call, and the shared secret the peer computes`, () => {
    withBackend(backend, () => {
      const peer = x25519KeyPair();
      const keys = new Set<string>();
      for (let i = 0; i < 50; i++) {
        const { publicKey, shared } = x25519Ephemeral(peer.publicKey);
        assert.ok(equalBytes(shared, x25519(peer.secretKey, publicKey)));
        keys.add(toHex(publicKey));
      }
      assert.is(keys.size, 50);
      assert.throws(() => x25519Ephemeral(new Uint8Array(32) as never), /LOW_ORDER_POINT/);
    });
  });
}

test.run();
