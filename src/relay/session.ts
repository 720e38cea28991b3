// One client connection as an explicit state machine (spec/protocol.md §10):
//
//   AWAIT_HELLO --HELLO ok--> READY --fatal error / idle / slow reader / drain--> CLOSING --> CLOSED
//
// Frames are decoded and dispatched to the command handlers (commands.ts); every handler runs
// inside a try/catch so that nothing a client sends can throw out of here. Responses carry the
// command's corr; pushed MSG and END carry 0.
import { ed25519Sign, randomBytes, relayHelloMessage } from '../crypto/index.js';
import {
  bodyWithoutSignature, CLOSE_CODES, decodeClientFrame, encodeFrame, ERROR_CODES, FATAL_CLOSE_CODES, isProtocolError,
  peekCorr, PROTOCOL_VERSION, ProtocolError, type ClientFrame, type RelayFrame,
} from '../wire/index.js';
import { COMMANDS } from './commands.js';
import { MAX_IN_FLIGHT_PER_CONNECTION, type RelayContext } from './context.js';
import { errorSummary } from './log.js';
import type { MailboxState } from './mailboxes.js';
import type { Subscription } from './subscription.js';
import type { OutboundHolder } from './outbound-budget.js';
import { TokenBucket } from './token-bucket.js';

export type Phase = 'AWAIT_HELLO' | 'READY' | 'CLOSING' | 'CLOSED';

/** The socket under a session (a ws WebSocket in production). */
export interface SessionSocket {
  send(data: Uint8Array): void;
  close(code: number, reason: string): void;
  ping(): void;
  terminate(): void;
  readonly bufferedAmount: number;
  readonly isOpen: boolean;
}

/** Pushes pause while more than this share of maxBufferedBytes waits in the send buffer. */
const PUSH_PAUSE_FRACTION = 0.5;

const TYPE_NAMES = new Map<number, string>([
  [0x01, 'HELLO'], [0x10, 'CREATE'], [0x11, 'AUTH'], [0x12, 'SUB'], [0x13, 'FETCH'], [0x14, 'ACK'], [0x15, 'UNSUB'],
  [0x16, 'DEL'], [0x17, 'ROTATE'], [0x18, 'SEND'], [0x19, 'PING'], [0x1a, 'FORWARD'], [0x1b, 'KEY_QUERY'],
]);
const WRITE_COMMANDS = new Set<ClientFrame['type']>(['CREATE', 'SEND', 'ACK', 'DEL', 'ROTATE', 'FORWARD']);
const KEY_COMMANDS = new Set<ClientFrame['type']>(['CREATE', 'AUTH', 'ROTATE']);
/** Commands held behind a running key command before further ones answer BUSY. */
const MAX_HELD_FRAMES = 1_024;

export class Session implements OutboundHolder {
  phase: Phase = 'AWAIT_HELLO';
  readonly serverNonce: Uint8Array = randomBytes(32);
  clientNonce: Uint8Array = new Uint8Array(0);
  /** Mailboxes this connection authenticated (AUTH or CREATE), by readId hex. */
  readonly auth = new Map<string, MailboxState>();
  /** Subscriptions by the readId hex they were made with. */
  readonly subs = new Map<string, Subscription>();
  readonly bucket: TokenBucket;
  /** Public-key commands (CREATE, AUTH, ROTATE) have their own budget, so that failing ones cannot starve others. */
  private readonly keyOps: TokenBucket;
  readonly powNonces = new Set<string>();
  /** The peer's address group (address-group.ts), for per-address budgets. In memory only, never logged. */
  addressGroup = '';
  /** Commands whose response waits for a commit or for worker threads. */
  inFlight = 0;
  /** Commands that arrived while a key command (CREATE, AUTH, ROTATE) ran, or null when none runs. */
  private held: Array<{ readonly frame: ClientFrame; readonly raw: Uint8Array }> | null = null;
  /** Bytes of `held`, taken from the relay-wide budget. */
  private heldBytes = 0;
  /** Subscriptions waiting for the send buffer to drain. */
  private readonly paused = new Set<Subscription>();
  private lastSeen: number;
  private lastPing: number;
  private readonly helloDeadline: number;

