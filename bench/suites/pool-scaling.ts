// Suite c: worker-pool scaling for envelope open (native backend). For 1..N workers
// (N = availableParallelism) and batches of 1, 16 and 256 items, a closed loop keeps 2 ×
// workers batches in flight; throughput is compared with opening on the calling thread
// (inline), measured right before each configuration so that both see the same noise.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  ed25519KeyPair, ed25519Sign, ed25519Verify, openEnvelope, randomBytes, sealEnvelope, withBackend, x25519, x25519KeyPair,
} from '../../src/crypto/index.js';
import { CryptoPool, type OpenEnvelopeItem, type PoolOpName, type VerifyEd25519Item, type X25519Item } from '../../src/crypto/pool/index.js';
import { blackhole, measureAsync, median, now } from '../lib/measure.js';
import { fmt, fmtRatio, fmtUs, type Table, type Target } from '../lib/report.js';
import { lineChart } from '../lib/svg.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

export const BATCHES = [1, 16, 256] as const;
const BACKEND = 'node';

export interface ScalingRow {
  readonly workers: number;
  readonly batch: number;
  /** Batches kept in flight by the closed loop. */
  readonly inFlight: number;
  readonly itemsPerSec: number;
  readonly inlinePerSec: number;
  readonly speedup: number;
  /** speedup ÷ workers. */
  readonly efficiency: number;
  readonly batchP50Ms: number;
  /** Alternating inline/pool rounds; speed-up is the median of the per-round ratios. */
  readonly rounds: number;
}
/** Other operations through the same pool, batch 256: is a shortfall the pool's or the operation's? */
export interface OpScalingRow { readonly op: string; readonly workers: number; readonly batch: number; readonly itemsPerSec: number; readonly inlinePerSec: number; readonly speedup: number }
export interface ScalingResult {
  readonly backend: string;
  readonly maxWorkers: number;
  readonly bucket: number;
  readonly inlineOpenPerSec: number;
  /** One item alone, one at a time, through a 1-worker pool: the round trip. */
  readonly singleItemRoundTripUs: number;
  readonly inlineOpenUs: number;
  readonly rows: readonly ScalingRow[];
  readonly otherOps: readonly OpScalingRow[];
}

function makeItems(n: number): OpenEnvelopeItem[] {
  const mailbox = x25519KeyPair();
  const sender = x25519KeyPair();
  const body = randomBytes(900);
  return withBackend(BACKEND, () => Array.from({ length: n }, () => ({
    mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey,
    envelope: sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, bucket: 1024 }),
  })));
}

/** Runs `fn` over `items` on the calling thread for `ms`; items per second. */
function inlineRate<T>(items: readonly T[], fn: (item: T) => unknown, ms: number): number {
  return withBackend(BACKEND, () => {
    let n = 0, k = 0;
    const t0 = now();
    const end = t0 + ms;
    do {
      for (let i = 0; i < 16; i++) blackhole(fn(items[k++ % items.length]!));
      n += 16;
    } while (now() < end);
    return (n * 1000) / (now() - t0);
  });
}
const inline = (items: readonly OpenEnvelopeItem[], ms: number): number => inlineRate(items, openEnvelope, ms);

/** `lanes` closed loops of `batch`-item calls of `op` for `ms`; items/s and per-batch latencies. */
async function poolRate<T>(pool: CryptoPool, op: PoolOpName, items: readonly T[], batch: number, lanes: number, ms: number, warmupMs = Math.min(200, ms / 5)): Promise<{ perSec: number; latencies: number[] }> {
  const latencies: number[] = [];
  let offset = 0;
  const lane = async (): Promise<number> => {
    const start = offset;
    offset = (offset + batch) % items.length;
    const b = batch <= items.length - start ? items.slice(start, start + batch) : items.slice(0, batch);
    const t0 = now();
    const res = await pool.run(op, b as never[]);
    latencies.push(now() - t0);
    if (!res[0]?.ok) throw new Error(`pool ${op} failed: ${JSON.stringify(res[0])}`);
    return res.length;
  };
  const perLane = await Promise.all(Array.from({ length: lanes }, () => measureAsync(lane, ms, warmupMs)));
  return { perSec: perLane.reduce((a, r) => a + r.perSec, 0), latencies };
}

/**
 * Alternates inline and pool measurements for `rounds` rounds within `ms` (a third inline, two
 * thirds pool per round) and reports the median of the per-round ratios: a burst of noise
 * from other tenants then spoils one round, not the comparison.
 */
async function alternate<T>(pool: CryptoPool, op: PoolOpName, items: readonly T[], fn: (item: T) => unknown, batch: number, lanes: number, ms: number, rounds: number): Promise<{
  inlinePerSec: number; poolPerSec: number; speedup: number; latencies: number[]; inlineRates: number[]; rounds: number;
}> {
  const per = ms / rounds;
  const inlineRates: number[] = [], poolRates: number[] = [], ratios: number[] = [], latencies: number[] = [];
  await poolRate(pool, op, items, batch, lanes, Math.min(300, per / 3)); // warm the workers for this op and size
  for (let r = 0; r < rounds; r++) {
    const i = inlineRate(items, fn, per / 3);
    const p = await poolRate(pool, op, items, batch, lanes, (per * 2) / 3, 0);
    inlineRates.push(i);
    poolRates.push(p.perSec);
    ratios.push(p.perSec / i);
    latencies.push(...p.latencies);
  }
  return { inlinePerSec: median(inlineRates), poolPerSec: median(poolRates), speedup: median(ratios), latencies, inlineRates, rounds };
}

