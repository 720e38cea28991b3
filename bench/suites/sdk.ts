// Suite f: the SDK end to end (issue 10's targets). One relay in another process, two SDK
// Clients in this one (Alice and Bob, public API only: bench/lib/sdk-pair.ts), connected by an
// invitation. Alice sends N one-way 100-character texts to Bob with W sends in flight; Bob
// counts 'message' events. For W = 64 (throughput) and W = 1 (latency), alternating over
// several rounds, each reported as the median of its runs:
//
// - delivered messages/s, send → 'message' latency p50/p95/p99, send → durable OK p50;
// - this process's CPU per message (both clients, every thread) and the relay process's;
// - the relay's store writes and group commits per message, from its own metrics
//   (sealpost_commit_batch_size), which show whether the SDK lets the relay batch;
// - the primitives one message needs, timed alone in the same round (lib/message-primitives.ts),
//   and the clients' CPU per message as a multiple of their sum.
//
// A run that loses, duplicates or fails a text, or that has not delivered them all by its
// deadline, fails the suite (with how many arrived). The relay's send rate limit and quotas are
// lifted (LIFTED_LIMITS) so that they do not cap the measurement.
import { median } from '../lib/measure.js';
import { measureMessagePrimitives, type MessagePrimitives } from '../lib/message-primitives.js';
import { measureOutboxScaling, type OutboxScaling } from '../lib/outbox-scaling.js';
import { fmt, fmtRatio, type Table, type Target } from '../lib/report.js';
import { SdkPair, type SdkRun } from '../lib/sdk-pair.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

export interface SdkConfigResult {
  readonly window: number;
  readonly messages: number;
  /** One per round, in order. */
  readonly runs: readonly SdkRun[];
}
export interface SdkResult {
  readonly rounds: number;
  readonly warmupMessages: number;
  /** W = 64 first, then W = 1. */
  readonly configs: readonly SdkConfigResult[];
  /** The primitives one message needs (node backend), one measurement per round. */
  readonly primitives: readonly MessagePrimitives[];
  /** The outbox alone, by queue length (absent in reports made before it was measured). */
  readonly outbox?: readonly OutboxScaling[];
}

const THROUGHPUT_WINDOW = 64;
const LATENCY_WINDOW = 1;

export async function runSdk(ctx: SuiteContext): Promise<SdkResult> {
  const quick = ctx.quick;
  const rounds = quick ? 1 : 3;
  const plan = [
    { window: THROUGHPUT_WINDOW, messages: quick ? 300 : 2000 },
    { window: LATENCY_WINDOW, messages: quick ? 100 : 300 },
  ];
  const warmup = quick ? 100 : 300;
  const primitivesMs = quick ? 500 : 2000;
  ctx.progress.status('sdk: starting the relay process and two clients');
  const pair = await SdkPair.start({ maxLifetimeMs: Math.max(300_000, ctx.budgetMs * 4) });
  try {
    // Warm-up (JIT, LMDB file growth on both sides), not recorded.
    ctx.progress.status('sdk: warm-up');
    await pair.run(warmup, THROUGHPUT_WINDOW);
    await pair.run(Math.max(10, warmup / 10), LATENCY_WINDOW);
    const runs: SdkRun[][] = plan.map(() => []);
    const primitives: MessagePrimitives[] = [];
    const steps = rounds * (plan.length + 1);
    for (let k = 0; k < rounds; k++) {
      for (const [i, p] of plan.entries()) {
        ctx.progress.bar(`sdk: round ${k + 1}/${rounds}, ${p.messages} messages, ${p.window} in flight`, k * (plan.length + 1) + i, steps);
        runs[i]!.push(await pair.run(p.messages, p.window));
      }
      ctx.progress.bar(`sdk: round ${k + 1}/${rounds}, primitives`, k * (plan.length + 1) + plan.length, steps);
      primitives.push(measureMessagePrimitives(primitivesMs, 'node'));
    }
    ctx.progress.status('sdk: outbox scaling');
    const outbox: OutboxScaling[] = [];
    for (const n of quick ? [1024, 4096] : [1024, 16384]) outbox.push(await measureOutboxScaling(n));
    ctx.progress.done();
    return { rounds, warmupMessages: warmup, configs: plan.map((p, i) => ({ ...p, runs: runs[i]! })), primitives, outbox };
  } finally {
    await pair.close();
  }
}

