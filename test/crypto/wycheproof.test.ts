// Every case of every Wycheproof file in test/vectors/wycheproof/ on both backends, through
// the public facade (src/crypto/primitives.ts), with the checkers of test/_support/wycheproof.ts.
// Then the meta-test: a corrupted copy of each file must make its checker name the case.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { availableBackends, withBackend, type BackendName } from '../../src/crypto/index.js';
import { readJson } from '../_support/files.js';
import {
  checkAes128Gcm, checkChaCha20Poly1305, checkEd25519, checkHkdfSha256, checkHmacSha256, checkMlKem768, checkMlKem768Encaps, checkX25519,
  checkXChaCha20Poly1305,
  type CheckResult, type WycheproofCase, type WycheproofFile, type WycheproofResult,
} from '../_support/wycheproof.js';

const BACKENDS: readonly BackendName[] = ['node', 'noble'];

// One file, its checker and the ways to corrupt a copy of it, with the group type erased.
interface Suite {
  file: string;
  check(backend: BackendName): { result: CheckResult; numberOfTests: number };
  /** Applies each corruption to a fresh deep copy and runs the checker on it. */
  corrupted(backend: BackendName): { what: string; tcId: number; result: CheckResult }[];
}
type Corruption<C> = { what: string; pick: (tc: C) => boolean; apply: (tc: C) => void };

function suite<G extends { tests: C[] }, C extends WycheproofCase>(
  file: string, checker: (f: WycheproofFile<G>) => CheckResult, corruptions: Corruption<C>[],
): Suite {
  const data = readJson<WycheproofFile<G>>('test', 'vectors', 'wycheproof', file);
  return {
    file,
    check: (backend) => ({ result: withBackend(backend, () => checker(data)), numberOfTests: data.numberOfTests }),
    corrupted: (backend) => corruptions.map(({ what, pick, apply }) => {
      const copy = structuredClone(data);
      const tc = copy.testGroups.flatMap((g) => g.tests).find(pick);
      if (!tc) throw new Error(`${file}: no case to corrupt for "${what}"`);
      apply(tc);
      return { what, tcId: tc.tcId, result: withBackend(backend, () => checker(copy)) };
    }),
  };
}

// Flips the low bit of the last byte of a hex field.
const flipLast = (h: string): string => h.slice(0, -2) + (parseInt(h.slice(-2), 16) ^ 1).toString(16).padStart(2, '0');
const is = (result: WycheproofResult, ...flags: string[]) =>
  (tc: WycheproofCase): boolean => tc.result === result && flags.every((f) => tc.flags.includes(f));
const relabel = <C extends WycheproofCase>(to: WycheproofResult) => (tc: C): void => { tc.result = to; };

type X = { public: string; shared: string } & WycheproofCase;
type E = { sig: string } & WycheproofCase;
type A = { ct: string; tag: string } & WycheproofCase;
type G = { key: string; iv: string; ct: string; tag: string } & WycheproofCase;
/** An AES-GCM case the core computes (128-bit key, 96-bit IV), rather than refuses. */
const aes128Iv96 = (tc: WycheproofCase): boolean => (tc as G).key.length === 32 && (tc as G).iv.length === 24;
type H = { okm: string } & WycheproofCase;
type M = { tag: string } & WycheproofCase;
type K = { seed: string; c: string; K: string } & WycheproofCase;
type KE = { ek: string; m: string; c: string; K: string } & WycheproofCase;
/** The first valid decapsulation case whose ciphertext does not re-encrypt (implicit rejection). */
const implicitRejection = (tc: WycheproofCase): boolean => tc.result === 'valid' && tc.comment === 'Bit flipped ciphertext';

