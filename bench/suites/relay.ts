// Suite e: the relay end to end over loopback. The relay runs in ANOTHER process
// (bench/relay-child.ts: startRelay on 127.0.0.1, port 0, a temporary data directory); this
// process runs S senders and R receivers, each on its own WebSocket connection.
//
// - For each envelope bucket: a closed loop (each sender keeps `window` SENDs in flight, each
//   awaiting its durable OK) measures the maximum envelopes/s and the latency from SEND to the
//   MSG pushed to the receiver (p50/p95/p99); then an open loop at 80% of that maximum, with
//   latency taken from each envelope's scheduled send time (no coordinated omission).
// - Receivers open the delivery layer of every MSG (crypto.md §6) and ACK it.
// - Relay CPU from the child's process.cpuUsage(), memory from /proc/<pid>/status (VmRSS,
//   VmHWM), falling back to the child's own figures off Linux.
// - Idle connections: as many as allowed (10,000; 500 with --quick), each through HELLO, then
//   the relay's RSS growth per connection.
// Envelopes are random bytes of bucket length (the relay treats them as opaque), tagged with
// a sequence number. The relay's send rate limit and quotas are lifted for the measurement.
// Everything is bounded in count and time and stops by itself (the child exits when its stdin
// closes or after its lifetime).
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from '../../src/crypto/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import {
  ack, createMailbox, newMailboxKeys, openDelivered, sendCapability, sendEnvelope, subscribe,
  type MailboxKeys, type SendCapability,
} from '../../src/client/mailbox.js';
import { ENVELOPE_BUCKETS } from '../../src/wire/constants.js';
import { now, percentile, sleep, watchdog } from '../lib/measure.js';
import { LIFTED_LIMITS, metricDelta, RelayProcess, relayCpuUs, type ChildStats } from '../lib/relay-process.js';
import { fmt, fmtMiB, type Table, type Target } from '../lib/report.js';
import { barChart } from '../lib/svg.js';
import type { Suite, SuiteContext } from '../lib/suite.js';
import { admissionTable, measureAdmission, type AdmissionResult } from './relay-admission.js';

// ---- traffic -----------------------------------------------------------------------------

interface Receiver { readonly conn: RelayConnection; readonly keys: MailboxKeys; readonly cap: SendCapability }

export interface PhaseStats {
  /** End to end: envelopes pushed to their receivers per second within the window. */
  readonly envelopesPerSec: number;
  /** Envelopes acknowledged to senders (durably committed) per second within the window. */
  readonly acceptedPerSec: number;
  readonly sent: number;
  readonly delivered: number;
  readonly errors: number;
  /** SEND → MSG pushed to the receiver, ms. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** SEND → OK (durable), ms. */
  readonly okP50Ms: number;
  readonly okP99Ms: number;
  /** Relay process CPU over the window, percent of one core. */
  readonly relayCpuPct: number;
  /** This (load-generating) process's CPU, percent of one core: both share the machine. */
  readonly clientCpuPct: number;
  /**
   * Store writes per group commit over the window, mean (the relay's sealpost_commit_batch_size
   * histogram). Absent from reports saved before it was recorded.
   */
  readonly writesPerCommit?: number;
}
export interface BucketRun { readonly bucket: number; readonly max: PhaseStats; readonly fixedRate: PhaseStats & { readonly targetPerSec: number } }
export interface IdleResult {
  readonly target: number;
  readonly opened: number;
  readonly failed: number;
  readonly openSeconds: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
  readonly perConnectionBytes: number;
  readonly peakRssBytes: number;
}
export interface RelayResult {
  readonly senders: number;
  readonly receivers: number;
  readonly window: number;
  readonly phaseSeconds: { readonly max: number; readonly fixedRate: number };
  readonly buckets: readonly BucketRun[];
  /** VmHWM of the relay after the traffic runs (before the idle test). */
  readonly peakRssBytes: number;
  readonly idle: IdleResult;
  /** 1 KiB closed loop, alternating between this relay (crypto inline) and one with crypto workers. */
  readonly workers?: WorkersResult;
  /** CREATE on an open vs a closed relay (relay-admission.ts). */
  readonly admission?: AdmissionResult;
}
export interface WorkersResult {
  readonly workers: number;
  readonly rounds: number;
  readonly inline: readonly PhaseStats[];
  readonly pool: readonly PhaseStats[];
}