/** `threads` bare worker threads opening envelopes in a loop (bench/raw-worker.ts), no pool. */
class RawThreads {
  private constructor(private readonly workers: Worker[]) {}
  static async start(threads: number): Promise<RawThreads> {
    const url = new URL('../raw-worker.js', import.meta.url);
    const workers = await Promise.all(Array.from({ length: threads }, () => new Promise<Worker>((resolve, reject) => {
      const w = new Worker(url);
      w.once('message', () => resolve(w));
      w.once('error', reject);
    })));
    return new RawThreads(workers);
  }
  /** Items per second of all threads together over `ms`. */
  async rate(ms: number): Promise<number> {
    const res = await Promise.all(this.workers.map((w) => new Promise<{ n: number; ms: number }>((resolve) => {
      w.once('message', resolve);
      w.postMessage(ms);
    })));
    return res.reduce((a, r) => a + (r.n * 1000) / r.ms, 0);
  }
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function otherItems(): { verify: VerifyEd25519Item[]; dh: X25519Item[] } {
  const ed = ed25519KeyPair();
  const a = x25519KeyPair();
  return withBackend(BACKEND, () => ({
    verify: Array.from({ length: 256 }, () => { const message = randomBytes(64); return { signature: ed25519Sign(ed.seed, message), message, publicKey: ed.publicKey }; }),
    dh: Array.from({ length: 256 }, () => ({ secretKey: a.secretKey, publicKey: x25519KeyPair().publicKey })),
  }));
}

export async function runPoolScaling(ctx: SuiteContext): Promise<ScalingResult> {
  const maxWorkers = Math.max(1, availableParallelism());
  const items = makeItems(512);
  const other = otherItems();
  const OTHER: { op: PoolOpName; items: readonly unknown[]; fn: (x: never) => unknown }[] = [
    { op: 'verifyEd25519', items: other.verify, fn: (x: VerifyEd25519Item) => ed25519Verify(x.signature, x.message, x.publicKey as never) },
    { op: 'x25519', items: other.dh, fn: (x: X25519Item) => x25519(x.secretKey, x.publicKey) },
  ];
  const configs = maxWorkers * (BATCHES.length + OTHER.length + 1);
  const slice = ctx.budgetMs / (configs + 1);
  const rounds = ctx.quick ? 2 : 4;
  const otherOps: OpScalingRow[] = [];
  const rows: ScalingRow[] = [];
  inline(items, Math.min(200, slice / 4)); // warm-up
  const inlineAll: number[] = [];
  let singleItemRoundTripUs = NaN;
  let step = 0;
  for (let workers = 1; workers <= maxWorkers; workers++) {
    const pool = await CryptoPool.create({ size: workers, backend: BACKEND, maxQueue: 4 * workers });
    try {
      if (workers === 1) {
        // Round trip of one item, one at a time.
        const rts: number[] = [];
        const end = now() + slice / 2;
        let k = 0;
        while (now() < end || rts.length < 20) {
          const t0 = now();
          await pool.openEnvelopes([items[k++ % items.length]!]);
          rts.push((now() - t0) * 1000);
        }
        singleItemRoundTripUs = median(rts);
      }
      for (const batch of BATCHES) {
        ctx.progress.bar(`pool: ${workers} worker(s), batch ${batch}`, step++, configs);
        const lanes = 2 * workers;
        const m = await alternate(pool, 'openEnvelope', items, openEnvelope, batch, lanes, slice, rounds);
        inlineAll.push(...m.inlineRates);
        rows.push({
          workers, batch, inFlight: lanes, itemsPerSec: m.poolPerSec, inlinePerSec: m.inlinePerSec, speedup: m.speedup,
          efficiency: m.speedup / workers, batchP50Ms: median(m.latencies), rounds: m.rounds,
        });
      }
      for (const o of OTHER) {
        ctx.progress.bar(`pool: ${workers} worker(s), ${o.op} batch 256`, step++, configs);
        const m = await alternate(pool, o.op, o.items, o.fn as (x: unknown) => unknown, 256, 2 * workers, slice, rounds);
        otherOps.push({ op: o.op, workers, batch: 256, itemsPerSec: m.poolPerSec, inlinePerSec: m.inlinePerSec, speedup: m.speedup });
      }
      // Control: the same envelope opens on bare worker threads, no pool at all.
      ctx.progress.bar(`pool: ${workers} bare thread(s), no pool`, step++, configs);
      const raw = await RawThreads.start(workers);
      try {
        await raw.rate(Math.min(300, slice / 6));
        const inl: number[] = [], thr: number[] = [], ratios: number[] = [];
        for (let r = 0; r < rounds; r++) {
          const i = inline(items, slice / rounds / 3);
          const t = await raw.rate((slice * 2) / rounds / 3);
          inl.push(i); thr.push(t); ratios.push(t / i);
        }
        otherOps.push({ op: 'openEnvelope, bare threads (no pool)', workers, batch: 0, itemsPerSec: median(thr), inlinePerSec: median(inl), speedup: median(ratios) });
      } finally { await raw.close(); }
    } finally { await pool.close(); }
  }
  ctx.progress.done();
  const inlineOpenPerSec = median(inlineAll);
  return {
    backend: BACKEND, maxWorkers, bucket: 1024, inlineOpenPerSec, inlineOpenUs: 1e6 / inlineOpenPerSec,
    singleItemRoundTripUs, rows, otherOps,
  };
}

export function scalingTable(r: ScalingResult): Table {
  return {
    title: `Pool scaling: envelope open, ${r.bucket} B bucket, ${r.backend} backend (inline = calling thread)`,
    columns: ['workers', 'batch', 'in flight', 'items/s', 'inline items/s', 'speed-up', 'efficiency/worker', 'batch p50'],
    rows: r.rows.map((x) => [
      String(x.workers), String(x.batch), String(x.inFlight), fmt(x.itemsPerSec), fmt(x.inlinePerSec), fmtRatio(x.speedup),
      `${fmt(x.efficiency * 100)} %`, `${fmt(x.batchP50Ms)} ms`,
    ]),
    notes: [
      `One item alone through a 1-worker pool: ${fmtUs(r.singleItemRoundTripUs)} round trip, vs ${fmtUs(r.inlineOpenUs)} to open it inline.`,
      'speed-up = median over alternating rounds of (pool items/s ÷ inline items/s of the same round); efficiency = speed-up ÷ workers.',
    ],
  };
}

export function otherOpsTable(r: ScalingResult): Table {
  const vsBare = r.otherOps.filter((x) => x.op.includes('bare')).map((b) => {
    const pool = r.rows.filter((x) => x.workers === b.workers && x.batch >= 16);
    const worst = pool.length ? Math.min(...pool.map((x) => x.speedup)) : NaN;
    return `${b.workers} worker(s): pool at batch ≥ 16 reaches ${fmt((worst / b.speedup) * 100)} % of the bare-thread speed-up (${fmtRatio(worst)} vs ${fmtRatio(b.speedup)}).`;
  });
  return {
    title: 'Controls: other operations through the pool (batch 256), and envelope open on bare threads without the pool',
    columns: ['operation', 'workers', 'items/s', 'inline items/s', 'speed-up'],
    rows: r.otherOps.map((x) => [x.op, String(x.workers), fmt(x.itemsPerSec), fmt(x.inlinePerSec), fmtRatio(x.speedup)]),
    notes: [
      'Bare threads: N worker_threads each opening envelopes in a tight loop, no pool, no packing, no messages: the most N threads can do here.',
      'Pool speed-up close to the bare-thread speed-up means the pool costs little; both below N means the machine (cores shared with other tenants) or the operation limits scaling.',
      ...vsBare,
    ],
  };
}

export function scalingTargets(r: ScalingResult): Target[] {
  const at2 = r.rows.filter((x) => x.workers === 2 && x.batch >= 16);
  if (at2.length === 0) return [];
  const worst = Math.min(...at2.map((x) => x.speedup));
  return [{ name: 'pool speed-up, 2 workers, batch ≥ 16 (worst of 16, 256)', goal: '≥ 1.8×', value: worst, unit: '×', met: worst >= 1.8 }];
}

export function scalingChart(r: ScalingResult): string {
  const ws = Array.from({ length: r.maxWorkers }, (_, i) => i + 1);
  return lineChart({
    title: `Pool scaling: envelope open speed-up vs inline (${r.backend})`,
    categories: ws.map((w) => `${w} worker${w > 1 ? 's' : ''}`),
    series: [
      ...BATCHES.map((b) => ({ name: `pool, batch ${b}`, values: ws.map((w) => r.rows.find((x) => x.workers === w && x.batch === b)?.speedup) })),
      { name: 'bare threads, no pool', color: '#9467bd', values: ws.map((w) => r.otherOps.find((x) => x.workers === w && x.op.includes('bare'))?.speedup) },
      { name: 'ideal', color: '#999999', dashed: true, values: ws },
    ],
    yLabel: 'speed-up (×)',
    guides: r.maxWorkers >= 2 ? [{ value: 1.8, label: 'target 1.8× at 2 workers' }] : [],
  });
}

export const poolScalingSuite: Suite = {
  id: 'pool',
  title: 'c. Worker-pool scaling (envelope open)',
  budget: { full: 60_000, quick: 7_000 },
  measure: (ctx) => runPoolScaling(ctx),
  render: (result) => {
    const r = result as ScalingResult;
    return { tables: [scalingTable(r), otherOpsTable(r)], targets: scalingTargets(r), charts: { 'scaling.svg': scalingChart(r) } };
  },
};
