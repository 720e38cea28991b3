// RFC 9497 oblivious pseudorandom functions over ristretto255-SHA512 (spec/crypto.md §11):
// the base mode OPRF (0x00), the verifiable VOPRF (0x01) and the partially oblivious POPRF
// (0x02), each with batches under one DLEQ proof (RFC 9497 §2.2). The arithmetic is
// `@noble/curves`' `ristretto255_oprf`; this module gives it the core's shape: distinct types
// for keys, elements, blinds and proofs, every wire value decoded and checked here first, and
// every failure a CryptoError with a code of spec/crypto.md §1.3.
import { ristretto255, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { abytes } from './bytes.js';
import { CryptoError } from './errors.js';
import type { Brand } from './types.js';

type RNG = (bytesLength?: number) => Uint8Array<ArrayBuffer>;

export type OprfMode = 'oprf' | 'voprf' | 'poprf';
/** A server's secret scalar (RFC 9497 §3.2 skS): 32 bytes little-endian, 0 < skS < L. */
export type OprfSecretKey = Brand<Uint8Array, 'OprfSecretKey'>;
/** A server's public element (pkS = skS·G), never the identity. */
export type OprfPublicKey = Brand<Uint8Array, 'OprfPublicKey'>;
/** The client's blinding scalar: secret, kept until finalize. */
export type OprfBlind = Brand<Uint8Array, 'OprfBlind'>;
/** The element the client sends to the server (RFC 9497 §3.3.1 blindedElement). */
export type BlindedElement = Brand<Uint8Array, 'BlindedElement'>;
/** The element the server answers with (evaluatedElement). */
export type EvaluatedElement = Brand<Uint8Array, 'EvaluatedElement'>;
/** The POPRF client's tweaked key T = m·G + pkS (RFC 9497 §3.3.3). */
export type OprfTweakedKey = Brand<Uint8Array, 'OprfTweakedKey'>;
/** A DLEQ proof: c || s, two canonical scalars (RFC 9497 §2.2.1). */
export type DleqProof = Brand<Uint8Array, 'DleqProof'>;

export interface OprfKeyPair { readonly secretKey: OprfSecretKey; readonly publicKey: OprfPublicKey }
export interface OprfBlinded { readonly blind: OprfBlind; readonly blindedElement: BlindedElement }
export interface PoprfBlinded extends OprfBlinded { readonly tweakedKey: OprfTweakedKey }
export interface OprfEvaluation { readonly evaluatedElements: EvaluatedElement[]; readonly proof: DleqProof }
/** One item of a client's batch: what it blinded and what came back. */
export interface OprfFinalizeItem {
  readonly input: Uint8Array;
  readonly blind: OprfBlind;
  readonly blindedElement: BlindedElement;
  readonly evaluatedElement: EvaluatedElement;
}

export const OPRF_SUITE = 'ristretto255-SHA512';
export const OPRF_ELEMENT_LENGTH = 32;
export const OPRF_SCALAR_LENGTH = 32;
export const OPRF_PROOF_LENGTH = 64;
export const OPRF_OUTPUT_LENGTH = 64;
/** RFC 9497 §1.2: inputs and info are length-prefixed with two bytes. */
export const OPRF_MAX_INPUT_LENGTH = 0xffff;

const { Point } = ristretto255;
const Fn = Point.Fn;
const L = Fn.ORDER;
const suite = ristretto255_oprf;

// ---- validation of wire values ---------------------------------------------------------------

function scalarOf(bytes: unknown, name: string): bigint {
  const b = abytes(bytes, name, OPRF_SCALAR_LENGTH);
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  if (n >= L) throw new CryptoError('NON_CANONICAL', `${name} is not a canonical scalar (>= L)`);
  if (n === 0n) throw new CryptoError('INVALID_ARGUMENT', `${name} must not be zero`);
  return n;
}

/**
 * Decodes a ristretto255 element (RFC 9496 §4.3.1): NON_CANONICAL for any string that is not
 * the canonical encoding of an element, LOW_ORDER_POINT for the identity, which RFC 9497 §3.3
 * says to refuse (ristretto255 has prime order, so the identity is its one element of small order).
 */
function elementOf(bytes: unknown, name: string): Uint8Array {
  const b = abytes(bytes, name, OPRF_ELEMENT_LENGTH);
  let p;
  try { p = Point.fromBytes(b); } catch { throw new CryptoError('NON_CANONICAL', `${name} is not a valid ristretto255 encoding`); }
  if (p.equals(Point.ZERO)) throw new CryptoError('LOW_ORDER_POINT', `${name} is the identity element`);
  return b;
}

function inputOf(bytes: unknown, name: string): Uint8Array {
  const b = abytes(bytes, name);
  if (b.length > OPRF_MAX_INPUT_LENGTH) throw new CryptoError('INVALID_LENGTH', `${name} must be at most ${OPRF_MAX_INPUT_LENGTH} bytes, got ${b.length}`);
  return b;
}

function listOf<T>(value: unknown, name: string): T[] {
  if (!Array.isArray(value)) throw new CryptoError('INVALID_TYPE', `${name} must be an array`);
  if (value.length === 0) throw new CryptoError('INVALID_ARGUMENT', `${name} must not be empty`);
  return value as T[];
}

export function oprfSecretKey(bytes: unknown, name = 'secretKey'): OprfSecretKey {
  scalarOf(bytes, name);
  return bytes as OprfSecretKey;
}
export function oprfPublicKey(bytes: unknown, name = 'publicKey'): OprfPublicKey {
  return elementOf(bytes, name) as OprfPublicKey;
}
export function oprfBlind(bytes: unknown, name = 'blind'): OprfBlind {
  scalarOf(bytes, name);
  return bytes as OprfBlind;
}
export function blindedElement(bytes: unknown, name = 'blindedElement'): BlindedElement {
  return elementOf(bytes, name) as BlindedElement;
}
export function evaluatedElement(bytes: unknown, name = 'evaluatedElement'): EvaluatedElement {
  return elementOf(bytes, name) as EvaluatedElement;
}
export function oprfTweakedKey(bytes: unknown, name = 'tweakedKey'): OprfTweakedKey {
  return elementOf(bytes, name) as OprfTweakedKey;
}
export function dleqProof(bytes: unknown, name = 'proof'): DleqProof {
  return abytes(bytes, name, OPRF_PROOF_LENGTH) as DleqProof;
}

/**
 * The random source noble asks for (48 bytes, reduced as (x mod (L-1)) + 1, little-endian),
 * fed so that it yields exactly `scalar`: vectors fix the blinds and the proofs' nonces
 * (RFC 9497 Appendix A `Blind`, `ProofRandomScalar`). Without one, the core's randomness is used.
 */
function rngFor(scalar: Uint8Array | undefined, name: string): RNG | undefined {
  if (scalar === undefined) return undefined;
  const s = scalarOf(scalar, name) - 1n;
  return (n = 0) => {
    const out = new Uint8Array(n);
    let v = s;
    for (let i = 0; i < n; i++) { out[i] = Number(v & 0xffn); v >>= 8n; }
    return out;
  };
}

/** Runs a noble call on values this module already validated; anything it still throws is a bug. */
function guarded<T>(what: string, fn: () => T): T {
  try { return fn(); } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new CryptoError('INVALID_ARGUMENT', `${what} failed: ${(e as Error).message}`, { cause: e });
  }
}

