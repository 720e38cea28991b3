// End-to-end over a real socket on 127.0.0.1: the relay, the protocol client, and the mailbox
// operations (spec/protocol.md §5).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { equalBytes, randomBytes, toBase64url, toHex } from '../../src/crypto/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import {
  ack, authenticate, createMailbox, deleteMailbox, fetchNext, openDelivered, rotateMailbox, sendCapability, sendEnvelope, subscribe,
  unsubscribe,
} from '../../src/client/mailbox.js';
import type { Store } from '../../src/relay/index.js';
import { decodeRelayFrame, encodeFrame, ERROR_CODES, SUBPROTOCOL } from '../../src/wire/index.js';
import { clientPool, collectMessages, envelope, errorOf, makeMailbox, sleep, waitFor, withRelay, withTimeout } from './_helpers.js';

test('create, send with the capability, pushed, ack, gone', () => withRelay({}, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const owner = await pool.connect();
    const sender = await pool.connect();
    const inbox = collectMessages(owner);
    const { keys, cap } = await makeMailbox(owner, relay.address, { subscribe: true });
    const env = envelope(1024);
    await sendEnvelope(sender, cap, env);
    const msg = await inbox.next();
    assert.ok(equalBytes(msg.readId, keys.readId));
    assert.is(msg.delivered.length, 1024 + 44, 'delivered = bucket + 44');
    assert.not.ok(equalBytes(msg.delivered.subarray(24, 24 + 1024), env), 'delivered bytes differ from sent bytes');
    const opened = openDelivered(owner, keys, msg);
    assert.ok(equalBytes(opened.envelope, env));
    assert.ok(Math.abs(opened.receivedAtMinutes - Date.now() / 60_000) < 2);
    assert.is(relay.stats().envelopes, 1);
    await ack(owner, keys, msg.msgId);
    assert.is(await fetchNext(owner, keys), null);
    assert.is(relay.stats().envelopes, 0);
    assert.is(await errorOf(ack(owner, keys, msg.msgId)), 'NO_MSG');
  } finally {
    await pool.closeAll();
  }
}));

test('fetch after reconnect; the same envelope until ACK', () => withRelay({}, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const first = await pool.connect();
    const { keys, cap } = await makeMailbox(first, relay.address);
    await first.close();
    const sender = await pool.connect();
    const envs = [envelope(256), envelope(4096)];
    for (const e of envs) await sendEnvelope(sender, cap, e);
    const owner = await pool.connect();
    assert.is(await errorOf(fetchNext(owner, keys)), 'AUTH', 'read commands need AUTH on this connection');
    await authenticate(owner, keys);
    const a = await fetchNext(owner, keys);
    const again = await fetchNext(owner, keys);
    assert.ok(a && again && a.msgId === again.msgId && equalBytes(a.envelope, envs[0]!));
    await ack(owner, keys, a.msgId);
    const b = await fetchNext(owner, keys);
    assert.ok(b && b.msgId > a.msgId && equalBytes(b.envelope, envs[1]!));
    await ack(owner, keys, b.msgId);
    assert.is(await fetchNext(owner, keys), null);
  } finally {
    await pool.closeAll();
  }
}));

test('unacknowledged envelopes are redelivered after reconnect, in order, same msgIds', () => withRelay({}, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const owner1 = await pool.connect();
    const inbox1 = collectMessages(owner1);
    const { keys, cap } = await makeMailbox(owner1, relay.address, { subscribe: true });
    const sender = await pool.connect();
    const envs = Array.from({ length: 6 }, () => envelope(256));
    await Promise.all(envs.map((e) => sendEnvelope(sender, cap, e)));
    const first = await inbox1.waitCount(6);
    const ids = first.map((m) => m.msgId);
    assert.equal([...ids].sort((x, y) => x - y), ids, 'pushed in msgId order');
    await ack(owner1, keys, ids[0]!);
    await owner1.close();

    const owner2 = await pool.connect();
    const inbox2 = collectMessages(owner2);
    await authenticate(owner2, keys);
    await subscribe(owner2, keys);
    const again = await inbox2.waitCount(5);
    assert.equal(again.map((m) => m.msgId), ids.slice(1));
    for (const [i, m] of again.entries()) {
      assert.ok(equalBytes(openDelivered(owner2, keys, m).envelope, envs.find((_, j) => ids[j] === m.msgId)!), `envelope ${i}`);
      await ack(owner2, keys, m.msgId);
    }
    assert.is(await fetchNext(owner2, keys), null);
  } finally {
    await pool.closeAll();
  }
}));

