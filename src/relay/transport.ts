// The WebSocket transport (spec/protocol.md §2): our own HTTP(S) server so that upgrades and
// connection limits are ours; binary frames only, no compression (it would leak sizes),
// `maxPayload` = maxFrameBytes (ws closes larger messages with 1009 before buffering them).
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, SUBPROTOCOL } from '../wire/index.js';
import type { RelayContext } from './context.js';
import { addressGroup } from './address-group.js';
import { connectionsWithinFileLimit, FD_HEADROOM, readFileLimit } from './file-limit.js';
import { Session } from './session.js';
import { SocketGate } from './socket-gate.js';
import { LINK_MAX_MESSAGE_BYTES, PEER_SUBPROTOCOL } from './federation/peer-wire.js';

/** Frames read from one connection before yielding to the others (see the 'message' handler). */
const FRAMES_PER_TURN = 64;

export interface Listener {
  readonly port: number;
  readonly sessions: ReadonlySet<Session>;
  /** Stops accepting connections; open ones stay. */
  stopAccepting(): Promise<void>;
  /** Closes every connection with `code` and waits (bounded) for the sockets to go. */
  closeAll(code: number, reason: string, timeoutMs: number): Promise<void>;
}

/**
 * A session's view of a ws socket. Frames written in one tick are corked together so that a
 * burst (replies to pipelined commands, pushes after a group commit) leaves in one writev.
 */
function wsSocket(ws: WebSocket) {
  const raw = (ws as unknown as { _socket?: Socket })._socket;
  let corked = false;
  const uncork = (): void => { corked = false; raw!.uncork(); };
  return {
    send: (b: Uint8Array): void => {
      if (raw && !corked) { corked = true; raw.cork(); process.nextTick(uncork); }
      ws.send(b);
    },
    close: (code: number, reason: string) => ws.close(code, reason),
    ping: () => ws.ping(),
    terminate: () => ws.terminate(),
    get bufferedAmount() { return ws.bufferedAmount; },
    get isOpen() { return ws.readyState === ws.OPEN; },
    onDrain: (fn: () => void) => raw?.on('drain', fn),
  };
}

function refuseUpgrade(socket: Socket, status: string): void {
  try {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  } catch { /* gone */ }
  socket.destroy();
}

