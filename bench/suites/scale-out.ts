// Suite s: one relay address on several processes (spec/scale-out.md). Two measurements:
//
// - Cross-process wake-up: `sealpost relay --processes 2`; a subscriber on process 0, one
//   sender on process 0 and one on process 1 (placed by each process's connections gauge on
//   its own metrics port). Envelopes go one at a time, alternating senders, and each is timed
//   from SEND to the MSG pushed to the subscriber. The added latency is the difference of the
//   medians: what the hop through the primary (and the store read it triggers) costs.
// - Durable 1 KiB envelopes/s, one process against --processes 2 on the same machine, in
//   alternating runs of bench/relay-quick.js (medians), with the relay's CPU per envelope
//   (all its processes) and the load generator's share of the machine, which competes for the
//   same cores here. With SEALPOST_BENCH_POSTGRES_URL and SEALPOST_BENCH_NATS_URL set (an
//   empty database the bench may fill), two processes on PostgreSQL + NATS run in the same
//   alternation (their CPU is the relay's only, not the database's).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelayConnection } from '../../src/client/node/connection.js';
import { ack, createMailbox, newMailboxKeys, sendCapability, subscribe } from '../../src/client/mailbox.js';
import { randomBytes } from '../../src/crypto/index.js';
import { now, percentile, sleep } from '../lib/measure.js';
import { fmt, fmtMs, type Table, type Target } from '../lib/report.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

export interface WakeResult { readonly rounds: number; readonly sameP50Ms: number; readonly sameP99Ms: number; readonly crossP50Ms: number; readonly crossP99Ms: number; readonly addedP50Ms: number }
export interface ThroughputRun { readonly store: 'lmdb' | 'postgres'; readonly processes: number; readonly envelopesPerSec: number; readonly relayCpuUsPerEnvelope: number; readonly relayCpuCores: number; readonly loadGeneratorCpuCores: number }
export interface ScaleOutResult { readonly wake: WakeResult; readonly runs: readonly ThroughputRun[]; readonly medians: readonly ThroughputRun[] }

const median = (xs: number[]): number => percentile(xs, 50);

function metricsOf(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve(Number(/^sealpost_connections (\d+)/m.exec(body)?.[1] ?? NaN)));
    }).on('error', reject);
  });
}

/** `sealpost relay --processes 2` with metrics on base (merged), base + 1 and base + 2; resolves once it prints its address. */
async function startPair(cli: string, dataDir: string, metricsBase: number): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, [cli, 'relay', '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsBase),
    '--data', dataDir, '--log-level', 'warn', '--processes', '2', '--send-rate-per-second', '1000000', '--send-burst', '1000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const deadline = now() + 30_000;
  while (!/address: (\S+)/.test(out)) {
    if (child.exitCode !== null || now() > deadline) { child.kill('SIGKILL'); throw new Error('relay did not start: ' + out); }
    await sleep(20);
  }
  return { child, address: /address: (\S+)/.exec(out)![1]! };
}

const portFree = (port: number): Promise<boolean> => new Promise((resolve) => {
  const srv = createServer();
  srv.once('error', () => resolve(false));
  srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
});

/**
 * startPair on three consecutive free ports (merged metrics, process 0, process 1), below
 * Linux's ephemeral range so that no outgoing connection takes one meanwhile; tried again if
 * one was taken all the same.
 */
