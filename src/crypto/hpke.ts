// HPKE (RFC 9180) for the suites of spec/crypto.md §1.1:
//   KEM  DHKEM(X25519, HKDF-SHA256)  kem_id  0x0020  (RFC 9180 §4.1, §7.1)
//   KDF  HKDF-SHA256                 kdf_id  0x0001  (RFC 9180 §7.2)
//   AEAD ChaCha20-Poly1305           aead_id 0x0003  (RFC 9180 §7.3), the default, or
//        AES-128-GCM                 aead_id 0x0001  (for MLS cipher suite 1, RFC 9420 §17.1)
// in all four modes: base, psk, auth, auth_psk (RFC 9180 §5). The AEAD is the `aead` option
// of the setup and single-shot functions; without it every function is the ChaCha20-Poly1305
// suite, as before the choice existed.
//
// Built only on the crypto core's facade (primitives.ts, bytes.ts), so it runs unchanged on
// either backend. Peer public keys go through x25519PublicKey(): 32 bytes, canonical
// (NON_CANONICAL) and not of small order (LOW_ORDER_POINT); an all-zero DH result is
// ZERO_SHARED_SECRET (RFC 9180 §7.1.4). A message that does not authenticate is
// DECRYPT_FAILED. Names starting with `_` are internals exported for the tests; they are
// not part of the supported surface.
import { abytes, aint, concat, equalBytes, toHex, u16be, utf8, wipe } from './bytes.js';
import { CryptoError } from './errors.js';
import {
  aes128GcmOpen, aes128GcmSeal, chacha20poly1305Open, chacha20poly1305Seal, hkdfExpand, hkdfExtract, randomBytes, x25519, x25519Ephemeral,
  wipeSecretKey, x25519KeyPair, x25519PublicFromSecret, x25519PublicKey, x25519SecretKey,
} from './primitives.js';
import type { SharedSecret, X25519KeyPair, X25519PublicKey, X25519SecretKey } from './types.js';

// ---- suite constants (RFC 9180 §7.1, §7.2, §7.3) ----------------------------------------

export const HPKE_KEM_ID = 0x0020;
export const HPKE_KDF_ID = 0x0001;
/** The default AEAD's id, ChaCha20-Poly1305; HPKE_AEAD_IDS has every supported one. */
export const HPKE_AEAD_ID = 0x0003;
/** Nenc = Npk = Nsk = Nsecret = 32 for DHKEM(X25519, HKDF-SHA256) (RFC 9180 §7.1). */
export const HPKE_ENC_LENGTH = 32;
/** Nt: the AEAD tag each sealed message adds (RFC 9180 §7.3). */
export const HPKE_TAG_LENGTH = 16;
/** The largest L that Export accepts: 255 * Nh (RFC 9180 §5.3, §7.2). */
export const HPKE_MAX_EXPORT_LENGTH = 255 * 32;

const N_SECRET = 32; // Nsecret (§7.1)
const N_SK = 32; // Nsk (§7.1)
const N_N = 12; // Nn (§7.3), the same for both AEADs; Nk is per AEAD (AeadSuite.nk)
const N_H = 32; // Nh (§7.2)

/** The four modes of RFC 9180 §5, Table 1. */
export type HpkeMode = 'base' | 'psk' | 'auth' | 'auth_psk';
export const HPKE_MODE_ID: { readonly [M in HpkeMode]: number } = { base: 0x00, psk: 0x01, auth: 0x02, auth_psk: 0x03 };

/** The AEADs HPKE can use here (RFC 9180 §7.3); 'chacha20poly1305' is the default. */
export type HpkeAead = 'aes128gcm' | 'chacha20poly1305';
/** aead_id of each (RFC 9180 §7.3, Table 5). */
export const HPKE_AEAD_IDS: { readonly [A in HpkeAead]: number } = { aes128gcm: 0x0001, chacha20poly1305: 0x0003 };

// ---- labeled KDF (RFC 9180 §4) ----------------------------------------------------------

const HPKE_V1 = utf8('HPKE-v1');
// §4.1: suite_id = concat("KEM", I2OSP(kem_id, 2)) inside the KEM.
const SUITE_ID_KEM = concat(utf8('KEM'), u16be(HPKE_KEM_ID));
const EMPTY = new Uint8Array(0);

type AeadFn = (key: Uint8Array, nonce: Uint8Array, input: Uint8Array, aad: Uint8Array) => Uint8Array;

