// Fuzzing the relay over raw WebSockets (spec/protocol.md §2, §3, §5, §7): thousands of random,
// mutated and replayed frames from concurrent connections against a live relay on 127.0.0.1.
// Every answer must be a decodable relay frame (a legitimate response, or ERR with a code from
// the closed set, the one the spec prescribes where the fuzzer can tell) or a close with a
// documented close code; afterwards the relay is still up and serves a well-behaved client.
//
// Reproduce a run with FUZZ_SEED=<seed printed below> node .build/test/relay/fuzz.test.js.
// FUZZ_FRAMES and FUZZ_SECONDS change the budget (defaults 5000 frames, 15 s).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  accessVerifierOf, createMessage, ed25519KeyPair, ed25519Sign, ed25519Verify, equalBytes, fromBase64url, openDelivery,
  deliveryKey as deriveDeliveryKey, readAuthMessage, readIdOf, relayFingerprintOf, relayHelloMessage, rotateMessage, solvePow,
  toHex, verifyPow, x25519PublicKey, type Ed25519PublicKey, type X25519PublicKey,
} from '../../src/crypto/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { ack, authenticate, newMailboxKeys, sendEnvelope, subscribe, openDelivered, type MailboxKeys } from '../../src/client/mailbox.js';
import { encodeFrame, type CreateFrame, type RotateFrame } from '../../src/wire/index.js';
import {
  BUCKETS, CLIENT_TYPES, classifyClientFrame, clientTypeName, corrOf, CORR_EXTREMES, DOCUMENTED_CLOSE_CODES, ERR, ERR_NAME, FATAL_CLOSE,
  fuzzSeed, HEADER, mutate, MUTATIONS, parseRelayFrame, Prng, rawFrame, RawClient, RawTcpWebSocket, setCorr, UNKNOWN_CLIENT_CODES, RELAY_RANGE_CODES, wsFrame,
  type ErrName, type RelayFrameView, type RelayTypeName,
} from '../_support/frames-fuzz.js';
import { collectMessages, envelope, errorOf, startTestRelay, waitFor, withRelay, withTimeout, type TestRelay } from './_helpers.js';

const SEED = fuzzSeed();
console.log(`fuzz seed: ${SEED} (reproduce with FUZZ_SEED=${SEED})`);
const FRAME_BUDGET = Number(process.env['FUZZ_FRAMES'] ?? 5000);
const SECONDS = Number(process.env['FUZZ_SECONDS'] ?? 15);
const WORKERS = 4;
const POW_DIFFICULTY = 4;

const hex = (b: Uint8Array): string => toHex(b);
const bodyNoSig = (frame: Uint8Array): Uint8Array => frame.subarray(HEADER, frame.length - 64);

// ---- deterministic edge cases -------------------------------------------------------------

async function openReady(port: number, nonce = new Prng(SEED ^ 0x5a5a).bytes(32)): Promise<RawClient> {
  const c = await RawClient.open(port);
  await c.hello(nonce);
  return c;
}

/** Sends `bytes` and returns the answer frame (parsed) or the close. */
async function answer(c: RawClient, bytes: Uint8Array): Promise<RelayFrameView | { close: number }> {
  c.send(bytes);
  const r = await c.next(3_000);
  if (!r) throw new Error('no answer within 3 s');
  if (r.kind === 'close') return { close: r.code };
  assert.not.ok(r.text, 'the relay never sends text');
  return parseRelayFrame(r.bytes);
}

async function expectFatal(c: RawClient, bytes: Uint8Array, err: ErrName, what: string): Promise<void> {
  const a = await answer(c, bytes);
  assert.ok(!('close' in a), `${what}: ERR before the close`);
  const f = a as RelayFrameView;
  assert.is(f.type, 'ERR', what);
  assert.is(ERR_NAME.get(f.code!), err, what);
  const r = await c.next(3_000);
  assert.ok(r && r.kind === 'close', `${what}: closed after ERR`);
  assert.is((r as { code: number }).code, FATAL_CLOSE[err], `${what}: close code`);
}

async function expectClose(c: RawClient, bytes: Uint8Array | string, code: number, what: string): Promise<void> {
  if (typeof bytes === 'string') c.sendText(bytes);
  else c.send(bytes);
  const r = await c.next(3_000);
  assert.ok(r, `${what}: an answer`);
  assert.is(r!.kind, 'close', `${what}: a close, no frame`);
  assert.is((r as { code: number }).code, code, what);
}

test('framing and handshake edge cases close or answer as spec §3, §5.1, §7 say', () => withRelay({ powDifficulty: POW_DIFFICULTY, maxFrameBytes: 2048 }, async ({ relay }) => {
  const port = relay.port;
  const opened: RawClient[] = [];
  const open = async (hello = true): Promise<RawClient> => {
    const c = hello ? await openReady(port) : await RawClient.open(port);
    opened.push(c);
    return c;
  };
  try {
    // Before HELLO: any other command is HANDSHAKE (4003); a wrong version HELLO is VERSION (4002).
    await expectFatal(await open(false), rawFrame(1, CLIENT_TYPES.PING, 7), 'HANDSHAKE', 'PING before HELLO');
    await expectFatal(await open(false), rawFrame(1, CLIENT_TYPES.SUB, 7, new Uint8Array(32)), 'HANDSHAKE', 'SUB before HELLO');
    const hello2 = rawFrame(2, CLIENT_TYPES.HELLO, 7, new Uint8Array([1, 1, ...new Uint8Array(32)]));
    await expectFatal(await open(false), hello2, 'VERSION', 'HELLO with frame version 2');
    await expectFatal(await open(false), rawFrame(1, CLIENT_TYPES.HELLO, 7, new Uint8Array([2, 3, ...new Uint8Array(32)])), 'VERSION', 'HELLO 2..3');
    await expectFatal(await open(false), rawFrame(1, CLIENT_TYPES.HELLO, 7, new Uint8Array(33)), 'MALFORMED', 'HELLO one byte short');
    // After HELLO.
    await expectFatal(await open(), rawFrame(1, CLIENT_TYPES.HELLO, 9, new Uint8Array([1, 1, ...new Uint8Array(32)])), 'HANDSHAKE', 'second HELLO');
    await expectFatal(await open(), rawFrame(3, CLIENT_TYPES.PING, 9), 'VERSION', 'PING with version 3');
    await expectFatal(await open(), rawFrame(0, CLIENT_TYPES.PING, 9), 'VERSION', 'PING with version 0');
    await expectFatal(await open(), rawFrame(1, 0x82, 9), 'MALFORMED', 'OK sent by a client');
    await expectFatal(await open(), rawFrame(1, 0x85, 9, new Uint8Array(40 + 300)), 'MALFORMED', 'MSG sent by a client');
    await expectFatal(await open(), rawFrame(1, CLIENT_TYPES.PING, 9, new Uint8Array(1)), 'MALFORMED', 'PING with a body');
    await expectFatal(await open(), rawFrame(1, CLIENT_TYPES.AUTH, 9, new Uint8Array(95)), 'MALFORMED', 'AUTH one byte short');
    await expectFatal(await open(), rawFrame(1, CLIENT_TYPES.FETCH, 9, new Uint8Array(33)), 'MALFORMED', 'FETCH one byte long');
    await expectFatal(await open(), rawFrame(1, CLIENT_TYPES.SEND, 9, new Uint8Array(63)), 'MALFORMED', 'SEND without room for its fields');
    await expectFatal(await open(), new Uint8Array([1, CLIENT_TYPES.PING, 0, 0, 0]), 'MALFORMED', 'five bytes');
    await expectFatal(await open(), new Uint8Array(0), 'MALFORMED', 'empty message');
    // CREATE whose tokenLength promises more (or fewer) bytes than follow.
    const create = new Uint8Array(199);
    create[133] = 0; create[134] = 5;
    await expectFatal(await open(), rawFrame(1, CLIENT_TYPES.CREATE, 9, create), 'MALFORMED', 'CREATE tokenLength past the end');
    // Text (1003), too big (1009); a frame of exactly maxFrameBytes is read (SIZE: not a bucket).
    await expectClose(await open(), 'hello', 1003, 'text message');
    await expectClose(await open(false), 'hello', 1003, 'text message before HELLO');
    const exact = rawFrame(1, CLIENT_TYPES.SEND, 11, new Uint8Array(2048 - HEADER));
    const c = await open();
    const a = await answer(c, exact);
    assert.ok(!('close' in a) && a.type === 'ERR' && a.code === ERR.SIZE && a.corr === 11, 'a frame of exactly maxFrameBytes is read');
    await expectClose(c, rawFrame(1, CLIENT_TYPES.SEND, 12, new Uint8Array(2049 - HEADER)), 1009, 'one byte over maxFrameBytes');
    // Unknown client-range types: ERR UNKNOWN_COMMAND, whatever the body, and the connection stays open.
    const u = await open();
    for (const code of UNKNOWN_CLIENT_CODES) {
      const f = await answer(u, rawFrame(1, code, code, new Uint8Array(code % 7)));
      assert.ok(!('close' in f) && f.type === 'ERR' && f.code === ERR.UNKNOWN_COMMAND && f.corr === code, `type 0x${code.toString(16)}`);
    }
    const pong = await answer(u, rawFrame(1, CLIENT_TYPES.PING, 99));
    assert.ok(!('close' in pong) && pong.type === 'PONG' && pong.corr === 99, 'still open after unknown commands');
    // Every relay-range type from a client is MALFORMED.
    for (const code of RELAY_RANGE_CODES.filter((_, i) => i % 9 === 0)) {
      await expectFatal(await open(), rawFrame(1, code, 5), 'MALFORMED', `relay type 0x${code.toString(16)} from a client`);
    }
  } finally {
    await Promise.all(opened.map((c) => c.close()));
  }
}));