test('delivery window: at most deliveryWindow unacknowledged pushes', () => withRelay({ deliveryWindow: 3 }, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const owner = await pool.connect();
    const inbox = collectMessages(owner);
    const { keys, cap } = await makeMailbox(owner, relay.address, { subscribe: true });
    const sender = await pool.connect();
    for (let i = 0; i < 8; i++) await sendEnvelope(sender, cap, envelope());
    await inbox.waitCount(3);
    await sleep(50);
    assert.is(inbox.messages.length, 3);
    for (let n = 0; n < 8; n++) {
      const m = await inbox.next();
      await ack(owner, keys, m.msgId);
    }
    assert.equal(inbox.messages.map((m) => m.msgId), [...inbox.messages.map((m) => m.msgId)].sort((a, b) => a - b));
    assert.is(inbox.messages.length, 8);
  } finally {
    await pool.closeAll();
  }
}));

test('TTL: the sweeper deletes expired envelopes', async () => {
  let clock = Date.now();
  await withRelay({ now: () => clock, minTtlSeconds: 60 }, async ({ relay }) => {
    const pool = clientPool(relay.address);
    try {
      const owner = await pool.connect();
      const short = await makeMailbox(owner, relay.address, { ttlSeconds: 60 });
      const long = await makeMailbox(owner, relay.address, { ttlSeconds: 3600 });
      const sender = await pool.connect();
      await sendEnvelope(sender, short.cap, envelope());
      await sendEnvelope(sender, short.cap, envelope());
      await sendEnvelope(sender, long.cap, envelope());
      assert.is(await relay.sweepNow(), 0, 'nothing expired yet');
      clock += 2 * 60_000;
      assert.is(await relay.sweepNow(), 2);
      assert.is(await fetchNext(owner, short.keys), null);
      assert.ok(await fetchNext(owner, long.keys));
      assert.is(relay.stats().envelopes, 1);
      // The quota counts only what is left: fill the short mailbox again.
      await sendEnvelope(sender, short.cap, envelope());
      assert.ok(await fetchNext(owner, short.keys));
    } finally {
      await pool.closeAll();
    }
  });
});

test('public mailbox: proof-of-work, nonce reuse refused, small quota', () => withRelay({ powDifficulty: 6, publicMaxEnvelopes: 2 }, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const owner = await pool.connect();
    const { keys, cap } = await makeMailbox(owner, relay.address, { public: true });
    assert.is(cap.accessKey, null);
    const sender = await pool.connect();
    assert.is(sender.powDifficulty, 6);
    const env = envelope();
    await sendEnvelope(sender, cap, env);
    // The same proof again on this connection is refused.
    const { solvePow } = await import('../../src/crypto/index.js');
    const env2 = envelope();
    const proof = solvePow(sender.serverNonce, cap.sendId, env2, 6);
    await sender.request({ type: 'SEND', sendId: cap.sendId, proof, envelope: env2 });
    assert.is(await errorOf(sender.request({ type: 'SEND', sendId: cap.sendId, proof, envelope: env2 })), 'AUTH', 'reused nonce');
    assert.is(await errorOf(sendEnvelope(sender, cap, envelope())), 'QUOTA', 'public quota of 2');
    const m = await fetchNext(owner, keys);
    assert.ok(m && equalBytes(m.envelope, env));
    await ack(owner, keys, m.msgId);
    assert.is(await errorOf(sender.request({ type: 'SEND', sendId: cap.sendId, proof, envelope: env2 })), 'AUTH', 'reused nonce');
    // A proof that does not meet the difficulty is AUTH, like an unknown sendId.
    let weak = randomBytes(32);
    const { verifyPow } = await import('../../src/crypto/index.js');
    while (verifyPow(sender.serverNonce, cap.sendId, env2, weak, 6)) weak = randomBytes(32);
    assert.is(await errorOf(sender.request({ type: 'SEND', sendId: cap.sendId, proof: weak, envelope: env2 })), 'AUTH');
    // A proof made for another connection does not work here.
    const other = await pool.connect();
    const env3 = envelope();
    let foreign = solvePow(sender.serverNonce, cap.sendId, env3, 6);
    while (verifyPow(other.serverNonce, cap.sendId, env3, foreign, 6)) foreign = solvePow(sender.serverNonce, cap.sendId, env3, 6);
    assert.is(await errorOf(other.request({ type: 'SEND', sendId: cap.sendId, proof: foreign, envelope: env3 })), 'AUTH');
  } finally {
    await pool.closeAll();
  }
}));