/** Everything in HPKE that depends on the AEAD: its id in suite_id, Nk, and the cipher. */
interface AeadSuite {
  /** §5.1: suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2), I2OSP(aead_id, 2)) outside the KEM. */
  readonly suiteId: Uint8Array;
  /** Nk (§7.3). Nn = 12 and Nt = 16 for both. */
  readonly nk: number;
  readonly seal: AeadFn;
  /** Throws DECRYPT_FAILED when the tag does not verify. */
  readonly open: AeadFn;
  /** key_schedule_context values made so far (see scheduleContext). */
  readonly contexts: Map<string, Uint8Array>;
}
function aeadSuite(name: HpkeAead, nk: number, seal: AeadFn, open: AeadFn): AeadSuite {
  const suiteId = concat(utf8('HPKE'), u16be(HPKE_KEM_ID), u16be(HPKE_KDF_ID), u16be(HPKE_AEAD_IDS[name]));
  return { suiteId, nk, seal, open, contexts: new Map() };
}
const AEADS: { readonly [A in HpkeAead]: AeadSuite } = {
  // The key is Nk bytes from the key schedule; each function checks its length again.
  chacha20poly1305: aeadSuite('chacha20poly1305', 32, chacha20poly1305Seal as AeadFn, chacha20poly1305Open as AeadFn),
  aes128gcm: aeadSuite('aes128gcm', 16, aes128GcmSeal, aes128GcmOpen),
};
const DEFAULT_AEAD = AEADS.chacha20poly1305;

/** The suite for an `aead` argument from a caller (maybe plain JS): undefined is the default; unknown names are INVALID_ARGUMENT. */
function aeadOf(aead: unknown): AeadSuite {
  if (aead === undefined) return DEFAULT_AEAD;
  if (typeof aead !== 'string' || !Object.hasOwn(AEADS, aead)) throw new CryptoError('INVALID_ARGUMENT', `unknown HPKE aead ${String(aead)}`);
  return AEADS[aead as HpkeAead];
}

/** Which suite_id a labeled derivation is bound to (RFC 9180 §4). */
export type _HpkeLabelScope = 'kem' | 'hpke';
const suiteId = (scope: _HpkeLabelScope, aead: AeadSuite): Uint8Array => (scope === 'kem' ? SUITE_ID_KEM : aead.suiteId);

/**
 * RFC 9180 §4: LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm).
 * `aead` chooses the suite_id of the 'hpke' scope (the KEM's does not depend on it).
 */
export function _hpkeLabeledExtract(scope: _HpkeLabelScope, salt: Uint8Array, label: string, ikm: Uint8Array, aead?: HpkeAead): Uint8Array {
  return labeledExtract(suiteId(scope, aeadOf(aead)), salt, label, ikm);
}

/** RFC 9180 §4: LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L). */
export function _hpkeLabeledExpand(scope: _HpkeLabelScope, prk: Uint8Array, label: string, info: Uint8Array, length: number, aead?: HpkeAead): Uint8Array {
  return labeledExpand(suiteId(scope, aeadOf(aead)), prk, label, info, length);
}

