// The §2.1.2 variable-length integer (src/mls/tls.ts) against the MLS working group's
// deserialization vectors: every header decodes to its length and re-encodes identically.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MlsError } from '../../src/mls/errors.js';
import { TlsReader, TlsWriter, decode } from '../../src/mls/tls.js';
import { hex, readJson, toHexString } from '../_support/files.js';

interface Case { vlbytes_header: string; length: number }
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'deserialization.json');

test('every deserialization case: the header decodes to its length and re-encodes identically', () => {
  let checked = 0;
  for (const c of cases) {
    assert.is(decode((r) => r.varint(), hex(c.vlbytes_header), 'varint'), c.length, c.vlbytes_header);
    assert.is(toHexString(new TlsWriter().varint(c.length).finish()), c.vlbytes_header, `${c.length}`);
    checked++;
  }
  assert.is(checked, cases.length);
  assert.is(cases.length, 14);
});

test('a header with its length\'s bytes after it reads as opaque<V>; a short one is MALFORMED', () => {
  for (const c of cases.filter((x) => x.length < 5000)) {
    const b = Uint8Array.of(...hex(c.vlbytes_header), ...new Uint8Array(c.length).fill(0xab));
    const r = new TlsReader(b);
    assert.is(r.opaque().length, c.length);
    r.done('opaque');
    if (c.length > 0) {
      assert.throws(() => new TlsReader(b.subarray(0, b.length - 1)).opaque(), (e: unknown) => e instanceof MlsError && e.code === 'MALFORMED');
    }
  }
});

test('non-minimal and reserved-prefix headers are MALFORMED', () => {
  for (const h of ['4000', '403f', '80000000', '80003fff', 'c0000000', 'ff']) {
    assert.throws(() => decode((r) => r.varint(), hex(h), 'varint'), (e: unknown) => e instanceof MlsError && e.code === 'MALFORMED', h);
  }
});

test.run();
