// The one door to every primitive (spec/crypto.md §1). Validates every input, then calls
// the selected backend. On Node the native backend is the default; SEALPOST_CRYPTO=noble
// or setBackend('noble') selects the portable one.
import { hchacha } from '@noble/ciphers/chacha.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import type { Backend, BackendName } from './backend.js';
import { nobleBackend } from './noble.js';
import { abytes, aint, concat, equalBytes, isAllZero, toBase64url, wipe } from './bytes.js';
import { KeyCache } from './key-cache.js';
import { CryptoError } from './errors.js';
import type {
  AeadKey, Ed25519KeyPair, Ed25519PublicKey, Ed25519Seed, Ed25519Signature, SharedSecret,
  X25519KeyPair, X25519PublicKey, X25519SecretKey,
} from './types.js';

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
const nativeBackend: Backend | null = isNode ? (await import('./native.js')).nativeBackend : null;

function pickInitial(): Backend {
  const wanted = isNode ? process.env['SEALPOST_CRYPTO'] : undefined;
  if (wanted === 'noble') return nobleBackend;
  return nativeBackend ?? nobleBackend;
}
let backend: Backend = pickInitial();

export function availableBackends(): BackendName[] {
  return nativeBackend ? ['node', 'noble'] : ['noble'];
}
export function getBackend(): BackendName {
  return backend.name;
}
export function setBackend(name: BackendName): void {
  if (name === 'noble') backend = nobleBackend;
  else if (name === 'node' && nativeBackend) backend = nativeBackend;
  else throw new CryptoError('BACKEND_UNAVAILABLE', `crypto backend '${String(name)}' is not available here`);
}
/** The selected backend, for the core's other modules (ml-kem.ts); not part of the public surface. */
export function _backend(): Backend {
  return backend;
}
/** Runs `fn` with another backend selected, then restores the previous one (tests, benches). */
export function withBackend<T>(name: BackendName, fn: () => T): T {
  const prev = backend.name;
  setBackend(name);
  try { return fn(); } finally { setBackend(prev); }
}

// ---- randomness ----------------------------------------------------------------------

/** Requests up to this size are served from a pool refilled RANDOM_POOL bytes at a time. */
const POOLED_MAX = 256;
const RANDOM_POOL = 8192;
const pool = new Uint8Array(RANDOM_POOL);
let poolUsed = RANDOM_POOL;

/**
 * Cryptographically secure random bytes (Web Crypto, present in Node and browsers). Small
 * requests (nonces, keys: several per message) are cut from a pool filled by one call, since
 * each call to the platform costs more than the bytes; each pooled byte is handed out once
 * and zeroed in the pool as it is.
 */