  constructor(private readonly ctx: RelayContext, private readonly socket: SessionSocket, private readonly onRelease: (s: Session) => void, monoNow: number) {
    const c = ctx.config;
    this.bucket = new TokenBucket(c.sendRatePerSecond, c.sendBurst, monoNow);
    this.keyOps = new TokenBucket(c.keyOpsPerSecond, c.keyOpsBurst, monoNow);
    this.lastSeen = monoNow;
    this.lastPing = monoNow;
    this.helloDeadline = monoNow + c.helloTimeoutSeconds * 1000;
  }

  get open(): boolean { return this.phase === 'AWAIT_HELLO' || this.phase === 'READY'; }

  // ---- input ------------------------------------------------------------------------------

  /** A WebSocket message arrived (spec/protocol.md §2, §3). */
  receive(data: Uint8Array, isBinary: boolean, monoNow: number): void {
    if (!this.open) return;
    this.lastSeen = monoNow;
    try {
      if (!isBinary) { this.close(CLOSE_CODES.UNSUPPORTED_DATA, 'binary frames only'); return; }
      this.ctx.metrics.framesIn.inc((data.length >= 2 && TYPE_NAMES.get(data[1]!)) || 'invalid');
      if (this.phase === 'AWAIT_HELLO') { this.hello(data); return; }
      let frame: ClientFrame;
      try {
        frame = decodeClientFrame(data, PROTOCOL_VERSION);
      } catch (e) {
        this.fail(peekCorr(data), e);
        return;
      }
      if (frame.type === 'HELLO') throw new ProtocolError('HANDSHAKE', 'second HELLO');
      if (this.held) {
        // A key command is running: this one waits for it (spec/protocol.md §5).
        if (this.held.length >= MAX_HELD_FRAMES) throw new ProtocolError('BUSY', 'too many commands behind a key command');
        if (!this.ctx.budgets.heldBytes.take(data.length)) throw new ProtocolError('BUSY', 'relay-wide bound on held commands');
        this.heldBytes += data.length;
        this.held.push({ frame, raw: data });
        return;
      }
      this.dispatch(frame, data);
    } catch (e) {
      this.fail(peekCorr(data), e);
    }
  }

  /** Records a mailbox this connection authenticated (AUTH, CREATE), counted relay-wide (maxAuthTotal). */
  addAuth(readHex: string, state: MailboxState): void {
    if (!this.open || this.auth.has(readHex)) return;
    this.auth.set(readHex, state);
    state.refs++;
    this.ctx.budgets.auth.take(); // checked before (checkAuthRoom); commands in flight may pass it by a few
  }

  /** Forgets an authenticated mailbox (deleted, or rotated away elsewhere). */
  forgetAuth(readHex: string): void {
    const state = this.auth.get(readHex);
    if (!state) return;
    this.auth.delete(readHex);
    state.refs--;
    this.ctx.budgets.auth.give();
  }

  /** Any sign of life: a frame or a pong. */
  touch(monoNow: number): void {
    this.lastSeen = monoNow;
  }

  /** Timers (spec/protocol.md §2, §5.1): HELLO timeout, idle timeout, pings. */
  tick(monoNow: number): void {
    if (!this.open) return;
    const c = this.ctx.config;
    if (this.phase === 'AWAIT_HELLO' && monoNow >= this.helloDeadline) { this.close(CLOSE_CODES.TIMEOUT, 'hello timeout'); return; }
    if (monoNow - this.lastSeen >= c.idleTimeoutSeconds * 1000) { this.close(CLOSE_CODES.TIMEOUT, 'idle'); return; }
    this.ctx.outbound.report(this, this.socket.bufferedAmount);
    if (monoNow - this.lastPing >= c.pingIntervalSeconds * 1000) {
      this.lastPing = monoNow;
      try { this.socket.ping(); } catch { /* closing */ }
    }
  }

