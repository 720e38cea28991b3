// Byte layouts of the Double Ratchet (spec/ratchet.md §6, §7): the header, the message and
// the persisted session state. Pure functions; every decoder checks lengths, versions,
// counts and keys, refuses trailing bytes and throws RatchetError ('MALFORMED' for a
// message, 'BAD_STATE' for state bytes).
import {
  AEAD_TAG_LENGTH, CryptoError, MLKEM768_CIPHERTEXT_LENGTH, X25519_KEY_LENGTH, XCHACHA_NONCE_LENGTH, equalBytes, toHex, x25519KeyPair,
  x25519PublicKey,
  type X25519KeyPair, type X25519PublicKey, type X25519SecretKey,
} from '../crypto/index.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import { RatchetError } from './errors.js';
import { readPq, writePq } from './pq.js';
import {
  MAX_AD_LENGTH, MAX_RETIRED, MAX_SKIPPED_TOTAL,
  type ChainKey, type MessageKey, type RatchetState, type RootKey, type SkippedKey,
} from './state.js';

/** §6.1 */
export const MESSAGE_VERSION = 1;
/** §12.5: the header of a hybrid session's messages. */
export const HYBRID_MESSAGE_VERSION = 2;
/** §12.7: a hybrid header that also carries the handshake's KEM ciphertext (the initiator's first chain). */
export const HANDSHAKE_KEM_MESSAGE_VERSION = 3;
/** §7; a hybrid session's state has version 2 (§12.6). */
export const STATE_VERSION = 1;
export const HYBRID_STATE_VERSION = 2;
/** version[1] || dh[32] || pn[4] || n[4] (§6.1). */
export const HEADER_LENGTH = 1 + X25519_KEY_LENGTH + 4 + 4;
/** The hybrid header adds epoch[4] (§12.5). */
export const HYBRID_HEADER_LENGTH = HEADER_LENGTH + 4;
/** Version 3 adds the handshake's ML-KEM-768 ciphertext (§12.7). */
export const HANDSHAKE_KEM_HEADER_LENGTH = HYBRID_HEADER_LENGTH + MLKEM768_CIPHERTEXT_LENGTH;
export const NONCE_LENGTH = XCHACHA_NONCE_LENGTH;
/** header || nonce || AEAD tag of an empty plaintext (§6.2). */
export const MIN_MESSAGE_LENGTH = HEADER_LENGTH + NONCE_LENGTH + AEAD_TAG_LENGTH;
/** The largest message number a header may carry, so that nr + 1 still fits in a u32 (§6.1). */
export const MAX_MESSAGE_NUMBER = 0xffff_fffe;

export interface RatchetHeader {
  /** The sender's current ratchet public key. */
  readonly dh: X25519PublicKey;
  /** Length of the sender's previous sending chain. */
  readonly pn: number;
  /** Number of this message in the sender's current sending chain. */
  readonly n: number;
  /** Hybrid sessions only (§12.5): the KEM exchange mixed when this sending chain was made, 0 if none. */
  readonly epoch?: number;
  /** Version 3 only (§12.7): the handshake's KEM ciphertext, in the initiator's first chain. */
  readonly kemCiphertext?: Uint8Array;
}

