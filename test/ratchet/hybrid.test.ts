// The hybrid ratchet (spec/ratchet.md §12): the sparse ML-KEM-768 ratchet beside the Double
// Ratchet. Long conversations with loss and reordering, an attacker who holds every X25519
// secret (what a quantum computer gives a recorder of the traffic), downgrades, restarts of a
// stalled exchange, the room a caller allows, persistence, and the vectors of the new KDF step
// (spec/vectors/ratchet-hybrid.json, rewritten with SEALPOST_WRITE_VECTORS=1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import {
  MLKEM768_CIPHERTEXT_LENGTH, concat, fromHex, fromUtf8, hkdf, mlKem768KeyPair, toHex, utf8, withBackend, x25519KeyPair,
  x25519PublicFromSecret,
} from '../../src/crypto/index.js';
import {
  HEADER_LENGTH, HYBRID_HEADER_LENGTH, PQ_CHUNK, PQ_FIELD_MAX, PQ_FIELD_MIN, PQ_RESTART_AFTER, decodeState, decrypt,
  encodeState, encrypt, initReceiver, initSender, isRatchetError, kdfRkHybrid,
  type RatchetState, type RootKey,
} from '../../src/ratchet/index.js';
import { decodePqField, encodePqField } from '../../src/ratchet/pq.js';
import { readJson, repoPath } from '../_support/files.js';
import { drbg, type Random } from '../_support/drbg.js';
import { rejects, rejectsUnchanged } from '../_support/ratchet-asserts.js';

class Party {
  readonly log: Uint8Array[] = [];
  readonly random: Random;
  constructor(public state: RatchetState, random: Random) { this.random = random; }
  send(text: string, pqRoom?: number): Uint8Array {
    return encrypt(this.state, utf8(text), { random: this.random, ...(pqRoom === undefined ? {} : { pqRoom }) });
  }
  recv(m: Uint8Array): string { return fromUtf8(decrypt(this.state, m, { random: this.random })); }
  reload(): void { this.state = decodeState(encodeState(this.state)); }
}

const SK = Uint8Array.from({ length: 32 }, (_, i) => i);
const AD = utf8('identity:alice||identity:bob');

function pair(seed: string, hybrid = true): { alice: Party; bob: Party; aliceLog: Uint8Array[] } {
  const aliceLog: Uint8Array[] = [];
  const ra = drbg(utf8(`alice/${seed}`), aliceLog), rb = drbg(utf8(`bob/${seed}`));
  const bobKey = x25519KeyPair(rb(32));
  return {
    alice: new Party(initSender(SK, AD, bobKey.publicKey, { random: ra, hybrid }), ra),
    bob: new Party(initReceiver(SK, AD, bobKey, { hybrid }), rb),
    aliceLog,
  };
}

const ints = (r: Random) => (n: number): number => new DataView(r(4).buffer).getUint32(0) % n;


/** Ping-pong until both sides have mixed `exchanges` KEM exchanges; returns the messages sent. */
function converse(alice: Party, bob: Party, exchanges: number, limit = 2000): number {
  let sent = 0;
  for (let i = 0; sent < limit; i++) {
    if (alice.state.pq!.mixed >= exchanges && bob.state.pq!.mixed >= exchanges) return sent;
    const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice];
    const text = `m${i}`;
    assert.is(to.recv(from.send(text)), text);
    sent++;
  }
  throw new Error(`${exchanges} exchanges not mixed after ${limit} messages`);
}

test('a hybrid conversation mixes one ML-KEM exchange after another, each side sending keys in turn', () => {
  const { alice, bob } = pair('basic');
  const sent = converse(alice, bob, 4);
  // 10 key chunks and 9 ciphertext chunks, one per message, and a round trip to mix: about 25 each way.
  assert.ok(sent <= 4 * 60, `${sent} messages for 4 exchanges`);
  assert.is(alice.state.pq!.initiator, true);
  assert.is(bob.state.pq!.initiator, false);
});