test('ROTATE: old readId and old capability stop working; queued envelopes follow the new keys', () => withRelay({}, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const owner = await pool.connect();
    const inbox = collectMessages(owner);
    const ends: Uint8Array[] = [];
    owner.onEnd((r) => ends.push(r));
    const { keys, cap } = await makeMailbox(owner, relay.address, { subscribe: true });
    const sender = await pool.connect();
    const before = envelope();
    await sendEnvelope(sender, cap, before);
    await inbox.next();
    const next = await rotateMailbox(owner, keys);
    assert.ok(equalBytes(next.sendId, keys.sendId), 'same sendId');
    assert.not.ok(equalBytes(next.readId, keys.readId));
    await waitFor(() => ends.length === 1, 2_000, 'END for the old readId');
    assert.ok(equalBytes(ends[0]!, keys.readId));
    assert.is(await errorOf(sendEnvelope(sender, cap, envelope())), 'AUTH', 'old access key revoked');
    const newCap = sendCapability(relay.address, next);
    const after = envelope();
    await sendEnvelope(sender, newCap, after);
    // The rotating connection reads under the new readId; the queue is sealed for the new dk.
    const m1 = await fetchNext(owner, next);
    assert.ok(m1 && equalBytes(m1.envelope, before));
    await ack(owner, next, m1.msgId);
    const m2 = await fetchNext(owner, next);
    assert.ok(m2 && equalBytes(m2.envelope, after));
    assert.is(await errorOf(fetchNext(owner, keys)), 'AUTH', 'old readId no longer reads');
    const fresh = await pool.connect();
    assert.is(await errorOf(authenticate(fresh, keys)), 'AUTH');
    await authenticate(fresh, next);
  } finally {
    await pool.closeAll();
  }
}));

test('DEL: the mailbox, its ids and its queue are gone', () => withRelay({}, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const owner = await pool.connect();
    const { keys, cap } = await makeMailbox(owner, relay.address);
    const sender = await pool.connect();
    await sendEnvelope(sender, cap, envelope());
    assert.equal(relay.stats(), { connections: 2, mailboxes: 1, envelopes: 1 });
    await deleteMailbox(owner, keys);
    assert.equal(relay.stats(), { connections: 2, mailboxes: 0, envelopes: 0 });
    assert.is(await errorOf(sendEnvelope(sender, cap, envelope())), 'AUTH');
    assert.is(await errorOf(fetchNext(owner, keys)), 'AUTH');
    const other = await pool.connect();
    assert.is(await errorOf(authenticate(other, keys)), 'AUTH');
    // The ids are free again.
    await createMailbox(other, keys);
  } finally {
    await pool.closeAll();
  }
}));

