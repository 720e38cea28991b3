// The operations a CryptoPool runs, each in three parts: `encode` (calling thread: an item
// to its byte fields), `exec` (a worker, or the calling thread for a size-0 pool: fields in,
// fields out, through the crypto core's facade) and `decode` (calling thread: result fields to
// a value). Decoded values are views into the batch's result buffer (no copy).
import { abytes } from '../bytes.js';
import { CryptoError, isCryptoError, type CryptoErrorCode } from '../errors.js';
import { ed25519Sign, ed25519Verify, sha256, x25519 } from '../primitives.js';
import { openEnvelope, sealEnvelope } from '../envelope.js';
import { openDelivery, sealDelivery, type DeliveryKey } from '../delivery.js';
import { checkSendProof, type SendProofCheck, type SendProofInput } from '../send-proof.js';
import { openForward, type ForwardRequest } from '../forward.js';
import type {
  AeadKey, Ed25519PublicKey, Ed25519Seed, Ed25519Signature, SharedSecret, X25519KeyPair, X25519PublicKey, X25519SecretKey,
} from '../types.js';

export interface SealEnvelopeItem {
  readonly mailboxKey: X25519PublicKey;
  readonly sender: X25519KeyPair;
  readonly body: Uint8Array;
  readonly bucket?: number;
  /** Deterministic tests only: never reuse an ephemeral key pair. */
  readonly ephemeral?: X25519KeyPair;
}
export interface OpenEnvelopeItem {
  readonly mailboxSecret: X25519SecretKey;
  readonly mailboxKey: X25519PublicKey;
  readonly envelope: Uint8Array;
}
export interface OpenedEnvelope { readonly senderKey: X25519PublicKey; readonly body: Uint8Array }
export interface VerifyEd25519Item { readonly signature: Uint8Array; readonly message: Uint8Array; readonly publicKey: Uint8Array }
export interface SignEd25519Item { readonly seed: Ed25519Seed; readonly message: Uint8Array }
export interface X25519Item { readonly secretKey: X25519SecretKey; readonly publicKey: X25519PublicKey }
/** The delivery layer (spec/crypto.md §6). `nonce`: 24 fresh random bytes, never reused. */
export interface SealDeliveryItem {
  readonly dk: DeliveryKey;
  readonly msgId: number;
  readonly receivedAtMinutes: number;
  readonly envelope: Uint8Array;
  readonly nonce: Uint8Array;
}
/** A delivered envelope re-sealed under a new dk, same msgId and receivedAt (ROTATE, spec/protocol.md §5.9). */
export interface ResealDeliveryItem {
  readonly oldDk: DeliveryKey;
  readonly newDk: DeliveryKey;
  readonly msgId: number;
  readonly delivered: Uint8Array;
  readonly nonce: Uint8Array;
}
/** A FORWARD's sealed request at its destination (spec/federation.md §6): the relay's delivery key pair and the bytes. */
export interface OpenForwardItem {
  readonly secretKey: X25519SecretKey;
  readonly publicKey: X25519PublicKey;
  readonly sealed: Uint8Array;
}
export interface OpenedForward { readonly request: ForwardRequest; readonly responseKey: AeadKey }

/** Every operation: its item type and its result type. */
export interface PoolOps {
  sealEnvelope: { in: SealEnvelopeItem; out: Uint8Array };
  openEnvelope: { in: OpenEnvelopeItem; out: OpenedEnvelope };
  verifyEd25519: { in: VerifyEd25519Item; out: boolean };
  signEd25519: { in: SignEd25519Item; out: Ed25519Signature };
  x25519: { in: X25519Item; out: SharedSecret };
  sha256: { in: Uint8Array; out: Uint8Array };
  checkSendProof: { in: SendProofInput; out: SendProofCheck };
  sealDelivery: { in: SealDeliveryItem; out: Uint8Array };
  resealDelivery: { in: ResealDeliveryItem; out: Uint8Array };
  openForward: { in: OpenForwardItem; out: OpenedForward };
}
export type PoolOpName = keyof PoolOps;
export type PoolIn<K extends PoolOpName> = PoolOps[K]['in'];
export type PoolOut<K extends PoolOpName> = PoolOps[K]['out'];

