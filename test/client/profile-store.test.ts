// The profile store's conformance suite (spec/client.md §7), run on every RecordBackend: the
// Node LMDB one and the in-memory one (the browser's IndexedDB one joins here). Persistence,
// WRONG_PASSPHRASE, keyed hashes instead of ids, values bound to their keys, group commit,
// one encoding per record per commit, write order, and a failed commit. Plus the parts that
// belong to one platform: the Node profile lock, and the passphrase KDF's checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { derivePassphraseKey, checkScryptParams, fromUtf8, utf8 } from '../../src/crypto/index.js';
import { ProfileStore, type RecordBackend } from '../../src/client/profile-store.js';
import { MemoryRecords } from '../../src/client/memory-records.js';
import { openLmdbRecords } from '../../src/client/node/lmdb-records.js';
import { isClientError, type ClientErrorCode } from '../../src/client/errors.js';
import { cleanup, TEST_KDF, tempDir } from './_helpers.js';

const PASS = 'store test passphrase';

async function expectCode(p: Promise<unknown>, code: ClientErrorCode): Promise<void> {
  try { await p; } catch (e) { assert.ok(isClientError(e, code), String(e)); return; }
  assert.unreachable(`expected ${code}`);
}

interface Kind { readonly name: string; fresh(): { open(): Promise<RecordBackend>; bytesOnDisk(): Buffer[] } }
const KINDS: readonly Kind[] = [
  {
    name: 'lmdb',
    fresh() {
      const dir = tempDir();
      return {
        open: () => openLmdbRecords(dir),
        bytesOnDisk: () => readdirSync(join(dir, 'store')).map((f) => readFileSync(join(dir, 'store', f))),
      };
    },
  },
  {
    name: 'memory',
    fresh() {
      const m = new MemoryRecords();
      return { open: async () => m, bytesOnDisk: () => [...m.entries()].flatMap(([k, v]) => [Buffer.from(k), Buffer.from(v)]) };
    },
  },
];

const text = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : fromUtf8(v));

for (const kind of KINDS) {
  test(`${kind.name}: records persist across reopen; the wrong passphrase is refused; nothing readable is stored`, async () => {
    const where = kind.fresh();
    const s = await ProfileStore.open(await where.open(), { passphrase: PASS, kdf: TEST_KDF });
    assert.ok(s.created);
    await s.write([{ kind: 'contact', id: 'contact-id-123', value: utf8('secret value') }, { kind: 'contact', id: 'x', value: utf8('x') }]);
    await s.write([{ kind: 'contact', id: 'x', value: null }]);
    await s.close();
    await expectCode(where.open().then((b) => ProfileStore.open(b, { passphrase: 'wrong' })), 'WRONG_PASSPHRASE');
    const s2 = await ProfileStore.open(await where.open(), { passphrase: PASS });
    assert.not.ok(s2.created);
    assert.equal(s2.entries('contact').map(([id, v]) => [id, text(v)]), [['contact-id-123', 'secret value']]);
    assert.ok(s2.has('contact', 'contact-id-123'));
    assert.not.ok(s2.has('contact', 'x'));
    await s2.close();
    for (const needle of ['contact-id-123', 'secret value', 'contact']) {
      assert.ok(where.bytesOnDisk().every((b) => b.indexOf(Buffer.from(needle)) < 0), `${needle} is stored in the clear`);
    }
  });

  test(`${kind.name}: a value moved under another key is STORE_CORRUPT`, async () => {
    const where = kind.fresh();
    const s = await ProfileStore.open(await where.open(), { passphrase: PASS, kdf: TEST_KDF });
    await s.write([{ kind: 'k', id: 'a', value: utf8('A') }, { kind: 'k', id: 'b', value: utf8('B') }]);
    await s.close();
    const raw = await where.open();
    const records = [...raw.entries()].filter(([k]) => k.length === 32);
    assert.is(records.length, 2);
    await raw.commit([{ key: records[0]![0], value: records[1]![1] }]);
    await raw.close();
    await expectCode(where.open().then((b) => ProfileStore.open(b, { passphrase: PASS })), 'STORE_CORRUPT');
  });

  test(`${kind.name}: a truncated value is STORE_CORRUPT`, async () => {
    const where = kind.fresh();
    const s = await ProfileStore.open(await where.open(), { passphrase: PASS, kdf: TEST_KDF });
    await s.write([{ kind: 'k', id: 'a', value: utf8('A') }]);
    await s.close();
    const raw = await where.open();
    const [key, value] = [...raw.entries()].find(([k]) => k.length === 32)!;
    await raw.commit([{ key, value: value.subarray(0, 30) }]);
    await raw.close();
    await expectCode(where.open().then((b) => ProfileStore.open(b, { passphrase: PASS })), 'STORE_CORRUPT');
  });

  test(`${kind.name}: group commit: writes made together share one commit, in order, a record encoded once with its newest value`, async () => {
    const where = kind.fresh();
    const s = await ProfileStore.open(await where.open(), { passphrase: PASS, kdf: TEST_KDF });
    const before = s.commits;
    let encoded = 0, state = 0;
    const order: number[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      state = i;
      writes.push(s.write([
        { kind: 'session', id: 'c1', value: () => { encoded++; return utf8(String(state)); } },
        { kind: 'msg', id: String(i), value: utf8(`m${i}`) },
      ]).then(() => { order.push(i); }));
    }
    await Promise.all(writes);
    assert.is(s.commits - before, 1, 'one commit for 50 writes made in one turn');
    assert.is(encoded, 1, 'the session record was encoded once');
    assert.equal(order, [...Array(50).keys()]);
    // While a commit runs, later writes gather into the next one.
    const first = s.write([{ kind: 'a', id: '1', value: utf8('1') }]);
    await Promise.resolve();
    const rest = [2, 3, 4].map((n) => s.write([{ kind: 'a', id: String(n), value: utf8(String(n)) }]));
    await Promise.all([first, ...rest]);
    assert.ok(s.commits - before <= 3, `commits: ${s.commits - before}`);
    await s.close();
    const s2 = await ProfileStore.open(await where.open(), { passphrase: PASS });
    assert.is(text(s2.get('session', 'c1')), '49');
    assert.is(s2.entries('msg').length, 50);
    assert.is(s2.entries('a').length, 4);
    await s2.close();
  });

  test(`${kind.name}: a deferred change rides with the next commit, or lands by itself within a second, or at close`, async () => {
    const where = kind.fresh();
    const s = await ProfileStore.open(await where.open(), { passphrase: PASS, kdf: TEST_KDF });
    const before = s.commits;
    s.defer([{ kind: 'd', id: '1', value: utf8('one') }]);
    assert.is(text(s.get('d', '1')), 'one', 'memory changes at once');
    await s.write([{ kind: 'w', id: '1', value: utf8('w') }]);
    assert.is(s.commits - before, 1, 'the deferred change rode with the write');
    s.defer([{ kind: 'd', id: '2', value: utf8('two') }]);
    await new Promise((r) => setTimeout(r, 1_300));
    assert.is(s.commits - before, 2, 'a deferred change alone commits within a second');
    s.defer([{ kind: 'd', id: '3', value: utf8('three') }]);
    await s.close();
    const s2 = await ProfileStore.open(await where.open(), { passphrase: PASS });
    assert.equal(s2.entries('d').map(([id, v]) => [id, text(v)]).sort(), [['1', 'one'], ['2', 'two'], ['3', 'three']]);
    await s2.close();
  });

  test(`${kind.name}: the record format is the backend's business alone: records copied to another backend open there`, async () => {
    const where = kind.fresh();
    const s = await ProfileStore.open(await where.open(), { passphrase: PASS, kdf: TEST_KDF });
    await s.write([{ kind: 'k', id: 'a', value: utf8('A') }]);
    await s.close();
    const raw = await where.open();
    const copy = new MemoryRecords();
    await copy.commit([...raw.entries()].map(([key, value]) => ({ key, value })));
    await raw.close();
    const s2 = await ProfileStore.open(copy, { passphrase: PASS });
    assert.is(text(s2.get('k', 'a')), 'A');
    await s2.close();
  });
}

