// The Double Ratchet between two contacts (spec/ratchet.md), written from the published
// algorithm description (Perrin and Marlinspike, "The Double Ratchet Algorithm", 2016):
// symmetric-key chains (KDF_CK) and a Diffie-Hellman ratchet over X25519 (KDF_RK).
//
// The state is a plain object (RatchetState), persisted with encodeState/decodeState.
// encrypt and decrypt update it in place; decrypt is transactional: it works on a copy and
// commits only once the message has authenticated, so any failure leaves the state exactly
// as it was (§5.4). Secrets a state no longer needs are overwritten when it lets go of them.
import {
  MLKEM768_SEED_LENGTH, MLKEM_MESSAGE_LENGTH, aeadKey, concat, equalBytes, hkdf, hmacSha256, isCryptoError,
  mlKem768Decapsulate, mlKem768Encapsulate, mlKem768EncapsulationKey, randomBytes, utf8, wipe, x25519,
  wipeSecretKey, x25519KeyPair, x25519PublicKey, xchacha20poly1305Open, xchacha20poly1305Seal,
  type MlKem768Ciphertext, type MlKem768Seed, type X25519KeyPair, type X25519PublicKey, type X25519SecretKey,
} from '../crypto/index.js';
import {
  MAX_MESSAGE_NUMBER, NONCE_LENGTH, decodeMessage, encodeHeader, encodeMessage, skippedId,
  type RatchetMessage,
} from './codec.js';
import { Writer } from '../wire/bytes-codec.js';
import { RatchetError } from './errors.js';
import {
  PQ_FIELD_MAX, afterMix, decodePqField, encodePqField, initialPq, nextPqField, receivePqField, secretToMix, wipePqNotIn,
  type PqState,
} from './pq.js';
import {
  MAX_AD_LENGTH, MAX_RETIRED, MAX_SKIP, MAX_SKIPPED_TOTAL,
  type ChainKey, type MessageKey, type RatchetState, type RootKey, type SkippedKey,
} from './state.js';

type Draft = { -readonly [K in keyof RatchetState]: RatchetState[K] } & {
  skipped: Map<string, SkippedKey>;
  retired: X25519PublicKey[];
};

export interface RatchetOptions {
  /** Source of randomness for ratchet key pairs, nonces and ML-KEM values (default: the CSPRNG). */
  readonly random?: (n: number) => Uint8Array;
  /**
   * Hybrid sessions, encrypt: the bytes the caller can spare for the post-quantum field (its
   * padding bucket's room, §12.3); a KEM chunk goes only if it fits. Default: always room.
   */
  readonly pqRoom?: number;
}

export interface InitOptions extends RatchetOptions {
  /** A hybrid session: the post-quantum ratchet of §12 beside the Double Ratchet, version 2 messages. */
  readonly hybrid?: boolean;
  /**
   * Hybrid sessions with a KEM in the handshake (§12.7). Sender: the acceptor's ML-KEM-768
   * encapsulation key, from the handshake; the sender encapsulates to it and mixes the secret
   * into its first chain. Receiver: the 64-byte seed of that key.
   */
  readonly peerKemKey?: Uint8Array;
  readonly kemSeed?: Uint8Array;
}

// ---- §3 key derivation ----------------------------------------------------------------

const ROOT_INFO = utf8('sealpost/v1/ratchet/root');
const MESSAGE_KEY_LABEL = utf8('sealpost/v1/ratchet/message-key');
const CHAIN_KEY_LABEL = utf8('sealpost/v1/ratchet/chain-key');

/** §3.1 KDF_RK: HKDF-SHA256(salt = rk, ikm = dhOut, info = "sealpost/v1/ratchet/root", L = 64) -> rk' || ck. */
export function kdfRk(rk: RootKey, dhOut: Uint8Array): { rk: RootKey; ck: ChainKey } {
  const out = hkdf(dhOut, rk, ROOT_INFO, 64);
  const next = { rk: out.slice(0, 32) as RootKey, ck: out.slice(32, 64) as ChainKey };
  wipe(out);
  return next;
}