test('one subscriber per mailbox: END to the previous one on takeover', () => withRelay({}, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const a = await pool.connect();
    const ends: Uint8Array[] = [];
    a.onEnd((r) => ends.push(r));
    const inboxA = collectMessages(a);
    const { keys, cap } = await makeMailbox(a, relay.address, { subscribe: true });
    await subscribe(a, keys); // again on the same connection: OK, no change
    const b = await pool.connect();
    const inboxB = collectMessages(b);
    await authenticate(b, keys);
    await subscribe(b, keys);
    await waitFor(() => ends.length === 1, 2_000, 'END');
    assert.ok(equalBytes(ends[0]!, keys.readId));
    const sender = await pool.connect();
    await sendEnvelope(sender, cap, envelope());
    await inboxB.next();
    await sleep(30);
    assert.is(inboxA.messages.length, 0);
    await unsubscribe(b, keys);
    await sendEnvelope(sender, cap, envelope());
    await sleep(30);
    assert.is(inboxB.messages.length, 1, 'no pushes after UNSUB');
  } finally {
    await pool.closeAll();
  }
}));

test('HELLO: a wrong fingerprint in the address is rejected', () => withRelay({}, async ({ relay }) => {
  const wrong = relay.address.replace(relay.fingerprint, toBase64url(randomBytes(32)));
  const err = await RelayConnection.connect(wrong, { timeoutMs: 3_000 }).then(() => null, (e: unknown) => e as Error);
  assert.ok(err, 'connect must fail');
  assert.match(err!.message, /fingerprint/);
  const conn = await RelayConnection.connect(relay.address);
  assert.is(conn.powDifficulty, 6);
  await conn.close();
}));

test('errors: SIZE, DUPLICATE, NO_MSG, UNKNOWN_COMMAND, INVALID, PING', () => withRelay({}, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const c = await pool.connect();
    const { keys, cap } = await makeMailbox(c, relay.address);
    assert.is(await errorOf(sendEnvelope(c, cap, randomBytes(300))), 'SIZE');
    assert.is(await errorOf(createMailbox(c, keys)), 'DUPLICATE');
    assert.is(await errorOf(ack(c, keys, 12345)), 'NO_MSG');
    assert.is((await c.request({ type: 'PING' })).type, 'PONG');
    assert.is(await errorOf(c.request({ type: 'SEND', sendId: randomBytes(32), proof: randomBytes(32), envelope: envelope() })), 'AUTH');
    // An unknown client-range type: ERR UNKNOWN_COMMAND, and the connection stays open.
    const replies: number[] = [];
    const raw = new WebSocket(`ws://127.0.0.1:${relay.port}/`, SUBPROTOCOL);
    raw.on('message', (d: Buffer) => { const f = decodeRelayFrame(d); if (f.type === 'ERR') replies.push(f.code); });
    await new Promise((r) => raw.on('open', r));
    raw.send(encodeFrame({ type: 'HELLO', corr: 1, minVersion: 1, maxVersion: 1, clientNonce: randomBytes(32) }));
    raw.send(new Uint8Array([1, 0x3e, 0, 0, 0, 7]));
    await waitFor(() => replies.length === 1);
    assert.is(replies[0], ERROR_CODES.UNKNOWN_COMMAND);
    raw.close();
    // A public mailbox with a verifier is INVALID.
    const bad = await import('../../src/client/mailbox.js').then((m) => m.newMailboxKeys());
    const frame = { ...bad, accessVerifier: new Uint8Array(32) as typeof bad.accessVerifier };
    assert.is(await errorOf(createMailbox(c, frame)), 'INVALID');
    assert.is(relay.stats().mailboxes, 1);
  } finally {
    await pool.closeAll();
  }
}));

