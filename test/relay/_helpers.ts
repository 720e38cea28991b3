// Shared helpers for relay tests (roundtrip, durability, fuzz, abuse, privacy, benches):
// a relay on 127.0.0.1 with ephemeral ports and a temporary data directory that always stops,
// clients, envelopes, and waiting with deadlines.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from '../../src/crypto/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import {
  authenticate, createMailbox, newMailboxKeys, sendCapability, subscribe, type MailboxKeys, type SendCapability,
} from '../../src/client/mailbox.js';
import { startRelay, type RunningRelay, type StartOptions } from '../../src/relay/index.js';
import { isProtocolError, type ErrorName, type MsgFrame } from '../../src/wire/index.js';
import { repoPath } from '../_support/files.js';

/** A fresh directory under the OS temp dir; `rm()` deletes it. */
export function tempDir(prefix = 'sealpost-test-'): { path: string; rm(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, rm: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestRelay {
  relay: RunningRelay;
  dataDir: string;
  /** Every log entry the relay wrote. */
  logs: Array<Record<string, unknown>>;
  /** Closes the relay (idempotent) and deletes its data directory unless `keepData`. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * Test defaults: loopback, ephemeral ports, no metrics listener, low proof-of-work, quiet logs.
 * SEALPOST_TEST_CRYPTO_WORKERS runs a suite again with the relay's crypto on worker threads
 * (the *-workers.test files set it before importing the suite).
 */
export const TEST_DEFAULTS: StartOptions = {
  host: '127.0.0.1', port: 0, metricsPort: null, powDifficulty: 6, logLevel: 'debug',
  cryptoWorkers: Number(process.env['SEALPOST_TEST_CRYPTO_WORKERS'] ?? 0),
};

export async function startTestRelay(options: StartOptions = {}): Promise<TestRelay> {
  const dir = options.dataDir ? null : tempDir('sealpost-relay-');
  const dataDir = options.dataDir ?? dir!.path;
  const logs: Array<Record<string, unknown>> = [];
  const relay = await startRelay({ ...TEST_DEFAULTS, log: (e) => logs.push(e), ...options, dataDir });
  let stopped = false;
  return {
    relay, dataDir, logs,
    async stop(opts = {}) {
      if (!stopped) {
        stopped = true;
        await withTimeout(relay.close(), 15_000, 'relay.close()');
      }
      if (!opts.keepData) dir?.rm();
    },
  };
}

/** Runs `fn` against a fresh relay and always stops it. */
export async function withRelay<T>(options: StartOptions, fn: (t: TestRelay) => Promise<T>): Promise<T> {
  const t = await startTestRelay(options);
  try {
    return await fn(t);
  } finally {
    await t.stop();
  }
}

/** A relay with one private mailbox, its owner's connection and a sender's; every client made is closed after. */
export function withMailbox(options: StartOptions, fn: (m: {
  t: TestRelay; relay: RunningRelay; pool: ReturnType<typeof clientPool>; owner: RelayConnection; keys: MailboxKeys; cap: SendCapability; sender: RelayConnection;
}) => Promise<void>): Promise<void> {
  return withRelay(options, async (t) => {
    const pool = clientPool(t.relay.address);
    try {
      const owner = await pool.connect();
      const { keys, cap } = await makeMailbox(owner, t.relay.address);
      const sender = await pool.connect();
      await fn({ t, relay: t.relay, pool, owner, keys, cap, sender });
    } finally {
      await pool.closeAll();
    }
  });
}

/** Connects a client; closes every client made through `clients` with `closeAll()`. */
export function clientPool(address: string): { connect(): Promise<RelayConnection>; closeAll(): Promise<void> } {
  const all: RelayConnection[] = [];
  return {
    async connect() {
      const c = await RelayConnection.connect(address, { timeoutMs: 5_000 });
      all.push(c);
      return c;
    },
    async closeAll() {
      await Promise.all(all.map((c) => c.close().catch(() => {})));
    },
  };
}

/** Random bytes of an envelope bucket size (the relay treats envelopes as opaque). */
export function envelope(size: 256 | 1024 | 4096 | 16384 | 65536 = 256): Uint8Array {
  return randomBytes(size);
}

/** A mailbox made on `conn` (authenticated there), with its keys and send capability. */
export async function makeMailbox(conn: RelayConnection, address: string, opts: { public?: boolean; ttlSeconds?: number; subscribe?: boolean; token?: Uint8Array } = {}): Promise<{ keys: MailboxKeys; cap: SendCapability }> {
  const keys = newMailboxKeys(opts.public ? { public: true } : {});
  await createMailbox(conn, keys, { ...(opts.ttlSeconds !== undefined ? { ttlSeconds: opts.ttlSeconds } : {}), ...(opts.token ? { token: opts.token } : {}) });
  if (opts.subscribe) await subscribe(conn, keys);
  return { keys, cap: sendCapability(address, keys) };
}

export { authenticate };

export function withTimeout<T>(p: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); }),
  ]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` until it holds, or rejects after `ms`. */
export async function waitFor(predicate: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(5);
  }
}

/** Collects pushed MSG frames on a connection. */
export function collectMessages(conn: RelayConnection): { messages: MsgFrame[]; next(ms?: number): Promise<MsgFrame>; waitCount(n: number, ms?: number): Promise<MsgFrame[]> } {
  const messages: MsgFrame[] = [];
  const waiters: Array<() => void> = [];
  conn.onMessage((m) => { messages.push(m); for (const w of waiters.splice(0)) w(); });
  let taken = 0;
  return {
    messages,
    async next(ms = 5_000) {
      await waitFor(() => messages.length > taken, ms, 'a pushed MSG');
      return messages[taken++]!;
    },
    async waitCount(n, ms = 5_000) {
      await waitFor(() => messages.length >= n, ms, `${n} pushed MSGs`);
      return messages.slice(0, n);
    },
  };
}

/** Resolves with the ProtocolError name `p` rejects with; fails if it resolves or rejects otherwise. */
export async function errorOf(p: Promise<unknown>): Promise<ErrorName> {
  try {
    await p;
  } catch (e) {
    if (isProtocolError(e)) return e.errorName;
    throw e;
  }
  throw new Error('expected a protocol error, the command succeeded');
}

/** The compiled CLI, for tests that run the relay as a child process. */
export const CLI_PATH = repoPath('.build', 'src', 'cli', 'main.js');

export interface RelayProcess {
  child: ChildProcess;
  address: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/**
 * Starts `sealpost relay` as a child process and waits for the address line it prints;
 * `fileLimit` runs it under `ulimit -n` (through sh), `netns` inside that network namespace (root only).
 */
export async function spawnRelay(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000, fileLimit?: number, netns?: string): Promise<RelayProcess> {
  const argv = [CLI_PATH, 'relay', ...args];
  const child = netns !== undefined
    ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    : fileLimit === undefined
    ? spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('sh', ['-c', `ulimit -n ${fileLimit} && exec "$0" "$@"`, process.execPath, ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let address = '';
  try {
    await withTimeout((async () => {
      for (;;) {
        const m = /address: (sealpost\+wss?:\/\/\S+)/.exec(out);
        if (m) { address = m[1]!; return; }
        if (child.exitCode !== null) throw new Error(`relay exited early:\n${out}`);
        await sleep(10);
      }
    })(), timeoutMs, 'relay start');
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { child, address, output: () => out, exited };
}

/** A TCP port free on 127.0.0.1 right now (for a child relay's metrics listener). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** GET /metrics from a metrics listener (on 127.0.0.1 unless `host`). */
export function fetchMetrics(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host, port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}
