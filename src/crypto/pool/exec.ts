// Runs one packed chunk: the body of a worker, and of `runPacked` on a size-0 pool.
import { CryptoError } from '../errors.js';
import { packFields, unpackFields } from './codec.js';
import { OPS, errorStatus, isPoolOp } from './ops.js';

/** Executes every item of a packed chunk; an item that throws gets an error status in its slot. */
export function execPacked(op: string, buffer: ArrayBuffer): ArrayBuffer {
  if (!isPoolOp(op)) throw new CryptoError('INVALID_ARGUMENT', `unknown pool operation ${String(op)}`);
  const def = OPS[op];
  const view = unpackFields(buffer);
  if (view.arity !== def.arity) throw new CryptoError('INVALID_ARGUMENT', `${op} items have ${def.arity} fields, the batch says ${view.arity}`);
  const out: (Uint8Array[] | number)[] = new Array(view.count);
  for (let i = 0; i < view.count; i++) {
    const s = view.status(i);
    if (s !== 0) { out[i] = s; continue; }
    try {
      out[i] = def.exec(view.fields(i));
    } catch (e) {
      out[i] = errorStatus(e);
    }
  }
  return packFields(out, def.resultArity);
}
