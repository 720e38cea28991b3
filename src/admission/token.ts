// Anonymous admission tokens (spec/admission.md §2–§4): RFC 9497 VOPRF with one key per
// epoch. The client blinds random nonces, the issuer evaluates them in a batch with a DLEQ
// proof, the client verifies and finalizes them into tokens, and a closed relay checks a
// token with the epoch's secret key and records it as spent. Pure functions: the issuer's
// service, the relay's store and the SDK's fetching sit on top of them.
import {
  blindedElement, concat, equalBytes, evaluatedElement, isCryptoError, oprfBlindInput, oprfDeriveKeyPair, oprfEvaluate,
  oprfPublicFromSecret, oprfPublicKey, oprfSecretKey, randomBytes, sha256, toHex, utf8, voprfBlindEvaluate, voprfFinalize,
  type BlindedElement, type DleqProof, type OprfBlinded, type OprfPublicKey, type OprfSecretKey,
} from '../crypto/index.js';
import { u32be } from '../crypto/bytes.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import { AdmissionError } from './errors.js';

export const TOKEN_VERSION = 1;
export const TOKEN_NONCE_LENGTH = 32;
export const TOKEN_OUTPUT_LENGTH = 64;
/** version || epoch || nonce || output (§2.3). */
export const TOKEN_LENGTH = 1 + 4 + TOKEN_NONCE_LENGTH + TOKEN_OUTPUT_LENGTH;
/** The most tokens one issue request may ask for (§3.1). */
export const MAX_TOKEN_BATCH = 64;
export const MAX_EPOCH = 0xffffffff;

const LABEL_INPUT = utf8('sealpost/v1/admission-token');
const LABEL_KEY = utf8('sealpost/v1/admission-epoch-key');
const LABEL_SPENT = utf8('sealpost/v1/admission-spent');

/** The issuer's key for one epoch (§2.2); the relay holds the same secret to check tokens. */
export interface EpochSecret { readonly epoch: number; readonly secretKey: OprfSecretKey; readonly publicKey: OprfPublicKey }
export interface Token { readonly epoch: number; readonly nonce: Uint8Array; readonly output: Uint8Array }
/** What the client keeps between its request and the issuer's answer; secret (the blinds). */
export interface PendingTokens { readonly epoch: number; readonly nonces: Uint8Array[]; readonly blinded: OprfBlinded[] }

function epochOf(epoch: unknown, name = 'epoch'): number {
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    throw new AdmissionError('INVALID_ARGUMENT', `${name} must be an integer in [0, ${MAX_EPOCH}]`);
  }
  return epoch;
}

/** §2.1: the PRF input binds the nonce to its epoch and to this use. */
export function tokenInput(epoch: number, nonce: Uint8Array): Uint8Array {
  return concat(LABEL_INPUT, u32be(epochOf(epoch)), nonce);
}

/**
 * §2.2: a fresh key for an epoch, RFC 9497 DeriveKeyPair (mode VOPRF) from a random seed with
 * keyInfo = label || epoch. The seed is not kept: an epoch's key dies with its secret.
 */
export function epochKeyPair(epoch: number, seed: Uint8Array = randomBytes(32)): EpochSecret {
  const k = oprfDeriveKeyPair('voprf', seed, concat(LABEL_KEY, u32be(epochOf(epoch))));
  return { epoch, secretKey: k.secretKey, publicKey: k.publicKey };
}

/** An EpochSecret from a stored secret key, checked. */
export function epochSecret(epoch: number, secretKey: Uint8Array): EpochSecret {
  const sk = oprfSecretKey(secretKey, 'secretKey');
  return { epoch: epochOf(epoch), secretKey: sk, publicKey: oprfPublicFromSecret(sk) };
}

// ---- §3.1 issue request and response --------------------------------------------------------

function decodeWith<T>(code: 'ADMISSION_REFUSED' | 'ISSUER_INVALID', what: string, fn: () => T): T {
  try { return fn(); } catch (e) {
    if (e instanceof AdmissionError) throw e;
    if (e instanceof MalformedError || isCryptoError(e)) throw new AdmissionError(code, `${what}: ${(e as Error).message}`, { cause: e });
    throw e;
  }
}

function countOf(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_TOKEN_BATCH) throw new MalformedError(`${what} count ${n} is not in [1, ${MAX_TOKEN_BATCH}]`);
  return n;
}

export interface IssueRequest { readonly epoch: number; readonly blindedElements: BlindedElement[] }
export interface IssueResponse { readonly epoch: number; readonly evaluatedElements: Uint8Array[]; readonly proof: DleqProof }

/** version || epoch || count || count elements: the shared head of requests and responses. */
function writeBatch(epoch: number, elements: readonly Uint8Array[]): Writer {
  const w = new Writer().u8(TOKEN_VERSION).u32(epochOf(epoch)).u8(elements.length);
  for (const e of elements) w.bytes(e, 32);
  return w;
}
function readBatch<T>(r: Reader, what: string, element: (b: Uint8Array, name: string) => T): { epoch: number; elements: T[] } {
  if (r.u8() !== TOKEN_VERSION) throw new MalformedError('unknown version');
  const epoch = r.u32();
  const n = countOf(r.u8(), what);
  return { epoch, elements: Array.from({ length: n }, (_, i) => element(r.bytes(32), `${what}[${i}]`)) };
}

