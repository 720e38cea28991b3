// The link this relay dials to one partner (spec/federation.md §2, §3): one WebSocket, shared
// by every client's FORWARD to that partner, opened on first use and again after it drops.
//
//   IDLE --first FORWARD--> DIALING --LINK_ACCEPT ok, LINK_AUTH sent--> AUTHENTICATING --LINK_READY--> READY
//     ^                                                                                           |
//     +------------------- closed / refused / handshake timeout (pending FORWARDs: PEER_DOWN) ----+
//
// The partner's identity key is pinned by the fingerprint in its address: a LINK_ACCEPT signed by
// any other key ends the attempt (wrong_key). FORWARDs made while the link is not READY wait for
// it, each until its own timeout.
import { WebSocket } from 'ws';
import {
  ed25519Sign, ed25519Verify, equalBytes, randomBytes, relayFingerprintOf, toBase64url, x25519KeyPair,
  type Ed25519PublicKey, type X25519PublicKey,
} from '../../crypto/index.js';
import { webSocketUrl, type RelayAddress } from '../../wire/address.js';
import { verifyRelayDeliveryKey } from '../../crypto/forward.js';
import { errorSummary } from '../log.js';
import type { FederationHost } from './host.js';
import { LinkChannel } from './link-channel.js';
import { acceptMessage, authMessage, linkKeys } from './link-crypto.js';
import { isLinkError, LINK_ERRORS, LinkError, linkErrorOfWire, refusalReason, type RefusalReason } from './link-errors.js';
import { decodeLinkMessage, encodeLinkMessage, failCode, LINK_MAX_MESSAGE_BYTES, LINK_VERSION, PEER_SUBPROTOCOL } from './peer-wire.js';
import { ERROR_CODES } from '../../wire/index.js';

/** What came back for one FORWARD: the destination's sealed response, or a code (spec/federation.md §3). */
export type ForwardOutcome = { readonly response: Uint8Array } | { readonly code: 'PEER_DOWN' | 'BUSY' | 'FORWARD_INVALID' | 'INTERNAL' };

/** The partner's keys as it signed them in LINK_ACCEPT (handed to clients by KEY_QUERY). */
export interface PartnerKeys { readonly signKey: Ed25519PublicKey; readonly deliveryKey: X25519PublicKey; readonly signature: Uint8Array; readonly powDifficulty: number }

/** Least time between two dial attempts to one partner. */
const REDIAL_MS = 200;
/** reqIds wrap at 2^32; one in flight per id. */
const REQ_ID_SPACE = 2 ** 32;

interface Pending { resolve(o: ForwardOutcome): void; timer: NodeJS.Timeout; body: Uint8Array | null }

export class PeerLink {
  phase: 'IDLE' | 'DIALING' | 'AUTHENTICATING' | 'READY' | 'CLOSED' = 'IDLE';
  keys: PartnerKeys | null = null;
  private ws: WebSocket | null = null;
  private channel: LinkChannel | null = null;
  private readonly pending = new Map<number, Pending>();
  /** FORWARDs waiting for the link to be READY, in order. */
  private waiting: number[] = [];
  private nextReqId = 1;
  private lastDial = -Infinity;
  private redialTimer: NodeJS.Timeout | null = null;
  private readonly keyWaiters: Array<(k: PartnerKeys | null) => void> = [];
  readonly fingerprint: string;

  constructor(private readonly host: FederationHost, readonly address: RelayAddress) {
    this.fingerprint = toBase64url(address.fingerprint);
  }

  get inFlight(): number { return this.pending.size; }
  get messagesSent(): number { return this.channel?.messagesSent ?? 0; }

  /** Passes a sealed request on; resolves (never rejects) with the outcome. */
  forward(sealed: Uint8Array): Promise<ForwardOutcome> {
    if (this.phase === 'CLOSED') return Promise.resolve({ code: 'PEER_DOWN' });
    let reqId = this.nextReqId;
    while (this.pending.has(reqId)) reqId = (reqId + 1) % REQ_ID_SPACE;
    this.nextReqId = (reqId + 1) % REQ_ID_SPACE;
    return new Promise<ForwardOutcome>((resolve) => {
      const timer = setTimeout(() => this.settle(reqId, { code: 'PEER_DOWN' }), this.host.config.forwardTimeoutSeconds * 1000);
      this.pending.set(reqId, { resolve, timer, body: sealed });
      if (this.phase === 'READY') this.send(reqId);
      else { this.waiting.push(reqId); this.ensureDialing(); }
    });
  }