const MAX_OUTSTANDING = 20_000;

class Traffic {
  readonly sentAt = new Map<number, number>();
  private latencies: number[] = [];
  private nextId = 1;
  private phase = 0;
  delivered = 0;
  private deliveredInWindow = 0;
  private windowEnd = Infinity;
  private drainWaiter: (() => void) | null = null;

  constructor(readonly senders: readonly RelayConnection[], readonly receivers: readonly Receiver[]) {
    for (const r of receivers) {
      r.conn.onMessage((msg) => {
        const t = now();
        const d = openDelivered(r.conn, r.keys, msg);
        const dv = new DataView(d.envelope.buffer, d.envelope.byteOffset, 8);
        const id = dv.getUint32(0);
        const phase = dv.getUint32(4);
        const t0 = this.sentAt.get(id);
        if (t0 !== undefined && phase === this.phase) {
          this.sentAt.delete(id);
          this.latencies.push(t - t0);
          this.delivered++;
          if (t <= this.windowEnd) this.deliveredInWindow++;
          if (this.sentAt.size === 0) this.drainWaiter?.();
        }
        ack(r.conn, r.keys, msg.msgId).catch(() => undefined);
      });
    }
  }

  private envelope(template: Uint8Array, id: number): Uint8Array {
    const env = template.slice();
    const dv = new DataView(env.buffer);
    dv.setUint32(0, id);
    dv.setUint32(4, this.phase);
    return env;
  }

  private begin(windowEnd: number): void {
    this.phase++;
    this.sentAt.clear();
    this.latencies = [];
    this.delivered = 0;
    this.deliveredInWindow = 0;
    this.windowEnd = windowEnd;
  }

  /** Waits until every envelope sent in this phase was pushed, or `ms`. */
  private async drain(ms: number): Promise<void> {
    if (this.sentAt.size === 0) return;
    await Promise.race([new Promise<void>((r) => { this.drainWaiter = r; }), watchdog(ms)]);
    this.drainWaiter = null;
  }

  private async send(sender: RelayConnection, r: Receiver, env: Uint8Array): Promise<number> {
    const t = now();
    await sendEnvelope(sender, r.cap, env);
    return now() - t;
  }

  async closedLoop(relay: RelayProcess, bucket: number, ms: number, window: number): Promise<PhaseStats> {
    const template = randomBytes(bucket);
    const okLat: number[] = [];
    let ok = 0, errors = 0, sent = 0;
    const s0 = await relay.stats();
    const c0 = process.cpuUsage();
    const t0 = now();
    const end = t0 + ms;
    this.begin(end);
    const lane = async (sender: RelayConnection): Promise<void> => {
      while (now() < end) {
        const id = this.nextId++;
        const r = this.receivers[id % this.receivers.length]!;
        const env = this.envelope(template, id);
        this.sentAt.set(id, now());
        sent++;
        try {
          const dt = await this.send(sender, r, env);
          if (now() <= end) { ok++; okLat.push(dt); }
        } catch {
          errors++;
          this.sentAt.delete(id);
          await sleep(2);
        }
      }
    };
    const lanes = Promise.all(this.senders.flatMap((s) => Array.from({ length: window }, () => lane(s))));
    const stuck = await Promise.race([lanes.then(() => false), watchdog(ms + 30_000).then(() => true)]);
    if (stuck) throw new Error('the relay stopped answering SENDs');
    const c1 = process.cpuUsage(c0);
    const s1 = await relay.stats();
    await this.drain(10_000);
    return this.stats(ok, sent, errors, ms, okLat, s0, s1, c1, now() - t0);
  }

