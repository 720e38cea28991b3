// The two MLS cipher suites Sealpost speaks (RFC 9420 §5.1, §17.1), on the project's crypto
// core so they run on either backend:
//   1  MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519        (the mandatory one, §17.1)
//   3  MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519
// Both use DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 (Nh = 32) and Ed25519; they differ only in
// the AEAD (and so in Nk). The labeled helpers are §5.1.2 (SignWithLabel), §5.1.3
// (EncryptWithLabel), §5.2 (RefHash), §8 (ExpandWithLabel, DeriveSecret) and §9
// (DeriveTreeSecret). spec/groups.md §2.
import {
  aes128GcmOpen, aes128GcmSeal, chacha20poly1305Open, chacha20poly1305Seal, ed25519PublicFromSeed, ed25519Sign,
  ed25519Verify, hkdfExpand, hmacSha256, sha256, x25519KeyPair, x25519PublicKey,
} from '../crypto/primitives.js';
import { hpkeDeriveKeyPair, hpkeOpenBaseWith, hpkeSealBaseWith, type HpkeAead } from '../crypto/hpke.js';
import { isCryptoError } from '../crypto/errors.js';
import type { AeadKey, Ed25519PublicKey, Ed25519Seed, X25519KeyPair, X25519PublicKey } from '../crypto/types.js';
import { utf8 } from '../crypto/bytes.js';
import { MlsError } from './errors.js';
import { TlsWriter } from './tls.js';

export type CipherSuiteId = 1 | 3;
export const SUPPORTED_SUITES: readonly CipherSuiteId[] = [1, 3];

/** An HPKE key pair of the suite's KEM (X25519). */
export type HpkeKeyPair = X25519KeyPair;
export type { HpkeCiphertext } from './hpke-ciphertext.js';
import type { HpkeCiphertext } from './hpke-ciphertext.js';

const LABEL_PREFIX = 'MLS 1.0 ';
const EMPTY = new Uint8Array(0);

