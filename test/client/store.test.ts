// The encrypted local store (spec/client.md §7): persistence, WRONG_PASSPHRASE, keyed
// hashes instead of ids in LMDB keys, values bound to their keys, the profile lock, and
// the passphrase KDF's parameter checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { derivePassphraseKey, checkScryptParams, utf8 } from '../../src/crypto/index.js';
import { LocalStore } from '../../src/client/store.js';
import { isClientError } from '../../src/client/errors.js';
import { cleanup, TEST_KDF, tempDir } from './_helpers.js';

const PASS = 'store test passphrase';

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  try { await p; } catch (e) { assert.ok(isClientError(e, code as never), String(e)); return; }
  assert.unreachable(`expected ${code}`);
}

test('records persist across reopen; the wrong passphrase is refused before any record is read', async () => {
  const dir = tempDir();
  const s = await LocalStore.open({ dir, passphrase: PASS, kdf: TEST_KDF });
  assert.ok(s.created);
  await s.write([{ kind: 'contact', id: 'contact-id-123', value: utf8('secret value') }, { kind: 'contact', id: 'x', value: utf8('x') }]);
  await s.write([{ kind: 'contact', id: 'x', value: null }]);
  await expectCode(LocalStore.open({ dir, passphrase: PASS, kdf: TEST_KDF }), 'PROFILE_LOCKED');
  await s.close();
  await expectCode(LocalStore.open({ dir, passphrase: 'wrong', kdf: TEST_KDF }), 'WRONG_PASSPHRASE');
  const s2 = await LocalStore.open({ dir, passphrase: PASS });
  assert.not.ok(s2.created);
  assert.equal(s2.entries('contact').map(([id, v]) => [id, Buffer.from(v).toString()]), [['contact-id-123', 'secret value']]);
  await s2.close();
  // Nothing of the ids, kinds or values appears in the files.
  const files = readdirSync(join(dir, 'store')).map((f) => readFileSync(join(dir, 'store', f)));
  for (const needle of ['contact-id-123', 'secret value', 'contact']) {
    assert.ok(files.every((b) => b.indexOf(Buffer.from(needle)) < 0), `${needle} is in the store files`);
  }
});

test('a value moved under another key is STORE_CORRUPT', async () => {
  const dir = tempDir();
  const s = await LocalStore.open({ dir, passphrase: PASS, kdf: TEST_KDF });
  await s.write([{ kind: 'k', id: 'a', value: utf8('A') }, { kind: 'k', id: 'b', value: utf8('B') }]);
  await s.close();
  const root = open({ path: join(dir, 'store'), maxDbs: 2 } as Parameters<typeof open>[0]);
  const db = root.openDB<Uint8Array, Uint8Array>({ name: 'records', encoding: 'binary', keyEncoding: 'binary' });
  const entries = [...db.getRange({})].filter((e) => (e.key as Uint8Array).length === 32);
  assert.is(entries.length, 2);
  await db.put(entries[0]!.key as Buffer, entries[1]!.value);
  await root.close();
  await expectCode(LocalStore.open({ dir, passphrase: PASS }), 'STORE_CORRUPT');
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
