// Admission tokens (spec/admission.md §2–§4): issue a batch, redeem each token once, and every
// refusal with its code: a spent token, a token of an unknown or closed epoch, a forged or
// altered token, a tampered issuer answer, a bad blinded element, a quota overrun.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  MAX_TOKEN_BATCH, MemorySpentSet, TOKEN_LENGTH, checkQuota, decodeIssueRequest, decodeToken, encodeIssueRequest,
  encodeToken, epochKeyPair, epochSecret, evaluateIssueRequest, finishTokens, prepareTokens, redeemToken, spentId, verifyToken,
  type RedeemKey,
} from '../../src/admission/index.js';
import { oprfGenerateKeyPair, randomBytes, type BlindedElement } from '../../src/crypto/index.js';
import { throws } from './_helpers.js';


const HOUR = 3_600_000;
const T0 = 1_800_000_000_000;
const e7 = epochKeyPair(7);
const e8 = epochKeyPair(8);
const keys = new Map<number, RedeemKey>([
  [7, { secretKey: e7.secretKey, redeemFrom: T0, redeemUntil: T0 + 48 * HOUR }],
  [8, { secretKey: e8.secretKey, redeemFrom: T0 + 24 * HOUR, redeemUntil: T0 + 72 * HOUR }],
]);
const keyFor = (epoch: number): RedeemKey | undefined => keys.get(epoch);

function issue(epoch: typeof e7, count: number): Uint8Array[] {
  const { pending, request } = prepareTokens(epoch.epoch, count);
  return finishTokens(pending, evaluateIssueRequest(epoch, request), epoch.publicKey);
}

test('a batch of tokens is issued, each redeems once, then TOKEN_SPENT', () => {
  const tokens = issue(e7, 5);
  assert.is(tokens.length, 5);
  assert.ok(tokens.every((t) => t.length === TOKEN_LENGTH));
  const spent = new MemorySpentSet();
  for (const t of tokens) assert.is(redeemToken(t, keyFor, spent, T0 + HOUR), 7);
  assert.is(spent.size(7), 5);
  for (const t of tokens) throws('second redemption', () => redeemToken(t, keyFor, spent, T0 + 2 * HOUR), 'TOKEN_SPENT');
  // Dropping the epoch's set is safe only because its window is closed: the token is TOKEN_EPOCH first.
  spent.dropEpoch(7);
  throws('after the window', () => redeemToken(tokens[0]!, keyFor, spent, T0 + 48 * HOUR), 'TOKEN_EPOCH');
});

test('batches of 1 and of the maximum; counts outside them are refused', () => {
  assert.is(issue(e7, 1).length, 1);
  assert.is(issue(e7, MAX_TOKEN_BATCH).length, MAX_TOKEN_BATCH);
  throws('0 tokens', () => prepareTokens(7, 0), 'INVALID_ARGUMENT');
  throws('too many', () => prepareTokens(7, MAX_TOKEN_BATCH + 1), 'INVALID_ARGUMENT');
  throws('bad epoch', () => prepareTokens(-1, 1), 'INVALID_ARGUMENT');
});

test('TOKEN_EPOCH: an unknown epoch, before its window, after it; the issuer refuses another epoch', () => {
  const t8 = issue(e8, 1)[0]!;
  throws('epoch 8 before its window', () => verifyToken(t8, keyFor, T0), 'TOKEN_EPOCH');
  assert.is(verifyToken(t8, keyFor, T0 + 30 * HOUR).epoch, 8);
  throws('epoch 8 after', () => verifyToken(t8, keyFor, T0 + 72 * HOUR), 'TOKEN_EPOCH');
  const e9 = epochKeyPair(9);
  const t9 = issue(e9, 1)[0]!;
  throws('epoch unknown to the relay', () => verifyToken(t9, keyFor, T0 + HOUR), 'TOKEN_EPOCH');
  const { request } = prepareTokens(9, 1);
  throws('issuer of epoch 7 asked for 9', () => evaluateIssueRequest(e7, request), 'TOKEN_EPOCH');
});

test('ADMISSION_REFUSED: forged, altered, moved to another epoch, malformed', () => {
  const t = issue(e7, 1)[0]!;
  const forged = encodeToken({ epoch: 7, nonce: randomBytes(32), output: randomBytes(64) });
  throws('forged', () => verifyToken(forged, keyFor, T0 + HOUR), 'ADMISSION_REFUSED');
  // A token made with a key that is not the epoch's (a rogue issuer's).
  const rogue = { ...oprfGenerateKeyPair(), epoch: 7 };
  throws('rogue key', () => verifyToken(issue(rogue, 1)[0]!, keyFor, T0 + HOUR), 'ADMISSION_REFUSED');
  for (let i = 5; i < TOKEN_LENGTH; i += 7) {
    const c = t.slice(); c[i]! ^= 0x10;
    throws(`byte ${i} changed`, () => verifyToken(c, keyFor, T0 + HOUR), 'ADMISSION_REFUSED');
  }
  const moved = decodeToken(t);
  const to8 = encodeToken({ ...moved, epoch: 8 });
  throws('epoch field changed', () => verifyToken(to8, keyFor, T0 + 30 * HOUR), 'ADMISSION_REFUSED');
  throws('short', () => verifyToken(t.subarray(1), keyFor, T0 + HOUR), 'ADMISSION_REFUSED');
  throws('long', () => verifyToken(new Uint8Array([...t, 0]), keyFor, T0 + HOUR), 'ADMISSION_REFUSED');
  const v2 = t.slice(); v2[0] = 2;
  throws('version 2', () => verifyToken(v2, keyFor, T0 + HOUR), 'ADMISSION_REFUSED');
  throws('not bytes', () => verifyToken('x' as never, keyFor, T0 + HOUR), 'ADMISSION_REFUSED');
  // A refused token is never recorded as spent.
  const spent = new MemorySpentSet();
  throws('forged, redeem', () => redeemToken(forged, keyFor, spent, T0 + HOUR), 'ADMISSION_REFUSED');
  assert.is(spent.size(7), 0);
});