export function encodeIssueRequest(r: IssueRequest): Uint8Array {
  return writeBatch(r.epoch, r.blindedElements).finish();
}

/** ADMISSION_REFUSED for anything but a well-formed request of valid, non-identity elements. */
export function decodeIssueRequest(bytes: Uint8Array): IssueRequest {
  return decodeWith('ADMISSION_REFUSED', 'issue request', () => {
    const r = new Reader(bytes);
    const { epoch, elements } = readBatch(r, 'blindedElements', blindedElement);
    r.end();
    return { epoch, blindedElements: elements };
  });
}

export function encodeIssueResponse(r: IssueResponse): Uint8Array {
  return writeBatch(r.epoch, r.evaluatedElements).bytes(r.proof, 64).finish();
}

/** ISSUER_INVALID for anything but a well-formed response. */
export function decodeIssueResponse(bytes: Uint8Array): IssueResponse {
  return decodeWith('ISSUER_INVALID', 'issue response', () => {
    const r = new Reader(bytes);
    const { epoch, elements } = readBatch(r, 'evaluatedElements', evaluatedElement);
    const proof = r.bytes(64) as DleqProof;
    r.end();
    return { epoch, evaluatedElements: elements, proof };
  });
}

// ---- §3 client: blind, then verify and finalize ------------------------------------------------

/**
 * §3.2: `count` fresh nonces, blinded for `epoch`'s key. `fixed` gives the nonces and blinds,
 * for vectors only. The request carries nothing but the epoch and the blinded elements.
 */
export function prepareTokens(
  epoch: number, count: number, fixed?: { nonces: Uint8Array[]; blinds: Uint8Array[] },
): { pending: PendingTokens; request: Uint8Array } {
  epochOf(epoch);
  if (!Number.isInteger(count) || count < 1 || count > MAX_TOKEN_BATCH) {
    throw new AdmissionError('INVALID_ARGUMENT', `count must be an integer in [1, ${MAX_TOKEN_BATCH}]`);
  }
  const nonces = Array.from({ length: count }, (_, i) => fixed?.nonces[i] ?? randomBytes(TOKEN_NONCE_LENGTH));
  if (nonces.some((n) => n.length !== TOKEN_NONCE_LENGTH)) throw new AdmissionError('INVALID_ARGUMENT', `nonces must be ${TOKEN_NONCE_LENGTH} bytes`);
  const blinded = nonces.map((n, i) => oprfBlindInput('voprf', tokenInput(epoch, n), fixed?.blinds[i]));
  const request = encodeIssueRequest({ epoch, blindedElements: blinded.map((b) => b.blindedElement) });
  return { pending: { epoch, nonces, blinded }, request };
}

/**
 * §3.4: checks the issuer's answer against the epoch's public key from the signed policy
 * (never a key the issuer sends) and finalizes the tokens. ISSUER_INVALID if the answer is
 * malformed, for another epoch or count, or its proof does not verify.
 */
export function finishTokens(pending: PendingTokens, response: Uint8Array, publicKey: OprfPublicKey): Uint8Array[] {
  const res = decodeIssueResponse(response);
  if (res.epoch !== pending.epoch) throw new AdmissionError('ISSUER_INVALID', `response is for epoch ${res.epoch}, not ${pending.epoch}`);
  if (res.evaluatedElements.length !== pending.nonces.length) {
    throw new AdmissionError('ISSUER_INVALID', `response has ${res.evaluatedElements.length} elements for ${pending.nonces.length} requested`);
  }
  const items = pending.nonces.map((n, i) => ({
    input: tokenInput(pending.epoch, n), blind: pending.blinded[i]!.blind,
    blindedElement: pending.blinded[i]!.blindedElement, evaluatedElement: evaluatedElement(res.evaluatedElements[i]),
  }));
  const outputs = decodeWith('ISSUER_INVALID', 'issue response', () => voprfFinalize(items, oprfPublicKey(publicKey), res.proof));
  return outputs.map((output, i) => encodeToken({ epoch: pending.epoch, nonce: pending.nonces[i]!, output }));
}

// ---- §3.3 issuer -------------------------------------------------------------------------------

/**
 * The issuer's evaluation of one request with the epoch's key and one DLEQ proof for the
 * batch. TOKEN_EPOCH if the request names another epoch; ADMISSION_REFUSED if it is malformed.
 * Who asked, and whether the quota allows it (checkQuota), is the issuer service's part.
 */
export function evaluateIssueRequest(key: EpochSecret, request: Uint8Array, proofRandomScalar?: Uint8Array): Uint8Array {
  const req = decodeIssueRequest(request);
  if (req.epoch !== key.epoch) throw new AdmissionError('TOKEN_EPOCH', `request is for epoch ${req.epoch}, this key is epoch ${key.epoch}`);
  const ev = voprfBlindEvaluate(key.secretKey, key.publicKey, req.blindedElements, proofRandomScalar);
  return encodeIssueResponse({ epoch: key.epoch, evaluatedElements: ev.evaluatedElements, proof: ev.proof });
}

