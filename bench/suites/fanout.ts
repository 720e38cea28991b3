// Suite d: group fan-out. One message (900 B body, 1 KiB bucket) sealed to 1,000 recipients,
// each with its own mailbox key, from one sender, by the SDK's own fan-out sealing
// (`sealToMany`, src/client/fanout.ts: what `Client.sendToMany` runs after the ratchet step):
// inline on the calling thread, and as one batch through pools of 1 and 2 workers (and of
// os.availableParallelism() if that is more). Wall time from the call to every envelope in
// hand, copied out of the pool's buffers: packing, transfer and decoding included.
import { availableParallelism } from 'node:os';
import { randomBytes, withBackend, x25519KeyPair } from '../../src/crypto/index.js';
import { CryptoPool } from '../../src/crypto/pool/index.js';
import { sealToMany, type SealTarget } from '../../src/client/fanout.js';
import { median, now } from '../lib/measure.js';
import { fmt, fmtMs, type Table, type Target } from '../lib/report.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

export interface FanoutRun { readonly name: string; readonly backend: string; readonly workers: number; readonly medianMs: number; readonly minMs: number; readonly runs: number; readonly envelopesPerSec: number }
export interface FanoutResult { readonly recipients: number; readonly bodyBytes: number; readonly bucket: number; readonly runs: readonly FanoutRun[] }

const RECIPIENTS = 1000;
const BUCKET = 1024;

export async function runFanout(ctx: SuiteContext): Promise<FanoutResult> {
  const sender = x25519KeyPair();
  const body = randomBytes(900); // with the sender key, authenticator and padding: the 1 KiB bucket
  const targets: SealTarget[] = Array.from({ length: RECIPIENTS }, () => ({ mailboxKey: x25519KeyPair().publicKey, body }));
  const sizes = [...new Set([1, 2, Math.max(1, availableParallelism())])].sort((a, b) => a - b);
  const runs: FanoutRun[] = [];
  const record = (name: string, backend: string, w: number, times: number[]): void => {
    const m = median(times);
    runs.push({ name, backend, workers: w, medianMs: m, minMs: Math.min(...times), runs: times.length, envelopesPerSec: (RECIPIENTS * 1000) / m });
  };
  const check = (res: Awaited<ReturnType<typeof sealToMany>>): void => {
    if (res.length !== RECIPIENTS || !res.every((r) => r.ok && r.value.length === BUCKET)) throw new Error('fan-out seal failed');
  };
  // The inline path seals synchronously inside the call, so withBackend covers it.
  const inline = (backend: 'node' | 'noble'): Promise<ReturnType<typeof check> | void> => withBackend(backend, () => sealToMany(sender, targets, null)).then(check);

  // Inline and every pool size alternate within each round (native backend), so that all see the same noise.
  ctx.progress.status(`fan-out: inline vs pools of ${sizes.join(', ')} (node)`);
  const pools = await Promise.all(sizes.map((size) => CryptoPool.create({ size, backend: 'node' })));
  const inlineTimes: number[] = [];
  const poolTimes: number[][] = sizes.map(() => []);
  try {
    await withBackend('node', () => sealToMany(sender, targets.slice(0, 50), null)); // warm-up
    for (const p of pools) await sealToMany(sender, targets.slice(0, 100), p);
    const minRuns = ctx.quick ? 2 : 3;
    const end = now() + ctx.budgetMs * 0.8;
    while (inlineTimes.length < minRuns || (now() < end && inlineTimes.length < 100)) {
      let t0 = now();
      await inline('node');
      inlineTimes.push(now() - t0);
      for (let i = 0; i < pools.length; i++) {
        t0 = now();
        check(await sealToMany(sender, targets, pools[i]!));
        poolTimes[i]!.push(now() - t0);
      }
      ctx.progress.status(`fan-out: ${inlineTimes.length} rounds`);
    }
  } finally { await Promise.all(pools.map((p) => p.close())); }
  record('inline (calling thread)', 'node', 0, inlineTimes);
  sizes.forEach((size, i) => record(`pool, ${size} worker${size === 1 ? '' : 's'}`, 'node', size, poolTimes[i]!));

  // The portable backend once (it is an order of magnitude slower), outside quick mode.
  if (!ctx.quick) {
    ctx.progress.status('fan-out: inline (noble)');
    const t0 = now();
    await inline('noble');
    record('inline (calling thread)', 'noble', 0, [now() - t0]);
  }
  ctx.progress.done();
  return { recipients: RECIPIENTS, bodyBytes: body.length, bucket: BUCKET, runs };
}

export function fanoutTable(r: FanoutResult): Table {
  return {
    title: `Fan-out: one ${r.bodyBytes} B message sealed to ${fmt(r.recipients)} recipients (${r.bucket} B envelopes)`,
    columns: ['how', 'backend', 'wall time (median)', 'best', 'runs', 'envelopes/s'],
    rows: r.runs.map((x) => [x.name, x.backend, fmtMs(x.medianMs), fmtMs(x.minMs), String(x.runs), fmt(x.envelopesPerSec)]),
  };
}

/** The target is the largest pool's (what a client gets by default: os.availableParallelism() workers). */
export function fanoutTargets(r: FanoutResult): Target[] {
  const pool = r.runs.filter((x) => x.backend === 'node' && x.workers > 0).sort((a, b) => b.workers - a.workers)[0];
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
