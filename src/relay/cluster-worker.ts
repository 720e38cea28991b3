// One relay process of `sealpost relay --processes N` (spec/scale-out.md §1): a relay on the
// shared store with its part of the relay-wide bounds (process-share.ts), linked to the others
// through the primary (ipc-bus.ts). It drains on SIGTERM or SIGINT, and when the primary goes.
import cluster from 'node:cluster';
import type { RelayConfig } from './config.js';
import { SIZE_ENV, SLOT_ENV, type ReadyMessage } from './cluster-primary.js';
import { startRelay } from './index.js';
import { IpcMailboxBus } from './ipc-bus.js';
import { metricsPortOf, shareOfBounds } from './process-share.js';

/** True in a process forked by runPrimary. */
export const isClusterWorker = (env: Readonly<Record<string, string | undefined>>): boolean =>
  cluster.isWorker && env[SLOT_ENV] !== undefined;

export async function runWorker(config: RelayConfig, env: Readonly<Record<string, string | undefined>>, err: (line: string) => void): Promise<number> {
  const slot = Number(env[SLOT_ENV]);
  const processes = Number(env[SIZE_ENV]);
  // On PostgreSQL the processes talk over NATS, as processes on other machines do.
  const bus = config.postgresUrl === null ? new IpcMailboxBus(process, cluster.worker!.id) : null;
  let relay;
  try {
    relay = await startRelay({ ...shareOfBounds(config, processes), metricsPort: metricsPortOf(config, slot), ...(bus ? { cluster: { bus, sweeper: slot === 0, processes } } : {}) });
  } catch (e) {
    err(`sealpost relay: process ${slot} could not start: ${(e as Error).message}`);
    return 1;
  }
  const ready: ReadyMessage = { sealpostReady: 1, address: relay.address, slot, metricsPort: relay.metricsPort };
  process.send!(ready);
  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return; // Ctrl-C reaches every process, then the primary's SIGTERM: one drain
      stopping = true;
      // The IPC channel would keep the process alive: let it go once drained.
      const exit = (code: number): void => { if (process.connected) process.disconnect(); done(code); };
      relay.close().then(() => exit(0), () => exit(1));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('disconnect', stop);
    process.on('SIGHUP', () => { relay.reloadAdmission(); });
  });
}
