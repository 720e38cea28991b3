// Padding to fixed envelope buckets (spec/crypto.md §7).
import { abytes } from './bytes.js';
import { CryptoError } from './errors.js';

export const BUCKETS = [256, 1024, 4096, 16384, 65536] as const;
/** envelope version[1] + HPKE enc[32] + AEAD tag[16] */
export const ENVELOPE_OVERHEAD = 49;
const LENGTH_PREFIX = 4;

/** Largest content that fits the largest bucket. */
export const MAX_CONTENT = 65536 - ENVELOPE_OVERHEAD - LENGTH_PREFIX;

/** The smallest bucket whose envelope holds `contentLength` bytes of content. */
export function bucketFor(contentLength: number): number {
  for (const b of BUCKETS) if (contentLength + LENGTH_PREFIX + ENVELOPE_OVERHEAD <= b) return b;
  throw new CryptoError('INVALID_ARGUMENT', `content of ${contentLength} bytes exceeds the largest bucket (max ${MAX_CONTENT})`);
}

/** length[4] || content || zeros, sized so that the sealed envelope is exactly `bucket` bytes. */
export function pad(content: Uint8Array, bucket: number = bucketFor(content.length)): Uint8Array {
  abytes(content, 'content');
  if (!(BUCKETS as readonly number[]).includes(bucket)) throw new CryptoError('INVALID_ARGUMENT', `bucket ${bucket} is not a bucket size`);
  const size = bucket - ENVELOPE_OVERHEAD;
  if (content.length + LENGTH_PREFIX > size) throw new CryptoError('INVALID_ARGUMENT', `content does not fit bucket ${bucket}`);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, content.length);
  out.set(content, LENGTH_PREFIX);
  return out;
}

/** Inverse of pad; BAD_PADDING for a wrong length prefix or a non-zero filler byte. */
export function unpad(padded: Uint8Array): Uint8Array {
  abytes(padded, 'padded');
  if (padded.length < LENGTH_PREFIX) throw new CryptoError('BAD_PADDING', 'padded text shorter than its length prefix');
  const n = new DataView(padded.buffer, padded.byteOffset, 4).getUint32(0);
  if (n > padded.length - LENGTH_PREFIX) throw new CryptoError('BAD_PADDING', 'length prefix exceeds the padded text');
  let filler = 0;
  for (let i = LENGTH_PREFIX + n; i < padded.length; i++) filler |= padded[i]!;
  if (filler !== 0) throw new CryptoError('BAD_PADDING', 'non-zero filler');
  return padded.subarray(LENGTH_PREFIX, LENGTH_PREFIX + n);
}
