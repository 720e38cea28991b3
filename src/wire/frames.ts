// Frame types as a discriminated union tagged by their wire keyword, and the pure codec
// (spec/protocol.md §3). Decoding returns views into the input buffer: callers that keep a
// field beyond the frame's life copy it.
import { ProtocolError, type ErrorCode } from './errors.js';
import { FRAME_HEADER_BYTES, PROTOCOL_VERSION } from './constants.js';

type B = Uint8Array;
interface Base { corr: number }

// Client to relay.
export interface HelloFrame extends Base { type: 'HELLO'; minVersion: number; maxVersion: number; clientNonce: B }
export interface CreateFrame extends Base {
  type: 'CREATE'; readKey: B; sendId: B; deliveryKey: B; accessVerifier: B; flags: number; ttlSeconds: number; token: B; signature: B;
}
export interface AuthFrame extends Base { type: 'AUTH'; readId: B; signature: B }
export interface SubFrame extends Base { type: 'SUB'; readId: B }
export interface FetchFrame extends Base { type: 'FETCH'; readId: B }
export interface AckFrame extends Base { type: 'ACK'; readId: B; msgId: number }
export interface UnsubFrame extends Base { type: 'UNSUB'; readId: B }
export interface DelFrame extends Base { type: 'DEL'; readId: B }
export interface RotateFrame extends Base {
  type: 'ROTATE'; readId: B; newReadKey: B; newDeliveryKey: B; newAccessVerifier: B; signature: B;
}
export interface SendFrame extends Base { type: 'SEND'; sendId: B; proof: B; envelope: B }
export interface PingFrame extends Base { type: 'PING' }
/** A SEND sealed to the relay named by `relay` (its fingerprint), for this relay to pass on (spec/federation.md §4). */
export interface ForwardFrame extends Base { type: 'FORWARD'; relay: B; sealed: B }
/** Asks for a partner relay's keys, signed by that relay (spec/federation.md §5). */
export interface KeyQueryFrame extends Base { type: 'KEY_QUERY'; relay: B }

// Relay to client.
export interface ServerHelloFrame extends Base {
  type: 'SERVER_HELLO'; version: number; serverNonce: B; relaySignKey: B; relayDeliveryKey: B;
  powDifficulty: number; maxFrameBytes: number; signature: B;
}
export interface OkFrame extends Base { type: 'OK' }
export interface ErrFrame extends Base { type: 'ERR'; code: ErrorCode | number }
export interface CreatedFrame extends Base { type: 'CREATED'; readId: B; sendId: B }
export interface MsgFrame extends Base { type: 'MSG'; readId: B; msgId: number; delivered: B }
export interface EmptyFrame extends Base { type: 'EMPTY' }
export interface PongFrame extends Base { type: 'PONG' }
export interface EndFrame extends Base { type: 'END'; readId: B }
export interface RotatedFrame extends Base { type: 'ROTATED'; newReadId: B }
export interface ForwardedFrame extends Base { type: 'FORWARDED'; response: B }
export interface RelayKeyFrame extends Base { type: 'RELAY_KEY'; signKey: B; deliveryKey: B; signature: B; powDifficulty: number }

export type ClientFrame = HelloFrame | CreateFrame | AuthFrame | SubFrame | FetchFrame | AckFrame | UnsubFrame
  | DelFrame | RotateFrame | SendFrame | PingFrame | ForwardFrame | KeyQueryFrame;
export type RelayFrame = ServerHelloFrame | OkFrame | ErrFrame | CreatedFrame | MsgFrame | EmptyFrame | PongFrame
  | EndFrame | RotatedFrame | ForwardedFrame | RelayKeyFrame;
export type Frame = ClientFrame | RelayFrame;
export type FrameType = Frame['type'];

// Field kinds: fixed-length bytes, integers, u16-length-prefixed bytes, or the rest of the frame.
type Field = readonly [name: string, kind: number | 'u8' | 'u16' | 'u32' | 'u64' | 'var16' | 'rest'];

