// A link a partner relay dialed to this one (spec/federation.md §2, §3):
//
//   AWAIT_HELLO --LINK_HELLO from a partner--> AWAIT_AUTH --LINK_AUTH verifies--> READY --> CLOSED
//        |                                          |
//        +-- not a partner: LINK_ERR NOT_PARTNER ---+-- bad signature: LINK_ERR PEER_AUTH, close
//
// The partner is checked against the allow-list at LINK_HELLO, before any signature work, and
// proves its key in LINK_AUTH over both ephemeral keys. Each FWD then runs as a forwarded SEND
// (forward-in.ts); answers leave batched. What this relay sees of the peer: its fingerprint and,
// while the link is open, its network address (never logged or counted).
import type { WebSocket } from 'ws';
import {
  ed25519Sign, ed25519Verify, randomBytes, relayFingerprintOf, toBase64url, x25519KeyPair,
  type Ed25519PublicKey, type X25519PublicKey,
} from '../../crypto/index.js';
import type { RelayContext } from '../context.js';
import { errorSummary } from '../log.js';
import { TokenBucket } from '../token-bucket.js';
import { takeForwarded, type ForwardIntake } from './forward-in.js';
import type { FederationHost } from './host.js';
import { LinkChannel } from './link-channel.js';
import { acceptMessage, authMessage, linkKeys } from './link-crypto.js';
import { isLinkError, LINK_ERRORS, LinkError, refusalReason } from './link-errors.js';
import { decodeLinkMessage, encodeLinkMessage, failBody, LINK_VERSION, type LinkHello } from './peer-wire.js';
import { ERROR_CODES } from '../../wire/index.js';

/** A link carries many clients' sends: its SEND bucket is this many connections' worth (spec/federation.md §8). */
export const LINK_RATE_FACTOR = 32;
/** FWDs of one link being handled at once; more answer FWD_FAIL BUSY. */
export const MAX_FORWARDS_PER_LINK = 16_384;

export class InboundLink {
  phase: 'AWAIT_HELLO' | 'AWAIT_AUTH' | 'READY' | 'CLOSED' = 'AWAIT_HELLO';
  fingerprint = '';
  private channel: LinkChannel | null = null;
  private inFlight = 0;
  readonly bucket: TokenBucket;
  private readonly deadline: NodeJS.Timeout;