test('corr values at the extremes come back unchanged, on answers and on errors', () => withRelay({}, async ({ relay }) => {
  const c = await openReady(relay.port);
  try {
    for (const corr of CORR_EXTREMES) {
      const pong = await answer(c, rawFrame(1, CLIENT_TYPES.PING, corr));
      assert.ok(!('close' in pong) && pong.type === 'PONG', 'PONG');
      assert.is((pong as RelayFrameView).corr, corr, `PONG corr ${corr}`);
      const err = await answer(c, rawFrame(1, CLIENT_TYPES.FETCH, corr, new Uint8Array(32)));
      assert.ok(!('close' in err) && err.type === 'ERR' && err.code === ERR.AUTH, 'FETCH without AUTH');
      assert.is((err as RelayFrameView).corr, corr, `ERR corr ${corr}`);
    }
    // A fatal error carries the corr of the frame that caused it.
    c.send(rawFrame(1, CLIENT_TYPES.ACK, 0xffffffff, new Uint8Array(3)));
    const r = await c.next();
    assert.ok(r && r.kind === 'frame');
    const f = parseRelayFrame((r as { bytes: Uint8Array }).bytes);
    assert.is(f.type, 'ERR');
    assert.is(f.corr, 0xffffffff);
  } finally {
    await c.close();
  }
}));

test('replayed and wrong signatures: AUTH, CREATE and ROTATE from another connection answer ERR AUTH', () => withRelay({}, async ({ relay }) => {
  const a = await openReady(relay.port, new Prng(SEED + 1).bytes(32));
  const b = await openReady(relay.port, new Prng(SEED + 2).bytes(32));
  const sameNonce = await openReady(relay.port, a.clientNonce); // even the same clientNonce: the serverNonce differs
  try {
    const keys = newMailboxKeys();
    // CREATE signed for connection a, replayed on b first: AUTH, and nothing is created.
    const create: CreateFrame = {
      type: 'CREATE', corr: 5, readKey: keys.readKey, sendId: keys.sendId, deliveryKey: keys.deliveryKey, accessVerifier: keys.accessVerifier,
      flags: 0, ttlSeconds: 0, token: new Uint8Array(0), signature: new Uint8Array(64),
    };
    const createBytes = encodeFrame(create);
    createBytes.set(ed25519Sign(keys.readSeed, createMessage(a.serverNonce, a.clientNonce, bodyNoSig(createBytes))), createBytes.length - 64);
    for (const other of [b, sameNonce]) {
      const r = await answer(other, createBytes);
      assert.ok(!('close' in r) && r.type === 'ERR' && r.code === ERR.AUTH, 'CREATE replayed on another connection');
    }
    assert.is(relay.stats().mailboxes, 0);
    const created = await answer(a, createBytes);
    assert.ok(!('close' in created) && created.type === 'CREATED', 'CREATE on its own connection');

    // AUTH signed for a: OK on a, AUTH on b and on the connection with a's clientNonce.
    const authFor = (c: RawClient, seed = keys.readSeed): Uint8Array =>
      rawFrame(1, CLIENT_TYPES.AUTH, 6, new Uint8Array([...keys.readId, ...ed25519Sign(seed, readAuthMessage(c.serverNonce, c.clientNonce, keys.readId))]));
    const replayed = authFor(a);
    for (const other of [b, sameNonce]) {
      const r = await answer(other, replayed);
      assert.ok(!('close' in r) && r.type === 'ERR' && r.code === ERR.AUTH, 'AUTH replayed on another connection');
      const fetch = await answer(other, rawFrame(1, CLIENT_TYPES.FETCH, 7, keys.readId));
      assert.ok(!('close' in fetch) && fetch.type === 'ERR' && fetch.code === ERR.AUTH, 'still unauthenticated');
    }
    // Wrong signatures: a flipped bit, another key, all zeros, a signature over another readId.
    const flipped = authFor(b);
    flipped[HEADER + 32 + 10]! ^= 0x04;
    const wrong = [flipped, authFor(b, ed25519KeyPair().seed), rawFrame(1, CLIENT_TYPES.AUTH, 6, new Uint8Array([...keys.readId, ...new Uint8Array(64)]))];
    for (const w of wrong) {
      const r = await answer(b, w);
      assert.ok(!('close' in r) && r.type === 'ERR' && r.code === ERR.AUTH, 'a wrong AUTH signature');
    }
    const good = await answer(b, authFor(b));
    assert.ok(!('close' in good) && good.type === 'OK', 'a right signature on b');

    // ROTATE signed for b, replayed on a (authenticated there too): AUTH, and the mailbox keeps its readId.
    const next = newMailboxKeys();
    const rotate: RotateFrame = {
      type: 'ROTATE', corr: 8, readId: keys.readId, newReadKey: next.readKey, newDeliveryKey: next.deliveryKey,
      newAccessVerifier: next.accessVerifier, signature: new Uint8Array(64),
    };
    const rotateBytes = encodeFrame(rotate);
    rotateBytes.set(ed25519Sign(next.readSeed, rotateMessage(b.serverNonce, b.clientNonce, bodyNoSig(rotateBytes))), rotateBytes.length - 64);
    const r1 = await answer(a, rotateBytes);
    assert.ok(!('close' in r1) && r1.type === 'ERR' && r1.code === ERR.AUTH, 'ROTATE replayed on another connection');
    const r2 = await answer(a, rawFrame(1, CLIENT_TYPES.FETCH, 9, keys.readId));
    assert.ok(!('close' in r2) && r2.type === 'EMPTY', 'the old readId still works after a refused ROTATE');
  } finally {
    await Promise.all([a.close(), b.close(), sameNonce.close()]);
  }
}));

