// The outbox's rules (spec/client.md §9.1), against a scripted relay connection: one FIFO lane
// per relay, up to SEND_WINDOW SENDs in flight, nothing sent before its store write commits or
// ahead of an earlier entry, a transient failure stops the lane until what is in flight has
// settled and resends from the oldest entry not accepted, a permanent one fails that entry
// alone, entries survive a restart, and close() answers CLOSED.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes, x25519KeyPair, sendIdOf, type AccessKey } from '../../src/crypto/index.js';
import { ProtocolError } from '../../src/wire/index.js';
import { MemoryRecords } from '../../src/client/memory-records.js';
import { ProfileStore } from '../../src/client/profile-store.js';
import { Outbox, SEND_WINDOW, decodeEntry, encodeEntry } from '../../src/client/outbox.js';
import type { SendCapability } from '../../src/client/mailbox.js';
import type { SendPool } from '../../src/client/send-pool.js';
import { isClientError } from '../../src/client/errors.js';
import { TEST_KDF } from './_helpers.js';

const ADDRESS = 'sealpost+ws://AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@127.0.0.1:1';
const mailboxKey = x25519KeyPair().publicKey;
const cap: SendCapability = { address: ADDRESS, sendId: sendIdOf(mailboxKey), mailboxKey, accessKey: randomBytes(32) as AccessKey };

/** A relay connection whose every SEND waits for the test to answer it. */
class ScriptedRelay {
  readonly sent: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly waiting: Array<{ n: number; resolve(): void; reject(e: unknown): void }> = [];
  readonly pool = {
    send: (_cap: SendCapability, envelope: Uint8Array): Promise<void> => {
      const n = new DataView(envelope.buffer, envelope.byteOffset).getUint32(0);
      this.sent.push(n);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      return new Promise<void>((resolve, reject) => this.waiting.push({ n, resolve, reject })).finally(() => { this.inFlight--; });
    },
  } as unknown as SendPool;
  /** Answers the oldest `count` SENDs in flight (OK, or the error `fail(n)` gives). */
  answer(count = Infinity, fail: (n: number) => unknown = () => null): void {
    for (const w of this.waiting.splice(0, count)) { const e = fail(w.n); if (e) w.reject(e); else w.resolve(); }
  }
  get pending(): number { return this.waiting.length; }
}

const envelope = (n: number): Uint8Array => { const b = new Uint8Array(64); new DataView(b.buffer).setUint32(0, n); return b; };
const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));
const FAST = { baseMs: 5, maxMs: 20 };

async function setup(records = new MemoryRecords()): Promise<{ store: ProfileStore; relay: ScriptedRelay; outbox: Outbox; records: MemoryRecords }> {
  const store = await ProfileStore.open(records, { passphrase: 'outbox test', kdf: TEST_KDF });
  const relay = new ScriptedRelay();
  return { store, relay, outbox: new Outbox(store, relay.pool, {}, FAST), records };
}

function queue(store: ProfileStore, outbox: Outbox, from: number, count: number, contactId = 'c'): Promise<void>[] {
  return Array.from({ length: count }, (_, i) => {
    const { entry, op } = outbox.prepare(contactId, cap, envelope(from + i));
    return outbox.submit(entry, store.write([op]));
  });
}

test('the record round-trips, binary, with the envelope as is', () => {
  const e = { seq: 2 ** 40 + 3, contactId: 'contact-1', capability: cap, envelope: randomBytes(1024), createdAt: 1_700_000_000_000, idempotencyKey: randomBytes(16) };
  const back = decodeEntry(encodeEntry(e));
  assert.equal({ ...back, capability: { ...back.capability } }, { ...e, capability: { ...cap } });
});

test('a version 1 record (before idempotency keys) still reads, with a fresh key', () => {
  const e = { seq: 7, contactId: 'c', capability: cap, envelope: randomBytes(256), createdAt: 1_700_000_000_000, idempotencyKey: randomBytes(16) };
  const v2 = encodeEntry(e);
  // Version 1 is version 2 without the key: the 16 bytes before the envelope.
  const v1 = new Uint8Array([1, ...v2.subarray(1, v2.length - 256 - 16), ...v2.subarray(v2.length - 256)]);
  const back = decodeEntry(v1);
  assert.equal(back.envelope, e.envelope);
  assert.is(back.idempotencyKey.length, 16);
  assert.not.equal(back.idempotencyKey, e.idempotencyKey);
});

