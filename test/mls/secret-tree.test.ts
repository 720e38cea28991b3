// The secret tree (src/mls/secret-tree.ts, RFC 9420 §9, §6.3.1, §6.3.2) against the secret-tree
// vectors: every leaf, every generation listed, both ratchets, and the sender-data key and
// nonce, on both crypto backends; a corrupted case fails. Then the receiver's window:
// out-of-order delivery, KEY_REUSED, GENERATION_TOO_FAR, rollback on a failed open, and the
// cost of a 1,000-leaf tree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SecretTree, applyReuseGuard, senderDataKeyNonce, ratchetTypeOf } from '../../src/mls/secret-tree.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { MlsError, type MlsErrorCode } from '../../src/mls/errors.js';
import { withBackend, type BackendName } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type H = string;
interface Gen { generation: number; handshake_key: H; handshake_nonce: H; application_key: H; application_nonce: H }
interface Case {
  cipher_suite: number; encryption_secret: H;
  sender_data: { sender_data_secret: H; ciphertext: H; key: H; nonce: H };
  leaves: Gen[][];
}
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'secret-tree.json');
const code = (c: MlsErrorCode) => (e: unknown): boolean => e instanceof MlsError && e.code === c;

/** Checks one case; returns the failed checks and the number of (leaf, generation) pairs checked. */
function check(c: Case): { bad: string[]; checked: number } {
  const suite = cipherSuite(c.cipher_suite);
  const bad: string[] = [];
  const eq = (name: string, got: Uint8Array, want: H): void => { if (toHexString(got) !== want) bad.push(name); };
  const sd = senderDataKeyNonce(suite, hex(c.sender_data.sender_data_secret), hex(c.sender_data.ciphertext));
  eq('sender_data key', sd.key, c.sender_data.key);
  eq('sender_data nonce', sd.nonce, c.sender_data.nonce);
  const tree = new SecretTree(suite, hex(c.encryption_secret), c.leaves.length);
  let checked = 0;
  c.leaves.forEach((gens, leaf) => {
    for (const g of gens) {
      const hs = tree.keyFor(leaf, 'handshake', g.generation);
      const app = tree.keyFor(leaf, 'application', g.generation);
      eq(`leaf ${leaf} gen ${g.generation} handshake_key`, hs.key, g.handshake_key);
      eq(`leaf ${leaf} gen ${g.generation} handshake_nonce`, hs.nonce, g.handshake_nonce);
      eq(`leaf ${leaf} gen ${g.generation} application_key`, app.key, g.application_key);
      eq(`leaf ${leaf} gen ${g.generation} application_nonce`, app.nonce, g.application_nonce);
      checked++;
    }
  });
  return { bad, checked };
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every secret-tree case, leaf and generation on the ${backend} backend`, () => {
    let checked = 0;
    withBackend(backend, () => {
      for (const c of cases) {
        const r = check(c);
        assert.equal(r.bad, [], `suite ${c.cipher_suite}, ${c.leaves.length} leaves`);
        checked += r.checked;
      }
    });
    assert.is(cases.length, 6);
    assert.is(checked, 2 * 2 * (1 + 8 + 32));
  });
}

test('a corrupted case fails the checks it touches', () => {
  const c = structuredClone(cases[1]!);
  const flip = (h: H): H => (h.slice(0, -2) + ((parseInt(h.slice(-2), 16) ^ 1).toString(16).padStart(2, '0')));
  c.encryption_secret = flip(c.encryption_secret);
  c.sender_data.ciphertext = flip(c.sender_data.ciphertext.slice(0, 64)) + c.sender_data.ciphertext.slice(64);
  const { bad } = check(c);
  assert.ok(bad.includes('sender_data key') && bad.includes('leaf 0 gen 0 handshake_key') && bad.includes('leaf 7 gen 15 application_nonce'), bad.join());
  // Bytes of the ciphertext past the first Nh do not matter.
  const d = structuredClone(cases[1]!);
  d.sender_data.ciphertext = d.sender_data.ciphertext.slice(0, 64) + flip(d.sender_data.ciphertext.slice(64));
  assert.equal(check(d).bad, []);
});

test('content types choose the ratchet; handshake and application ratchets are independent', () => {
  assert.is(ratchetTypeOf(1), 'application');
  assert.is(ratchetTypeOf(2), 'handshake');
  assert.is(ratchetTypeOf(3), 'handshake');
  assert.throws(() => ratchetTypeOf(4), code('MALFORMED'));
  const c = cases[1]!;
  const tree = new SecretTree(cipherSuite(c.cipher_suite), hex(c.encryption_secret), 8);
  assert.is(toHexString(tree.keyFor(3, 3, 0).key), c.leaves[3]![0]!.handshake_key);
  assert.is(toHexString(tree.keyFor(3, 1, 0).key), c.leaves[3]![0]!.application_key);
});

test('the sender\'s nextKey walks the same keys a receiver derives', () => {
  const c = cases[2]!;
  const suite = cipherSuite(c.cipher_suite);
  const sender = new SecretTree(suite, hex(c.encryption_secret), 32);
  const want = c.leaves[17]!.find((g) => g.generation === 15)!;
  let k = sender.nextKey(17, 'application');
  assert.is(k.generation, 0);
  while (k.generation < 15) k = sender.nextKey(17, 'application');
  assert.is(toHexString(k.key), want.application_key);
  assert.is(sender.nextGeneration(17, 'application'), 16);
  assert.is(sender.nextGeneration(17, 'handshake'), 0);
});

test('out of order: skipped keys are kept once; a used generation is KEY_REUSED; too far is GENERATION_TOO_FAR', () => {
  const c = cases[1]!;
  const suite = cipherSuite(c.cipher_suite);
  const tree = new SecretTree(suite, hex(c.encryption_secret), 8, { maxForward: 20, maxRetained: 10 });
  const g15 = c.leaves[2]!.find((g) => g.generation === 15)!;
  const g0 = c.leaves[2]!.find((g) => g.generation === 0)!;
  assert.is(toHexString(tree.keyFor(2, 'handshake', 15).key), g15.handshake_key);
  assert.throws(() => tree.keyFor(2, 'handshake', 15), code('KEY_REUSED'));
  // Generation 0 was skipped beyond the retained 10 (5..14 are kept): dropped, so KEY_REUSED.
  assert.throws(() => tree.keyFor(2, 'handshake', 0), code('KEY_REUSED'));
  tree.keyFor(2, 'handshake', 5);
  assert.throws(() => tree.keyFor(2, 'handshake', 5), code('KEY_REUSED'));
  tree.keyFor(2, 'handshake', 14);
  // 16 + 20 = 36 is the farthest allowed.
  assert.throws(() => tree.keyFor(2, 'handshake', 37), code('GENERATION_TOO_FAR'));
  tree.keyFor(2, 'handshake', 36);
  // The other ratchet and the other leaves are untouched.
  assert.is(toHexString(tree.keyFor(2, 'application', 0).key), g0.application_key);
  assert.throws(() => tree.keyFor(8, 'handshake', 0), code('UNKNOWN_SENDER'));
  assert.throws(() => tree.keyFor(1, 'handshake', 2 ** 32), code('MALFORMED'));
  assert.throws(() => new SecretTree(suite, new Uint8Array(31), 8), code('STATE'));
  tree.destroy();
  assert.throws(() => tree.keyFor(3, 'handshake', 0), code('STATE'));
});

test('the default window is 1,000 generations forward', () => {
  const tree = new SecretTree(cipherSuite(1), new Uint8Array(32).fill(3), 2);
  assert.throws(() => tree.keyFor(0, 'application', 1001), code('GENERATION_TOO_FAR'));
  tree.keyFor(0, 'application', 1000);
  tree.keyFor(0, 'application', 0); // retained
  assert.throws(() => tree.keyFor(0, 'application', 0), code('KEY_REUSED'));
});

test('withKey consumes the key only when its use succeeds', () => {
  const c = cases[1]!;
  const tree = new SecretTree(cipherSuite(c.cipher_suite), hex(c.encryption_secret), 8);
  const want = c.leaves[4]!.find((g) => g.generation === 15)!.application_key;
  assert.throws(() => tree.withKey(4, 'application', 15, () => { throw new MlsError('DECRYPT_FAILED', 'forged'); }), code('DECRYPT_FAILED'));
  assert.is(tree.nextGeneration(4, 'application'), 0);
  assert.is(tree.withKey(4, 'application', 15, (k) => toHexString(k.key)), want);
  assert.is(tree.nextGeneration(4, 'application'), 16);
  assert.throws(() => tree.withKey(4, 'application', 3, () => { throw new Error('no'); }));
  tree.withKey(4, 'application', 3, () => 0);
  assert.throws(() => tree.keyFor(4, 'application', 3), code('KEY_REUSED'));
});

test('reuse guard XORs the first four bytes of the nonce', () => {
  const nonce = hex('000102030405060708090a0b');
  assert.is(toHexString(applyReuseGuard(nonce, hex('ff00ff01'))), 'ff01fd020405060708090a0b');
  assert.is(toHexString(nonce), '000102030405060708090a0b');
  assert.throws(() => applyReuseGuard(nonce, hex('ff')), code('MALFORMED'));
});

test('1,000 leaves: a first key per leaf derives only along its path', () => {
  const suite = cipherSuite(1);
  const started = performance.now();
  let expansions = 0;
  const counting = { ...suite, expandWithLabel: (s: Uint8Array, l: string, c: Uint8Array, n: number) => { expansions++; return suite.expandWithLabel(s, l, c, n); } };
  const tree = new SecretTree(counting, new Uint8Array(32).fill(5), 1024);
  const one = tree.keyFor(999, 'application', 0);
  // Ten levels, two children each, then the leaf's two ratchets.
  assert.is(expansions, 2 * 10 + 2);
  tree.keyFor(998, 'application', 0);
  assert.is(expansions, 22 + 2); // its sibling leaf was derived already
  const fresh = new SecretTree(suite, new Uint8Array(32).fill(5), 1024);
  for (let leaf = 0; leaf < 1000; leaf++) fresh.keyFor(leaf, 'application', 0);
  assert.is(toHexString(fresh.keyFor(999, 'handshake', 0).key).length, 32);
  assert.throws(() => fresh.keyFor(999, 'application', 0), code('KEY_REUSED'));
  assert.is(one.key.length, 16);
  assert.ok(performance.now() - started < 5000, 'too slow');
});

test.run();