  constructor(
    private readonly ctx: RelayContext,
    private readonly host: FederationHost,
    private readonly intake: ForwardIntake,
    private readonly ws: WebSocket,
    /** Admits a READY link (one per partner, at most maxPeerLinks); false refuses it with LINK_LIMIT. */
    private readonly admit: (link: InboundLink) => boolean,
    private readonly released: (link: InboundLink) => void,
  ) {
    const c = ctx.config;
    this.bucket = new TokenBucket(c.sendRatePerSecond * LINK_RATE_FACTOR, c.sendBurst * LINK_RATE_FACTOR, performance.now());
    this.deadline = setTimeout(() => this.fail(new LinkError('HANDSHAKE', 'handshake not completed in time')), c.helloTimeoutSeconds * 1000);
    ws.binaryType = 'nodebuffer';
    let hello: Uint8Array | null = null;
    let accept: Uint8Array | null = null;
    let helloMsg: LinkHello | null = null;
    let eph = x25519KeyPair();
    ws.on('error', () => { /* 'close' follows */ });
    ws.on('close', () => this.release());
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        if (!isBinary) throw new LinkError('MALFORMED', 'text message');
        if (this.phase === 'READY') { this.received(data); return; }
        const m = decodeLinkMessage(data);
        if (this.phase === 'AWAIT_HELLO' && m.type === 'LINK_HELLO') {
          if (!(m.minVersion <= LINK_VERSION && LINK_VERSION <= m.maxVersion)) throw new LinkError('VERSION', 'no common link version');
          this.fingerprint = toBase64url(relayFingerprintOf(m.signKey as Ed25519PublicKey));
          // Closed federation (spec/federation.md §1): only partners get past LINK_HELLO.
          if (!host.partners.allows(this.fingerprint)) throw new LinkError('NOT_PARTNER', 'not on the allow-list');
          hello = new Uint8Array(data);
          helloMsg = decodeLinkMessage(hello) as LinkHello;
          const id = host.identity;
          const body = encodeLinkMessage({
            type: 'LINK_ACCEPT', version: LINK_VERSION, nonce: randomBytes(32), signKey: id.signKey, ephemeral: eph.publicKey,
            deliveryKey: id.deliveryKey, deliveryKeySignature: host.deliveryKeySignature, powDifficulty: host.config.powDifficulty, signature: new Uint8Array(64),
          });
          body.set(ed25519Sign(id.signSeed, acceptMessage(hello, body.subarray(0, body.length - 64))), body.length - 64);
          accept = body;
          this.phase = 'AWAIT_AUTH';
          ws.send(body);
          return;
        }
        if (this.phase === 'AWAIT_AUTH' && m.type === 'LINK_AUTH') {
          if (!ed25519Verify(m.signature, authMessage(hello!, accept!), helloMsg!.signKey as Ed25519PublicKey)) throw new LinkError('PEER_AUTH', 'LINK_AUTH signature');
          this.channel = new LinkChannel(ws, linkKeys(eph.secretKey, helloMsg!.ephemeral as X25519PublicKey, hello!, accept!, 'listener'), c.maxBufferedBytes);
          eph = null as never;
          // Asked again: the partner may have left the list while it signed (spec/federation.md §1).
          if (!host.partners.allows(this.fingerprint)) throw new LinkError('NOT_PARTNER', 'left the allow-list during the handshake');
          if (!admit(this)) throw new LinkError('LINK_LIMIT', 'too many partner links');
          clearTimeout(this.deadline);
          this.phase = 'READY';
          ws.send(encodeLinkMessage({ type: 'LINK_READY' }));
          host.linkChanged();
          host.log.info('peer_link_up', { peer: this.fingerprint.slice(0, 8), direction: 'in' });
          return;
        }
        throw new LinkError('HANDSHAKE', `${m.type} in ${this.phase}`);
      } catch (e) {
        this.fail(e);
      }
    });
  }

  private received(data: Uint8Array): void {
    for (const item of this.channel!.read(data)) {
      if (item.kind !== 'FWD') throw new LinkError('MALFORMED', `${item.kind} from the dialing relay`);
      const reqId = item.reqId;
      if (this.inFlight >= MAX_FORWARDS_PER_LINK) { this.channel!.write({ kind: 'FWD_FAIL', reqId, body: failBody(ERROR_CODES.BUSY) }); continue; }
      this.inFlight++;
      const answer = (r: Awaited<ReturnType<typeof takeForwarded>>): void => {
        this.inFlight--;
        if (this.phase !== 'READY') return;
        if ('response' in r) this.channel!.write({ kind: 'FWD_RESULT', reqId, body: r.response });
        else this.channel!.write({ kind: 'FWD_FAIL', reqId, body: failBody(ERROR_CODES[r.code]) });
      };
      const r = takeForwarded(this.ctx, this.intake, this, item.body.slice());
      if (r instanceof Promise) r.then(answer, (e: unknown) => { this.inFlight--; this.host.log.error('internal_error', errorSummary(e)); });
      else answer(r);
    }
  }

  fail(e: unknown): void {
    if (this.phase === 'CLOSED') return;
    const code = isLinkError(e) ? e.code : 'MALFORMED';
    if (!isLinkError(e)) this.host.log.error('peer_link_error', errorSummary(e));
    if (this.phase !== 'READY') {
      this.host.metrics.refused.inc(refusalReason(code));
      this.host.log.warn('peer_refused', { reason: refusalReason(code) });
    } else {
      this.host.log.warn('peer_link_dropped', { peer: this.fingerprint.slice(0, 8), reason: refusalReason(code) });
    }
    try {
      if (this.phase !== 'READY') this.ws.send(encodeLinkMessage({ type: 'LINK_ERR', code: LINK_ERRORS[code].code }));
      this.ws.close(LINK_ERRORS[code].close, code);
    } catch {
      this.ws.terminate();
    }
    this.release();
  }

  close(code: number, reason: string): void {
    try { this.ws.close(code, reason); } catch { this.ws.terminate(); }
    this.release();
  }

  private release(): void {
    if (this.phase === 'CLOSED') return;
    const wasReady = this.phase === 'READY';
    this.phase = 'CLOSED';
    clearTimeout(this.deadline);
    this.released(this);
    if (wasReady) {
      this.host.linkChanged();
      this.host.log.info('peer_link_down', { peer: this.fingerprint.slice(0, 8), direction: 'in' });
    }
  }
}