export async function listen(ctx: RelayContext): Promise<Listener> {
  const c = ctx.config;
  const tls = c.tlsCert !== undefined && c.tlsKey !== undefined ? { cert: readFileSync(c.tlsCert), key: readFileSync(c.tlsKey) } : null;
  const onRequest = (_req: IncomingMessage, res: import('node:http').ServerResponse): void => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('Sealpost relay: connect with a WebSocket client (sealpost+ws:// address).\n');
  };
  // HTTP timeouts on purpose (spec/protocol.md §2): the only request is the upgrade, due within
  // upgradeTimeoutSeconds of accept (the socket gate enforces it to the millisecond; Node's own
  // checks run every connectionsCheckingInterval); no keep-alive for the 426 answer.
  const upgradeMs = Math.max(1, Math.round(c.upgradeTimeoutSeconds * 1000));
  const httpOptions = {
    headersTimeout: upgradeMs, requestTimeout: upgradeMs, keepAliveTimeout: 1, connectionsCheckingInterval: Math.min(1_000, upgradeMs),
    maxHeaderSize: 8 * 1024,
  };
  let accepting = true;
  const server: Server = tls ? createHttpsServer({ ...tls, ...httpOptions }, onRequest) : createHttpServer(httpOptions, onRequest);
  server.maxRequestsPerSocket = 1;
  server.timeout = 0; // upgraded sockets belong to ws and the session's idle timeout
  const fileLimit = readFileLimit();
  const maxSockets = connectionsWithinFileLimit(c.maxConnections, fileLimit);
  if (maxSockets < c.maxConnections || fileLimit === null) {
    ctx.log.warn('file_limit', { fileLimit, maxConnections: c.maxConnections, effectiveMaxConnections: maxSockets, headroom: FD_HEADROOM });
  }
  const gate = new SocketGate({ maxSockets, perAddress: c.maxConnectionsPerAddress, upgradeTimeoutMs: upgradeMs }, {
    sockets: (n) => ctx.metrics.sockets.set(n),
    rejected: () => ctx.metrics.connectionsRejected.inc(),
    upgradeTimeout: () => ctx.metrics.upgradeTimeouts.inc(),
  }, ctx.log);
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    if (!accepting) { socket.destroy(); return; }
    gate.accepted(socket);
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: c.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
    skipUTF8Validation: true, // text frames are refused anyway
    handleProtocols: (offered: Set<string>) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    closeTimeout: 5_000,
  } as ConstructorParameters<typeof WebSocketServer>[0]);

  // Partner relays' links (spec/federation.md §2) come in on the same port, told apart by subprotocol.
  const peerWss = new WebSocketServer({
    noServer: true, maxPayload: LINK_MAX_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false, skipUTF8Validation: true,
    handleProtocols: (offered: Set<string>) => (offered.has(PEER_SUBPROTOCOL) ? PEER_SUBPROTOCOL : false), closeTimeout: 5_000,
  } as ConstructorParameters<typeof WebSocketServer>[0]);
  const peerSockets = new Set<WebSocket>();

  const sessions = new Set<Session>();
  const sockets = new Map<Session, WebSocket>();

  server.on('clientError', (_e, socket) => socket.destroy());
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    // Counted since accept; false: accepted over a connection limit, answered 4008 below.
    const withinLimits = gate.upgrading(socket) !== false;
    if (!accepting) { refuseUpgrade(socket, '503 Service Unavailable'); return; }
    if ((req.url ?? '/').split('?')[0] !== '/') { refuseUpgrade(socket, '404 Not Found'); return; }
    const federation = ctx.federation;
    if (federation && String(req.headers['sec-websocket-protocol'] ?? '').split(',').some((p) => p.trim() === PEER_SUBPROTOCOL)) {
      peerWss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => {});
        if (!withinLimits || !accepting) { ws.close(CLOSE_CODES.TOO_MANY_CONNECTIONS, 'too many connections'); return; }
        peerSockets.add(ws);
        ws.on('close', () => peerSockets.delete(ws));
        federation.accept(ctx, ws);
      });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!withinLimits || !accepting) {
        ws.on('error', () => {});
        ws.close(CLOSE_CODES.TOO_MANY_CONNECTIONS, 'too many connections');
        return;
      }
      const socket = wsSocket(ws);
      const session = new Session(ctx, socket, () => {}, performance.now());
      session.addressGroup = addressGroup(req.socket.remoteAddress);
      socket.onDrain(() => session.drained());
      sessions.add(session);
      sockets.set(session, ws);
      ctx.metrics.connections.set(sessions.size);
      ctx.metrics.connectionsTotal.inc();
      ws.binaryType = 'nodebuffer';
      // Fairness: a connection gets at most FRAMES_PER_TURN frames per turn of the event loop,
      // then its socket pauses until the next turn, so a flood on one connection (say, failing
      // AUTHs) cannot starve the others.
      let framesThisTurn = 0;
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        session.receive(data, isBinary, performance.now());
        if (++framesThisTurn === FRAMES_PER_TURN) {
          ws.pause();
          setImmediate(() => { framesThisTurn = 0; ws.resume(); });
        }
      });
      ws.on('pong', () => session.touch(performance.now()));
      ws.on('ping', () => session.touch(performance.now())); // ws answers it (autoPong)
      ws.on('error', () => { /* ws closes the socket itself (e.g. 1009); 'close' follows */ });
      ws.on('close', (code: number) => {
        session.closed();
        sessions.delete(session);
        sockets.delete(session);
        ctx.metrics.connections.set(sessions.size);
        // The code the relay sent when it closed first (4005, 4006, …): a peer that does not
        // answer the close frame shows up as 1006, which would hide why it was closed.
        ctx.metrics.closes.inc(String(session.closeCode ?? code));
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(c.port, c.host, () => { server.off('error', reject); resolve(); });
  });
  server.on('error', (e) => ctx.log.error('listener_error', { error: (e as NodeJS.ErrnoException).code ?? 'error' }));

  // One timer for every connection's HELLO/idle timeouts and pings.
  const minTimeout = Math.min(c.idleTimeoutSeconds, c.helloTimeoutSeconds, c.pingIntervalSeconds) * 1000;
  const ticker = setInterval(() => {
    const now = performance.now();
    for (const s of sessions) s.tick(now);
  }, Math.max(10, Math.min(250, minTimeout / 4)));

  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    stopAccepting: async () => {
      accepting = false;
      server.close(); // no new TCP connections; upgraded ones are ours to close
    },
    closeAll: async (code, reason, timeoutMs) => {
      clearInterval(ticker);
      for (const s of sessions) s.close(code, reason);
      const deadline = Date.now() + timeoutMs;
      while (sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Whatever did not finish the closing handshake in time is cut.
      for (const ws of sockets.values()) ws.terminate();
      for (const ws of peerSockets) ws.terminate();
      server.closeAllConnections();
      wss.close();
      peerWss.close();
    },
  };
}
