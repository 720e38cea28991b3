// Asserts that a call throws one layer's coded error (src/coded-error.ts) with one code.
import * as assert from 'uvu/assert';
import type { CodedError } from '../../src/coded-error.js';

export function assertThrowsCode<E extends CodedError<string>>(
  cls: abstract new (...args: never[]) => E, label: string, fn: () => unknown, code: E['code'],
): void {
  try { fn(); } catch (e) {
    assert.ok(e instanceof cls, `${label}: threw ${String(e)} instead of ${cls.name} ${code}`);
    assert.is((e as E).code, code, `${label}: ${(e as E).message}`);
    return;
  }
  assert.unreachable(`${label}: did not throw ${code}`);
}