  private hello(data: Uint8Array): void {
    // Before HELLO only HELLO is allowed (spec/protocol.md §5.1).
    if (data.length < 2 || data[1] !== 0x01) throw new ProtocolError('HANDSHAKE', 'command before HELLO');
    const f = decodeClientFrame(data, PROTOCOL_VERSION);
    if (f.type !== 'HELLO') throw new ProtocolError('HANDSHAKE', 'command before HELLO');
    if (!(f.minVersion <= PROTOCOL_VERSION && PROTOCOL_VERSION <= f.maxVersion)) throw new ProtocolError('VERSION', 'no common version');
    this.clientNonce = f.clientNonce.slice();
    const id = this.ctx.identity;
    const reply = encodeFrame({
      type: 'SERVER_HELLO', corr: f.corr, version: PROTOCOL_VERSION, serverNonce: this.serverNonce, relaySignKey: id.signKey,
      relayDeliveryKey: id.deliveryKey, powDifficulty: this.ctx.config.powDifficulty, maxFrameBytes: this.ctx.config.maxFrameBytes,
      signature: new Uint8Array(64),
    });
    reply.set(ed25519Sign(id.signSeed, relayHelloMessage(this.clientNonce, bodyWithoutSignature(reply))), reply.length - 64);
    this.phase = 'READY';
    this.write(reply, 'HELLO');
  }

  private dispatch(frame: ClientFrame, raw: Uint8Array): void {
    const corr = frame.corr;
    const ctx = this.ctx;
    if (frame.type !== 'PING' && ctx.draining) throw new ProtocolError('BUSY', 'draining');
    if (WRITE_COMMANDS.has(frame.type) && this.inFlight >= MAX_IN_FLIGHT_PER_CONNECTION) throw new ProtocolError('BUSY', 'too many commands in flight');
    if (KEY_COMMANDS.has(frame.type) && !this.keyOps.take(performance.now())) throw new ProtocolError('RATE', 'public-key command rate');
    const handler = COMMANDS[frame.type] as (ctx: RelayContext, s: Session, f: ClientFrame, raw: Uint8Array) => RelayFrame | Promise<RelayFrame>;
    const result = handler(ctx, this, frame, raw);
    if (!(result instanceof Promise)) { this.reply(corr, result); return; }
    this.inFlight++;
    const barrier = KEY_COMMANDS.has(frame.type);
    if (barrier) this.held = [];
    result.then(
      (r) => { this.inFlight--; this.reply(corr, r); },
      (e: unknown) => { this.inFlight--; this.fail(corr, e); },
    ).finally(() => { if (barrier) this.resume(); });
  }

  /** The key command has been answered: runs the commands that waited for it, in order. */
  private resume(): void {
    const held = this.held;
    this.held = null;
    if (!held) return;
    for (let i = 0; i < held.length && this.open; i++) {
      const { frame, raw } = held[i]!;
      this.heldBytes -= raw.length;
      this.ctx.budgets.heldBytes.give(raw.length);
      try {
        this.dispatch(frame, raw);
      } catch (e) {
        this.fail(frame.corr, e);
      }
      // Another key command: the rest wait for that one.
      if (this.held) { this.held = held.slice(i + 1); return; }
    }
  }

  // ---- output -----------------------------------------------------------------------------

  private reply(corr: number, frame: RelayFrame): void {
    frame.corr = corr;
    this.write(encodeFrame(frame), frame.type);
    if (frame.type === 'MSG') this.ctx.metrics.envelopesOut.inc();
  }

  /** Answers ERR; fatal errors then close with their code (spec/protocol.md §7). */
  private fail(corr: number, e: unknown): void {
    let name: keyof typeof ERROR_CODES;
    if (isProtocolError(e)) {
      name = e.errorName;
    } else {
      name = 'INTERNAL';
      this.ctx.log.error('internal_error', errorSummary(e));
    }
    this.ctx.metrics.errors.inc(name);
    if (!this.open) return;
    this.write(encodeFrame({ type: 'ERR', corr, code: ERROR_CODES[name] }), 'ERR');
    const closeCode = FATAL_CLOSE_CODES[name];
    if (closeCode !== undefined) this.close(closeCode, name);
  }

