// What every report records: the machine, the runtime and the exact code measured.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly availableParallelism: number;
  readonly totalMemGiB: number;
  readonly node: string;
  readonly v8: string;
  readonly os: string;
  readonly arch: string;
  readonly hostname: string;
  readonly loadAvg1m: number;
}

export interface GitInfo {
  readonly commit: string;
  readonly short: string;
  /** Uncommitted changes in the tree at the time of the run (the numbers may not match the commit). */
  readonly dirty: boolean;
  readonly branch: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: (cpus[0]?.model ?? 'unknown').trim(),
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    hostname: os.hostname(),
    loadAvg1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

function git(cwd: string, ...args: string[]): string {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function gitInfo(cwd: string): GitInfo {
  const commit = git(cwd, 'rev-parse', 'HEAD') || 'unknown';
  return {
    commit,
    short: commit.slice(0, 7),
    dirty: git(cwd, 'status', '--porcelain', '--untracked-files=no') !== '',
    branch: git(cwd, 'rev-parse', '--abbrev-ref', 'HEAD') || 'unknown',
  };
}

/** Whole-machine CPU counters (Linux /proc/stat, in clock ticks); null elsewhere. */
export interface CpuTicks { readonly busy: number; readonly total: number; readonly steal: number }
export function cpuTicks(): CpuTicks | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { busy: user + nice + system + irq + softirq, total, steal };
  } catch {
    return null;
  }
}

/** How busy the machine was while a suite ran, and how much of that was this process. */
export interface LoadInfo {
  /** All processes on the machine (other tenants included), percent of all cores. */
  readonly machineBusyPct?: number;
  /** CPU time stolen by the hypervisor, percent of all cores. */
  readonly stealPct?: number;
  /** This process (main thread and workers; not child processes), percent of all cores. */
  readonly selfPct: number;
  readonly loadAvgStart: number;
  readonly loadAvgEnd: number;
}

export function loadMeter(): () => LoadInfo {
  const t0 = cpuTicks();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const l0 = os.loadavg()[0] ?? 0;
  return () => {
    const t1 = cpuTicks();
    const c = process.cpuUsage(c0);
    const wallUs = (performance.now() - w0) * 1000;
    const cores = os.cpus().length || 1;
    const round = (x: number): number => Math.round(x * 10) / 10;
    const out: LoadInfo = { selfPct: round(((c.user + c.system) / Math.max(1, wallUs * cores)) * 100), loadAvgStart: round(l0), loadAvgEnd: round(os.loadavg()[0] ?? 0) };
    if (t0 && t1 && t1.total > t0.total) {
      const dt = t1.total - t0.total;
      return { ...out, machineBusyPct: round(((t1.busy - t0.busy) / dt) * 100), stealPct: round(((t1.steal - t0.steal) / dt) * 100) };
    }
    return out;
  };
}