test('transport: command before HELLO closes 4003, text closes 1003, bad version 4002', () => withRelay({}, async ({ relay }) => {
  const open = async (): Promise<{ ws: WebSocket; closed: Promise<number>; errs: number[] }> => {
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/`, SUBPROTOCOL);
    const errs: number[] = [];
    ws.on('message', (d: Buffer) => { const f = decodeRelayFrame(d); if (f.type === 'ERR') errs.push(f.code); });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.on('open', r));
    assert.is(ws.protocol, SUBPROTOCOL);
    return { ws, closed, errs };
  };
  const a = await open();
  a.ws.send(encodeFrame({ type: 'PING', corr: 3 }));
  assert.is(await withTimeout(a.closed, 3_000), 4003);
  assert.equal(a.errs, [ERROR_CODES.HANDSHAKE]);
  const b = await open();
  b.ws.send('hello');
  assert.is(await withTimeout(b.closed, 3_000), 1003);
  const c = await open();
  c.ws.send(encodeFrame({ type: 'HELLO', corr: 1, minVersion: 2, maxVersion: 3, clientNonce: randomBytes(32) }));
  assert.is(await withTimeout(c.closed, 3_000), 4002);
  assert.equal(c.errs, [ERROR_CODES.VERSION]);
}));

test('a store failure answers INTERNAL, loses nothing acknowledged, and the relay carries on', async () => {
  let failWrites = false;
  const wrapStore = (s: Store): Store => new Proxy(s, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'enqueue' || prop === 'dequeue') {
        return (...args: unknown[]) => (failWrites ? Promise.reject(new Error('MDB_MAP_FULL: injected')) : (v as (...a: unknown[]) => unknown).apply(target, args));
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  await withRelay({ wrapStore }, async ({ relay, logs }) => {
    const pool = clientPool(relay.address);
    try {
      const owner = await pool.connect();
      const inbox = collectMessages(owner);
      const { keys, cap } = await makeMailbox(owner, relay.address, { subscribe: true });
      const sender = await pool.connect();
      const kept = envelope();
      await sendEnvelope(sender, cap, kept);
      const m = await inbox.next();
      failWrites = true;
      assert.is(await errorOf(sendEnvelope(sender, cap, envelope())), 'INTERNAL');
      assert.is(await errorOf(ack(owner, keys, m.msgId)), 'INTERNAL');
      failWrites = false;
      const later = envelope();
      await sendEnvelope(sender, cap, later);
      const m2 = await inbox.next();
      assert.ok(m2.msgId > m.msgId);
      assert.ok(equalBytes(openDelivered(owner, keys, m2).envelope, later));
      await ack(owner, keys, m.msgId);
      await ack(owner, keys, m2.msgId);
      assert.is(await fetchNext(owner, keys), null);
      assert.ok(logs.some((l) => l['event'] === 'store_write_failed'));
    } finally {
      await pool.closeAll();
    }
  });
});

test('metrics: /healthz, /metrics, and no ids in metrics or logs', () => withRelay({ metricsPort: 0 }, async ({ relay, logs }) => {
  const pool = clientPool(relay.address);
  try {
    const c = await pool.connect();
    const { keys, cap } = await makeMailbox(c, relay.address);
    await sendEnvelope(c, cap, envelope());
    const health = await fetch(`http://127.0.0.1:${relay.metricsPort}/healthz`);
    assert.is(health.status, 200);
    assert.is(await health.text(), 'ok');
    const text = await (await fetch(`http://127.0.0.1:${relay.metricsPort}/metrics`)).text();
    assert.match(text, /sealpost_connections 1/);
    assert.match(text, /sealpost_envelopes_in_total 1/);
    assert.match(text, /sealpost_frames_in_total\{type="SEND"\} 1/);
    assert.match(text, /sealpost_commit_latency_seconds_count \d+/);
    assert.match(text, /sealpost_queue_envelopes 1/);
    const secrets = [toHex(keys.readId), toHex(keys.sendId), toBase64url(keys.readId), toBase64url(keys.sendId)];
    const logText = JSON.stringify(logs);
    for (const s of secrets) {
      assert.not.ok(text.includes(s), 'no id in metrics');
      assert.not.ok(logText.includes(s), 'no id in logs');
    }
    assert.not.ok(logText.includes('127.0.0.1'), 'no address in logs');
  } finally {
    await pool.closeAll();
  }
}));

