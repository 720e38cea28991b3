// The Node Connector (spec/client.md §12): a `ws` WebSocket, binary frames as Buffers,
// permessage-deflate off (compression would leak sizes, spec/protocol.md §1).
import WebSocket from 'ws';
import type { Connector, Socket } from '../transport.js';

/** The TCP socket under a `ws` WebSocket (not in its types). */
interface Corkable { cork(): void; uncork(): void }

class WsSocket implements Socket {
  private corked = false;
  constructor(private readonly ws: WebSocket) {}
  /**
   * Frames sent in one event-loop turn (a burst of SENDs or ACKs) leave in one write: the
   * TCP socket is corked at the first and uncorked on the next tick, instead of one system
   * call per frame.
   */
  send(bytes: Uint8Array): void {
    const tcp = (this.ws as unknown as { _socket?: Corkable })._socket;
    if (tcp && !this.corked) {
      this.corked = true;
      tcp.cork();
      process.nextTick(() => { this.corked = false; tcp.uncork(); });
    }
    this.ws.send(bytes);
  }
  sendText(text: string): void { this.ws.send(text); }
  close(code: number, reason?: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }
  terminate(): void { this.ws.terminate(); }
  get isOpen(): boolean { return this.ws.readyState === WebSocket.OPEN; }
  get bufferedAmount(): number { return this.ws.bufferedAmount; }
  onMessage(handler: (data: Uint8Array, binary: boolean) => void): void {
    this.ws.on('message', (data: Buffer, binary: boolean) => handler(data, binary));
  }
  onClose(handler: (code: number, reason: string) => void): void {
    this.ws.once('close', (code: number, reason: Buffer) => handler(code, reason.toString()));
  }
  pause(): void { this.ws.pause(); }
  resume(): void { this.ws.resume(); }
}

export const wsConnector: Connector = (url, protocol, opts) => {
  const ws = new WebSocket(url, protocol, {
    perMessageDeflate: false, maxPayload: opts.maxMessageBytes, handshakeTimeout: opts.timeoutMs,
    ...(opts.ca !== undefined ? { ca: typeof opts.ca === 'string' ? opts.ca : Buffer.from(opts.ca) } : {}),
  });
  ws.binaryType = 'nodebuffer';
  return new Promise<Socket>((resolve, reject) => {
    const fail = (e: Error): void => {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      reject(e);
    };
    ws.once('error', fail);
    ws.once('close', (code: number) => fail(new Error(`WebSocket closed before it opened (${code})`)));
    ws.once('open', () => {
      ws.removeAllListeners('error');
      ws.removeAllListeners('close');
      ws.on('error', () => { /* 'close' follows */ });
      resolve(new WsSocket(ws));
    });
  });
};
