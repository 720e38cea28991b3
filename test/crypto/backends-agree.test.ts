// The 'node' (OpenSSL) and 'noble' (pure JS) backends give byte-identical results, and the
// same CryptoError codes, for every primitive of src/crypto/primitives.ts on random inputs,
// and the same verdicts on crafted Ed25519 signatures (torsion components, small-order and
// non-canonical keys) on which OpenSSL and @noble/curves' own verify used to differ.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ED25519_TORSION_SUBGROUP, ed25519 as nobleEd25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import {
  CryptoError, aes128GcmOpen, aes128GcmSeal, chacha20poly1305Open, chacha20poly1305Seal, concat, ed25519KeyPair, ed25519PublicFromSeed, ed25519Sign,
  ed25519Verify, hkdf, hkdfExpand, hkdfExtract, hmacSha256, hmacSha256Verify, portableSha256, randomBytes, sha256,
  withBackend, x25519, x25519KeyPair, x25519PublicFromSecret, xchacha20poly1305Open, xchacha20poly1305Seal,
  type AeadKey, type BackendName, type Ed25519PublicKey, type Ed25519Seed, type X25519PublicKey, type X25519SecretKey,
} from '../../src/crypto/index.js';
import { toHexString } from '../_support/files.js';

const BACKENDS: readonly BackendName[] = ['node', 'noble'];
const AEAD_LENGTHS = [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000, 4095, 4096, 16383, 16384];

