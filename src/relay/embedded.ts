// `Relay.start` for apps, tests and the demo: an in-process relay on loopback with quiet
// defaults (`import { Relay } from 'sealpost/relay'`). Operators run `sealpost relay` instead.
import type { RelayConfig } from './config.js';
import { startRelay, type RunningRelay } from './index.js';

export interface RelayStartOptions extends Partial<Omit<RelayConfig, 'port' | 'dataDir'>> {
  /** Port to listen on; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Where the relay keeps its identity and store. */
  readonly dataDir: string;
  /** Receives the relay's log entries (default: discarded). */
  readonly log?: (entry: Record<string, unknown>) => void;
}

export interface Relay {
  /** sealpost+ws://FINGERPRINT@HOST:PORT, the address clients are given. */
  readonly address: string;
  readonly port: number;
  /** Mailboxes and queued envelopes: all the relay can count. */
  stats(): { connections: number; mailboxes: number; envelopes: number };
  close(): Promise<void>;
}

export const Relay = {
  /** Starts a relay bound to 127.0.0.1 (unless `host` says otherwise), without a metrics listener. */
  async start(opts: RelayStartOptions): Promise<Relay> {
    const { log, ...rest } = opts;
    const running: RunningRelay = await startRelay({
      host: '127.0.0.1', metricsPort: null, ...rest, port: opts.port ?? 0, dataDir: opts.dataDir,
      log: log ?? (() => {}),
    });
    return { address: running.address, port: running.port, stats: () => running.stats(), close: () => running.close() };
  },
};