  async fixedRate(relay: RelayProcess, bucket: number, perSec: number, ms: number): Promise<PhaseStats> {
    const template = randomBytes(bucket);
    const okLat: number[] = [];
    let ok = 0, errors = 0, issued = 0, outstanding = 0;
    const inflight = new Set<Promise<void>>();
    const s0 = await relay.stats();
    const c0 = process.cpuUsage();
    const t0 = now();
    const end = t0 + ms;
    this.begin(end);
    const interval = 1000 / perSec;
    while (now() < end) {
      const due = Math.min(Math.floor((now() - t0) / interval), Math.floor(ms / interval));
      while (issued < due && outstanding < MAX_OUTSTANDING) {
        const id = this.nextId++;
        const scheduled = t0 + issued * interval;
        const sender = this.senders[issued % this.senders.length]!;
        const r = this.receivers[id % this.receivers.length]!;
        issued++;
        outstanding++;
        this.sentAt.set(id, scheduled);
        const p = sendEnvelope(sender, r.cap, this.envelope(template, id)).then(
          () => { ok++; okLat.push(now() - scheduled); },
          () => { errors++; this.sentAt.delete(id); },
        ).finally(() => { outstanding--; inflight.delete(p); });
        inflight.add(p);
      }
      await sleep(1);
    }
    const stuck = await Promise.race([Promise.allSettled([...inflight]).then(() => false), watchdog(30_000).then(() => true)]);
    if (stuck) throw new Error('the relay stopped answering SENDs');
    const c1 = process.cpuUsage(c0);
    const s1 = await relay.stats();
    await this.drain(10_000);
    return this.stats(ok, issued, errors, ms, okLat, s0, s1, c1, now() - t0);
  }

  private stats(ok: number, sent: number, errors: number, ms: number, okLat: number[], s0: ChildStats, s1: ChildStats, c: NodeJS.CpuUsage, wallMs: number): PhaseStats {
    const relayWallMs = Math.max(1, s1.tMs - s0.tMs);
    return {
      envelopesPerSec: (this.deliveredInWindow * 1000) / ms,
      acceptedPerSec: (ok * 1000) / ms,
      sent, delivered: this.delivered, errors,
      p50Ms: percentile(this.latencies, 50), p95Ms: percentile(this.latencies, 95), p99Ms: percentile(this.latencies, 99),
      okP50Ms: percentile(okLat, 50), okP99Ms: percentile(okLat, 99),
      relayCpuPct: (relayCpuUs(s0, s1) / 1000 / relayWallMs) * 100,
      clientCpuPct: ((c.user + c.system) / 1000 / Math.max(1, wallMs)) * 100,
      ...writesPerCommit(s0, s1),
    };
  }
}

function writesPerCommit(s0: ChildStats, s1: ChildStats): { writesPerCommit?: number } {
  const commits = metricDelta(s0, s1, 'sealpost_commit_batch_size_count');
  return commits > 0 ? { writesPerCommit: metricDelta(s0, s1, 'sealpost_commit_batch_size_sum') / commits } : {};
}

async function connectAll(address: string, n: number, concurrency: number, deadline: number): Promise<{ conns: RelayConnection[]; failed: number }> {
  const conns: RelayConnection[] = [];
  let failed = 0;
  while (conns.length < n && now() < deadline && failed < 100) {
    const k = Math.min(concurrency, n - conns.length);
    const res = await Promise.allSettled(Array.from({ length: k }, () => RelayConnection.connect(address, { timeoutMs: 15_000 })));
    for (const r of res) {
      if (r.status === 'fulfilled') conns.push(r.value);
      else failed++;
    }
  }
  return { conns, failed };
}

async function closeAll(conns: readonly RelayConnection[]): Promise<void> {
  for (let i = 0; i < conns.length; i += 500) await Promise.all(conns.slice(i, i + 500).map((c) => c.close().catch(() => undefined)));
}

/** R receivers (each creates and subscribes a mailbox) and S senders, on their own connections. */
async function connectPeers(address: string, S: number, R: number, all: RelayConnection[]): Promise<Traffic> {
  const receivers: Receiver[] = [];
  for (let i = 0; i < R; i++) {
    const conn = await RelayConnection.connect(address);
    all.push(conn);
    const keys = newMailboxKeys();
    await createMailbox(conn, keys);
    await subscribe(conn, keys);
    receivers.push({ conn, keys, cap: sendCapability(address, keys) });
  }
  const senders: RelayConnection[] = [];
  for (let i = 0; i < S; i++) {
    const conn = await RelayConnection.connect(address);
    all.push(conn);
    senders.push(conn);
  }
  return new Traffic(senders, receivers);
}

