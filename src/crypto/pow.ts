// Proof-of-work for sends to public mailboxes (spec/crypto.md §8).
import { abytes, aint, concat } from './bytes.js';
import { LABELS } from './labels.js';
import { randomBytes, sha256 } from './primitives.js';

export function powDigest(serverNonce: Uint8Array, sendId: Uint8Array, envelope: Uint8Array, nonce: Uint8Array): Uint8Array {
  abytes(serverNonce, 'serverNonce', 32);
  abytes(sendId, 'sendId', 32);
  abytes(nonce, 'nonce', 32);
  return sha256(concat(LABELS.pow, serverNonce, sendId, sha256(abytes(envelope, 'envelope')), nonce));
}

/** Number of leading zero bits, most significant bit of byte 0 first. */
export function leadingZeroBits(digest: Uint8Array): number {
  let n = 0;
  for (const byte of digest) {
    if (byte === 0) { n += 8; continue; }
    return n + Math.clz32(byte) - 24;
  }
  return n;
}

export function verifyPow(serverNonce: Uint8Array, sendId: Uint8Array, envelope: Uint8Array, nonce: Uint8Array, difficulty: number): boolean {
  return leadingZeroBits(powDigest(serverNonce, sendId, envelope, nonce)) >= difficulty;
}

/**
 * Finds a nonce meeting `difficulty` (expected 2^difficulty hashes). The envelope hash is
 * computed once; `start` makes the search deterministic for vectors.
 */
export function solvePow(serverNonce: Uint8Array, sendId: Uint8Array, envelope: Uint8Array, difficulty: number, start: Uint8Array = randomBytes(32)): Uint8Array {
  aint(difficulty, 'difficulty', 0, 40);
  abytes(serverNonce, 'serverNonce', 32);
  abytes(sendId, 'sendId', 32);
  const nonce = new Uint8Array(abytes(start, 'start', 32));
  const prefix = concat(LABELS.pow, serverNonce, sendId, sha256(abytes(envelope, 'envelope')));
  const buf = new Uint8Array(prefix.length + 32);
  buf.set(prefix);
  const dv = new DataView(nonce.buffer);
  for (;;) {
    buf.set(nonce, prefix.length);
    if (leadingZeroBits(sha256(buf)) >= difficulty) return nonce;
    // the last 8 bytes count up; 2^64 tries is beyond any difficulty we allow
    const lo = dv.getUint32(28) + 1;
    dv.setUint32(28, lo >>> 0);
    if (lo > 0xffffffff) dv.setUint32(24, (dv.getUint32(24) + 1) >>> 0);
  }
}
