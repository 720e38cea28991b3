// Assertions shared by the ratchet's tests: a RatchetError with a given code, and the same
// with the state byte for byte unchanged (spec/ratchet.md §5.4).
import * as assert from 'uvu/assert';
import { encodeState, isRatchetError, type RatchetErrorCode, type RatchetState } from '../../src/ratchet/index.js';
import { toHex } from '../../src/crypto/index.js';

export function rejects(fn: () => unknown, code: RatchetErrorCode): void {
  try {
    fn();
  } catch (e) {
    assert.ok(isRatchetError(e), `RatchetError expected, got ${String(e)}`);
    assert.is(e.code, code, (e as Error).message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

/** The operation fails with `code` and the state is byte for byte what it was. */
export function rejectsUnchanged(p: { state: RatchetState }, fn: () => unknown, code: RatchetErrorCode): void {
  const before = encodeState(p.state);
  rejects(fn, code);
  assert.equal(toHex(encodeState(p.state)), toHex(before), 'state unchanged');
}
