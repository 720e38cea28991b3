// `sealpost relay --processes N` (spec/scale-out.md §1): the primary process opens no store and
// serves no client. It makes sure the identity exists, recounts the shared store's counters
// (lmdb-store.ts, rebuildSharedCounters), forks N relay processes that share the listening
// socket (node:cluster), passes the mailbox bus between them (ipc-bus.ts), starts a new process
// in the place of one that died, and on SIGTERM/SIGINT has every process drain, then exits.
import cluster, { type Worker } from 'node:cluster';
import { get, type Server } from 'node:http';
import { join } from 'node:path';
import type { RelayConfig } from './config.js';
import { loadOrCreateIdentity } from './identity.js';
import { isBusBatch, type BusBatch } from './ipc-bus.js';
import { LmdbStore } from './lmdb-store.js';
import { startMetricsServer } from './metrics.js';
import { mergeMetrics } from './metrics-merge.js';

/** Environment of a relay process forked by the primary. */
export const SLOT_ENV = 'SEALPOST_CLUSTER_SLOT';
export const SIZE_ENV = 'SEALPOST_CLUSTER_SIZE';
/** A process that died is replaced after this long (a crash loop costs one fork per interval). */
const RESTART_DELAY_MS = 250;
/** Draining processes that have not exited after this long are killed. */
const DRAIN_WAIT_MS = 30_000;
/** A process that does not answer the primary's metrics request within this long is left out. */
const METRICS_WAIT_MS = 2_000;

/** One process's metrics text (its own listener, on the metrics host); '' if it does not answer. */
function fetchText(host: string, port: number): Promise<string> {
  // A wildcard listener is reached on loopback.
  const target = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return new Promise((resolve) => {
    const req = get({ host: target, port, path: '/metrics', timeout: METRICS_WAIT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(res.statusCode === 200 ? body : ''));
      res.on('error', () => resolve(''));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
  });
}

/** What a relay process tells the primary once it listens. */
export interface ReadyMessage { readonly sealpostReady: 1; readonly address: string; readonly slot: number; readonly metricsPort: number | null }
const isReady = (m: unknown): m is ReadyMessage => typeof m === 'object' && m !== null && (m as { sealpostReady?: unknown }).sealpostReady === 1;

export interface PrimaryIo { out(line: string): void; err(line: string): void }

export async function runPrimary(config: RelayConfig, processes: number, io: PrimaryIo): Promise<number> {
  loadOrCreateIdentity(config.dataDir); // before the processes race to create it
  if (config.postgresUrl === null) {
    const store = new LmdbStore({ path: join(config.dataDir, 'store'), shared: true });
    try {
      await store.rebuildSharedCounters();
    } finally {
      await store.close();
    }
  }

  const slotOf = new Map<Worker, number>();
  let subSeq = 0;
  let stopping = false;
  let announced = false;
  const ready = new Map<number, ReadyMessage>();
  let settle: (code: number) => void = () => {};
  const done = new Promise<number>((r) => { settle = r; });

  const relay = (from: Worker, m: BusBatch): void => {
    // SUBs get their place in one global order; their own process hears it too.
    const s: number[] = [];
    for (const iid of m.s) s.push(iid, ++subSeq, from.id);
    const toOthers: BusBatch = { sealpostBus: 1, q: m.q, r: m.r, g: m.g, s };
    const toOrigin: BusBatch = { sealpostBus: 1, q: [], r: [], g: [], s };
    for (const w of slotOf.keys()) {
      if (!w.isConnected()) continue;
      if (w === from) { if (s.length > 0) w.send(toOrigin); }
      else w.send(toOthers);
    }
  };

  const fork = (slot: number): void => {
    const w = cluster.fork({ [SLOT_ENV]: String(slot), [SIZE_ENV]: String(processes) });
    slotOf.set(w, slot);
    w.on('message', (m: unknown) => {
      if (isBusBatch(m)) { relay(w, m); return; }
      if (!isReady(m)) return;
      ready.set(slot, m); // a restarted process may have another metrics port (0: a free one)
      if (announced) { io.err(`sealpost relay: process ${slot} restarted (pid ${w.process.pid})`); return; }
      if (ready.size === processes) void serveMetrics().then(announce);
    });
    w.on('error', () => { /* its exit follows */ });
  };

  // One /metrics for the relay (spec/scale-out.md §1): every process's, merged on request.
  let metricsServer: Server | null = null;
  let metricsPort: number | null = null;
  const serveMetrics = async (): Promise<void> => {
    if (config.metricsPort === null || announced) return;
    try {
      const started = await startMetricsServer(config.metricsHost, config.metricsPort,
        async () => mergeMetrics(await Promise.all([...ready.values()].filter((m) => m.metricsPort !== null).map((m) => fetchText(config.metricsHost, m.metricsPort!)))),
        () => !stopping);
      metricsServer = started.server;
      metricsPort = started.port;
    } catch (e) {
      io.err(`sealpost relay: merged metrics not served: ${(e as Error).message}`);
    }
  };

  const announce = (): void => {
    if (announced) return;
    announced = true;
    const first = ready.get(0)!;
    io.out([
      `Sealpost relay running (${processes} processes, one store).`,
      `  address: ${first.address}`,
      `  data:    ${config.dataDir}`,
      `  metrics: ${metricsPort === null ? 'off' : `${metricsPort} (all processes)`}`,
      ...[...slotOf].sort((a, b) => a[1] - b[1]).map(([w, slot]) => `  process ${slot}: pid ${w.process.pid}, metrics ${ready.get(slot)?.metricsPort ?? 'off'}`),
      ``,
      `Stop with Ctrl-C or SIGTERM (every process drains, then exits).`,
    ].join('\n'));
  };

  cluster.on('exit', (w, code, signal) => {
    const slot = slotOf.get(w);
    slotOf.delete(w);
    if (slot === undefined) return;
    if (stopping) {
      if (slotOf.size === 0) settle(0);
      return;
    }
    io.err(`sealpost relay: process ${slot} (pid ${w.process.pid}) exited (${signal ?? code}); starting another`);
    if (!announced) { stopAll(); settle(1); return; } // it never came up: do not loop
    setTimeout(() => { if (!stopping) fork(slot); }, RESTART_DELAY_MS);
  });

  const stopAll = (): void => {
    stopping = true;
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    for (const w of slotOf.keys()) w.process.kill('SIGTERM');
    setTimeout(() => { for (const w of slotOf.keys()) w.process.kill('SIGKILL'); }, DRAIN_WAIT_MS).unref();
    if (slotOf.size === 0) settle(0);
  };
  const onSignal = (signal: string): void => {
    if (stopping) return;
    io.err(`sealpost relay: ${signal}, draining ${slotOf.size} processes`);
    stopAll();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  // Every process of a closed relay reads its policy and epoch secrets again.
  process.on('SIGHUP', () => { for (const w of slotOf.keys()) w.process.kill('SIGHUP'); });

  for (let slot = 0; slot < processes; slot++) fork(slot);
  return done;
}