const SUITES: Suite[] = [
  suite('x25519_test.json', checkX25519, [
    { what: 'flipped shared secret', pick: is('valid'), apply: (tc: X) => { tc.shared = flipLast(tc.shared); } },
    { what: 'twist case relabelled invalid', pick: is('acceptable', 'Twist'), apply: relabel<X>('invalid') },
    // A low-order key the policy refuses, claimed to give its (all-zero) result.
    { what: 'low-order case relabelled valid', pick: is('acceptable', 'LowOrderPublic'), apply: relabel<X>('valid') },
  ]),
  suite('ed25519_test.json', checkEd25519, [
    { what: 'flipped signature', pick: is('valid'), apply: (tc: E) => { tc.sig = flipLast(tc.sig); } },
    { what: 'malleable signature relabelled valid', pick: is('invalid', 'SignatureMalleability'), apply: relabel<E>('valid') },
  ]),
  suite('chacha20_poly1305_test.json', checkChaCha20Poly1305, [
    { what: 'flipped tag', pick: is('valid'), apply: (tc: A) => { tc.tag = flipLast(tc.tag); } },
    { what: 'flipped ciphertext', pick: (tc) => tc.result === 'valid' && tc.flags.includes('Pseudorandom') && (tc as A).ct.length > 0, apply: (tc: A) => { tc.ct = flipLast(tc.ct); } },
    { what: 'modified tag relabelled valid', pick: is('invalid', 'ModifiedTag'), apply: relabel<A>('valid') },
  ]),
  suite('xchacha20_poly1305_test.json', checkXChaCha20Poly1305, [
    { what: 'flipped tag', pick: is('valid'), apply: (tc: A) => { tc.tag = flipLast(tc.tag); } },
    { what: 'modified tag relabelled valid', pick: is('invalid', 'ModifiedTag'), apply: relabel<A>('valid') },
    { what: 'bad nonce size relabelled valid', pick: is('invalid', 'InvalidNonceSize'), apply: relabel<A>('valid') },
  ]),
  suite('aes_gcm_test.json', checkAes128Gcm, [
    { what: 'flipped tag', pick: (tc) => tc.result === 'valid' && aes128Iv96(tc), apply: (tc: G) => { tc.tag = flipLast(tc.tag); } },
    { what: 'flipped ciphertext', pick: (tc) => tc.result === 'valid' && aes128Iv96(tc) && (tc as G).ct.length > 0, apply: (tc: G) => { tc.ct = flipLast(tc.ct); } },
    { what: 'modified tag relabelled valid', pick: (tc) => is('invalid', 'ModifiedTag')(tc) && aes128Iv96(tc), apply: relabel<G>('valid') },
    // A refused case must not be run as something else: an AES-256 key cut to 128 bits no longer fits its group.
    { what: 'AES-256 key cut to 128 bits', pick: (tc) => tc.result === 'valid' && (tc as G).key.length === 64, apply: (tc: G) => { tc.key = tc.key.slice(0, 32); } },
  ]),
  suite('hkdf_sha256_test.json', checkHkdfSha256, [
    { what: 'flipped okm', pick: is('valid'), apply: (tc: H) => { tc.okm = flipLast(tc.okm); } },
    { what: 'oversized output relabelled valid', pick: is('invalid', 'SizeTooLarge'), apply: relabel<H>('valid') },
  ]),
  suite('hmac_sha256_test.json', checkHmacSha256, [
    { what: 'flipped tag', pick: is('valid'), apply: (tc: M) => { tc.tag = flipLast(tc.tag); } },
    { what: 'modified tag relabelled valid', pick: is('invalid', 'ModifiedTag'), apply: relabel<M>('valid') },
    { what: 'valid truncated tag relabelled invalid', pick: (tc) => tc.result === 'valid' && (tc as M).tag.length === 32, apply: relabel<M>('invalid') },
  ]),
  suite('mlkem_768_test.json', checkMlKem768, [
    { what: 'flipped K', pick: is('valid'), apply: (tc: K) => { tc.K = flipLast(tc.K); } },
    { what: 'flipped implicit-rejection K', pick: implicitRejection, apply: (tc: K) => { tc.K = flipLast(tc.K); } },
    { what: 'flipped ciphertext', pick: is('valid', 'Strcmp'), apply: (tc: K) => { tc.c = flipLast(tc.c); } },
    { what: 'short seed relabelled valid', pick: (tc) => tc.result === 'invalid' && (tc as K).seed.length !== 128, apply: relabel<K>('valid') },
    { what: 'short ciphertext relabelled valid', pick: (tc) => tc.result === 'invalid' && (tc as K).c.length < 2176, apply: relabel<K>('valid') },
  ]),
  suite('mlkem_768_encaps_test.json', checkMlKem768Encaps, [
    { what: 'flipped ciphertext', pick: is('valid'), apply: (tc: KE) => { tc.c = flipLast(tc.c); } },
    { what: 'flipped K', pick: is('valid'), apply: (tc: KE) => { tc.K = flipLast(tc.K); } },
    { what: 'modulus overflow relabelled valid', pick: is('invalid', 'ModulusOverflow'), apply: relabel<KE>('valid') },
    { what: 'long key relabelled valid', pick: (tc) => tc.result === 'invalid' && (tc as KE).ek.length > 2368, apply: relabel<KE>('valid') },
  ]),
];

test('both backends are available', () => {
  assert.equal(availableBackends(), [...BACKENDS]);
});

for (const s of SUITES) {
  for (const backend of BACKENDS) {
    test(`${s.file} on ${backend}: every case behaves as its result says`, () => {
      const { result, numberOfTests } = s.check(backend);
      assert.equal(result.failures, [], `${result.failures.length} failing cases`);
      assert.is(result.checked, numberOfTests, 'checked every case of the file');
    });
  }
}

// The checkers must be able to fail: each corruption makes exactly the touched case fail.
for (const s of SUITES) {
  test(`${s.file}: a corrupted copy fails on the touched case only`, () => {
    for (const { what, tcId, result } of s.corrupted('node')) {
      assert.is(result.failures.length, 1, `${what}: ${JSON.stringify(result.failures)}`);
      assert.ok(result.failures[0]!.startsWith(`tcId ${tcId} `), `${what}: ${result.failures[0]}`);
    }
  });
}

test.run();
