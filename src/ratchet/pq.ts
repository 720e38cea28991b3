// The sparse post-quantum ratchet that runs beside the Double Ratchet (spec/ratchet.md §12):
// numbered ML-KEM-768 exchanges whose 1,184-byte encapsulation key and 1,088-byte ciphertext
// travel in 128-byte chunks, one per message, inside the encrypted part of ordinary messages.
// Each chunk carries its exchange, attempt and index, so chunks may arrive lost, late or out of
// order; the sending side repeats its chunks in a cycle until the peer shows it has them. The
// secret of a finished exchange is mixed into the root key by ratchet.ts (kdfRkHybrid).
//
// Pure state transitions on an immutable PqState: nothing here overwrites a secret, since a
// draft of a failed decrypt shares the state's buffers; wipePqNotIn does it at commit.
import {
  MLKEM768_CIPHERTEXT_LENGTH, MLKEM768_ENCAPSULATION_KEY_LENGTH, MLKEM768_SEED_LENGTH, MLKEM_MESSAGE_LENGTH,
  isCryptoError, mlKem768Decapsulate, mlKem768Encapsulate, mlKem768EncapsulationKey, mlKem768KeyPair, wipe,
  type MlKem768Ciphertext, type MlKem768Seed, type MlKemSharedSecret,
} from '../crypto/index.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import { RatchetError } from './errors.js';

// ---- §12.3 chunks and limits ------------------------------------------------------------

/** Bytes of KEM data in one message, at most. */
export const PQ_CHUNK = 128;
/** Peer messages received in one attempt without finishing it before the encapsulation-key side starts over. */
export const PQ_RESTART_AFTER = 48;
/** ack[4] || kind[1]: the field of a message that carries no chunk. */
export const PQ_FIELD_MIN = 5;
/** ack, kind, exchange[4], attempt[1], index[1], length[2]: before the chunk's bytes. */
export const PQ_CHUNK_OVERHEAD = 13;
/** The most a message's PQ field can take: PQ_CHUNK_OVERHEAD + PQ_CHUNK. */
export const PQ_FIELD_MAX = PQ_CHUNK_OVERHEAD + PQ_CHUNK;

const KIND_NONE = 0;
const KIND_EK = 1;
const KIND_CT = 2;
const LENGTHS: Record<number, number> = { [KIND_EK]: MLKEM768_ENCAPSULATION_KEY_LENGTH, [KIND_CT]: MLKEM768_CIPHERTEXT_LENGTH };

/** Chunks of a value of `length` bytes (10 for a key, 9 for a ciphertext). */
export const chunkCount = (length: number): number => Math.ceil(length / PQ_CHUNK);
const chunkLength = (length: number, index: number): number => Math.min(PQ_CHUNK, length - index * PQ_CHUNK);

// ---- §12.2 state ------------------------------------------------------------------------

/** A finished exchange's secret, kept until it is mixed into the root key. */
export interface PqSecret { readonly exchange: number; readonly key: MlKemSharedSecret }

export interface PqState {
  /** This side sent the session's first message; it sends the keys of odd exchanges. */
  readonly initiator: boolean;
  /** The exchange under way, from 1. */
  readonly exchange: number;
  /** Its attempt (0–255); the key side starts a new one with a fresh key when one stalls. */
  readonly attempt: number;
  /** The last exchange mixed into the root key (0: none); the same on both sides at each root step. */
  readonly mixed: number;
  /** The exchange mixed when the current sending chain was made (0: none); sent in each header. */
  readonly sendEpoch: number;
  /** The last exchange this side finished (sent as `ack`). */
  readonly done: number;
  /** The last exchange the peer finished (its `ack`). */
  readonly peerDone: number;
  /** Key side: the decapsulation key of this attempt. */
  readonly seed: MlKem768Seed | null;
  /** What this side sends chunks of: its encapsulation key, or its ciphertext. */
  readonly outgoing: Uint8Array | null;
  /** The next chunk to send, counted without end (index = count mod chunks). */
  readonly sent: number;
  /** Key side: a ciphertext chunk of this attempt has arrived, so the peer holds the whole key. */
  readonly peerHasKey: boolean;
  /** What the peer's chunks are assembled into, and a bit per chunk received. */
  readonly incoming: Uint8Array | null;
  readonly received: number;
  /** Key side: peer messages received in this attempt. */
  readonly peerMessages: number;
  readonly secret: PqSecret | null;
  /**
   * The handshake's KEM (§12.7), until the first DH step: the initiator's ciphertext to the
   * acceptor's key, carried in the header of every message of its first chain; the
   * acceptor's seed, to decapsulate it when the first message arrives.
   */
  readonly handshakeCiphertext: MlKem768Ciphertext | null;
  readonly handshakeSeed: MlKem768Seed | null;
}

