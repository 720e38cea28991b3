// Suite j: private routing (spec/federation.md) against direct sends, over loopback. Two relays
// in their own processes (bench/relay-child.ts), A and B, partners of each other; receivers hold
// subscribed mailboxes on B. In alternating rounds of equal length, the same senders either SEND
// straight to B (direct) or FORWARD through A, each request sealed to B (forwarded): closed
// loops of durable 1 KiB envelopes. Per round: envelopes per second (OKs, that is envelopes
// durably committed at B, within the window), and the latency from command to OK. The report
// gives medians over the rounds, forwarded/direct throughput, and the latency forwarding adds
// (p50 and p99, forwarded minus direct). Sealing each request (one X25519 and an HPKE seal) is
// the sender's work and is timed in the latency. With SEALPOST_BENCH_POSTGRES_URL and
// SEALPOST_BENCH_NATS_URL set (an empty database), B keeps its store in PostgreSQL: forwarded
// SENDs then claim their idempotency keys in the SEND batch's transaction (spec/federation.md §6).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from '../../src/crypto/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { ack, createMailbox, newMailboxKeys, sendCapability, sendEnvelope, subscribe, type SendCapability } from '../../src/client/mailbox.js';
import { forwardEnvelope, newIdempotencyKey, queryDestination, type DestinationRelay } from '../../src/client/forwarding.js';
import { loadOrCreateIdentity } from '../../src/relay/identity.js';
import { now, percentile } from '../lib/measure.js';
import { LIFTED_LIMITS, RelayProcess, relayCpuUs } from '../lib/relay-process.js';
import { fmt, fmtMs, fmtRatio, fmtUs, type Table, type Target } from '../lib/report.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

