// Messages larger than one envelope, in chunks (spec/groups.md §12.3): a Welcome or a Commit of a
// large group does not fit the largest envelope bucket. Each chunk names its message (8 random
// bytes), its index and the count; the receiver keeps the pieces of a few messages at a time,
// bounded in count, size and age, and hands the whole message on once every piece is there.
import { randomBytes, toHex } from '../crypto/index.js';
import { MalformedError, type Reader, type Writer } from '../wire/bytes-codec.js';

/** Bytes of message per chunk: with its headers it fits the largest bucket (crypto.md §7). */
export const CHUNK_BYTES = 56_000;
/** At most this many chunks to a message (3.5 MB). */
export const MAX_CHUNKS = 64;
/** Messages being put together at once, per source (a mailbox or a contact). */
export const MAX_PARTIAL = 16;
/** A message whose pieces have not all come within this time is dropped. */
export const PARTIAL_TTL_MS = 10 * 60_000;

export interface Chunk {
  readonly messageId: Uint8Array;
  readonly index: number;
  readonly count: number;
  readonly data: Uint8Array;
}

export function writeChunk(w: Writer, c: Chunk): void {
  w.bytes(c.messageId, 8).u16(c.index).u16(c.count).bytes(c.data);
}
export function readChunk(r: Reader): Chunk {
  const messageId = r.bytes(8);
  const index = r.u16();
  const count = r.u16();
  if (count < 1 || count > MAX_CHUNKS || index >= count) throw new MalformedError('bad chunk index');
  return { messageId, index, count, data: r.rest() };
}

/** Splits a message into chunks of at most CHUNK_BYTES. */
export function split(message: Uint8Array): Chunk[] {
  const count = Math.max(1, Math.ceil(message.length / CHUNK_BYTES));
  if (count > MAX_CHUNKS) throw new RangeError(`a message of ${message.length} bytes needs more than ${MAX_CHUNKS} chunks`);
  const messageId = randomBytes(8);
  return Array.from({ length: count }, (_, index) => ({
    messageId, index, count, data: message.subarray(index * CHUNK_BYTES, Math.min(message.length, (index + 1) * CHUNK_BYTES)),
  }));
}

interface Partial { readonly count: number; readonly parts: (Uint8Array | undefined)[]; have: number; readonly started: number }

/** Puts chunks back together, per source. */
export class Reassembler {
  private readonly partial = new Map<string, Map<string, Partial>>();

  /** The whole message once its last piece arrives, else undefined. Malformed or excess pieces are dropped. */
  add(source: string, c: Chunk, now = Date.now()): Uint8Array | undefined {
    if (c.count === 1) return c.data;
    let mine = this.partial.get(source);
    if (!mine) { mine = new Map(); this.partial.set(source, mine); }
    for (const [k, p] of mine) if (now - p.started > PARTIAL_TTL_MS) mine.delete(k);
    const key = toHex(c.messageId);
    let p = mine.get(key);
    if (!p) {
      if (mine.size >= MAX_PARTIAL) mine.delete(mine.keys().next().value!);
      p = { count: c.count, parts: new Array(c.count).fill(undefined), have: 0, started: now };
      mine.set(key, p);
    }
    if (p.count !== c.count || p.parts[c.index]) return undefined;
    p.parts[c.index] = c.data;
    p.have++;
    if (p.have < p.count) return undefined;
    mine.delete(key);
    if (mine.size === 0) this.partial.delete(source);
    const total = p.parts.reduce((n, x) => n + x!.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const x of p.parts) { out.set(x!, o); o += x!.length; }
    return out;
  }

  forget(source: string): void { this.partial.delete(source); }
}