  /** The partner's signed keys, dialing if needed; null if it cannot be reached in time. */
  partnerKeys(): Promise<PartnerKeys | null> {
    if (this.keys) return Promise.resolve(this.keys);
    return new Promise((resolve) => {
      const waiter = (k: PartnerKeys | null): void => { clearTimeout(timer); resolve(k); };
      // A waiter that timed out leaves the list, so a dead partner is not redialed for it forever.
      const timer = setTimeout(() => {
        const i = this.keyWaiters.indexOf(waiter);
        if (i >= 0) this.keyWaiters.splice(i, 1);
        resolve(null);
      }, this.host.config.forwardTimeoutSeconds * 1000);
      this.keyWaiters.push(waiter);
      this.ensureDialing();
    });
  }

  private send(reqId: number): void {
    const p = this.pending.get(reqId);
    if (!p || !p.body) return;
    this.channel!.write({ kind: 'FWD', reqId, body: p.body });
    p.body = null; // sent once: after a drop the outcome is unknown, and the client retries
  }

  private settle(reqId: number, outcome: ForwardOutcome): void {
    const p = this.pending.get(reqId);
    if (!p) return;
    this.pending.delete(reqId);
    clearTimeout(p.timer);
    // Settled before the link was ready (a timeout): no longer waiting, so no reason to redial.
    if (p.body !== null) this.waiting = this.waiting.filter((r) => r !== reqId);
    p.resolve(outcome);
  }

  private ensureDialing(): void {
    if (this.phase !== 'IDLE' || this.redialTimer) return;
    const wait = this.lastDial + REDIAL_MS - performance.now();
    if (wait > 0) {
      this.redialTimer = setTimeout(() => {
        this.redialTimer = null;
        if (this.waiting.length > 0 || this.keyWaiters.length > 0) this.ensureDialing(); // else what waited has timed out
      }, wait);
      return;
    }
    this.dial();
  }