/** §3.2 KDF_CK: mk = HMAC(ck, "…/message-key"), ck' = HMAC(ck, "…/chain-key"). */
export function kdfCk(ck: ChainKey): { ck: ChainKey; mk: MessageKey } {
  return { ck: hmacSha256(ck, CHAIN_KEY_LABEL) as ChainKey, mk: hmacSha256(ck, MESSAGE_KEY_LABEL) as MessageKey };
}

const ROOT_PQ_INFO = utf8('sealpost/v1/ratchet/root-pq');

/**
 * §12.4 KDF_RK_PQ: the root step that mixes the secret of KEM exchange `exchange`:
 * HKDF-SHA256(salt = rk, ikm = dhOut || kemSecret, info = "sealpost/v1/ratchet/root-pq" || u32(exchange), L = 64).
 */
export function kdfRkHybrid(rk: RootKey, dhOut: Uint8Array, kemSecret: Uint8Array, exchange: number): { rk: RootKey; ck: ChainKey } {
  const ikm = concat(dhOut, kemSecret);
  const out = hkdf(ikm, rk, new Writer().bytes(ROOT_PQ_INFO).u32(exchange).finish(), 64);
  const next = { rk: out.slice(0, 32) as RootKey, ck: out.slice(32, 64) as ChainKey };
  wipe(out, ikm);
  return next;
}

/** DH(own secret, peer public), as the input of KDF_RK; the caller wipes it. */
function dh(own: X25519KeyPair, peer: X25519PublicKey): Uint8Array {
  return x25519(own.secretKey, peer);
}

// ---- helpers --------------------------------------------------------------------------

function draw(opts: RatchetOptions, n: number): Uint8Array {
  const b = (opts.random ?? randomBytes)(n);
  if (!(b instanceof Uint8Array) || b.length !== n) throw new RatchetError('INVALID_ARGUMENT', `random(${n}) must return ${n} bytes`);
  return b;
}

function freshKeyPair(opts: RatchetOptions): X25519KeyPair {
  return x25519KeyPair(draw(opts, 32).slice()); // the state owns (and later wipes) its copy
}