test('ACK with a msgId of 2^53 or more is MALFORMED and closes with 4001 (spec §3: msgId is at most 2^53-1)', () => withRelay({}, async ({ relay }) => {
  const conn = await RelayConnection.connect(relay.address);
  try {
    const keys = newMailboxKeys();
    const { createMailbox } = await import('../../src/client/mailbox.js');
    await createMailbox(conn, keys);
    // msgId is `msgId[8]` but at most 2^53-1 in version 1 (spec §3), so a larger one is MALFORMED.
    const raw = new Uint8Array([1, CLIENT_TYPES.ACK, 0, 0, 0, 42, ...keys.readId, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const got = await new Promise<string>((resolve) => {
      conn.onClose((code) => resolve(`close ${code}`));
      (conn as unknown as { ws: import('../../src/client/transport.js').Socket }).ws.onMessage((d) => {
        const f = parseRelayFrame(new Uint8Array(d));
        if (f.corr === 42) resolve(f.type === 'ERR' ? `ERR ${ERR_NAME.get(f.code!)}` : f.type);
      });
      conn.sendRaw(raw);
    });
    assert.is(got, 'ERR MALFORMED', 'ACK msgId 2^64-1');
    await withTimeout(conn.closed, 2_000, 'the close that follows MALFORMED');
    assert.is(conn.closeCode, 4001);
  } finally {
    await conn.close();
  }
}));

test('pipelined: a burst of mixed commands gets exactly one answer per corr, each of the right kind', () => withRelay({}, async ({ relay }) => {
  const rng = new Prng(SEED ^ 0x77);
  const c = await openReady(relay.port, rng.bytes(32));
  try {
    const keys = newMailboxKeys();
    const create: CreateFrame = {
      type: 'CREATE', corr: 1, readKey: keys.readKey, sendId: keys.sendId, deliveryKey: keys.deliveryKey, accessVerifier: keys.accessVerifier,
      flags: 0, ttlSeconds: 0, token: new Uint8Array(0), signature: new Uint8Array(64),
    };
    const createBytes = encodeFrame(create);
    createBytes.set(ed25519Sign(keys.readSeed, createMessage(c.serverNonce, c.clientNonce, bodyNoSig(createBytes))), createBytes.length - 64);
    const created = await answer(c, createBytes);
    assert.ok(!('close' in created) && created.type === 'CREATED');
    const want = new Map<number, string[]>();
    const N = 600;
    for (let i = 0; i < N; i++) {
      const corr = 1000 + i;
      const k = rng.int(8);
      let bytes: Uint8Array;
      if (k === 0) { bytes = rawFrame(1, CLIENT_TYPES.SEND, corr, new Uint8Array([...keys.sendId, ...keys.accessKey!, ...rng.bytes(rng.pick([256, 1024]))])); want.set(corr, ['OK']); }
      else if (k === 1) { bytes = rawFrame(1, CLIENT_TYPES.SEND, corr, new Uint8Array([...keys.sendId, ...keys.accessKey!, ...rng.bytes(300)])); want.set(corr, ['ERR:SIZE']); }
      else if (k === 2) { bytes = rawFrame(1, CLIENT_TYPES.FETCH, corr, keys.readId); want.set(corr, ['MSG', 'EMPTY']); }
      else if (k === 3) { bytes = rawFrame(1, CLIENT_TYPES.PING, corr); want.set(corr, ['PONG']); }
      else if (k === 4) { bytes = rawFrame(1, CLIENT_TYPES.AUTH, corr, rng.bytes(96)); want.set(corr, ['ERR:AUTH']); }
      else if (k === 5) { bytes = rawFrame(1, rng.pick(UNKNOWN_CLIENT_CODES), corr, rng.bytes(rng.int(50))); want.set(corr, ['ERR:UNKNOWN_COMMAND']); }
      else if (k === 6) { bytes = rawFrame(1, CLIENT_TYPES.ACK, corr, new Uint8Array([...keys.readId, 0, 0, 0, 0, 0, 0, 0, rng.int(5)])); want.set(corr, ['OK', 'ERR:NO_MSG']); }
      else { bytes = rawFrame(1, CLIENT_TYPES.SEND, corr, new Uint8Array([...rng.bytes(32), ...rng.bytes(32), ...rng.bytes(256)])); want.set(corr, ['ERR:AUTH']); }
      c.send(bytes);
    }
    const seen = new Map<number, string>();
    while (seen.size < N) {
      const r = await c.next(5_000);
      assert.ok(r && r.kind === 'frame', `answer ${seen.size + 1} of ${N}: ${r ? `close ${(r as { code: number }).code}` : 'timeout'}`);
      const f = parseRelayFrame((r as { bytes: Uint8Array }).bytes);
      const kind = f.type === 'ERR' ? `ERR:${ERR_NAME.get(f.code!)}` : f.type;
      assert.not.ok(seen.has(f.corr), `a second answer for corr ${f.corr}`);
      assert.ok(want.get(f.corr)?.includes(kind), `corr ${f.corr}: ${kind}, expected ${want.get(f.corr)?.join('|')}`);
      seen.set(f.corr, kind);
    }
    assert.is(await c.next(300), null, 'nothing more');
    const sends = [...want.values()].filter((w) => w.length === 1 && w[0] === 'OK').length;
    assert.ok(relay.stats().envelopes <= sends && relay.stats().envelopes >= sends - 5, 'the accepted sends are stored (less those acked)');
  } finally {
    await c.close();
  }
}));

test('below the frame: malformed WebSocket framing is closed (RFC 6455 codes) and the relay carries on', () => withRelay({}, async ({ relay }) => {
  const rng = new Prng(SEED ^ 0x3c3c);
  const helloPayload = rawFrame(1, CLIENT_TYPES.HELLO, 1, new Uint8Array([1, 1, ...rng.bytes(32)]));
  const ping = (corr: number): Uint8Array => rawFrame(1, CLIENT_TYPES.PING, corr);
  // name -> bytes after HELLO, and what may come back: relay frames ('frame'), a close code, or silence
  // (a frame that declares more bytes than were sent is still being received).
  type Case = { name: string; bytes: Uint8Array; ok: Array<'frame' | 'silence' | number> };
  const PROTOCOL_ERROR = 1002; // RFC 6455 §7.4.1; not among spec §7's close codes (a documentation gap)
  const cases = (): Case[] => [
    { name: 'fragmented binary message (valid)', bytes: new Uint8Array([...wsFrame({ fin: false, opcode: 2, payload: ping(7).subarray(0, 3) }), ...wsFrame({ opcode: 0, payload: ping(7).subarray(3) })]), ok: ['frame'] },
    { name: 'ping with payload (valid)', bytes: wsFrame({ opcode: 9, payload: rng.bytes(rng.int(126)) }), ok: ['silence', 'frame'] },
    { name: 'unmasked client frame', bytes: wsFrame({ opcode: 2, payload: ping(8), mask: false }), ok: [PROTOCOL_ERROR] },
    { name: 'RSV bits set', bytes: wsFrame({ opcode: 2, payload: ping(9), rsv: rng.range(1, 7) }), ok: [PROTOCOL_ERROR] },
    { name: 'reserved opcode', bytes: wsFrame({ opcode: rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), payload: ping(10) }), ok: [PROTOCOL_ERROR] },
    { name: 'continuation without a start', bytes: wsFrame({ opcode: 0, payload: ping(11) }), ok: [PROTOCOL_ERROR] },
    { name: 'new message inside a fragmented one', bytes: new Uint8Array([...wsFrame({ fin: false, opcode: 2, payload: ping(12).subarray(0, 2) }), ...wsFrame({ opcode: 2, payload: ping(12) })]), ok: [PROTOCOL_ERROR] },
    { name: 'control frame over 125 bytes', bytes: wsFrame({ opcode: 9, payload: rng.bytes(126) }), ok: [PROTOCOL_ERROR] },
    { name: 'fragmented control frame', bytes: wsFrame({ fin: false, opcode: 9, payload: rng.bytes(4) }), ok: [PROTOCOL_ERROR] },
    { name: 'close with an invalid code', bytes: wsFrame({ opcode: 8, payload: new Uint8Array([rng.pick([0, 3, 0x03, 0x13]), rng.pick([0xe7, 0xed, 0xee, 0x88])]) }), ok: [PROTOCOL_ERROR] },
    { name: 'close with a one-byte body', bytes: wsFrame({ opcode: 8, payload: new Uint8Array([3]) }), ok: [PROTOCOL_ERROR] },
    { name: 'close 1000 (valid)', bytes: wsFrame({ opcode: 8, payload: new Uint8Array([3, 0xe8]) }), ok: [1000] },
    { name: 'declared length over maxPayload', bytes: wsFrame({ opcode: 2, payload: rng.bytes(10), declaredLength: relay.config.maxFrameBytes + rng.range(1, 1_000_000) }), ok: [1009] },
    { name: '64-bit length beyond 2^53', bytes: new Uint8Array([0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]), ok: [1009] },
    { name: 'non-minimal length encoding', bytes: wsFrame({ opcode: 2, payload: ping(13), lengthForm: rng.pick([16, 64] as const) }), ok: ['frame', PROTOCOL_ERROR] },
    { name: 'text with invalid UTF-8', bytes: wsFrame({ opcode: 1, payload: new Uint8Array([0xff, 0xfe, 0xc0, 0x80]) }), ok: [1003, 1007] },
    { name: 'length declared longer than sent', bytes: wsFrame({ opcode: 2, payload: ping(14), declaredLength: 200 }), ok: ['silence'] },
    { name: 'random bytes', bytes: rng.bytes(rng.range(1, 64)), ok: ['frame', 'silence', PROTOCOL_ERROR, 1003, 1007, 1009, 4001, 4002, 4003, 1000] },
  ];
  const failures: string[] = [];
  const outcomes = new Map<string, number>();
  const all: Case[] = [];
  for (let round = 0; round < 12; round++) all.push(...cases());
  const queue = [...all];
  await Promise.all(Array.from({ length: 6 }, async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const s = await RawTcpWebSocket.open(relay.port);
      try {
        s.write(wsFrame({ opcode: 2, payload: helloPayload }));
        const hello = await s.settle(2_000, (f) => f.length > 0);
        if (hello.length === 0 || hello[0]!.opcode !== 2 || parseRelayFrame(hello[0]!.payload).type !== 'SERVER_HELLO') { failures.push(`${c.name}: no SERVER_HELLO`); continue; }
        const before = hello.length;
        s.write(c.bytes);
        const frames = (await s.settle(150, (f) => f.length > before && !c.ok.includes('silence'))).slice(before);
        const close = frames.find((f) => f.opcode === 8);
        let outcome: 'frame' | 'silence' | number;
        if (close) outcome = close.payload.length >= 2 ? (close.payload[0]! << 8) | close.payload[1]! : 1005;
        else if (frames.some((f) => f.opcode === 2)) outcome = 'frame';
        else outcome = s.ended ? 1006 : 'silence';
        for (const f of frames.filter((x) => x.opcode === 2)) {
          try { parseRelayFrame(f.payload); } catch (e) { failures.push(`${c.name}: undecodable relay frame ${(e as Error).message}`); }
        }
        if (frames.some((f) => f.opcode === 1)) failures.push(`${c.name}: the relay sent text`);
        outcomes.set(`${c.name} -> ${outcome}`, (outcomes.get(`${c.name} -> ${outcome}`) ?? 0) + 1);
        if (!c.ok.includes(outcome)) failures.push(`${c.name}: ${outcome}, expected ${c.ok.join(' | ')}`);
      } finally {
        s.destroy();
      }
    }
  }));
  console.log(`websocket fuzz: ${all.length} connections; ${[...outcomes].map(([k, v]) => `${k} ×${v}`).join('; ')}`);
  assert.equal(failures, [], `seed ${SEED}`);
  // The relay is up and serves a client; every raw connection was released.
  await waitFor(() => relay.stats().connections === 0, 5_000, 'raw connections released');
  const conn = await RelayConnection.connect(relay.address);
  try {
    assert.is((await conn.request({ type: 'PING' })).type, 'PONG');
  } finally {
    await conn.close();
  }
}));