  private dial(): void {
    this.lastDial = performance.now();
    this.host.metrics.dials.inc();
    this.phase = 'DIALING';
    const id = this.host.identity;
    const eph = x25519KeyPair();
    const hello = encodeLinkMessage({ type: 'LINK_HELLO', minVersion: LINK_VERSION, maxVersion: LINK_VERSION, nonce: randomBytes(32), signKey: id.signKey, ephemeral: eph.publicKey });
    const ws = new WebSocket(webSocketUrl(this.address), PEER_SUBPROTOCOL, {
      perMessageDeflate: false, maxPayload: LINK_MAX_MESSAGE_BYTES, handshakeTimeout: this.host.config.helloTimeoutSeconds * 1000,
    });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    const deadline = setTimeout(() => this.fail(ws, new LinkError('HANDSHAKE', 'no LINK_READY in time')), this.host.config.helloTimeoutSeconds * 1000);
    ws.on('open', () => ws.send(hello));
    ws.on('error', () => { /* 'close' follows */ });
    ws.on('close', () => { clearTimeout(deadline); this.dropped(ws); });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        if (!isBinary) throw new LinkError('MALFORMED', 'text message');
        if (this.phase === 'READY') { this.received(data); return; }
        const m = decodeLinkMessage(data);
        if (m.type === 'LINK_ERR') {
          const code = linkErrorOfWire(m.code) ?? 'HANDSHAKE';
          this.host.metrics.refused.inc(refusalReason(code));
          this.host.log.warn('peer_refused_us', { peer: this.fingerprint.slice(0, 8), code });
          ws.close(LINK_ERRORS[code].close, code);
          return;
        }
        if (this.phase === 'DIALING' && m.type === 'LINK_ACCEPT') {
          if (m.version !== LINK_VERSION) throw new LinkError('VERSION', `version ${m.version}`);
          // The pinned key (spec/federation.md §2): the address's fingerprint names it.
          if (!equalBytes(relayFingerprintOf(m.signKey as Ed25519PublicKey), this.address.fingerprint)) throw new WrongKey();
          if (!ed25519Verify(m.signature, acceptMessage(hello, data.subarray(0, data.length - 64)), m.signKey as Ed25519PublicKey)) throw new LinkError('PEER_AUTH', 'LINK_ACCEPT signature');
          if (!verifyRelayDeliveryKey(m.signKey as Ed25519PublicKey, m.deliveryKey as X25519PublicKey, m.deliveryKeySignature)) throw new LinkError('PEER_AUTH', 'delivery key signature');
          const accept = new Uint8Array(data);
          ws.send(encodeLinkMessage({ type: 'LINK_AUTH', signature: ed25519Sign(id.signSeed, authMessage(hello, accept)) }));
          this.channel = new LinkChannel(ws, linkKeys(eph.secretKey, m.ephemeral as X25519PublicKey, hello, accept, 'dialer'), this.host.config.maxBufferedBytes);
          this.keys = { signKey: m.signKey.slice() as Ed25519PublicKey, deliveryKey: m.deliveryKey.slice() as X25519PublicKey, signature: m.deliveryKeySignature.slice(), powDifficulty: m.powDifficulty };
          this.phase = 'AUTHENTICATING';
          return;
        }
        if (this.phase === 'AUTHENTICATING' && m.type === 'LINK_READY') {
          clearTimeout(deadline);
          this.phase = 'READY';
          this.host.linkChanged();
          this.host.log.info('peer_link_up', { peer: this.fingerprint.slice(0, 8), direction: 'out' });
          for (const w of this.keyWaiters.splice(0)) w(this.keys);
          const waiting = this.waiting;
          this.waiting = [];
          for (const reqId of waiting) this.send(reqId);
          return;
        }
        throw new LinkError('HANDSHAKE', `${m.type} in ${this.phase}`);
      } catch (e) {
        this.fail(ws, e);
      }
    });
  }

  private received(data: Uint8Array): void {
    for (const item of this.channel!.read(data)) {
      if (item.kind === 'FWD_RESULT') this.settle(item.reqId, { response: item.body.slice() });
      else if (item.kind === 'FWD_FAIL') {
        const code = failCode(item.body);
        this.settle(item.reqId, { code: code === ERROR_CODES.BUSY ? 'BUSY' : code === ERROR_CODES.FORWARD_INVALID ? 'FORWARD_INVALID' : 'INTERNAL' });
      } else throw new LinkError('MALFORMED', 'FWD from the relay we dialed');
    }
  }

  private fail(ws: WebSocket, e: unknown): void {
    let reason: RefusalReason;
    let close: number;
    if (e instanceof WrongKey) { reason = 'wrong_key'; close = LINK_ERRORS.PEER_AUTH.close; }
    else if (isLinkError(e)) { reason = refusalReason(e.code); close = LINK_ERRORS[e.code].close; }
    else { this.host.log.error('peer_link_error', errorSummary(e)); reason = 'malformed'; close = LINK_ERRORS.MALFORMED.close; }
    this.host.metrics.refused.inc(reason);
    this.host.log.warn('peer_link_failed', { peer: this.fingerprint.slice(0, 8), reason });
    try { ws.close(close, reason); } catch { ws.terminate(); }
    this.dropped(ws);
  }

  /** The socket is gone: what was sent has an unknown outcome (PEER_DOWN); what waits stays for the next dial. */
  private dropped(ws: WebSocket): void {
    if (this.ws !== ws) return;
    const wasReady = this.phase === 'READY';
    this.ws = null;
    this.channel = null;
    if (this.phase !== 'CLOSED') this.phase = 'IDLE';
    if (wasReady) {
      this.host.linkChanged();
      this.host.log.info('peer_link_down', { peer: this.fingerprint.slice(0, 8), direction: 'out' });
    }
    const waitingSet = new Set(this.waiting);
    for (const reqId of [...this.pending.keys()]) if (!waitingSet.has(reqId)) this.settle(reqId, { code: 'PEER_DOWN' });
    if (this.phase !== 'CLOSED' && (this.waiting.length > 0 || this.keyWaiters.length > 0)) this.ensureDialing();
  }

  close(): void {
    this.phase = 'CLOSED';
    if (this.redialTimer) clearTimeout(this.redialTimer);
    const ws = this.ws;
    if (ws) { try { ws.close(1001, 'relay shutting down'); } catch { ws.terminate(); } this.dropped(ws); }
    for (const reqId of [...this.pending.keys()]) this.settle(reqId, { code: 'PEER_DOWN' });
    this.waiting = [];
    for (const w of this.keyWaiters.splice(0)) w(null);
  }
}

/** The partner answered with another key than its address pins. */
class WrongKey extends Error {}
