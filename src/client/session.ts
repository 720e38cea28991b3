// The session adapter: the one place where the client meets the Double Ratchet
// (src/client/ratchet.ts, spec/ratchet.md; spec/client.md §4–§6). The inviter starts as the
// ratchet's sender with Bob's E_B, the acceptor as its receiver with E_B; AD is the
// handshake transcript hash.
import type { X25519KeyPair, X25519PublicKey } from '../crypto/index.js';
import { decodeState, decrypt, encodeState, encrypt, initReceiver, initSender, isRatchetError, type RatchetState } from '../ratchet/index.js';

export type Session = RatchetState;

export type SessionFailure = 'replay' | 'undecryptable';
export class SessionError extends Error {
  constructor(readonly reason: SessionFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SessionError';
  }
}

/** The inviter (spec/client.md §4.2): knows the acceptor's ratchet key E_B, sends first. */
export const startInitiator = (sk: Uint8Array, ad: Uint8Array, remote: X25519PublicKey): Session => initSender(sk, ad, remote);
/** The acceptor (spec/client.md §4.1): its ratchet key pair is E_B. */
export const startResponder = (sk: Uint8Array, ad: Uint8Array, own: X25519KeyPair): Session => initReceiver(sk, ad, own);

export function sessionEncrypt(s: Session, plaintext: Uint8Array): Uint8Array {
  return encrypt(s, plaintext);
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
