// The plaintext form of store records (spec/client.md §7): JSON in which byte strings are
// written as {"$b": base64url}. Records are authenticated by the store's AEAD, so decoding
// trusts their shape; it only refuses text that is not JSON.
import { fromBase64url, fromUtf8, toBase64url, utf8 } from '../crypto/index.js';

export function encodeRecord(value: unknown): Uint8Array {
  return utf8(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? { $b: toBase64url(v) } : v)));
}

/** Whether stored bytes are a JSON record (binary records, spec/client.md §7.2, never start with `{`). */
export const isJsonRecord = (bytes: Uint8Array): boolean => bytes[0] === 0x7b;

export function decodeRecord<T>(bytes: Uint8Array): T {
  return JSON.parse(fromUtf8(bytes), (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const b = o['$b'];
      if (typeof b === 'string' && Object.keys(o).length === 1) return fromBase64url(b);
    }
    return v;
  }) as T;
}