function argBytes(value: unknown, name: string, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new RatchetError('INVALID_ARGUMENT', `${name} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) throw new RatchetError('INVALID_ARGUMENT', `${name} must be ${length} bytes`);
  return value;
}

function argAd(ad: unknown): Uint8Array {
  const b = argBytes(ad, 'associatedData');
  if (b.length > MAX_AD_LENGTH) throw new RatchetError('INVALID_ARGUMENT', `associatedData is at most ${MAX_AD_LENGTH} bytes`);
  return b.slice();
}

function argPublic(key: unknown, name: string): X25519PublicKey {
  try {
    return x25519PublicKey(argBytes(key, name, 32).slice(), name);
  } catch (e) {
    if (isCryptoError(e)) throw new RatchetError('INVALID_ARGUMENT', e.message);
    throw e;
  }
}

function emptyState(ad: Uint8Array, rk: RootKey, dhs: X25519KeyPair, pq: PqState | null): Draft {
  return { ad, rk, dhs, dhr: null, cks: null, ckr: null, ns: 0, nr: 0, pn: 0, skipped: new Map(), retired: [], pq };
}

// ---- §4.2, §4.3 initialisation --------------------------------------------------------

/**
 * The side that sends first (the inviter, spec/client.md §4.2): knows the peer's ratchet
 * public key from the handshake. `sharedSecret` is SK, the initial root key.
 */
export function initSender(
  sharedSecret: Uint8Array, associatedData: Uint8Array, remoteRatchetKey: X25519PublicKey, opts: InitOptions = {},
): RatchetState {
  const sk = argBytes(sharedSecret, 'sharedSecret', 32);
  const ad = argAd(associatedData);
  const dhr = argPublic(remoteRatchetKey, 'remoteRatchetKey');
  if (opts.peerKemKey !== undefined && !opts.hybrid) throw new RatchetError('INVALID_ARGUMENT', 'peerKemKey needs a hybrid session');
  let ek;
  try {
    ek = opts.peerKemKey === undefined ? null : mlKem768EncapsulationKey(opts.peerKemKey, 'peerKemKey');
  } catch (e) {
    if (isCryptoError(e)) throw new RatchetError('INVALID_ARGUMENT', e.message);
    throw e;
  }
  const dhs = freshKeyPair(opts);
  const out = dh(dhs, dhr);
  let pq = opts.hybrid ? initialPq(true) : null;
  let first;
  if (ek && pq) {
    // §12.7: the first chain mixes the handshake's KEM secret as exchange 0.
    const { ciphertext, sharedSecret: k0 } = mlKem768Encapsulate(ek, draw(opts, MLKEM_MESSAGE_LENGTH).slice());
    first = kdfRkHybrid(sk as RootKey, out, k0, 0);
    wipe(k0);
    pq = { ...pq, handshakeCiphertext: ciphertext };
  } else {
    first = kdfRk(sk as RootKey, out);
  }
  wipe(out);
  return { ...emptyState(ad, first.rk, dhs, pq), dhr, cks: first.ck };
}

/**
 * The side that receives first (the acceptor, spec/client.md §4.1), with the ratchet key
 * pair whose public half it gave the peer. It can send once a first message has arrived.
 * The arguments are copied; the caller may wipe its own.
 */
export function initReceiver(
  sharedSecret: Uint8Array, associatedData: Uint8Array, ownRatchetKeyPair: X25519KeyPair, opts: InitOptions = {},
): RatchetState {
  const sk = argBytes(sharedSecret, 'sharedSecret', 32);
  const ad = argAd(associatedData);
  const secretKey = argBytes(ownRatchetKeyPair?.secretKey, 'ownRatchetKeyPair.secretKey', 32);
  const publicKey = argBytes(ownRatchetKeyPair?.publicKey, 'ownRatchetKeyPair.publicKey', 32);
  const dhs = x25519KeyPair(secretKey.slice());
  if (!equalBytes(dhs.publicKey, publicKey)) throw new RatchetError('INVALID_ARGUMENT', 'ownRatchetKeyPair: public key does not match the secret key');
  if (opts.kemSeed !== undefined && !opts.hybrid) throw new RatchetError('INVALID_ARGUMENT', 'kemSeed needs a hybrid session');
  const seed = opts.kemSeed === undefined ? null : (argBytes(opts.kemSeed, 'kemSeed', MLKEM768_SEED_LENGTH).slice() as MlKem768Seed);
  const pq = opts.hybrid ? { ...initialPq(false), handshakeSeed: seed } : null;
  return emptyState(ad, sk.slice() as RootKey, dhs, pq);
}

/** Whether encrypt can run: false for a receiver that has not received its first message. */
export function canSend(state: RatchetState): boolean {
  return state.cks !== null && state.ns <= MAX_MESSAGE_NUMBER;
}

// ---- §5.1 encrypt ---------------------------------------------------------------------

/**
 * One message of the current sending chain: header || nonce || AEAD(mk, nonce, plaintext, AD || header)
 * (§6.2); in a hybrid session the AEAD's plaintext is the post-quantum field || plaintext (§12.3).
 */
export function encrypt(state: RatchetState, plaintext: Uint8Array, opts: RatchetOptions = {}): Uint8Array {
  argBytes(plaintext, 'plaintext');
  const s = state as Draft;
  if (s.cks === null) throw new RatchetError('BAD_STATE', 'cannot send before the first message from the peer has arrived');
  if (s.ns > MAX_MESSAGE_NUMBER) throw new RatchetError('BAD_STATE', 'sending chain exhausted');
  const room = opts.pqRoom ?? PQ_FIELD_MAX;
  if (typeof room !== 'number' || !(room >= 0)) throw new RatchetError('INVALID_ARGUMENT', 'pqRoom must be a number >= 0');
  const nonce = draw(opts, NONCE_LENGTH);
  let pq: PqState | null = null;
  let sealed = plaintext;
  if (s.pq) {
    const next = nextPqField(s.pq, room, (n) => draw(opts, n));
    pq = next.pq;
    sealed = concat(encodePqField(next.field), plaintext);
  }
  const header = encodeHeader({
    dh: s.dhs.publicKey, pn: s.pn, n: s.ns,
    ...(s.pq ? { epoch: s.pq.sendEpoch } : {}),
    ...(s.pq?.handshakeCiphertext ? { kemCiphertext: s.pq.handshakeCiphertext } : {}),
  });
  const { ck, mk } = kdfCk(s.cks);
  let ciphertext: Uint8Array;
  try {
    ciphertext = xchacha20poly1305Seal(aeadKey(mk), nonce, sealed, concat(s.ad, header));
  } catch (e) {
    wipe(ck);
    wipePqNotIn(pq, s.pq);
    throw e;
  } finally {
    wipe(mk);
  }
  wipe(s.cks);
  s.cks = ck;
  s.ns += 1;
  if (pq) s.pq = pq; // nextPqField overwrites nothing: nothing of the old one to wipe
  return encodeMessage(header, nonce, ciphertext);
}

// ---- §5.2 decrypt ---------------------------------------------------------------------

/**
 * Decrypts one message from the peer and advances the state. On any error (RatchetError,
 * or whatever `opts.random` throws) the state is left exactly as it was (§5.4).
 */
export function decrypt(state: RatchetState, message: Uint8Array, opts: RatchetOptions = {}): Uint8Array {
  const msg = decodeMessage(message);
  // §12.5: a hybrid session takes only hybrid messages, a classical one only classical ones.
  if (state.pq && msg.fields.epoch === undefined) throw new RatchetError('DOWNGRADE', 'a classical message in a hybrid session');
  if (!state.pq && msg.fields.epoch !== undefined) throw new RatchetError('MALFORMED', 'a hybrid message in a classical session');
  // §12.7: a receiver that put a KEM key in the handshake takes a first message only with its ciphertext.
  if (state.pq?.handshakeSeed && state.dhr === null && msg.fields.kemCiphertext === undefined) {
    throw new RatchetError('DOWNGRADE', 'a first message without the handshake\'s KEM ciphertext');
  }
  const draft = begin(state);
  let plaintext: Uint8Array;
  try {
    plaintext = receive(draft, msg, opts);
  } catch (e) {
    abort(draft, state);
    throw e;
  }
  commit(state as Draft, draft);
  return plaintext;
}

/** Signal's RatchetDecrypt on a draft. */
function receive(s: Draft, msg: RatchetMessage, opts: RatchetOptions): Uint8Array {
  const { dh: peer, pn, n } = msg.fields;
  const id = skippedId(peer, n);
  const saved = s.skipped.get(id);
  if (saved) {
    s.skipped.delete(id); // its key is wiped at commit, and kept if the message fails
    return receivePq(s, open(saved.mk, s.ad, msg), opts);
  }
  const sameChain = s.ckr !== null && s.dhr !== null && equalBytes(peer, s.dhr);
  if (sameChain && n < s.nr) throw new RatchetError('REPLAY', `message ${n} of this chain was already received`);
  if (!sameChain && s.retired.some((k) => equalBytes(k, peer))) throw new RatchetError('REPLAY', 'message of a closed chain already received');
  if (n - (sameChain ? s.nr : 0) > MAX_SKIP) throw new RatchetError('TOO_MANY_SKIPPED', `message ${n} is more than ${MAX_SKIP} ahead`);
  if (!sameChain) {
    skipTo(s, Math.min(pn, s.nr + MAX_SKIP)); // close the old chain, capped (§5.3)
    dhRatchet(s, peer, msg.fields, opts);
  }
  skipTo(s, n);
  if (s.ckr === null) throw new RatchetError('BAD_STATE', 'no receiving chain'); // unreachable: dhRatchet made one
  const { ck, mk } = kdfCk(s.ckr);
  replaceChain(s, 'ckr', ck);
  s.nr += 1;
  try {
    return receivePq(s, open(mk, s.ad, msg), opts);
  } finally {
    wipe(mk);
  }
}

/** A hybrid session's opened plaintext: its post-quantum field goes to the PQ ratchet (§12.3), the rest to the caller. */
function receivePq(s: Draft, opened: Uint8Array, opts: RatchetOptions): Uint8Array {
  if (!s.pq) return opened;
  const { field, rest } = decodePqField(opened);
  wipe(opened);
  s.pq = receivePqField(s.pq, field, (n) => draw(opts, n));
  return rest;
}

function open(mk: MessageKey, ad: Uint8Array, msg: RatchetMessage): Uint8Array {
  try {
    return xchacha20poly1305Open(aeadKey(mk), msg.nonce, msg.ciphertext, concat(ad, msg.header));
  } catch (e) {
    if (isCryptoError(e, 'DECRYPT_FAILED')) throw new RatchetError('DECRYPT_FAILED', 'message does not authenticate');
    throw e;
  }
}

/** Derives and stores the keys of messages nr .. until-1 of the receiving chain (§5.3). */
function skipTo(s: Draft, until: number): void {
  if (s.ckr === null || s.dhr === null) return;
  while (s.nr < until) {
    const { ck, mk } = kdfCk(s.ckr);
    replaceChain(s, 'ckr', ck);
    s.skipped.set(skippedId(s.dhr, s.nr), { dh: s.dhr, n: s.nr, mk });
    s.nr += 1;
  }
}

/** Signal's DHRatchet: a receiving chain from the peer's new key, then a fresh own key pair and sending chain (§5.2). */
function dhRatchet(s: Draft, peer: X25519PublicKey, header: RatchetMessage['fields'], opts: RatchetOptions): void {
  const fresh = freshKeyPair(opts);
  const handshake = s.dhr === null ? handshakeMix(s, header.kemCiphertext) : null;
  if (s.dhr !== null) s.retired = [...s.retired, s.dhr].slice(-MAX_RETIRED);
  s.pn = s.ns;
  s.ns = 0;
  s.nr = 0;
  s.dhr = peer;
  stepRoot(s, dh(s.dhs, peer), 'ckr', handshake ?? receivingMix(s, header.epoch ?? 0));
  if (handshake) wipe(handshake.key);
  // The initiator's first chain is closed: its later chains carry no handshake ciphertext.
  if (s.pq?.handshakeCiphertext) s.pq = { ...s.pq, handshakeCiphertext: null };
  wipeSecretKey(s.dhs.secretKey);
  s.dhs = fresh;
  const mix = s.pq ? secretToMix(s.pq) : null;
  stepRoot(s, dh(s.dhs, peer), 'cks', mix);
  if (s.pq) s.pq = { ...s.pq, sendEpoch: mix ? mix.exchange : 0 };
}

/**
 * §12.7: at the receiver's first DH step, the handshake's KEM secret from the first chain's
 * ciphertext (exchange 0), or null for a session without one. A ciphertext the receiver did not
 * ask for is MALFORMED (the check that one is there is in decrypt).
 */
function handshakeMix(s: Draft, ciphertext: Uint8Array | undefined): { exchange: number; key: Uint8Array } | null {
  const seed = s.pq?.handshakeSeed ?? null;
  if (ciphertext === undefined || s.pq === null) return null;
  if (seed === null) throw new RatchetError('MALFORMED', 'a handshake KEM ciphertext this session did not ask for');
  const key = mlKem768Decapsulate(seed, ciphertext as MlKem768Ciphertext);
  s.pq = { ...s.pq, handshakeSeed: null };
  return { exchange: 0, key };
}

/**
 * §12.4: the secret the peer mixed when it made the chain whose header says `epoch` (0: none).
 * It must be the exchange after the last one mixed, finished on this side too; anything else
 * cannot come from the peer, so the message is refused as one that does not authenticate.
 */
function receivingMix(s: Draft, epoch: number): { exchange: number; key: Uint8Array } | null {
  if (epoch === 0) return null;
  const secret = s.pq?.secret;
  if (!s.pq || !secret || secret.exchange !== epoch || epoch <= s.pq.mixed) {
    throw new RatchetError('DECRYPT_FAILED', `the chain mixes KEM exchange ${epoch}, which this side has not finished`);
  }
  return secret;
}

function stepRoot(s: Draft, dhOut: Uint8Array, chain: 'cks' | 'ckr', mix: { exchange: number; key: Uint8Array } | null = null): void {
  const { rk, ck } = mix ? kdfRkHybrid(s.rk, dhOut, mix.key, mix.exchange) : kdfRk(s.rk, dhOut);
  if (mix && mix.exchange > 0 && s.pq) s.pq = afterMix(s.pq, mix.exchange); // exchange 0: the handshake's (§12.7)
  wipe(dhOut, s.rk);
  s.rk = rk;
  replaceChain(s, chain, ck);
}

function replaceChain(s: Draft, chain: 'cks' | 'ckr', ck: ChainKey): void {
  const old = s[chain];
  if (old) wipe(old);
  s[chain] = ck;
}

// ---- §5.4 transactions ----------------------------------------------------------------
// A draft owns copies of rk, cks, ckr and the own secret key, so it may overwrite them; it
// shares the skipped message keys with the state it was made from and never overwrites
// those: a skipped key dies at commit if the committed state no longer holds it.

function begin(s: RatchetState): Draft {
  return {
    ...s,
    rk: s.rk.slice() as RootKey,
    dhs: { secretKey: s.dhs.secretKey.slice() as X25519SecretKey, publicKey: s.dhs.publicKey },
    cks: s.cks && (s.cks.slice() as ChainKey),
    ckr: s.ckr && (s.ckr.slice() as ChainKey),
    skipped: new Map(s.skipped),
    retired: [...s.retired],
  };
}

/** Installs `draft` as `state`: evicts the oldest skipped keys beyond the cap, wipes what `state` held and `draft` does not. */
function commit(state: Draft, draft: Draft): void {
  for (const [id, k] of draft.skipped) {
    if (draft.skipped.size <= MAX_SKIPPED_TOTAL) break;
    draft.skipped.delete(id);
    wipe(k.mk);
  }
  wipeSkippedNotIn(state.skipped, draft.skipped);
  wipePqNotIn(state.pq, draft.pq);
  wipe(state.rk, state.cks ?? undefined, state.ckr ?? undefined, state.dhs.secretKey); // the draft holds copies
  Object.assign(state, draft);
}

/** Drops a failed draft: wipes what it owns and `state` does not hold. */
function abort(draft: Draft, state: RatchetState): void {
  wipeSkippedNotIn(draft.skipped, state.skipped);
  wipePqNotIn(draft.pq, state.pq);
  wipe(draft.rk, draft.cks ?? undefined, draft.ckr ?? undefined, draft.dhs.secretKey);
}

function wipeSkippedNotIn(from: ReadonlyMap<string, SkippedKey>, keep: ReadonlyMap<string, SkippedKey>): void {
  for (const [id, k] of from) if (keep.get(id) !== k) wipe(k.mk);
}

/** Overwrites every secret of a state that is no longer needed (a deleted contact). */
export function wipeState(state: RatchetState): void {
  for (const k of state.skipped.values()) wipe(k.mk);
  wipeSecretKey(state.dhs.secretKey);
  wipePqNotIn(state.pq, null);
  wipe(state.rk, state.cks ?? undefined, state.ckr ?? undefined);
}