/** Why one item failed: a crypto core code, or INTERNAL for anything else (a bug). */
export type PoolItemErrorCode = CryptoErrorCode | 'INTERNAL';
/** One slot of a batch's results, in the order of its items. */
export type PoolResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: PoolItemErrorCode };

// Status byte of a packed slot: 0 = ok, i + 1 = ERROR_CODES[i].
export const ERROR_CODES: readonly PoolItemErrorCode[] = [
  'INVALID_TYPE', 'INVALID_LENGTH', 'INVALID_ARGUMENT', 'NON_CANONICAL', 'LOW_ORDER_POINT', 'ZERO_SHARED_SECRET',
  'DECRYPT_FAILED', 'BAD_PADDING', 'MESSAGE_LIMIT', 'BACKEND_UNAVAILABLE', 'INTERNAL',
];
export function errorStatus(e: unknown): number {
  const code: PoolItemErrorCode = isCryptoError(e) ? e.code : 'INTERNAL';
  const i = ERROR_CODES.indexOf(code);
  return (i < 0 ? ERROR_CODES.length - 1 : i) + 1;
}
export const statusCode = (status: number): PoolItemErrorCode => ERROR_CODES[status - 1] ?? 'INTERNAL';

export interface OpDef<I, O> {
  /** Fields per item, and per result. */
  readonly arity: number;
  readonly resultArity: number;
  encode(item: I): Uint8Array[];
  exec(fields: Uint8Array[]): Uint8Array[];
  decode(fields: Uint8Array[]): O;
}

const EMPTY = new Uint8Array(0);
const f = (fields: Uint8Array[], i: number): Uint8Array => fields[i] ?? EMPTY;
function obj(item: unknown, name: string): Record<string, unknown> {
  if (typeof item !== 'object' || item === null) throw new CryptoError('INVALID_TYPE', `${name} item must be an object`);
  return item as Record<string, unknown>;
}
function keyPair(v: unknown, name: string): [Uint8Array, Uint8Array] {
  const kp = obj(v, name);
  return [abytes(kp['secretKey'], `${name}.secretKey`), abytes(kp['publicKey'], `${name}.publicKey`)];
}
function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}
const readU32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
function int(v: unknown, name: string, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw new CryptoError('INVALID_ARGUMENT', `${name} must be an integer in [0, ${max}]`);
  return v;
}
/** A msgId (at most 2^53 - 1) as 8 bytes, little-endian. */
function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, n % 2 ** 32, true);
  v.setUint32(4, Math.floor(n / 2 ** 32), true);
  return b;
}
function readU64(b: Uint8Array): number {
  if (b.length !== 8) throw new CryptoError('INVALID_LENGTH', 'msgId field');
  const v = new DataView(b.buffer, b.byteOffset, 8);
  return v.getUint32(4, true) * 2 ** 32 + v.getUint32(0, true);
}

const sealEnvelopeOp: OpDef<SealEnvelopeItem, Uint8Array> = {
  arity: 7,
  resultArity: 1,
  encode(item) {
    const o = obj(item, 'sealEnvelope');
    const [ss, sp] = keyPair(o['sender'], 'sender');
    const bucket = o['bucket'];
    const [es, ep] = o['ephemeral'] === undefined ? [EMPTY, EMPTY] : keyPair(o['ephemeral'], 'ephemeral');
    return [abytes(o['mailboxKey'], 'mailboxKey'), ss, sp, abytes(o['body'], 'body'), bucket === undefined ? EMPTY : u32(int(bucket, 'bucket', 0xffffffff)), es, ep];
  },
  exec(fields) {
    const bucket = f(fields, 4);
    const es = f(fields, 5);
    const item = {
      mailboxKey: f(fields, 0) as X25519PublicKey,
      sender: { secretKey: f(fields, 1) as X25519SecretKey, publicKey: f(fields, 2) as X25519PublicKey },
      body: f(fields, 3),
      ...(bucket.length === 4 ? { bucket: readU32(bucket) } : {}),
      ...(es.length > 0 ? { ephemeral: { secretKey: es as X25519SecretKey, publicKey: f(fields, 6) as X25519PublicKey } } : {}),
    };
    return [sealEnvelope(item)];
  },
  decode: (fields) => f(fields, 0),
};