export interface CipherSuite {
  readonly id: CipherSuiteId;
  /** Nh: hash and KDF output length. */
  readonly hashLength: 32;
  /** Nk: AEAD key length. */
  readonly keyLength: 16 | 32;
  /** Nn: AEAD nonce length. */
  readonly nonceLength: 12;
  hash(data: Uint8Array): Uint8Array;
  mac(key: Uint8Array, data: Uint8Array): Uint8Array;
  extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  expandWithLabel(secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array;
  deriveSecret(secret: Uint8Array, label: string): Uint8Array;
  deriveTreeSecret(secret: Uint8Array, label: string, generation: number, length: number): Uint8Array;
  refHash(label: string, value: Uint8Array): Uint8Array;
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Throws MlsError('DECRYPT_FAILED') when the tag does not verify. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
  signWithLabel(seed: Ed25519Seed, label: string, content: Uint8Array): Uint8Array;
  verifyWithLabel(publicKey: Uint8Array, label: string, content: Uint8Array, signature: Uint8Array): boolean;
  signaturePublicKey(seed: Ed25519Seed): Ed25519PublicKey;
  encryptWithLabel(publicKey: Uint8Array, label: string, context: Uint8Array, plaintext: Uint8Array): HpkeCiphertext;
  /** Throws MlsError('DECRYPT_FAILED') for anything that does not open. */
  decryptWithLabel(keyPair: HpkeKeyPair, label: string, context: Uint8Array, ct: HpkeCiphertext): Uint8Array;
  /** §5.1: DeriveKeyPair of the KEM (RFC 9180 §7.1.3). */
  deriveKeyPair(secret: Uint8Array): HpkeKeyPair;
  /** A key pair from its 32-byte secret (the form the test vectors give). */
  keyPairFromSecret(secret: Uint8Array): HpkeKeyPair;
  /** Checks an HPKE public key (X25519: canonical, not of small order). */
  hpkePublicKey(bytes: Uint8Array): X25519PublicKey;
}


function makeSuite(id: CipherSuiteId): CipherSuite {
  const aes = id === 1;
  const hpkeAead: HpkeAead = aes ? 'aes128gcm' : 'chacha20poly1305';
  const keyLength = aes ? 16 : 32;
  const suite: CipherSuite = {
    id,
    hashLength: 32,
    keyLength,
    nonceLength: 12,
    hash: (data) => sha256(data),
    mac: (key, data) => hmacSha256(key, data),
    // RFC 5869 §2.2: an empty salt is HashLen zeros, which HMAC pads to the same block.
    extract: (salt, ikm) => hmacSha256(salt, ikm),
    expand: (prk, info, length) => hkdfExpand(prk, info, length),
    expandWithLabel(secret, label, context, length) {
      // KDFLabel { uint16 length; opaque label<V> = "MLS 1.0 " + Label; opaque context<V>; } (§8)
      const info = new TlsWriter(16 + label.length + context.length).u16(length).opaque(utf8(LABEL_PREFIX + label)).opaque(context).finish();
      return hkdfExpand(secret, info, length);
    },
    deriveSecret: (secret, label) => suite.expandWithLabel(secret, label, EMPTY, 32),
    deriveTreeSecret: (secret, label, generation, length) =>
      suite.expandWithLabel(secret, label, new TlsWriter(4).u32(generation).finish(), length),
    refHash: (label, value) => sha256(new TlsWriter(value.length + 32).opaque(utf8(label)).opaque(value).finish()),
    seal(key, nonce, aad, plaintext) {
      return aes ? aes128GcmSeal(key, nonce, plaintext, aad) : chacha20poly1305Seal(key as AeadKey, nonce, plaintext, aad);
    },
    open(key, nonce, aad, ciphertext) {
      try {
        return aes ? aes128GcmOpen(key, nonce, ciphertext, aad) : chacha20poly1305Open(key as AeadKey, nonce, ciphertext, aad);
      } catch (e) {
        if (isCryptoError(e)) throw new MlsError('DECRYPT_FAILED', 'AEAD tag did not verify', { cause: e });
        throw e;
      }
    },
    signWithLabel: (seed, label, content) => ed25519Sign(seed, signContent(label, content)),
    verifyWithLabel(publicKey, label, content, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      return ed25519Verify(signature, signContent(label, content), publicKey as Ed25519PublicKey);
    },
    signaturePublicKey: (seed) => ed25519PublicFromSeed(seed),
    encryptWithLabel(publicKey, label, context, plaintext) {
      const pk = suite.hpkePublicKey(publicKey);
      const { enc, ct } = hpkeSealBaseWith(hpkeAead, pk, encryptContext(label, context), EMPTY, plaintext);
      return { kemOutput: enc, ciphertext: ct };
    },
    decryptWithLabel(keyPair, label, context, ct) {
      try {
        return hpkeOpenBaseWith(hpkeAead, ct.kemOutput, keyPair, encryptContext(label, context), EMPTY, ct.ciphertext);
      } catch (e) {
        if (isCryptoError(e)) throw new MlsError('DECRYPT_FAILED', `HPKE open failed (${e.code})`, { cause: e });
        throw e;
      }
    },
    deriveKeyPair: (secret) => hpkeDeriveKeyPair(secret),
    keyPairFromSecret: (secret) => x25519KeyPair(secret),
    hpkePublicKey(bytes) {
      try {
        return x25519PublicKey(bytes);
      } catch (e) {
        if (isCryptoError(e)) throw new MlsError('MALFORMED', `not an X25519 public key (${e.code})`, { cause: e });
        throw e;
      }
    },
  };
  return suite;
}

// SignContent { opaque label<V> = "MLS 1.0 " + Label; opaque content<V>; } (§5.1.2)
function signContent(label: string, content: Uint8Array): Uint8Array {
  return new TlsWriter(content.length + 32).opaque(utf8(LABEL_PREFIX + label)).opaque(content).finish();
}
// EncryptContext { opaque label<V> = "MLS 1.0 " + Label; opaque context<V>; } (§5.1.3). A
// Welcome encrypts every joiner's secrets under one long context (the encrypted GroupInfo): the
// encoding is made once per context array, so that HPKE hashes it once (crypto/hpke.ts).
const longContexts = new WeakMap<Uint8Array, { label: string; info: Uint8Array }>();
function encryptContext(label: string, context: Uint8Array): Uint8Array {
  if (context.length <= 256) return new TlsWriter(context.length + 32).opaque(utf8(LABEL_PREFIX + label)).opaque(context).finish();
  const hit = longContexts.get(context);
  if (hit && hit.label === label) return hit.info;
  const info = new TlsWriter(context.length + 32).opaque(utf8(LABEL_PREFIX + label)).opaque(context).finish();
  longContexts.set(context, { label, info });
  return info;
}

const SUITES = new Map<number, CipherSuite>(SUPPORTED_SUITES.map((id) => [id, makeSuite(id)]));

/** The suite with this id, or MlsError('UNSUPPORTED'). */
export function cipherSuite(id: number): CipherSuite {
  const s = SUITES.get(id);
  if (!s) throw new MlsError('UNSUPPORTED', `cipher suite ${id} is not supported`);
  return s;
}
