// The store conformance suite (spec/protocol.md §11, spec/scale-out.md §2): every behaviour the
// relay relies on from a Store, whatever holds the data. Each implementation runs it from its
// own store-conformance-*.test.ts with a factory. Reads are awaited, so a store may answer
// them at once (LMDB) or later (a networked store). `shared` stores are also checked for the
// transactional writes that several relay processes rely on (appendEnvelope and the conflicts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from '../../src/crypto/index.js';
import { DELIVERY_OVERHEAD } from '../../src/wire/constants.js';
import { startWrite, StoreConflictError, StoreError, type AppendRequest, type ForwardKey, type MailboxRecord, type Store } from '../../src/relay/store.js';

export interface StoreUnderTest {
  /** A new, empty store; `another` opens one more on the same data, as a second relay process would (shared stores). */
  open(): Promise<{ store: Store; reopen(): Promise<Store>; another?: (() => Promise<Store>) | undefined; dispose(): Promise<void> }>;
  /** Opened for several processes: appendEnvelope, and writes that check what others committed. */
  readonly shared: boolean;
}

const ZERO = new Uint8Array(32);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** A record with its byte fields as hex: stores may hand back views or copies. */
const plain = (r: MailboxRecord | undefined): unknown => r && { ...r, readId: hex(r.readId), readKey: hex(r.readKey), sendId: hex(r.sendId), accessVerifier: hex(r.accessVerifier), dk: hex(r.dk) };

export function record(iid: number, opts: { public?: boolean } = {}): MailboxRecord {
  return {
    iid, readId: randomBytes(32), readKey: randomBytes(32), sendId: randomBytes(32),
    accessVerifier: opts.public ? ZERO : randomBytes(32), dk: randomBytes(32), flags: opts.public ? 1 : 0, ttlSeconds: 3600,
  };
}

/** A delivered form of `n` envelope bytes (what the relay stores), tagged with `tag`. */
function delivered(tag: number, n = 256): Uint8Array {
  const d = randomBytes(n + DELIVERY_OVERHEAD);
  new DataView(d.buffer).setUint32(0, tag);
  return d;
}
const tagOf = (d: Uint8Array): number => new DataView(d.buffer, d.byteOffset, 4).getUint32(0);

const request = (r: MailboxRecord, tag: number, over: Partial<AppendRequest> = {}): AppendRequest => ({
  expiryMinute: 1000 + tag, accessVerifier: r.accessVerifier, maxEnvelopes: 100, maxBytes: 1 << 20, envelopeBytes: 256,
  seal: () => delivered(tag), ...over,
});

/** Queues envelopes tagged `tags` the way the relay does on this kind of store; resolves with their msgIds. */
async function queue(store: Store, shared: boolean, r: MailboxRecord, tags: number[], firstMsgId = 1): Promise<number[]> {
  if (shared) return Promise.all(tags.map((t) => store.appendEnvelope(r.iid, request(r, t)).then((a) => a.msgId)));
  await Promise.all(tags.map((t, i) => store.enqueue(r.iid, { msgId: firstMsgId + i, expiryMinute: 1000 + t, delivered: delivered(t) }, i === 0 ? firstMsgId + 1024 : null)));
  return tags.map((_, i) => firstMsgId + i);
}

/** Queues one envelope with a forwarded SEND's idempotency key the way the relay does on this kind of store (spec/federation.md §6). */
function queueForwarded(store: Store, shared: boolean, r: MailboxRecord, tag: number, forward: ForwardKey, over: Partial<AppendRequest> = {}): Promise<unknown> {
  if (shared) return startWrite(() => store.appendEnvelope(r.iid, request(r, tag, { maxEnvelopes: 1_000, forward, ...over })));
  // One turn, one transaction (spec/protocol.md §11.4).
  return Promise.all([store.enqueue(r.iid, { msgId: tag, expiryMinute: 1000 + tag, delivered: delivered(tag) }, tag + 1024), store.recordForward!(forward.key, forward.expiryMinute)]);
}

const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => null, (e: unknown) => e);

type Case = (store: Store, reopen: () => Promise<Store>, another: () => Promise<Store>) => Promise<void>;

