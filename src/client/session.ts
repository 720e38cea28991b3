// The session adapter: the one place where the client meets the Double Ratchet
// (src/client/ratchet.ts, spec/ratchet.md; spec/client.md §4–§6). The inviter starts as the
// ratchet's sender with Bob's E_B, the acceptor as its receiver with E_B; AD is the
// handshake transcript hash.
import { ENVELOPE_OVERHEAD, bucketFor, type MlKem768EncapsulationKey, type MlKem768Seed, type X25519KeyPair, type X25519PublicKey } from '../crypto/index.js';
import {
  HANDSHAKE_KEM_HEADER_LENGTH, HYBRID_HEADER_LENGTH, PQ_FIELD_MIN, decodeState, decrypt, encodeState, encrypt, initReceiver,
  initSender, isRatchetError, type RatchetState,
} from '../ratchet/index.js';

export type Session = RatchetState;

export type SessionFailure = 'replay' | 'undecryptable';
export class SessionError extends Error {
  constructor(readonly reason: SessionFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SessionError';
  }
}

/**
 * The inviter (spec/client.md §4.2): knows the acceptor's ratchet key E_B, sends first. With the
 * acceptor's ML-KEM key (a version 2 hello) the session is hybrid (spec/ratchet.md §12, §12.7).
 */
export const startInitiator = (sk: Uint8Array, ad: Uint8Array, remote: X25519PublicKey, kemKey?: MlKem768EncapsulationKey): Session =>
  (kemKey ? initSender(sk, ad, remote, { hybrid: true, peerKemKey: kemKey }) : initSender(sk, ad, remote));
/** The acceptor (spec/client.md §4.1): its ratchet key pair is E_B; with the seed of the key its hello carried, hybrid. */
export const startResponder = (sk: Uint8Array, ad: Uint8Array, own: X25519KeyPair, kemSeed?: MlKem768Seed): Session =>
  (kemSeed ? initReceiver(sk, ad, own, { hybrid: true, kemSeed }) : initReceiver(sk, ad, own));

/** senderKey[32] || auth[32] (crypto.md §9) and the body's kind byte (client.md §5) around a ratchet message. */
const ENVELOPE_FIELDS = 32 + 32 + 1;
/** nonce[24] || AEAD tag[16] of a ratchet message (ratchet.md §6.2). */
const MESSAGE_FIELDS = 24 + 16;

/**
 * The room a hybrid message's KEM chunk may take (spec/ratchet.md §12.3, client.md §5.1): what
 * the envelope's padding bucket has left once the message without a chunk is in it, so that a
 * chunk never moves a message to a larger bucket.
 */
export function pqRoomFor(s: Session, plaintextLength: number): number {
  const header = s.pq?.handshakeCiphertext ? HANDSHAKE_KEM_HEADER_LENGTH : HYBRID_HEADER_LENGTH;
  const content = ENVELOPE_FIELDS + header + MESSAGE_FIELDS + PQ_FIELD_MIN + plaintextLength;
  let bucket: number;
  try { bucket = bucketFor(content); } catch { return PQ_FIELD_MIN; } // too large to send anyway
  return PQ_FIELD_MIN + bucket - ENVELOPE_OVERHEAD - 4 - content;
}

export function sessionEncrypt(s: Session, plaintext: Uint8Array): Uint8Array {
  return s.pq ? encrypt(s, plaintext, { pqRoom: pqRoomFor(s, plaintext.length) }) : encrypt(s, plaintext);
}

/** Decrypts in place (the ratchet leaves the state unchanged on failure, ratchet.md §5.4). */
export function sessionDecrypt(s: Session, message: Uint8Array): Uint8Array {
  try {
    return decrypt(s, message);
  } catch (e) {
    if (isRatchetError(e)) throw new SessionError(e.code === 'REPLAY' ? 'replay' : 'undecryptable', e.message, { cause: e });
    throw e;
  }
}

export const encodeSession = (s: Session): Uint8Array => encodeState(s);
export const decodeSession = (b: Uint8Array): Session => decodeState(b);