/** A parsed message (§6.2); `header` is the encoded header, which the AEAD authenticates. */
export interface RatchetMessage {
  readonly header: Uint8Array;
  readonly fields: RatchetHeader;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

// ---- §6 header and message ------------------------------------------------------------

/** Version 1, or version 2 with its epoch when `h.epoch` is set (§12.5). */
export function encodeHeader(h: RatchetHeader): Uint8Array {
  const version = h.epoch === undefined ? MESSAGE_VERSION : h.kemCiphertext ? HANDSHAKE_KEM_MESSAGE_VERSION : HYBRID_MESSAGE_VERSION;
  const w = new Writer().u8(version).bytes(h.dh, X25519_KEY_LENGTH).u32(h.pn).u32(h.n);
  if (h.epoch !== undefined) w.u32(h.epoch);
  if (h.epoch !== undefined && h.kemCiphertext) w.bytes(h.kemCiphertext, MLKEM768_CIPHERTEXT_LENGTH);
  return w.finish();
}

const headerLength = (version: number | undefined): number =>
  (version === HYBRID_MESSAGE_VERSION ? HYBRID_HEADER_LENGTH : version === HANDSHAKE_KEM_MESSAGE_VERSION ? HANDSHAKE_KEM_HEADER_LENGTH : HEADER_LENGTH);

/** Parses exactly one header: HEADER_LENGTH bytes of version 1 or HYBRID_HEADER_LENGTH of version 2. */
export function decodeHeader(bytes: Uint8Array): RatchetHeader {
  if (!(bytes instanceof Uint8Array) || bytes.length !== headerLength(bytes[0])) {
    throw new RatchetError('MALFORMED', `a header is ${HEADER_LENGTH} bytes (${HYBRID_HEADER_LENGTH} in version 2, ${HANDSHAKE_KEM_HEADER_LENGTH} in version 3)`);
  }
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== MESSAGE_VERSION && version !== HYBRID_MESSAGE_VERSION && version !== HANDSHAKE_KEM_MESSAGE_VERSION) {
    throw new RatchetError('MALFORMED', `unknown message version ${version}`);
  }
  let dh: X25519PublicKey;
  try {
    dh = x25519PublicKey(r.bytes(X25519_KEY_LENGTH), 'header.dh');
  } catch (e) {
    throw new RatchetError('MALFORMED', `bad ratchet key: ${(e as Error).message}`);
  }
  const pn = r.u32();
  const n = r.u32();
  if (n > MAX_MESSAGE_NUMBER) throw new RatchetError('MALFORMED', 'message number out of range');
  if (version === MESSAGE_VERSION) return { dh, pn, n };
  const epoch = r.u32();
  if (version === HYBRID_MESSAGE_VERSION) return { dh, pn, n, epoch };
  return { dh, pn, n, epoch, kemCiphertext: r.bytes(MLKEM768_CIPHERTEXT_LENGTH) };
}

export function encodeMessage(header: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return new Writer().bytes(header, headerLength(header[0])).bytes(nonce, NONCE_LENGTH).bytes(ciphertext).finish();
}

export function decodeMessage(bytes: Uint8Array): RatchetMessage {
  if (!(bytes instanceof Uint8Array)) throw new RatchetError('MALFORMED', 'a message is a Uint8Array');
  const length = headerLength(bytes[0]);
  const min = length + NONCE_LENGTH + AEAD_TAG_LENGTH;
  if (bytes.length < min) throw new RatchetError('MALFORMED', `a message is at least ${min} bytes`);
  const header = bytes.slice(0, length);
  return {
    header,
    fields: decodeHeader(header),
    nonce: bytes.slice(length, length + NONCE_LENGTH),
    ciphertext: bytes.slice(length + NONCE_LENGTH),
  };
}

// ---- §7 state -------------------------------------------------------------------------

/** The three shapes a state can have (§7): which of dhr, cks, ckr are present. */
const SHAPE_RECEIVER_FRESH = 0x00;
const SHAPE_SENDER_FRESH = 0x03; // dhr, cks
const SHAPE_RUNNING = 0x07; // dhr, cks, ckr

function shapeOf(s: RatchetState): number {
  return (s.dhr ? 1 : 0) | (s.cks ? 2 : 0) | (s.ckr ? 4 : 0);
}

/** Groups the skipped keys by chain, in store order (oldest first); each chain's keys are contiguous (§5.3). */
function skippedGroups(skipped: ReadonlyMap<string, SkippedKey>): { dh: X25519PublicKey; keys: SkippedKey[] }[] {
  const groups: { dh: X25519PublicKey; keys: SkippedKey[] }[] = [];
  for (const k of skipped.values()) {
    const last = groups.at(-1);
    if (last && equalBytes(last.dh, k.dh)) last.keys.push(k);
    else groups.push({ dh: k.dh, keys: [k] });
  }
  const chains = new Set(groups.map((g) => toHex(g.dh)));
  if (chains.size !== groups.length) throw new RatchetError('BAD_STATE', 'skipped keys of one chain are not contiguous');
  return groups;
}

export function encodeState(s: RatchetState): Uint8Array {
  const shape = shapeOf(s);
  if (shape !== SHAPE_RECEIVER_FRESH && shape !== SHAPE_SENDER_FRESH && shape !== SHAPE_RUNNING) {
    throw new RatchetError('BAD_STATE', 'inconsistent state');
  }
  const w = new Writer().u8(s.pq ? HYBRID_STATE_VERSION : STATE_VERSION).u8(shape).var16(s.ad)
    .bytes(s.rk, 32).bytes(s.dhs.secretKey, X25519_KEY_LENGTH);
  if (s.dhr) w.bytes(s.dhr, X25519_KEY_LENGTH);
  if (s.cks) w.bytes(s.cks, 32);
  if (s.ckr) w.bytes(s.ckr, 32);
  w.u32(s.ns).u32(s.nr).u32(s.pn).u8(s.retired.length);
  for (const dh of s.retired) w.bytes(dh, X25519_KEY_LENGTH);
  const groups = skippedGroups(s.skipped);
  w.u16(groups.length);
  for (const g of groups) {
    w.bytes(g.dh, X25519_KEY_LENGTH).u16(g.keys.length);
    for (const k of g.keys) w.u32(k.n).bytes(k.mk, 32);
  }
  if (s.pq) writePq(w, s.pq);
  return w.finish();
}