test('bytes per message: the header grows by 4, the field by 5 to 141, never more', () => {
  const { alice, bob } = pair('bytes');
  const classic = pair('bytes', false);
  const base = classic.alice.send('hello').length;
  let max = 0, total = 0, n = 0;
  for (let i = 0; i < 200; i++) {
    const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice];
    const m = from.send('hello');
    const extra = m.length - base;
    assert.ok(extra >= 4 + PQ_FIELD_MIN && extra <= 4 + PQ_FIELD_MAX, `extra ${extra}`);
    max = Math.max(max, extra); total += extra; n++;
    to.recv(m);
  }
  assert.is(HYBRID_HEADER_LENGTH - HEADER_LENGTH, 4);
  assert.is(max, 4 + PQ_FIELD_MAX);
  assert.ok(total / n < 4 + PQ_FIELD_MAX, `mean ${total / n}`);
});

test('pqRoom: no chunk goes without room for it; the exchange waits and goes on once there is room', () => {
  const { alice, bob } = pair('room');
  for (let i = 0; i < 40; i++) {
    const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice];
    const m = from.send('x', PQ_FIELD_MIN + 12); // too little for any chunk
    to.recv(m);
  }
  assert.is(alice.state.pq!.mixed, 0);
  assert.is(bob.state.pq!.received, 0);
  converse(alice, bob, 1);
});

test('10,000 messages in random interleavings with 10% loss, reordering and reloads', () => {
  const { alice, bob } = pair('long');
  const r = drbg(utf8('schedule'));
  const pick = ints(r);
  type InFlight = { m: Uint8Array; text: string };
  const toBob: InFlight[] = [], toAlice: InFlight[] = [];
  let sent = 0, delivered = 0, lost = 0;
  const deliver = (q: InFlight[], to: Party): void => {
    const i = pick(Math.min(q.length, 6)); // reordering within a window of 6
    const [f] = q.splice(i, 1);
    assert.is(to.recv(f!.m), f!.text);
    delivered++;
  };
  while (sent < 10_000) {
    const a = pick(10);
    if (a < 3 || (a < 5 && toBob.length === 0 && toAlice.length === 0)) {
      const [from, q] = pick(2) === 0 ? [alice, toBob] : [bob, toAlice];
      if (from === bob && bob.state.cks === null) continue;
      const text = `message ${sent}`;
      const m = from.send(text);
      sent++;
      if (pick(10) === 0) lost++; // lost on the way
      else q.push({ m, text });
    } else if (a < 6 && toBob.length > 0) deliver(toBob, bob);
    else if (a < 9 && toAlice.length > 0) deliver(toAlice, alice);
    else if (a === 9 && pick(50) === 0) { alice.reload(); bob.reload(); }
  }
  while (toBob.length) deliver(toBob, bob);
  while (toAlice.length) deliver(toAlice, alice);
  assert.is(delivered + lost, 10_000);
  const mixed = Math.min(alice.state.pq!.mixed, bob.state.pq!.mixed);
  assert.ok(mixed >= 50, `only ${mixed} KEM exchanges mixed in 10,000 messages`);
  if (process.env['SEALPOST_VERBOSE']) console.log({ sent, delivered, lost, mixed, attempts: [alice.state.pq!.attempt, bob.state.pq!.attempt] });
});

test(`a stalled exchange starts over after ${PQ_RESTART_AFTER} peer messages with a fresh key, then completes`, () => {
  const { alice, bob } = pair('restart');
  bob.recv(alice.send('first'));
  for (let i = 0; i < 12; i++) alice.send(`lost ${i}`); // every key chunk of attempt 0 after the first is lost
  const firstKey = alice.state.pq!.outgoing!.slice();
  for (let i = 0; i < PQ_RESTART_AFTER; i++) alice.recv(bob.send(`b${i}`));
  assert.is(alice.state.pq!.attempt, 1);
  assert.is(alice.state.pq!.outgoing, null);
  converse(alice, bob, 1);
  assert.ok(bob.state.pq!.mixed >= 1);
  assert.not.equal(alice.state.pq!.outgoing, firstKey);
});