test('the issuer refuses a bad blinded element or a malformed request with ADMISSION_REFUSED', () => {
  const { request } = prepareTokens(7, 2);
  const identity = new Uint8Array(request); identity.fill(0, 6, 38);
  throws('identity element', () => evaluateIssueRequest(e7, identity), 'ADMISSION_REFUSED');
  const invalid = new Uint8Array(request); invalid[6] = 1; invalid.fill(0, 7, 38);
  throws('invalid encoding', () => evaluateIssueRequest(e7, invalid), 'ADMISSION_REFUSED');
  throws('truncated', () => evaluateIssueRequest(e7, request.subarray(0, request.length - 1)), 'ADMISSION_REFUSED');
  throws('trailing byte', () => evaluateIssueRequest(e7, new Uint8Array([...request, 0])), 'ADMISSION_REFUSED');
  const count0 = request.slice(0, 6); count0[5] = 0;
  throws('count 0', () => evaluateIssueRequest(e7, count0), 'ADMISSION_REFUSED');
  const over = encodeIssueRequest({ epoch: 7, blindedElements: Array.from({ length: 65 }, () => decodeIssueRequest(request).blindedElements[0]!) });
  throws('65 elements', () => evaluateIssueRequest(e7, over), 'ADMISSION_REFUSED');
  assert.is(decodeIssueRequest(request).blindedElements.length, 2);
  const _typed: BlindedElement[] = decodeIssueRequest(request).blindedElements;
  assert.ok(_typed);
});

test('the client refuses a tampered or mismatched issuer answer with ISSUER_INVALID', () => {
  const { pending, request } = prepareTokens(7, 3);
  const response = evaluateIssueRequest(e7, request);
  assert.is(finishTokens(pending, response, e7.publicKey).length, 3);
  // Every byte of the proof, and a byte of each evaluated element.
  const proofAt = response.length - 64;
  for (let i = proofAt; i < response.length; i++) {
    const c = response.slice(); c[i]! ^= 1;
    throws(`proof byte ${i - proofAt}`, () => finishTokens(pending, c, e7.publicKey), 'ISSUER_INVALID');
  }
  for (const at of [6, 6 + 32, 6 + 64]) {
    const c = response.slice(); c[at + 3]! ^= 4;
    throws(`element at ${at}`, () => finishTokens(pending, c, e7.publicKey), 'ISSUER_INVALID');
  }
  throws('key of another epoch', () => finishTokens(pending, response, e8.publicKey), 'ISSUER_INVALID');
  const other = prepareTokens(7, 3);
  throws('answer to another request', () => finishTokens(other.pending, response, e7.publicKey), 'ISSUER_INVALID');
  const fewer = prepareTokens(7, 2);
  throws('count differs', () => finishTokens(fewer.pending, response, e7.publicKey), 'ISSUER_INVALID');
  const wrongEpoch = response.slice(); wrongEpoch[4] = 8;
  throws('epoch differs', () => finishTokens(pending, wrongEpoch, e7.publicKey), 'ISSUER_INVALID');
  throws('truncated', () => finishTokens(pending, response.subarray(0, 100), e7.publicKey), 'ISSUER_INVALID');
});

test('what the issuer sees and what the relay receives share no bytes', () => {
  const { pending, request } = prepareTokens(7, 4);
  const response = evaluateIssueRequest(e7, request);
  const tokens = finishTokens(pending, response, e7.publicKey);
  const seen = [request, response];
  // No 8-byte run of a token (past its version and epoch) appears in the issuer's bytes.
  const runs = (b: Uint8Array): Set<string> => {
    const s = new Set<string>();
    for (let i = 0; i + 8 <= b.length; i++) s.add(Buffer.from(b.subarray(i, i + 8)).toString('hex'));
    return s;
  };
  const issuerRuns = new Set(seen.flatMap((b) => [...runs(b)]));
  for (const t of tokens) for (const r of runs(t.subarray(5))) assert.not.ok(issuerRuns.has(r), 'a token shares bytes with the issuance');
});

test('spent ids depend on epoch and nonce; quota', () => {
  const n = randomBytes(32);
  assert.not.equal(spentId(7, n), spentId(8, n));
  assert.is(spentId(7, n).length, 32);
  checkQuota(0, 10, 10);
  checkQuota(5, 5, 10);
  throws('over quota', () => checkQuota(6, 5, 10), 'QUOTA_EXCEEDED');
  throws('negative', () => checkQuota(-1, 5, 10), 'INVALID_ARGUMENT');
  const s = epochSecret(7, e7.secretKey);
  assert.equal(s.publicKey, e7.publicKey);
});

test.run();