const SCHEMAS: Record<FrameType, { code: number; fields: readonly Field[] }> = {
  HELLO: { code: 0x01, fields: [['minVersion', 'u8'], ['maxVersion', 'u8'], ['clientNonce', 32]] },
  CREATE: { code: 0x10, fields: [['readKey', 32], ['sendId', 32], ['deliveryKey', 32], ['accessVerifier', 32], ['flags', 'u8'], ['ttlSeconds', 'u32'], ['token', 'var16'], ['signature', 64]] },
  AUTH: { code: 0x11, fields: [['readId', 32], ['signature', 64]] },
  SUB: { code: 0x12, fields: [['readId', 32]] },
  FETCH: { code: 0x13, fields: [['readId', 32]] },
  ACK: { code: 0x14, fields: [['readId', 32], ['msgId', 'u64']] },
  UNSUB: { code: 0x15, fields: [['readId', 32]] },
  DEL: { code: 0x16, fields: [['readId', 32]] },
  ROTATE: { code: 0x17, fields: [['readId', 32], ['newReadKey', 32], ['newDeliveryKey', 32], ['newAccessVerifier', 32], ['signature', 64]] },
  SEND: { code: 0x18, fields: [['sendId', 32], ['proof', 32], ['envelope', 'rest']] },
  PING: { code: 0x19, fields: [] },
  FORWARD: { code: 0x1a, fields: [['relay', 32], ['sealed', 'rest']] },
  KEY_QUERY: { code: 0x1b, fields: [['relay', 32]] },
  SERVER_HELLO: { code: 0x81, fields: [['version', 'u8'], ['serverNonce', 32], ['relaySignKey', 32], ['relayDeliveryKey', 32], ['powDifficulty', 'u8'], ['maxFrameBytes', 'u32'], ['signature', 64]] },
  OK: { code: 0x82, fields: [] },
  ERR: { code: 0x83, fields: [['code', 'u16']] },
  CREATED: { code: 0x84, fields: [['readId', 32], ['sendId', 32]] },
  MSG: { code: 0x85, fields: [['readId', 32], ['msgId', 'u64'], ['delivered', 'rest']] },
  EMPTY: { code: 0x86, fields: [] },
  PONG: { code: 0x87, fields: [] },
  END: { code: 0x88, fields: [['readId', 32]] },
  ROTATED: { code: 0x89, fields: [['newReadId', 32]] },
  FORWARDED: { code: 0x8a, fields: [['response', 18]] },
  RELAY_KEY: { code: 0x8b, fields: [['signKey', 32], ['deliveryKey', 32], ['signature', 64], ['powDifficulty', 'u8']] },
};

const BY_CODE = new Map<number, FrameType>(Object.entries(SCHEMAS).map(([t, s]) => [s.code, t as FrameType]));
export const frameTypeCode = (type: FrameType): number => SCHEMAS[type].code;
export const isClientTypeCode = (code: number): boolean => code >= 0x01 && code <= 0x3f;
const INT_MAX = { u8: 0xff, u16: 0xffff, u32: 0xffffffff, u64: Number.MAX_SAFE_INTEGER } as const;

/** The signed part of a frame: its body up to (not including) the final 64-byte signature. */
export function bodyWithoutSignature(frameBytes: Uint8Array): Uint8Array {
  return frameBytes.subarray(FRAME_HEADER_BYTES, frameBytes.length - 64);
}

