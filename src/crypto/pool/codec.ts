// The packed batch format the pool sends to a worker and gets back: one ArrayBuffer per
// chunk, transferred (never copied) by postMessage. Pure functions, no Node APIs.
//
//   count[u32] arity[u32] status[u8 * count, padded to 4] offsets[u32 * (count*arity + 1)] data
//
// Item i's field j is data[offsets[i*arity + j] .. offsets[i*arity + j + 1]]. `status` is 0
// for an item (or a result) that holds its fields and an error index otherwise (then its
// fields are empty). Integers are little-endian (the platform's; both ends are this process).
import { CryptoError } from '../errors.js';

const HEADER = 8;

/** Bytes that `packFields` needs for these items. */
function layout(count: number, arity: number): { statusBytes: number; offsetsAt: number; dataAt: number } {
  const statusBytes = (count + 3) & ~3;
  const offsetsAt = HEADER + statusBytes;
  const dataAt = offsetsAt + 4 * (count * arity + 1);
  return { statusBytes, offsetsAt, dataAt };
}

/**
 * Packs `items` (each `arity` byte strings, or a non-zero status with no fields) into one
 * fresh ArrayBuffer, made with `new ArrayBuffer` so that postMessage can transfer it
 * (a `Buffer.allocUnsafe` slab would be copied instead).
 */
export function packFields(items: readonly (readonly Uint8Array[] | number)[], arity: number): ArrayBuffer {
  const count = items.length;
  const { offsetsAt, dataAt } = layout(count, arity);
  let dataBytes = 0;
  for (const it of items) {
    if (typeof it === 'number') continue;
    if (it.length !== arity) throw new CryptoError('INVALID_ARGUMENT', `packed item has ${it.length} fields, expected ${arity}`);
    for (const f of it) dataBytes += f.length;
  }
  const buffer = new ArrayBuffer(dataAt + dataBytes);
  const head = new DataView(buffer);
  head.setUint32(0, count, true);
  head.setUint32(4, arity, true);
  const status = new Uint8Array(buffer, HEADER, count);
  const offsets = new Uint32Array(buffer, offsetsAt, count * arity + 1);
  const data = new Uint8Array(buffer, dataAt);
  let o = 0;
  let k = 0;
  for (let i = 0; i < count; i++) {
    const it = items[i]!;
    if (typeof it === 'number') {
      status[i] = it;
      for (let j = 0; j < arity; j++) offsets[k++] = o;
      continue;
    }
    for (const f of it) {
      offsets[k++] = o;
      data.set(f, o);
      o += f.length;
    }
  }
  offsets[k] = o;
  return buffer;
}

/** A view over a packed buffer; fields are subarrays of it (no copy). */
export interface PackedView {
  readonly count: number;
  readonly arity: number;
  status(i: number): number;
  fields(i: number): Uint8Array[];
}

/** Reads a packed buffer, checking that its header and offsets are consistent. */
export function unpackFields(buffer: ArrayBuffer): PackedView {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < HEADER) throw new CryptoError('INVALID_ARGUMENT', 'packed batch is not an ArrayBuffer with a header');
  const head = new DataView(buffer);
  const count = head.getUint32(0, true);
  const arity = head.getUint32(4, true);
  const { offsetsAt, dataAt } = layout(count, arity);
  if (arity > 64 || dataAt > buffer.byteLength) throw new CryptoError('INVALID_ARGUMENT', 'packed batch header does not fit its buffer');
  const status = new Uint8Array(buffer, HEADER, count);
  const offsets = new Uint32Array(buffer, offsetsAt, count * arity + 1);
  const data = new Uint8Array(buffer, dataAt);
  let prev = 0;
  for (let k = 0; k < offsets.length; k++) {
    const v = offsets[k]!;
    if (v < prev || v > data.length) throw new CryptoError('INVALID_ARGUMENT', 'packed batch offsets are out of order or out of range');
    prev = v;
  }
  return {
    count,
    arity,
    status: (i) => status[i]!,
    fields: (i) => {
      const out: Uint8Array[] = new Array(arity);
      const base = i * arity;
      for (let j = 0; j < arity; j++) out[j] = data.subarray(offsets[base + j]!, offsets[base + j + 1]!);
      return out;
    },
  };
}