test('limits: 4008 per address, 4006 idle and HELLO timeouts, 1009 oversize, RATE, LIMIT', () => withRelay({
  maxConnectionsPerAddress: 2, idleTimeoutSeconds: 0.4, helloTimeoutSeconds: 0.3, pingIntervalSeconds: 10, maxFrameBytes: 2048,
  sendRatePerSecond: 1, sendBurst: 2, maxSubscriptionsPerConnection: 1,
}, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const a = await pool.connect();
    const b = await pool.connect();
    const third = new WebSocket(`ws://127.0.0.1:${relay.port}/`, SUBPROTOCOL);
    third.on('error', () => {});
    assert.is(await withTimeout(new Promise<number>((r) => third.on('close', (code) => r(code))), 3_000), 4008);
    // RATE: a burst of 2, then one token per second.
    const { keys, cap } = await makeMailbox(a, relay.address);
    await sendEnvelope(b, cap, envelope());
    await sendEnvelope(b, cap, envelope());
    assert.is(await errorOf(sendEnvelope(b, cap, envelope())), 'RATE');
    // LIMIT: one subscription per connection here.
    await subscribe(a, keys);
    const second = await makeMailbox(a, relay.address);
    assert.is(await errorOf(subscribe(a, second.keys)), 'LIMIT');
    // 1009: a frame over maxFrameBytes.
    b.sendRaw(new Uint8Array(4096));
    await withTimeout(b.closed, 3_000, '1009 close');
    assert.is(b.closeCode, 1009);
    // 4006: silence (no frames, no pongs: the ws client answers pings, so keep the ping interval long).
    await withTimeout(a.closed, 3_000, 'idle close');
    assert.is(a.closeCode, 4006);
    // 4006 also when HELLO does not come in time.
    const mute = new WebSocket(`ws://127.0.0.1:${relay.port}/`, SUBPROTOCOL);
    assert.is(await withTimeout(new Promise<number>((r) => mute.on('close', (code) => r(code))), 3_000), 4006);
  } finally {
    await pool.closeAll();
  }
}));

test('slow reader: a connection that does not read is closed with 4005', () => withRelay({ maxBufferedBytes: 64 * 1024, deliveryWindow: 4096 }, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const owner = await pool.connect();
    const { keys, cap } = await makeMailbox(owner, relay.address);
    const sender = await pool.connect();
    await Promise.all(Array.from({ length: 4 }, () => sendEnvelope(sender, cap, envelope(65536))));
    // A raw client that subscribes and then stops reading from its socket.
    const raw = new WebSocket(`ws://127.0.0.1:${relay.port}/`, SUBPROTOCOL);
    const frames: Buffer[] = [];
    raw.on('message', (d: Buffer) => frames.push(d));
    const closed = new Promise<number>((r) => raw.on('close', (code) => r(code)));
    await new Promise((r) => raw.on('open', r));
    const clientNonce = randomBytes(32);
    raw.send(encodeFrame({ type: 'HELLO', corr: 1, minVersion: 1, maxVersion: 1, clientNonce }));
    await waitFor(() => frames.length === 1);
    const hello = decodeRelayFrame(frames[0]!);
    assert.is(hello.type, 'SERVER_HELLO');
    const { ed25519Sign, readAuthMessage } = await import('../../src/crypto/index.js');
    const serverNonce = hello.type === 'SERVER_HELLO' ? hello.serverNonce : new Uint8Array(32);
    raw.send(encodeFrame({ type: 'AUTH', corr: 2, readId: keys.readId, signature: ed25519Sign(keys.readSeed, readAuthMessage(serverNonce, clientNonce, keys.readId)) }));
    await waitFor(() => frames.length === 2);
    // Pushes pause while the send buffer is half full, so a silent subscriber is only paced;
    // a client that keeps asking (pipelined FETCHes) without reading trips the limit.
    const sock = (raw as unknown as { _socket: import('node:net').Socket })._socket;
    sock.pause();
    for (let i = 0; i < 300; i++) raw.send(encodeFrame({ type: 'FETCH', corr: 10 + i, readId: keys.readId }));
    await sleep(300);
    sock.resume();
    assert.is(await withTimeout(closed, 8_000, '4005 close'), 4005);
  } finally {
    await pool.closeAll();
  }
}));

