// Two SDK clients talking through one relay, as an app builder would run them: the relay in
// another process (RelayProcess), Alice and Bob in this one, each a `Client` from the SDK's
// public entry with its own encrypted profile, connected by a one-time invitation. Only the
// public API is used (Client.open, createInvitation, acceptInvitation, send, 'message',
// stats, close), so the measurement survives rewrites of the SDK's insides.
//
// A run: Alice sends N one-way texts of 100 characters to Bob, keeping W sends in flight
// (each `send` resolves when the relay has durably accepted the envelope); Bob counts
// 'message' events. Each text carries the run and its sequence number, so a delivery is
// matched to its send by content: latency is send() called → 'message' emitted, and a text
// lost, delivered twice or from another run fails the run. Everything is bounded: a run that
// has not delivered N texts by its deadline throws, saying how many arrived.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Contact, type Message } from '../../src/client/index.js';
import { now, percentile, sleep, watchdog } from './measure.js';
import { LIFTED_LIMITS, metricDelta, RelayProcess, relayCpuUs, type ChildSample, type RelayProcessOptions } from './relay-process.js';
import { histogramBuckets } from './prom.js';

/** scrypt cost of the bench profiles, as the client tests use (test/client/_helpers.ts): opening is not what we measure. */
const BENCH_KDF = { N: 1 << 10, r: 8, p: 1 } as const;
export const TEXT_CHARS = 100;

export interface RelayCommits {
  /** Durable store writes per message (a SEND's enqueue, an ACK's dequeue, ...). */
  readonly writesPerMessage: number;
  /** Group commits per message (writes made durable in the same event-loop turn count as one). */
  readonly commitsPerMessage: number;
  /** Writes per group commit, mean. */
  readonly meanBatch: number;
  /** Share of group commits that carried exactly one write, percent. */
  readonly singleWritePct: number;
  /** Group commits by size (histogram bucket upper bound → commits in this run). */
  readonly batches: Readonly<Record<string, number>>;
  /** Frames the relay received per message, by type (SEND, ACK, ...). */
  readonly framesInPerMessage: Readonly<Record<string, number>>;
}

export interface SdkRun {
  readonly window: number;
  readonly messages: number;
  readonly delivered: number;
  /** Wall time from the first send to the last 'message', ms. */
  readonly wallMs: number;
  /** Delivered messages per second (first send → last 'message'). */
  readonly messagesPerSec: number;
  /** send() called → Bob's 'message' event, ms. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** send() called → send() resolved (the relay's durable OK), p50, ms. */
  readonly sendP50Ms: number;
  /** This process's CPU (both clients, every thread) per message, µs. */
  readonly clientCpuUsPerMsg: number;
  /** Of which in the kernel (system time: fsyncs, sockets), µs. */
  readonly clientSysUsPerMsg: number;
  /** The relay process's CPU (every thread) per message, µs. */
  readonly relayCpuUsPerMsg: number;
  /** Of which in the kernel, µs. */
  readonly relaySysUsPerMsg: number;
  readonly relay: RelayCommits;
}

export interface SdkPairOptions {
  /** Relay process options (e.g. node flags to profile it). */
  readonly relay?: RelayProcessOptions;
  /** Longest life of the relay process, ms (it exits by itself after). */
  readonly maxLifetimeMs?: number;
}

/** A 100-character text that names its run and sequence number. */
function textOf(run: number, seq: number): string {
  const head = `#${run}/${seq}#`;
  return head + 'x'.repeat(TEXT_CHARS - head.length);
}
const TEXT_RE = /^#(\d+)\/(\d+)#/;

export class SdkPair {
  private runs = 0;
  private constructor(
    readonly relay: RelayProcess,
    private readonly alice: Client,
    private readonly bob: Client,
    /** Bob as Alice's contact. */
    private readonly bobId: string,
    private readonly dirs: readonly string[],
  ) {}