const openEnvelopeOp: OpDef<OpenEnvelopeItem, OpenedEnvelope> = {
  arity: 3,
  resultArity: 2,
  encode(item) {
    const o = obj(item, 'openEnvelope');
    return [abytes(o['mailboxSecret'], 'mailboxSecret'), abytes(o['mailboxKey'], 'mailboxKey'), abytes(o['envelope'], 'envelope')];
  },
  exec(fields) {
    const r = openEnvelope({ mailboxSecret: f(fields, 0) as X25519SecretKey, mailboxKey: f(fields, 1) as X25519PublicKey, envelope: f(fields, 2) });
    return [r.senderKey, r.body];
  },
  decode: (fields) => ({ senderKey: f(fields, 0) as X25519PublicKey, body: f(fields, 1) }),
};

const TRUE = new Uint8Array([1]);
const FALSE = new Uint8Array([0]);
const verifyEd25519Op: OpDef<VerifyEd25519Item, boolean> = {
  arity: 3,
  resultArity: 1,
  encode(item) {
    const o = obj(item, 'verifyEd25519');
    return [abytes(o['signature'], 'signature'), abytes(o['message'], 'message'), abytes(o['publicKey'], 'publicKey')];
  },
  exec: (fields) => [DIRECT.verifyEd25519({ signature: f(fields, 0), message: f(fields, 1), publicKey: f(fields, 2) }) ? TRUE : FALSE],
  decode: (fields) => f(fields, 0)[0] === 1,
};

const signEd25519Op: OpDef<SignEd25519Item, Ed25519Signature> = {
  arity: 2,
  resultArity: 1,
  encode(item) {
    const o = obj(item, 'signEd25519');
    return [abytes(o['seed'], 'seed'), abytes(o['message'], 'message')];
  },
  exec: (fields) => [ed25519Sign(f(fields, 0) as Ed25519Seed, f(fields, 1))],
  decode: (fields) => f(fields, 0) as Ed25519Signature,
};

const x25519Op: OpDef<X25519Item, SharedSecret> = {
  arity: 2,
  resultArity: 1,
  encode(item) {
    const o = obj(item, 'x25519');
    return [abytes(o['secretKey'], 'secretKey'), abytes(o['publicKey'], 'publicKey')];
  },
  exec: (fields) => [DIRECT.x25519({ secretKey: f(fields, 0) as X25519SecretKey, publicKey: f(fields, 1) as X25519PublicKey })],
  decode: (fields) => f(fields, 0) as SharedSecret,
};

const sha256Op: OpDef<Uint8Array, Uint8Array> = {
  arity: 1,
  resultArity: 1,
  encode: (item) => [abytes(item, 'data')],
  exec: (fields) => [sha256(f(fields, 0))],
  decode: (fields) => f(fields, 0),
};

const checkSendProofOp: OpDef<SendProofInput, SendProofCheck> = {
  arity: 6,
  resultArity: 1,
  encode(item) {
    const o = obj(item, 'checkSendProof');
    return [
      abytes(o['serverNonce'], 'serverNonce'), abytes(o['sendId'], 'sendId'), abytes(o['envelope'], 'envelope'),
      abytes(o['proof'], 'proof'), new Uint8Array([int(o['difficulty'], 'difficulty', 255)]), abytes(o['verifier'], 'verifier'),
    ];
  },
  exec(fields) {
    const r = DIRECT.checkSendProof({
      serverNonce: f(fields, 0), sendId: f(fields, 1), envelope: f(fields, 2), proof: f(fields, 3),
      difficulty: f(fields, 4)[0] ?? 0, verifier: f(fields, 5),
    });
    return [new Uint8Array([(r.powValid ? 1 : 0) | (r.keyValid ? 2 : 0)])];
  },
  decode: (fields) => {
    const bits = f(fields, 0)[0] ?? 0;
    return { powValid: (bits & 1) !== 0, keyValid: (bits & 2) !== 0 };
  },
};

const sealDeliveryOp: OpDef<SealDeliveryItem, Uint8Array> = {
  arity: 5,
  resultArity: 1,
  encode(item) {
    const o = obj(item, 'sealDelivery');
    return [
      abytes(o['dk'], 'dk'), u64(int(o['msgId'], 'msgId', Number.MAX_SAFE_INTEGER)),
      u32(int(o['receivedAtMinutes'], 'receivedAtMinutes', 0xffffffff)), abytes(o['envelope'], 'envelope'), abytes(o['nonce'], 'nonce'),
    ];
  },
  exec: (fields) => [DIRECT.sealDelivery({
    dk: f(fields, 0) as DeliveryKey, msgId: readU64(f(fields, 1)), receivedAtMinutes: readU32(f(fields, 2)), envelope: f(fields, 3), nonce: f(fields, 4),
  })],
  decode: (fields) => f(fields, 0),
};

