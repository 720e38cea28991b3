// A relay in another process (bench/relay-child.ts), for the suites that measure it end to
// end (relay, sdk): the relay's CPU and memory are then its own, not mixed with the load
// generator's. The child prints one JSON line when ready and answers "stats" on stdin; it
// exits when its stdin closes (this process died) or after `maxLifetimeMs`, so nothing
// outlives a benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { watchdog } from './measure.js';

/** What every answer of the child carries: its clock, CPU time (all threads) and metrics. */
export interface ChildSample {
  readonly tMs: number; readonly cpuUserUs: number; readonly cpuSystemUs: number;
  /**
   * Selected samples of the relay's Prometheus metrics (name{labels} → value): the commit
   * histograms and frame/envelope counters (see relay-child.ts). Cumulative since start, so
   * a phase's figures are the difference of two stats().
   */
  readonly metrics: Readonly<Record<string, number>>;
}
export interface ChildStats extends ChildSample {
  readonly rss: number; readonly heapUsed: number; readonly maxRssKiB: number; readonly connections: number;
}
/**
 * Relay settings that take the relay's own limits out of a measurement: the per-connection send
 * rate (2,000/s, burst 4,000 by default) and the per-mailbox quota (1,000 envelopes) would
 * otherwise cap or throttle a closed loop, and the benchmark would measure the limiter.
 */
export const LIFTED_LIMITS = {
  sendRatePerSecond: 1_000_000, sendBurst: 1_000_000,
  privateMaxEnvelopes: 1_000_000, privateMaxBytes: 2 ** 31 - 1,
} as const;

export interface ProcMem { readonly rssBytes: number; readonly hwmBytes: number }

export interface RelayProcessOptions {
  /** Extra node flags for the child, e.g. ['--cpu-prof', '--cpu-prof-dir', DIR] to profile the relay. */
  readonly nodeFlags?: readonly string[];
}

export class RelayProcess {
  private readonly waiters: ((line: Record<string, unknown>) => void)[] = [];
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private constructor(private readonly child: ChildProcess, readonly address: string, readonly pid: number) {
    this.exitPromise = new Promise((r) => child.once('exit', () => { this.exited = true; r(); }));
  }

  static async start(config: Record<string, unknown>, maxLifetimeMs: number, opts: RelayProcessOptions = {}): Promise<RelayProcess> {
    const entry = fileURLToPath(new URL('../relay-child.js', import.meta.url));
    const child = spawn(process.execPath, ['--expose-gc', ...(opts.nodeFlags ?? []), entry, JSON.stringify({ config, maxLifetimeMs })], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const lines = createInterface({ input: child.stdout! });
    let rp: RelayProcess | null = null;
    return new Promise<RelayProcess>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`relay did not start in 30 s: ${stderr}`)); }, 30_000);
      child.once('exit', (code) => { clearTimeout(timer); if (!rp) reject(new Error(`relay exited with ${code} before it was ready: ${stderr}`)); });
      lines.on('line', (line) => {
        let msg: Record<string, unknown>;
        try { msg = JSON.parse(line) as Record<string, unknown>; } catch { return; }
        if (msg['type'] === 'ready' && !rp) {
          clearTimeout(timer);
          rp = new RelayProcess(child, String(msg['address']), Number(msg['pid']));
          resolve(rp);
        } else if (rp && msg['type'] === 'stats') {
          rp.waiters.shift()?.(msg);
        }
      });
    });
  }

  /** The child's CPU, memory and metrics now (after a GC: --expose-gc). */
  stats(): Promise<ChildStats> {
    return this.ask('stats') as Promise<ChildStats>;
  }

  /** The child's CPU and metrics now, without forcing a GC: for windows of a few hundred ms. */
  sample(): Promise<ChildSample> {
    return this.ask('cpu');
  }

  private ask(cmd: 'stats' | 'cpu'): Promise<ChildSample> {
    if (this.exited) return Promise.reject(new Error('the relay process has exited'));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`relay ${cmd} timed out`)), 20_000);
      this.waiters.push((m) => { clearTimeout(t); resolve(m as unknown as ChildSample); });
      this.child.stdin!.write(`${cmd}\n`);
    });
  }

  /** VmRSS and VmHWM (peak) from /proc; null off Linux. */
  procMem(): ProcMem | null {
    try {
      const s = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kib = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
      const m = { rssBytes: kib('VmRSS'), hwmBytes: kib('VmHWM') };
      return Number.isFinite(m.rssBytes) && Number.isFinite(m.hwmBytes) ? m : null;
    } catch {
      return null;
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    try { this.child.stdin!.write('close\n'); this.child.stdin!.end(); } catch { /* already gone */ }
    const killed = await Promise.race([this.exitPromise.then(() => false), watchdog(20_000).then(() => true)]);
    if (killed) {
      this.child.kill('SIGKILL');
      await this.exitPromise;
    }
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** Relay CPU (user + system, every thread) between two stats, in µs. */
export const relayCpuUs = (s0: ChildSample, s1: ChildSample): number => (s1.cpuUserUs + s1.cpuSystemUs) - (s0.cpuUserUs + s0.cpuSystemUs);

/** A metric's growth between two stats (0 if absent: older children, or never observed). */
export const metricDelta = (s0: ChildSample, s1: ChildSample, key: string): number => (s1.metrics?.[key] ?? 0) - (s0.metrics?.[key] ?? 0);
