// The browser Connector (spec/client.md §12.1): the WebSocket global, binary frames as
// ArrayBuffers. Browsers never offer permessage-deflate to a server that does not ask, and
// the relay never asks (compression would leak sizes, spec/protocol.md §1).
import type { Connector, Socket } from '../transport.js';

/** Close codes a page may send (WebSockets standard): others throw, so they are sent as 1000. */
const sendable = (code: number): boolean => code === 1000 || (code >= 3000 && code <= 4999);

class BrowserSocket implements Socket {
  constructor(private readonly ws: WebSocket, private readonly maxMessageBytes: number) {}
  send(bytes: Uint8Array): void { this.ws.send(bytes as Uint8Array<ArrayBuffer>); }
  sendText(text: string): void { this.ws.send(text); }
  close(code: number, reason?: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(sendable(code) ? code : 1000, reason);
  }
  /** A page cannot drop a TCP connection: the closing handshake is the nearest it has. */
  terminate(): void { this.close(1000); }
  get isOpen(): boolean { return this.ws.readyState === WebSocket.OPEN; }
  get bufferedAmount(): number { return this.ws.bufferedAmount; }
  onMessage(handler: (data: Uint8Array, binary: boolean) => void): void {
    this.ws.addEventListener('message', (ev: MessageEvent) => {
      if (typeof ev.data === 'string') return handler(new TextEncoder().encode(ev.data), false);
      const bytes = new Uint8Array(ev.data as ArrayBuffer);
      // A browser reads any size; past the limit the connection is closed, as `ws` does (1009).
      if (bytes.length > this.maxMessageBytes) { this.ws.close(1000, 'message too big'); return; }
      handler(bytes, true);
    });
  }
  onClose(handler: (code: number, reason: string) => void): void {
    this.ws.addEventListener('close', (ev: CloseEvent) => handler(ev.code, ev.reason), { once: true });
  }
  // No pause()/resume(): a page cannot stop reading a WebSocket (spec/client.md §12).
}

export const browserConnector: Connector = (url, protocol, opts) => new Promise<Socket>((resolve, reject) => {
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, protocol);
  } catch (e) {
    reject(e instanceof Error ? e : new Error(String(e)));
    return;
  }
  ws.binaryType = 'arraybuffer';
  const timer = setTimeout(() => fail(new Error(`WebSocket did not open within ${opts.timeoutMs} ms`)), opts.timeoutMs);
  const fail = (e: Error): void => {
    clearTimeout(timer);
    ws.onopen = ws.onerror = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
    reject(e);
  };
  ws.onerror = () => fail(new Error('WebSocket failed to open'));
  ws.onclose = (ev) => fail(new Error(`WebSocket closed before it opened (${ev.code})`));
  ws.onopen = () => {
    clearTimeout(timer);
    ws.onopen = ws.onerror = ws.onclose = null;
    resolve(new BrowserSocket(ws, opts.maxMessageBytes));
  };
});