test('downgrade: a hybrid session refuses classical messages, a classical one hybrid messages; state unchanged', () => {
  const { alice, bob } = pair('downgrade');
  bob.recv(alice.send('hello'));
  alice.recv(bob.send('hi'));
  // A classical message made with the same keys (a session set up without the hybrid option).
  const classic = pair('downgrade', false);
  const old = classic.alice.send('old');
  rejectsUnchanged(bob, () => bob.recv(old), 'DOWNGRADE');
  // A hybrid message rewritten as version 1 (its epoch dropped).
  const m = alice.send('real');
  const v1 = concat(new Uint8Array([1]), m.subarray(1, HEADER_LENGTH), m.subarray(HYBRID_HEADER_LENGTH));
  rejectsUnchanged(bob, () => bob.recv(v1), 'DOWNGRADE');
  // The epoch changed: the chain's keys differ, nothing authenticates.
  const other = m.slice();
  other[HEADER_LENGTH + 3]! ^= 1;
  rejectsUnchanged(bob, () => bob.recv(other), 'DECRYPT_FAILED');
  rejectsUnchanged(classic.bob, () => classic.bob.recv(m), 'MALFORMED');
  // Persisted and reloaded, the session is still hybrid.
  bob.reload();
  rejectsUnchanged(bob, () => bob.recv(old), 'DOWNGRADE');
  assert.is(bob.recv(m), 'real');
});

test('a chain that claims a KEM exchange the receiver has not finished is refused, state unchanged', () => {
  const { alice, bob } = pair('epoch');
  bob.recv(alice.send('a0'));
  const b0 = bob.send('b0');
  alice.recv(b0);
  const a1 = alice.send('a1'); // a new chain of Alice's, epoch 0
  const forged = a1.slice();
  forged[HEADER_LENGTH + 3] = 7; // epoch 7: refused before any AEAD
  rejectsUnchanged(bob, () => bob.recv(forged), 'DECRYPT_FAILED');
  assert.is(bob.recv(a1), 'a1');
});

/**
 * The recorder with a quantum computer: a dump of Alice's classical state (root, chains, her
 * ratchet secret) without her ML-KEM secrets, and every X25519 secret she makes afterwards
 * (a quantum computer gets them from her public keys in the recorded headers). It replays her
 * receiving on the recorded messages to her. Her ML-KEM seeds and encapsulation messages it
 * does not have: it draws its own. Returns how many messages it opened, and whether it opened
 * any after its first refusal.
 */
