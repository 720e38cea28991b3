// The cipher suites' labeled helpers (src/mls/suite.ts) against the crypto-basics vectors
// (RFC 9420 §5.1–§5.2, §8, §9), every case on both crypto backends; a corrupted case fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cipherSuite } from '../../src/mls/suite.js';
import { MlsError } from '../../src/mls/errors.js';
import { withBackend, type BackendName, type Ed25519Seed } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type H = string;
interface Case {
  cipher_suite: number;
  ref_hash: { label: string; value: H; out: H };
  expand_with_label: { secret: H; label: string; context: H; length: number; out: H };
  derive_secret: { secret: H; label: string; out: H };
  derive_tree_secret: { secret: H; label: string; generation: number; length: number; out: H };
  sign_with_label: { priv: H; pub: H; content: H; label: string; signature: H };
  encrypt_with_label: { priv: H; pub: H; label: string; context: H; plaintext: H; kem_output: H; ciphertext: H };
}
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'crypto-basics.json');

/** Checks one case; returns the names of the checks that failed. */
function check(c: Case): string[] {
  const s = cipherSuite(c.cipher_suite);
  const bad: string[] = [];
  const eq = (name: string, got: Uint8Array, want: H): void => { if (toHexString(got) !== want) bad.push(name); };
  eq('ref_hash', s.refHash(c.ref_hash.label, hex(c.ref_hash.value)), c.ref_hash.out);
  const e = c.expand_with_label;
  eq('expand_with_label', s.expandWithLabel(hex(e.secret), e.label, hex(e.context), e.length), e.out);
  eq('derive_secret', s.deriveSecret(hex(c.derive_secret.secret), c.derive_secret.label), c.derive_secret.out);
  const t = c.derive_tree_secret;
  eq('derive_tree_secret', s.deriveTreeSecret(hex(t.secret), t.label, t.generation, t.length), t.out);
  const g = c.sign_with_label;
  if (!s.verifyWithLabel(hex(g.pub), g.label, hex(g.content), hex(g.signature))) bad.push('verify_with_label');
  if (toHexString(s.signaturePublicKey(hex(g.priv) as Ed25519Seed)) !== g.pub) bad.push('signature public key');
  // Ed25519 is deterministic, so our own signature must equal the vector's.
  eq('sign_with_label', s.signWithLabel(hex(g.priv) as Ed25519Seed, g.label, hex(g.content)), g.signature);
  const x = c.encrypt_with_label;
  const kp = s.keyPairFromSecret(hex(x.priv));
  if (toHexString(kp.publicKey) !== x.pub) bad.push('hpke public key');
  try {
    eq('decrypt_with_label', s.decryptWithLabel(kp, x.label, hex(x.context), { kemOutput: hex(x.kem_output), ciphertext: hex(x.ciphertext) }), x.plaintext);
  } catch { bad.push('decrypt_with_label threw'); }
  const mine = s.encryptWithLabel(hex(x.pub), x.label, hex(x.context), hex(x.plaintext));
  eq('encrypt_with_label round trip', s.decryptWithLabel(kp, x.label, hex(x.context), mine), x.plaintext);
  return bad;
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every crypto-basics case on the ${backend} backend`, () => {
    withBackend(backend, () => {
      for (const c of cases) assert.equal(check(c), [], `suite ${c.cipher_suite}`);
    });
    assert.equal(cases.map((c) => c.cipher_suite).sort(), [1, 3]);
  });
}

test('a corrupted case fails the checks it touches', () => {
  const c = structuredClone(cases[0]!);
  const flip = (h: H): H => (h.slice(0, -2) + ((parseInt(h.slice(-2), 16) ^ 1).toString(16).padStart(2, '0')));
  c.ref_hash.out = flip(c.ref_hash.out);
  c.sign_with_label.signature = flip(c.sign_with_label.signature);
  c.encrypt_with_label.ciphertext = flip(c.encrypt_with_label.ciphertext);
  const bad = check(c);
  assert.ok(bad.includes('ref_hash') && bad.includes('verify_with_label') && bad.includes('decrypt_with_label threw'), bad.join());
});

test('a tampered HPKE ciphertext is DECRYPT_FAILED; an unknown suite is UNSUPPORTED', () => {
  const s = cipherSuite(1);
  const kp = s.keyPairFromSecret(new Uint8Array(32).fill(7));
  const ct = s.encryptWithLabel(kp.publicKey, 'L', new Uint8Array(1), new Uint8Array(5));
  ct.ciphertext[0]! ^= 1;
  assert.throws(() => s.decryptWithLabel(kp, 'L', new Uint8Array(1), ct), (e: unknown) => e instanceof MlsError && e.code === 'DECRYPT_FAILED');
  assert.throws(() => cipherSuite(2), (e: unknown) => e instanceof MlsError && e.code === 'UNSUPPORTED');
  // Another suite's AEAD does not open suite 1's ciphertext.
  const ct1 = s.encryptWithLabel(kp.publicKey, 'L', new Uint8Array(0), new Uint8Array(5));
  assert.throws(() => cipherSuite(3).decryptWithLabel(kp, 'L', new Uint8Array(0), ct1), (e: unknown) => e instanceof MlsError && e.code === 'DECRYPT_FAILED');
});

test.run();