/** §3.3: QUOTA_EXCEEDED unless `requested` more tokens fit in the member's quota for the epoch. */
export function checkQuota(issuedThisEpoch: number, requested: number, quota: number): void {
  for (const [name, v] of [['issuedThisEpoch', issuedThisEpoch], ['requested', requested], ['quota', quota]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new AdmissionError('INVALID_ARGUMENT', `${name} must be a non-negative integer`);
  }
  if (issuedThisEpoch + requested > quota) {
    throw new AdmissionError('QUOTA_EXCEEDED', `${requested} more tokens would exceed the quota of ${quota} for this epoch`);
  }
}

// ---- §2.3 token bytes, §4 redemption -----------------------------------------------------------

export function encodeToken(t: Token): Uint8Array {
  return new Writer().u8(TOKEN_VERSION).u32(epochOf(t.epoch)).bytes(t.nonce, TOKEN_NONCE_LENGTH).bytes(t.output, TOKEN_OUTPUT_LENGTH).finish();
}

/** ADMISSION_REFUSED for anything but TOKEN_LENGTH bytes of version 1. */
export function decodeToken(bytes: Uint8Array): Token {
  return decodeWith('ADMISSION_REFUSED', 'token', () => {
    if (!(bytes instanceof Uint8Array) || bytes.length !== TOKEN_LENGTH) throw new MalformedError(`a token is ${TOKEN_LENGTH} bytes`);
    const r = new Reader(bytes);
    if (r.u8() !== TOKEN_VERSION) throw new MalformedError('unknown version');
    const t = { epoch: r.u32(), nonce: r.bytes(TOKEN_NONCE_LENGTH), output: r.bytes(TOKEN_OUTPUT_LENGTH) };
    r.end();
    return t;
  });
}

/** §4.2: what the relay stores for a spent token: H(label || epoch || nonce). */
export function spentId(epoch: number, nonce: Uint8Array): Uint8Array {
  return sha256(concat(LABEL_SPENT, u32be(epochOf(epoch)), nonce));
}

/** The relay's view of one epoch's key: the secret, and until when its tokens may be redeemed. */
export interface RedeemKey { readonly secretKey: OprfSecretKey; readonly redeemFrom: number; readonly redeemUntil: number }

/**
 * §4.1: checks a token without spending it. ADMISSION_REFUSED if it is malformed or its
 * output is not the PRF of its nonce under the epoch's key; TOKEN_EPOCH if the relay has no
 * key for its epoch or `now` (ms) is outside the epoch's redemption window.
 */
export function verifyToken(token: Uint8Array, keyFor: (epoch: number) => RedeemKey | undefined, now: number): { epoch: number; spentId: Uint8Array } {
  const t = decodeToken(token);
  const key = keyFor(t.epoch);
  if (key === undefined || now < key.redeemFrom || now >= key.redeemUntil) {
    throw new AdmissionError('TOKEN_EPOCH', `epoch ${t.epoch} is not open for redemption here`);
  }
  const expected = oprfEvaluate('voprf', key.secretKey, tokenInput(t.epoch, t.nonce));
  if (!equalBytes(expected, t.output)) throw new AdmissionError('ADMISSION_REFUSED', 'token does not verify');
  return { epoch: t.epoch, spentId: spentId(t.epoch, t.nonce) };
}

/**
 * §4.2: the relay's record of spent tokens, one set per epoch, dropped whole when the epoch's
 * redemption window closes (a token of a closed epoch is TOKEN_EPOCH before the set is asked).
 */
export interface SpentSet {
  /** Records the id; false if it was there already. Atomic with respect to other calls. */
  add(epoch: number, id: Uint8Array): boolean;
  /** Forgets every id of the epoch. */
  dropEpoch(epoch: number): void;
}

/** The in-memory SpentSet, for tests and single-process relays without persistence. */
export class MemorySpentSet implements SpentSet {
  private readonly epochs = new Map<number, Set<string>>();
  add(epoch: number, id: Uint8Array): boolean {
    let set = this.epochs.get(epoch);
    if (set === undefined) this.epochs.set(epoch, (set = new Set()));
    const k = toHex(id);
    if (set.has(k)) return false;
    set.add(k);
    return true;
  }
  dropEpoch(epoch: number): void { this.epochs.delete(epoch); }
  size(epoch: number): number { return this.epochs.get(epoch)?.size ?? 0; }
}

/** §4: verifyToken, then the spend; TOKEN_SPENT the second time. Returns the epoch. */
export function redeemToken(token: Uint8Array, keyFor: (epoch: number) => RedeemKey | undefined, spent: SpentSet, now: number): number {
  const v = verifyToken(token, keyFor, now);
  if (!spent.add(v.epoch, v.spentId)) throw new AdmissionError('TOKEN_SPENT', `token already redeemed in epoch ${v.epoch}`);
  return v.epoch;
}
