// Byte helpers used at every public boundary of the crypto core: validation that names
// the argument, constant-time comparison, encoding and wiping. Pure functions.
import { CryptoError } from './errors.js';

export function isBytes(a: unknown): a is Uint8Array {
  return a instanceof Uint8Array || (ArrayBuffer.isView(a) && a.constructor.name === 'Uint8Array');
}

/** Throws INVALID_TYPE unless `value` is a Uint8Array, INVALID_LENGTH unless its length is one of `lengths`. */
export function abytes(value: unknown, name: string, ...lengths: number[]): Uint8Array {
  if (!isBytes(value)) throw new CryptoError('INVALID_TYPE', `${name} must be a Uint8Array`);
  if (lengths.length > 0 && !lengths.includes(value.length)) {
    throw new CryptoError('INVALID_LENGTH', `${name} must be ${lengths.join(' or ')} bytes, got ${value.length}`);
  }
  return value;
}

/** Throws unless `value` is an integer in [min, max]. */
export function aint(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new CryptoError('INVALID_TYPE', `${name} must be an integer`);
  if (value < min || value > max) throw new CryptoError('INVALID_ARGUMENT', `${name} must be in [${min}, ${max}], got ${value}`);
  return value;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (let i = 0; i < parts.length; i++) {
    // Uint8Array.set would copy a string or array as zeroes or truncated numbers.
    if (!isBytes(parts[i])) throw new CryptoError('INVALID_TYPE', `parts[${i}] must be a Uint8Array`);
    n += parts[i]!.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Compares two byte strings in time that depends only on their lengths. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  abytes(a, 'a'); abytes(b, 'b'); // two different strings would otherwise compare equal (NaN ^ NaN === 0)
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Orders byte strings lexicographically (negative, 0, positive); not constant-time: for public values. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  abytes(a, 'a'); abytes(b, 'b');
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function isAllZero(a: Uint8Array): boolean {
  abytes(a, 'a');
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]!;
  return acc === 0;
}

/** Overwrites secrets in place. JavaScript may still hold copies (GC moves, strings); this narrows the window. */
export function wipe(...arrays: (Uint8Array | undefined)[]): void {
  for (const a of arrays) if (a !== undefined) abytes(a, 'arrays[]').fill(0);
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });
export function utf8(s: string): Uint8Array {
  if (typeof s !== 'string') throw new CryptoError('INVALID_TYPE', 's must be a string'); // encode() would stringify it
  return textEncoder.encode(s);
}
export function fromUtf8(b: Uint8Array): string {
  abytes(b, 'b');
  try { return textDecoder.decode(b); } catch { throw new CryptoError('INVALID_ARGUMENT', 'b is not valid UTF-8'); }
}

export function toHex(b: Uint8Array): string {
  abytes(b, 'b');
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new CryptoError('INVALID_ARGUMENT', 'hex string of even length expected');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_INDEX = new Map([...B64URL].map((c, i) => [c, i]));

/** Unpadded base64url (RFC 4648 §5), the encoding of keys and ids in addresses and links. */
export function toBase64url(b: Uint8Array): string {
  abytes(b, 'b');
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  if (i < b.length) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8);
    s += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]!;
    if (i + 1 < b.length) s += B64URL[(n >> 6) & 63]!;
  }
  return s;
}

/** Strict unpadded base64url decoding: rejects padding, foreign characters and non-zero trailing bits. */
export function fromBase64url(s: string): Uint8Array {
  if (typeof s !== 'string' || s.length % 4 === 1) throw new CryptoError('INVALID_ARGUMENT', 'malformed base64url');
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0, bits = 0, o = 0;
  for (const c of s) {
    const v = B64URL_INDEX.get(c);
    if (v === undefined) throw new CryptoError('INVALID_ARGUMENT', 'malformed base64url');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) { bits -= 8; out[o++] = (acc >> bits) & 0xff; }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw new CryptoError('NON_CANONICAL', 'base64url has non-zero trailing bits');
  return out;
}

export function u32be(n: number): Uint8Array {
  aint(n, 'n', 0, 0xffffffff); // >>> 0 would wrap silently
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
}

export function u16be(n: number): Uint8Array {
  aint(n, 'n', 0, 0xffff);
  return new Uint8Array([(n >>> 8) & 0xff, n & 0xff]);
}
