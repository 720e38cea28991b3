// The TLS presentation language as RFC 9420 §2.1 uses it: big-endian fixed-width integers,
// variable-length vectors with the QUIC-style varint length of §2.1.2 (1, 2 or 4 bytes,
// minimal encoding required), optional<T> as a presence byte. Pure. The reader throws
// MlsError('MALFORMED') on any overrun, non-minimal length or trailing bytes.
import { MlsError } from './errors.js';

const MAX_VARINT = 0x3fffffff; // 2^30 - 1, the largest 4-byte varint (§2.1.2)

export class TlsWriter {
  private buf: Uint8Array;
  private o = 0;
  constructor(initial = 256) { this.buf = new Uint8Array(initial); }
  get length(): number { return this.o; }
  private room(n: number): void {
    if (this.o + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.o + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.o));
    this.buf = next;
  }
  u8(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new RangeError('uint8 out of range');
    this.room(1); this.buf[this.o++] = n; return this;
  }
  u16(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError('uint16 out of range');
    this.room(2); this.buf[this.o++] = n >>> 8; this.buf[this.o++] = n & 0xff; return this;
  }
  u32(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('uint32 out of range');
    this.room(4);
    this.buf[this.o++] = n >>> 24; this.buf[this.o++] = (n >>> 16) & 0xff; this.buf[this.o++] = (n >>> 8) & 0xff; this.buf[this.o++] = n & 0xff;
    return this;
  }
  u64(n: bigint): this {
    if (n < 0n || n > 0xffffffffffffffffn) throw new RangeError('uint64 out of range');
    this.u32(Number(n >> 32n));
    return this.u32(Number(n & 0xffffffffn));
  }
  /** §2.1.2 variable-length integer, minimal encoding. */
  varint(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > MAX_VARINT) throw new RangeError('varint out of range');
    if (n < 0x40) return this.u8(n);
    if (n < 0x4000) return this.u16(0x4000 | n);
    return this.u32((0x80000000 | n) >>> 0);
  }
  /** Raw bytes, no length. */
  raw(b: Uint8Array): this {
    this.room(b.length); this.buf.set(b, this.o); this.o += b.length; return this;
  }
  /** opaque<V>: varint length, then the bytes. */
  opaque(b: Uint8Array): this { return this.varint(b.length).raw(b); }
  /** T<V>: the items encoded back to back, prefixed by their total length. */
  vector<T>(items: readonly T[], item: (w: TlsWriter, v: T) => void): this {
    const inner = new TlsWriter(64);
    for (const v of items) item(inner, v);
    return this.opaque(inner.finish());
  }
  /** optional<T>: 0, or 1 then the value. */
  optional<T>(v: T | undefined, item: (w: TlsWriter, v: T) => void): this {
    if (v === undefined) return this.u8(0);
    this.u8(1);
    item(this, v);
    return this;
  }
  finish(): Uint8Array { return this.buf.slice(0, this.o); }
}

export class TlsReader {
  private o: number;
  constructor(private readonly b: Uint8Array, start = 0, private readonly end = b.length) { this.o = start; }
  get remaining(): number { return this.end - this.o; }
  get offset(): number { return this.o; }
  private need(n: number): void {
    if (n < 0 || this.o + n > this.end) throw new MlsError('MALFORMED', 'truncated');
  }
  u8(): number { this.need(1); return this.b[this.o++]!; }
  u16(): number { this.need(2); const v = (this.b[this.o]! << 8) | this.b[this.o + 1]!; this.o += 2; return v; }
  u32(): number {
    this.need(4);
    const v = ((this.b[this.o]! << 24) | (this.b[this.o + 1]! << 16) | (this.b[this.o + 2]! << 8) | this.b[this.o + 3]!) >>> 0;
    this.o += 4;
    return v;
  }
  u64(): bigint { const hi = this.u32(); const lo = this.u32(); return (BigInt(hi) << 32n) | BigInt(lo); }
  varint(): number {
    const first = this.u8();
    const prefix = first >>> 6;
    if (prefix === 0) return first;
    if (prefix === 1) {
      const v = ((first & 0x3f) << 8) | this.u8();
      if (v < 0x40) throw new MlsError('MALFORMED', 'varint not minimally encoded');
      return v;
    }
    if (prefix === 2) {
      this.need(3);
      const v = (((first & 0x3f) << 24) | (this.b[this.o]! << 16) | (this.b[this.o + 1]! << 8) | this.b[this.o + 2]!) >>> 0;
      this.o += 3;
      if (v < 0x4000) throw new MlsError('MALFORMED', 'varint not minimally encoded');
      return v;
    }
    throw new MlsError('MALFORMED', 'varint with reserved prefix 0b11');
  }
  /** `n` raw bytes (a copy). */
  raw(n: number): Uint8Array { this.need(n); const v = this.b.slice(this.o, this.o + n); this.o += n; return v; }
  opaque(): Uint8Array { return this.raw(this.varint()); }
  /** opaque<V> with a fixed expected length (a key or a hash). */
  opaqueOf(length: number, what: string): Uint8Array {
    const v = this.opaque();
    if (v.length !== length) throw new MlsError('MALFORMED', `${what} must be ${length} bytes, got ${v.length}`);
    return v;
  }
  vector<T>(item: (r: TlsReader) => T): T[] {
    const n = this.varint();
    this.need(n);
    const sub = new TlsReader(this.b, this.o, this.o + n);
    this.o += n;
    const out: T[] = [];
    while (sub.remaining > 0) out.push(item(sub));
    return out;
  }
  optional<T>(item: (r: TlsReader) => T): T | undefined {
    const p = this.u8();
    if (p === 0) return undefined;
    if (p !== 1) throw new MlsError('MALFORMED', 'optional presence byte must be 0 or 1');
    return item(this);
  }
  /** The bytes from `start` to the current offset (a copy): what was just read, as encoded. */
  since(start: number): Uint8Array { return this.b.slice(start, this.o); }
  done(what: string): void {
    if (this.o !== this.end) throw new MlsError('MALFORMED', `${this.end - this.o} trailing bytes after ${what}`);
  }
}

/** Encodes one value with `f` and returns the bytes. */
export function encode<T>(f: (w: TlsWriter, v: T) => void, v: T): Uint8Array {
  const w = new TlsWriter();
  f(w, v);
  return w.finish();
}

/** Decodes a whole buffer with `f`; trailing bytes are MALFORMED. */
export function decode<T>(f: (r: TlsReader) => T, b: Uint8Array, what: string): T {
  const r = new TlsReader(b);
  const v = f(r);
  r.done(what);
  return v;
}