export interface RoundStats {
  readonly perSec: number; readonly okP50Ms: number; readonly okP99Ms: number; readonly errors: number;
  /** CPU of relay A (forwarding) and B (destination) per envelope OK, µs, all threads. */
  readonly aUsPerEnv?: number; readonly bUsPerEnv?: number;
}
export interface FederationResult {
  readonly senders: number;
  /** Both relays' cryptoWorkers (spec/protocol.md §12): B's opens of forwarded SENDs run there. */
  readonly cryptoWorkers?: number;
  readonly window: number;
  /** Where B keeps its store. */
  readonly destinationStore?: 'lmdb' | 'postgres';
  readonly roundSeconds: number;
  readonly direct: readonly RoundStats[];
  readonly forwarded: readonly RoundStats[];
  /** One command in flight from one sender: latency without queueing. */
  readonly directSingle: readonly RoundStats[];
  readonly forwardedSingle: readonly RoundStats[];
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * One closed-loop round: every sender keeps `window` commands in flight until `ms` have passed,
 * then waits for those out; the rate is over the time until the last answer, so a round shorter
 * than one answer's latency (a quick run on a loaded machine) still measures something.
 */
async function round(senders: readonly RelayConnection[], window: number, ms: number, send: (conn: RelayConnection, k: number) => Promise<void>, relays: readonly RelayProcess[] = []): Promise<RoundStats> {
  const before = await Promise.all(relays.map((r) => r.sample()));
  const lat: number[] = [];
  let oks = 0;
  let errors = 0;
  const t0 = now();
  const end = t0 + ms;
  let k = 0;
  await Promise.all(senders.flatMap((conn) => Array.from({ length: window }, async () => {
    while (now() < end) {
      const s = now();
      try {
        await send(conn, k++);
        oks++;
        lat.push(now() - s);
      } catch {
        errors++;
      }
    }
  })));
  const elapsed = Math.max(ms, now() - t0);
  const stats: RoundStats = { perSec: oks / (elapsed / 1000), okP50Ms: percentile(lat, 50), okP99Ms: percentile(lat, 99), errors };
  if (relays.length !== 2 || oks === 0) return stats;
  const after = await Promise.all(relays.map((r) => r.sample()));
  return { ...stats, aUsPerEnv: relayCpuUs(before[0]!, after[0]!) / oks, bUsPerEnv: relayCpuUs(before[1]!, after[1]!) / oks };
}

async function runFederation(ctx: SuiteContext): Promise<FederationResult> {
  // --quick: one short round, enough to keep the suite working (the whole quick run has two minutes).
  const rounds = ctx.quick ? 1 : 4;
  const roundMs = Math.max(ctx.quick ? 500 : 1_000, Math.floor(ctx.budgetMs / (rounds * 2.5)));
  const warmMs = ctx.quick ? 100 : 300;
  const sendersN = 4;
  const window = 16;
  const dirs = [mkdtempSync(join(tmpdir(), 'sealpost-bench-fa-')), mkdtempSync(join(tmpdir(), 'sealpost-bench-fb-'))];
  const ports = [await freePort(), await freePort()];
  const addr = dirs.map((d, i) => `sealpost+ws://${loadOrCreateIdentity(d).fingerprint}@127.0.0.1:${ports[i]}`);
  // SEALPOST_BENCH_CRYPTO_WORKERS=2: both relays with crypto workers (default 0, the relays' default).
  const cryptoWorkers = Number(process.env['SEALPOST_BENCH_CRYPTO_WORKERS'] ?? 0);
  const base = { host: '127.0.0.1', metricsPort: null, logLevel: 'error', cryptoWorkers, ...LIFTED_LIMITS };
  const lifetime = Math.max(120_000, ctx.budgetMs * 3);
  const [pgUrl, natsUrl] = [process.env['SEALPOST_BENCH_POSTGRES_URL'], process.env['SEALPOST_BENCH_NATS_URL']];
  const bStore = pgUrl && natsUrl ? { postgresUrl: pgUrl, natsUrl } : {};
  const relays: RelayProcess[] = [];
  const conns: RelayConnection[] = [];
  try {
    relays.push(await RelayProcess.start({ ...base, dataDir: dirs[0], port: ports[0], peers: [addr[1]] }, lifetime));
    relays.push(await RelayProcess.start({ ...base, ...bStore, dataDir: dirs[1], port: ports[1], peers: [addr[0]] }, lifetime));
    const connect = async (a: string): Promise<RelayConnection> => { const c = await RelayConnection.connect(a, { timeoutMs: 10_000 }); conns.push(c); return c; };
    // Receivers on B: one mailbox per sender, subscribed, acknowledging what they get.
    const caps: SendCapability[] = [];
    for (let i = 0; i < sendersN; i++) {
      const r = await connect(addr[1]!);
      const keys = newMailboxKeys();
      await createMailbox(r, keys);
      r.onMessage((m) => { void ack(r, keys, m.msgId).catch(() => {}); });
      await subscribe(r, keys);
      caps.push(sendCapability(addr[1]!, keys));
    }
    const direct = await Promise.all(Array.from({ length: sendersN }, () => connect(addr[1]!)));
    const viaA = await Promise.all(Array.from({ length: sendersN }, () => connect(addr[0]!)));
    const dest: DestinationRelay = await queryDestination(viaA[0]!, addr[1]!);
    const env = randomBytes(1024);
    const capOf = new Map<RelayConnection, SendCapability>([...direct.map((c, i) => [c, caps[i]!] as const), ...viaA.map((c, i) => [c, caps[i]!] as const)]);
    const sendDirect = (c: RelayConnection): Promise<void> => sendEnvelope(c, capOf.get(c)!, env, 10_000);
    const sendForwarded = (c: RelayConnection): Promise<void> => forwardEnvelope(c, dest, capOf.get(c)!, env, newIdempotencyKey(), 10_000);
    // Warm both paths (the link, JIT), then alternate.
    await round(direct, window, warmMs, sendDirect);
    await round(viaA, window, warmMs, sendForwarded);
    const out = { direct: [] as RoundStats[], forwarded: [] as RoundStats[], directSingle: [] as RoundStats[], forwardedSingle: [] as RoundStats[] };
    for (let i = 0; i < rounds; i++) {
      ctx.progress.step(`round ${i + 1}/${rounds}: direct, forwarded (closed loops), then one at a time`);
      out.direct.push(await round(direct, window, roundMs, sendDirect, relays));
      out.forwarded.push(await round(viaA, window, roundMs, sendForwarded, relays));
      out.directSingle.push(await round(direct.slice(0, 1), 1, roundMs / 4, sendDirect));
      out.forwardedSingle.push(await round(viaA.slice(0, 1), 1, roundMs / 4, sendForwarded));
    }
    return { senders: sendersN, window, roundSeconds: roundMs / 1000, cryptoWorkers, destinationStore: pgUrl && natsUrl ? 'postgres' : 'lmdb', ...out };
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await Promise.all(relays.map((r) => r.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

const med = (xs: readonly RoundStats[], f: (r: RoundStats) => number): number => percentile(xs.map(f), 50);
/** Median CPU per envelope, or – when not measured (one-at-a-time rows). */
const cpu = (xs: readonly RoundStats[], f: (r: RoundStats) => number | undefined): string => {
  const v = xs.map(f).filter((x): x is number => x !== undefined);
  return v.length === 0 ? '–' : fmtUs(percentile(v, 50));
};

export function federationFigures(r: FederationResult): { ratio: number; addedP50: number; addedP99: number; loadedAddedP50: number; loadedAddedP99: number } {
  return {
    ratio: med(r.forwarded, (x) => x.perSec) / Math.max(1, med(r.direct, (x) => x.perSec)),
    addedP50: med(r.forwardedSingle, (x) => x.okP50Ms) - med(r.directSingle, (x) => x.okP50Ms),
    addedP99: med(r.forwardedSingle, (x) => x.okP99Ms) - med(r.directSingle, (x) => x.okP99Ms),
    loadedAddedP50: med(r.forwarded, (x) => x.okP50Ms) - med(r.direct, (x) => x.okP50Ms),
    loadedAddedP99: med(r.forwarded, (x) => x.okP99Ms) - med(r.direct, (x) => x.okP99Ms),
  };
}

function tables(r: FederationResult): Table[] {
  const f = federationFigures(r);
  const row = (name: string, xs: readonly RoundStats[]): string[] => [
    name, fmt(med(xs, (x) => x.perSec)), fmtMs(med(xs, (x) => x.okP50Ms)), fmtMs(med(xs, (x) => x.okP99Ms)), String(xs.reduce((a, x) => a + x.errors, 0)),
    cpu(xs, (x) => x.aUsPerEnv), cpu(xs, (x) => x.bUsPerEnv),
  ];
  return [{
    title: `Private routing: durable 1 KiB envelopes, direct to B${r.destinationStore === 'postgres' ? ' (PostgreSQL + NATS)' : ''} vs forwarded through A (${r.senders} senders × ${r.window} in flight, alternating rounds of ${fmt(r.roundSeconds)} s, median of ${r.direct.length}, cryptoWorkers ${r.cryptoWorkers ?? 0})`,
    columns: ['path', 'envelopes/s', 'command → OK p50', 'p99', 'errors', 'relay A CPU / env', 'relay B CPU / env'],
    rows: [
      row('direct SEND to B', r.direct), row('FORWARD through A (sealed to B)', r.forwarded),
      row('direct, one at a time', r.directSingle), row('forwarded, one at a time', r.forwardedSingle),
    ],
    notes: [
      `Forwarded / direct throughput: ${fmtRatio(f.ratio)}. Latency added by forwarding, one at a time: p50 ${fmtMs(f.addedP50)}, p99 ${fmtMs(f.addedP99)}; in the closed loops (queueing included): p50 ${fmtMs(f.loadedAddedP50)}, p99 ${fmtMs(f.loadedAddedP99)}.`,
      'A forwarded envelope costs two public-key operations a direct SEND does not have: the sender\'s HPKE seal to B and B\'s open (an X25519 each, plus the HPKE key schedule); on this machine they dominate the closed loop. Relay CPU per envelope (all threads of each relay process) is what sizes relays on their own machines: B\'s capacity for forwarded envelopes is about one core-second divided by its CPU per envelope.',
      'Both relays and the load generator share the machine; the forwarded path costs A its own work (and the sender an HPKE seal per envelope), so on one machine it competes with B for the same cores.',
    ],
  }];
}

function targets(r: FederationResult): Target[] {
  const f = federationFigures(r);
  return [
    { name: 'forwarded / direct throughput (1 KiB, durable)', goal: '≥ 0.5×', value: f.ratio, unit: '×', met: f.ratio >= 0.5 },
    { name: 'latency added by forwarding, p50 (loopback, one at a time)', goal: '< 10 ms', value: f.addedP50, unit: 'ms', met: f.addedP50 < 10 },
  ];
}

export const federationSuite: Suite = {
  id: 'federation',
  title: 'j. Private routing: forwarded vs direct sends',
  budget: { full: 40_000, quick: 1_500 },
  measure: (ctx) => runFederation(ctx),
  render: (result) => ({ tables: tables(result as FederationResult), targets: targets(result as FederationResult) }),
};
