// Passphrase key derivation for the client's local store (spec/client.md §7): scrypt
// (RFC 7914) from @noble/hashes, run asynchronously so that the event loop keeps turning.
// The parameters travel with the salt in the store header, so that a store made with one
// cost opens with that cost.
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { abytes, utf8 } from './bytes.js';
import { CryptoError } from './errors.js';

export interface ScryptParams {
  /** CPU/memory cost, a power of two: 2^10 .. 2^22. */
  readonly N: number;
  /** Block size, 1 .. 32. */
  readonly r: number;
  /** Parallelisation, 1 .. 16. */
  readonly p: number;
}

/** 2^17, 8, 1: 128 MiB and about half a second in pure JavaScript on a laptop core (OWASP's floor for scrypt). */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 1 << 17, r: 8, p: 1 });
export const PASSPHRASE_SALT_LENGTH = 16;

export function checkScryptParams(params: ScryptParams): ScryptParams {
  const { N, r, p } = params ?? ({} as ScryptParams);
  const pow2 = Number.isSafeInteger(N) && N >= 1 << 10 && N <= 1 << 22 && (N & (N - 1)) === 0;
  if (!pow2) throw new CryptoError('INVALID_ARGUMENT', 'scrypt N must be a power of two in 2^10 .. 2^22');
  if (!Number.isSafeInteger(r) || r < 1 || r > 32) throw new CryptoError('INVALID_ARGUMENT', 'scrypt r must be in 1 .. 32');
  if (!Number.isSafeInteger(p) || p < 1 || p > 16) throw new CryptoError('INVALID_ARGUMENT', 'scrypt p must be in 1 .. 16');
  return { N, r, p };
}

/**
 * scrypt(passphrase as UTF-8 NFC, salt, N, r, p) -> 32 bytes. An empty passphrase is
 * refused (INVALID_ARGUMENT): a store must never be "encrypted" under a public key.
 */
export async function derivePassphraseKey(passphrase: string, salt: Uint8Array, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<Uint8Array> {
  if (typeof passphrase !== 'string') throw new CryptoError('INVALID_TYPE', 'passphrase must be a string');
  if (passphrase.length === 0) throw new CryptoError('INVALID_ARGUMENT', 'passphrase must not be empty');
  abytes(salt, 'salt', PASSPHRASE_SALT_LENGTH);
  const { N, r, p } = checkScryptParams(params);
  const pw = utf8(passphrase.normalize('NFC'));
  try {
    return await scryptAsync(pw, salt, { N, r, p, dkLen: 32, maxmem: 128 * N * r * p + 1024 * r + 1024 * 1024 });
  } finally {
    pw.fill(0);
  }
}