export function initialPq(initiator: boolean): PqState {
  return {
    initiator, exchange: 1, attempt: 0, mixed: 0, sendEpoch: 0, done: 0, peerDone: 0, seed: null, outgoing: null, sent: 0,
    peerHasKey: false, incoming: null, received: 0, peerMessages: 0, secret: null, handshakeCiphertext: null, handshakeSeed: null,
  };
}

/** Whether this side sends the encapsulation key of `exchange` (the initiator the odd ones). */
export const isKeySide = (pq: PqState, exchange = pq.exchange): boolean => (exchange % 2 === 1) === pq.initiator;

/** A fresh attempt of the current exchange: nothing sent or received yet. */
function resetAttempt(pq: PqState, attempt: number): PqState {
  return { ...pq, attempt, seed: null, outgoing: null, sent: 0, peerHasKey: false, incoming: null, received: 0, peerMessages: 0, secret: null };
}

// ---- §12.4 mixing -------------------------------------------------------------------------

/**
 * The secret to mix at a sending root step, if any: a finished exchange not yet mixed that the
 * peer is known to hold too. The key side knows it once it has decapsulated (the peer
 * encapsulated first); the ciphertext side once the peer's `ack` names the exchange.
 */
export function secretToMix(pq: PqState): PqSecret | null {
  const s = pq.secret;
  if (s === null || s.exchange <= pq.mixed) return null;
  return isKeySide(pq, s.exchange) || pq.peerDone >= s.exchange ? s : null;
}

/** After a root step that mixed `exchange`: the next exchange starts, with the other side's key. */
export function afterMix(pq: PqState, exchange: number): PqState {
  return resetAttempt({ ...pq, mixed: exchange, exchange: exchange + 1 }, 0);
}

// ---- §12.3 the field in each message --------------------------------------------------------

export interface PqChunk { readonly kind: number; readonly exchange: number; readonly attempt: number; readonly index: number; readonly bytes: Uint8Array }
export interface PqField { readonly ack: number; readonly chunk: PqChunk | null }

export function encodePqField(f: PqField): Uint8Array {
  const w = new Writer().u32(f.ack).u8(f.chunk ? f.chunk.kind : KIND_NONE);
  if (f.chunk) w.u32(f.chunk.exchange).u8(f.chunk.attempt).u8(f.chunk.index).u16(f.chunk.bytes.length).bytes(f.chunk.bytes);
  return w.finish();
}

/** Splits an opened plaintext into its PQ field and the caller's plaintext; MALFORMED if the field is not one. */
export function decodePqField(plaintext: Uint8Array): { field: PqField; rest: Uint8Array } {
  try {
    const r = new Reader(plaintext);
    const ack = r.u32();
    const kind = r.u8();
    if (kind === KIND_NONE) return { field: { ack, chunk: null }, rest: r.rest() };
    const total = LENGTHS[kind];
    if (total === undefined) throw new MalformedError(`unknown chunk kind ${kind}`);
    const exchange = r.u32(), attempt = r.u8(), index = r.u8(), length = r.u16();
    if (exchange === 0 || index >= chunkCount(total) || length !== chunkLength(total, index)) throw new MalformedError('chunk out of range');
    return { field: { ack, chunk: { kind, exchange, attempt, index, bytes: r.bytes(length) } }, rest: r.rest() };
  } catch (e) {
    if (e instanceof MalformedError) throw new RatchetError('MALFORMED', `post-quantum field: ${e.message}`);
    throw e;
  }
}

/**
 * The field of the next message and the state after sending it. `room` is the number of bytes
 * the caller can spare for it; a chunk goes only if it fits (the field is never shorter than
 * PQ_FIELD_MIN). The key side makes its key pair when it first sends a chunk of it.
 */