const resealDeliveryOp: OpDef<ResealDeliveryItem, Uint8Array> = {
  arity: 5,
  resultArity: 1,
  encode(item) {
    const o = obj(item, 'resealDelivery');
    return [
      abytes(o['oldDk'], 'oldDk'), abytes(o['newDk'], 'newDk'), u64(int(o['msgId'], 'msgId', Number.MAX_SAFE_INTEGER)),
      abytes(o['delivered'], 'delivered'), abytes(o['nonce'], 'nonce'),
    ];
  },
  exec: (fields) => [DIRECT.resealDelivery({
    oldDk: f(fields, 0) as DeliveryKey, newDk: f(fields, 1) as DeliveryKey, msgId: readU64(f(fields, 2)), delivered: f(fields, 3), nonce: f(fields, 4),
  })],
  decode: (fields) => f(fields, 0),
};

// The request's four fields and the response key come back as five result fields, views into
// one result buffer: no copy on the relay's thread.
const openForwardOp: OpDef<OpenForwardItem, OpenedForward> = {
  arity: 3,
  resultArity: 5,
  encode(item) {
    const o = obj(item, 'openForward');
    return [abytes(o['secretKey'], 'secretKey'), abytes(o['publicKey'], 'publicKey'), abytes(o['sealed'], 'sealed')];
  },
  exec(fields) {
    const { request: r, responseKey } = DIRECT.openForward({ secretKey: f(fields, 0) as X25519SecretKey, publicKey: f(fields, 1) as X25519PublicKey, sealed: f(fields, 2) });
    return [r.idempotencyKey, r.sendId, r.proof, r.envelope, responseKey];
  },
  decode: (fields) => ({
    request: { idempotencyKey: f(fields, 0), sendId: f(fields, 1), proof: f(fields, 2), envelope: f(fields, 3) },
    responseKey: f(fields, 4) as AeadKey,
  }),
};

export const OPS: { readonly [K in PoolOpName]: OpDef<PoolIn<K>, PoolOut<K>> } = {
  sealEnvelope: sealEnvelopeOp,
  openEnvelope: openEnvelopeOp,
  verifyEd25519: verifyEd25519Op,
  signEd25519: signEd25519Op,
  x25519: x25519Op,
  sha256: sha256Op,
  checkSendProof: checkSendProofOp,
  sealDelivery: sealDeliveryOp,
  resealDelivery: resealDeliveryOp,
  openForward: openForwardOp,
};

/**
 * The relay's operations run directly on the calling thread, on the item itself (no packing):
 * what a relay without workers does, with the same results and errors as the pool.
 */
export const DIRECT = {
  checkSendProof: (i: SendProofInput): SendProofCheck => checkSendProof(i),
  sealDelivery: (i: SealDeliveryItem): Uint8Array => sealDelivery(i.dk, i.msgId, i.receivedAtMinutes, i.envelope, i.nonce),
  resealDelivery: (i: ResealDeliveryItem): Uint8Array => {
    const { receivedAtMinutes, envelope } = openDelivery(i.oldDk, i.msgId, i.delivered);
    return sealDelivery(i.newDk, i.msgId, receivedAtMinutes, envelope, i.nonce);
  },
  verifyEd25519: (i: VerifyEd25519Item): boolean => ed25519Verify(i.signature, i.message, i.publicKey as Ed25519PublicKey),
  x25519: (i: X25519Item): SharedSecret => x25519(i.secretKey, i.publicKey),
  openForward: (i: OpenForwardItem): OpenedForward => openForward({ secretKey: i.secretKey, publicKey: i.publicKey }, i.sealed),
} satisfies { readonly [K in PoolOpName]?: (item: PoolIn<K>) => PoolOut<K> };
export type DirectOpName = keyof typeof DIRECT;

export const isPoolOp = (op: unknown): op is PoolOpName => typeof op === 'string' && Object.hasOwn(OPS, op);
