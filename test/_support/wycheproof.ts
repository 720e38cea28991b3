// Pure checkers for the Project Wycheproof files in test/vectors/wycheproof/. Each runs
// every case of one file on the currently selected backend and returns how many cases it
// checked and one line per case that did not behave as expected ("tcId N (...): why").
// They never throw, so a test can assert both `failures` is empty and `checked` equals the
// file's numberOfTests, and a corrupted copy of a file can be shown to fail (meta-test).
import {
  CryptoError, aes128GcmOpen, aes128GcmSeal, chacha20poly1305Open, chacha20poly1305Seal, ed25519Verify, hkdf, hmacSha256, hmacSha256Verify,
  mlKem768Decapsulate, mlKem768Encapsulate, mlKem768KeyPair, x25519, xchacha20poly1305Open, xchacha20poly1305Seal,
  MLKEM768_CIPHERTEXT_LENGTH, MLKEM768_ENCAPSULATION_KEY_LENGTH, MLKEM768_SEED_LENGTH,
  type AeadKey, type MlKem768Ciphertext, type MlKem768EncapsulationKey, type MlKem768Seed, type CryptoErrorCode, type Ed25519PublicKey, type X25519PublicKey, type X25519SecretKey,
} from '../../src/crypto/index.js';
// Hex through the crypto core, not Buffer: the checkers also run inside a browser page
// (test/browser/vectors.test.ts).
import { fromHex as hex, toHex as toHexString } from '../../src/crypto/bytes.js';

// ---- file shapes (the fields the checkers read) ---------------------------------------------

export type WycheproofResult = 'valid' | 'invalid' | 'acceptable';
export interface WycheproofCase { tcId: number; comment: string; flags: string[]; result: WycheproofResult }
export interface WycheproofFile<G> { algorithm: string; numberOfTests: number; testGroups: G[] }

export interface XdhCase extends WycheproofCase { public: string; private: string; shared: string }
export interface XdhGroup { curve: string; tests: XdhCase[] }
export interface EddsaCase extends WycheproofCase { msg: string; sig: string }
export interface EddsaGroup { publicKey: { curve: string; pk: string }; tests: EddsaCase[] }
export interface AeadCase extends WycheproofCase { key: string; iv: string; aad: string; msg: string; ct: string; tag: string }
export interface AeadGroup { ivSize: number; keySize: number; tagSize: number; tests: AeadCase[] }
export interface HkdfCase extends WycheproofCase { ikm: string; salt: string; info: string; size: number; okm: string }
export interface HkdfGroup { keySize: number; tests: HkdfCase[] }
export interface MacCase extends WycheproofCase { key: string; msg: string; tag: string }
export interface MacGroup { keySize: number; tagSize: number; tests: MacCase[] }

export interface MlKemCase extends WycheproofCase { seed: string; ek?: string; c: string; K: string }
export interface MlKemEncapsCase extends WycheproofCase { ek: string; m: string; c: string; K: string }
export interface MlKemGroup { parameterSet: string; tests: MlKemCase[] }
export interface MlKemEncapsGroup { parameterSet: string; tests: MlKemEncapsCase[] }

export interface CheckResult { checked: number; failures: string[] }

// ---- shared machinery ------------------------------------------------------------------------

/** Returns undefined when the case behaved as expected, else why not. */
type CaseCheck<G extends { tests: WycheproofCase[] }> = (group: G, tc: G['tests'][number]) => string | undefined;

function runAll<G extends { tests: WycheproofCase[] }>(file: WycheproofFile<G>, check: CaseCheck<G>): CheckResult {
  const failures: string[] = [];
  let checked = 0;
  for (const group of file.testGroups) {
    for (const tc of group.tests) {
      checked++;
      let why: string | undefined;
      try { why = check(group, tc); } catch (e) { why = `unexpected ${describe(e)}`; }
      if (why !== undefined) failures.push(`tcId ${tc.tcId} (${tc.result}, ${tc.flags.join('+') || 'no flags'}): ${why}`);
    }
  }
  return { checked, failures };
}

const describe = (e: unknown): string => (e instanceof CryptoError ? `CryptoError ${e.code}` : `${String(e)}`);

/**
 * undefined if `fn` throws a CryptoError with `code` (whose message names `argument`, when
 * given: "nonce must be 12 bytes"); otherwise what it did instead.
 */