/** A conformance case: a fresh store from `impl` (and, if shared, a second on the same data), disposed of whatever the case does. */
function caseOf(name: string, impl: StoreUnderTest): (title: string, fn: Case) => void {
  return (title, fn) => {
    test(`${name}: ${title}`, async () => {
      const { store, reopen, another, dispose } = await impl.open();
      try {
        await fn(store, reopen, another ?? (() => Promise.reject(new Error('this store is not opened shared'))));
      } finally {
        await dispose();
      }
    });
  };
}

export function storeConformance(name: string, impl: StoreUnderTest): void {
  const it = caseOf(name, impl);

  it('CREATE: the record is found by readId, sendId and iid; unknown ids are not', async (store) => {
    const r = record(42);
    await store.createMailbox(r, 20_000);
    assert.is(await store.findByReadId(r.readId), 42);
    assert.is(await store.findBySendId(r.sendId), 42);
    assert.is(await store.hasMailbox(42), true);
    assert.equal(plain(await store.getMailbox(42)), plain(r));
    const loaded = await store.loadMailbox(42);
    assert.equal(plain(loaded?.record), plain(r));
    assert.equal(loaded?.stats, { count: 0, deliveredBytes: 0, lastMsgId: 0 });
    assert.is(loaded?.expiryDay, 20_000);
    assert.is(await store.findByReadId(randomBytes(32)), undefined);
    assert.is(await store.findBySendId(r.readId), undefined, 'a readId is not a sendId');
    assert.is(await store.hasMailbox(43), false);
    assert.is(await store.getMailbox(43), undefined);
    assert.is(await store.loadMailbox(43), undefined);
    assert.equal(await store.counts(), { mailboxes: 1, envelopes: 0 });
  });

  it('queue: entries in msgId order, ranges and limits, sizes, stats, counts', async (store) => {
    const r = record(7);
    await store.createMailbox(r, 20_000);
    const ids = await queue(store, impl.shared, r, [1, 2, 3, 4, 5]);
    assert.equal(ids, [...ids].sort((a, b) => a - b), 'increasing msgIds');
    assert.is(new Set(ids).size, 5);
    const all = await store.queueRange(7, 0, Number.MAX_SAFE_INTEGER, 100);
    assert.equal(all.map((e) => e.msgId), ids);
    assert.equal(all.map((e) => tagOf(e.delivered)), [1, 2, 3, 4, 5]);
    assert.equal((await store.queueRange(7, ids[1]!, ids[3]!, 100)).map((e) => e.msgId), [ids[2], ids[3]]);
    assert.equal((await store.queueRange(7, 0, Number.MAX_SAFE_INTEGER, 2)).map((e) => e.msgId), ids.slice(0, 2));
    assert.equal(await store.queueRange(7, 0, Number.MAX_SAFE_INTEGER, 0), []);
    assert.equal(await store.queueEntryInfo(7, ids[0]!), { deliveredBytes: 256 + DELIVERY_OVERHEAD, expiryMinute: 1001 });
    assert.is(await store.queueEntryInfo(7, ids[4]! + 1), undefined);
    assert.equal(await store.queueStats(7), { count: 5, deliveredBytes: 5 * (256 + DELIVERY_OVERHEAD), lastMsgId: ids[4]! });
    assert.equal(await store.counts(), { mailboxes: 1, envelopes: 5 });
    assert.ok((await store.loadMailbox(7))!.ceiling > ids[4]!, 'the ceiling is above every msgId assigned');
  });

  it('dequeue: removes entries and their expiry entries; missing ones are ignored', async (store) => {
    const r = record(8);
    await store.createMailbox(r, 20_000);
    const ids = await queue(store, impl.shared, r, [1, 2, 3]);
    await store.dequeue([{ iid: 8, msgId: ids[0]!, expiryMinute: 1001 }, { iid: 8, msgId: 999_999, expiryMinute: 5 }]);
    assert.equal((await store.queueRange(8, 0, Number.MAX_SAFE_INTEGER, 10)).map((e) => e.msgId), ids.slice(1));
    assert.equal((await store.expired(1_000_000, 10)).map((x) => x.msgId), ids.slice(1), 'the expiry index follows');
    await store.dequeue([{ iid: 8, msgId: ids[0]!, expiryMinute: 1001 }]); // twice: nothing happens
    assert.is((await store.queueStats(8)).count, 2);
  });

  it('expiry index: oldest first, up to the minute, at most `limit`', async (store) => {
    const a = record(1), b = record(2);
    await store.createMailbox(a, 20_000);
    await store.createMailbox(b, 20_000);
    await queue(store, impl.shared, a, [30, 10]);
    await queue(store, impl.shared, b, [20], 1);
    assert.equal((await store.expired(1020, 10)).map((x) => [x.expiryMinute, x.iid]), [[1010, 1], [1020, 2]]);
    assert.equal((await store.expired(1_000_000, 1)).map((x) => x.expiryMinute), [1010]);
    assert.equal(await store.expired(1009, 10), []);
  });

  it('msgIds are never reused: after the queue empties and after a reopen', async (store, reopen) => {
    const r = record(9);
    await store.createMailbox(r, 20_000);
    const first = await queue(store, impl.shared, r, [1, 2]);
    await store.dequeue(first.map((msgId, i) => ({ iid: 9, msgId, expiryMinute: 1001 + i })));
    const ceiling = (await store.loadMailbox(9))!.ceiling;
    assert.ok(ceiling > first[1]!);
    const again = await reopen();
    assert.ok((await again.loadMailbox(9))!.ceiling >= ceiling, 'the ceiling survives');
    if (impl.shared) {
      const next = await again.appendEnvelope(9, request(r, 3));
      assert.ok(next.msgId > first[1]!);
    }
  });

  it('ROTATE: one transaction re-seals every queued envelope, moves the read index, keeps the sendId', async (store) => {
    const r = record(11);
    await store.createMailbox(r, 20_000);
    const ids = await queue(store, impl.shared, r, [1, 2, 3]);
    const next: MailboxRecord = { ...r, readId: randomBytes(32), readKey: randomBytes(32), accessVerifier: randomBytes(32), dk: randomBytes(32) };
    const seen: number[] = [];
    await store.rotateMailbox(r, next, (msgId, d) => { seen.push(msgId); const out = d.slice(); out[4] = out[4]! ^ 0xff; return out; });
    assert.equal(seen, ids, 'every queued envelope re-sealed, in order');
    assert.is(await store.findByReadId(r.readId), undefined);
    assert.is(await store.findByReadId(next.readId), 11);
    assert.is(await store.findBySendId(r.sendId), 11);
    assert.equal(plain(await store.getMailbox(11)), plain(next));
    const after = await store.queueRange(11, 0, Number.MAX_SAFE_INTEGER, 10);
    assert.equal(after.map((e) => tagOf(e.delivered)), [1, 2, 3], 'same envelopes, same msgIds');
    // A re-seal that throws leaves everything as it was.
    const third: MailboxRecord = { ...next, readId: randomBytes(32) };
    const failed = await store.rotateMailbox(next, third, () => { throw new Error('reseal failed'); }).then(() => null, (e: unknown) => e);
    assert.ok(failed, 'the rotate failed');
    assert.is(await store.findByReadId(next.readId), 11);
    assert.is(await store.findByReadId(third.readId), undefined);
    assert.equal((await store.queueRange(11, 0, Number.MAX_SAFE_INTEGER, 10)).map((e) => hex(e.delivered)), after.map((e) => hex(e.delivered)));
  });

  it('DEL: one transaction removes the record, both ids, the queue, its expiry entries and the mailbox expiry', async (store) => {
    const r = record(12), other = record(13);
    await store.createMailbox(r, 20_000);
    await store.createMailbox(other, 20_000);
    await queue(store, impl.shared, r, [1, 2]);
    await queue(store, impl.shared, other, [5]);
    assert.is(await store.deleteMailbox(r), 2);
    assert.is(await store.findByReadId(r.readId), undefined);
    assert.is(await store.findBySendId(r.sendId), undefined);
    assert.is(await store.hasMailbox(12), false);
    assert.equal(await store.queueRange(12, 0, Number.MAX_SAFE_INTEGER, 10), []);
    assert.equal((await store.expired(1_000_000, 10)).map((x) => x.iid), [13]);
    assert.equal((await store.expiredMailboxes(30_000, 10)).map((x) => x.iid), [13]);
    assert.equal(await store.counts(), { mailboxes: 1, envelopes: 1 });
  });

  it('mailbox expiry: listed once its day has passed, oldest first; moved by use', async (store) => {
    const a = record(21), b = record(22);
    await store.createMailbox(a, 100);
    await store.createMailbox(b, 50);
    assert.equal(await store.expiredMailboxes(101, 10), [{ expiryDay: 50, iid: 22 }, { expiryDay: 100, iid: 21 }]);
    assert.equal(await store.expiredMailboxes(100, 10), [{ expiryDay: 50, iid: 22 }]);
    await store.setMailboxExpiry(22, 200);
    assert.equal(await store.expiredMailboxes(101, 10), [{ expiryDay: 100, iid: 21 }]);
    assert.is((await store.loadMailbox(22))!.expiryDay, 200);
  });

  it('durable: what a write resolved is there after the store is closed and opened again', async (store, reopen) => {
    const r = record(31);
    await store.createMailbox(r, 20_000);
    await queue(store, impl.shared, r, [1, 2, 3]);
    const again = await reopen();
    assert.is(await again.findBySendId(r.sendId), 31);
    assert.equal((await again.queueRange(31, 0, Number.MAX_SAFE_INTEGER, 10)).map((e) => tagOf(e.delivered)), [1, 2, 3]);
  });

  it('a write the store cannot make rejects with a StoreError and changes nothing', async (store, reopen) => {
    const r = record(41);
    await store.createMailbox(r, 20_000);
    await store.close();
    // The relay starts every write with startWrite: a store may throw at once or reject.
    const e = await startWrite(() => store.createMailbox(record(42), 20_000)).then(() => null, (x: unknown) => x);
    assert.ok(e instanceof StoreError, 'StoreError');
    const e2 = await startWrite<unknown>(() => (impl.shared ? store.appendEnvelope(41, request(r, 1)) : store.enqueue(41, { msgId: 1, expiryMinute: 1, delivered: delivered(1) }, 1024))).then(() => null, (x: unknown) => x);
    assert.ok(e2 instanceof StoreError, 'StoreError');
    const again = await reopen();
    assert.is(await again.hasMailbox(42), false);
    assert.equal(await again.queueRange(41, 0, Number.MAX_SAFE_INTEGER, 10), []);
  });

  it('CREATE with a token spends it in the same transaction: SPENT the second time, and a refused CREATE spends nothing', async (store, reopen) => {
    const id = randomBytes(32);
    const spend = { epoch: 7, spentId: id };
    await store.createMailbox(record(61), 20_000, spend);
    const twice = await store.createMailbox(record(62), 20_000, spend).then(() => null, (e: unknown) => e);
    assert.ok(twice instanceof StoreConflictError && twice.code === 'SPENT', String(twice));
    assert.is(await store.hasMailbox(62), false, 'nothing written');
    // The same id in another epoch is another token.
    await store.createMailbox(record(63), 20_000, { epoch: 8, spentId: id });
    // Two CREATEs issued together with one token: one mailbox.
    const other = { epoch: 7, spentId: randomBytes(32) };
    const both = await Promise.allSettled([store.createMailbox(record(64), 20_000, other), store.createMailbox(record(65), 20_000, other)]);
    assert.is(both.filter((r) => r.status === 'fulfilled').length, 1);
    assert.is(Number(await store.hasMailbox(64)) + Number(await store.hasMailbox(65)), 1);
    if (impl.shared) {
      // A DUPLICATE (checked in the transaction on shared stores) leaves its token unspent.
      const fresh = { epoch: 7, spentId: randomBytes(32) };
      const dup = await store.createMailbox({ ...record(66), readId: (await store.getMailbox(61))!.readId }, 20_000, fresh).then(() => null, (e: unknown) => e);
      assert.ok(dup instanceof StoreConflictError && dup.code === 'DUPLICATE', String(dup));
      await store.createMailbox(record(67), 20_000, fresh);
    }
    assert.equal(await store.spentEpochs(), [7, 8]);
    const again = await reopen();
    assert.is(await again.spentCount(7), impl.shared ? 3 : 2, 'durable');
    const after = await again.createMailbox(record(68), 20_000, spend).then(() => null, (e: unknown) => e);
    assert.ok(after instanceof StoreConflictError && after.code === 'SPENT', 'still spent after reopening');
    assert.is(await again.dropSpentEpoch(7), impl.shared ? 3 : 2);
    assert.equal(await again.spentEpochs(), [8]);
    assert.is(await again.spentCount(7), 0);
    await again.createMailbox(record(69), 20_000, spend); // a dropped epoch's ids are forgotten
    assert.is(await again.hasMailbox(61), true, 'dropping an epoch leaves the mailboxes');
  });

  it('forwarded: a key committed with its envelope is there after a reopen, with the envelope, once', async (store, reopen) => {
    const r = record(71);
    await store.createMailbox(r, 20_000);
    const key = randomBytes(16);
    assert.is(await store.forwardSeen!(key), false);
    await queueForwarded(store, impl.shared, r, 1, { key, expiryMinute: 50 });
    const again = await reopen();
    assert.is(await again.forwardSeen!(key), true);
    assert.is(await again.forwardSeen!(randomBytes(16)), false);
    if (impl.shared) {
      const retry = await failure(queueForwarded(again, true, r, 2, { key, expiryMinute: 50 }));
      assert.is((retry as StoreConflictError).code, 'DUPLICATE', 'a retry after the commit');
    }
    assert.equal((await again.queueRange(71, 0, Number.MAX_SAFE_INTEGER, 10)).map((e) => tagOf(e.delivered)), [1]);
  });

  it('forwarded: the sweep forgets only keys past their minute, a slice per call', async (store) => {
    const r = record(72);
    await store.createMailbox(r, 20_000);
    const keys = Array.from({ length: 100 }, (_, i) => ({ key: randomBytes(16), expiryMinute: i % 2 === 0 ? 10 : 1_000 }));
    await Promise.all(keys.map((k, i) => queueForwarded(store, impl.shared, r, i + 1, k)));
    const slices: number[] = [];
    for (let i = 0; i < 4; i++) slices.push(await store.sweepForwards!(500, 30));
    assert.ok(slices.every((n) => n <= 30), `at most a slice per call: ${slices.join(' ')}`);
    assert.is(slices.reduce((a, b) => a + b, 0), 50, 'every expired key, once');
    for (const k of keys) assert.is(await store.forwardSeen!(k.key), k.expiryMinute > 500, `minute ${k.expiryMinute}`);
    assert.is(await store.sweepForwards!(500, 1_000), 0, 'nothing left to forget');
    assert.is(await store.sweepForwards!(2_000, 1_000), 50, 'later, the rest');
    assert.is((await store.queueStats(72)).count, 100, 'the sweep leaves the envelopes');
  });

  if (!impl.shared) return;

  it('shared, forwarded: one SEND per key commits when the same key arrives at once on two processes', async (store, _reopen, another) => {
    const r = record(73);
    await store.createMailbox(r, 20_000);
    const other = await another();
    for (let round = 0; round < 5; round++) {
      const key = randomBytes(16);
      // Two per process: two in one batch, and the batches of both processes at the same time.
      const outcomes = await Promise.all([store, other, store, other].map((s, i) => failure(queueForwarded(s, true, r, 10 * round + i, { key, expiryMinute: 50 }))));
      assert.is(outcomes.filter((o) => o === null).length, 1, `round ${round}: exactly one commits`);
      for (const o of outcomes) if (o !== null) assert.is((o as StoreConflictError).code, 'DUPLICATE');
      assert.is(await other.forwardSeen!(key), true);
    }
    assert.is((await store.queueStats(73)).count, 5, 'one envelope per key');
  });

  it('shared, forwarded: a refused SEND records no key, and its retry commits', async (store) => {
    const r = record(74);
    await store.createMailbox(r, 20_000);
    const key = randomBytes(16);
    const quota = await failure(queueForwarded(store, true, r, 1, { key, expiryMinute: 50 }, { maxEnvelopes: 0 }));
    assert.is((quota as StoreConflictError).code, 'QUOTA');
    const gone = await failure(queueForwarded(store, true, r, 2, { key, expiryMinute: 50 }, { accessVerifier: randomBytes(32) }));
    assert.is((gone as StoreConflictError).code, 'GONE');
    const seal = await failure(queueForwarded(store, true, r, 3, { key, expiryMinute: 50 }, { seal: () => { throw new Error('no seal'); } }));
    assert.instance(seal, StoreError);
    assert.is(await store.forwardSeen!(key), false, 'no key for a refused SEND');
    // A refused SEND and its retry in one batch: the retry takes the key.
    const both = await Promise.all([
      failure(queueForwarded(store, true, r, 4, { key, expiryMinute: 50 }, { maxEnvelopes: 0 })),
      failure(queueForwarded(store, true, r, 5, { key, expiryMinute: 50 })),
    ]);
    assert.is((both[0] as StoreConflictError).code, 'QUOTA');
    assert.is(both[1], null);
    assert.is(await store.forwardSeen!(key), true);
    assert.equal((await store.queueRange(74, 0, Number.MAX_SAFE_INTEGER, 10)).map((e) => tagOf(e.delivered)), [5]);
  });

  it('shared: appends issued together get increasing msgIds in issue order, sealed with the stored dk', async (store) => {
    const r = record(51);
    await store.createMailbox(r, 20_000);
    const dks: Uint8Array[] = [];
    const got = await Promise.all([1, 2, 3, 4].map((t) => store.appendEnvelope(51, request(r, t, { seal: (_msgId, dk) => { dks.push(dk); return delivered(t); } }))));
    const ids = got.map((a) => a.msgId);
    assert.equal(ids, [...ids].sort((a, b) => a - b));
    for (const dk of dks) assert.is(hex(dk), hex(r.dk));
    assert.equal((await store.queueRange(51, 0, Number.MAX_SAFE_INTEGER, 10)).map((e) => hex(e.delivered)), got.map((a) => hex(a.delivered)));
  });

  it('shared: the quota is checked in the transaction (QUOTA, nothing written); removals make room', async (store) => {
    const r = record(52);
    await store.createMailbox(r, 20_000);
    const results = await Promise.all([1, 2, 3, 4].map((t) => store.appendEnvelope(52, request(r, t, { maxEnvelopes: 3 })).then((a) => a.msgId, (e: unknown) => e)));
    const refused = results.filter((x) => x instanceof StoreConflictError);
    assert.is(refused.length, 1);
    assert.is((refused[0] as StoreConflictError).code, 'QUOTA');
    assert.is((await store.queueStats(52)).count, 3);
    const bytes = await store.appendEnvelope(52, request(r, 5, { maxEnvelopes: 10, maxBytes: 3 * 256 })).then(() => null, (e: unknown) => e);
    assert.is((bytes as StoreConflictError).code, 'QUOTA', 'the byte quota too');
    const first = results[0] as number;
    await store.dequeue([{ iid: 52, msgId: first, expiryMinute: 1001 }]);
    await store.appendEnvelope(52, request(r, 6, { maxEnvelopes: 3 }));
  });

  it('shared: GONE for an append with another verifier or to a deleted mailbox; DUPLICATE for a taken id', async (store) => {
    const r = record(53);
    await store.createMailbox(r, 20_000);
    const stale = await store.appendEnvelope(53, request(r, 1, { accessVerifier: randomBytes(32) })).then(() => null, (e: unknown) => e);
    assert.is((stale as StoreConflictError).code, 'GONE');
    const dup = await store.createMailbox({ ...record(54), readId: r.readId }, 20_000).then(() => null, (e: unknown) => e);
    assert.is((dup as StoreConflictError).code, 'DUPLICATE');
    assert.is(await store.hasMailbox(54), false);
    const rotatedAway: MailboxRecord = { ...r, readId: randomBytes(32) };
    await store.rotateMailbox(r, rotatedAway, (_m, d) => d);
    const late = await store.rotateMailbox(r, { ...r, readId: randomBytes(32) }, (_m, d) => d).then(() => null, (e: unknown) => e);
    assert.is((late as StoreConflictError).code, 'GONE', 'a ROTATE of a readId that is no longer there');
    await store.deleteMailbox(rotatedAway);
    const gone = await store.appendEnvelope(53, request(r, 2)).then(() => null, (e: unknown) => e);
    assert.is((gone as StoreConflictError).code, 'GONE');
    const twice = await store.deleteMailbox(rotatedAway).then(() => null, (e: unknown) => e);
    assert.is((twice as StoreConflictError).code, 'GONE');
  });
}

