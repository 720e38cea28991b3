// Suite d: group fan-out. One message (900 B body, 1 KiB bucket) sealed to 1,000 recipients,
// each with its own mailbox key, from one sender: on the calling thread, then through a pool
// of N workers (one batch, split in N chunks). Wall time from the call to every envelope in
// hand, packing, transfer and decoding included.
import { availableParallelism } from 'node:os';
import { randomBytes, sealEnvelope, withBackend, x25519KeyPair } from '../../src/crypto/index.js';
import { CryptoPool, type SealEnvelopeItem } from '../../src/crypto/pool/index.js';
import { blackhole, median, now } from '../lib/measure.js';
import { fmt, fmtMs, type Table, type Target } from '../lib/report.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

export interface FanoutRun { readonly name: string; readonly backend: string; readonly workers: number; readonly medianMs: number; readonly minMs: number; readonly runs: number; readonly envelopesPerSec: number }
export interface FanoutResult { readonly recipients: number; readonly bodyBytes: number; readonly bucket: number; readonly runs: readonly FanoutRun[] }

const RECIPIENTS = 1000;

export async function runFanout(ctx: SuiteContext): Promise<FanoutResult> {
  const sender = x25519KeyPair();
  const body = randomBytes(900);
  const items: SealEnvelopeItem[] = Array.from({ length: RECIPIENTS }, () => ({ mailboxKey: x25519KeyPair().publicKey, sender, body, bucket: 1024 }));
  const workers = Math.max(1, availableParallelism());
  const runs: FanoutRun[] = [];
  const record = (name: string, backend: string, w: number, times: number[]): void => {
    const m = median(times);
    runs.push({ name, backend, workers: w, medianMs: m, minMs: Math.min(...times), runs: times.length, envelopesPerSec: (RECIPIENTS * 1000) / m });
  };
  const budget = ctx.budgetMs;

  // Inline and pool runs alternate (native backend), so that both see the same noise.
  ctx.progress.status(`fan-out: inline vs pool of ${workers} (node)`);
  const pool = await CryptoPool.create({ size: workers, backend: 'node' });
  const inlineTimes: number[] = [], poolTimes: number[] = [];
  try {
    withBackend('node', () => { for (const it of items.slice(0, 50)) blackhole(sealEnvelope(it)); }); // warm-up
    await pool.sealEnvelopes(items.slice(0, 100));
    const minRuns = ctx.quick ? 2 : 3;
    const end = now() + budget * 0.8;
    while (inlineTimes.length < minRuns || (now() < end && inlineTimes.length < 100)) {
      let t0 = now();
      withBackend('node', () => { for (const it of items) blackhole(sealEnvelope(it)); });
      inlineTimes.push(now() - t0);
      t0 = now();
      const res = await pool.sealEnvelopes(items);
      poolTimes.push(now() - t0);
      if (!res.every((r) => r.ok && r.value.length === 1024)) throw new Error('fan-out seal failed');
      ctx.progress.status(`fan-out: ${inlineTimes.length} rounds`);
    }
  } finally { await pool.close(); }
  record('inline (calling thread)', 'node', 0, inlineTimes);
  record(`pool, ${workers} workers`, 'node', workers, poolTimes);

  // The portable backend once (it is an order of magnitude slower), outside quick mode.
  if (!ctx.quick) {
    ctx.progress.status('fan-out: inline (noble)');
    const t0 = now();
    withBackend('noble', () => { for (const it of items) blackhole(sealEnvelope(it)); });
    record('inline (calling thread)', 'noble', 0, [now() - t0]);
  }
  ctx.progress.done();
  return { recipients: RECIPIENTS, bodyBytes: body.length, bucket: 1024, runs };
}

export function fanoutTable(r: FanoutResult): Table {
  return {
    title: `Fan-out: one ${r.bodyBytes} B message sealed to ${fmt(r.recipients)} recipients (${r.bucket} B envelopes)`,
    columns: ['how', 'backend', 'wall time (median)', 'best', 'runs', 'envelopes/s'],
    rows: r.runs.map((x) => [x.name, x.backend, fmtMs(x.medianMs), fmtMs(x.minMs), String(x.runs), fmt(x.envelopesPerSec)]),
  };
}

export function fanoutTargets(r: FanoutResult): Target[] {
  const pool = r.runs.find((x) => x.backend === 'node' && x.workers > 0);
  return pool ? [{ name: `fan-out to ${r.recipients} recipients, node, pool (median)`, goal: '< 150 ms', value: pool.medianMs, unit: 'ms', met: pool.medianMs < 150 }] : [];
}

export const fanoutSuite: Suite = {
  id: 'fanout',
  title: 'd. Group fan-out: seal one message to 1,000 recipients',
  budget: { full: 15_000, quick: 3_000 },
  measure: (ctx) => runFanout(ctx),
  render: (result) => {
    const r = result as FanoutResult;
    return { tables: [fanoutTable(r)], targets: fanoutTargets(r) };
  },
};