export function encodeFrame(frame: Frame, version: number = PROTOCOL_VERSION): Uint8Array {
  const schema = SCHEMAS[frame.type];
  const values = frame as unknown as Record<string, unknown>;
  let size = FRAME_HEADER_BYTES;
  for (const [name, kind] of schema.fields) {
    const v = values[name];
    if (typeof kind === 'number') size += kind;
    else if (kind === 'var16') size += 2 + (v as B).length;
    else if (kind === 'rest') size += (v as B).length;
    else size += kind === 'u8' ? 1 : kind === 'u16' ? 2 : kind === 'u32' ? 4 : 8;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out[0] = version;
  out[1] = schema.code;
  dv.setUint32(2, frame.corr >>> 0);
  let o = FRAME_HEADER_BYTES;
  for (const [name, kind] of schema.fields) {
    const v = values[name];
    if (typeof kind === 'number' || kind === 'rest' || kind === 'var16') {
      if (!(v instanceof Uint8Array)) throw new TypeError(`${frame.type}.${name} must be a Uint8Array`);
      if (typeof kind === 'number' && v.length !== kind) throw new RangeError(`${frame.type}.${name} must be ${kind} bytes, got ${v.length}`);
      if (kind === 'var16') {
        if (v.length > 0xffff) throw new RangeError(`${frame.type}.${name} is longer than 65535 bytes`);
        dv.setUint16(o, v.length);
        o += 2;
      }
      out.set(v, o);
      o += v.length;
      continue;
    }
    const n = v as number;
    if (!Number.isSafeInteger(n) || n < 0 || n > INT_MAX[kind]) throw new RangeError(`${frame.type}.${name} out of range for ${kind}`);
    if (kind === 'u8') { dv.setUint8(o, n); o += 1; }
    else if (kind === 'u16') { dv.setUint16(o, n); o += 2; }
    else if (kind === 'u32') { dv.setUint32(o, n); o += 4; }
    else { dv.setUint32(o, Math.floor(n / 2 ** 32)); dv.setUint32(o + 4, n >>> 0); o += 8; }
  }
  return out;
}

function decode(bytes: Uint8Array, expectVersion: number, side: 'client' | 'relay'): Frame {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError('MALFORMED', 'frame must be bytes');
  if (bytes.length < FRAME_HEADER_BYTES) throw new ProtocolError('MALFORMED', 'frame shorter than its header');
  if (bytes[0] !== expectVersion) throw new ProtocolError('VERSION', `frame version ${bytes[0]}`);
  const code = bytes[1]!;
  const type = BY_CODE.get(code);
  const clientCode = isClientTypeCode(code);
  if (side === 'client' && !clientCode) throw new ProtocolError('MALFORMED', `type 0x${code.toString(16)} is not a client command`);
  if (side === 'relay' && clientCode) throw new ProtocolError('MALFORMED', `type 0x${code.toString(16)} is not a relay frame`);
  if (!type) throw new ProtocolError(side === 'client' ? 'UNKNOWN_COMMAND' : 'MALFORMED', `unknown type 0x${code.toString(16)}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const frame: Record<string, unknown> = { type, corr: dv.getUint32(2) };
  let o = FRAME_HEADER_BYTES;
  const need = (n: number): void => {
    if (o + n > bytes.length) throw new ProtocolError('MALFORMED', `${type} body too short`);
  };
  for (const [name, kind] of SCHEMAS[type].fields) {
    if (typeof kind === 'number') { need(kind); frame[name] = bytes.subarray(o, o + kind); o += kind; }
    else if (kind === 'rest') { frame[name] = bytes.subarray(o); o = bytes.length; }
    else if (kind === 'var16') { need(2); const n = dv.getUint16(o); o += 2; need(n); frame[name] = bytes.subarray(o, o + n); o += n; }
    else if (kind === 'u8') { need(1); frame[name] = dv.getUint8(o); o += 1; }
    else if (kind === 'u16') { need(2); frame[name] = dv.getUint16(o); o += 2; }
    else if (kind === 'u32') { need(4); frame[name] = dv.getUint32(o); o += 4; }
    else {
      need(8);
      const hi = dv.getUint32(o);
      if (hi > 0x1fffff) throw new ProtocolError('MALFORMED', `${type}.${name} exceeds 2^53-1`);
      frame[name] = hi * 2 ** 32 + dv.getUint32(o + 4);
      o += 8;
    }
  }
  if (o !== bytes.length) throw new ProtocolError('MALFORMED', `${type} has ${bytes.length - o} trailing bytes`);
  return frame as unknown as Frame;
}

/** Decodes a frame a client sent. Throws ProtocolError MALFORMED | VERSION | UNKNOWN_COMMAND. */
export function decodeClientFrame(bytes: Uint8Array, version: number = PROTOCOL_VERSION): ClientFrame {
  return decode(bytes, version, 'client') as ClientFrame;
}

/** Decodes a frame a relay sent. Throws ProtocolError MALFORMED | VERSION. */
export function decodeRelayFrame(bytes: Uint8Array, version: number = PROTOCOL_VERSION): RelayFrame {
  return decode(bytes, version, 'relay') as RelayFrame;
}

/** Reads the correlation number of a frame too broken to decode, so that ERR can carry it. */
export function peekCorr(bytes: Uint8Array): number {
  return bytes.length >= FRAME_HEADER_BYTES ? new DataView(bytes.buffer, bytes.byteOffset, 6).getUint32(2) : 0;
}
