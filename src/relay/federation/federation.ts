// A relay's federation (spec/federation.md): its partner list, the links it dialed (one per
// partner, made on first use), the links partners dialed to it (one per partner, at most
// maxPeerLinks), and the relay-wide state of forwarded SENDs.
import type { WebSocket } from 'ws';
import { signRelayDeliveryKey } from '../../crypto/index.js';
import type { RelayConfig } from '../config.js';
import type { RelayIdentity } from '../identity.js';
import type { Logger } from '../log.js';
import type { MetricsRegistry } from '../metrics.js';
import type { RelayContext } from '../context.js';
import { createFederationMetrics, type FederationHost, type FederationMetrics } from './host.js';
import { InboundLink } from './inbound-link.js';
import { LINK_ERRORS } from './link-errors.js';
import { PartnerList } from './partners.js';
import { PeerLink } from './peer-link.js';
import type { ForwardIntake } from './forward-in.js';
import { AnswerPacing } from './answer-pacing.js';

/** Idempotency keys read per sweep (spec/federation.md §6): a round of a million keys takes about an hour at the default interval. */
const FORWARD_SWEEP_KEYS = 8_192;

export class Federation implements FederationHost, ForwardIntake {
  readonly partners: PartnerList;
  readonly metrics: FederationMetrics;
  readonly deliveryKeySignature: Uint8Array;
  readonly running = new Set<string>();
  readonly pacing = new AnswerPacing();
  /** FORWARDs of this relay's clients waiting for a partner's answer. */
  forwarding = 0;
  private readonly outbound = new Map<string, PeerLink>();
  private readonly inbound = new Map<string, InboundLink>();
  private readonly handshaking = new Set<InboundLink>();
  private openLinks = 0;

  constructor(readonly identity: RelayIdentity, readonly config: RelayConfig, readonly log: Logger, registry: MetricsRegistry, partners?: PartnerList) {
    this.partners = partners ?? PartnerList.fromAddresses(config.peers);
    this.metrics = createFederationMetrics(registry, () => this.openLinks);
    this.deliveryKeySignature = signRelayDeliveryKey(identity.signSeed, identity.deliveryKey);
    // A partner taken off the list loses its links at once.
    this.partners.onRemoved((fp) => {
      this.outbound.get(fp)?.close();
      this.outbound.delete(fp);
      this.inbound.get(fp)?.close(LINK_ERRORS.NOT_PARTNER.close, 'NOT_PARTNER');
      for (const l of this.handshaking) if (l.fingerprint === fp) l.close(LINK_ERRORS.NOT_PARTNER.close, 'NOT_PARTNER');
    });
  }

  linkChanged(): void {
    let n = 0;
    for (const l of this.outbound.values()) if (l.phase === 'READY') n++;
    this.openLinks = n + this.inbound.size;
  }

  /** The link to a partner this relay can dial (fingerprint in base64url), or null: NO_PEER. */
  linkTo(fingerprint: string): PeerLink | null {
    const existing = this.outbound.get(fingerprint);
    if (existing) return existing;
    if (!this.partners.allows(fingerprint)) return null;
    const address = this.partners.addressOf(fingerprint);
    if (!address) return null;
    const link = new PeerLink(this, address);
    this.outbound.set(fingerprint, link);
    return link;
  }

  /** A WebSocket upgraded with the peer subprotocol (transport.ts). */
  accept(ctx: RelayContext, ws: WebSocket): void {
    if (this.handshaking.size >= this.config.maxPeerLinks) {
      this.metrics.refused.inc('link_limit');
      ws.close(LINK_ERRORS.LINK_LIMIT.close, 'LINK_LIMIT');
      return;
    }
    const link = new InboundLink(ctx, this, this, ws, (l) => this.admit(l), (l) => this.release(l));
    this.handshaking.add(link);
  }

  private admit(link: InboundLink): boolean {
    this.handshaking.delete(link);
    // The newest link from a partner replaces an older one (it restarted, or the old one is dead).
    const old = this.inbound.get(link.fingerprint);
    if (old) old.close(1000, 'replaced');
    if (this.inbound.size >= this.config.maxPeerLinks) return false;
    this.inbound.set(link.fingerprint, link);
    return true;
  }

  private release(link: InboundLink): void {
    this.handshaking.delete(link);
    if (this.inbound.get(link.fingerprint) === link) this.inbound.delete(link.fingerprint);
    this.linkChanged();
  }

  /** Links being set up: bounded with maxPeerLinks, so a flood of handshakes holds little. */
  get handshakes(): number { return this.handshaking.size; }

  /** Forgets idempotency keys past their time, a slice of the keys per sweep (spec/federation.md §6); resolves with how many. */
  async sweep(ctx: RelayContext): Promise<number> {
    const sweepForwards = ctx.store.sweepForwards;
    return sweepForwards ? sweepForwards(Math.floor(ctx.now() / 60_000), FORWARD_SWEEP_KEYS) : 0;
  }

  close(): void {
    this.pacing.release();
    for (const l of this.outbound.values()) l.close();
    this.outbound.clear();
    for (const l of [...this.inbound.values(), ...this.handshaking]) l.close(1001, 'relay shutting down');
  }
}