/** What `fn` did, as a comparable string: its bytes, its boolean, or its error code. */
function outcome(fn: () => Uint8Array | boolean): string {
  try {
    const r = fn();
    return typeof r === 'boolean' ? String(r) : toHexString(r);
  } catch (e) {
    return e instanceof CryptoError ? `CryptoError ${e.code}` : `threw ${String(e)}`;
  }
}
/** Runs `fn` on both backends, asserts identical outcomes and returns it. */
function agree(what: string, fn: () => Uint8Array | boolean): string {
  const [a, b] = BACKENDS.map((backend) => withBackend(backend, () => outcome(fn)));
  assert.is(b, a, `${what}: node gave ${a}, noble gave ${b}`);
  return a!;
}
const randomLength = (max: number): number => randomBytes(3).reduce((a, b) => a * 256 + b, 0) % (max + 1);
function flipBit(b: Uint8Array): Uint8Array {
  const out = b.slice();
  const bit = randomLength(b.length * 8 - 1);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

test('X25519: public keys and shared secrets on random keys, twist points included', () => {
  for (let i = 0; i < 150; i++) {
    const sk = randomBytes(32) as X25519SecretKey;
    const pub = agree('x25519PublicFromSecret', () => x25519PublicFromSecret(sk));
    assert.is(agree('x25519KeyPair', () => x25519KeyPair(sk).publicKey), pub);
    const peer = withBackend('noble', () => x25519KeyPair()).publicKey;
    agree(`x25519 ${toHexString(sk)}`, () => x25519(sk, peer));
    // An arbitrary u < 2^255 - 19: on the curve or its twist.
    const u = randomBytes(32); u[31]! &= 0x7f;
    agree(`x25519 twist? ${toHexString(u)}`, () => x25519(sk, u as X25519PublicKey));
  }
});

test('X25519: both refuse the same keys with the same codes', () => {
  const sk = randomBytes(32) as X25519SecretKey;
  const le = (hex: string): X25519PublicKey => Uint8Array.from(Buffer.from(hex, 'hex')) as X25519PublicKey;
  const cases: [string, string][] = [
    ['0'.repeat(64), 'CryptoError LOW_ORDER_POINT'],
    ['01' + '0'.repeat(62), 'CryptoError LOW_ORDER_POINT'],
    ['ec' + 'ff'.repeat(30) + '7f', 'CryptoError LOW_ORDER_POINT'], // p - 1
    ['ed' + 'ff'.repeat(30) + '7f', 'CryptoError NON_CANONICAL'], // p
    ['09' + '0'.repeat(60) + '80', 'CryptoError NON_CANONICAL'], // bit 255 set
  ];
  for (const [pk, want] of cases) assert.is(agree(pk, () => x25519(sk, le(pk))), want);
});

test('Ed25519: public keys, signatures and verdicts on random seeds and messages', () => {
  for (let i = 0; i < 150; i++) {
    const seed = randomBytes(32) as Ed25519Seed;
    const msg = randomBytes(i < 2 ? i * 1000 : randomLength(2000));
    const pk = agree('ed25519PublicFromSeed', () => ed25519PublicFromSeed(seed));
    assert.is(agree('ed25519KeyPair', () => ed25519KeyPair(seed).publicKey), pk);
    const sig = Uint8Array.from(Buffer.from(agree('ed25519Sign', () => ed25519Sign(seed, msg)), 'hex'));
    const A = Uint8Array.from(Buffer.from(pk, 'hex')) as Ed25519PublicKey;
    assert.is(agree('verify', () => ed25519Verify(sig, msg, A)), 'true');
    assert.is(agree('verify flipped signature', () => ed25519Verify(flipBit(sig), msg, A)), 'false');
    assert.is(agree('verify other message', () => ed25519Verify(sig, concat(msg, new Uint8Array(1)), A)), 'false');
    assert.is(agree('verify flipped key', () => ed25519Verify(sig, msg, flipBit(A) as Ed25519PublicKey)), 'false');
    // Random keys (about half are not points) and random signatures.
    assert.is(agree('verify random', () => ed25519Verify(randomBytes(64), msg, randomBytes(32) as Ed25519PublicKey)), 'false');
    assert.is(agree('verify short', () => ed25519Verify(sig.subarray(0, 63), msg, A)), 'false');
  }
});

test('Ed25519: crafted signatures get the same verdict (cofactorless, strict keys)', () => {
  const { Point } = nobleEd25519;
  const Fn = Point.Fn;
  const le = (b: Uint8Array): bigint => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
  const torsion = ED25519_TORSION_SUBGROUP.map((h) => Point.fromHex(h, true));
  const msg = randomBytes(40);
  const { scalar: a, point: A } = nobleEd25519.utils.getExtendedPublicKey(randomBytes(32));
  // A signature by hand: R || S with S = r + k a, k = H(R || key || msg).
  const challenge = (R: Uint8Array, key: Uint8Array): bigint => Fn.create(le(sha512(concat(R, key, msg))));
  const signWith = (R: Uint8Array, key: Uint8Array, r: bigint): Uint8Array =>
    concat(R, Fn.toBytes(Fn.create(r + challenge(R, key) * a)));
  // R = identity, S = 0: satisfies the cofactorless equation for any key of small order.
  const trivial = concat(Point.ZERO.toBytes(), new Uint8Array(32));
  for (const [i, T] of torsion.entries()) {
    const r = Fn.create(le(randomBytes(64)));
    const R = Point.BASE.multiply(r);
    // R with a torsion component: the cofactored equation holds, the cofactorless one only for T = 0.
    const torsionR = R.add(T).toBytes();
    const want = T.is0() ? 'true' : 'false';
    assert.is(agree(`torsion R ${i}`, () => ed25519Verify(signWith(torsionR, A.toBytes(), r), msg, A.toBytes() as Ed25519PublicKey)), want);
    // A key with a torsion component, signed with the scalar of its prime-order part: the
    // cofactorless equation is off by [k]T, so it holds exactly when [k]T vanishes.
    const mixed = A.add(T).toBytes();
    const wantMixed = String(T.multiplyUnsafe(challenge(R.toBytes(), mixed)).is0());
    assert.is(agree(`mixed-order key ${i}`, () => ed25519Verify(signWith(R.toBytes(), mixed, r), msg, mixed as Ed25519PublicKey)), wantMixed);
    // A key of small order with the trivial signature (OpenSSL accepted it).
    const small = T.toBytes() as Ed25519PublicKey;
    assert.is(agree(`small-order key ${ED25519_TORSION_SUBGROUP[i]}`, () => ed25519Verify(trivial, msg, small)), 'false');
  }
  // The identity encoded with y = p + 1, and the trivial signature: OpenSSL reduced y and accepted it.
  const idPlusP = Uint8Array.from(Buffer.from('ee' + 'ff'.repeat(30) + '7f', 'hex')) as Ed25519PublicKey;
  assert.is(agree('key y = p + 1', () => ed25519Verify(trivial, msg, idPlusP)), 'false');
  // S >= L: an honest signature with L added to S.
  const r = Fn.create(le(randomBytes(64)));
  const honest = signWith(Point.BASE.multiply(r).toBytes(), A.toBytes(), r);
  assert.is(agree('honest', () => ed25519Verify(honest, msg, A.toBytes() as Ed25519PublicKey)), 'true');
  const leBytes = (n: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, j) => Number((n >> BigInt(8 * j)) & 0xffn));
  const sPlusL = concat(honest.subarray(0, 32), leBytes(le(honest.subarray(32)) + Fn.ORDER));
  assert.is(agree('S + L', () => ed25519Verify(sPlusL, msg, A.toBytes() as Ed25519PublicKey)), 'false');
});

