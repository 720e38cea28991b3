// The relay-to-relay wire (spec/federation.md §2, §3): the link handshake messages and the
// items batched inside an encrypted DATA message. Pure codecs; decoding returns views into the
// input, and every malformed input throws LinkError MALFORMED (or VERSION).
import { LinkError } from './link-errors.js';

export const LINK_VERSION = 1;
export const PEER_SUBPROTOCOL = 'sealpost.peer.v1';
/** The largest WebSocket message on a link, either way (spec/federation.md §3). */
export const LINK_MAX_MESSAGE_BYTES = 66_560;
/** kind[1] reqId[4] length[4] (spec/federation.md §3). */
export const ITEM_HEADER_BYTES = 9;

type B = Uint8Array;
export interface LinkHello { type: 'LINK_HELLO'; minVersion: number; maxVersion: number; nonce: B; signKey: B; ephemeral: B }
export interface LinkAccept {
  type: 'LINK_ACCEPT'; version: number; nonce: B; signKey: B; ephemeral: B; deliveryKey: B; deliveryKeySignature: B; powDifficulty: number; signature: B;
}
export interface LinkAuth { type: 'LINK_AUTH'; signature: B }
export interface LinkReady { type: 'LINK_READY' }
export interface LinkErr { type: 'LINK_ERR'; code: number }
export interface LinkData { type: 'LINK_DATA'; ciphertext: B }
export type LinkMessage = LinkHello | LinkAccept | LinkAuth | LinkReady | LinkErr | LinkData;

type Field = readonly [name: string, kind: number | 'u8' | 'u16' | 'rest'];
const SCHEMAS: Record<LinkMessage['type'], { code: number; fields: readonly Field[] }> = {
  LINK_HELLO: { code: 0x01, fields: [['minVersion', 'u8'], ['maxVersion', 'u8'], ['nonce', 32], ['signKey', 32], ['ephemeral', 32]] },
  LINK_ACCEPT: { code: 0x02, fields: [['version', 'u8'], ['nonce', 32], ['signKey', 32], ['ephemeral', 32], ['deliveryKey', 32], ['deliveryKeySignature', 64], ['powDifficulty', 'u8'], ['signature', 64]] },
  LINK_AUTH: { code: 0x03, fields: [['signature', 64]] },
  LINK_READY: { code: 0x04, fields: [] },
  LINK_ERR: { code: 0x05, fields: [['code', 'u16']] },
  LINK_DATA: { code: 0x06, fields: [['ciphertext', 'rest']] },
};
const BY_CODE = new Map(Object.entries(SCHEMAS).map(([t, s]) => [s.code, t as LinkMessage['type']]));

export function encodeLinkMessage(m: LinkMessage): Uint8Array {
  const schema = SCHEMAS[m.type];
  const values = m as unknown as Record<string, unknown>;
  let size = 2;
  for (const [name, kind] of schema.fields) size += typeof kind === 'number' ? kind : kind === 'u8' ? 1 : kind === 'u16' ? 2 : (values[name] as B).length;
  const out = new Uint8Array(size);
  out[0] = LINK_VERSION;
  out[1] = schema.code;
  let o = 2;
  for (const [name, kind] of schema.fields) {
    const v = values[name];
    if (kind === 'u8') { out[o++] = v as number; continue; }
    if (kind === 'u16') { out[o++] = (v as number) >>> 8; out[o++] = (v as number) & 0xff; continue; }
    const b = v as B;
    if (typeof kind === 'number' && b.length !== kind) throw new RangeError(`${m.type}.${name} must be ${kind} bytes`);
    out.set(b, o);
    o += b.length;
  }
  return out;
}

