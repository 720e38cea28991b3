// What the links and the forwarding handlers share (spec/federation.md): the relay's identity
// and its signed delivery key, the partner list, the settings, the log and the federation's
// metrics. Metrics count by reason and outcome, never by peer address or fingerprint.
import { Counter, Gauge, type MetricsRegistry } from '../metrics.js';
import type { RelayConfig } from '../config.js';
import type { RelayIdentity } from '../identity.js';
import type { Logger } from '../log.js';
import type { PartnerList } from './partners.js';

export interface FederationMetrics {
  /** Links refused or dropped in the handshake, either side, by reason (link-errors.ts). */
  readonly refused: Counter;
  readonly links: Gauge;
  /** FORWARDs from this relay's clients, by outcome: answered, peer_down, no_peer, local. */
  readonly forwardsOut: Counter;
  /** Forwarded SENDs taken in, by the code answered (OK, an error name, or DEDUPED). */
  readonly forwardsIn: Counter;
  /** Links this relay dialed (a partner that keeps failing shows here, never by address). */
  readonly dials: Counter;
}

export function createFederationMetrics(registry: MetricsRegistry, links: () => number): FederationMetrics {
  return {
    refused: registry.add(new Counter('sealpost_peer_refused_total', 'Relay-to-relay links refused or dropped in the handshake, by reason', 'reason')),
    links: registry.add(new Gauge('sealpost_peer_links', 'Relay-to-relay links open (both directions)', links)),
    forwardsOut: registry.add(new Counter('sealpost_forwards_out_total', 'FORWARD commands from clients, by outcome', 'outcome')),
    forwardsIn: registry.add(new Counter('sealpost_forwards_in_total', 'Forwarded SENDs taken from partner relays, by answer', 'code')),
    dials: registry.add(new Counter('sealpost_peer_dials_total', 'Links to partner relays dialed (first dials and redials)')),
  };
}

export interface FederationHost {
  readonly identity: RelayIdentity;
  /** Ed25519 by the identity key over the delivery key (spec/federation.md §5). */
  readonly deliveryKeySignature: Uint8Array;
  readonly partners: PartnerList;
  readonly config: RelayConfig;
  readonly log: Logger;
  readonly metrics: FederationMetrics;
  /** A link came up or went down (the links gauge reads the count). */
  linkChanged(): void;
}
