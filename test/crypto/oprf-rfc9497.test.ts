// RFC 9497 Appendix A.1 (ristretto255-SHA512), every case of the three modes, batches
// included, through src/crypto/oprf.ts (spec/crypto.md §11); then the refusals: tampered
// proofs, bad and identity elements, wrong lengths, each with its CryptoError code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  blindedElement, dleqProof, evaluatedElement, oprfBlindEvaluate, oprfBlindInput, oprfDeriveKeyPair, oprfEvaluate, oprfFinalize,
  oprfGenerateKeyPair, oprfPublicFromSecret, oprfPublicKey, oprfSecretKey, poprfBlindEvaluate, poprfBlindInput, poprfFinalize,
  voprfBlindEvaluate, voprfFinalize,
  type BlindedElement, type DleqProof, type EvaluatedElement, type OprfBlind, type OprfFinalizeItem, type OprfMode,
  type OprfPublicKey, type OprfSecretKey, type OprfTweakedKey,
} from '../../src/crypto/oprf.js';
import { CryptoError, type CryptoErrorCode } from '../../src/crypto/errors.js';
import { hex, readJson, toHexString } from '../_support/files.js';
import { assertThrowsCode } from '../_support/coded.js';

interface Case {
  Batch: number; Blind: string; BlindedElement: string; EvaluationElement: string; Input: string; Output: string;
  Info?: string; Proof?: { proof: string; r: string };
}
interface Group { mode: number; seed: string; keyInfo: string; skSm: string; pkSm?: string; identifier: string; vectors: Case[] }

const groups = readJson<Group[]>('test', 'vectors', 'oprf', 'rfc9497_ristretto255_sha512.json');
const MODES: OprfMode[] = ['oprf', 'voprf', 'poprf'];
const list = (s: string): Uint8Array[] => s.split(',').map(hex);
const hexes = (a: Uint8Array[]): string => a.map(toHexString).join(',');

const throws = (label: string, fn: () => unknown, code: CryptoErrorCode): void => assertThrowsCode(CryptoError, label, fn, code);

let checked = 0;
test('the vector file holds the three modes of ristretto255-SHA512', () => {
  assert.equal(groups.map((g) => g.mode), [0, 1, 2]);
  for (const g of groups) assert.is(g.identifier, 'ristretto255-SHA512');
  assert.equal(groups.map((g) => g.vectors.length), [2, 3, 3]);
  assert.ok(groups.every((g) => g.mode === 0 || g.vectors.some((v) => v.Batch > 1)), 'VOPRF and POPRF each have a batch');
});

for (const g of groups) {
  const mode = MODES[g.mode]!;
  test(`${mode}: DeriveKeyPair gives skSm${g.pkSm ? ' and pkSm' : ''}`, () => {
    const keys = oprfDeriveKeyPair(mode, hex(g.seed), hex(g.keyInfo));
    assert.is(toHexString(keys.secretKey), g.skSm);
    if (g.pkSm) assert.is(toHexString(keys.publicKey), g.pkSm);
    assert.is(toHexString(oprfPublicFromSecret(keys.secretKey)), toHexString(keys.publicKey));
  });

  g.vectors.forEach((v, n) => {
    test(`${mode} case ${n} (batch of ${v.Batch}): blind, evaluate, finalize, evaluate`, () => {
      const sk = oprfSecretKey(hex(g.skSm));
      const pk = oprfPublicFromSecret(sk);
      const inputs = list(v.Input), blinds = list(v.Blind);
      assert.is(inputs.length, v.Batch);
      const info = v.Info === undefined ? undefined : hex(v.Info);
      let tweakedKey: OprfTweakedKey | undefined;
      const blinded = inputs.map((input, i) => {
        if (mode === 'poprf') {
          const b = poprfBlindInput(input, info!, pk, blinds[i]);
          tweakedKey = b.tweakedKey;
          return b;
        }
        return oprfBlindInput(mode, input, blinds[i]);
      });
      assert.is(hexes(blinded.map((b) => b.blind)), v.Blind);
      assert.is(hexes(blinded.map((b) => b.blindedElement)), v.BlindedElement);

      const elements = blinded.map((b) => b.blindedElement);
      let evaluated: EvaluatedElement[];
      let proof: DleqProof | undefined;
      if (mode === 'oprf') evaluated = oprfBlindEvaluate(sk, elements);
      else {
        const r = hex(v.Proof!.r);
        const e = mode === 'voprf' ? voprfBlindEvaluate(sk, pk, elements, r) : poprfBlindEvaluate(sk, info!, elements, r);
        evaluated = e.evaluatedElements;
        proof = e.proof;
        assert.is(toHexString(proof), v.Proof!.proof);
      }
      assert.is(hexes(evaluated), v.EvaluationElement);

      const items: OprfFinalizeItem[] = inputs.map((input, i) => ({
        input, blind: blinded[i]!.blind, blindedElement: blinded[i]!.blindedElement, evaluatedElement: evaluated[i]!,
      }));
      const outputs = mode === 'oprf' ? oprfFinalize(items)
        : mode === 'voprf' ? voprfFinalize(items, pk, proof!) : poprfFinalize(items, info!, tweakedKey!, proof!);
      assert.is(hexes(outputs), v.Output);
      assert.is(hexes(inputs.map((input) => oprfEvaluate(mode, sk, input, info))), v.Output);
      checked += v.Batch;
    });
  });
}

