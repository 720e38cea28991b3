import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { availableBackends, x25519KeyPair, x25519, withBackend, equalBytes } from '../../src/crypto/index.js';

test('both backends derive the same X25519 shared secret', () => {
  assert.equal(availableBackends(), ['node', 'noble']);
  const a = x25519KeyPair();
  const b = x25519KeyPair();
  const s1 = withBackend('node', () => x25519(a.secretKey, b.publicKey));
  const s2 = withBackend('noble', () => x25519(b.secretKey, a.publicKey));
  assert.ok(equalBytes(s1, s2));
});

test.run();