function rejects(code: CryptoErrorCode, fn: () => unknown, argument?: string): string | undefined {
  try {
    const got = fn();
    return `expected ${code}, got a result ${got instanceof Uint8Array ? toHexString(got) : String(got)}`;
  } catch (e) {
    if (!(e instanceof CryptoError) || e.code !== code) return `expected ${code}, threw ${describe(e)}`;
    if (argument !== undefined && !e.message.startsWith(`${code}: ${argument} `)) return `expected ${code} for ${argument}, got "${e.message}"`;
    return undefined;
  }
}

const sameHex = (what: string, got: Uint8Array, want: string): string | undefined =>
  toHexString(got) === want.toLowerCase() ? undefined : `${what}: got ${toHexString(got)}, want ${want}`;

// ---- X25519 (xdh_comp_schema_v1) -------------------------------------------------------------

const P25519 = (1n << 255n) - 19n;
const littleEndian = (b: Uint8Array): bigint => b.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n);

/**
 * The rejection the project's policy (spec/crypto.md §1.3) requires for an 'acceptable' case,
 * or undefined if it must compute the shared secret. Only the three flags that document a
 * permitted refusal allow one; the code then follows from the encoding: a non-canonical
 * encoding (bit 255 set or u >= p) is refused before anything else, even when Wycheproof
 * flags it only as LowOrderPublic (e.g. 0 + 2^255, tcId 76).
 */
export function x25519ExpectedRejection(tc: XdhCase): CryptoErrorCode | undefined {
  if (tc.result !== 'acceptable') return undefined;
  const f = new Set(tc.flags);
  if (!f.has('NonCanonicalPublic') && !f.has('LowOrderPublic') && !f.has('ZeroSharedSecret')) return undefined;
  const pk = hex(tc.public);
  if (pk.length === 32 && ((pk[31]! & 0x80) !== 0 || littleEndian(pk) >= P25519)) return 'NON_CANONICAL';
  if (f.has('NonCanonicalPublic')) return 'NON_CANONICAL'; // flagged yet canonical: x25519 computes, the case fails
  if (f.has('LowOrderPublic')) return 'LOW_ORDER_POINT';
  return 'ZERO_SHARED_SECRET';
}

export function checkX25519(file: WycheproofFile<XdhGroup>): CheckResult {
  return runAll(file, (group, tc) => {
    if (group.curve !== 'curve25519') return `unsupported curve ${group.curve}`;
    const sk = hex(tc.private) as X25519SecretKey;
    const pk = hex(tc.public) as X25519PublicKey;
    if (tc.result === 'invalid') {
      // None in the current file; any refusal by code is fine, a result is not.
      try { x25519(sk, pk); return 'invalid case was accepted'; } catch (e) { return e instanceof CryptoError ? undefined : `threw ${describe(e)}`; }
    }
    const refusal = x25519ExpectedRejection(tc);
    if (refusal !== undefined) return rejects(refusal, () => x25519(sk, pk));
    // valid, and acceptable for reasons the policy does not refuse (Twist, EdgeCase...): exact result.
    return sameHex('shared', x25519(sk, pk), tc.shared);
  });
}

// ---- Ed25519 (eddsa_verify_schema_v1) ---------------------------------------------------------

export function checkEd25519(file: WycheproofFile<EddsaGroup>): CheckResult {
  return runAll(file, (group, tc) => {
    if (group.publicKey.curve !== 'edwards25519') return `unsupported curve ${group.publicKey.curve}`;
    if (tc.result === 'acceptable') return 'no policy for acceptable EdDSA cases'; // none in the file
    const pk = hex(group.publicKey.pk) as Ed25519PublicKey;
    const msg = hex(tc.msg);
    const got = ed25519Verify(hex(tc.sig), msg, pk);
    if (got !== (tc.result === 'valid')) return `verify returned ${got}`;
    if (tc.result === 'valid') {
      // The signature must be bound to the message: one more byte breaks it.
      const longer = new Uint8Array(msg.length + 1);
      longer.set(msg);
      if (ed25519Verify(hex(tc.sig), longer, pk)) return 'verify accepted the signature on another message';
    }
    return undefined;
  });
}

// ---- ChaCha20-Poly1305 and XChaCha20-Poly1305 (aead_test_schema_v1) ---------------------------------