test('ChaCha20-Poly1305, XChaCha20-Poly1305 and AES-128-GCM: seal, open and refusals at every length', () => {
  const aeads = [
    { name: 'chacha', k: 32, n: 12, seal: chacha20poly1305Seal, open: chacha20poly1305Open },
    { name: 'xchacha', k: 32, n: 24, seal: xchacha20poly1305Seal, open: xchacha20poly1305Open },
    { name: 'aes128gcm', k: 16, n: 12, seal: aes128GcmSeal, open: aes128GcmOpen },
  ];
  for (const { name, k, n, seal, open } of aeads) {
    for (const len of AEAD_LENGTHS) {
      const key = randomBytes(k) as AeadKey;
      const nonce = randomBytes(n);
      const pt = randomBytes(len);
      const aad = randomBytes(len % 3 === 0 ? 0 : randomLength(100));
      const what = `${name} ${len} bytes, aad ${aad.length}`;
      const sealedHex = agree(`${what} seal`, () => seal(key, nonce, pt, aad));
      const sealed = Uint8Array.from(Buffer.from(sealedHex, 'hex'));
      assert.is(sealed.length, len + 16, what);
      assert.is(agree(`${what} open`, () => open(key, nonce, sealed, aad)), toHexString(pt));
      assert.is(agree(`${what} tampered`, () => open(key, nonce, flipBit(sealed), aad)), 'CryptoError DECRYPT_FAILED');
      assert.is(agree(`${what} other aad`, () => open(key, nonce, sealed, concat(aad, new Uint8Array(1)))), 'CryptoError DECRYPT_FAILED');
      assert.is(agree(`${what} truncated`, () => open(key, nonce, sealed.subarray(0, sealed.length - 1), aad)), 'CryptoError DECRYPT_FAILED');
      // Default (empty) aad.
      agree(`${what} seal, no aad`, () => seal(key, nonce, pt));
    }
  }
});

test('SHA-256, HMAC-SHA256 and HKDF on random inputs', () => {
  for (const len of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 16384, 100_000]) {
    const data = randomBytes(len);
    assert.is(agree(`sha256 ${len}`, () => sha256(data)), toHexString(portableSha256(data)));
  }
  for (const keyLen of [0, 1, 16, 31, 32, 33, 63, 64, 65, 128, 200]) {
    const key = randomBytes(keyLen);
    const data = randomBytes(randomLength(500));
    const tag = Uint8Array.from(Buffer.from(agree(`hmac key ${keyLen}`, () => hmacSha256(key, data)), 'hex'));
    for (const t of [16, 20, 32]) assert.is(agree(`hmac verify ${t}`, () => hmacSha256Verify(key, data, tag.subarray(0, t))), 'true');
    assert.is(agree('hmac verify flipped', () => hmacSha256Verify(key, data, flipBit(tag))), 'false');
    assert.is(agree('hmac verify too short', () => hmacSha256Verify(key, data, tag.subarray(0, 15))), 'false');
  }
  for (let i = 0; i < 40; i++) {
    const ikm = randomBytes(randomLength(80));
    const salt = randomBytes(i % 4 === 0 ? 0 : randomLength(100));
    const info = randomBytes(randomLength(100));
    const L = [0, 1, 31, 32, 33, 64, 100, 255 * 32][i % 8]!;
    const okm = agree(`hkdf L=${L}`, () => hkdf(ikm, salt, info, L));
    const prk = Uint8Array.from(Buffer.from(agree('hkdfExtract', () => hkdfExtract(salt, ikm)), 'hex'));
    assert.is(agree('hkdfExpand', () => hkdfExpand(prk, info, L)), okm);
  }
  assert.is(agree('hkdf too long', () => hkdf(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 255 * 32 + 1)), 'CryptoError INVALID_ARGUMENT');
});

test.run();
