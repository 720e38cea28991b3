// ML-KEM-768 through the crypto core (src/crypto/ml-kem.ts, spec/crypto.md §1.4): round trips
// on both backends, deterministic outputs from given seeds and messages, and every public
// function fed broken inputs (the Wycheproof files cover the key and ciphertext checks case by
// case: test/crypto/wycheproof.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CryptoError, MLKEM768_CIPHERTEXT_LENGTH, MLKEM768_ENCAPSULATION_KEY_LENGTH, MLKEM_SHARED_SECRET_LENGTH, equalBytes,
  mlKem768Ciphertext, mlKem768Decapsulate, mlKem768Encapsulate, mlKem768EncapsulationKey, mlKem768KeyPair, mlKem768Seed,
  withBackend, type CryptoErrorCode, type MlKem768Ciphertext, type MlKem768EncapsulationKey, type MlKem768Seed,
} from '../../src/crypto/index.js';

function throws(label: string, fn: () => unknown, code: CryptoErrorCode, name: string): void {
  try {
    fn();
    assert.unreachable(`${label}: did not throw`);
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    assert.is(e.code, code, `${label}: ${e.message}`);
    assert.ok(e.message.startsWith(`${code}: ${name} `), `${label}: "${e.message}" names ${name}`);
  }
}

for (const backend of ['node', 'noble'] as const) {
  test(`${backend}: encapsulate then decapsulate agree; another key or a changed ciphertext does not`, () => {
    withBackend(backend, () => {
      const bob = mlKem768KeyPair();
      assert.is(bob.encapsulationKey.length, MLKEM768_ENCAPSULATION_KEY_LENGTH);
      const { ciphertext, sharedSecret } = mlKem768Encapsulate(bob.encapsulationKey);
      assert.is(ciphertext.length, MLKEM768_CIPHERTEXT_LENGTH);
      assert.is(sharedSecret.length, MLKEM_SHARED_SECRET_LENGTH);
      assert.ok(equalBytes(mlKem768Decapsulate(bob.seed, ciphertext), sharedSecret));
      assert.not.ok(equalBytes(mlKem768Decapsulate(mlKem768KeyPair().seed, ciphertext), sharedSecret));
      const changed = ciphertext.slice() as MlKem768Ciphertext;
      changed[0]! ^= 1;
      // Implicit rejection: a secret, deterministic in (z, c), that the sender does not have.
      const rejected = mlKem768Decapsulate(bob.seed, changed);
      assert.not.ok(equalBytes(rejected, sharedSecret));
      assert.ok(equalBytes(mlKem768Decapsulate(bob.seed, changed), rejected));
    });
  });
}

test('both backends give the same bytes for the same seed and message', () => {
  const seed = new Uint8Array(64).map((_, i) => i);
  const m = new Uint8Array(32).fill(7);
  const out = (['node', 'noble'] as const).map((b) => withBackend(b, () => {
    const kp = mlKem768KeyPair(seed);
    return { ek: kp.encapsulationKey, ...mlKem768Encapsulate(kp.encapsulationKey, m) };
  }));
  assert.equal(out[0], out[1]);
});

test('the caller\'s seed and message are not changed', () => {
  const seed = new Uint8Array(64).fill(3);
  const m = new Uint8Array(32).fill(9);
  const kp = mlKem768KeyPair(seed);
  const { ciphertext } = mlKem768Encapsulate(kp.encapsulationKey, m);
  mlKem768Decapsulate(kp.seed, ciphertext);
  assert.ok(seed.every((b) => b === 3) && m.every((b) => b === 9));
});

test('broken inputs: every public function throws the documented code naming the argument', () => {
  const kp = mlKem768KeyPair();
  const { ciphertext } = mlKem768Encapsulate(kp.encapsulationKey);
  const notBytes: unknown[] = [undefined, null, 'x'.repeat(64), Array(64).fill(0), new Uint16Array(32)];
  for (const bad of notBytes) {
    // undefined is the default argument (fresh randomness) for the seed and m.
    if (bad !== undefined) throws('keyPair seed', () => mlKem768KeyPair(bad as Uint8Array), 'INVALID_TYPE', 'seed');
    throws('encapsulate key', () => mlKem768Encapsulate(bad as MlKem768EncapsulationKey), 'INVALID_TYPE', 'encapsulationKey');
    if (bad !== undefined) throws('encapsulate m', () => mlKem768Encapsulate(kp.encapsulationKey, bad as Uint8Array), 'INVALID_TYPE', 'm');
    throws('decapsulate seed', () => mlKem768Decapsulate(bad as MlKem768Seed, ciphertext), 'INVALID_TYPE', 'seed');
    throws('decapsulate ciphertext', () => mlKem768Decapsulate(kp.seed, bad as MlKem768Ciphertext), 'INVALID_TYPE', 'ciphertext');
  }
  throws('seed 63', () => mlKem768Seed(new Uint8Array(63)), 'INVALID_LENGTH', 'seed');
  throws('seed 65', () => mlKem768KeyPair(new Uint8Array(65)), 'INVALID_LENGTH', 'seed');
  throws('key 1183', () => mlKem768EncapsulationKey(kp.encapsulationKey.subarray(1)), 'INVALID_LENGTH', 'encapsulationKey');
  throws('m 31', () => mlKem768Encapsulate(kp.encapsulationKey, new Uint8Array(31)), 'INVALID_LENGTH', 'm');
  throws('ciphertext 1089', () => mlKem768Ciphertext(new Uint8Array(1089)), 'INVALID_LENGTH', 'ciphertext');
  // The modulus check (FIPS 203 §7.2): each coefficient position, first and second of a pair.
  for (const [i, patch] of [[0, [0x01, 0x0d]], [1, [0xd0, 0xd0]], [1149, [0xff, 0xff, 0xff]]] as const) {
    const ek = kp.encapsulationKey.slice();
    ek.set(patch, i === 1 ? 1 : i);
    throws(`coefficient ≥ q at ${i}`, () => mlKem768Encapsulate(ek as MlKem768EncapsulationKey), 'NON_CANONICAL', 'encapsulationKey');
  }
  // ρ (the last 32 bytes) is not checked: any value is a valid seed for Â.
  const ek = kp.encapsulationKey.slice();
  ek.fill(0xff, 1152);
  assert.ok(mlKem768EncapsulationKey(ek));
});

test.run();