function quantumRecorder(hybrid: boolean): { opened: number; refused: number; openedAfterRefusal: boolean; total: number } {
  const log: { bytes: Uint8Array; receiving: boolean }[] = [];
  let receiving = false;
  const ra = drbg(utf8('alice/quantum'));
  const rb = drbg(utf8('bob/quantum'));
  const bobKey = x25519KeyPair(rb(32));
  const aliceRandom: Random = (n) => { const b = ra(n); log.push({ bytes: b.slice(), receiving }); return b; };
  const alice = new Party(initSender(SK, AD, bobKey.publicKey, { random: aliceRandom, hybrid }), aliceRandom);
  const bob = new Party(initReceiver(SK, AD, bobKey, { hybrid }), rb);
  const exchange = (i: number): { to: Party; m: Uint8Array } => {
    const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice];
    const m = from.send(`secret ${i}`);
    receiving = to === alice;
    to.recv(m);
    receiving = false;
    return { to, m };
  };
  for (let i = 0; i < 60; i++) exchange(i); // some history: two KEM exchanges in a hybrid session
  if (hybrid) assert.ok(alice.state.pq!.mixed >= 1);
  const dump = decodeState(encodeState(alice.state));
  const pq = dump.pq;
  const blind: RatchetState = pq === null ? dump : {
    ...dump,
    pq: { ...pq, seed: pq.seed && (new Uint8Array(64).fill(0x5a) as typeof pq.seed), secret: pq.secret && { ...pq.secret, key: new Uint8Array(32) as typeof pq.secret.key } },
  };
  const from = log.length;
  const sentKeys = new Set<string>();
  const toAlice: Uint8Array[] = [];
  for (let i = 60; i < 360; i++) {
    const { to, m } = exchange(i);
    if (to === alice) toAlice.push(m);
    else sentKeys.add(toHex(m.subarray(1, 33)));
  }
  // Alice's draws while receiving, in order: a ratchet secret (its public key is in a header she
  // sent) the recorder has; anything else (an encapsulation message m) it replaces with its own.
  const own = drbg(utf8('recorder'));
  const draws = log.slice(from).filter((d) => d.receiving).map((d) => d.bytes);
  let k = 0;
  const recorderRandom: Random = (n) => {
    const d = draws[k++];
    if (d && d.length === n && n === 32 && sentKeys.has(toHex(x25519PublicFromSecret(d as never)))) return d.slice();
    return own(n);
  };
  let state = blind, opened = 0, refused = 0, openedAfterRefusal = false;
  for (const m of toAlice) {
    const before = encodeState(state);
    try {
      decrypt(state, m, { random: recorderRandom });
      opened++;
      if (refused > 0) openedAfterRefusal = true;
    } catch (e) {
      assert.ok(isRatchetError(e, 'DECRYPT_FAILED'), String(e));
      assert.is(toHex(encodeState(state)), toHex(before));
      refused++;
    }
  }
  return { opened, refused, openedAfterRefusal, total: toAlice.length };
}

test('the quantum recorder: with every X25519 secret it reads a classical session to the end', () => {
  const r = quantumRecorder(false);
  assert.is(r.opened, r.total);
});

test('the quantum recorder: in a hybrid session it reads until the next KEM step is mixed, then nothing', () => {
  const r = quantumRecorder(true);
  assert.ok(r.opened > 0, 'the classical secrets alone read the messages up to the next KEM step');
  assert.ok(r.refused > 0, 'after the next KEM step the recorder is locked out');
  assert.not.ok(r.openedAfterRefusal, 'and stays locked out');
  // The next exchange takes about 25 messages each way plus a round trip to be mixed.
  assert.ok(r.opened < 60, `opened ${r.opened} of ${r.total}`);
  if (process.env['SEALPOST_VERBOSE']) console.log(r);
});

test('state encoding: identical bytes after a reload at every step of a conversation; bad bytes are BAD_STATE', () => {
  const { alice, bob } = pair('codec');
  for (let i = 0; i < 80; i++) {
    const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice];
    to.recv(from.send(`m${i}`));
    for (const p of [alice, bob]) {
      const bytes = encodeState(p.state);
      assert.is(toHex(encodeState(decodeState(bytes))), toHex(bytes));
    }
  }
  const bytes = encodeState(alice.state);
  rejects(() => decodeState(bytes.subarray(0, bytes.length - 1)), 'BAD_STATE');
  rejects(() => decodeState(concat(bytes, new Uint8Array(1))), 'BAD_STATE');
});

test('the field\'s sizes; KDF_RK_PQ is HKDF(salt = rk, ikm = dhOut || K, info = label || u32(exchange)) as §12.4 says', () => {
  assert.is(encodePqField({ ack: 0, chunk: null }).length, PQ_FIELD_MIN);
  assert.is(encodePqField({ ack: 1, chunk: { kind: 1, exchange: 1, attempt: 0, index: 0, bytes: new Uint8Array(PQ_CHUNK) } }).length, PQ_FIELD_MAX);
  const rk = fromHex('01'.repeat(32)), dh = fromHex('02'.repeat(32)), k = fromHex('03'.repeat(32));
  const okm = hkdf(concat(dh, k), rk, concat(utf8('sealpost/v1/ratchet/root-pq'), fromHex('00000009')), 64);
  const out = kdfRkHybrid(rk as RootKey, dh, k, 9);
  assert.is(toHex(out.rk) + toHex(out.ck), toHex(okm));
});

