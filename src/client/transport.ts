// The socket a RelayConnection speaks over (spec/client.md §12): binary WebSocket messages,
// nothing else. Each platform supplies a Connector (Node: the `ws` package; browsers: the
// WebSocket global), so that the protocol code never names a platform.

export interface Socket {
  /** Sends one binary message. */
  send(bytes: Uint8Array): void;
  /** Sends one text message (only tests of the relay's 1003 close use it). */
  sendText(text: string): void;
  /** Starts the closing handshake. */
  close(code: number, reason?: string): void;
  /** Drops the connection at once. */
  terminate(): void;
  readonly isOpen: boolean;
  /** Bytes queued locally and not yet written. */
  readonly bufferedAmount: number;
  /** Every message after open; `binary` false for a text message. */
  onMessage(handler: (data: Uint8Array, binary: boolean) => void): void;
  /** Once, when the connection has closed for any reason. */
  onClose(handler: (code: number, reason: string) => void): void;
  /** Stops and restarts reading from the network (inbound back-pressure), where the platform can. */
  pause?(): void;
  resume?(): void;
}

export interface SocketOptions {
  /** Time allowed to open the socket. */
  readonly timeoutMs: number;
  /** Largest message accepted from the relay. */
  readonly maxMessageBytes: number;
  /** For sealpost+wss:// relays with a private CA: PEM certificate(s) to trust (Node only). */
  readonly ca?: string | Uint8Array;
}

/** Opens a WebSocket to `url` with `protocol`, never with compression; resolves once it is open. */
export type Connector = (url: string, protocol: string, opts: SocketOptions) => Promise<Socket>;
