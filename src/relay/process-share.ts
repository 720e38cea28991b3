// How `sealpost relay --processes N` splits the relay-wide bounds (spec/scale-out.md §4): each
// process enforces an equal part, rounded up, of every bound that spans connections, so that
// the N processes together stay within what the operator configured. Per-connection and
// per-mailbox limits are unchanged (mailbox quotas are checked in the shared store).
import type { RelayConfig } from './config.js';

/** The part of `config` one of `processes` processes enforces. */
export function shareOfBounds(config: RelayConfig, processes: number): RelayConfig {
  if (processes <= 1) return config;
  const part = (n: number, min = 1): number => Math.max(min, Math.ceil(n / processes));
  return {
    ...config,
    maxConnections: part(config.maxConnections),
    maxConnectionsPerAddress: part(config.maxConnectionsPerAddress),
    maxBufferedBytesTotal: part(config.maxBufferedBytesTotal, 64 * 1024),
    maxAuthTotal: part(config.maxAuthTotal),
    mailboxCreatesPerHour: part(config.mailboxCreatesPerHour),
    mailboxCreateBurst: part(config.mailboxCreateBurst),
  };
}

/**
 * Which metrics port process `slot` listens on: the configured one plus 1 plus the slot (the
 * configured one is the primary's, with every process's metrics merged); 0: each its own free port.
 */
export function metricsPortOf(config: RelayConfig, slot: number): number | null {
  if (config.metricsPort === null || config.metricsPort === 0) return config.metricsPort;
  return config.metricsPort + 1 + slot;
}