interface Aead {
  nonceBytes: number;
  seal(key: AeadKey, nonce: Uint8Array, msg: Uint8Array, aad: Uint8Array): Uint8Array;
  open(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array;
}
const CHACHA: Aead = { nonceBytes: 12, seal: chacha20poly1305Seal, open: chacha20poly1305Open };
const XCHACHA: Aead = { nonceBytes: 24, seal: xchacha20poly1305Seal, open: xchacha20poly1305Open };
const AES128GCM: Aead = { nonceBytes: 12, seal: aes128GcmSeal, open: aes128GcmOpen };

/** A case of key and nonce sizes the AEAD implements: the exact result (valid), or open refuses it (invalid). */
function checkAeadCase(aead: Aead, tc: AeadCase): string | undefined {
  const key = hex(tc.key) as AeadKey;
  const iv = hex(tc.iv);
  const aad = hex(tc.aad);
  const msg = hex(tc.msg);
  const sealed = hex(tc.ct + tc.tag);
  if (tc.result === 'valid') {
    return sameHex('seal', aead.seal(key, iv, msg, aad), tc.ct + tc.tag) ?? sameHex('open', aead.open(key, iv, sealed, aad), tc.msg);
  }
  if (tc.result === 'invalid') {
    // A modified tag: open refuses it, and sealing the same input yields something else.
    if (toHexString(aead.seal(key, iv, msg, aad)) === toHexString(sealed)) return 'sealing reproduces the invalid ciphertext';
    return rejects('DECRYPT_FAILED', () => aead.open(key, iv, sealed, aad));
  }
  return 'no policy for acceptable AEAD cases'; // none in the files
}

function checkAead(aead: Aead, file: WycheproofFile<AeadGroup>): CheckResult {
  return runAll(file, (group, tc) => {
    if (group.keySize !== 256 || group.tagSize !== 128) return `unsupported key/tag size ${group.keySize}/${group.tagSize}`;
    const key = hex(tc.key) as AeadKey;
    const iv = hex(tc.iv);
    const aad = hex(tc.aad);
    const msg = hex(tc.msg);
    const sealed = hex(tc.ct + tc.tag);
    if (group.ivSize !== aead.nonceBytes * 8 || iv.length !== aead.nonceBytes) {
      // A nonce of the wrong size is refused by both directions, before any cryptography.
      if (tc.result === 'valid') return `valid case with a ${iv.length}-byte nonce`;
      return rejects('INVALID_LENGTH', () => aead.seal(key, iv, msg, aad)) ?? rejects('INVALID_LENGTH', () => aead.open(key, iv, sealed, aad));
    }
    return checkAeadCase(aead, tc);
  });
}

export const checkChaCha20Poly1305 = (file: WycheproofFile<AeadGroup>): CheckResult => checkAead(CHACHA, file);
export const checkXChaCha20Poly1305 = (file: WycheproofFile<AeadGroup>): CheckResult => checkAead(XCHACHA, file);

// ---- AES-GCM (aead_test_schema_v1): AES-128 with a 96-bit nonce only ---------------------------

/**
 * The core implements AES-128-GCM with a 12-byte nonce and a 16-byte tag, nothing else
 * (spec/crypto.md §1.1). A case with a 128-bit key and a 96-bit IV must give the exact
 * ciphertext and tag and open again (valid), or fail to open with DECRYPT_FAILED (invalid).
 * Every other case (AES-192/256 keys; IVs of 0 to 2056 bits, valid or not for GCM) must be
 * refused by both seal and open with INVALID_LENGTH naming the argument (the key first).
 */
export function checkAes128Gcm(file: WycheproofFile<AeadGroup>): CheckResult {
  return runAll(file, (group, tc) => {
    const key = hex(tc.key);
    const iv = hex(tc.iv);
    const aad = hex(tc.aad);
    const msg = hex(tc.msg);
    const sealed = hex(tc.ct + tc.tag);
    if (group.tagSize !== 128 || tc.tag.length !== 32) return `unsupported tag size ${group.tagSize}`;
    if (key.length * 8 !== group.keySize || iv.length * 8 !== group.ivSize) {
      return `key/iv of ${key.length * 8}/${iv.length * 8} bits in a group of keySize ${group.keySize}, ivSize ${group.ivSize}`;
    }
    const refused = key.length !== 16 ? 'key' : iv.length !== AES128GCM.nonceBytes ? 'nonce' : undefined;
    if (refused !== undefined) {
      return rejects('INVALID_LENGTH', () => aes128GcmSeal(key, iv, msg, aad), refused)
        ?? rejects('INVALID_LENGTH', () => aes128GcmOpen(key, iv, sealed, aad), refused);
    }
    return checkAeadCase(AES128GCM, tc);
  });
}

// ---- HKDF-SHA256 (hkdf_test_schema_v1) ------------------------------------------------------------

export function checkHkdfSha256(file: WycheproofFile<HkdfGroup>): CheckResult {
  return runAll(file, (_group, tc) => {
    const run = (): Uint8Array => hkdf(hex(tc.ikm), hex(tc.salt), hex(tc.info), tc.size);
    if (tc.result === 'valid') return sameHex('okm', run(), tc.okm);
    if (tc.result === 'invalid') {
      // SizeTooLarge (> 255 * HashLen) is the only kind of invalid case; it is out of range.
      if (!tc.flags.includes('SizeTooLarge')) return 'no policy for this invalid HKDF case';
      return rejects('INVALID_ARGUMENT', run);
    }
    return 'no policy for acceptable HKDF cases';
  });
}

// ---- HMAC-SHA256 (mac_test_schema_v1) ----------------------------------------------------------------

export function checkHmacSha256(file: WycheproofFile<MacGroup>): CheckResult {
  return runAll(file, (group, tc) => {
    const key = hex(tc.key);
    const msg = hex(tc.msg);
    const tag = hex(tc.tag);
    // tagSize is per group: 256 is the full tag, 128 a truncation to the first 16 bytes.
    if (group.tagSize % 8 !== 0 || tag.length * 8 !== group.tagSize) return `tag is ${tag.length} bytes in a group of tagSize ${group.tagSize}`;
    const ok = hmacSha256Verify(key, msg, tag);
    if (ok !== (tc.result === 'valid')) return `verify returned ${ok}`;
    if (tc.result === 'valid') return sameHex('hmac prefix', hmacSha256(key, msg).subarray(0, tag.length), tc.tag);
    if (tc.result === 'acceptable') return 'no policy for acceptable MAC cases';
    return undefined;
  });
}

// ---- ML-KEM-768 (mlkem_test_schema, mlkem_encaps_test_schema) ----------------------------------------

/**
 * Key generation from the seed `d || z` and decapsulation. Valid cases (random and bit-flipped
 * ciphertexts among them) must give the exact `ek` and `K`, the implicit-rejection secret
 * included; invalid ones have a seed or a ciphertext of the wrong length and must be refused
 * with INVALID_LENGTH naming it (FIPS 203 §7.3 input checks).
 */
export function checkMlKem768(file: WycheproofFile<MlKemGroup>): CheckResult {
  return runAll(file, (group, tc) => {
    if (group.parameterSet !== 'ML-KEM-768') return `unsupported parameter set ${group.parameterSet}`;
    const seed = hex(tc.seed) as MlKem768Seed;
    const c = hex(tc.c) as MlKem768Ciphertext;
    if (tc.result === 'valid') {
      const { encapsulationKey } = mlKem768KeyPair(seed);
      return (tc.ek === undefined ? undefined : sameHex('ek', encapsulationKey, tc.ek)) ?? sameHex('K', mlKem768Decapsulate(seed, c), tc.K);
    }
    if (tc.result !== 'invalid') return 'no policy for acceptable ML-KEM cases';
    if (seed.length !== MLKEM768_SEED_LENGTH) {
      return rejects('INVALID_LENGTH', () => mlKem768KeyPair(seed), 'seed') ?? rejects('INVALID_LENGTH', () => mlKem768Decapsulate(seed, c), 'seed');
    }
    if (c.length !== MLKEM768_CIPHERTEXT_LENGTH) return rejects('INVALID_LENGTH', () => mlKem768Decapsulate(seed, c), 'ciphertext');
    return 'no policy for an invalid case of the right lengths';
  });
}

/**
 * Encapsulation with a given `m`. Valid cases must give the exact ciphertext and `K`; invalid
 * ones are keys of the wrong length (INVALID_LENGTH) or with a coefficient not below q
 * (NON_CANONICAL, the modulus check of FIPS 203 §7.2), both naming the key.
 */
export function checkMlKem768Encaps(file: WycheproofFile<MlKemEncapsGroup>): CheckResult {
  return runAll(file, (group, tc) => {
    if (group.parameterSet !== 'ML-KEM-768') return `unsupported parameter set ${group.parameterSet}`;
    const ek = hex(tc.ek) as MlKem768EncapsulationKey;
    const m = hex(tc.m);
    if (tc.result === 'valid') {
      const { ciphertext, sharedSecret } = mlKem768Encapsulate(ek, m);
      return sameHex('c', ciphertext, tc.c) ?? sameHex('K', sharedSecret, tc.K);
    }
    if (tc.result !== 'invalid') return 'no policy for acceptable ML-KEM cases';
    const code = ek.length === MLKEM768_ENCAPSULATION_KEY_LENGTH ? 'NON_CANONICAL' : 'INVALID_LENGTH';
    return rejects(code, () => mlKem768Encapsulate(ek, m), 'encapsulationKey');
  });
}