export async function runRelay(ctx: SuiteContext): Promise<RelayResult> {
  const quick = ctx.quick;
  const S = quick ? 2 : 4, R = quick ? 2 : 4, window = quick ? 8 : 16;
  const idleTarget = quick ? 500 : 10_000;
  const buckets = [...ENVELOPE_BUCKETS];
  // Of the budget: about 70% for traffic (max 60%, fixed rate 40%), the rest for the idle test.
  const perBucket = (ctx.budgetMs * 0.7) / buckets.length;
  const maxMs = perBucket * 0.6, fixedMs = perBucket * 0.4;
  const dataDir = mkdtempSync(join(tmpdir(), 'sealpost-bench-'));
  const config = {
    host: '127.0.0.1', port: 0, dataDir, metricsPort: null, logLevel: 'error',
    maxConnections: idleTarget + S + R + 64, maxConnectionsPerAddress: idleTarget + S + R + 64,
    ...LIFTED_LIMITS,
    idleTimeoutSeconds: 3600, pingIntervalSeconds: 600, helloTimeoutSeconds: 60,
  };
  const all: RelayConnection[] = [];
  let idleConns: RelayConnection[] = [];
  ctx.progress.status('relay: starting the relay process');
  const relay = await RelayProcess.start(config, Math.max(120_000, ctx.budgetMs * 3));
  try {
    const traffic = await connectPeers(relay.address, S, R, all);
    // Warm-up (JIT, LMDB file growth), not recorded.
    ctx.progress.status('relay: warm-up');
    await traffic.closedLoop(relay, 1024, Math.min(1000, maxMs), window);

    const runs: BucketRun[] = [];
    for (const [i, bucket] of buckets.entries()) {
      ctx.progress.bar(`relay: bucket ${bucket}, max rate`, 2 * i, 2 * buckets.length);
      const max = await traffic.closedLoop(relay, bucket, maxMs, window);
      const targetPerSec = Math.max(1, Math.round(Math.min(max.envelopesPerSec, max.acceptedPerSec) * 0.8));
      ctx.progress.bar(`relay: bucket ${bucket}, ${fmt(targetPerSec)}/s (80%)`, 2 * i + 1, 2 * buckets.length);
      const fixed = await traffic.fixedRate(relay, bucket, targetPerSec, fixedMs);
      runs.push({ bucket, max, fixedRate: { ...fixed, targetPerSec } });
    }
    const afterTraffic = await relay.stats();
    const peakRssBytes = relay.procMem()?.hwmBytes ?? afterTraffic.maxRssKiB * 1024;

    // The same relay with its crypto on worker threads (spec/protocol.md §12), alternating
    // 1 KiB runs with the inline one so that both see the same machine.
    ctx.progress.status('relay: crypto on worker threads');
    const poolDir = mkdtempSync(join(tmpdir(), 'sealpost-bench-'));
    const poolRelay = await RelayProcess.start({ ...config, dataDir: poolDir, cryptoWorkers: 'auto' }, Math.max(120_000, ctx.budgetMs * 3));
    const rounds = quick ? 1 : 2;
    const inlineRuns: PhaseStats[] = [];
    const poolRuns: PhaseStats[] = [];
    try {
      const poolTraffic = await connectPeers(poolRelay.address, S, R, all);
      await poolTraffic.closedLoop(poolRelay, 1024, Math.min(1000, maxMs), window);
      for (let k = 0; k < rounds; k++) {
        ctx.progress.bar('relay: 1 KiB, inline vs crypto workers', 2 * k, 2 * rounds);
        inlineRuns.push(await traffic.closedLoop(relay, 1024, maxMs / rounds, window));
        ctx.progress.bar('relay: 1 KiB, inline vs crypto workers', 2 * k + 1, 2 * rounds);
        poolRuns.push(await poolTraffic.closedLoop(poolRelay, 1024, maxMs / rounds, window));
      }
    } finally {
      await closeAll(all);
      all.length = 0;
      await poolRelay.stop().catch(() => poolRelay.kill());
      rmSync(poolDir, { recursive: true, force: true });
    }
    const workers: WorkersResult = { workers: Math.min(64, availableParallelism()), rounds, inline: inlineRuns, pool: poolRuns };
    const admission = await measureAdmission({ quick, maxLifetimeMs: Math.max(120_000, ctx.budgetMs * 3), status: (m) => ctx.progress.status(m) });

    // Idle connections.
    ctx.progress.status(`relay: opening ${fmt(idleTarget)} idle connections`);
    await sleep(300);
    const before = await relay.stats();
    const rssBefore = relay.procMem()?.rssBytes ?? before.rss;
    const t0 = now();
    const { conns, failed } = await connectAll(relay.address, idleTarget, 200, now() + Math.max(20_000, ctx.budgetMs * 0.3));
    idleConns = conns;
    const openSeconds = (now() - t0) / 1000;
    await sleep(500);
    const after = await relay.stats();
    const mem = relay.procMem();
    const rssAfter = mem?.rssBytes ?? after.rss;
    const idle: IdleResult = {
      target: idleTarget, opened: conns.length, failed, openSeconds,
      rssBeforeBytes: rssBefore, rssAfterBytes: rssAfter,
      perConnectionBytes: conns.length ? (rssAfter - rssBefore) / conns.length : 0,
      peakRssBytes: mem?.hwmBytes ?? after.maxRssKiB * 1024,
    };
    ctx.progress.status('relay: closing');
    await closeAll(idleConns);
    idleConns = [];
    ctx.progress.done();
    return { senders: S, receivers: R, window, phaseSeconds: { max: maxMs / 1000, fixedRate: fixedMs / 1000 }, buckets: runs, peakRssBytes, idle, workers, admission };
  } finally {
    await closeAll([...all, ...idleConns]).catch(() => undefined);
    await relay.stop().catch(() => relay.kill());
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function relayTables(r: RelayResult): Table[] {
  const ms = (x: number): string => fmt(x);
  return [
    {
      title: `Relay end to end: ${r.senders} senders, ${r.receivers} receivers, ${r.window} SENDs in flight per sender, durable OK (loopback, relay in its own process)`,
      columns: ['bucket', 'max env/s', 'accepted/s', 'p50 ms', 'p95 ms', 'p99 ms', 'OK p99 ms', 'relay CPU', 'client CPU', 'writes/commit', '80% rate/s', 'achieved/s', 'p50 ms @80%', 'p99 ms @80%', 'errors'],
      rows: r.buckets.map((b) => [
        `${b.bucket} B`, fmt(b.max.envelopesPerSec), fmt(b.max.acceptedPerSec), ms(b.max.p50Ms), ms(b.max.p95Ms), ms(b.max.p99Ms), ms(b.max.okP99Ms),
        `${fmt(b.max.relayCpuPct)} %`, `${fmt(b.max.clientCpuPct)} %`, fmt(b.max.writesPerCommit), fmt(b.fixedRate.targetPerSec), fmt(b.fixedRate.envelopesPerSec),
        ms(b.fixedRate.p50Ms), ms(b.fixedRate.p99Ms), String(b.max.errors + b.fixedRate.errors),
      ]),
      notes: [
        `max env/s: envelopes pushed to their receivers per second (end to end); accepted/s: durable OKs to senders per second. The fixed-rate run offers 80% of the smaller of the two.`,
        `writes/commit: store writes (SEND enqueues, ACK dequeues) made durable per group commit at max rate, mean, from the relay's sealpost_commit_batch_size histogram.`,
        `Latency: SEND written → MSG pushed to the receiver (at 80%: from the scheduled send time, so a backlog shows). Phases: ${fmt(r.phaseSeconds.max)} s max, ${fmt(r.phaseSeconds.fixedRate)} s at 80%.`,
        `Relay peak RSS (VmHWM) after the traffic runs: ${fmtMiB(r.peakRssBytes)}. CPU is percent of one core; the relay and this load generator share ${'the machine'}.`,
      ],
    },
    ...(r.workers ? [workersTable(r.workers)] : []), // absent from reports saved before it existed
    ...(r.admission ? [admissionTable(r.admission)] : []),
    {
      title: 'Relay: idle connections',
      columns: ['target', 'opened', 'failed', 'open time', 'relay RSS before', 'relay RSS after', 'per connection', 'relay peak RSS'],
      rows: [[
        fmt(r.idle.target), fmt(r.idle.opened), String(r.idle.failed), `${fmt(r.idle.openSeconds)} s`, fmtMiB(r.idle.rssBeforeBytes),
        fmtMiB(r.idle.rssAfterBytes), `${fmt(r.idle.perConnectionBytes / 1024)} KiB`, fmtMiB(r.idle.peakRssBytes),
      ]],
      notes: ['Each idle connection completed HELLO (signed by the relay, checked by the client) and then sent nothing.'],
    },
  ];
}

function workersTable(w: WorkersResult): Table {
  const med = (xs: readonly PhaseStats[], f: (p: PhaseStats) => number): number => percentile(xs.map(f), 50);
  const row = (name: string, xs: readonly PhaseStats[]): string[] => [
    name, fmt(med(xs, (p) => p.envelopesPerSec)), fmt(med(xs, (p) => p.p99Ms)), fmt(med(xs, (p) => p.okP99Ms)), `${fmt(med(xs, (p) => p.relayCpuPct))} %`,
    fmt((med(xs, (p) => p.relayCpuPct) * 1e4) / Math.max(1, med(xs, (p) => p.envelopesPerSec))),
  ];
  const ratio = med(w.pool, (p) => p.envelopesPerSec) / Math.max(1, med(w.inline, (p) => p.envelopesPerSec));
  return {
    title: `Relay crypto inline vs on ${w.workers} worker threads (1 KiB, closed loop, alternating, median of ${w.rounds})`,
    columns: ['relay', 'max env/s', 'p99 ms', 'OK p99 ms', 'relay CPU', 'relay CPU µs/env'],
    rows: [row('cryptoWorkers 0 (default)', w.inline), row(`cryptoWorkers ${w.workers}`, w.pool)],
    notes: [
      `Workers / inline throughput: ${fmt(ratio)}x. Relay CPU counts every thread of the relay process; the load generator shares the machine (spec/protocol.md §12 explains the default).`,
    ],
  };
}

export function relayTargets(r: RelayResult): Target[] {
  return [{ name: 'idle connections held by the relay', goal: `${fmt(r.idle.target)}`, value: r.idle.opened, unit: '', met: r.idle.opened >= r.idle.target }];
}

export function latencyChart(r: RelayResult): string {
  return barChart({
    title: 'Relay latency, SEND → MSG pushed (ms, log scale)',
    categories: r.buckets.map((b) => `${b.bucket} B`),
    series: [
      { name: 'p50 at max', values: r.buckets.map((b) => b.max.p50Ms) },
      { name: 'p99 at max', values: r.buckets.map((b) => b.max.p99Ms) },
      { name: 'p50 at 80%', values: r.buckets.map((b) => b.fixedRate.p50Ms) },
      { name: 'p99 at 80%', values: r.buckets.map((b) => b.fixedRate.p99Ms) },
    ],
    yLabel: 'ms',
    log: true,
  });
}

export function throughputChart(r: RelayResult): string {
  return barChart({
    title: 'Relay throughput: durable envelopes per second by bucket',
    categories: r.buckets.map((b) => `${b.bucket} B`),
    series: [
      { name: 'max (closed loop)', values: r.buckets.map((b) => b.max.envelopesPerSec) },
      { name: 'fixed rate (80%)', values: r.buckets.map((b) => b.fixedRate.envelopesPerSec) },
    ],
    yLabel: 'envelopes/s',
  });
}

export const relaySuite: Suite = {
  id: 'relay',
  title: 'e. Relay end to end over loopback',
  budget: { full: 150_000, quick: 18_000 },
  measure: (ctx) => runRelay(ctx),
  render: (result) => {
    const r = result as RelayResult;
    return {
      tables: relayTables(r), targets: relayTargets(r),
      charts: { 'latency.svg': latencyChart(r), 'relay-throughput.svg': throughputChart(r) },
    };
  },
};