// ---- the fuzzer ---------------------------------------------------------------------------

interface Accept {
  types: RelayTypeName[];
  errs: ErrName[];
  fatal: ErrName[];
  close: number | null;
  /** A spec deviation tolerated here because a dedicated test above asserts it strictly. */
  deviation?: string;
  after?: (f: RelayFrameView) => void;
}

const accept = (o: Partial<Accept>): Accept => ({ types: [], errs: [], fatal: [], close: null, ...o });

interface Shared {
  relay: TestRelay;
  fingerprint: Uint8Array;
  maxFrameBytes: number;
  deadline: number;
  sent: number;
  liveReadIds: Set<string>;
  liveSendIds: Set<string>;
  /** Signed frames (AUTH, CREATE, ROTATE) from every connection, for replay on others. */
  replay: Uint8Array[];
  outcomes: Map<string, number>;
  deviations: Map<string, number>;
  failures: string[];
  pushes: number;
}

/** A mailbox a worker owns (across its connections). */
interface Owned { keys: MailboxKeys; isPublic: boolean }

class Worker {
  client: RawClient | null = null;
  phase: 'AWAIT_HELLO' | 'READY' = 'AWAIT_HELLO';
  /** readId hex -> owned mailbox, for mailboxes authenticated on the current connection. */
  authed = new Map<string, Owned>();
  owned: Owned[] = [];
  powUsed = new Set<string>();
  lastMsgIds: number[] = [];
  corr: number;
  connections = 0;
  log: string[] = [];

  constructor(readonly id: number, readonly rng: Prng, readonly s: Shared) {
    this.corr = rng.range(1, 1_000_000);
  }

  fail(what: string): void {
    const recent = this.log.slice(-6).join('\n      ');
    this.s.failures.push(`[seed ${SEED} worker ${this.id} conn ${this.connections}] ${what}\n    recent:\n      ${recent}`);
  }

  count(outcome: string): void {
    this.s.outcomes.set(outcome, (this.s.outcomes.get(outcome) ?? 0) + 1);
  }

  /** Public-key commands (CREATE, AUTH, ROTATE) sent on the current connection. */
  keyOps = 0;

  async connect(): Promise<void> {
    this.connections++;
    this.keyOps = 0;
    this.authed.clear();
    this.powUsed.clear();
    this.phase = 'AWAIT_HELLO';
    const c = await RawClient.open(this.s.relay.relay.port);
    if (!c.isOpen) {
      const info = await c.closed;
      this.fail(`connection refused with ${info.code}`);
      return;
    }
    this.client = c;
    if (this.rng.chance(0.85)) {
      await c.hello(this.rng.bytes(32), this.nextCorr());
      this.phase = 'READY';
    }
  }

  nextCorr(): number {
    this.corr = this.corr >= 0xffffffff ? 1 : this.corr + 1;
    return this.corr;
  }

  // ---- frame templates ----

  private ownAuthed(): Owned | undefined {
    const list = [...this.authed.values()];
    return list.length > 0 ? this.rng.pick(list) : undefined;
  }
  private anyOwned(): Owned | undefined {
    return this.owned.length > 0 ? this.rng.pick(this.owned) : undefined;
  }

  private createFrame(keys: MailboxKeys, isPublic: boolean, tweak: 'none' | 'flags' | 'verifier' | 'token' | 'dk' | 'ttl'): Uint8Array {
    const c = this.client!;
    const f: CreateFrame = {
      type: 'CREATE', corr: this.nextCorr(), readKey: keys.readKey, sendId: keys.sendId, deliveryKey: keys.deliveryKey,
      accessVerifier: keys.accessVerifier, flags: isPublic ? 1 : 0, ttlSeconds: this.rng.pick([0, 1, 60, 3600, 0xffffffff]),
      token: new Uint8Array(0), signature: new Uint8Array(64),
    };
    if (tweak === 'flags') f.flags = this.rng.pick([2, 3, 0x80, 0xff]);
    if (tweak === 'verifier') f.accessVerifier = isPublic ? this.rng.bytes(32) : new Uint8Array(32);
    if (tweak === 'token') f.token = this.rng.bytes(this.rng.range(1, 40));
    if (tweak === 'dk') {
      const bad = new Uint8Array(32);
      const kind = this.rng.int(3);
      if (kind === 1) bad[0] = 1;
      if (kind === 2) { bad.fill(0xff); bad[31] = 0xff; }
      f.deliveryKey = bad;
    }
    const bytes = encodeFrame(f);
    bytes.set(ed25519Sign(keys.readSeed, createMessage(c.serverNonce, c.clientNonce, bodyNoSig(bytes))), bytes.length - 64);
    return bytes;
  }

  private authFrame(o: Owned, goodSig: boolean): Uint8Array {
    const c = this.client!;
    const sig = goodSig ? ed25519Sign(o.keys.readSeed, readAuthMessage(c.serverNonce, c.clientNonce, o.keys.readId)) : this.rng.bytes(64);
    return rawFrame(1, CLIENT_TYPES.AUTH, this.nextCorr(), new Uint8Array([...o.keys.readId, ...sig]));
  }

