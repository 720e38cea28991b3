// Shared fixtures for the client tests: temp dirs, an in-process relay with a low
// proof-of-work, clients with a cheap scrypt cost, and waiting for events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type ClientOptions, type Contact, type Message } from '../../src/client/index.js';
import { Relay } from '../../src/relay/index.js';

const dirs: string[] = [];
export function tempDir(prefix = 'sealpost-client-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function cleanup(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** scrypt at 2^10: fast enough for tests; real profiles use the default 2^17. */
export const TEST_KDF = { N: 1 << 10, r: 8, p: 1 } as const;

export async function startRelay(dataDir = tempDir('sealpost-relay-'), port = 0): Promise<Relay & { dataDir: string }> {
  const r = await Relay.start({ dataDir, port, powDifficulty: 1 });
  return Object.assign(r, { dataDir });
}

/** Links a new device to `existing`'s account with the two codes, as a person would (spec/devices.md §3). */
export async function linkDevice(existing: Client, relay: string, extra: Partial<ClientOptions> & { dataDir?: string } = {}): Promise<Client> {
  const attempt = await existing.devices.link();
  const joined = await Client.link({ dataDir: extra.dataDir ?? tempDir(), relay, passphrase: 'correct horse battery staple', kdf: TEST_KDF, relayTimeoutMs: 5_000, ...extra, code: attempt.code });
  await Promise.all([attempt.confirm(joined.confirmationCode), joined.client]);
  return joined.client;
}

export async function openClient(relay: string, extra: Partial<ClientOptions> & { dataDir?: string } = {}): Promise<Client> {
  return Client.open({ dataDir: extra.dataDir ?? tempDir(), relay, passphrase: 'correct horse battery staple', kdf: TEST_KDF, relayTimeoutMs: 5_000, handshakeTimeoutMs: 10_000, ...extra });
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms); })]).finally(() => clearTimeout(t));
}

/** Collects 'message' events; `next(n)` waits until n have arrived in total. */
export function inbox(c: Client): { messages: Message[]; until(n: number, ms?: number): Promise<Message[]> } {
  const messages: Message[] = [];
  const waiters: Array<() => void> = [];
  c.on('message', (m) => { messages.push(m); for (const w of waiters.splice(0)) w(); });
  return {
    messages,
    async until(n, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (messages.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} messages, got ${messages.length}: ${JSON.stringify(messages.map((m) => m.text))}`);
        await withTimeout(new Promise<void>((r) => waiters.push(r)), left, `${n} messages`).catch(() => undefined);
      }
      return messages;
    },
  };
}

export function nextEvent<T>(c: Client, event: 'contact' | 'message' | 'dropped' | 'receipt', ms = 10_000, filter: (v: T) => boolean = () => true): Promise<T> {
  return withTimeout(new Promise<T>((resolve) => {
    const h = (v: unknown): void => { if (filter(v as T)) { c.off(event, h as never); resolve(v as T); } };
    c.on(event, h as never);
  }), ms, `'${event}' event`);
}

/** Invites `b` from `a`, returns both sides' contacts. */
export async function connect(a: Client, b: Client, names: { a?: string; b?: string } = {}): Promise<{ ab: Contact; ba: Contact }> {
  const link = await a.createInvitation(names.a ? { name: names.a } : {});
  const onA = nextEvent<Contact>(a, 'contact');
  const ba = await b.acceptInvitation(link, names.b ? { name: names.b } : {});
  const ab = await onA;
  return { ab, ba };
}

export async function until(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
