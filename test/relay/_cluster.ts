// A `sealpost relay --processes N` child for tests (spec/scale-out.md): its address, the pid of
// each relay process, and connections placed on a chosen process. Placement is read off each
// process's own metrics listener (--metrics-port P: the primary's merged metrics on P, process k's
// own on P + 1 + k), whose
// sealpost_connections gauge grows by one on the process that took the connection.
import { createServer } from 'node:net';
import { RelayConnection } from '../../src/client/node/connection.js';
import { fetchMetrics, sleep, spawnRelay, withTimeout, type RelayProcess } from './_helpers.js';

export interface ClusterProcess extends RelayProcess {
  readonly processes: number;
  /** The primary's metrics port (every process's metrics merged); process k's is this + 1 + k. */
  readonly metricsPort: number;
  /** The pid of relay process `slot` (the latest, after restarts). */
  pidOf(slot: number): number;
  /** A connection served by relay process `slot`. */
  connectOn(slot: number): Promise<RelayConnection>;
  /** Stops the cluster with `signal` and resolves with the primary's exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
  /** Every connection made by connectOn, placed or not (closed by closeAll). */
  closeAll(): Promise<void>;
}

const portFree = (port: number): Promise<boolean> => new Promise((resolve) => {
  const srv = createServer();
  srv.once('error', () => resolve(false));
  srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
});

/** N consecutive ports free on 127.0.0.1 right now. */
async function freePorts(n: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let k = 0; k < n && ok; k++) ok = await portFree(base + k);
    if (ok) return base;
  }
  throw new Error('no free ports');
}

const connectionsOf = async (port: number): Promise<number> => Number(/^sealpost_connections (\d+)/m.exec(await fetchMetrics(port))?.[1] ?? NaN);

export async function startCluster(dataDir: string, processes: number, args: string[] = []): Promise<ClusterProcess> {
  const metricsBase = await freePorts(processes + 1); // the primary's merged metrics, then one per process
  const relay = await spawnRelay(['--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsBase),
    '--data', dataDir, '--log-level', 'warn', '--pow-difficulty', '6', '--processes', String(processes), ...args], {}, 30_000);
  const made: RelayConnection[] = [];
  const pidOf = (slot: number): number => {
    const out = relay.output();
    const restarted = [...out.matchAll(new RegExp(`process ${slot} restarted \\(pid (\\d+)\\)`, 'g'))].pop();
    return Number((restarted ?? new RegExp(`process ${slot}: pid (\\d+)`).exec(out))![1]);
  };
  return {
    ...relay,
    processes,
    metricsPort: metricsBase,
    pidOf,
    async connectOn(slot) {
      for (let attempt = 0; attempt < 12; attempt++) {
        const before = await Promise.all(Array.from({ length: processes }, (_, k) => connectionsOf(metricsBase + 1 + k)));
        const conn = await RelayConnection.connect(relay.address);
        made.push(conn);
        const after = await Promise.all(Array.from({ length: processes }, (_, k) => connectionsOf(metricsBase + 1 + k)));
        const grew = after.findIndex((n, k) => n > before[k]!);
        if (grew === slot) return conn;
      }
      throw new Error(`no connection landed on process ${slot}`);
    },
    async stop(signal = 'SIGTERM') {
      if (relay.child.exitCode !== null || relay.child.signalCode !== null) return null;
      relay.child.kill(signal);
      return withTimeout(relay.exited, 40_000, `cluster exit after ${signal}`);
    },
    async closeAll() {
      await Promise.all(made.map((c) => c.close().catch(() => {})));
      await sleep(0);
    },
  };
}