/** Decodes one link message; MALFORMED for a wrong layout, VERSION for another message version. */
export function decodeLinkMessage(bytes: Uint8Array): LinkMessage {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) throw new LinkError('MALFORMED', 'message shorter than its header');
  if (bytes[0] !== LINK_VERSION) throw new LinkError('VERSION', `message version ${bytes[0]}`);
  const type = BY_CODE.get(bytes[1]!);
  if (!type) throw new LinkError('MALFORMED', `unknown message type 0x${bytes[1]!.toString(16)}`);
  const m: Record<string, unknown> = { type };
  let o = 2;
  for (const [name, kind] of SCHEMAS[type].fields) {
    const n = typeof kind === 'number' ? kind : kind === 'u8' ? 1 : kind === 'u16' ? 2 : bytes.length - o;
    if (o + n > bytes.length) throw new LinkError('MALFORMED', `${type} too short`);
    m[name] = kind === 'u8' ? bytes[o] : kind === 'u16' ? (bytes[o]! << 8) | bytes[o + 1]! : bytes.subarray(o, o + n);
    o += n;
  }
  if (o !== bytes.length) throw new LinkError('MALFORMED', `${type} has ${bytes.length - o} trailing bytes`);
  return m as unknown as LinkMessage;
}

// ---- items inside DATA (spec/federation.md §3) -------------------------------------------

export const ITEM_KINDS = { FWD: 0x01, FWD_RESULT: 0x81, FWD_FAIL: 0x82 } as const;
export type ItemKind = keyof typeof ITEM_KINDS;
const KIND_BY_CODE = new Map<number, ItemKind>(Object.entries(ITEM_KINDS).map(([k, v]) => [v, k as ItemKind]));
/** FWD_RESULT carries a sealed response, FWD_FAIL a code; FWD a sealed request of any size. */
const FIXED_BODY: Partial<Record<ItemKind, number>> = { FWD_RESULT: 18, FWD_FAIL: 2 };

export interface LinkItem { readonly kind: ItemKind; readonly reqId: number; readonly body: Uint8Array }

/** FWD_FAIL's body: a protocol error code (spec/protocol.md §7), two bytes. */
export const failBody = (code: number): Uint8Array => new Uint8Array([code >>> 8, code & 0xff]);
export const failCode = (body: Uint8Array): number => (body[0]! << 8) | body[1]!;

export const itemBytes = (item: LinkItem): number => ITEM_HEADER_BYTES + item.body.length;

/** Writes items back to back: kind[1] reqId[4] length[4] body. */
export function encodeItems(items: readonly LinkItem[]): Uint8Array {
  let size = 0;
  for (const it of items) size += itemBytes(it);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const it of items) {
    out[o] = ITEM_KINDS[it.kind];
    dv.setUint32(o + 1, it.reqId >>> 0);
    dv.setUint32(o + 5, it.body.length);
    out.set(it.body, o + ITEM_HEADER_BYTES);
    o += itemBytes(it);
  }
  return out;
}

/** The items of a DATA plaintext, in order; MALFORMED for an unknown kind, a bad length, or none at all. */
export function decodeItems(bytes: Uint8Array): LinkItem[] {
  const items: LinkItem[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let o = 0;
  while (o < bytes.length) {
    if (o + ITEM_HEADER_BYTES > bytes.length) throw new LinkError('MALFORMED', 'item header cut short');
    const kind = KIND_BY_CODE.get(bytes[o]!);
    if (!kind) throw new LinkError('MALFORMED', `unknown item kind 0x${bytes[o]!.toString(16)}`);
    const reqId = dv.getUint32(o + 1);
    const length = dv.getUint32(o + 5);
    if (o + ITEM_HEADER_BYTES + length > bytes.length) throw new LinkError('MALFORMED', 'item body cut short');
    const fixed = FIXED_BODY[kind];
    if (fixed !== undefined && length !== fixed) throw new LinkError('MALFORMED', `${kind} body must be ${fixed} bytes`);
    items.push({ kind, reqId, body: bytes.subarray(o + ITEM_HEADER_BYTES, o + ITEM_HEADER_BYTES + length) });
    o += ITEM_HEADER_BYTES + length;
  }
  if (items.length === 0) throw new LinkError('MALFORMED', 'a DATA message without items');
  return items;
}