  private readFrame(type: number, readId: Uint8Array): Uint8Array {
    return rawFrame(1, type, this.nextCorr(), readId);
  }

  private ackFrame(readId: Uint8Array): Uint8Array {
    const msgId = new Uint8Array(8);
    const pick = this.rng.int(4);
    if (pick === 0 && this.lastMsgIds.length > 0) new DataView(msgId.buffer).setUint32(4, this.rng.pick(this.lastMsgIds));
    else if (pick === 1) new DataView(msgId.buffer).setUint32(4, this.rng.int(64));
    else if (pick === 2) msgId.set(this.rng.bytes(8));
    else msgId.set([0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]); // 2^53-1, the largest safe integer
    return rawFrame(1, CLIENT_TYPES.ACK, this.nextCorr(), new Uint8Array([...readId, ...msgId]));
  }

  private rotateFrame(o: Owned, good: boolean): { bytes: Uint8Array; next: MailboxKeys } {
    const c = this.client!;
    const fresh = newMailboxKeys({ public: o.isPublic });
    // ROTATE keeps the sendId (and so the mailbox key); everything read-side is new.
    const next: MailboxKeys = {
      ...o.keys, readSeed: fresh.readSeed, readKey: fresh.readKey, readId: fresh.readId, deliverySecret: fresh.deliverySecret,
      deliveryKey: fresh.deliveryKey, accessKey: fresh.accessKey, accessVerifier: fresh.accessVerifier,
    };
    const f: RotateFrame = {
      type: 'ROTATE', corr: this.nextCorr(), readId: o.keys.readId, newReadKey: next.readKey, newDeliveryKey: next.deliveryKey,
      newAccessVerifier: next.accessVerifier, signature: new Uint8Array(64),
    };
    const bytes = encodeFrame(f);
    const signer = good ? next.readSeed : o.keys.readSeed; // the old key is the wrong one here
    bytes.set(ed25519Sign(signer, rotateMessage(c.serverNonce, c.clientNonce, bodyNoSig(bytes))), bytes.length - 64);
    this.pendingRotations.set(hex(next.readId), next);
    return { bytes, next };
  }

  pendingCreates = new Map<string, Owned>();
  pendingRotations = new Map<string, MailboxKeys>();

  private sendFrame(sendId: Uint8Array, proof: Uint8Array, env: Uint8Array): Uint8Array {
    return rawFrame(1, CLIENT_TYPES.SEND, this.nextCorr(), new Uint8Array([...sendId, ...proof, ...env]));
  }

  private envelopeSize(): number {
    const r = this.rng.int(100);
    return r < 70 ? 256 : r < 90 ? 1024 : r < 99 ? 4096 : 65536;
  }

  /** A well-formed (or deliberately wrong in one field) frame for the READY state. */
  template(): { bytes: Uint8Array; name: string } {
    const r = this.rng;
    const own = this.ownAuthed();
    const owned = this.anyOwned();
    const table: Array<[string, number]> = [
      ['ping', 3], ['create', this.owned.length < 6 ? 4 : 0.5], ['create-invalid', 3], ['create-dup', owned ? 1 : 0],
      ['auth-own', owned ? 5 : 0], ['auth-bad-sig', owned ? 2 : 0], ['auth-random', 2], ['replay', this.s.replay.length > 0 ? 4 : 0],
      ['fetch-own', own ? 4 : 0], ['read-random', 3], ['read-owned-unauthed', owned ? 2 : 0], ['ack-own', own ? 4 : 0],
      ['sub-own', own ? 1.5 : 0], ['unsub-own', own ? 1 : 0], ['del-own', own ? 0.4 : 0], ['rotate-own', own ? 1 : 0],
      ['rotate-bad', own ? 1 : 0], ['send-own', own || owned ? 9 : 0], ['send-wrong-key', owned ? 2 : 0], ['send-bad-size', 3],
      ['send-unknown', 2], ['hello', 1],
    ];
    const total = table.reduce((a, [, w]) => a + w, 0);
    let x = (r.u32() / 2 ** 32) * total;
    let name = 'ping';
    for (const [n, w] of table) { if (x < w) { name = n; break; } x -= w; }
    const c = this.client!;
    switch (name) {
      case 'create': {
        const isPublic = r.chance(0.3);
        const keys = newMailboxKeys({ public: isPublic });
        this.pendingCreates.set(hex(keys.readId), { keys, isPublic });
        return { bytes: this.createFrame(keys, isPublic, r.chance(0.2) ? 'ttl' : 'none'), name };
      }
      case 'create-invalid': {
        const isPublic = r.chance(0.5);
        const keys = newMailboxKeys({ public: isPublic });
        this.pendingCreates.set(hex(keys.readId), { keys, isPublic });
        return { bytes: this.createFrame(keys, isPublic, r.pick(['flags', 'verifier', 'token', 'dk'] as const)), name };
      }
      case 'create-dup': {
        const o = owned!;
        // Same readKey, or same sendId with a fresh read key, or both.
        const k = r.int(3);
        const fresh = newMailboxKeys({ public: o.isPublic });
        const keys = k === 0 ? o.keys : k === 1 ? { ...fresh, sendId: o.keys.sendId, mailboxKey: o.keys.mailboxKey } : { ...o.keys, sendId: fresh.sendId };
        return { bytes: this.createFrame(keys as MailboxKeys, o.isPublic, 'none'), name };
      }
      case 'auth-own': return { bytes: this.authFrame(owned!, true), name };
      case 'auth-bad-sig': return { bytes: this.authFrame(owned!, false), name };
      case 'auth-random': return { bytes: rawFrame(1, CLIENT_TYPES.AUTH, this.nextCorr(), r.bytes(96)), name };
      case 'replay': return { bytes: setCorr(r.pick(this.s.replay).slice(), this.nextCorr()), name };
      case 'fetch-own': return { bytes: this.readFrame(CLIENT_TYPES.FETCH, own!.keys.readId), name };
      case 'read-random': return { bytes: this.readFrame(r.pick([CLIENT_TYPES.SUB, CLIENT_TYPES.FETCH, CLIENT_TYPES.UNSUB, CLIENT_TYPES.DEL]), r.bytes(32)), name };
      case 'read-owned-unauthed': {
        const notAuthed = this.owned.filter((o) => !this.authed.has(hex(o.keys.readId)));
        const o = notAuthed.length > 0 ? r.pick(notAuthed) : owned!;
        return { bytes: r.chance(0.2) ? this.ackFrame(o.keys.readId) : this.readFrame(r.pick([CLIENT_TYPES.SUB, CLIENT_TYPES.FETCH, CLIENT_TYPES.UNSUB, CLIENT_TYPES.DEL]), o.keys.readId), name };
      }
      case 'ack-own': return { bytes: this.ackFrame(own!.keys.readId), name };
      case 'sub-own': return { bytes: this.readFrame(CLIENT_TYPES.SUB, own!.keys.readId), name };
      case 'unsub-own': return { bytes: this.readFrame(CLIENT_TYPES.UNSUB, own!.keys.readId), name };
      case 'del-own': return { bytes: this.readFrame(CLIENT_TYPES.DEL, own!.keys.readId), name };
      case 'rotate-own': return { bytes: this.rotateFrame(own!, true).bytes, name };
      case 'rotate-bad': return { bytes: this.rotateFrame(own!, false).bytes, name };
      case 'send-own': {
        const o = own ?? owned!;
        const env = r.bytes(this.envelopeSize());
        const proof = o.keys.accessKey ?? solvePow(c.serverNonce, o.keys.sendId, env, c.powDifficulty, r.bytes(32));
        return { bytes: this.sendFrame(o.keys.sendId, proof, env), name };
      }
      case 'send-wrong-key': {
        const o = owned!;
        const env = r.bytes(256);
        // A random key, the verifier instead of the key, or a proof-of-work made for another envelope.
        const proof = o.isPublic ? solvePow(c.serverNonce, o.keys.sendId, r.bytes(256), c.powDifficulty, r.bytes(32)) : r.chance(0.5) ? r.bytes(32) : o.keys.accessVerifier;
        return { bytes: this.sendFrame(o.keys.sendId, proof, env), name };
      }
      case 'send-bad-size': {
        const o = own ?? owned;
        const size = r.pick([0, 1, 44, 255, 257, 300, 512, 1023, 1025, 4095, 4097, 16383, 16385, 65535, r.int(5000)]);
        const sendId = o ? o.keys.sendId : r.bytes(32);
        return { bytes: this.sendFrame(sendId, o?.keys.accessKey ?? r.bytes(32), r.bytes(size)), name };
      }
      case 'send-unknown': return { bytes: this.sendFrame(r.bytes(32), r.bytes(32), r.bytes(r.pick([256, 1024]))), name };
      case 'hello': return { bytes: rawFrame(1, CLIENT_TYPES.HELLO, this.nextCorr(), new Uint8Array([1, 1, ...r.bytes(32)])), name };
      default: return { bytes: rawFrame(1, CLIENT_TYPES.PING, this.nextCorr()), name: 'ping' };
    }
  }

