// Connections used for sending, one per relay address, opened on demand and separate from
// the reading connections (spec/client.md §8): the relay does not see a client's sends and
// reads on one connection. Many SENDs may be in flight on one connection (§9.1). A closed
// connection is dropped and re-opened on the next send.
import { isProtocolError, type ErrorName } from '../wire/index.js';
import { RelayConnection } from './connection.js';
import { isClientError } from './errors.js';
import { sendEnvelope, type SendCapability } from './mailbox.js';
import { forwardEnvelope, newIdempotencyKey, queryDestination, type DestinationRelay } from './forwarding.js';
import type { Connector } from './transport.js';
import type { PrivateRouting } from './types.js';
import { equalBytes } from '../crypto/index.js';
import { parseRelayAddress } from '../wire/index.js';

/**
 * ERR codes after which retrying the same SEND cannot succeed (spec/protocol.md §7); NO_PEER and
 * FORWARD_INVALID reach the outbox only when private routing is required (spec/client.md §9.5).
 */
const PERMANENT: ReadonlySet<ErrorName> = new Set(['AUTH', 'SIZE', 'INVALID', 'MALFORMED', 'VERSION', 'UNKNOWN_COMMAND', 'NO_PEER', 'FORWARD_INVALID']);
/** Answers of the home relay that mean "it cannot forward there": 'preferred' then sends directly. */
const NO_ROUTE: ReadonlySet<ErrorName> = new Set(['NO_PEER', 'UNKNOWN_COMMAND']);
/** How long 'preferred' sends directly to a relay the home relay said it cannot forward to, before asking again. */
const NO_ROUTE_MEMORY_MS = 60_000;

export interface RoutingOptions {
  /** The home relay's address: FORWARDs go through it. */
  readonly homeRelay: string;
  readonly privateRouting: PrivateRouting;
}

/** 'permanent' for a refusal that retrying cannot change; 'transient' for anything else (network, BUSY, QUOTA…). */
export function classifySendError(e: unknown): 'permanent' | 'transient' {
  if (isClientError(e, 'POW_TOO_HARD')) return 'permanent';
  return isProtocolError(e) && PERMANENT.has(e.errorName) ? 'permanent' : 'transient';
}

export class SendPool {
  private readonly conns = new Map<string, Promise<RelayConnection>>();
  private closed = false;
  /** Rejects at close(): a send still waiting for its connection ends then. */
  private readonly closing: Promise<never>;
  private signalClose!: (e: Error) => void;

  /** Destination relays' keys as their signatures vouch for them (KEY_QUERY), by address. */
  private readonly destinations = new Map<string, Promise<DestinationRelay>>();
  /** Destinations the home relay cannot forward to ('preferred'), until when (ms). */
  private readonly noRoute = new Map<string, number>();
  private readonly homeFingerprint: Uint8Array | null;

  constructor(
    private readonly connector: Connector,
    private readonly connectTimeoutMs = 5_000,
    private readonly routing: RoutingOptions | null = null,
  ) {
    this.homeFingerprint = routing ? parseRelayAddress(routing.homeRelay).fingerprint : null;
    this.closing = new Promise<never>((_, reject) => { this.signalClose = reject; });
    this.closing.catch(() => undefined);
  }

  private get(address: string): Promise<RelayConnection> {
    if (this.closed) return Promise.reject(new Error('send pool closed'));
    let p = this.conns.get(address);
    if (!p) {
      p = RelayConnection.connect(this.connector, address, { timeoutMs: this.connectTimeoutMs });
      this.conns.set(address, p);
      const forget = (): void => { if (this.conns.get(address) === p) this.conns.delete(address); };
      p.then((c) => c.onClose(forget), forget);
    }
    return p;
  }

  private async open(address: string): Promise<RelayConnection> {
    let conn = await Promise.race([this.get(address), this.closing]);
    if (!conn.isOpen) {
      this.conns.delete(address);
      conn = await Promise.race([this.get(address), this.closing]);
    }
    return conn;
  }

  /** Whether an envelope for `cap` goes through the home relay (spec/client.md §9.5). */
  forwards(cap: SendCapability): boolean {
    const r = this.routing;
    if (!r || r.privateRouting === 'off') return false;
    return r.privateRouting === 'always' || !equalBytes(parseRelayAddress(cap.address).fingerprint, this.homeFingerprint!);
  }

  /**
   * One envelope; resolves when its mailbox's relay has durably accepted it (spec/protocol.md
   * §5.10), directly or through the home relay (spec/federation.md §4). `idempotencyKey`, kept
   * by the caller across retries, makes a forwarded retry safe; a fresh one is made otherwise.
   */
  async send(cap: SendCapability, envelope: Uint8Array, timeoutMs = 15_000, idempotencyKey: Uint8Array = newIdempotencyKey()): Promise<void> {
    if (!this.forwards(cap) || (this.noRoute.get(cap.address) ?? 0) > Date.now()) {
      await sendEnvelope(await this.open(cap.address), cap, envelope, timeoutMs);
      return;
    }
    const home = await this.open(this.routing!.homeRelay);
    try {
      await forwardEnvelope(home, await this.destination(home, cap.address, timeoutMs), cap, envelope, idempotencyKey, timeoutMs);
    } catch (e) {
      if (this.routing!.privateRouting === 'preferred' && isProtocolError(e) && NO_ROUTE.has(e.errorName)) {
        if (this.noRoute.size >= 1_024) this.noRoute.clear();
        this.noRoute.set(cap.address, Date.now() + NO_ROUTE_MEMORY_MS);
        await sendEnvelope(await this.open(cap.address), cap, envelope, timeoutMs);
        return;
      }
      throw e;
    }
  }

  private destination(home: RelayConnection, address: string, timeoutMs: number): Promise<DestinationRelay> {
    let d = this.destinations.get(address);
    if (!d) {
      d = queryDestination(home, address, timeoutMs);
      this.destinations.set(address, d);
      d.catch(() => { if (this.destinations.get(address) === d) this.destinations.delete(address); });
    }
    return d;
  }

  /** Closes the open connections; one still connecting is closed when it opens, without waiting for it. */
  async close(): Promise<void> {
    this.closed = true;
    this.signalClose(new Error('send pool closed'));
    const all = [...this.conns.values()];
    this.conns.clear();
    const open: Array<Promise<void>> = [];
    for (const p of all) {
      let settled = false;
      const closing = p.then((c) => { settled = true; return c.close(); }, () => { settled = true; });
      await Promise.resolve(); // a connection already made has settled by now
      if (settled) open.push(closing);
    }
    await Promise.all(open);
  }
}
