// sealpost/relay: start a relay in-process (the CLI's `sealpost relay` uses this too).
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ed25519KeyPair, randomBytes, toBase64url } from '../crypto/index.js';
import type { OrgPolicy } from '../admission/index.js';
import { CLOSE_CODES, PROTOCOL_VERSION } from '../wire/index.js';
import { DEFAULT_CONFIG, MAX_CRYPTO_WORKERS, mergeConfig, type RawSettings, type RelayConfig } from './config.js';
import { MAILBOX_CACHE_SIZE, type RelayContext } from './context.js';
import { RelayCrypto, type RelayCryptoStats } from './crypto-lane.js';
import { loadOrCreateIdentity } from './identity.js';
import { DiskGuard } from './disk-guard.js';
import { GuardedStore } from './guarded-store.js';
import { LmdbStore } from './lmdb-store.js';
import { createLogger, errorSummary, streamSink, type LogEntry } from './log.js';
import { MailboxRegistry } from './mailboxes.js';
import { createRelayMetrics, startMetricsServer } from './metrics.js';
import type { Store } from './store.js';
import { andThen, whenFailed } from './maybe.js';
import { createBudgets } from './budgets.js';
import { CreateBudget } from './create-budget.js';
import { OutboundBudget } from './outbound-budget.js';
import { dayOf, expireMailboxes, expiryDayAfterUse } from './mailbox-expiry.js';
import { sweepExpired } from './sweeper.js';
import { listen } from './transport.js';
import { ConfigError } from './config.js';
import { NatsMailboxBus } from './nats-bus.js';
import { PgStore } from './pg-store.js';
import type { MailboxBus } from './mailbox-bus.js';
import { followMailboxEvents } from './mailbox-events.js';
import { Federation } from './federation/federation.js';
import type { PartnerList } from './federation/partners.js';
import { AdmissionGate, admissionFiles, dropClosedEpochs } from './admission-gate.js';

export { DEFAULT_CONFIG, ConfigError, type RelayConfig, type LogLevel } from './config.js';
export type { Store, MailboxRecord, QueueEntry, QueueRef } from './store.js';

export interface RunningRelay {
  /** sealpost+ws://FINGERPRINT@HOST:PORT (127.0.0.1 when bound to 0.0.0.0). */
  readonly address: string;
  readonly port: number;
  readonly metricsPort: number | null;
  readonly fingerprint: string;
  readonly config: Readonly<RelayConfig>;
  /** Drains: stops accepting, finishes in-flight commits, closes sockets with 1001, closes the store. */
  close(): Promise<void>;
  stats(): { connections: number; mailboxes: number; envelopes: number };
  /** Where the relay's crypto runs (workers, 0 = inline) and how much went to the workers. */
  cryptoStats(): RelayCryptoStats;
  /** Runs the expiry sweeper now, to completion (tests, operators); resolves with the number deleted. */
  sweepNow(): Promise<number>;
  /** Prometheus text of the relay's metrics (as served on /metrics). */
  metricsText(): string;
  /** Copies the store to `dir` while running (a consistent LMDB snapshot). */
  backup(dir: string): Promise<void>;
  /** The partner relays (spec/federation.md §1): a second source, such as a signed policy, may add fingerprints. */
  readonly partners: PartnerList;
  /** A closed relay: reads its policy and epoch secrets files again (as SIGHUP does); false if they were refused. */
  reloadAdmission(): boolean;
}

export interface StartOptions extends Partial<RelayConfig> {
  /** Receives every log entry instead of the log file / stderr. */
  log?: (entry: Record<string, unknown>) => void;
  /** Wall clock in ms for receivedAt and expiry (TTL tests). */
  now?: () => number;
  /** Test hook: wraps the store (e.g. to inject write failures). */
  wrapStore?: (store: Store) => Store;
  /**
   * One process of several on one store (spec/scale-out.md): the store is opened shared, the
   * bus links the processes, and only the process with `sweeper` runs the expiry sweeper.
   */
  cluster?: { bus: MailboxBus; sweeper: boolean; processes: number };
}

/** Worker threads for the relay's crypto: "auto" is one per core. */
export function cryptoWorkersOf(config: Pick<RelayConfig, 'cryptoWorkers'>): number {
  return config.cryptoWorkers === 'auto' ? Math.min(MAX_CRYPTO_WORKERS, availableParallelism()) : config.cryptoWorkers;
}

/** Formats the relay's address; a wildcard bind is advertised as loopback. */
function advertisedHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

const STATS_LOG_INTERVAL_MS = 60_000;
const DRAIN_TIMEOUT_MS = 10_000;