export function randomBytes(n: number): Uint8Array {
  aint(n, 'n', 0, 1 << 20);
  if (n <= POOLED_MAX) {
    if (poolUsed + n > RANDOM_POOL) {
      globalThis.crypto.getRandomValues(pool);
      poolUsed = 0;
    }
    const out = pool.slice(poolUsed, poolUsed + n);
    pool.fill(0, poolUsed, poolUsed + n);
    poolUsed += n;
    return out;
  }
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

// ---- X25519 (RFC 7748) ---------------------------------------------------------------

const P = (1n << 255n) - 19n;
// Canonical encodings (< p) of the points of order 1, 2, 4 and 8 on the curve and its
// twist (RFC 7748 §7; the list used by libsodium). Any other input of small order
// yields an all-zero result and is caught after the multiplication.
const LOW_ORDER_U = [0n, 1n, P - 1n,
  0x00b8495f16056286fdb1329ceb8d09da6ac49ff1fae35616aeb8413b7c7aebe0n,
  0x57119fd0dd4e22d8868e1c58c45c44045bef839c55b1d0b1248c50a3bc959c5fn].map((u) => u);

function littleEndianToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/** The small-order u-coordinates as little-endian bytes, compared without big integers. */
const LOW_ORDER_BYTES = LOW_ORDER_U.map((u) => {
  const b = new Uint8Array(32);
  for (let i = 0, v = u; i < 32; i++, v >>= 8n) b[i] = Number(v & 0xffn);
  return b;
});

function sameBytes32(a: Uint8Array, b: Uint8Array): boolean {
  let d = 0;
  for (let i = 0; i < 32; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Checks a peer's X25519 public key: 32 bytes, canonical (u < p, bit 255 clear), not of small order. */
export function x25519PublicKey(bytes: unknown, name = 'publicKey'): X25519PublicKey {
  const b = abytes(bytes, name, 32);
  if (b[31]! & 0x80) throw new CryptoError('NON_CANONICAL', `${name} has bit 255 set`);
  // u >= p = 2^255 - 19 only when bytes 1..30 are all 0xff, byte 31 is 0x7f and byte 0 >= 0xed.
  if (b[31] === 0x7f && b[0]! >= 0xed && b.subarray(1, 31).every((x) => x === 0xff)) {
    throw new CryptoError('NON_CANONICAL', `${name} is not reduced modulo 2^255-19`);
  }
  if (LOW_ORDER_BYTES.some((lo) => sameBytes32(b, lo))) throw new CryptoError('LOW_ORDER_POINT', `${name} is a point of small order`);
  return b as X25519PublicKey;
}

export function x25519SecretKey(bytes: unknown, name = 'secretKey'): X25519SecretKey {
  return abytes(bytes, name, 32) as X25519SecretKey;
}

export function x25519KeyPair(secretKey: Uint8Array = randomBytes(32)): X25519KeyPair {
  const sk = x25519SecretKey(secretKey);
  return { secretKey: sk, publicKey: backend.x25519PublicKey(sk) as X25519PublicKey };
}

/**
 * A fresh ephemeral key pair's public key and its X25519 with `peer` (HPKE Encap, RFC 9180
 * §4.1): the backend's one-step form where it has one (the secret never leaves OpenSSL),
 * else a key pair from randomBytes whose secret is wiped here. ZERO_SHARED_SECRET as x25519.
 */
export function x25519Ephemeral(peer: X25519PublicKey): { publicKey: X25519PublicKey; shared: SharedSecret } {
  x25519PublicKey(peer, 'peer');
  let publicKey: Uint8Array, shared: Uint8Array;
  if (backend.x25519Ephemeral) {
    ({ publicKey, shared } = backend.x25519Ephemeral(peer));
  } else {
    const kp = x25519KeyPair(randomBytes(32));
    try {
      ({ publicKey } = kp);
      shared = backend.x25519(kp.secretKey, peer);
    } finally {
      wipeSecretKey(kp.secretKey);
    }
  }
  if (isAllZero(shared)) throw new CryptoError('ZERO_SHARED_SECRET', 'X25519 produced the all-zero value');
  return { publicKey: publicKey as X25519PublicKey, shared: shared as SharedSecret };
}

export function x25519PublicFromSecret(secretKey: X25519SecretKey): X25519PublicKey {
  return backend.x25519PublicKey(x25519SecretKey(secretKey)) as X25519PublicKey;
}

/**
 * Overwrites secret keys that are done with, and first drops what the backend built from
 * them (the native backend keeps recent key objects, see native.ts), so that a retired key
 * (an HPKE ephemeral, an old ratchet key) does not outlive its bytes there.
 */
export function wipeSecretKey(...secretKeys: (Uint8Array | undefined)[]): void {
  for (const k of secretKeys) {
    if (k === undefined) continue;
    if (abytes(k, 'secretKeys[]').length === 32) {
      backend.forgetKey?.(k);
      if (staticShared.size > 0) staticShared.delete(toBase64url(k));
    }
    wipe(k);
  }
}

/** X25519 shared secret; throws ZERO_SHARED_SECRET where a contributory check fails (RFC 7748 §6.1). */
export function x25519(secretKey: X25519SecretKey, publicKey: X25519PublicKey): SharedSecret {
  x25519SecretKey(secretKey);
  x25519PublicKey(publicKey);
  const shared = backend.x25519(secretKey, publicKey);
  if (isAllZero(shared)) throw new CryptoError('ZERO_SHARED_SECRET', 'X25519 produced the all-zero value');
  return shared as SharedSecret;
}

/** Per own static secret (base64url), its shared secrets by peer key; a few secrets, many peers each. */
const staticShared = new KeyCache<Map<string, SharedSecret>>(32);
const STATIC_PEERS = 1024;

/**
 * X25519 between two long-lived keys (a sender's identity key and a mailbox key, spec/crypto.md
 * §9): the same value for every envelope between them, so it is computed once and remembered
 * (a copy each call; the caller may wipe it). Wiping the secret with wipeSecretKey forgets it.
 */
export function x25519Static(secretKey: X25519SecretKey, publicKey: X25519PublicKey): SharedSecret {
  const own = toBase64url(x25519SecretKey(secretKey));
  const peer = toBase64url(x25519PublicKey(publicKey));
  const peers = staticShared.get(own, () => new Map());
  let shared = peers.get(peer);
  if (!shared) {
    shared = x25519(secretKey, publicKey).slice() as SharedSecret;
    if (peers.size >= STATIC_PEERS) peers.clear();
    peers.set(peer, shared);
  }
  return shared.slice() as SharedSecret;
}

// ---- Ed25519 (RFC 8032) --------------------------------------------------------------

// y of the eight points of order dividing 8 (their canonical encodings differ only in the
// sign bit): the identity, order 2, order 4 and order 8 (ED25519_TORSION_SUBGROUP in @noble/curves).
const ED25519_SMALL_ORDER_Y = [1n, P - 1n, 0n,
  0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n,
  0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n];

/**
 * Whether a verification key is acceptable before any backend sees it: y < p (OpenSSL
 * reduces a larger y and verified such keys) and not of small order (noble refused those,
 * OpenSSL accepted them). Deciding here keeps the two backends in agreement.
 */
function ed25519StrictKey(publicKey: Uint8Array): boolean {
  const y = littleEndianToBigInt(publicKey) & ((1n << 255n) - 1n);
  return y < P && !ED25519_SMALL_ORDER_Y.includes(y);
}

export function ed25519PublicKey(bytes: unknown, name = 'publicKey'): Ed25519PublicKey {
  return abytes(bytes, name, 32) as Ed25519PublicKey;
}
export function ed25519Seed(bytes: unknown, name = 'seed'): Ed25519Seed {
  return abytes(bytes, name, 32) as Ed25519Seed;
}
export function ed25519KeyPair(seed: Uint8Array = randomBytes(32)): Ed25519KeyPair {
  const s = ed25519Seed(seed);
  return { seed: s, publicKey: backend.ed25519PublicKey(s) as Ed25519PublicKey };
}
export function ed25519PublicFromSeed(seed: Ed25519Seed): Ed25519PublicKey {
  return backend.ed25519PublicKey(ed25519Seed(seed)) as Ed25519PublicKey;
}
export function ed25519Sign(seed: Ed25519Seed, message: Uint8Array): Ed25519Signature {
  ed25519Seed(seed);
  abytes(message, 'message');
  return backend.ed25519Sign(seed, message) as Ed25519Signature;
}
/**
 * RFC 8032 strict verification: false for any signature that does not verify, including
 * malformed lengths, S >= L, non-canonical R or A and an A of small order; both backends
 * check the cofactorless equation [S]B = R + [k]A. Throws only for non-bytes arguments.
 */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Ed25519PublicKey): boolean {
  abytes(signature, 'signature');
  abytes(message, 'message');
  abytes(publicKey, 'publicKey');
  if (signature.length !== 64 || publicKey.length !== 32 || !ed25519StrictKey(publicKey)) return false;
  return backend.ed25519Verify(signature, message, publicKey);
}

// ---- hashing, HMAC, HKDF (FIPS 180-4, RFC 2104, RFC 5869) ---------------------------------

export function sha256(data: Uint8Array): Uint8Array {
  return backend.sha256(abytes(data, 'data'));
}
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return backend.hmacSha256(abytes(key, 'key'), abytes(data, 'data'));
}
/** Verifies a (possibly truncated, at least 16-byte) HMAC-SHA256 tag in constant time. */
export function hmacSha256Verify(key: Uint8Array, data: Uint8Array, tag: Uint8Array): boolean {
  abytes(tag, 'tag');
  if (tag.length < 16 || tag.length > 32) return false;
  return equalBytes(hmacSha256(key, data).subarray(0, tag.length), tag);
}
/** RFC 5869 §2.2. An empty salt means HashLen zero bytes. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  abytes(salt, 'salt');
  abytes(ikm, 'ikm');
  return backend.hmacSha256(salt.length ? salt : new Uint8Array(32), ikm);
}
/** RFC 5869 §2.3; length at most 255 * 32. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  abytes(prk, 'prk');
  abytes(info, 'info');
  aint(length, 'length', 0, 255 * 32);
  if (prk.length < 32) throw new CryptoError('INVALID_LENGTH', 'prk must be at least 32 bytes');
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 0, o = 0; o < length; i++) {
    t = backend.hmacSha256(prk, concat(t, info, new Uint8Array([i + 1])));
    out.set(t.subarray(0, Math.min(32, length - o)), o);
    o += 32;
  }
  wipe(t);
  return out;
}
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const prk = hkdfExtract(salt, ikm);
  try { return hkdfExpand(prk, info, length); } finally { wipe(prk); }
}

// ---- AEAD: ChaCha20-Poly1305 (RFC 8439), XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) ----

export function aeadKey(bytes: unknown, name = 'key'): AeadKey {
  return abytes(bytes, name, 32) as AeadKey;
}
export function chacha20poly1305Seal(key: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  aeadKey(key); abytes(nonce, 'nonce', 12); abytes(plaintext, 'plaintext'); abytes(aad, 'aad');
  return backend.chachaSeal(key, nonce, plaintext, aad);
}
export function chacha20poly1305Open(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  aeadKey(key); abytes(nonce, 'nonce', 12); abytes(sealed, 'ciphertext'); abytes(aad, 'aad');
  if (sealed.length < 16) throw new CryptoError('DECRYPT_FAILED', 'ciphertext shorter than its tag');
  const out = backend.chachaOpen(key, nonce, sealed, aad);
  if (!out) throw new CryptoError('DECRYPT_FAILED', 'authentication tag did not verify');
  return out;
}

// XChaCha20: HChaCha20(key, nonce[0..16]) gives a subkey; the ChaCha20 nonce is 4 zero bytes || nonce[16..24].
// The words go through module scratch arrays (wiped after each use): this runs several times
// per message (delivery layer, ratchet, every stored record), and the allocations showed.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
const K32 = new Uint32Array(8);
const N32 = new Uint32Array(4);
const O32 = new Uint32Array(8);
const readLE32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
function xchachaSubkey(key: Uint8Array, nonce: Uint8Array): { subkey: AeadKey; nonce12: Uint8Array } {
  for (let i = 0; i < 8; i++) K32[i] = readLE32(key, 4 * i);
  for (let i = 0; i < 4; i++) N32[i] = readLE32(nonce, 4 * i);
  hchacha(SIGMA, K32, N32, O32);
  const subkey = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const w = O32[i]!;
    subkey[4 * i] = w & 0xff; subkey[4 * i + 1] = (w >>> 8) & 0xff; subkey[4 * i + 2] = (w >>> 16) & 0xff; subkey[4 * i + 3] = w >>> 24;
  }
  K32.fill(0);
  O32.fill(0);
  const nonce12 = new Uint8Array(12);
  nonce12.set(nonce.subarray(16, 24), 4);
  return { subkey: subkey as AeadKey, nonce12 };
}
export function xchacha20poly1305Seal(key: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  aeadKey(key); abytes(nonce, 'nonce', 24); abytes(plaintext, 'plaintext'); abytes(aad, 'aad');
  const { subkey, nonce12 } = xchachaSubkey(key, nonce);
  try { return backend.chachaSeal(subkey, nonce12, plaintext, aad); } finally { wipe(subkey); }
}
export function xchacha20poly1305Open(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  aeadKey(key); abytes(nonce, 'nonce', 24); abytes(sealed, 'ciphertext'); abytes(aad, 'aad');
  if (sealed.length < 16) throw new CryptoError('DECRYPT_FAILED', 'ciphertext shorter than its tag');
  const { subkey, nonce12 } = xchachaSubkey(key, nonce);
  try {
    const out = backend.chachaOpen(subkey, nonce12, sealed, aad);
    if (!out) throw new CryptoError('DECRYPT_FAILED', 'authentication tag did not verify');
    return out;
  } finally { wipe(subkey); }
}

// ---- AEAD: AES-128-GCM (NIST SP 800-38D; RFC 5116 §5.1 AEAD_AES_128_GCM) ----------------------
// For MLS cipher suite 1 (RFC 9420 §17.1) and HPKE aead_id 0x0001 (RFC 9180 §7.3): a 16-byte key,
// a 12-byte nonce and a 16-byte tag only, as RFC 5116 §5.1 fixes them. AES-192/256 keys and other
// nonce sizes are INVALID_LENGTH (spec/crypto.md §1.3): GCM hashes a nonce other than 96 bits into
// its counter (SP 800-38D §7.1), which no caller needs.

export function aes128GcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  abytes(key, 'key', 16); abytes(nonce, 'nonce', 12); abytes(plaintext, 'plaintext'); abytes(aad, 'aad');
  return backend.aesGcmSeal(key, nonce, plaintext, aad);
}
export function aes128GcmOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  abytes(key, 'key', 16); abytes(nonce, 'nonce', 12); abytes(sealed, 'ciphertext'); abytes(aad, 'aad');
  if (sealed.length < 16) throw new CryptoError('DECRYPT_FAILED', 'ciphertext shorter than its tag');
  const out = backend.aesGcmOpen(key, nonce, sealed, aad);
  if (!out) throw new CryptoError('DECRYPT_FAILED', 'authentication tag did not verify');
  return out;
}

/** SHA-256 that never leaves the portable code path (used where a backend must not matter). */
export const portableSha256 = (data: Uint8Array): Uint8Array => nobleSha256(abytes(data, 'data'));