  /** Pushes `MSG readId msgId delivered` (corr 0). False once this connection takes nothing more. */
  push(readId: Uint8Array, msgId: number, delivered: Uint8Array): boolean {
    const ok = this.write(encodeFrame({ type: 'MSG', corr: 0, readId, msgId, delivered }), 'MSG');
    if (ok) this.ctx.metrics.envelopesOut.inc();
    return ok;
  }

  /** The subscription ended from elsewhere (takeover, DEL, ROTATE): forget it, and tell the client. */
  dropSubscription(sub: Subscription, notify: boolean): void {
    if (this.subs.get(sub.readHex) === sub) this.subs.delete(sub.readHex);
    if (notify && this.open) this.write(encodeFrame({ type: 'END', corr: 0, readId: sub.readId }), 'END');
  }

  canPush(): boolean {
    return this.socket.bufferedAmount < this.ctx.config.maxBufferedBytes * PUSH_PAUSE_FRACTION;
  }

  pauseUntilDrained(sub: Subscription): void {
    this.paused.add(sub);
  }

  /** The socket's send buffer drained: resume paused subscriptions. */
  drained(): void {
    if (this.open) this.ctx.outbound.report(this, this.socket.bufferedAmount);
    if (!this.open || this.paused.size === 0) return;
    const subs = [...this.paused];
    this.paused.clear();
    try {
      for (const sub of subs) sub.pump();
    } catch (e) {
      this.ctx.log.error('push_failed', errorSummary(e));
    }
  }

  private write(bytes: Uint8Array, type: string): boolean {
    if (!this.open || !this.socket.isOpen) return false;
    try {
      this.socket.send(bytes);
    } catch {
      return false;
    }
    this.ctx.metrics.framesOut.inc(type);
    this.ctx.outbound.report(this, this.socket.bufferedAmount);
    if (!this.open) return false; // shed by the relay-wide bound
    // Slow reader (spec/protocol.md §7): the client does not read what we send. Pushes pause
    // at half the limit (canPush), so this trips on replies the client keeps asking for.
    if (this.socket.bufferedAmount - bytes.length > this.ctx.config.maxBufferedBytes) {
      this.close(CLOSE_CODES.SLOW_READER, 'slow reader');
      return false;
    }
    return true;
  }

  // ---- closing ----------------------------------------------------------------------------

  /** All send buffers together are over maxBufferedBytesTotal and this one is among the largest (outbound-budget.ts). */
  shed(): void {
    this.close(CLOSE_CODES.SLOW_READER, 'slow reader');
    this.socket.terminate();
  }

  /** The close code the relay sent, if it closed first (what the metrics count, not the peer's echo). */
  closeCode: number | null = null;

  /** Sends a close frame and releases everything this connection held (CLOSING). */
  close(code: number, reason: string): void {
    if (!this.open) return;
    this.phase = 'CLOSING';
    this.closeCode = code;
    this.release();
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }

  /** The socket is gone (CLOSED). */
  closed(): void {
    if (this.phase === 'CLOSED') return;
    this.phase = 'CLOSED';
    this.release();
  }

  private released = false;
  private release(): void {
    if (this.released) return;
    this.released = true;
    for (const sub of this.subs.values()) {
      if (sub.state.subscription === sub) sub.state.subscription = null;
      sub.end();
    }
    this.subs.clear();
    this.paused.clear();
    this.held = null;
    this.ctx.budgets.heldBytes.give(this.heldBytes);
    this.heldBytes = 0;
    for (const state of this.auth.values()) state.refs--;
    this.ctx.budgets.auth.give(this.auth.size);
    this.auth.clear();
    this.ctx.budgets.powNonces.give(this.powNonces.size);
    this.powNonces.clear();
    this.ctx.outbound.release(this);
    this.onRelease(this);
  }
}
