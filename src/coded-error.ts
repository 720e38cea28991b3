// The one base of the project's error classes: each layer has its own subclass with a closed
// set of string codes (spec/crypto.md §1.3, spec/client.md §11, spec/ratchet.md §9). Callers
// branch on `code`, never on message text or class name; `message` starts with the code.
export abstract class CodedError<Code extends string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A type guard for one subclass and, optionally, one of its codes. */
export function codedGuard<E extends CodedError<string>>(
  cls: abstract new (...args: never[]) => E,
): (e: unknown, code?: E['code']) => e is E {
  return (e: unknown, code?: E['code']): e is E => e instanceof cls && (code === undefined || e.code === code);
}