// ---- rendering -----------------------------------------------------------------------------

const med = (xs: readonly SdkRun[], f: (r: SdkRun) => number): number => median(xs.map(f));
const medP = (xs: readonly MessagePrimitives[], f: (p: MessagePrimitives) => number): number => median(xs.map(f));

/** Client CPU per message ÷ the primitives' sum, within each round, median over the rounds. */
export function cpuRatio(r: SdkResult, window: number): number {
  const c = r.configs.find((x) => x.window === window);
  if (!c) return NaN;
  return median(c.runs.map((run, k) => run.clientCpuUsPerMsg / (r.primitives[k] ?? r.primitives[0]!).sumUs));
}

export function sdkTables(r: SdkResult): Table[] {
  const ms = (us: number): string => fmt(us / 1000);
  const e2e: Table = {
    title: `SDK end to end: two Clients in this process, one relay process, 100-character texts, one way (median of ${r.rounds} round${r.rounds === 1 ? '' : 's'})`,
    columns: ['in flight', 'messages', 'delivered msg/s', 'p50 ms', 'p95 ms', 'p99 ms', 'send OK p50 ms', 'client CPU ms/msg', 'system', 'relay CPU ms/msg', 'system', 'relay writes/msg', 'commits/msg', 'writes/commit'],
    rows: r.configs.map((c) => [
      String(c.window), fmt(c.messages), fmt(med(c.runs, (x) => x.messagesPerSec)),
      fmt(med(c.runs, (x) => x.p50Ms)), fmt(med(c.runs, (x) => x.p95Ms)), fmt(med(c.runs, (x) => x.p99Ms)), fmt(med(c.runs, (x) => x.sendP50Ms)),
      ms(med(c.runs, (x) => x.clientCpuUsPerMsg)), ms(med(c.runs, (x) => x.clientSysUsPerMsg)),
      ms(med(c.runs, (x) => x.relayCpuUsPerMsg)), ms(med(c.runs, (x) => x.relaySysUsPerMsg)),
      fmt(med(c.runs, (x) => x.relay.writesPerMessage)), fmt(med(c.runs, (x) => x.relay.commitsPerMessage)), fmt(med(c.runs, (x) => x.relay.meanBatch)),
    ]),
    notes: [
      'Latency: Alice\'s send() called → Bob\'s \'message\' event (matched by the text, which carries a sequence number); send OK: send() called → resolved (the relay\'s durable OK). Delivered msg/s: messages ÷ (first send → last \'message\'). Every run checks that each text arrived exactly once.',
      'Client CPU: this process (both clients, all threads: LMDB, libuv) per message; relay CPU: the relay process (all threads) per message; "system" is the kernel part (fsyncs, sockets). The relay\'s send rate limit and quotas are lifted.',
      'Relay writes and commits come from the relay\'s own metrics (sealpost_commit_batch_size): writes made durable in the same event-loop turn count as one group commit. One write per SEND and one per ACK; writes/commit near 1 means the relay\'s group commit has nothing to batch.',
      ...r.configs.map((c) => `Runs at ${c.window} in flight: ${c.runs.map((x) => fmt(x.messagesPerSec)).join(', ')} msg/s; p50 ${c.runs.map((x) => fmt(x.p50Ms)).join(', ')} ms; single-write commits ${c.runs.map((x) => `${fmt(x.relay.singleWritePct)} %`).join(', ')}.`),
    ],
  };
  const p = r.primitives;
  const sum = medP(p, (x) => x.sumUs);
  const prim: Table = {
    title: `SDK: the primitives one message needs (${p[0]?.backend ?? 'node'} backend, median of ${p.length}) and the clients' CPU per message`,
    columns: ['', 'µs per message'],
    rows: [
      ['ratchet step (encrypt + decrypt, 126 B plaintext)', fmt(medP(p, (x) => x.ratchetStepUs))],
      ['sealed envelope: seal (1 KiB bucket)', fmt(medP(p, (x) => x.envelopeSealUs))],
      ['sealed envelope: open', fmt(medP(p, (x) => x.envelopeOpenUs))],
      ['delivery layer: seal (relay) + open (client)', fmt(medP(p, (x) => x.deliverySealOpenUs))],
      ['sum of the primitives', fmt(sum)],
      ...r.configs.map((c) => [`clients' CPU per message, ${c.window} in flight (ratio to the sum)`, `${fmt(med(c.runs, (x) => x.clientCpuUsPerMsg))} (${fmtRatio(cpuRatio(r, c.window))})`]),
    ],
    notes: [
      'Each primitive is timed alone, interleaved with the others, in the same round as the end-to-end runs. The ratio is taken within each round, then the median. The rest of the clients\' CPU is everything else a message costs: the local encrypted store (four records sealed per message: the outbox entry, two history records, the session and seen set once per commit; LMDB writes and fsyncs), frames and sockets, garbage collection, events.',
    ],
  };
  const tables = [e2e, prim];
  if (r.outbox && r.outbox.length > 0) {
    tables.push({
      title: 'SDK outbox alone: submit and drain N envelopes (1 KiB) against a relay that answers at once, in-memory store',
      columns: ['entries', 'submit µs/entry', 'submit → all accepted µs/entry'],
      rows: r.outbox.map((o) => [fmt(o.entries), fmt(o.submitUsPerEntry), fmt(o.drainUsPerEntry)]),
      notes: ['Submit and pick are O(1) (spec/client.md §9.1): the per-entry cost does not grow with the queue. Before issue 10, submitting 16,384 entries took 860 ms (quadratic).'],
    });
  }
  return tables;
}