/** RFC 9497 §2.2.3 VerifyProof, as noble runs it: any failure of a well-formed proof is PROOF_INVALID. */
function verified<T>(fn: () => T): T {
  try { return fn(); } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new CryptoError('PROOF_INVALID', 'the DLEQ proof does not verify', { cause: e });
  }
}

const modeApi = (mode: OprfMode, info: Uint8Array = new Uint8Array(0)) =>
  mode === 'oprf' ? suite.oprf : mode === 'voprf' ? suite.voprf : suite.poprf(info);

// ---- keys (RFC 9497 §3.2) ----------------------------------------------------------------------

/** RFC 9497 §3.2.1 DeriveKeyPair: the key depends on the mode, the 32-byte seed and keyInfo. */
export function oprfDeriveKeyPair(mode: OprfMode, seed: Uint8Array, keyInfo: Uint8Array): OprfKeyPair {
  abytes(seed, 'seed', 32);
  inputOf(keyInfo, 'keyInfo');
  const k = guarded('DeriveKeyPair', () => modeApi(mode).deriveKeyPair(seed, keyInfo));
  return { secretKey: k.secretKey as OprfSecretKey, publicKey: k.publicKey as OprfPublicKey };
}

export function oprfGenerateKeyPair(): OprfKeyPair {
  const k = suite.voprf.generateKeyPair();
  return { secretKey: k.secretKey as OprfSecretKey, publicKey: k.publicKey as OprfPublicKey };
}