test('every input of every case was checked', () => {
  assert.is(checked, groups.reduce((n, g) => n + g.vectors.reduce((m, v) => m + v.Batch, 0), 0));
});

// ---- refusals ---------------------------------------------------------------------------------

const voprf = groups[1]!, poprf = groups[2]!;
const vSk = oprfSecretKey(hex(voprf.skSm));
const vPk = oprfPublicKey(hex(voprf.pkSm!));
const batch = voprf.vectors[2]!;
const bInputs = list(batch.Input), bBlinds = list(batch.Blind);
const bBlinded = bInputs.map((input, i) => oprfBlindInput('voprf', input, bBlinds[i]));
const bEval = voprfBlindEvaluate(vSk, vPk, bBlinded.map((b) => b.blindedElement), hex(batch.Proof!.r));
const bItems: OprfFinalizeItem[] = bInputs.map((input, i) => ({
  input, blind: bBlinded[i]!.blind, blindedElement: bBlinded[i]!.blindedElement, evaluatedElement: bEval.evaluatedElements[i]!,
}));
const flip = (b: Uint8Array, i: number, bit = 1): Uint8Array => { const c = b.slice(); c[i]! ^= bit; return c; };

// The identity encodes as 32 zero bytes; a byte string with its top bit set or a "negative"
// field element (low bit set, RFC 9496 §4.3.1) is never a valid encoding.
const IDENTITY = new Uint8Array(32);
const NON_CANONICAL_ELEMENTS: [string, Uint8Array][] = [
  ['odd (negative) s', (() => { const b = new Uint8Array(32); b[0] = 1; return b; })()],
  ['s >= p', hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')],
  ['high bit set', hex('00'.repeat(31) + '80')],
  ['all ones', new Uint8Array(32).fill(0xff)],
];

test('a tampered proof fails with PROOF_INVALID, on every byte of c and s', () => {
  for (let i = 0; i < 64; i++) {
    throws(`voprf proof byte ${i}`, () => voprfFinalize(bItems, vPk, flip(bEval.proof, i) as DleqProof), 'PROOF_INVALID');
  }
  // A proof with the right scalars but for other elements, or under another key.
  const other = oprfGenerateKeyPair();
  throws('another key', () => voprfFinalize(bItems, other.publicKey, bEval.proof), 'PROOF_INVALID');
  const swapped = [{ ...bItems[0]!, evaluatedElement: bItems[1]!.evaluatedElement }, { ...bItems[1]!, evaluatedElement: bItems[0]!.evaluatedElement }];
  throws('evaluated elements swapped', () => voprfFinalize(swapped, vPk, bEval.proof), 'PROOF_INVALID');
  throws('one item of the batch left out', () => voprfFinalize(bItems.slice(0, 1), vPk, bEval.proof), 'PROOF_INVALID');
  throws('s >= L', () => voprfFinalize(bItems, vPk, new Uint8Array(64).fill(0xff) as DleqProof), 'PROOF_INVALID');
  throws('all zero', () => voprfFinalize(bItems, vPk, new Uint8Array(64) as DleqProof), 'PROOF_INVALID');
});

test('a POPRF proof fails under another info or a tampered tweaked key', () => {
  const pSk = oprfSecretKey(hex(poprf.skSm));
  const pPk = oprfPublicKey(hex(poprf.pkSm!));
  const info = hex(poprf.vectors[0]!.Info!);
  const input = hex(poprf.vectors[0]!.Input);
  const b = poprfBlindInput(input, info, pPk);
  const e = poprfBlindEvaluate(pSk, info, [b.blindedElement]);
  const items = [{ input, blind: b.blind, blindedElement: b.blindedElement, evaluatedElement: e.evaluatedElements[0]! }];
  assert.equal(poprfFinalize(items, info, b.tweakedKey, e.proof), [oprfEvaluate('poprf', pSk, input, info)]);
  const otherInfo = poprfBlindInput(input, new Uint8Array([1]), pPk).tweakedKey;
  throws('tweaked key of other info', () => poprfFinalize(items, info, otherInfo, e.proof), 'PROOF_INVALID');
  throws('tampered proof', () => poprfFinalize(items, info, b.tweakedKey, flip(e.proof, 5) as DleqProof), 'PROOF_INVALID');
  const e2 = poprfBlindEvaluate(pSk, new Uint8Array([1]), [b.blindedElement]);
  const items2 = [{ ...items[0]!, evaluatedElement: e2.evaluatedElements[0]! }];
  throws('evaluated under other info', () => poprfFinalize(items2, info, b.tweakedKey, e2.proof), 'PROOF_INVALID');
});

test('bad and identity elements are refused wherever an element arrives', () => {
  const cases: [string, Uint8Array, CryptoErrorCode][] = [
    ['identity', IDENTITY, 'LOW_ORDER_POINT'],
    ...NON_CANONICAL_ELEMENTS.map(([n, b]): [string, Uint8Array, CryptoErrorCode] => [n, b, 'NON_CANONICAL']),
    ['31 bytes', new Uint8Array(31).fill(2), 'INVALID_LENGTH'],
    ['33 bytes', new Uint8Array(33).fill(2), 'INVALID_LENGTH'],
  ];
  const good = bBlinded[0]!.blindedElement;
  for (const [name, bad, code] of cases) {
    const el = bad as BlindedElement, ev = bad as EvaluatedElement;
    throws(`blindedElement (${name})`, () => blindedElement(bad), code);
    throws(`evaluatedElement (${name})`, () => evaluatedElement(bad), code);
    throws(`publicKey (${name})`, () => oprfPublicKey(bad), code);
    throws(`oprf evaluate (${name})`, () => oprfBlindEvaluate(vSk, [good, el]), code);
    throws(`voprf evaluate (${name})`, () => voprfBlindEvaluate(vSk, vPk, [el]), code);
    throws(`voprf evaluate, key (${name})`, () => voprfBlindEvaluate(vSk, bad as OprfPublicKey, [good]), code);
    throws(`poprf evaluate (${name})`, () => poprfBlindEvaluate(vSk, new Uint8Array(0), [el]), code);
    throws(`poprf blind, key (${name})`, () => poprfBlindInput(new Uint8Array(1), new Uint8Array(0), bad as OprfPublicKey), code);
    throws(`oprf finalize (${name})`, () => oprfFinalize([{ ...bItems[0]!, evaluatedElement: ev }]), code);
    throws(`voprf finalize, evaluated (${name})`, () => voprfFinalize([{ ...bItems[0]!, evaluatedElement: ev }], vPk, bEval.proof), code);
    throws(`voprf finalize, blinded (${name})`, () => voprfFinalize([{ ...bItems[0]!, blindedElement: el }], vPk, bEval.proof), code);
    throws(`voprf finalize, key (${name})`, () => voprfFinalize(bItems, bad as OprfPublicKey, bEval.proof), code);
    throws(`poprf finalize, tweaked key (${name})`, () => poprfFinalize(bItems, new Uint8Array(0), bad as OprfTweakedKey, bEval.proof), code);
  }
});

test('scalars: wrong length, >= L and zero; proofs of the wrong length; inputs too long; empty batches', () => {
  const L = hex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
  for (const [name, fn] of [
    ['secretKey', (b: Uint8Array) => oprfSecretKey(b)],
    ['evaluate key', (b: Uint8Array) => oprfBlindEvaluate(b as OprfSecretKey, [bBlinded[0]!.blindedElement])],
    ['blind', (b: Uint8Array) => oprfBlindInput('oprf', new Uint8Array(1), b)],
    ['finalize blind', (b: Uint8Array) => oprfFinalize([{ ...bItems[0]!, blind: b as OprfBlind }])],
    ['proof nonce', (b: Uint8Array) => voprfBlindEvaluate(vSk, vPk, [bBlinded[0]!.blindedElement], b)],
  ] as [string, (b: Uint8Array) => unknown][]) {
    throws(`${name}: 31 bytes`, () => fn(new Uint8Array(31).fill(1)), 'INVALID_LENGTH');
    throws(`${name}: L`, () => fn(L), 'NON_CANONICAL');
    throws(`${name}: all ones`, () => fn(new Uint8Array(32).fill(0xff)), 'NON_CANONICAL');
    throws(`${name}: zero`, () => fn(new Uint8Array(32)), 'INVALID_ARGUMENT');
  }
  throws('proof of 63 bytes', () => voprfFinalize(bItems, vPk, new Uint8Array(63) as DleqProof), 'INVALID_LENGTH');
  throws('dleqProof of 65 bytes', () => dleqProof(new Uint8Array(65)), 'INVALID_LENGTH');
  throws('input of 65536 bytes', () => oprfBlindInput('voprf', new Uint8Array(65536)), 'INVALID_LENGTH');
  throws('info of 65536 bytes', () => poprfBlindEvaluate(vSk, new Uint8Array(65536), [bBlinded[0]!.blindedElement]), 'INVALID_LENGTH');
  throws('seed of 31 bytes', () => oprfDeriveKeyPair('voprf', new Uint8Array(31), new Uint8Array(0)), 'INVALID_LENGTH');
  throws('empty batch', () => voprfBlindEvaluate(vSk, vPk, []), 'INVALID_ARGUMENT');
  throws('empty finalize', () => voprfFinalize([], vPk, bEval.proof), 'INVALID_ARGUMENT');
  throws('not an array', () => oprfBlindEvaluate(vSk, 'x' as never), 'INVALID_TYPE');
  throws('input not bytes', () => oprfBlindInput('oprf', 'abc' as never), 'INVALID_TYPE');
  throws('info for voprf', () => oprfEvaluate('voprf', vSk, new Uint8Array(1), new Uint8Array(1)), 'INVALID_ARGUMENT');
});

test('arguments that are not bytes are INVALID_TYPE, in every function and position', () => {
  const x = 'x'.repeat(32) as never;
  const el = bBlinded[0]!.blindedElement;
  const item = bItems[0]!;
  const calls: [string, () => unknown][] = [
    ['oprfSecretKey', () => oprfSecretKey(x)], ['oprfPublicKey', () => oprfPublicKey(x)], ['blindedElement', () => blindedElement(x)],
    ['dleqProof', () => dleqProof(x)], ['derive seed', () => oprfDeriveKeyPair('voprf', x, new Uint8Array(0))],
    ['derive keyInfo', () => oprfDeriveKeyPair('voprf', new Uint8Array(32), x)], ['blind input', () => oprfBlindInput('voprf', x)],
    ['poprf blind info', () => poprfBlindInput(new Uint8Array(1), x, vPk)], ['evaluate key', () => voprfBlindEvaluate(x, vPk, [el])],
    ['evaluate element', () => voprfBlindEvaluate(vSk, vPk, [x])], ['poprf evaluate info', () => poprfBlindEvaluate(vSk, x, [el])],
    ['finalize input', () => oprfFinalize([{ ...item, input: x }])], ['finalize proof', () => voprfFinalize(bItems, vPk, x)],
    ['finalize item', () => voprfFinalize([null as never], vPk, bEval.proof)], ['evaluate input', () => oprfEvaluate('voprf', vSk, x)],
    ['poprf finalize info', () => poprfFinalize(bItems, x, vPk as never, bEval.proof)],
  ];
  for (const [name, fn] of calls) throws(name, fn, 'INVALID_TYPE');
});

test('a random round trip in each verifiable mode, a batch of 32', () => {
  const keys = oprfGenerateKeyPair();
  const inputs = Array.from({ length: 32 }, (_, i) => new Uint8Array([i, 1, 2]));
  const bl = inputs.map((x) => oprfBlindInput('voprf', x));
  const ev = voprfBlindEvaluate(keys.secretKey, keys.publicKey, bl.map((b) => b.blindedElement));
  const out = voprfFinalize(inputs.map((input, i) => ({ input, ...bl[i]!, evaluatedElement: ev.evaluatedElements[i]! })), keys.publicKey, ev.proof);
  assert.equal(out.map(toHexString), inputs.map((x) => toHexString(oprfEvaluate('voprf', keys.secretKey, x))));
  assert.is(new Set(out.map(toHexString)).size, 32);
});

test.run();