export function sdkTargets(r: SdkResult): Target[] {
  const out: Target[] = [];
  const big = r.configs.find((c) => c.window === THROUGHPUT_WINDOW);
  const one = r.configs.find((c) => c.window === LATENCY_WINDOW);
  if (big) {
    const rate = med(big.runs, (x) => x.messagesPerSec), p50 = med(big.runs, (x) => x.p50Ms);
    const relay = med(big.runs, (x) => x.relayCpuUsPerMsg) / 1000, ratio = cpuRatio(r, THROUGHPUT_WINDOW);
    out.push(
      { name: `SDK end to end, ${THROUGHPUT_WINDOW} in flight: delivered messages/s`, goal: '≥ 2,000', value: rate, unit: '/s', met: rate >= 2000 },
      { name: `SDK end to end, ${THROUGHPUT_WINDOW} in flight: send → message p50`, goal: '< 40 ms', value: p50, unit: 'ms', met: p50 < 40 },
      { name: `SDK clients' CPU per message ÷ its primitives (${THROUGHPUT_WINDOW} in flight)`, goal: '≤ 1.5×', value: ratio, unit: '×', met: ratio <= 1.5 },
      { name: `SDK: relay CPU per message (${THROUGHPUT_WINDOW} in flight)`, goal: '< 0.2 ms', value: relay, unit: 'ms', met: relay < 0.2 },
    );
  }
  if (one) {
    const p50 = med(one.runs, (x) => x.p50Ms);
    out.push({ name: `SDK end to end, ${LATENCY_WINDOW} in flight: send → message p50`, goal: '< 3 ms', value: p50, unit: 'ms', met: p50 < 3 });
  }
  return out;
}

export const sdkSuite: Suite = {
  id: 'sdk',
  title: 'f. SDK end to end: two clients, one relay process',
  budget: { full: 90_000, quick: 10_000 },
  measure: (ctx) => runSdk(ctx),
  render: (result) => {
    const r = result as SdkResult;
    return { tables: sdkTables(r), targets: sdkTargets(r) };
  },
};