/** pkS = skS·G, for a server that stored only its secret. */
export function oprfPublicFromSecret(secretKey: OprfSecretKey): OprfPublicKey {
  return Point.BASE.multiply(scalarOf(secretKey, 'secretKey')).toBytes() as OprfPublicKey;
}

// ---- client: blind (RFC 9497 §3.3.1, §3.3.2, §3.3.3) -----------------------------------------

/**
 * OPRF and VOPRF Blind: a fresh blind (or the given one, for vectors) and blindedElement =
 * blind·HashToGroup(input). The mode is part of HashToGroup's domain separation.
 */
export function oprfBlindInput(mode: 'oprf' | 'voprf', input: Uint8Array, blind?: Uint8Array): OprfBlinded {
  inputOf(input, 'input');
  const rng = rngFor(blind, 'blind');
  const api = mode === 'oprf' ? suite.oprf : suite.voprf;
  const r = guarded('Blind', () => api.blind(input, rng));
  return { blind: r.blind as OprfBlind, blindedElement: r.blinded as BlindedElement };
}

/** POPRF Blind: also the tweaked key T = HashToScalar("Info" || info)·G + pkS, refused if it is the identity. */
export function poprfBlindInput(input: Uint8Array, info: Uint8Array, publicKey: OprfPublicKey, blind?: Uint8Array): PoprfBlinded {
  inputOf(input, 'input');
  inputOf(info, 'info');
  oprfPublicKey(publicKey, 'publicKey');
  const rng = rngFor(blind, 'blind');
  const r = guarded('Blind', () => suite.poprf(info).blind(input, publicKey, rng));
  return { blind: r.blind as OprfBlind, blindedElement: r.blinded as BlindedElement, tweakedKey: r.tweakedKey as OprfTweakedKey };
}

// ---- server: evaluate (RFC 9497 §3.3.1, §3.3.2, §3.3.3) --------------------------------------

/** OPRF BlindEvaluate for each element: evaluatedElement = skS·blindedElement, no proof. */
export function oprfBlindEvaluate(secretKey: OprfSecretKey, blindedElements: BlindedElement[]): EvaluatedElement[] {
  oprfSecretKey(secretKey, 'secretKey');
  const items = listOf<BlindedElement>(blindedElements, 'blindedElements');
  items.forEach((b, i) => blindedElement(b, `blindedElements[${i}]`));
  return items.map((b) => guarded('BlindEvaluate', () => suite.oprf.blindEvaluate(secretKey, b)) as EvaluatedElement);
}

/** VOPRF BlindEvaluateBatch: every element times skS, and one DLEQ proof that all used the key of pkS. */
export function voprfBlindEvaluate(
  secretKey: OprfSecretKey, publicKey: OprfPublicKey, blindedElements: BlindedElement[], proofRandomScalar?: Uint8Array,
): OprfEvaluation {
  oprfSecretKey(secretKey, 'secretKey');
  oprfPublicKey(publicKey, 'publicKey');
  const items = listOf<BlindedElement>(blindedElements, 'blindedElements');
  items.forEach((b, i) => blindedElement(b, `blindedElements[${i}]`));
  const rng = rngFor(proofRandomScalar, 'proofRandomScalar');
  const r = guarded('BlindEvaluate', () => suite.voprf.blindEvaluateBatch(secretKey, publicKey, items, rng));
  return { evaluatedElements: r.evaluated as EvaluatedElement[], proof: r.proof as DleqProof };
}