  /** Starts the relay process, opens both clients and connects them; everything is undone if a step fails. */
  static async start(opts: SdkPairOptions = {}): Promise<SdkPair> {
    const dirs = ['relay', 'alice', 'bob'].map((n) => mkdtempSync(join(tmpdir(), `sealpost-bench-sdk-${n}-`)));
    const [relayDir, aliceDir, bobDir] = dirs as [string, string, string];
    const clients: Client[] = [];
    let relay: RelayProcess | null = null;
    try {
      relay = await RelayProcess.start({
        host: '127.0.0.1', port: 0, dataDir: relayDir, metricsPort: null, logLevel: 'error',
        // The relay's send rate limit and quotas would cap a closed loop of one connection.
        ...LIFTED_LIMITS,
        idleTimeoutSeconds: 3600, pingIntervalSeconds: 600,
      }, opts.maxLifetimeMs ?? 600_000, opts.relay ?? {});
      const open = (dataDir: string): Promise<Client> => Client.open({ dataDir, relay: relay!.address, passphrase: 'sealpost bench', kdf: BENCH_KDF });
      const alice = await open(aliceDir);
      clients.push(alice);
      const bob = await open(bobDir);
      clients.push(bob);
      const bobId = await SdkPair.connect(alice, bob);
      return new SdkPair(relay, alice, bob, bobId, dirs);
    } catch (e) {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await relay?.stop().catch(() => relay?.kill());
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      throw e;
    }
  }

  /** Alice invites, Bob accepts; resolves with Bob's contact id on Alice's side once both sides share a session. */
  private static async connect(alice: Client, bob: Client): Promise<string> {
    const link = await alice.createInvitation({ name: 'bob' });
    let onContact: ((c: Contact) => void) | undefined;
    const aliceSide = new Promise<Contact>((resolve) => {
      onContact = (c) => { if (c.established) resolve(c); };
      alice.on('contact', onContact);
    });
    try {
      await bob.acceptInvitation(link, { name: 'alice', timeoutMs: 20_000 });
      const c = await Promise.race([aliceSide, watchdog(20_000).then(() => null)]);
      if (!c) throw new Error('the invitation completed on Bob\'s side but Alice saw no contact within 20 s');
      return c.id;
    } finally {
      alice.off('contact', onContact!);
    }
  }

