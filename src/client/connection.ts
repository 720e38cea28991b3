// A minimal protocol client: one WebSocket to one relay, HELLO with fingerprint and signature
// checks (spec/protocol.md §5.1), request/response matching by corr (many requests in
// flight), pushed MSG and END. Platform-free: the socket comes from a Connector.
import {
  ed25519Verify, equalBytes, randomBytes, relayFingerprintOf, relayHelloMessage,
  type Ed25519PublicKey, type X25519PublicKey,
} from '../crypto/index.js';
import {
  bodyWithoutSignature, decodeRelayFrame, encodeFrame, errorName, parseRelayAddress, PROTOCOL_VERSION, ProtocolError,
  SUBPROTOCOL, webSocketUrl, type ClientFrame, type EndFrame, type HelloFrame, type MsgFrame, type RelayAddress, type RelayFrame,
  type ServerHelloFrame,
} from '../wire/index.js';
import { CodedError } from '../coded-error.js';
import type { Connector, Socket } from './transport.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A command as passed to `request`: any client frame but HELLO, without its corr. */
export type Command = DistributiveOmit<Exclude<ClientFrame, HelloFrame>, 'corr'>;

interface Pending { resolve(f: RelayFrame): void; reject(e: Error): void }

export interface ConnectOptions {
  /** Time allowed for the WebSocket and HELLO (default 10 s). */
  timeoutMs?: number;
  /** The HELLO nonce (default: fresh random bytes). */
  clientNonce?: Uint8Array;
  /** For sealpost+wss:// relays with a private CA: PEM certificate(s) to trust. */
  ca?: string | Uint8Array;
}

/** The connection closed before a response arrived. */
export class ConnectionClosedError extends CodedError<'CONNECTION_CLOSED'> {
  constructor(readonly closeCode: number, readonly reason: string) {
    super('CONNECTION_CLOSED', `connection closed (${closeCode}${reason ? ` ${reason}` : ''})`);
  }
}

/** A request the relay did not answer within its time. */
export class RequestTimeoutError extends CodedError<'REQUEST_TIMEOUT'> {
  constructor(readonly command: string) {
    super('REQUEST_TIMEOUT', `${command} timed out`);
  }
}

export class RelayConnection {
  readonly address: RelayAddress;
  readonly serverNonce: Uint8Array;
  readonly clientNonce: Uint8Array;
  readonly relaySignKey: Ed25519PublicKey;
  readonly relayDeliveryKey: X25519PublicKey;
  readonly powDifficulty: number;
  readonly maxFrameBytes: number;
  private readonly ws: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextCorr = 1;
  private readonly msgHandlers: Array<(m: MsgFrame) => void> = [];
  private readonly endHandlers: Array<(readId: Uint8Array) => void> = [];
  private readonly closeHandlers: Array<(code: number, reason: string) => void> = [];
  private closeInfo: { code: number; reason: string } | null = null;
  private readonly closedPromise: Promise<void>;
  /** Reading is wanted paused (inbound back-pressure, spec/client.md §6.4) … */
  private pauseWanted = false;
  /** … and is paused: only while no request waits for its answer, which must be read. */
  private readingPaused = false;
  /** Dropped by abort(): frames still buffered are not handled. */
  private aborted = false;

  private constructor(ws: Socket, address: RelayAddress, clientNonce: Uint8Array, hello: ServerHelloFrame) {
    this.ws = ws;
    this.address = address;
    this.clientNonce = clientNonce;
    this.serverNonce = hello.serverNonce.slice();
    this.relaySignKey = hello.relaySignKey.slice() as Ed25519PublicKey;
    this.relayDeliveryKey = hello.relayDeliveryKey.slice() as X25519PublicKey;
    this.powDifficulty = hello.powDifficulty;
    this.maxFrameBytes = hello.maxFrameBytes;
    this.closedPromise = new Promise((resolve) => {
      ws.onClose((code, reason) => {
        this.closeInfo = { code, reason };
        const err = new ConnectionClosedError(code, reason);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        for (const h of this.closeHandlers) safely(() => h(code, reason));
        resolve();
      });
    });
    ws.onMessage((data, binary) => { if (binary) this.receive(data); });
  }

  /** Connects, sends HELLO, and checks the relay's fingerprint and signature; rejects otherwise. */
  static async connect(connector: Connector, address: string, opts: ConnectOptions = {}): Promise<RelayConnection> {
    const addr = parseRelayAddress(address);
    const clientNonce = opts.clientNonce ?? randomBytes(32);
    if (clientNonce.length !== 32) throw new RangeError('clientNonce must be 32 bytes');
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    const ws = await connector(webSocketUrl(addr), SUBPROTOCOL, {
      timeoutMs, maxMessageBytes: 1 << 20, ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    });
    return new Promise<RelayConnection>((resolve, reject) => {
      let done = false;
      const fail = (e: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        ws.terminate();
        reject(e);
      };
      const timer = setTimeout(() => fail(new Error('relay did not complete HELLO in time')), Math.max(1, deadline - Date.now()));
      ws.onClose((code, reason) => fail(new ConnectionClosedError(code, reason)));
      ws.onMessage((data, binary) => {
        if (done) return;
        try {
          if (!binary) throw new ProtocolError('HANDSHAKE', 'relay sent a text frame');
          const f = decodeRelayFrame(data);
          if (f.type === 'ERR') throw new ProtocolError(errorName(f.code) ?? 'HANDSHAKE', 'relay refused HELLO');
          if (f.type !== 'SERVER_HELLO' || f.version !== PROTOCOL_VERSION) throw new ProtocolError('HANDSHAKE', 'unexpected HELLO reply');
          // spec/protocol.md §5.1: the key must match the address, and sign our nonce.
          if (!equalBytes(relayFingerprintOf(f.relaySignKey as Ed25519PublicKey), addr.fingerprint)) {
            throw new ProtocolError('HANDSHAKE', 'relay key does not match the address fingerprint');
          }
          const signed = relayHelloMessage(clientNonce, bodyWithoutSignature(data));
          if (!ed25519Verify(f.signature, signed, f.relaySignKey as Ed25519PublicKey)) throw new ProtocolError('HANDSHAKE', 'bad relay HELLO signature');
          done = true;
          clearTimeout(timer);
          resolve(new RelayConnection(ws, addr, clientNonce.slice(), f));
        } catch (e) {
          fail(e as Error);
        }
      });
      ws.send(encodeFrame({ type: 'HELLO', corr: 1, minVersion: PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, clientNonce }));
    });
  }