async function startPairOnFreePorts(cli: string, dataDir: string): Promise<{ child: ChildProcess; address: string; metricsBase: number }> {
  for (let attempt = 0; ; attempt++) {
    const metricsBase = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await Promise.all([0, 1, 2].map((k) => portFree(metricsBase + k)));
    if (!free.every(Boolean)) continue;
    try {
      return { ...(await startPair(cli, dataDir, metricsBase)), metricsBase };
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
}

async function measureWake(ctx: SuiteContext, cli: string): Promise<WakeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-bench-scale-'));
  const { child, address, metricsBase } = await startPairOnFreePorts(cli, dir);
  const conns: RelayConnection[] = [];
  try {
    // A connection on process `slot`: open until one lands there (round robin: a try or two).
    const on = async (slot: number): Promise<RelayConnection> => {
      for (let i = 0; i < 12; i++) {
        const before = await Promise.all([metricsOf(metricsBase + 1), metricsOf(metricsBase + 2)]);
        const c = await RelayConnection.connect(address);
        conns.push(c);
        const after = await Promise.all([metricsOf(metricsBase + 1), metricsOf(metricsBase + 2)]);
        if (after[slot]! > before[slot]!) return c;
      }
      throw new Error(`no connection on process ${slot}`);
    };
    const receiver = await on(0);
    const same = await on(0);
    const cross = await on(1);
    const keys = newMailboxKeys();
    await createMailbox(receiver, keys);
    let arrived: (() => void) | null = null;
    receiver.onMessage((m) => { arrived?.(); ack(receiver, keys, m.msgId).catch(() => {}); });
    await subscribe(receiver, keys);
    const cap = sendCapability(address, keys);
    const once = async (conn: RelayConnection): Promise<number> => {
      const pushed = new Promise<void>((r) => { arrived = r; });
      const t0 = now();
      await conn.request({ type: 'SEND', sendId: cap.sendId, proof: cap.accessKey!, envelope: randomBytes(1024) });
      await pushed;
      return now() - t0;
    };
    const sameMs: number[] = [], crossMs: number[] = [];
    const rounds = ctx.quick ? 20 : 400;
    for (let i = 0; i < 10; i++) { await once(same); await once(cross); } // warm-up
    for (let i = 0; i < rounds; i++) {
      sameMs.push(await once(same));
      crossMs.push(await once(cross));
      if (i % 50 === 0) ctx.progress.status(`scale-out: wake-up ${i}/${rounds}`);
    }
    return {
      rounds, sameP50Ms: percentile(sameMs, 50), sameP99Ms: percentile(sameMs, 99), crossP50Ms: percentile(crossMs, 50), crossP99Ms: percentile(crossMs, 99),
      addedP50Ms: percentile(crossMs, 50) - percentile(sameMs, 50),
    };
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One run of bench/relay-quick.js (its own relay child and load generator). */
function quickRun(script: string, store: 'lmdb' | 'postgres', processes: number, seconds: number): Promise<ThroughputRun> {
  const env = { ...process.env };
  if (store === 'postgres') env['RELAY_QUICK_ARGS'] = `--postgres-url ${process.env['SEALPOST_BENCH_POSTGRES_URL']} --nats-url ${process.env['SEALPOST_BENCH_NATS_URL']}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, '--seconds', String(seconds), '--processes', String(processes), '--workers', '0'], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`relay-quick exited ${code}`);
        const r = JSON.parse(line) as { deliveredPerSecond: number; relayCpuMicrosecondsPerEnvelope: number; relayCpuUtilisation: number; loadGeneratorCpuUtilisation: number };
        resolve({ store, processes, envelopesPerSec: r.deliveredPerSecond, relayCpuUsPerEnvelope: r.relayCpuMicrosecondsPerEnvelope, relayCpuCores: r.relayCpuUtilisation, loadGeneratorCpuCores: r.loadGeneratorCpuUtilisation });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

export const scaleOutSuite: Suite = {
  id: 'scale',
  title: 'Relay on several processes: cross-process wake-up and throughput (--processes)',
  budget: { full: 90_000, quick: 5_000 },
  async measure(ctx) {
    const build = join(ctx.root, '.build');
    const cli = join(build, 'src', 'cli', 'main.js');
    ctx.progress.status('scale-out: wake-up latency');
    const wake = await measureWake(ctx, cli);
    // --quick (the bench's own test) measures the wake-up only: the throughput runs need seconds each.
    const runs: ThroughputRun[] = [];
    const rounds = ctx.quick ? 0 : 3;
    const seconds = 6;
    const configs: Array<['lmdb' | 'postgres', number]> = [['lmdb', 1], ['lmdb', 2]];
    if (process.env['SEALPOST_BENCH_POSTGRES_URL'] && process.env['SEALPOST_BENCH_NATS_URL']) configs.push(['postgres', 2]);
    for (let r = 0; r < rounds; r++) {
      for (const [store, processes] of configs) {
        ctx.progress.status(`scale-out: throughput round ${r + 1}/${rounds}, ${store}, ${processes} process(es)`);
        runs.push(await quickRun(join(build, 'bench', 'relay-quick.js'), store, processes, seconds));
      }
    }
    const medians = rounds === 0 ? [] : configs.map(([store, processes]): ThroughputRun => {
      const mine = runs.filter((x) => x.store === store && x.processes === processes);
      const m = (f: (x: ThroughputRun) => number): number => median(mine.map(f));
      return { store, processes, envelopesPerSec: m((x) => x.envelopesPerSec), relayCpuUsPerEnvelope: m((x) => x.relayCpuUsPerEnvelope), relayCpuCores: m((x) => x.relayCpuCores), loadGeneratorCpuCores: m((x) => x.loadGeneratorCpuCores) };
    });
    ctx.progress.done();
    const result: ScaleOutResult = { wake, runs, medians };
    return result;
  },
  render(raw) {
    const r = raw as ScaleOutResult;
    const w = r.wake;
    const wakeTable: Table = {
      title: `Cross-process wake-up (--processes 2, 1 KiB, one envelope at a time, ${w.rounds} each, alternating)`,
      columns: ['sender on', 'SEND → MSG p50', 'p99'],
      rows: [
        ['the subscriber\'s process', fmtMs(w.sameP50Ms), fmtMs(w.sameP99Ms)],
        ['the other process', fmtMs(w.crossP50Ms), fmtMs(w.crossP99Ms)],
        ['added (p50)', fmtMs(w.addedP50Ms), ''],
      ],
    };
    const tables: Table[] = [wakeTable];
    if (r.medians.length > 0) tables.push({
      title: 'Durable 1 KiB envelopes/s: one process, --processes 2 on LMDB, two on PostgreSQL + NATS (alternating runs, medians)',
      columns: ['store', 'processes', 'envelopes/s', 'relay CPU/envelope', 'relay cores busy', 'load generator cores busy'],
      rows: r.medians.map((m) => [m.store ?? 'lmdb', String(m.processes), fmt(m.envelopesPerSec), `${fmt(m.relayCpuUsPerEnvelope)} µs`, fmt(m.relayCpuCores), fmt(m.loadGeneratorCpuCores)]),
      notes: ['The load generator runs on the same 2 cores as the relay: CPU per envelope is the figure that carries over to a bigger machine.'],
    });
    const targets: Target[] = [{ name: 'cross-process wake-up adds (p50)', goal: '≤ 1 ms', value: w.addedP50Ms, unit: 'ms', met: w.addedP50Ms <= 1 }];
    return { tables, targets };
  },
};