/** The key of a skipped message key in RatchetState.skipped (§5.3). */
export function skippedId(dh: X25519PublicKey, n: number): string {
  return `${toHex(dh)}:${n}`;
}

function readPublic(r: Reader, name: string): X25519PublicKey {
  try {
    return x25519PublicKey(r.bytes(X25519_KEY_LENGTH), name);
  } catch (e) {
    if (e instanceof CryptoError) throw new RatchetError('BAD_STATE', `${name}: ${e.message}`);
    throw e;
  }
}

function bad(condition: boolean, message: string): void {
  if (condition) throw new RatchetError('BAD_STATE', message);
}

function readState(r: Reader): RatchetState {
  const version = r.u8();
  bad(version !== STATE_VERSION && version !== HYBRID_STATE_VERSION, `unknown state version ${version}`);
  const shape = r.u8();
  bad(shape !== SHAPE_RECEIVER_FRESH && shape !== SHAPE_SENDER_FRESH && shape !== SHAPE_RUNNING, `bad shape ${shape}`);
  const ad = r.var16();
  bad(ad.length > MAX_AD_LENGTH, 'associated data too long');
  const rk = r.bytes(32) as RootKey;
  const dhs: X25519KeyPair = x25519KeyPair(r.bytes(X25519_KEY_LENGTH) as X25519SecretKey);
  const dhr = shape & 1 ? readPublic(r, 'dhr') : null;
  const cks = shape & 2 ? (r.bytes(32) as ChainKey) : null;
  const ckr = shape & 4 ? (r.bytes(32) as ChainKey) : null;
  const ns = r.u32(), nr = r.u32(), pn = r.u32();

  const retired: X25519PublicKey[] = [];
  const retiredCount = r.u8();
  bad(retiredCount > MAX_RETIRED, 'too many retired keys');
  for (let i = 0; i < retiredCount; i++) retired.push(readPublic(r, 'retired'));

  const skipped = new Map<string, SkippedKey>();
  const chains = new Set<string>();
  for (let g = r.u16(); g > 0; g--) {
    const dh = readPublic(r, 'skipped.dh');
    bad(chains.has(toHex(dh)), 'skipped keys of one chain in two groups');
    chains.add(toHex(dh));
    const count = r.u16();
    bad(count === 0, 'empty skipped-key group');
    let prev = -1;
    for (let i = 0; i < count; i++) {
      const n = r.u32();
      bad(n <= prev, 'skipped message numbers not increasing');
      bad(skipped.size >= MAX_SKIPPED_TOTAL, 'too many skipped keys');
      prev = n;
      skipped.set(skippedId(dh, n), { dh, n, mk: r.bytes(32) as MessageKey });
    }
  }
  const pq = version === HYBRID_STATE_VERSION ? readPq(r) : null;
  r.end();

  // A fresh receiver has nothing but its key pair and root key; a fresh sender has not received yet.
  if (shape !== SHAPE_RUNNING) bad(nr !== 0 || pn !== 0 || retired.length > 0 || skipped.size > 0, 'counters or keys in a fresh state');
  if (shape === SHAPE_RECEIVER_FRESH) bad(ns !== 0, 'a fresh receiver has sent');
  if (pq && shape !== SHAPE_RUNNING) bad(pq.mixed !== 0 || pq.done !== 0 || pq.peerDone !== 0, 'post-quantum progress in a fresh state');
  return { ad, rk, dhs, dhr, cks, ckr, ns, nr, pn, skipped, retired, pq };
}

/** Inverse of encodeState; BAD_STATE for anything encodeState cannot have produced (§7). */
export function decodeState(bytes: Uint8Array): RatchetState {
  if (!(bytes instanceof Uint8Array)) throw new RatchetError('BAD_STATE', 'state bytes must be a Uint8Array');
  try {
    return readState(new Reader(bytes));
  } catch (e) {
    if (e instanceof MalformedError) throw new RatchetError('BAD_STATE', e.message);
    throw e;
  }
}