/** POPRF BlindEvaluateBatch: every element times (skS + m)^-1, with a DLEQ proof for the tweaked key. */
export function poprfBlindEvaluate(
  secretKey: OprfSecretKey, info: Uint8Array, blindedElements: BlindedElement[], proofRandomScalar?: Uint8Array,
): OprfEvaluation {
  oprfSecretKey(secretKey, 'secretKey');
  inputOf(info, 'info');
  const items = listOf<BlindedElement>(blindedElements, 'blindedElements');
  items.forEach((b, i) => blindedElement(b, `blindedElements[${i}]`));
  const rng = rngFor(proofRandomScalar, 'proofRandomScalar');
  const r = guarded('BlindEvaluate', () => suite.poprf(info).blindEvaluateBatch(secretKey, items, rng));
  return { evaluatedElements: r.evaluated as EvaluatedElement[], proof: r.proof as DleqProof };
}

// ---- client: finalize (RFC 9497 §3.3.1, §3.3.2, §3.3.3) --------------------------------------

function checkItems(items: unknown): OprfFinalizeItem[] {
  const list = listOf<OprfFinalizeItem>(items, 'items');
  list.forEach((it, i) => {
    if (typeof it !== 'object' || it === null) throw new CryptoError('INVALID_TYPE', `items[${i}] must be an object`);
    inputOf(it.input, `items[${i}].input`);
    oprfBlind(it.blind, `items[${i}].blind`);
    blindedElement(it.blindedElement, `items[${i}].blindedElement`);
    evaluatedElement(it.evaluatedElement, `items[${i}].evaluatedElement`);
  });
  return list;
}
const nobleItems = (items: OprfFinalizeItem[]) =>
  items.map((it) => ({ input: it.input, blind: it.blind, blinded: it.blindedElement, evaluated: it.evaluatedElement }));

/** OPRF Finalize: Hash(len(input) || input || len(N) || N || "Finalize") with N = blind^-1·evaluatedElement. */
export function oprfFinalize(items: OprfFinalizeItem[]): Uint8Array[] {
  return checkItems(items).map((it) => guarded('Finalize', () => suite.oprf.finalize(it.input, it.blind, it.evaluatedElement)));
}

/** VOPRF Finalize of a batch: PROOF_INVALID unless the proof shows every element was evaluated with pkS's key. */
export function voprfFinalize(items: OprfFinalizeItem[], publicKey: OprfPublicKey, proof: DleqProof): Uint8Array[] {
  const list = checkItems(items);
  oprfPublicKey(publicKey, 'publicKey');
  dleqProof(proof, 'proof');
  return verified(() => suite.voprf.finalizeBatch(nobleItems(list), publicKey, proof));
}

/** POPRF Finalize of a batch against the tweaked key from poprfBlindInput; the output also hashes info. */
export function poprfFinalize(items: OprfFinalizeItem[], info: Uint8Array, tweakedKey: OprfTweakedKey, proof: DleqProof): Uint8Array[] {
  const list = checkItems(items);
  inputOf(info, 'info');
  oprfTweakedKey(tweakedKey, 'tweakedKey');
  dleqProof(proof, 'proof');
  return verified(() => suite.poprf(info).finalizeBatch(nobleItems(list), proof, tweakedKey));
}

// ---- server: evaluate without a client (RFC 9497 §3.3.1, §3.3.3 Evaluate) ---------------------

/**
 * The PRF itself, for a party that holds the key and the input (a relay checking a redeemed
 * token): the same output the client's finalize gives. `info` is for POPRF only.
 */
export function oprfEvaluate(mode: OprfMode, secretKey: OprfSecretKey, input: Uint8Array, info?: Uint8Array): Uint8Array {
  oprfSecretKey(secretKey, 'secretKey');
  inputOf(input, 'input');
  if (mode === 'poprf') return guarded('Evaluate', () => suite.poprf(inputOf(info, 'info')).evaluate(secretKey, input));
  if (info !== undefined) throw new CryptoError('INVALID_ARGUMENT', `info is for the poprf mode only, not ${mode}`);
  // RFC 9497 §3.3.1 Evaluate: Hash(len(input) || input || len(N) || N || "Finalize"), N = skS·HashToGroup(input).
  const api = modeApi(mode) as unknown as { evaluate(sk: Uint8Array, input: Uint8Array): Uint8Array };
  return guarded('Evaluate', () => api.evaluate(secretKey, input));
}