test('decodePqField: every field off the grid is MALFORMED; a valid one round-trips', () => {
  const chunk = (kind: number, exchange: number, index: number, length: number): Uint8Array =>
    encodePqField({ ack: 0, chunk: { kind, exchange, attempt: 0, index, bytes: new Uint8Array(length) } });
  const good = chunk(2, 1, 8, 1088 - 8 * PQ_CHUNK);
  assert.is(toHex(encodePqField(decodePqField(concat(good, utf8('rest'))).field)), toHex(good));
  assert.is(fromUtf8(decodePqField(concat(good, utf8('rest'))).rest), 'rest');
  for (const [what, bytes] of [
    ['unknown kind', chunk(3, 1, 0, PQ_CHUNK)],
    ['exchange 0', chunk(1, 0, 0, PQ_CHUNK)],
    ['index past the key', chunk(1, 1, 10, 32)],
    ['short middle chunk', chunk(1, 1, 3, 100)],
    ['last key chunk too long', chunk(1, 1, 9, PQ_CHUNK)],
    ['truncated', good.subarray(0, good.length - 1)],
    ['no kind', new Uint8Array(4)],
  ] as const) rejects(() => decodePqField(bytes), 'MALFORMED');
});

// ---- §12.7 the handshake's KEM ------------------------------------------------------------

/** A hybrid pair whose handshake gave Alice Bob's ML-KEM key: her first chain mixes exchange 0. */
function kemPair(seed: string): { alice: Party; bob: Party; bobKem: ReturnType<typeof mlKem768KeyPair>; bobKey: ReturnType<typeof x25519KeyPair> } {
  const ra = drbg(utf8(`alice/${seed}`)), rb = drbg(utf8(`bob/${seed}`));
  const bobKey = x25519KeyPair(rb(32));
  const bobKem = mlKem768KeyPair(rb(64));
  return {
    alice: new Party(initSender(SK, AD, bobKey.publicKey, { random: ra, hybrid: true, peerKemKey: bobKem.encapsulationKey }), ra),
    bob: new Party(initReceiver(SK, AD, bobKey, { hybrid: true, kemSeed: bobKem.seed }), rb),
    bobKem, bobKey,
  };
}

test('handshake KEM: the initiator\'s first chain carries the ciphertext and mixes it; later chains do not', () => {
  const { alice, bob } = kemPair('hs');
  const a0 = alice.send('a0'), a1 = alice.send('a1');
  assert.is(a0[0], 3);
  assert.is(a0.length - pair('hs').alice.send('a0').length, MLKEM768_CIPHERTEXT_LENGTH);
  assert.is(bob.recv(a1), 'a1'); // any message of the first chain may come first
  assert.is(bob.recv(a0), 'a0');
  assert.is(alice.recv(bob.send('b0')), 'b0');
  assert.is(alice.send('a2')[0], 2);
  alice.reload(); bob.reload();
  converse(alice, bob, 2);
});

test('handshake KEM: who holds SK and every X25519 secret but not the KEM seed reads nothing', () => {
  const { alice, bobKey } = kemPair('hs-recorder');
  const a0 = alice.send('a0');
  // The recorder: a receiver with SK and Bob's ratchet key (the classical handshake broken), its own KEM seed.
  const recorder = initReceiver(SK, AD, bobKey, { hybrid: true, kemSeed: new Uint8Array(64).fill(9) });
  rejects(() => decrypt(recorder, a0), 'DECRYPT_FAILED');
  // Without the handshake KEM, the same recorder reads the first chain.
  const plain = pair('hs-recorder');
  const bobPlain = x25519KeyPair(drbg(utf8('bob/hs-recorder'))(32));
  assert.is(fromUtf8(decrypt(initReceiver(SK, AD, bobPlain, { hybrid: true }), plain.alice.send('p0'))), 'p0');
});