  /** The next frame to send, with its name, for the current phase. */
  nextFrame(): { bytes: Uint8Array; text: boolean; name: string } {
    const r = this.rng;
    if (r.chance(0.008)) return { bytes: new Uint8Array(0), text: true, name: 'text' };
    if (r.chance(0.008)) {
      const big = r.bytes(this.s.maxFrameBytes + r.range(1, 3000));
      big[0] = 1; big[1] = CLIENT_TYPES.SEND;
      return { bytes: big, text: false, name: 'oversize' };
    }
    if (this.phase === 'AWAIT_HELLO') {
      const k = r.int(10);
      if (k < 5) {
        const body = new Uint8Array([r.pick([0, 1, 1, 1, 2]), r.pick([0, 1, 1, 2, 255]), ...r.bytes(32)]);
        const m = r.pick(['none', 'none', 'bitflip', 'truncate', 'extend', 'version', 'corr-extreme'] as const);
        return { bytes: mutate(r, rawFrame(1, CLIENT_TYPES.HELLO, this.nextCorr(), body), m), text: false, name: `pre-hello:HELLO/${m}` };
      }
      const m = r.pick(MUTATIONS);
      const cmd = r.pick([CLIENT_TYPES.PING, CLIENT_TYPES.SUB, CLIENT_TYPES.AUTH, CLIENT_TYPES.SEND, CLIENT_TYPES.CREATE, 0x3f, 0x83]);
      const len = cmd === CLIENT_TYPES.PING || cmd === 0x83 ? (cmd === 0x83 ? 2 : 0) : cmd === CLIENT_TYPES.SEND ? 64 + 256 : cmd === CLIENT_TYPES.AUTH ? 96 : cmd === CLIENT_TYPES.CREATE ? 199 : 32;
      return { bytes: mutate(r, rawFrame(1, cmd, this.nextCorr(), r.bytes(len)), m), text: false, name: `pre-hello:0x${cmd.toString(16)}/${m}` };
    }
    const t = this.template();
    const m = r.pick(MUTATIONS);
    const bytes = mutate(r, t.bytes, m);
    // Signed frames go to the shared pool for replay on other connections.
    if (m === 'none' && (t.name === 'auth-own' || t.name === 'create' || t.name === 'rotate-own') && this.s.replay.length < 400) this.s.replay.push(bytes.slice());
    return { bytes, text: false, name: `${t.name}/${m}` };
  }

  // ---- the oracle ----

  /** What the relay may answer to `bytes` here: the structural oracle, refined by what this worker knows. */
  expect(bytes: Uint8Array, text: boolean): Accept {
    const e = classifyClientFrame(bytes, this.phase, this.s.maxFrameBytes, text);
    if (e.kind === 'close') return accept({ close: e.close });
    if (e.kind === 'fatal') return accept({ fatal: e.errs });
    if (this.phase === 'AWAIT_HELLO') {
      return accept({ types: ['SERVER_HELLO'], after: (f) => this.checkServerHello(f, bytes.subarray(HEADER + 2, HEADER + 34)) });
    }
    const t = clientTypeName(bytes[1]!);
    if (!t || t === 'HELLO') return accept({ types: e.types, errs: e.errs });
    const a = this.refine(t, bytes);
    // Public-key commands spend a per-connection budget (spec §8) before anything else: past
    // its burst, RATE is a legitimate answer to any of them, and before it, never.
    if (t === 'CREATE' || t === 'AUTH' || t === 'ROTATE') {
      this.keyOps++;
      if (this.keyOps > this.s.relay.relay.config.keyOpsBurst) return { ...a, errs: [...a.errs, 'RATE'], fatal: a.fatal };
    }
    return a;
  }

  private checkServerHello(f: RelayFrameView, clientNonce: Uint8Array): void {
    const b = f.body;
    if (b[0] !== 1) this.fail(`SERVER_HELLO version ${b[0]}`);
    const relaySignKey = b.slice(33, 65) as Ed25519PublicKey;
    if (!equalBytes(relayFingerprintOf(relaySignKey), this.s.fingerprint)) this.fail('SERVER_HELLO key does not match the fingerprint');
    const full = new Uint8Array([1, 0x81, 0, 0, 0, 0, ...b]);
    if (!ed25519Verify(b.subarray(b.length - 64), relayHelloMessage(clientNonce, bodyNoSig(full)), relaySignKey)) this.fail('SERVER_HELLO signature');
    if (b[97] !== POW_DIFFICULTY) this.fail(`SERVER_HELLO powDifficulty ${b[97]}`);
    this.client!.serverNonce = b.slice(1, 33);
    this.client!.clientNonce = clientNonce.slice();
    this.client!.relayDeliveryKey = b.slice(65, 97);
    this.client!.powDifficulty = b[97]!;
    this.phase = 'READY';
  }

  private ownedByReadId(readId: Uint8Array): Owned | undefined {
    const h = hex(readId);
    return this.owned.find((o) => hex(o.keys.readId) === h);
  }

  private refine(t: Exclude<ReturnType<typeof clientTypeName>, undefined | 'HELLO'>, bytes: Uint8Array): Accept {
    const body = bytes.subarray(HEADER);
    const c = this.client!;
    const readId = body.subarray(0, 32);
    const readHex = hex(readId);
    const authed = this.authed.get(readHex);
    switch (t) {
      case 'PING': return accept({ types: ['PONG'] });
      case 'AUTH': {
        const o = this.ownedByReadId(readId);
        const valid = o !== undefined && ed25519Verify(body.subarray(32, 96), readAuthMessage(c.serverNonce, c.clientNonce, readId), o.keys.readKey);
        if (!valid) return accept({ errs: ['AUTH'] });
        return accept({ types: ['OK'], errs: ['LIMIT'], after: () => { this.authed.set(readHex, o!); } });
      }
      case 'SUB': case 'FETCH': case 'ACK': case 'UNSUB': case 'DEL': case 'ROTATE': {
        if (t === 'ACK' && new DataView(body.buffer, body.byteOffset + 32, 4).getUint32(0) > 0x1fffff) {
          // msgIds of 2^53 and more are MALFORMED (spec §3), whatever the mailbox.
          return accept({ fatal: ['MALFORMED'] });
        }
        if (!authed) return accept({ errs: ['AUTH'] });
        if (t === 'SUB') return accept({ types: ['OK'], after: () => { this.subscribedTo = authed; } });
        if (t === 'UNSUB') return accept({ types: ['OK'] });
        if (t === 'FETCH') return accept({ types: ['MSG', 'EMPTY'], after: (f) => this.checkMsg(f, authed) });
        if (t === 'DEL') return accept({ types: ['OK'], after: () => this.forget(authed) });
        if (t === 'ACK') return accept({ types: ['OK'], errs: ['NO_MSG'] });
        return this.refineRotate(body, authed);
      }
      case 'CREATE': return this.refineCreate(bytes);
      case 'SEND': return this.refineSend(body);
      // This relay has no partners: a FORWARD of a valid size, or a KEY_QUERY, names none (spec/federation.md §4, §5).
      case 'FORWARD': return accept({ errs: [BUCKETS.includes(body.length - 32 - 129) ? 'NO_PEER' : 'SIZE'] });
      case 'KEY_QUERY': return accept({ errs: ['NO_PEER'] });
    }
  }

