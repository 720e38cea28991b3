// A sender that keeps trying, as the SDK's outbox does (spec/federation.md §6): each envelope has
// an idempotency key chosen once, and is forwarded through the sender's relay until the
// destination's OK, across dropped connections, PEER_DOWN and relay restarts. Used in-process by
// the fault tests, and as a child process (`node _fed-sender.js JSON`) inside a network
// namespace by the namespace test, where it prints its result as one JSON line.
import { fromHex, randomBytes } from '../../src/crypto/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { forwardEnvelope, newIdempotencyKey, queryDestination, type DestinationRelay } from '../../src/client/forwarding.js';
import type { SendCapability } from '../../src/client/mailbox.js';

export interface SenderJob {
  /** The sender's own relay. */
  readonly relay: string;
  /** The destination relay (the capability's). */
  readonly destination: string;
  readonly sendId: string;
  readonly accessKey: string;
  readonly count: number;
  readonly deadlineMs: number;
  /** Envelopes in flight at once. */
  readonly window?: number;
}

export interface SenderResult {
  /** Indexes the destination answered OK for, in the order of the OKs. */
  readonly oked: number[];
  /** Attempts that failed and were retried, by error. */
  readonly retried: Record<string, number>;
  /** Whether a FORWARD could be sent at all (KEY_QUERY answered). */
  readonly reached: boolean;
  /** The last error of a KEY_QUERY that never succeeded. */
  readonly keyError?: string;
}

/** A 1 KiB envelope whose first four bytes are its index (the reader counts them). */
export function indexedEnvelope(i: number): Uint8Array {
  const e = randomBytes(1024);
  new DataView(e.buffer).setUint32(0, i);
  return e;
}

/** `onOk` may return a promise: the sender waits for it before its next batch (a test's fault injection). */
export async function sendUntilAllOk(job: SenderJob, onOk?: (i: number) => void | Promise<void>): Promise<SenderResult> {
  const cap: SendCapability = { address: job.destination, sendId: fromHex(job.sendId) as never, mailboxKey: new Uint8Array(32) as never, accessKey: fromHex(job.accessKey) as never };
  const items = Array.from({ length: job.count }, (_, i) => ({ i, key: newIdempotencyKey(), envelope: indexedEnvelope(i) }));
  const pending = new Set(items.map((it) => it.i));
  const oked: number[] = [];
  const retried: Record<string, number> = {};
  const deadline = Date.now() + job.deadlineMs;
  let conn: RelayConnection | null = null;
  let dest: DestinationRelay | null = null;
  let keyError: string | undefined;
  const note = (e: unknown): void => {
    const name = (e as { errorName?: string; code?: string }).errorName ?? (e as { code?: string }).code ?? 'other';
    retried[name] = (retried[name] ?? 0) + 1;
  };
  while (pending.size > 0 && Date.now() < deadline) {
    try {
      if (!conn || !conn.isOpen) conn = await RelayConnection.connect(job.relay, { timeoutMs: 3_000 });
      dest ??= await queryDestination(conn, job.destination, 5_000);
    } catch (e) {
      keyError = String((e as Error).message);
      note(e);
      conn?.close().catch(() => {});
      conn = null;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const c = conn;
    const d = dest;
    const batch = [...pending].slice(0, job.window ?? 32);
    const waits: Array<void | Promise<void>> = [];
    await Promise.all(batch.map(async (i) => {
      const it = items[i]!;
      try {
        await forwardEnvelope(c, d, cap, it.envelope, it.key, 5_000);
        if (pending.delete(i)) { oked.push(i); waits.push(onOk?.(i)); }
      } catch (e) {
        note(e);
      }
    }));
    await Promise.all(waits);
    if (pending.size > 0 && batch.every((i) => pending.has(i))) await new Promise((r) => setTimeout(r, 50));
  }
  await conn?.close().catch(() => {});
  return { oked, retried, reached: dest !== null, ...(keyError !== undefined && dest === null ? { keyError } : {}) };
}

// As a child process: the job as JSON in argv[2], the result as one JSON line.
if (process.argv[1]?.endsWith('_fed-sender.js') && process.argv[2]) {
  const job = JSON.parse(process.argv[2]) as SenderJob;
  sendUntilAllOk(job).then((r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  }, (e: unknown) => {
    process.stdout.write(JSON.stringify({ error: String(e) }) + '\n');
    process.exit(1);
  });
}