test('pipelined in order, at most SEND_WINDOW in flight, every caller told', async () => {
  const { store, relay, outbox } = await setup();
  const done = queue(store, outbox, 0, 300);
  await tick(10);
  assert.is(relay.inFlight, SEND_WINDOW, 'the window is filled');
  while (relay.sent.length < 300 || relay.pending > 0) { relay.answer(50); await tick(); }
  await Promise.all(done);
  assert.equal(relay.sent, [...Array(300).keys()]);
  assert.is(relay.maxInFlight, SEND_WINDOW);
  assert.is(outbox.size, 0);
  await outbox.close();
  await store.close();
});

test('nothing goes before its store write, nor ahead of an earlier entry', async () => {
  const { store, relay, outbox } = await setup();
  let release!: () => void;
  const slowWrite = new Promise<void>((r) => { release = r; });
  const first = outbox.prepare('c', cap, envelope(0));
  const a = outbox.submit(first.entry, slowWrite);
  const rest = queue(store, outbox, 1, 5);
  await tick(20);
  assert.equal(relay.sent, [], 'later entries wait for the first one\'s write');
  release();
  await tick(5);
  assert.equal(relay.sent, [0, 1, 2, 3, 4, 5]);
  relay.answer();
  await Promise.all([a, ...rest]);
  await outbox.close();
  await store.close();
});

test('a transient failure stops the lane, lets what is in flight settle, then resends from the oldest entry not accepted', async () => {
  const { store, relay, outbox } = await setup();
  const done = queue(store, outbox, 0, 10);
  await tick(5);
  // 3 is refused for now (QUOTA); 0-2 and 4-9 are accepted: 3 alone is sent again.
  relay.answer(Infinity, (n) => (n === 3 ? new ProtocolError('QUOTA') : null));
  await tick(60);
  assert.equal(relay.sent, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3]);
  relay.answer();
  await Promise.all(done);
  // A lost connection: all in flight fail; everything is resent in order.
  const more = queue(store, outbox, 10, 4);
  await tick(5);
  relay.answer(Infinity, () => new Error('connection closed'));
  await tick(60);
  assert.equal(relay.sent.slice(11), [10, 11, 12, 13, 10, 11, 12, 13]);
  relay.answer();
  await Promise.all(more);
  await outbox.close();
  await store.close();
});

test('a permanent refusal fails that entry alone with SEND_REJECTED', async () => {
  const { store, relay, outbox } = await setup();
  const done = queue(store, outbox, 0, 3).map((p) => p.then(() => 'ok', (e: unknown) => (isClientError(e) ? e.code : String(e))));
  await tick(5);
  relay.answer(Infinity, (n) => (n === 1 ? new ProtocolError('AUTH') : null));
  assert.equal(await Promise.all(done), ['ok', 'SEND_REJECTED', 'ok']);
  await outbox.close();
  await store.close();
});

test('entries survive a restart and go out in order; close() answers CLOSED; a deleted contact\'s entries are dropped', async () => {
  const records = new MemoryRecords();
  const first = await setup(records);
  const waiting = queue(first.store, first.outbox, 0, 5).map((p) => p.catch((e: unknown) => (isClientError(e) ? e.code : String(e))));
  const other = queue(first.store, first.outbox, 100, 2, 'gone').map((p) => p.catch((e: unknown) => (isClientError(e) ? e.code : String(e))));
  await tick(5);
  const dropOps = first.outbox.dropContact('gone'); // in flight already: they stay
  assert.equal(dropOps, []);
  const closing = first.outbox.close(); // the client closes its connections at the same time
  first.relay.answer(Infinity, () => new Error('connection closed'));
  await closing;
  assert.equal(await Promise.all([...waiting, ...other]), Array(7).fill('CLOSED'));
  await first.store.close();
  const second = await setup(records);
  assert.is(second.outbox.size, 7);
  assert.equal(second.outbox.dropContact('gone').length, 2);
  await second.store.write(second.outbox.dropContact('nobody'));
  second.outbox.kick();
  await tick(5);
  assert.equal(second.relay.sent, [0, 1, 2, 3, 4]);
  second.relay.answer();
  await tick(5);
  assert.is(second.outbox.size, 0);
  await second.outbox.close();
  await second.store.close();
});

test.run();