test('pushes are paced by the send buffer: a big backlog arrives whole, no 4005', () => withRelay({ maxBufferedBytes: 64 * 1024, deliveryWindow: 4096 }, async ({ relay }) => {
  const pool = clientPool(relay.address);
  try {
    const owner = await pool.connect();
    const { keys, cap } = await makeMailbox(owner, relay.address);
    const sender = await pool.connect();
    await Promise.all(Array.from({ length: 60 }, () => sendEnvelope(sender, cap, envelope(16384))));
    const reader = await pool.connect();
    const inbox = collectMessages(reader);
    await authenticate(reader, keys);
    await subscribe(reader, keys);
    const all = await inbox.waitCount(60, 10_000);
    assert.equal(all.map((m) => m.msgId), [...all.map((m) => m.msgId)].sort((a, b) => a - b));
    assert.ok(reader.isOpen);
  } finally {
    await pool.closeAll();
  }
}));

// A self-signed certificate for 127.0.0.1 (test only; valid until 2126).
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBozCCAUmgAwIBAgIUBWwC2S4R62xUT10U0jR7wbCD1jEwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNc2VhbHBvc3QtdGVzdDAgFw0yNjExMjMwMzA5MTJaGA8yMTI2
MTAzMDAzMDkxMlowGDEWMBQGA1UEAwwNc2VhbHBvc3QtdGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABGSrl/cPOPNdeWCo4AJMqth/D+xiCvO6dsXO4tXdpsj2
nndezlvb8UX9xFTC8oW1lZrLGBhGgffxZX1HssLwzxCjbzBtMB0GA1UdDgQWBBRU
icX4AxefhadLA1yhkmeTE93O7jAfBgNVHSMEGDAWgBRUicX4AxefhadLA1yhkmeT
E93O7jAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGHBH8AAAGCCWxvY2FsaG9z
dDAKBggqhkjOPQQDAgNIADBFAiEAvWi/25FXX8kxPr0UINXXEpt+H6zdEz/EGo44
KkYDE70CIBJQtPH9Y2uMCfi/JaTfT5hXPhgk4XgfkMZLPdRvQ/Dj
-----END CERTIFICATE-----
`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgh51SUVMAgW93r/y8
WEOIy66w1B3Z0JxbYk1hCh11Xd+hRANCAARkq5f3DzjzXXlgqOACTKrYfw/sYgrz
unbFzuLV3abI9p53Xs5b2/FF/cRUwvKFtZWayxgYRoH38WV9R7LC8M8Q
-----END PRIVATE KEY-----
`;

test('TLS: sealpost+wss:// with a certificate and key', async () => {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tempDir } = await import('./_helpers.js');
  const dir = tempDir('sealpost-tls-');
  try {
    writeFileSync(join(dir.path, 'cert.pem'), TEST_CERT);
    writeFileSync(join(dir.path, 'key.pem'), TEST_KEY);
    // A short upgrade timeout: an upgraded TLS connection must outlive it (the socket gate finds
    // the accepted socket under the TLSSocket).
    await withRelay({ tlsCert: join(dir.path, 'cert.pem'), tlsKey: join(dir.path, 'key.pem'), upgradeTimeoutSeconds: 0.3 }, async ({ relay }) => {
      assert.match(relay.address, /^sealpost\+wss:\/\//);
      const untrusted = await RelayConnection.connect(relay.address, { timeoutMs: 3_000 }).then(() => null, (e: unknown) => e as Error);
      assert.ok(untrusted, 'an unknown CA is refused');
      const conn = await RelayConnection.connect(relay.address, { ca: TEST_CERT });
      await new Promise((r) => setTimeout(r, 600));
      const { keys, cap } = await makeMailbox(conn, relay.address);
      await sendEnvelope(conn, cap, envelope());
      assert.ok(await fetchNext(conn, keys));
      await conn.close();
    });
  } finally {
    dir.rm();
  }
});

test.run();
