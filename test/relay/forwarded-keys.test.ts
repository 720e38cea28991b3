// The store's idempotency keys of forwarded SENDs (spec/federation.md §6) on LMDB: a key
// recorded in the same turn as its envelope commits with it and survives a reopen; the sweep
// reads a slice of the keys per call, goes round them, and forgets only those past their minute.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from '../../src/crypto/index.js';
import { LmdbStore } from '../../src/relay/lmdb-store.js';
import { tempDir } from './_helpers.js';

const record = { readId: randomBytes(32), readKey: randomBytes(32), sendId: randomBytes(32), accessVerifier: randomBytes(32), dk: randomBytes(32), flags: 0, ttlSeconds: 600 };

test('a key written with its envelope is there after a reopen, with the envelope', async () => {
  const dir = tempDir('sealpost-fwd-');
  let store = new LmdbStore({ path: dir.path });
  try {
    await store.createMailbox({ iid: 7, ...record }, 99_999);
    const key = randomBytes(16);
    assert.is(store.forwardSeen(key), false);
    // Issued in one turn: one transaction (spec/protocol.md §11.4).
    await Promise.all([store.enqueue(7, { msgId: 1, expiryMinute: 10, delivered: randomBytes(300) }, 1024), store.recordForward(key, 50)]);
    await store.close();
    store = new LmdbStore({ path: dir.path });
    assert.is(store.forwardSeen(key), true);
    assert.is(store.queueRange(7, 0, 10, 10).length, 1);
    assert.is(store.forwardSeen(randomBytes(16)), false);
  } finally {
    await store.close();
    dir.rm();
  }
});

test('the sweep goes round the keys a slice at a time and forgets only expired ones', async () => {
  const dir = tempDir('sealpost-fwd-');
  const store = new LmdbStore({ path: dir.path });
  try {
    const keys = Array.from({ length: 100 }, (_, i) => ({ key: randomBytes(16), minute: i % 2 === 0 ? 10 : 1_000 }));
    await Promise.all(keys.map((k) => store.recordForward(k.key, k.minute)));
    let removed = 0;
    // 100 keys, 30 per call: four calls read them all (the fourth wraps to the start after).
    for (let i = 0; i < 4; i++) removed += await store.sweepForwards(500, 30);
    assert.is(removed, 50, 'every expired key, once');
    for (const k of keys) assert.is(store.forwardSeen(k.key), k.minute > 500, `minute ${k.minute}`);
    assert.is(await store.sweepForwards(500, 1_000), 0, 'nothing left to forget');
    assert.is(await store.sweepForwards(2_000, 1_000), 50, 'later, the rest');
  } finally {
    await store.close();
    dir.rm();
  }
});

test.run();
