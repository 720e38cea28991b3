// A byte writer and a strict reader for the binary layouts above the frame codec (the
// client's invitation, handshake and payloads, spec/client.md §3–§5; the ratchet's messages
// and state, spec/ratchet.md §6–§7). Pure; the reader throws MalformedError on any overrun,
// and `end()` refuses trailing bytes.
import { CodedError } from '../coded-error.js';

export class MalformedError extends CodedError<'MALFORMED'> {
  constructor(message: string) {
    super('MALFORMED', message);
  }
}

export class Writer {
  private parts: Uint8Array[] = [];
  private size = 0;
  bytes(b: Uint8Array, length?: number): this {
    if (length !== undefined && b.length !== length) throw new RangeError(`expected ${length} bytes, got ${b.length}`);
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  u8(n: number): this { return this.int(n, 1); }
  u16(n: number): this { return this.int(n, 2); }
  u32(n: number): this { return this.int(n, 4); }
  /** Unsigned integer up to 2^53-1 in 8 bytes. */
  u64(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('u64 out of range');
    this.int(Math.floor(n / 2 ** 32), 4);
    return this.int(n >>> 0, 4);
  }
  /** u16 length prefix, then the bytes. */
  var16(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
  private int(n: number, width: 1 | 2 | 4): this {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** (8 * width)) throw new RangeError(`u${8 * width} out of range`);
    const b = new Uint8Array(width);
    for (let i = width - 1, v = n; i >= 0; i--, v = Math.floor(v / 256)) b[i] = v & 0xff;
    return this.bytes(b);
  }
}

export class Reader {
  private o = 0;
  constructor(private readonly b: Uint8Array) {}
  get remaining(): number { return this.b.length - this.o; }
  /** A copy of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    if (n < 0 || this.o + n > this.b.length) throw new MalformedError('truncated');
    const out = this.b.slice(this.o, this.o + n);
    this.o += n;
    return out;
  }
  u8(): number { return this.int(1); }
  u16(): number { return this.int(2); }
  u32(): number { return this.int(4); }
  u64(): number {
    const hi = this.int(4);
    if (hi > 0x1fffff) throw new MalformedError('u64 exceeds 2^53-1');
    return hi * 2 ** 32 + this.int(4);
  }
  var16(): Uint8Array { return this.bytes(this.u16()); }
  rest(): Uint8Array { return this.bytes(this.remaining); }
  end(): void {
    if (this.o !== this.b.length) throw new MalformedError(`${this.b.length - this.o} trailing bytes`);
  }
  private int(width: number): number {
    const b = this.bytes(width);
    let n = 0;
    for (const x of b) n = n * 256 + x;
    return n;
  }
}
