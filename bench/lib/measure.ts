// Timing helpers. The machine is shared and noisy, so every comparison is measured in one
// run, interleaved (round-robin samples of each case), and reported as a median.
import { performance } from 'node:perf_hooks';

export const now = (): number => performance.now();

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile (p in [0, 100]) of unsorted samples. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

export interface Case {
  readonly name: string;
  /** One operation. Keep it synchronous: asynchronous work is measured elsewhere. */
  readonly fn: () => unknown;
}

export interface CaseResult {
  readonly name: string;
  readonly opsPerSec: number;
  /** Microseconds per operation (median sample). */
  readonly usPerOp: number;
  readonly samples: number;
  readonly ops: number;
}

let sink: unknown;
/** Keeps results alive so that the JIT cannot drop the work. */
export const blackhole = (v: unknown): void => { sink = v; };
export const lastSink = (): unknown => sink;

/** How many calls of `fn` take about `targetMs` (at least 1). */
function calibrate(fn: () => unknown, targetMs: number): number {
  let n = 1;
  for (;;) {
    const t0 = now();
    for (let i = 0; i < n; i++) blackhole(fn());
    const dt = now() - t0;
    if (dt >= targetMs * 0.7 || n >= 1 << 24) return Math.max(1, Math.round((n * targetMs) / Math.max(dt, 0.001)));
    n = dt < targetMs / 16 ? n * 8 : Math.max(n + 1, Math.ceil((n * targetMs * 1.1) / Math.max(dt, 0.001)));
  }
}

/**
 * Measures several cases side by side within about `budgetMs` in all (calibration included):
 * each case is calibrated to samples of about `sampleMs`, then samples are taken round-robin
 * (A B C A B C ...) so that a burst of noise from other tenants hits every case alike.
 * Reports the median sample. At least `minRounds` rounds are taken whatever the budget.
 */
export function measureInterleaved(cases: readonly Case[], budgetMs: number, sampleMs = Math.max(2, Math.min(50, budgetMs / (cases.length * 8))), minRounds = 3): CaseResult[] {
  const deadline = now() + budgetMs;
  const per = cases.map((c) => {
    for (let i = 0; i < 2; i++) blackhole(c.fn()); // warm-up and first JIT tiers
    return { c, n: calibrate(c.fn, sampleMs), rates: [] as number[], ops: 0 };
  });
  let rounds = 0;
  while (rounds < minRounds || (now() < deadline && rounds < 10_000)) {
    for (const p of per) {
      const t0 = now();
      for (let i = 0; i < p.n; i++) blackhole(p.c.fn());
      const dt = now() - t0;
      p.rates.push((p.n * 1000) / Math.max(dt, 1e-6));
      p.ops += p.n;
    }
    rounds++;
  }
  return per.map((p) => {
    const opsPerSec = median(p.rates);
    return { name: p.c.name, opsPerSec, usPerOp: 1e6 / opsPerSec, samples: p.rates.length, ops: p.ops };
  });
}

/** Runs an async closed loop until `budgetMs` elapses; returns completed units per second. */
export async function measureAsync(step: () => Promise<number>, budgetMs: number, warmupMs = Math.min(300, budgetMs / 5)): Promise<{ perSec: number; units: number; ms: number }> {
  const warmEnd = now() + warmupMs;
  while (now() < warmEnd) await step();
  let units = 0;
  const t0 = now();
  const end = t0 + budgetMs;
  do { units += await step(); } while (now() < end);
  const ms = now() - t0;
  return { perSec: (units * 1000) / ms, units, ms };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Like sleep, but does not keep the process alive (for watchdogs raced against work). */
export const watchdog = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