export function nextPqField(pq: PqState, room: number, random: (n: number) => Uint8Array): { field: PqField; pq: PqState } {
  let next = pq;
  let kind = KIND_NONE;
  if (isKeySide(pq)) {
    if (pq.secret === null && !pq.peerHasKey) kind = KIND_EK;
  } else if (pq.outgoing !== null && pq.peerDone < pq.exchange) {
    kind = KIND_CT;
  }
  if (kind === KIND_NONE) return { field: { ack: pq.done, chunk: null }, pq };
  const total = LENGTHS[kind]!;
  const index = next.sent % chunkCount(total);
  const length = chunkLength(total, index);
  if (room < PQ_CHUNK_OVERHEAD + length) return { field: { ack: pq.done, chunk: null }, pq };
  if (kind === KIND_EK && next.outgoing === null) {
    const pair = mlKem768KeyPair(random(MLKEM768_SEED_LENGTH).slice());
    next = { ...next, seed: pair.seed, outgoing: pair.encapsulationKey };
  }
  const bytes = next.outgoing!.slice(index * PQ_CHUNK, index * PQ_CHUNK + length);
  return {
    field: { ack: pq.done, chunk: { kind, exchange: pq.exchange, attempt: pq.attempt, index, bytes } },
    pq: { ...next, sent: next.sent + 1 },
  };
}

/** Adds a chunk to `incoming`; returns the new buffer and bit set. */
function assemble(pq: PqState, chunk: PqChunk, total: number): { incoming: Uint8Array; received: number } {
  const incoming = pq.incoming ? pq.incoming.slice() : new Uint8Array(total);
  incoming.set(chunk.bytes, chunk.index * PQ_CHUNK);
  return { incoming, received: pq.received | (1 << chunk.index) };
}

const complete = (received: number, total: number): boolean => received === (1 << chunkCount(total)) - 1;

/**
 * The state after an authenticated message's field: the peer's `ack`, then its chunk if it
 * belongs to the exchange and attempt under way (any other is stale and ignored). A finished
 * key makes the ciphertext side encapsulate; a finished ciphertext makes the key side
 * decapsulate. A key side that has heard PQ_RESTART_AFTER messages of the peer in an attempt
 * without finishing it starts a new attempt (its chunks or the peer's were lost too long).
 */
export function receivePqField(pq: PqState, field: PqField, random: (n: number) => Uint8Array): PqState {
  let next: PqState = { ...pq, peerDone: Math.max(pq.peerDone, field.ack) };
  const c = field.chunk;
  const keySide = isKeySide(next);
  if (c !== null && c.exchange === next.exchange) {
    if (keySide && c.kind === KIND_CT && c.attempt === next.attempt && next.seed !== null && next.secret === null) {
      next = { ...next, peerHasKey: true, ...assemble(next, c, MLKEM768_CIPHERTEXT_LENGTH) };
      if (complete(next.received, MLKEM768_CIPHERTEXT_LENGTH)) {
        const key = mlKem768Decapsulate(next.seed!, next.incoming as MlKem768Ciphertext);
        next = { ...next, seed: null, outgoing: null, incoming: null, received: 0, done: next.exchange, secret: { exchange: next.exchange, key } };
      }
    } else if (!keySide && c.kind === KIND_EK) {
      const ahead = (c.attempt - next.attempt) & 0xff; // attempts count modulo 256
      if (ahead > 0 && ahead < 128) next = resetAttempt(next, c.attempt); // the key side started over
      if (c.attempt === next.attempt && next.outgoing === null) {
        next = { ...next, ...assemble(next, c, MLKEM768_ENCAPSULATION_KEY_LENGTH) };
        if (complete(next.received, MLKEM768_ENCAPSULATION_KEY_LENGTH)) next = encapsulate(next, random);
      }
    }
  }
  if (keySide && next.secret === null) {
    next = { ...next, peerMessages: next.peerMessages + 1 };
    if (next.peerMessages >= PQ_RESTART_AFTER) next = resetAttempt(next, (next.attempt + 1) & 0xff);
  }
  return next;
}

function encapsulate(pq: PqState, random: (n: number) => Uint8Array): PqState {
  let ek;
  try {
    ek = mlKem768EncapsulationKey(pq.incoming);
  } catch (e) {
    // A key that fails the modulus check: wait for the peer's next attempt.
    if (isCryptoError(e)) return { ...pq, incoming: null, received: 0 };
    throw e;
  }
  const { ciphertext, sharedSecret } = mlKem768Encapsulate(ek, random(MLKEM_MESSAGE_LENGTH).slice());
  return { ...pq, incoming: null, received: 0, outgoing: ciphertext, sent: 0, done: pq.exchange, secret: { exchange: pq.exchange, key: sharedSecret } };
}