test('handshake KEM: a first message without the ciphertext is DOWNGRADE; an unasked one MALFORMED; bad keys INVALID_ARGUMENT', () => {
  const { bob, bobKey } = kemPair('hs-down');
  const noKem = pair('hs-down'); // same SK and Bob key, no KEM in the handshake
  rejectsUnchanged(bob, () => bob.recv(noKem.alice.send('x')), 'DOWNGRADE');
  const withKem = kemPair('hs-down');
  const plainBob = new Party(initReceiver(SK, AD, bobKey, { hybrid: true }), drbg(utf8('x')));
  rejectsUnchanged(plainBob, () => plainBob.recv(withKem.alice.send('y')), 'MALFORMED');
  const ek = withKem.bobKem.encapsulationKey.slice();
  ek[0] = 0xff; ek[1] = 0xff; // a coefficient >= q
  rejects(() => initSender(SK, AD, bobKey.publicKey, { hybrid: true, peerKemKey: ek }), 'INVALID_ARGUMENT');
  rejects(() => initSender(SK, AD, bobKey.publicKey, { peerKemKey: withKem.bobKem.encapsulationKey }), 'INVALID_ARGUMENT');
  rejects(() => initReceiver(SK, AD, bobKey, { hybrid: true, kemSeed: new Uint8Array(63) }), 'INVALID_ARGUMENT');
});

// ---- vectors ---------------------------------------------------------------------------------

const VECTOR_FILE = ['spec', 'vectors', 'ratchet-hybrid.json'] as const;
const KDF_INPUTS = [
  { rk: 'a0'.repeat(32), dhOut: 'b1'.repeat(32), kemSecret: 'c2'.repeat(32), exchange: 1 },
  { rk: '00'.repeat(32), dhOut: '11'.repeat(32), kemSecret: '22'.repeat(32), exchange: 0xfffffffe },
];
const FIELD_INPUTS = [
  { ack: 0, chunk: null },
  { ack: 3, chunk: { kind: 1, exchange: 5, attempt: 2, index: 9, bytes: '5a'.repeat(1184 - 9 * PQ_CHUNK) } },
  { ack: 4, chunk: { kind: 2, exchange: 4, attempt: 0, index: 0, bytes: 'a5'.repeat(PQ_CHUNK) } },
];

function computeVectors(): Record<string, unknown> {
  return {
    description: 'spec/ratchet.md §12: KDF_RK_PQ (§12.4) and the post-quantum field (§12.3); hex',
    kdfRkPq: KDF_INPUTS.map((v) => {
      const out = kdfRkHybrid(fromHex(v.rk) as RootKey, fromHex(v.dhOut), fromHex(v.kemSecret), v.exchange);
      return { ...v, rkOut: toHex(out.rk), ck: toHex(out.ck) };
    }),
    pqField: FIELD_INPUTS.map((f) => ({
      ...f,
      encoded: toHex(encodePqField({ ack: f.ack, chunk: f.chunk && { ...f.chunk, bytes: fromHex(f.chunk.bytes) } })),
    })),
  };
}

if (process.env['SEALPOST_WRITE_VECTORS'] === '1') {
  writeFileSync(repoPath(...VECTOR_FILE), `${JSON.stringify(computeVectors(), null, 2)}\n`);
}

for (const backend of ['node', 'noble'] as const) {
  test(`spec/vectors/ratchet-hybrid.json recomputes byte for byte on the ${backend} backend`, () => {
    assert.equal(withBackend(backend, computeVectors), readJson(...VECTOR_FILE));
  });
}

test.run();