  get isOpen(): boolean { return this.closeInfo === null && this.ws.isOpen; }

  /** Sends a command; resolves with its response, rejects with ProtocolError for ERR. */
  request(command: Command, opts: { timeoutMs?: number } = {}): Promise<RelayFrame> {
    if (!this.isOpen) return Promise.reject(new ConnectionClosedError(this.closeInfo?.code ?? 1006, this.closeInfo?.reason ?? 'not open'));
    const corr = this.nextCorr;
    this.nextCorr = this.nextCorr >= 0xffffffff ? 1 : this.nextCorr + 1;
    const bytes = encodeFrame({ ...command, corr } as ClientFrame);
    return new Promise<RelayFrame>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => { this.pending.delete(corr); this.applyPause(); reject(new RequestTimeoutError(command.type)); }, opts.timeoutMs);
      }
      this.pending.set(corr, {
        resolve: (f) => { clearTimeout(timer); resolve(f); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.applyPause();
      this.ws.send(bytes);
    });
  }

  /**
   * Sends a command whose answer nobody waits for (ACK, spec/client.md §6.1): no state is
   * kept for it, so a relay that never answers pins nothing; its answer is ignored.
   */
  notify(command: Command): void {
    if (!this.isOpen) return;
    const corr = this.nextCorr;
    this.nextCorr = this.nextCorr >= 0xffffffff ? 1 : this.nextCorr + 1;
    this.ws.send(encodeFrame({ ...command, corr } as ClientFrame));
  }

  /**
   * Stops reading from the relay until `resumeReading()` (spec/client.md §6.4), so that TCP
   * back-pressure reaches it. A request waiting for its answer lifts the pause meanwhile. On
   * a platform whose socket cannot pause, this does nothing (the caller's hard cap remains).
   */
  pauseReading(): void { this.pauseWanted = true; this.applyPause(); }
  resumeReading(): void { this.pauseWanted = false; this.applyPause(); }
  get readingIsPaused(): boolean { return this.readingPaused; }

  /** Drops the connection at once (a relay that breaks the protocol's bounds). */
  abort(): void {
    this.aborted = true;
    this.ws.terminate();
  }

  private applyPause(): void {
    const want = this.pauseWanted && this.pending.size === 0 && this.closeInfo === null;
    if (want === this.readingPaused) return;
    this.readingPaused = want;
    if (want) this.ws.pause?.();
    else this.ws.resume?.();
  }

  onMessage(handler: (msg: MsgFrame) => void): void { this.msgHandlers.push(handler); }
  onEnd(handler: (readId: Uint8Array) => void): void { this.endHandlers.push(handler); }
  onClose(handler: (code: number, reason: string) => void): void { this.closeHandlers.push(handler); }

  /** Sends raw bytes as one binary message (fuzzing). */
  sendRaw(bytes: Uint8Array): void { this.ws.send(bytes); }
  /** Sends a text message (tests of the 1003 close). */
  sendText(text: string): void { this.ws.sendText(text); }

  /** Bytes queued locally and not yet written to the socket. */
  get bufferedAmount(): number { return this.ws.bufferedAmount; }

  /** Resolves once the connection has closed (for any reason). */
  get closed(): Promise<void> { return this.closedPromise; }
  get closeCode(): number | null { return this.closeInfo?.code ?? null; }

  /** Closes with 1000 and waits for the socket to go. */
  async close(): Promise<void> {
    if (this.closeInfo) return;
    this.ws.close(1000);
    const t = setTimeout(() => this.ws.terminate(), 2_000);
    await this.closedPromise;
    clearTimeout(t);
  }

  private receive(data: Uint8Array): void {
    if (this.aborted) return;
    let f: RelayFrame;
    try {
      f = decodeRelayFrame(data);
    } catch {
      this.ws.close(4001, 'malformed frame from relay');
      return;
    }
    if (f.corr === 0 && f.type === 'MSG') { this.emitMsg(f); return; }
    if (f.corr === 0 && f.type === 'END') { this.emitEnd(f); return; }
    const p = this.pending.get(f.corr);
    if (!p) return;
    this.pending.delete(f.corr);
    if (this.pauseWanted && this.pending.size === 0) this.applyPause();
    if (f.type === 'ERR') p.reject(new ProtocolError(errorName(f.code) ?? 'INTERNAL', `relay answered ERR ${f.code}`));
    else p.resolve(f);
  }

  private emitMsg(f: MsgFrame): void { for (const h of this.msgHandlers) safely(() => h(f)); }
  private emitEnd(f: EndFrame): void { for (const h of this.endHandlers) safely(() => h(f.readId)); }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    queueMicrotask(() => { throw e; }); // surface handler bugs without breaking the connection
  }
}