test('memory: a failed commit rejects its writes and every later one with STORE_FAILED, and reports once', async () => {
  const m = new MemoryRecords();
  const s = await ProfileStore.open(m, { passphrase: PASS, kdf: TEST_KDF });
  await s.write([{ kind: 'k', id: 'a', value: utf8('A') }]);
  const failures: unknown[] = [];
  s.onFailure = (e) => failures.push(e);
  m.failCommits = new Error('ENOSPC: no space left on device');
  const w = [s.write([{ kind: 'k', id: 'b', value: utf8('B') }]), s.write([{ kind: 'k', id: 'c', value: utf8('C') }])];
  for (const p of w) await expectCode(p, 'STORE_FAILED');
  await expectCode(s.write([{ kind: 'k', id: 'd', value: utf8('D') }]), 'STORE_FAILED');
  assert.is(failures.length, 1);
  await s.close();
  assert.ok(m.closed);
  m.failCommits = null;
  const s2 = await ProfileStore.open(m, { passphrase: PASS });
  assert.equal(s2.entries('k').map(([id]) => id), ['a'], 'nothing of the failed commit was applied');
  await s2.close();
});

test('lmdb: the profile lock refuses a second open while the first is live', async () => {
  const dir = tempDir();
  const s = await ProfileStore.open(await openLmdbRecords(dir), { passphrase: PASS, kdf: TEST_KDF });
  await expectCode(openLmdbRecords(dir), 'PROFILE_LOCKED');
  await s.close();
  const again = await openLmdbRecords(dir);
  await again.close();
});

test('passphrase KDF: deterministic, salt- and passphrase-sensitive, parameters checked', async () => {
  const salt = new Uint8Array(16).fill(1);
  const a = await derivePassphraseKey('pw', salt, TEST_KDF);
  const b = await derivePassphraseKey('pw', salt, TEST_KDF);
  assert.equal([...a], [...b]);
  assert.is(a.length, 32);
  assert.is.not(Buffer.from(await derivePassphraseKey('pw2', salt, TEST_KDF)).toString('hex'), Buffer.from(a).toString('hex'));
  assert.is.not(Buffer.from(await derivePassphraseKey('pw', new Uint8Array(16).fill(2), TEST_KDF)).toString('hex'), Buffer.from(a).toString('hex'));
  // NFC: the composed and decomposed forms of é give one key.
  assert.equal([...await derivePassphraseKey('\u00e9', salt, TEST_KDF)], [...await derivePassphraseKey('e\u0301', salt, TEST_KDF)]);
  for (const bad of [{ N: 1000, r: 8, p: 1 }, { N: 512, r: 8, p: 1 }, { N: 1024, r: 0, p: 1 }, { N: 1024, r: 8, p: 17 }]) {
    assert.throws(() => checkScryptParams(bad));
  }
  await derivePassphraseKey('', salt, TEST_KDF).then(() => assert.unreachable('empty passphrase'), () => undefined);
});

test.after(cleanup);
test.run();