export async function startRelay(options: StartOptions = {}): Promise<RunningRelay> {
  const { log: logFn, now, wrapStore, cluster: clusterOption, ...settings } = options;
  let cluster = clusterOption;
  const config = mergeConfig(settings as RawSettings);
  const sink = logFn ? { sink: logFn, close: async () => {} } : streamSink(config.logFile);
  const log = createLogger(config.logLevel, sink.sink);
  const identity = loadOrCreateIdentity(config.dataDir);
  const files = admissionFiles(config);
  let admission: AdmissionGate | null = null;
  // The signed policy's partner relays join the allow-list as a second source (admission.md §5.4,
  // federation.md §1); the federation exists only after the store, so a reload before that waits.
  let federationRef: Federation | null = null;
  const policyPartners = (p: OrgPolicy): void => { federationRef?.partners.setFingerprints('policy', p.partnerRelays.map((f) => toBase64url(f))); };
  if (files !== null) {
    try {
      admission = new AdmissionGate(files, {
        reloaded: (p) => {
          log.info('admission_reloaded', { serial: p.serial, epochs: p.epochKeys.map((k) => k.epoch), retentionSeconds: p.retentionSeconds, partners: p.partnerRelays.length });
          policyPartners(p);
        },
        reloadFailed: (e) => log.warn('admission_reload_failed', errorSummary(e)),
      });
    } catch (e) {
      await sink.close();
      throw e;
    }
  }

  let store: Store | null = null;
  // The store's counts as last read: an embedded store answers at once, a networked one for the next reading.
  let counts = { mailboxes: 0, envelopes: 0 };
  const readCounts = (): { mailboxes: number; envelopes: number } => {
    if (store) whenFailed(andThen(store.counts(), (c) => { counts = c; }), () => { /* keep the last */ });
    return counts;
  };
  const metrics = createRelayMetrics({
    queued: () => readCounts().envelopes,
    mailboxes: () => readCounts().mailboxes,
    cached: () => registry.size,
    outbound: () => ctx.outbound.bytes,
  });
  if (config.postgresUrl !== null) {
    // Several machines (spec/scale-out.md §6): PostgreSQL is the store, NATS the bus.
    if (config.natsUrl === null) { await sink.close(); throw new ConfigError('postgresUrl needs natsUrl: the relay processes on PostgreSQL wake each other over NATS'); }
    const pgStore = await PgStore.open({ connectionString: config.postgresUrl, onCommit: (ms) => metrics.commit(ms) }).catch(async (e: unknown) => { await sink.close(); throw e; });
    const bus = await NatsMailboxBus.connect({ servers: config.natsUrl, nextSubscriptionNumber: () => pgStore.nextSubscriptionNumber(), onError: (e) => log.warn('bus_error', errorSummary(e)) })
      .catch(async (e: unknown) => { await pgStore.close(); await sink.close(); throw e; });
    store = wrapStore ? wrapStore(pgStore) : pgStore;
    cluster = { bus, sweeper: true, processes: cluster?.processes ?? 1 };
  } else {
    const storePath = join(config.dataDir, 'store');
    const baseStore = new LmdbStore({ path: storePath, onCommit: (ms) => metrics.commit(ms), shared: cluster !== undefined });
    const disk = new DiskGuard(storePath, config.diskReserveBytes, log, {
      writable: (v) => metrics.storeWritable.set(v),
      episode: () => metrics.storeUnwritable.inc(),
    });
    store = new GuardedStore(wrapStore ? wrapStore(baseStore) : baseStore, disk);
  }
  const registry = new MailboxRegistry(store, MAILBOX_CACHE_SIZE, cluster !== undefined);
  let crypto: RelayCrypto;
  try {
    crypto = await RelayCrypto.create(cryptoWorkersOf(config));
  } catch (e) {
    await store.close().catch(() => {});
    await sink.close();
    throw e;
  }

  let federation: Federation;
  try {
    federation = new Federation(identity, config, log, metrics.registry);
    federationRef = federation;
    if (admission) policyPartners(admission.policy);
  } catch (e) {
    await crypto.close();
    await store.close().catch(() => {});
    await sink.close();
    throw new ConfigError(`peers: ${(e as Error).message}`);
  }
  const ctx: RelayContext = {
    config, identity, store, crypto, mailboxes: registry, metrics, log, federation,
    createBudget: new CreateBudget(config.mailboxCreatesPerHour, config.mailboxCreateBurst),
    budgets: createBudgets(config.maxAuthTotal, cluster?.processes ?? 1),
    outbound: new OutboundBudget(config.maxBufferedBytesTotal, (n) => metrics.slowReadersShed.inc('', n)),
    now: now ?? Date.now,
    dummyReadKey: ed25519KeyPair(randomBytes(32)).publicKey,
    dummyVerifier: randomBytes(32),
    reservedIds: new Set(),
    bus: cluster?.bus ?? null,
    admission,
    pendingWrites: 0,
    draining: false,
  };

  // Mailboxes from before mailbox expiry get the longest TTL from today (spec/protocol.md §11.5).
  const adopted = await store.adoptMailboxesWithoutExpiry(expiryDayAfterUse(dayOf(ctx.now()), config.maxTtlSeconds)).catch((e: unknown) => {
    log.error('store_migration_failed', errorSummary(e));
    return 0;
  });
  if (adopted > 0) log.info('mailbox_expiry_adopted', { mailboxes: adopted });
  if (cluster) followMailboxEvents(ctx, cluster.bus);

  let listener: Awaited<ReturnType<typeof listen>>;
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | null = null;
  try {
    listener = await listen(ctx);
    if (config.metricsPort !== null) {
      metricsServer = await startMetricsServer(config.metricsHost, config.metricsPort, () => metrics.registry.render(), () => !ctx.draining);
    }
  } catch (e) {
    await crypto.close();
    await store.close().catch(() => {});
    await sink.close();
    throw e;
  }

  // The sweeper: in the background, never overlapping itself.
  let sweeping: Promise<number> | null = null;
  const sweep = (): Promise<number> => {
    sweeping ??= sweepExpired(ctx).then(async (n) => { await federation.sweep(ctx); return n + await expireMailboxes(ctx) + await dropClosedEpochs(ctx); }).catch((e: unknown) => { log.error('sweep_failed', errorSummary(e)); return 0; }).finally(() => { sweeping = null; });
    return sweeping;
  };
  const sweepTimer = setInterval(() => { if (cluster?.sweeper !== false) void sweep(); }, config.sweepIntervalSeconds * 1000);
  const statsTimer = setInterval(() => {
    const known = readCounts();
    log.info('stats', {
      connections: listener.sessions.size, mailboxes: known.mailboxes, envelopesQueued: known.envelopes,
      envelopesIn: metrics.envelopesIn.total(), envelopesOut: metrics.envelopesOut.total(),
      envelopesExpired: metrics.envelopesExpired.total(), errors: metrics.errors.byLabel(), closes: metrics.closes.byLabel(),
    });
  }, STATS_LOG_INTERVAL_MS);
  statsTimer.unref();

  admission?.watch();
  const tls = config.tlsCert !== undefined;
  const address = `sealpost+${tls ? 'wss' : 'ws'}://${identity.fingerprint}@${advertisedHost(config.host)}:${listener.port}`;
  log.info('start', {
    protocol: PROTOCOL_VERSION, port: listener.port, tls, cryptoWorkers: crypto.workers, metricsPort: metricsServer?.port ?? null, fingerprint: identity.fingerprint,
    limits: {
      maxFrameBytes: config.maxFrameBytes, maxConnections: config.maxConnections, maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      privateQuota: [config.privateMaxEnvelopes, config.privateMaxBytes], publicQuota: [config.publicMaxEnvelopes, config.publicMaxBytes],
      sendRate: [config.sendRatePerSecond, config.sendBurst], deliveryWindow: config.deliveryWindow, powDifficulty: config.powDifficulty,
      ttl: [config.minTtlSeconds, config.defaultTtlSeconds, config.maxTtlSeconds], partners: federation.partners.size,
      mailboxCreates: [config.mailboxCreatesPerHour, config.mailboxCreateBurst], upgradeTimeoutSeconds: config.upgradeTimeoutSeconds,
      maxBufferedBytesTotal: config.maxBufferedBytesTotal, maxAuthTotal: config.maxAuthTotal, diskReserveBytes: config.diskReserveBytes,
    },
    ...(admission ? { closed: { policySerial: admission.policy.serial, epochs: admission.policy.epochKeys.map((k) => k.epoch), retentionSeconds: admission.retentionSeconds } } : {}),
  });

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ctx.draining = true;
      admission?.close();
      clearInterval(sweepTimer);
      clearInterval(statsTimer);
      await listener.stopAccepting();
      // Finish in-flight commits (their OKs go out), then close the connections.
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      await sweeping;
      while ((ctx.pendingWrites > 0 || crypto.busy > 0 || federation.forwarding > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setImmediate(r)); // let the last replies reach the sockets
      federation.close();
      await listener.closeAll(CLOSE_CODES.GOING_AWAY, 'relay shutting down', 2_000);
      if (metricsServer) {
        metricsServer.server.closeAllConnections();
        await new Promise<void>((r) => metricsServer!.server.close(() => r()));
      }
      await crypto.close();
      await cluster?.bus.close();
      await store!.close().catch((e: unknown) => log.error('store_close_failed', errorSummary(e)));
      log.info('stop', { envelopesIn: metrics.envelopesIn.total(), envelopesOut: metrics.envelopesOut.total() });
      await sink.close();
    })();
    return closing;
  };

  return {
    address,
    port: listener.port,
    metricsPort: metricsServer?.port ?? null,
    fingerprint: identity.fingerprint,
    config,
    close,
    stats: () => ({ connections: listener.sessions.size, ...readCounts() }),
    cryptoStats: () => crypto.stats(),
    sweepNow: async () => {
      let total = 0;
      for (;;) {
        await sweeping;
        const n = await sweep();
        total += n;
        if (n === 0) return total;
      }
    },
    metricsText: () => metrics.registry.render(),
    backup: (dir) => store!.backup(dir),
    partners: federation.partners,
    reloadAdmission: () => admission?.reload() ?? false,
  };
}

export type { LogEntry };
export { Relay, type RelayStartOptions } from './embedded.js';