/** Overwrites the secrets `old` holds and `kept` does not (the seed, the finished secret). */
export function wipePqNotIn(old: PqState | null, kept: PqState | null): void {
  if (old === null) return;
  if (old.seed !== null && old.seed !== kept?.seed) wipe(old.seed);
  if (old.secret !== null && old.secret.key !== kept?.secret?.key) wipe(old.secret.key);
  if (old.handshakeSeed !== null && old.handshakeSeed !== kept?.handshakeSeed) wipe(old.handshakeSeed);
}

// ---- §12.6 state encoding ----------------------------------------------------------------------

export function writePq(w: Writer, pq: PqState): void {
  const flags = (pq.initiator ? 1 : 0) | (pq.peerHasKey ? 2 : 0) | (pq.seed ? 4 : 0) | (pq.outgoing ? 8 : 0)
    | (pq.incoming ? 16 : 0) | (pq.secret ? 32 : 0) | (pq.handshakeCiphertext ? 64 : 0) | (pq.handshakeSeed ? 128 : 0);
  w.u8(flags).u32(pq.exchange).u8(pq.attempt).u32(pq.mixed).u32(pq.sendEpoch).u32(pq.done).u32(pq.peerDone)
    .u32(pq.sent).u16(pq.received).u16(pq.peerMessages);
  if (pq.seed) w.bytes(pq.seed, MLKEM768_SEED_LENGTH);
  if (pq.outgoing) w.var16(pq.outgoing);
  if (pq.incoming) w.var16(pq.incoming);
  if (pq.secret) w.u32(pq.secret.exchange).bytes(pq.secret.key, 32);
  if (pq.handshakeCiphertext) w.bytes(pq.handshakeCiphertext, MLKEM768_CIPHERTEXT_LENGTH);
  if (pq.handshakeSeed) w.bytes(pq.handshakeSeed, MLKEM768_SEED_LENGTH);
}

export function readPq(r: Reader): PqState {
  const flags = r.u8();
  const bad = (c: boolean, m: string): void => { if (c) throw new RatchetError('BAD_STATE', `post-quantum state: ${m}`); };
  bad(flags > 255, 'unknown flags');
  const exchange = r.u32(), attempt = r.u8(), mixed = r.u32(), sendEpoch = r.u32(), done = r.u32(), peerDone = r.u32();
  const sent = r.u32(), received = r.u16(), peerMessages = r.u16();
  const seed = flags & 4 ? (r.bytes(MLKEM768_SEED_LENGTH) as MlKem768Seed) : null;
  const outgoing = flags & 8 ? r.var16() : null;
  const incoming = flags & 16 ? r.var16() : null;
  const secret = flags & 32 ? { exchange: r.u32(), key: r.bytes(32) as MlKemSharedSecret } : null;
  const handshakeCiphertext = flags & 64 ? (r.bytes(MLKEM768_CIPHERTEXT_LENGTH) as MlKem768Ciphertext) : null;
  const handshakeSeed = flags & 128 ? (r.bytes(MLKEM768_SEED_LENGTH) as MlKem768Seed) : null;
  const pq: PqState = {
    initiator: (flags & 1) === 1, exchange, attempt, mixed, sendEpoch, done, peerDone, seed, outgoing, sent,
    peerHasKey: (flags & 2) === 2, incoming, received, peerMessages, secret, handshakeCiphertext, handshakeSeed,
  };
  bad(exchange !== mixed + 1 || sendEpoch > mixed || done > exchange || peerMessages >= PQ_RESTART_AFTER, 'counters out of range');
  const keySide = isKeySide(pq);
  const outLength = keySide ? MLKEM768_ENCAPSULATION_KEY_LENGTH : MLKEM768_CIPHERTEXT_LENGTH;
  const inLength = keySide ? MLKEM768_CIPHERTEXT_LENGTH : MLKEM768_ENCAPSULATION_KEY_LENGTH;
  bad(outgoing !== null && outgoing.length !== outLength, 'outgoing length');
  bad(incoming !== null && incoming.length !== inLength, 'incoming length');
  bad(received >= 1 << chunkCount(inLength) || (incoming === null) !== (received === 0), 'received chunks');
  bad(keySide && (seed === null) !== (outgoing === null), 'key without its seed');
  bad(!keySide && seed !== null, 'a seed on the ciphertext side');
  bad(secret !== null && secret.exchange !== exchange, 'secret of another exchange');
  bad(handshakeCiphertext !== null && !pq.initiator, 'a handshake ciphertext on the acceptor');
  bad(handshakeSeed !== null && pq.initiator, 'a handshake seed on the initiator');
  return pq;
}
