// psk_secret (src/mls/psk.ts, RFC 9420 §8.4) against the psk_secret vectors: every case (0 to
// 10 external PSKs) on both crypto backends; a corrupted case fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { derivePskSecret, type PskInput } from '../../src/mls/psk.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { MlsError } from '../../src/mls/errors.js';
import { withBackend, type BackendName } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type H = string;
interface Case { cipher_suite: number; psks: { psk_id: H; psk: H; psk_nonce: H }[]; psk_secret: H }
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'psk_secret.json');

const inputs = (c: Case): PskInput[] => c.psks.map((p) => ({
  id: { psktype: 1, pskId: hex(p.psk_id), pskNonce: hex(p.psk_nonce) }, psk: hex(p.psk),
}));
const secretOf = (c: Case): H => toHexString(derivePskSecret(cipherSuite(c.cipher_suite), inputs(c)));

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every psk_secret case on the ${backend} backend`, () => {
    let checked = 0;
    withBackend(backend, () => {
      for (const c of cases) {
        assert.is(secretOf(c), c.psk_secret, `suite ${c.cipher_suite}, ${c.psks.length} PSKs`);
        checked++;
      }
    });
    assert.is(checked, 22);
  });
}

test('a corrupted case fails: another PSK, or the same PSKs in another order', () => {
  const c = structuredClone(cases.find((k) => k.psks.length === 3)!);
  c.psks[1]!.psk = c.psks[1]!.psk.replace(/^../, (b) => ((parseInt(b, 16) ^ 1).toString(16).padStart(2, '0')));
  assert.is.not(secretOf(c), c.psk_secret);
  const d = structuredClone(cases.find((k) => k.psks.length === 3)!);
  d.psks.reverse();
  assert.is.not(secretOf(d), d.psk_secret);
});

test('a resumption PSK id encodes differently from an external one; a short nonce is refused', () => {
  const suite = cipherSuite(1);
  const nonce = new Uint8Array(32);
  const ext = derivePskSecret(suite, [{ id: { psktype: 1, pskId: new Uint8Array(8), pskNonce: nonce }, psk: new Uint8Array(32) }]);
  const res = derivePskSecret(suite, [{ id: { psktype: 2, usage: 1, pskGroupId: new Uint8Array(8), pskEpoch: 3n, pskNonce: nonce }, psk: new Uint8Array(32) }]);
  assert.is.not(toHexString(ext), toHexString(res));
  assert.throws(() => derivePskSecret(suite, [{ id: { psktype: 1, pskId: new Uint8Array(1), pskNonce: new Uint8Array(4) }, psk: new Uint8Array(32) }]),
    (e: unknown) => e instanceof MlsError && e.code === 'INVALID_PROPOSAL');
});

test.run();