/** Batched commits (spec/protocol.md §11.7): the cases a store that groups SENDs must get right. */
export function batchConformance(name: string, impl: StoreUnderTest): void {
  const it = caseOf(name, impl);

  it('batch: SENDs issued together, some refused (QUOTA, GONE, a failing seal), commit the others in issue order', async (store) => {
    const a = record(61), b = record(62), gone = record(63);
    for (const r of [a, b, gone]) await store.createMailbox(r, 20_000);
    await store.deleteMailbox(gone);
    const settle = (p: Promise<{ msgId: number }>): Promise<number | unknown> => p.then((x) => x.msgId, (e: unknown) => e);
    // Issued in one turn: one batch on a store that groups them.
    const results = await Promise.all([
      settle(store.appendEnvelope(61, request(a, 1, { maxEnvelopes: 3 }))),
      settle(store.appendEnvelope(62, request(b, 2))),
      settle(store.appendEnvelope(63, request(gone, 3))),
      settle(store.appendEnvelope(61, request(a, 4, { maxEnvelopes: 3, seal: () => { throw new Error('seal failed'); } }))),
      settle(store.appendEnvelope(61, request(a, 5, { maxEnvelopes: 3 }))),
      settle(store.appendEnvelope(62, request(b, 6, { accessVerifier: randomBytes(32) }))),
      settle(store.appendEnvelope(61, request(a, 7, { maxEnvelopes: 3 }))),
      settle(store.appendEnvelope(61, request(a, 8, { maxEnvelopes: 3 }))),
      settle(store.appendEnvelope(62, request(b, 9))),
    ]);
    const code = (x: unknown): string => (x instanceof StoreConflictError ? x.code : x instanceof StoreError ? 'STORE' : typeof x);
    assert.equal(results.map(code), ['number', 'number', 'GONE', 'STORE', 'number', 'GONE', 'number', 'QUOTA', 'number']);
    const ids = (tags: number[]): number[] => tags.map((t) => results[t - 1] as number);
    assert.equal(ids([1, 5, 7]), [...ids([1, 5, 7])].sort((x, y) => x - y), 'msgIds in issue order');
    assert.equal(ids([2, 9]), [...ids([2, 9])].sort((x, y) => x - y));
    assert.equal((await store.queueRange(61, 0, Number.MAX_SAFE_INTEGER, 10)).map((e) => [e.msgId, tagOf(e.delivered)]), [1, 5, 7].map((t) => [results[t - 1], t]));
    assert.equal((await store.queueRange(62, 0, Number.MAX_SAFE_INTEGER, 10)).map((e) => tagOf(e.delivered)), [2, 9]);
    assert.equal((await store.queueStats(61)).count, 3, 'the failed seal and the refusals are not counted');
    // The counters are right: after one removal there is room for exactly one more.
    await store.dequeue([{ iid: 61, msgId: results[0] as number, expiryMinute: 1001 }]);
    assert.is(code(await settle(store.appendEnvelope(61, request(a, 10, { maxEnvelopes: 3 })))), 'number');
    assert.is(code(await settle(store.appendEnvelope(61, request(a, 11, { maxEnvelopes: 3 })))), 'QUOTA');
  });

  it('batch: a store closed while batches are out keeps every SEND it resolved, with its msgId, and no refused one', async (store, reopen) => {
    const r = record(71);
    await store.createMailbox(r, 20_000);
    const outcomes = new Map<number, number | unknown>();
    const issue = (tags: number[]): Array<Promise<void>> => tags.map((t) => startWrite(() => store.appendEnvelope(71, request(r, t, { maxEnvelopes: 150 })))
      .then((x) => { outcomes.set(t, x.msgId); }, (e: unknown) => { outcomes.set(t, e); }));
    const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
    const first = issue(range(1, 100));
    await new Promise((res) => setImmediate(res));
    const second = issue(range(101, 100)); // partly over the quota: refused in their batch
    const closing = store.close();
    const third = issue(range(201, 20)); // after close began: refused at once or stored
    await Promise.all([...first, ...second, ...third, closing]);
    const again = await reopen();
    const stored = new Map((await again.queueRange(71, 0, Number.MAX_SAFE_INTEGER, 1000)).map((e) => [tagOf(e.delivered), e.msgId]));
    let resolved = 0;
    for (const [tag, o] of outcomes) {
      if (typeof o === 'number') { resolved++; assert.is(stored.get(tag), o, `SEND ${tag} answered OK is stored with its msgId`); }
      else if (o instanceof StoreConflictError) assert.not.ok(stored.has(tag), `SEND ${tag} refused is not stored`);
    }
    assert.ok(resolved >= 100, 'the first wave was committed');
    assert.ok(stored.size <= 150, 'the quota held');
    const ids = [...stored.values()];
    assert.is(new Set(ids).size, ids.length, 'no msgId given twice');
  });
}