  subscribedTo: Owned | null = null;

  private checkMsg(f: RelayFrameView, o: Owned): void {
    if (f.type !== 'MSG') return;
    if (!equalBytes(f.body.subarray(0, 32), o.keys.readId)) { this.fail('MSG for another readId'); return; }
    const msgId = Number(new DataView(f.body.buffer, f.body.byteOffset + 32, 8).getBigUint64(0));
    const delivered = f.body.subarray(40);
    if (!BUCKETS.includes(delivered.length - 44)) this.fail(`MSG delivered ${delivered.length} bytes: not a bucket + 44`);
    try {
      const dk = deriveDeliveryKey(o.keys.deliverySecret, this.client!.relayDeliveryKey as X25519PublicKey, this.client!.relayDeliveryKey as X25519PublicKey, o.keys.deliveryKey);
      openDelivery(dk, msgId, delivered);
    } catch (e) {
      this.fail(`MSG does not open under the mailbox's delivery key: ${(e as Error).message}`);
    }
    this.lastMsgIds.push(msgId);
    if (this.lastMsgIds.length > 16) this.lastMsgIds.shift();
  }

  private forget(o: Owned): void {
    this.owned = this.owned.filter((x) => x !== o);
    this.authed.delete(hex(o.keys.readId));
    this.s.liveReadIds.delete(hex(o.keys.readId));
    this.s.liveSendIds.delete(hex(o.keys.sendId));
  }

  private refineCreate(bytes: Uint8Array): Accept {
    const c = this.client!;
    const body = bytes.subarray(HEADER);
    const readKey = body.slice(0, 32) as Ed25519PublicKey;
    const sendId = body.subarray(32, 64);
    const deliveryKey = body.subarray(64, 96);
    const verifier = body.subarray(96, 128);
    const flags = body[128]!;
    const tokenLength = (body[133]! << 8) | body[134]!;
    if (!ed25519Verify(body.subarray(body.length - 64), createMessage(c.serverNonce, c.clientNonce, bodyNoSig(bytes)), readKey)) return accept({ errs: ['AUTH'] });
    const readId = readIdOf(readKey);
    const isPublic = (flags & 1) !== 0;
    let invalid = (flags & ~1) !== 0 || isPublic !== verifier.every((v) => v === 0) || tokenLength !== 0;
    try { x25519PublicKey(deliveryKey); } catch { invalid = true; }
    const dup = this.s.liveReadIds.has(hex(readId)) || this.s.liveSendIds.has(hex(sendId));
    if (invalid || dup) return accept({ errs: [...(invalid ? ['INVALID' as const] : []), ...(dup ? ['DUPLICATE' as const] : [])] });
    const pending = this.pendingCreates.get(hex(readId));
    return accept({
      types: ['CREATED'], errs: ['LIMIT'],
      after: (f) => {
        if (!equalBytes(f.body.subarray(0, 32), readId) || !equalBytes(f.body.subarray(32, 64), sendId)) this.fail('CREATED carries other ids');
        this.s.liveReadIds.add(hex(readId));
        this.s.liveSendIds.add(hex(sendId));
        if (pending && equalBytes(pending.keys.sendId, sendId) && pending.keys.accessVerifier.every((v, i) => v === verifier[i])) {
          this.owned.push(pending);
          this.authed.set(hex(readId), pending);
        } else {
          // A CREATE we cannot use further (ids we do not hold all keys for): it stays on the relay.
          this.strays++;
        }
      },
    });
  }

  strays = 0;

  private refineRotate(body: Uint8Array, o: Owned): Accept {
    const c = this.client!;
    const newReadKey = body.slice(32, 64) as Ed25519PublicKey;
    const newDeliveryKey = body.subarray(64, 96);
    const newVerifier = body.subarray(96, 128);
    const frame = new Uint8Array([1, CLIENT_TYPES.ROTATE, 0, 0, 0, 0, ...body]);
    if (!ed25519Verify(body.subarray(128, 192), rotateMessage(c.serverNonce, c.clientNonce, bodyNoSig(frame)), newReadKey)) return accept({ errs: ['AUTH'] });
    let invalid = o.isPublic !== newVerifier.every((v) => v === 0);
    try { x25519PublicKey(newDeliveryKey); } catch { invalid = true; }
    const newReadId = readIdOf(newReadKey);
    const newHex = hex(newReadId);
    const dup = newHex !== hex(o.keys.readId) && this.s.liveReadIds.has(newHex);
    if (invalid || dup) return accept({ errs: [...(invalid ? ['INVALID' as const] : []), ...(dup ? ['DUPLICATE' as const] : [])] });
    return accept({
      types: ['ROTATED'],
      after: (f) => {
        if (!equalBytes(f.body, newReadId)) { this.fail('ROTATED carries another readId'); return; }
        const next = this.pendingRotations.get(newHex);
        this.s.liveReadIds.delete(hex(o.keys.readId));
        this.s.liveReadIds.add(newHex);
        this.authed.delete(hex(o.keys.readId));
        if (next && equalBytes(next.accessVerifier, newVerifier) && equalBytes(next.deliveryKey, newDeliveryKey)) {
          o.keys = next;
          this.authed.set(newHex, o);
        } else {
          this.owned = this.owned.filter((x) => x !== o); // keys we no longer fully hold
          this.strays++;
        }
      },
    });
  }

  private refineSend(body: Uint8Array): Accept {
    const c = this.client!;
    const sendId = body.subarray(0, 32);
    const proof = body.subarray(32, 64);
    const env = body.subarray(64);
    if (!BUCKETS.includes(env.length)) return accept({ errs: ['SIZE'] });
    const o = this.owned.find((x) => equalBytes(x.keys.sendId, sendId));
    if (!o) return accept({ errs: ['AUTH'] });
    if (!o.isPublic) {
      return equalBytes(accessVerifierOf(proof), o.keys.accessVerifier) ? accept({ types: ['OK'], errs: ['QUOTA', 'RATE'] }) : accept({ errs: ['AUTH'] });
    }
    const nonceHex = hex(proof);
    if (!verifyPow(c.serverNonce, sendId, env, proof, POW_DIFFICULTY) || this.powUsed.has(nonceHex)) return accept({ errs: ['AUTH'] });
    return accept({ types: ['OK'], errs: ['QUOTA', 'RATE'], after: () => { this.powUsed.add(nonceHex); } });
  }

  // ---- one exchange ----

