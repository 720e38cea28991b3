// A hostile relay for client tests (issue 11, finding 7): it completes HELLO as a real relay
// does (the relay's identity file and signature, spec/protocol.md §5.1), answers CREATE, AUTH
// and SUB, and then pushes MSG frames for every subscribed mailbox as fast as the socket
// takes them, ignoring ACKs (never answered) and the delivery window. Each MSG opens under the
// mailbox's delivery key (crypto.md §6) and carries a random 1 KiB envelope, so the client
// does the real work for each one (and drops it as undecryptable).
//
// The flood starts on `flood()`, so that a test subscribes its mailboxes first (a SUB's OK
// queued behind a flood is a relay burying its answers: the client drops such a connection).
// It runs in a child process (`forkHostileRelay`), so that its CPU and memory are not the
// client's. `pushedBytes` counts bytes the kernel took (sent minus still buffered).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import {
  BUCKETS, deliveryKey, ed25519Sign, minutesNow, randomBytes, readIdOf, relayHelloMessage, sealDelivery, toHex,
  type DeliveryKey, type Ed25519PublicKey, type X25519PublicKey,
} from '../../src/crypto/index.js';
import { loadOrCreateIdentity } from '../../src/relay/identity.js';
import { bodyWithoutSignature, decodeClientFrame, encodeFrame, PROTOCOL_VERSION, SUBPROTOCOL, type RelayFrame } from '../../src/wire/index.js';

/** Bytes the flood keeps queued on a socket before it waits for the client to read. */
const HIGH_WATER = 1 << 20;

export interface HostileStats { pushedBytes: number; pushedMsgs: number; acks: number; connections: number }

export interface HostileRelay {
  readonly address: string;
  /** Starts the flood (mailboxes subscribed before and after). */
  flood(): Promise<void>;
  stats(): Promise<HostileStats>;
  close(): Promise<void>;
}

/** Starts the hostile relay in this process. */
export async function startHostileRelay(): Promise<HostileRelay & { statsNow(): HostileStats }> {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-hostile-'));
  const id = loadOrCreateIdentity(dir);
  const dks = new Map<string, DeliveryKey>();
  const envelope = randomBytes(BUCKETS[1]);
  let nextMsgId = 1;
  const totals = { sent: 0, pushedMsgs: 0, acks: 0, connections: 0 };
  const live = new Set<WebSocket>();
  const pumps = new Set<() => void>();
  let flooding = false;
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, handleProtocols: () => SUBPROTOCOL });
  wss.on('connection', (ws: WebSocket) => {
    live.add(ws);
    totals.connections++;
    const serverNonce = randomBytes(32);
    const subs: string[] = [];
    let pumping = false;
    let closed = false;
    ws.on('close', () => { closed = true; live.delete(ws); });
    ws.on('error', () => ws.terminate());
    const reply = (f: RelayFrame): void => { if (!closed) ws.send(encodeFrame(f)); };
    const pump = (): void => {
      if (closed) return;
      if (!flooding) { pumps.add(pump); return; }
      while (ws.bufferedAmount < HIGH_WATER) {
        for (const readIdHex of subs) {
          const msgId = nextMsgId++;
          const delivered = sealDelivery(dks.get(readIdHex)!, msgId, minutesNow(), envelope);
          const bytes = encodeFrame({ type: 'MSG', corr: 0, readId: Buffer.from(readIdHex, 'hex'), msgId, delivered });
          ws.send(bytes);
          totals.sent += bytes.length;
          totals.pushedMsgs++;
        }
      }
      setTimeout(pump, ws.bufferedAmount < HIGH_WATER ? 0 : 2);
    };
    ws.on('message', (data: Buffer) => {
      const f = decodeClientFrame(new Uint8Array(data));
      switch (f.type) {
        case 'HELLO': {
          const hello = encodeFrame({
            type: 'SERVER_HELLO', corr: f.corr, version: PROTOCOL_VERSION, serverNonce, relaySignKey: id.signKey,
            relayDeliveryKey: id.deliveryKey, powDifficulty: 1, maxFrameBytes: 66_560, signature: new Uint8Array(64),
          });
          hello.set(ed25519Sign(id.signSeed, relayHelloMessage(f.clientNonce, bodyWithoutSignature(hello))), hello.length - 64);
          ws.send(hello);
          return;
        }
        case 'CREATE': {
          const readId = readIdOf(f.readKey as Ed25519PublicKey);
          dks.set(toHex(readId), deliveryKey(id.deliverySecret, f.deliveryKey as X25519PublicKey, id.deliveryKey, f.deliveryKey as X25519PublicKey));
          reply({ type: 'CREATED', corr: f.corr, readId, sendId: f.sendId });
          return;
        }
        case 'SUB': {
          reply({ type: 'OK', corr: f.corr });
          const hex = toHex(f.readId);
          if (dks.has(hex) && !subs.includes(hex)) subs.push(hex);
          if (!pumping && subs.length > 0) { pumping = true; setTimeout(pump, 0); }
          return;
        }
        case 'ACK': totals.acks++; return; // ignored: no answer, no window
        case 'FETCH': reply({ type: 'EMPTY', corr: f.corr }); return;
        case 'PING': reply({ type: 'PONG', corr: f.corr }); return;
        default: reply({ type: 'OK', corr: f.corr });
      }
    });
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  const statsNow = (): HostileStats => {
    let buffered = 0;
    for (const ws of live) buffered += ws.bufferedAmount;
    return { pushedBytes: totals.sent - buffered, pushedMsgs: totals.pushedMsgs, acks: totals.acks, connections: totals.connections };
  };
  return {
    address: `sealpost+ws://${id.fingerprint}@127.0.0.1:${port}`,
    statsNow,
    stats: async () => statsNow(),
    flood: async () => { flooding = true; for (const p of pumps) setTimeout(p, 0); pumps.clear(); },
    close: async () => {
      for (const ws of live) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts the hostile relay in a child process. */
export async function forkHostileRelay(): Promise<HostileRelay> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const address = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { address: string }).address));
    child.once('exit', (code) => reject(new Error(`hostile relay exited (${code})`)));
  });
  const ask = <T>(what: string): Promise<T> => new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(what);
  });
  return {
    address,
    stats: () => ask<HostileStats>('stats'),
    flood: () => ask<void>('flood'),
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.send('close');
    }),
  };
}

if (process.argv[2] === '--child' && process.argv[1] === fileURLToPath(import.meta.url)) {
  const relay = await startHostileRelay();
  process.on('message', (m) => {
    if (m === 'stats') process.send!(relay.statsNow());
    else if (m === 'flood') void relay.flood().then(() => process.send!('flooding'));
    else if (m === 'close') void relay.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => { void relay.close().then(() => process.exit(0)); });
  process.send!({ address: relay.address });
}