function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  const labeledIkm = concat(HPKE_V1, suite, utf8(label), ikm);
  try { return hkdfExtract(salt, labeledIkm); } finally { wipe(labeledIkm); }
}
function labeledExpand(suite: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array {
  aint(length, 'length', 0, 0xffff); // I2OSP(L, 2); hkdfExpand further bounds L by 255 * Nh
  const labeledInfo = concat(u16be(length), HPKE_V1, suite, utf8(label), info);
  return hkdfExpand(prk, labeledInfo, length);
}

// ---- DHKEM(X25519, HKDF-SHA256) (RFC 9180 §4.1, §7.1) ------------------------------------

/** RFC 9180 §7.1.1: SerializePublicKey is the identity on the 32-byte RFC 7748 encoding. */
export function hpkeSerializePublicKey(pk: X25519PublicKey): Uint8Array {
  return abytes(pk, 'publicKey', 32).slice();
}

/**
 * RFC 9180 §7.1.1, with the crypto core's peer-key checks (spec/crypto.md §1.3): INVALID_LENGTH,
 * NON_CANONICAL or LOW_ORDER_POINT instead of the RFC's generic DeserializeError.
 */
export function hpkeDeserializePublicKey(bytes: Uint8Array, name = 'publicKey'): X25519PublicKey {
  return x25519PublicKey(abytes(bytes, name, HPKE_ENC_LENGTH).slice(), name);
}

/**
 * RFC 9180 §7.1.3 DeriveKeyPair for X25519: dkp_prk = LabeledExtract("", "dkp_prk", ikm),
 * sk = LabeledExpand(dkp_prk, "sk", "", Nsk). `ikm` must hold at least Nsk = 32 bytes
 * (§7.1.3: "at least Nsk bytes of entropy"); shorter input is INVALID_LENGTH.
 */
export function hpkeDeriveKeyPair(ikm: Uint8Array): X25519KeyPair {
  abytes(ikm, 'ikm');
  if (ikm.length < N_SK) throw new CryptoError('INVALID_LENGTH', `ikm must be at least ${N_SK} bytes, got ${ikm.length}`);
  const dkpPrk = labeledExtract(SUITE_ID_KEM, EMPTY, 'dkp_prk', ikm);
  try {
    return x25519KeyPair(labeledExpand(SUITE_ID_KEM, dkpPrk, 'sk', EMPTY, N_SK));
  } finally { wipe(dkpPrk); }
}

/** RFC 9180 §4.1 ExtractAndExpand(dh, kem_context). */
function extractAndExpand(dh: Uint8Array, kemContext: Uint8Array): SharedSecret {
  const eaePrk = labeledExtract(SUITE_ID_KEM, EMPTY, 'eae_prk', dh);
  try { return labeledExpand(SUITE_ID_KEM, eaePrk, 'shared_secret', kemContext, N_SECRET) as SharedSecret; } finally { wipe(eaePrk); }
}

/** A checked key pair: secret 32 bytes, public key valid. Does not recompute pk(sk). */
function checkKeyPair(kp: unknown, name: string): X25519KeyPair {
  if (typeof kp !== 'object' || kp === null) throw new CryptoError('INVALID_TYPE', `${name} must be an X25519 key pair`);
  const { secretKey, publicKey } = kp as Partial<X25519KeyPair>;
  x25519SecretKey(secretKey, `${name}.secretKey`);
  x25519PublicKey(publicKey, `${name}.publicKey`);
  return kp as X25519KeyPair;
}

/**
 * The ephemeral key pair of Encap/AuthEncap: GenerateKeyPair() (§4.1, a fresh random secret,
 * which §7.1.3 allows as DeriveKeyPair(random(Nsk))), or an injected pair for deterministic
 * tests. An injected pair is checked to be consistent, since its public key becomes `enc`.
 */
function ephemeralKeyPair(injected: X25519KeyPair | undefined): { kp: X25519KeyPair; owned: boolean } {
  if (injected === undefined) return { kp: x25519KeyPair(randomBytes(N_SK)), owned: true };
  const kp = checkKeyPair(injected, 'ephemeral');
  if (!equalBytes(x25519PublicFromSecret(kp.secretKey), kp.publicKey)) throw new CryptoError('INVALID_ARGUMENT', 'ephemeral.publicKey does not belong to ephemeral.secretKey');
  return { kp, owned: false };
}

export interface _HpkeEncapsulation { readonly sharedSecret: SharedSecret; readonly enc: Uint8Array }

/** RFC 9180 §4.1 Encap(pkR). */
export function _hpkeEncap(pkR: X25519PublicKey, ephemeral?: X25519KeyPair): _HpkeEncapsulation {
  const pkRm = hpkeDeserializePublicKey(pkR, 'pkR');
  if (ephemeral === undefined) {
    // GenerateKeyPair() and DH(skE, pkR) in one backend step (§7.1.3 allows any fresh key pair).
    const { publicKey, shared } = x25519Ephemeral(pkRm);
    try {
      const enc = hpkeSerializePublicKey(publicKey);
      return { sharedSecret: extractAndExpand(shared, concat(enc, pkRm)), enc };
    } finally {
      wipe(shared);
    }
  }
  const { kp, owned } = ephemeralKeyPair(ephemeral);
  let dh: Uint8Array | undefined;
  try {
    dh = x25519(kp.secretKey, pkRm);
    const enc = hpkeSerializePublicKey(kp.publicKey);
    return { sharedSecret: extractAndExpand(dh, concat(enc, pkRm)), enc };
  } finally {
    wipe(dh);
    if (owned) wipeSecretKey(kp.secretKey);
  }
}

/** RFC 9180 §4.1 Decap(enc, skR); `recipient` is (skR, pk(skR)). */
export function _hpkeDecap(enc: Uint8Array, recipient: X25519KeyPair): SharedSecret {
  const pkE = hpkeDeserializePublicKey(enc, 'enc');
  const r = checkKeyPair(recipient, 'recipient');
  const dh = x25519(r.secretKey, pkE);
  try { return extractAndExpand(dh, concat(pkE, r.publicKey)); } finally { wipe(dh); }
}

/** RFC 9180 §4.1 AuthEncap(pkR, skS); `sender` is (skS, pk(skS)). */
export function _hpkeAuthEncap(pkR: X25519PublicKey, sender: X25519KeyPair, ephemeral?: X25519KeyPair): _HpkeEncapsulation {
  const pkRm = hpkeDeserializePublicKey(pkR, 'pkR');
  const s = checkKeyPair(sender, 'sender');
  const { kp, owned } = ephemeralKeyPair(ephemeral);
  let dh1: Uint8Array | undefined, dh2: Uint8Array | undefined, dh: Uint8Array | undefined;
  try {
    dh1 = x25519(kp.secretKey, pkRm);
    dh2 = x25519(s.secretKey, pkRm);
    dh = concat(dh1, dh2);
    const enc = hpkeSerializePublicKey(kp.publicKey);
    return { sharedSecret: extractAndExpand(dh, concat(enc, pkRm, s.publicKey)), enc };
  } finally {
    wipe(dh1, dh2, dh);
    if (owned) wipeSecretKey(kp.secretKey);
  }
}

/** RFC 9180 §4.1 AuthDecap(enc, skR, pkS). */
export function _hpkeAuthDecap(enc: Uint8Array, recipient: X25519KeyPair, pkS: X25519PublicKey): SharedSecret {
  const pkE = hpkeDeserializePublicKey(enc, 'enc');
  const pkSm = hpkeDeserializePublicKey(pkS, 'senderPublicKey');
  const r = checkKeyPair(recipient, 'recipient');
  let dh1: Uint8Array | undefined, dh2: Uint8Array | undefined, dh: Uint8Array | undefined;
  try {
    dh1 = x25519(r.secretKey, pkE);
    dh2 = x25519(r.secretKey, pkSm);
    dh = concat(dh1, dh2);
    return extractAndExpand(dh, concat(pkE, r.publicKey, pkSm));
  } finally { wipe(dh1, dh2, dh); }
}

// ---- key schedule (RFC 9180 §5.1) --------------------------------------------------------

/** The smallest PSK accepted: §9.5 asks for at least 32 bytes of entropy. */
export const HPKE_MIN_PSK_LENGTH = 32;

/**
 * RFC 9180 §5.1 VerifyPSKInputs, plus the §9.5 length floor: psk and psk_id are both given
 * (non-empty) or both absent; the psk modes need them, base and auth refuse them; a psk is at
 * least 32 bytes. Every violation is INVALID_ARGUMENT.
 */
function verifyPskInputs(modeId: number, psk: Uint8Array, pskId: Uint8Array): void {
  const gotPsk = psk.length > 0;
  const gotPskId = pskId.length > 0;
  if (gotPsk !== gotPskId) throw new CryptoError('INVALID_ARGUMENT', 'inconsistent PSK inputs: psk and pskId must both be given or both be absent');
  const pskMode = modeId === HPKE_MODE_ID.psk || modeId === HPKE_MODE_ID.auth_psk;
  if (gotPsk && !pskMode) throw new CryptoError('INVALID_ARGUMENT', 'PSK input provided when not needed (mode base or auth)');
  if (!gotPsk && pskMode) throw new CryptoError('INVALID_ARGUMENT', 'missing required PSK input (mode psk or auth_psk)');
  if (gotPsk && psk.length < HPKE_MIN_PSK_LENGTH) throw new CryptoError('INVALID_ARGUMENT', `psk must be at least ${HPKE_MIN_PSK_LENGTH} bytes, got ${psk.length}`);
}

/**
 * RFC 9180 §5.1: key_schedule_context = mode || LabeledExtract("", "psk_id_hash", psk_id) || LabeledExtract("", "info_hash", info).
 * The values made so far are kept, one map per AEAD (suite_id is in both hashes): they are
 * public, and the same for every envelope (one info, no PSK).
 */
function scheduleContext(aead: AeadSuite, modeId: number, pskId: Uint8Array, info: Uint8Array): Uint8Array {
  const { contexts } = aead;
  const id = `${modeId}.${toHex(pskId)}.${toHex(info)}`;
  let ctx = contexts.get(id);
  if (!ctx) {
    const pskIdHash = labeledExtract(aead.suiteId, EMPTY, 'psk_id_hash', pskId);
    const infoHash = labeledExtract(aead.suiteId, EMPTY, 'info_hash', info);
    ctx = concat(new Uint8Array([modeId]), pskIdHash, infoHash);
    if (contexts.size >= 64) contexts.clear();
    contexts.set(id, ctx);
  }
  return ctx.slice();
}

export interface _HpkeKeyScheduleOutput {
  readonly keyScheduleContext: Uint8Array;
  readonly secret: Uint8Array;
  /** Nk bytes: 32 for ChaCha20-Poly1305, 16 for AES-128-GCM. */
  readonly key: Uint8Array;
  readonly baseNonce: Uint8Array;
  readonly exporterSecret: Uint8Array;
}

/**
 * RFC 9180 §5.1 KeySchedule, returning its intermediate values (tests compare them with the
 * RFC vectors). `psk` and `pskId` default to the empty default_psk / default_psk_id; `aead`
 * (suite_id, Nk) to ChaCha20-Poly1305.
 */
export function _hpkeKeySchedule(modeId: number, sharedSecret: Uint8Array, info: Uint8Array, psk: Uint8Array = EMPTY, pskId: Uint8Array = EMPTY, aead?: HpkeAead): _HpkeKeyScheduleOutput {
  return keySchedule(aeadOf(aead), modeId, sharedSecret, info, psk, pskId);
}

function keySchedule(aead: AeadSuite, modeId: number, sharedSecret: Uint8Array, info: Uint8Array, psk: Uint8Array, pskId: Uint8Array): _HpkeKeyScheduleOutput {
  if (!Object.values(HPKE_MODE_ID).includes(modeId)) throw new CryptoError('INVALID_ARGUMENT', `unknown HPKE mode ${String(modeId)}`);
  abytes(sharedSecret, 'sharedSecret', N_SECRET);
  abytes(info, 'info');
  abytes(psk, 'psk');
  abytes(pskId, 'pskId');
  verifyPskInputs(modeId, psk, pskId);
  const keyScheduleContext = scheduleContext(aead, modeId, pskId, info);
  // secret = LabeledExtract(shared_secret, "secret", psk): the shared secret is the salt.
  const secret = labeledExtract(aead.suiteId, sharedSecret, 'secret', psk);
  return {
    keyScheduleContext,
    secret,
    key: labeledExpand(aead.suiteId, secret, 'key', keyScheduleContext, aead.nk),
    baseNonce: labeledExpand(aead.suiteId, secret, 'base_nonce', keyScheduleContext, N_N),
    exporterSecret: labeledExpand(aead.suiteId, secret, 'exp', keyScheduleContext, N_H),
  };
}

// ---- encryption contexts (RFC 9180 §5.2, §5.3) ------------------------------------------

// §5.2: the context refuses a sequence number once IncrementSeq would pass (1 << 8*Nn) - 1.
// Checking before the AEAD call gives the caller the same outcome as the RFC's check after
// it (no ciphertext, MessageLimitReachedError) without doing the work.
const SEQ_LIMIT = (1n << BigInt(8 * N_N)) - 1n;

/** RFC 9180 §5.2 ComputeNonce: base_nonce XOR I2OSP(seq, Nn). */
export function _hpkeComputeNonce(baseNonce: Uint8Array, seq: bigint): Uint8Array {
  abytes(baseNonce, 'baseNonce', N_N);
  if (typeof seq !== 'bigint' || seq < 0n || seq > SEQ_LIMIT) throw new CryptoError('INVALID_ARGUMENT', 'seq out of range');
  const nonce = baseNonce.slice();
  let s = seq;
  for (let i = N_N - 1; i >= 0 && s > 0n; i--, s >>= 8n) nonce[i]! ^= Number(s & 0xffn);
  return nonce;
}

interface ContextState {
  readonly aead: AeadSuite;
  readonly key: Uint8Array;
  readonly baseNonce: Uint8Array;
  readonly exporterSecret: Uint8Array;
  seq: bigint;
  destroyed: boolean;
}

function live(s: ContextState): ContextState {
  if (s.destroyed) throw new CryptoError('INVALID_ARGUMENT', 'HPKE context was destroyed');
  return s;
}
function nextNonce(s: ContextState): Uint8Array {
  if (live(s).seq >= SEQ_LIMIT) throw new CryptoError('MESSAGE_LIMIT', 'HPKE context has used all its sequence numbers');
  return _hpkeComputeNonce(s.baseNonce, s.seq);
}
/** RFC 9180 §5.3 Export: LabeledExpand(exporter_secret, "sec", exporter_context, L), L <= 255 * Nh. */
function exportSecret(s: ContextState, exporterContext: Uint8Array, length: number): Uint8Array {
  abytes(exporterContext, 'exporterContext');
  aint(length, 'length', 0, HPKE_MAX_EXPORT_LENGTH);
  return labeledExpand(s.aead.suiteId, live(s).exporterSecret, 'sec', exporterContext, length);
}
function destroyState(s: ContextState): void {
  s.destroyed = true;
  wipe(s.key, s.baseNonce, s.exporterSecret);
}
function skipTo(s: ContextState, seq: bigint): void {
  if (typeof seq !== 'bigint' || seq < live(s).seq || seq > SEQ_LIMIT) {
    throw new CryptoError('INVALID_ARGUMENT', 'a context only moves forward, up to 2^96 - 1');
  }
  s.seq = seq;
}

// Contexts are made only by the setup functions (private constructors, opened through the
// static blocks below); STATES lets the forward-only test hook reach a context's state.
let newSenderContext: (s: ContextState) => HpkeSenderContext;
let newRecipientContext: (s: ContextState) => HpkeRecipientContext;
const STATES = new WeakMap<object, ContextState>();

/** The sender's context, ContextS of RFC 9180 §5.2: Seal and Export. Made by hpkeSetupSender. */
export class HpkeSenderContext {
  readonly #s: ContextState;
  private constructor(s: ContextState) { this.#s = s; STATES.set(this, s); }
  static { newSenderContext = (s) => new HpkeSenderContext(s); }
  /** The sequence number the next seal will use. */
  get sequenceNumber(): bigint { return this.#s.seq; }
  /** RFC 9180 §5.2 ContextS.Seal(aad, pt): ciphertext || 16-byte tag; then seq += 1. */
  seal(plaintext: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
    abytes(plaintext, 'plaintext');
    abytes(aad, 'aad');
    const ct = this.#s.aead.seal(this.#s.key, nextNonce(this.#s), plaintext, aad);
    this.#s.seq += 1n;
    return ct;
  }
  /** RFC 9180 §5.3 Export(exporter_context, L). */
  export(exporterContext: Uint8Array, length: number): Uint8Array { return exportSecret(this.#s, exporterContext, length); }
  /** Wipes the key, base nonce and exporter secret; every later call throws INVALID_ARGUMENT. */
  destroy(): void { destroyState(this.#s); }
}

/** The recipient's context, ContextR of RFC 9180 §5.2: Open and Export. Made by hpkeSetupRecipient. */
export class HpkeRecipientContext {
  readonly #s: ContextState;
  private constructor(s: ContextState) { this.#s = s; STATES.set(this, s); }
  static { newRecipientContext = (s) => new HpkeRecipientContext(s); }
  /** The sequence number the next open expects. */
  get sequenceNumber(): bigint { return this.#s.seq; }
  /**
   * RFC 9180 §5.2 ContextR.Open(aad, ct): the plaintext, or DECRYPT_FAILED (the RFC's
   * OpenError), in which case seq is unchanged; on success seq += 1.
   */
  open(ciphertext: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
    abytes(ciphertext, 'ciphertext');
    abytes(aad, 'aad');
    const pt = this.#s.aead.open(this.#s.key, nextNonce(this.#s), ciphertext, aad);
    this.#s.seq += 1n;
    return pt;
  }
  /** RFC 9180 §5.3 Export(exporter_context, L). */
  export(exporterContext: Uint8Array, length: number): Uint8Array { return exportSecret(this.#s, exporterContext, length); }
  /** Wipes the key, base nonce and exporter secret; every later call throws INVALID_ARGUMENT. */
  destroy(): void { destroyState(this.#s); }
}

/**
 * Test hook: moves a context forward to sequence number `seq` (never backward, so no nonce
 * can repeat). Used to reach the message limit without 2^96 messages.
 */
export function _hpkeSkipTo(ctx: HpkeSenderContext | HpkeRecipientContext, seq: bigint): void {
  const s = STATES.get(ctx);
  if (!s) throw new CryptoError('INVALID_TYPE', 'not an HPKE context');
  skipTo(s, seq);
}

// ---- modes and setup (RFC 9180 §5.1.1 – §5.1.4) ------------------------------------------

/** A pre-shared key and its identifier (RFC 9180 §5.1.2); psk at least 32 bytes, pskId non-empty. */
export interface HpkePsk { readonly psk: Uint8Array; readonly pskId: Uint8Array }

/** What the sender brings for each mode. The union makes a missing or superfluous input a type error. */
export type HpkeSenderMode =
  | { readonly mode: 'base' }
  | ({ readonly mode: 'psk' } & HpkePsk)
  | { readonly mode: 'auth'; readonly sender: X25519KeyPair }
  | ({ readonly mode: 'auth_psk'; readonly sender: X25519KeyPair } & HpkePsk);

/** What the recipient brings for each mode. */
export type HpkeRecipientMode =
  | { readonly mode: 'base' }
  | ({ readonly mode: 'psk' } & HpkePsk)
  | { readonly mode: 'auth'; readonly senderPublicKey: X25519PublicKey }
  | ({ readonly mode: 'auth_psk'; readonly senderPublicKey: X25519PublicKey } & HpkePsk);

interface SenderCommon {
  /** Application info, bound into the key schedule (RFC 9180 §5.1). Required: it separates uses. */
  readonly info: Uint8Array;
  /** Injected ephemeral key pair for deterministic tests; fresh randomness otherwise. Never reuse one. */
  readonly ephemeral?: X25519KeyPair;
  /** The AEAD (RFC 9180 §7.3); ChaCha20-Poly1305 when absent. Both sides must name the same one. */
  readonly aead?: HpkeAead;
}
interface RecipientCommon {
  readonly info: Uint8Array;
  /** The AEAD the sender used; ChaCha20-Poly1305 when absent. */
  readonly aead?: HpkeAead;
}
interface WithAad { readonly aad?: Uint8Array }

export type HpkeSenderOptions = HpkeSenderMode & SenderCommon;
export type HpkeRecipientOptions = HpkeRecipientMode & RecipientCommon;
export type HpkeSealOptions = HpkeSenderOptions & WithAad;
export type HpkeOpenOptions = HpkeRecipientOptions & WithAad;

/** The single-shot result (RFC 9180 §6.1): the encapsulated key and the ciphertext. */
export interface HpkeSealed { readonly enc: Uint8Array; readonly ct: Uint8Array }

interface Resolved { readonly modeId: number; readonly psk: Uint8Array; readonly pskId: Uint8Array; readonly info: Uint8Array; readonly aead: AeadSuite }

/** Runtime check of an options object (callers from plain JS, or past a cast). */
function resolve(options: unknown): Resolved & { readonly o: Record<string, unknown> } {
  if (typeof options !== 'object' || options === null) throw new CryptoError('INVALID_TYPE', 'options must be an object');
  const o = options as Record<string, unknown>;
  const mode = o['mode'];
  if (typeof mode !== 'string' || !Object.hasOwn(HPKE_MODE_ID, mode)) throw new CryptoError('INVALID_ARGUMENT', `unknown HPKE mode ${String(mode)}`);
  const modeId = HPKE_MODE_ID[mode as HpkeMode];
  const info = abytes(o['info'], 'info');
  const psk = o['psk'] === undefined ? EMPTY : abytes(o['psk'], 'psk');
  const pskId = o['pskId'] === undefined ? EMPTY : abytes(o['pskId'], 'pskId');
  const isPskMode = mode === 'psk' || mode === 'auth_psk';
  if (!isPskMode && (o['psk'] !== undefined || o['pskId'] !== undefined)) {
    throw new CryptoError('INVALID_ARGUMENT', `PSK input provided when not needed (mode ${mode})`);
  }
  verifyPskInputs(modeId, psk, pskId);
  const isAuthMode = mode === 'auth' || mode === 'auth_psk';
  if (!isAuthMode && (o['sender'] !== undefined || o['senderPublicKey'] !== undefined)) {
    // A sender key in an unauthenticated mode would silently authenticate nothing.
    throw new CryptoError('INVALID_ARGUMENT', `sender key provided in mode ${mode}, which does not authenticate the sender`);
  }
  if (o['aad'] !== undefined) abytes(o['aad'], 'aad');
  const aead = aeadOf(o['aead']);
  return { modeId, psk, pskId, info, aead, o };
}

/**
 * RFC 9180 §5.1.1 – §5.1.4 SetupBaseS / SetupPSKS / SetupAuthS / SetupAuthPSKS, chosen by
 * `options.mode`. Returns `enc` for the recipient and the sender's context.
 */
export function hpkeSetupSender(pkR: X25519PublicKey, options: HpkeSenderOptions): { readonly enc: Uint8Array; readonly context: HpkeSenderContext } {
  const { modeId, psk, pskId, info, aead, o } = resolve(options);
  const ephemeral = o['ephemeral'] as X25519KeyPair | undefined;
  const isAuth = modeId === HPKE_MODE_ID.auth || modeId === HPKE_MODE_ID.auth_psk;
  const { sharedSecret, enc } = isAuth
    ? _hpkeAuthEncap(pkR, o['sender'] as X25519KeyPair, ephemeral)
    : _hpkeEncap(pkR, ephemeral);
  return { enc, context: newSenderContext(contextState(aead, modeId, sharedSecret, info, psk, pskId)) };
}

/** RFC 9180 §5.1.1 – §5.1.4 SetupBaseR / SetupPSKR / SetupAuthR / SetupAuthPSKR. */
export function hpkeSetupRecipient(enc: Uint8Array, recipient: X25519KeyPair, options: HpkeRecipientOptions): HpkeRecipientContext {
  const { modeId, psk, pskId, info, aead, o } = resolve(options);
  const isAuth = modeId === HPKE_MODE_ID.auth || modeId === HPKE_MODE_ID.auth_psk;
  const sharedSecret = isAuth
    ? _hpkeAuthDecap(enc, recipient, o['senderPublicKey'] as X25519PublicKey)
    : _hpkeDecap(enc, recipient);
  return newRecipientContext(contextState(aead, modeId, sharedSecret, info, psk, pskId));
}

function contextState(aead: AeadSuite, modeId: number, sharedSecret: SharedSecret, info: Uint8Array, psk: Uint8Array, pskId: Uint8Array): ContextState {
  try {
    const ks = keySchedule(aead, modeId, sharedSecret, info, psk, pskId);
    wipe(ks.secret);
    return { aead, key: ks.key, baseNonce: ks.baseNonce, exporterSecret: ks.exporterSecret, seq: 0n, destroyed: false };
  } finally { wipe(sharedSecret); }
}

// ---- single-shot APIs (RFC 9180 §6.1) ----------------------------------------------------

/** RFC 9180 §6.1 Seal<MODE>(pkR, info, aad, pt, ...): setup, one seal, and the context is wiped. */
export function hpkeSeal(pkR: X25519PublicKey, plaintext: Uint8Array, options: HpkeSealOptions): HpkeSealed {
  abytes(plaintext, 'plaintext');
  const aad = (options as WithAad | null)?.aad ?? EMPTY;
  abytes(aad, 'aad');
  const { enc, context } = hpkeSetupSender(pkR, options);
  try { return { enc, ct: context.seal(plaintext, aad) }; } finally { context.destroy(); }
}

/** RFC 9180 §6.1 Open<MODE>(enc, skR, info, aad, ct, ...): the plaintext, or DECRYPT_FAILED. */
export function hpkeOpen(enc: Uint8Array, recipient: X25519KeyPair, ciphertext: Uint8Array, options: HpkeOpenOptions): Uint8Array {
  abytes(ciphertext, 'ciphertext');
  const aad = (options as WithAad | null)?.aad ?? EMPTY;
  abytes(aad, 'aad');
  const context = hpkeSetupRecipient(enc, recipient, options);
  try { return context.open(ciphertext, aad); } finally { context.destroy(); }
}

type SealExtras = SenderCommon & WithAad;
type OpenExtras = RecipientCommon & WithAad;

/** RFC 9180 §6.1 SealBase. */
export const hpkeSealBase = (pkR: X25519PublicKey, plaintext: Uint8Array, o: SealExtras): HpkeSealed =>
  hpkeSeal(pkR, plaintext, { ...o, mode: 'base' });
/** RFC 9180 §6.1 OpenBase. */
export const hpkeOpenBase = (enc: Uint8Array, recipient: X25519KeyPair, ciphertext: Uint8Array, o: OpenExtras): Uint8Array =>
  hpkeOpen(enc, recipient, ciphertext, { ...o, mode: 'base' });
/** RFC 9180 §6.1 SealPSK. */
export const hpkeSealPsk = (pkR: X25519PublicKey, plaintext: Uint8Array, o: SealExtras & HpkePsk): HpkeSealed =>
  hpkeSeal(pkR, plaintext, { ...o, mode: 'psk' });
/** RFC 9180 §6.1 OpenPSK. */
export const hpkeOpenPsk = (enc: Uint8Array, recipient: X25519KeyPair, ciphertext: Uint8Array, o: OpenExtras & HpkePsk): Uint8Array =>
  hpkeOpen(enc, recipient, ciphertext, { ...o, mode: 'psk' });
/** RFC 9180 §6.1 SealAuth. */
export const hpkeSealAuth = (pkR: X25519PublicKey, plaintext: Uint8Array, o: SealExtras & { readonly sender: X25519KeyPair }): HpkeSealed =>
  hpkeSeal(pkR, plaintext, { ...o, mode: 'auth' });
/** RFC 9180 §6.1 OpenAuth. */
export const hpkeOpenAuth = (enc: Uint8Array, recipient: X25519KeyPair, ciphertext: Uint8Array, o: OpenExtras & { readonly senderPublicKey: X25519PublicKey }): Uint8Array =>
  hpkeOpen(enc, recipient, ciphertext, { ...o, mode: 'auth' });
/** RFC 9180 §6.1 SealAuthPSK. */
export const hpkeSealAuthPsk = (pkR: X25519PublicKey, plaintext: Uint8Array, o: SealExtras & HpkePsk & { readonly sender: X25519KeyPair }): HpkeSealed =>
  hpkeSeal(pkR, plaintext, { ...o, mode: 'auth_psk' });
/** RFC 9180 §6.1 OpenAuthPSK. */
export const hpkeOpenAuthPsk = (enc: Uint8Array, recipient: X25519KeyPair, ciphertext: Uint8Array, o: OpenExtras & HpkePsk & { readonly senderPublicKey: X25519PublicKey }): Uint8Array =>
  hpkeOpen(enc, recipient, ciphertext, { ...o, mode: 'auth_psk' });

// ---- single-shot base mode with a chosen AEAD (for MLS, RFC 9420 §5.1.3) -------------------

/**
 * RFC 9180 §6.1 SealBase(pkR, info, aad, pt) with the AEAD `aead` (MLS cipher suite 1 uses
 * 'aes128gcm'). The same as hpkeSealBase(pkR, plaintext, { info, aad, aead }).
 */
export function hpkeSealBaseWith(aead: HpkeAead, pkR: X25519PublicKey, info: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): HpkeSealed {
  return hpkeSeal(pkR, plaintext, { mode: 'base', info, aad, aead });
}

/** RFC 9180 §6.1 OpenBase(enc, skR, info, aad, ct) with the AEAD `aead`: the plaintext, or DECRYPT_FAILED. */
export function hpkeOpenBaseWith(aead: HpkeAead, enc: Uint8Array, recipient: X25519KeyPair, info: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return hpkeOpen(enc, recipient, ciphertext, { mode: 'base', info, aad, aead });
}