  async exchange(bytes: Uint8Array, text: boolean, name: string): Promise<void> {
    const c = this.client!;
    const a = this.expect(bytes, text);
    const corr = bytes.length >= HEADER ? corrOf(bytes) : 0;
    this.log.push(`${name} len=${bytes.length} corr=${corr} type=0x${(bytes[1] ?? 0).toString(16)} -> expect ${JSON.stringify({ t: a.types, e: a.errs, f: a.fatal, c: a.close })}`);
    if (this.log.length > 20) this.log.shift();
    this.s.sent++;
    if (text) c.sendText('fuzz'); else c.send(bytes);
    const r = await c.next(3_000);
    if (!r) { this.fail(`${name}: no answer within 3 s`); this.client = null; await c.close(); return; }
    if (r.kind === 'close') {
      if (!DOCUMENTED_CLOSE_CODES.has(r.code)) this.fail(`${name}: close code ${r.code} is not documented`);
      if (a.close !== r.code) this.fail(`${name}: closed with ${r.code} without an ERR (expected ${JSON.stringify(a)})`);
      this.count(`close:${r.code}`);
      this.client = null;
      return;
    }
    if (r.text) { this.fail(`${name}: the relay sent a text message`); return; }
    let f: RelayFrameView;
    try {
      f = parseRelayFrame(r.bytes);
    } catch (e) {
      this.fail(`${name}: undecodable relay frame (${(e as Error).message}): ${hex(r.bytes.subarray(0, 48))}`);
      this.client = null;
      await c.close();
      return;
    }
    if (f.corr !== corr) this.fail(`${name}: answer ${f.type} carries corr ${f.corr}, sent ${corr}`);
    if (f.type === 'ERR') {
      const errName = ERR_NAME.get(f.code!);
      if (!errName) { this.fail(`${name}: ERR code ${f.code} is outside the closed set`); return; }
      if (a.fatal.includes(errName)) {
        const closed = await c.next(3_000);
        if (!closed || closed.kind !== 'close') this.fail(`${name}: ERR ${errName} not followed by a close`);
        else if (closed.code !== FATAL_CLOSE[errName]) this.fail(`${name}: ERR ${errName} then close ${closed.code}, expected ${FATAL_CLOSE[errName]}`);
        if (a.deviation && !a.errs.includes(errName)) this.s.deviations.set(a.deviation, (this.s.deviations.get(a.deviation) ?? 0) + 1);
        this.count(`fatal:${errName}`);
        this.client = null;
        if (closed?.kind !== 'close') await c.close();
        return;
      }
      if (!a.errs.includes(errName)) {
        this.fail(`${name}: ERR ${errName}, expected ${a.types.length ? a.types.join('|') + ' or ' : ''}${a.errs.length ? 'ERR ' + a.errs.join('|') : ''}${a.fatal.length ? ' fatal ' + a.fatal.join('|') : ''}${a.close ? ' close ' + a.close : ''}`);
        return;
      }
      this.count(`ERR:${errName}`);
      return;
    }
    if (!a.types.includes(f.type)) {
      this.fail(`${name}: ${f.type}, expected ${JSON.stringify({ types: a.types, errs: a.errs, fatal: a.fatal, close: a.close })}`);
      return;
    }
    this.count(f.type);
    a.after?.(f);
    if (this.subscribedTo) await this.unsubscribe();
  }

  /** After a SUB that took: UNSUB, accepting the pushes (MSG, END with corr 0) that come first. */
  private async unsubscribe(): Promise<void> {
    const o = this.subscribedTo!;
    this.subscribedTo = null;
    const c = this.client!;
    const corr = this.nextCorr();
    c.send(rawFrame(1, CLIENT_TYPES.UNSUB, corr, o.keys.readId));
    for (;;) {
      const r = await c.next(3_000);
      if (!r || r.kind === 'close') { this.fail(`UNSUB after SUB: ${r ? `closed ${r.code}` : 'no answer'}`); this.client = null; return; }
      let f: RelayFrameView;
      try { f = parseRelayFrame(r.bytes); } catch (e) { this.fail(`push: ${(e as Error).message}`); return; }
      if (f.corr === 0 && (f.type === 'MSG' || f.type === 'END')) {
        this.s.pushes++;
        if (!equalBytes(f.body.subarray(0, 32), o.keys.readId)) this.fail(`pushed ${f.type} for another readId`);
        if (f.type === 'MSG') this.checkMsg(f, o);
        continue;
      }
      if (f.corr !== corr || f.type !== 'OK') this.fail(`UNSUB answered ${f.type} corr ${f.corr}`);
      return;
    }
  }
}

/** Responses the fuzzer must have provoked: it reached deep, not only errors. */
const MUST_SEE = ['CREATED', 'OK', 'MSG', 'EMPTY', 'PONG', 'ERR:AUTH', 'ERR:SIZE', 'ERR:UNKNOWN_COMMAND', 'fatal:MALFORMED', 'fatal:VERSION', 'fatal:HANDSHAKE', 'close:1009', 'close:1003'];

test(`fuzz: ${FRAME_BUDGET} random, mutated and replayed frames (seed ${SEED})`, async () => {
  const t = await startTestRelay({ powDifficulty: POW_DIFFICULTY, logLevel: 'info', keyOpsBurst: 12, keyOpsPerSecond: 50 });
  const fatalProcessErrors: unknown[] = [];
  const onFatal = (e: unknown): void => { fatalProcessErrors.push(e); };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  const root = new Prng(SEED);
  const shared: Shared = {
    relay: t, fingerprint: fromBase64url(t.relay.fingerprint), maxFrameBytes: t.relay.config.maxFrameBytes,
    deadline: Date.now() + SECONDS * 1000, sent: 0, liveReadIds: new Set(), liveSendIds: new Set(), replay: [],
    outcomes: new Map(), deviations: new Map(), failures: [], pushes: 0,
  };
  const workers = Array.from({ length: WORKERS }, (_, i) => new Worker(i, root.fork(), shared));
  // The budget is a minimum: on a slow or busy machine (or an unlucky seed) the run goes on,
  // up to three budgets, until every kind of response asserted below was seen.
  const covered = (): boolean => MUST_SEE.every((kind) => (shared.outcomes.get(kind) ?? 0) > 0);
  const hardDeadline = Date.now() + 3 * SECONDS * 1000;
  const more = (): boolean => (Date.now() < shared.deadline && shared.sent < FRAME_BUDGET) || (!covered() && Date.now() < hardDeadline && shared.sent < 3 * FRAME_BUDGET);
  try {
    await Promise.all(workers.map(async (w) => {
      while (more() && shared.failures.length < 10) {
        if (!w.client) { await w.connect(); continue; }
        const { bytes, text, name } = w.nextFrame();
        await w.exchange(bytes, text, name);
      }
      await w.client?.close();
    }));
    const outcomes = [...shared.outcomes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(`fuzz: ${shared.sent} frames over ${workers.reduce((a, w) => a + w.connections, 0)} connections; pushes ${shared.pushes}; ${outcomes}`);
    if (shared.deviations.size > 0) console.log(`fuzz: tolerated spec deviations (asserted by their own tests): ${JSON.stringify(Object.fromEntries(shared.deviations))}`);
    assert.is(shared.failures.length, 0, `seed ${SEED}:\n${shared.failures.join('\n')}`);
    assert.ok(shared.sent >= Math.min(FRAME_BUDGET, 1500), `only ${shared.sent} frames in ${SECONDS} s`);
    // The fuzzer reached deep: responses of every kind, not only errors.
    for (const kind of MUST_SEE) {
      assert.ok((shared.outcomes.get(kind) ?? 0) > 0, `the fuzzer never saw ${kind}`);
    }
    assert.is(fatalProcessErrors.length, 0, `uncaught errors in the process: ${fatalProcessErrors.map(String).join('; ')}`);
    // Nothing a client sent made a handler throw (that would be ERR INTERNAL and an error log line).
    assert.is(shared.outcomes.get('ERR:INTERNAL') ?? 0, 0, 'ERR INTERNAL');
    const errorLogs = t.logs.filter((l) => l['level'] === 'error');
    assert.is(errorLogs.length, 0, `error log lines: ${JSON.stringify(errorLogs.slice(0, 3))}`);

    // The relay is still up and serves a well-behaved client: create, send, receive, ack.
    const stats = t.relay.stats();
    assert.ok(stats.mailboxes > 0);
    const owner = await RelayConnection.connect(t.relay.address, { timeoutMs: 5_000 });
    const sender = await RelayConnection.connect(t.relay.address, { timeoutMs: 5_000 });
    try {
      const inbox = collectMessages(owner);
      const keys = newMailboxKeys();
      const { createMailbox, sendCapability } = await import('../../src/client/mailbox.js');
      await createMailbox(owner, keys);
      await subscribe(owner, keys);
      const sent = envelope(1024);
      await sendEnvelope(sender, sendCapability(t.relay.address, keys), sent);
      const m = await inbox.next(5_000);
      assert.ok(equalBytes(openDelivered(owner, keys, m).envelope, sent), 'the envelope arrives intact');
      await ack(owner, keys, m.msgId);
      assert.is(await errorOf(authenticate(sender, { ...keys, readSeed: ed25519KeyPair().seed } as MailboxKeys)), 'AUTH');
      assert.is((await sender.request({ type: 'PING' })).type, 'PONG');
    } finally {
      await Promise.all([owner.close(), sender.close()]);
    }
  } finally {
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
    await Promise.all(workers.map((w) => w.client?.close()));
    await withTimeout(t.stop(), 20_000, 'relay stop');
  }
});

test.run();
