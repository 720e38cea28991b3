// What every report records: the machine, the runtime and the exact code measured.
import { execFileSync } from 'node:child_process';
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
