// Fixtures for the linking tests (spec/devices.md §3): a Client subclass that hands the test
// the new device's client while `Client.link` is still running (so that a test can close it
// mid-link or look inside it), a look at a client's internal state, and error assertions.
import * as assert from 'uvu/assert';
import { Client, isClientError, type ClientErrorCode, type ClientOptions } from '../../src/client/index.js';
import type { ClientContext } from '../../src/client/context.js';
import { TEST_KDF, tempDir } from './_helpers.js';

export { linkDevice } from './_helpers.js';

export const PASS = 'correct horse battery staple';

/**
 * `Probe.link(...)` is `Client.link(...)`, except that every client it constructs is also
 * pushed on `Probe.made`: the new device's client exists from the moment its profile is
 * opened, before `Client.link` returns its confirmation code.
 */
export class Probe extends Client {
  static readonly made: Client[] = [];
  constructor(...args: unknown[]) {
    super(...(args as [never, never, never, never, never]));
    Probe.made.push(this);
  }
}

/** Options of a new device's profile, as `Client.link` takes them. */
export function linkOptions(relay: string, code: string, extra: Partial<ClientOptions> = {}): ClientOptions & { code: string } {
  return { dataDir: tempDir(), relay, passphrase: PASS, kdf: TEST_KDF, relayTimeoutMs: 5_000, handshakeTimeoutMs: 10_000, ...extra, code };
}

/** Starts `Probe.link` and returns, besides its promise, the new device's client as soon as it exists. */
export async function startJoin(relay: string, code: string, extra: Partial<ClientOptions> = {}): Promise<{
  opts: ClientOptions & { code: string };
  joined: Promise<{ confirmationCode: string; client: Promise<Client> }>;
  device: Client;
}> {
  const before = Probe.made.length;
  const opts = linkOptions(relay, code, extra);
  const joined = Probe.link(opts);
  joined.catch(() => undefined);
  const deadline = Date.now() + 10_000;
  while (Probe.made.length === before) {
    if (Date.now() > deadline) throw new Error('the new device never opened its profile');
    await new Promise((r) => setTimeout(r, 5));
  }
  return { opts, joined, device: Probe.made[Probe.made.length - 1]! };
}

/** The client's shared state (internal: for looking, never for changing). */
export const ctxOf = (c: Client): ClientContext => (c as unknown as { ctx: ClientContext }).ctx;

/** The client's link mailboxes (role `link`), and the attempt handlers still listening on them. */
export function linkState(c: Client): { mailboxes: number; handlers: number } {
  const ctx = ctxOf(c);
  return { mailboxes: [...ctx.mailboxes.values()].filter((m) => m.role === 'link').length, handlers: ctx.linkHandlers.size };
}

/** Awaits `p` and asserts that it rejects with a ClientError of `code`; returns the error. */
export async function rejects(p: Promise<unknown> | (() => unknown), code: ClientErrorCode, what: string): Promise<Error & { code: string }> {
  let err: unknown = null;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what}: expected ${code}, it succeeded`);
  assert.ok(isClientError(err), `${what}: expected a ClientError, got ${String(err)}`);
  assert.is((err as { code: string }).code, code, `${what}: ${(err as Error).message}`);
  return err as Error & { code: string };
}

/** A confirmation code that is not `code` (one digit changed). */
export function otherCode(code: string, n = 1): string {
  const d = code.replace(/\D/g, '');
  const i = n % 8;
  const changed = d.slice(0, i) + String((Number(d[i]) + n) % 10) + d.slice(i + 1);
  return `${changed.slice(0, 4)} ${changed.slice(4)}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