  /**
   * One run: `messages` texts from Alice to Bob, `window` sends in flight. Throws if a text is
   * lost, duplicated or refused, or if they have not all arrived by the deadline (30 s plus
   * 25 ms a message: about 40 times today's cost).
   */
  async run(messages: number, window: number): Promise<SdkRun> {
    const run = ++this.runs;
    const sentAt = new Float64Array(messages);
    const got = new Uint8Array(messages);
    const latencies: number[] = [];
    const sendLat: number[] = [];
    let delivered = 0, duplicates = 0, strays = 0, lastAt = 0;
    let sendErrors = 0, firstError: unknown;
    let allArrived!: () => void;
    const arrived = new Promise<void>((r) => { allArrived = r; });
    const onMessage = (m: Message): void => {
      const t = now();
      const match = TEXT_RE.exec(m.text);
      if (!match || Number(match[1]) !== run || Number(match[2]) >= messages) { strays++; return; }
      const seq = Number(match[2]);
      if (got[seq]) { duplicates++; return; }
      got[seq] = 1;
      latencies.push(t - sentAt[seq]!);
      lastAt = t;
      if (++delivered === messages) allArrived();
    };
    const bobBefore = this.bob.stats();
    this.bob.on('message', onMessage);
    let aborted = false;
    try {
      const r0 = await this.relay.sample();
      const c0 = process.cpuUsage();
      const t0 = now();
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < messages && !aborted) {
          const seq = next++;
          const t = now();
          sentAt[seq] = t;
          try {
            await this.alice.send(this.bobId, textOf(run, seq));
            sendLat.push(now() - t);
          } catch (e) {
            sendErrors++;
            firstError ??= e;
          }
        }
      };
      const lanes = Promise.all(Array.from({ length: Math.min(window, messages) }, lane));
      const deadlineMs = 30_000 + 25 * messages;
      const done = await Promise.race([Promise.all([lanes, arrived]).then(() => true), watchdog(deadlineMs).then(() => false)]);
      if (!done) {
        aborted = true;
        throw new Error(`SDK run (W=${window}): only ${delivered} of ${messages} messages arrived within ${deadlineMs / 1000} s (${next} sends started, ${sendLat.length} accepted by the relay, ${sendErrors} failed${firstError ? `: ${String(firstError)}` : ''})`);
      }
      const cpu = process.cpuUsage(c0);
      const r1 = await this.relay.sample();
      // A short grace period for a late duplicate to show up (it would come right behind the original).
      await sleep(100);
      const bobAfter = this.bob.stats();
      const dropped = bobAfter.dropped.total - bobBefore.dropped.total, errors = bobAfter.errors - bobBefore.errors;
      if (sendErrors || duplicates || strays || dropped || errors) {
        throw new Error(`SDK run (W=${window}): ${sendErrors} sends failed${firstError ? ` (${String(firstError)})` : ''}, ${duplicates} texts delivered twice, ${strays} unexpected texts, Bob dropped ${dropped} envelopes and failed on ${errors}`);
      }
      const wallMs = Math.max(1e-3, lastAt - t0);
      return {
        window, messages, delivered, wallMs,
        messagesPerSec: (delivered * 1000) / wallMs,
        p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95), p99Ms: percentile(latencies, 99),
        sendP50Ms: percentile(sendLat, 50),
        clientCpuUsPerMsg: (cpu.user + cpu.system) / messages,
        clientSysUsPerMsg: cpu.system / messages,
        relayCpuUsPerMsg: relayCpuUs(r0, r1) / messages,
        relaySysUsPerMsg: (r1.cpuSystemUs - r0.cpuSystemUs) / messages,
        relay: relayCommits(r0, r1, messages),
      };
    } finally {
      aborted = true;
      this.bob.off('message', onMessage);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.alice.close(), this.bob.close()].map((p) => p.catch(() => undefined)));
    await this.relay.stop().catch(() => this.relay.kill());
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** The relay's group commits and frames during a run, per message, from its own metrics. */
function relayCommits(r0: ChildSample, r1: ChildSample, messages: number): RelayCommits {
  const writes = metricDelta(r0, r1, 'sealpost_commit_batch_size_sum');
  const commits = metricDelta(r0, r1, 'sealpost_commit_batch_size_count');
  const before = histogramBuckets(r0.metrics ?? {}, 'sealpost_commit_batch_size');
  const after = histogramBuckets(r1.metrics ?? {}, 'sealpost_commit_batch_size');
  // Cumulative buckets → commits per bucket in this run.
  const batches: Record<string, number> = {};
  let prev = 0;
  for (const b of after) {
    const cum = b.count - (before.find((x) => x.le === b.le)?.count ?? 0);
    const n = cum - prev;
    prev = cum;
    if (n > 0) batches[Number.isFinite(b.le) ? `≤${b.le}` : `>${after[after.length - 2]?.le ?? 0}`] = n;
  }
  const ones = (after.find((b) => b.le === 1)?.count ?? 0) - (before.find((b) => b.le === 1)?.count ?? 0);
  const framesInPerMessage: Record<string, number> = {};
  for (const key of Object.keys(r1.metrics ?? {})) {
    const m = /^sealpost_frames_in_total\{type="([^"]+)"\}$/.exec(key);
    if (!m) continue;
    const n = metricDelta(r0, r1, key);
    if (n > 0) framesInPerMessage[m[1]!] = n / messages;
  }
  return {
    writesPerMessage: writes / messages, commitsPerMessage: commits / messages,
    meanBatch: commits > 0 ? writes / commits : 0, singleWritePct: commits > 0 ? (ones * 100) / commits : 0,
    batches, framesInPerMessage,
  };
}
