// Extensions, the version and the registries' code points that several structures share
// (RFC 9420 §13, §17.2–§17.4). Pure codecs.
import { TlsReader, TlsWriter } from './tls.js';

export const PROTOCOL_VERSION_MLS10 = 1;

/** ExtensionType code points (§17.3) and the private-use ones Sealpost defines (spec/groups.md §4). */
export const ExtensionType = {
  applicationId: 0x0001,
  ratchetTree: 0x0002,
  requiredCapabilities: 0x0003,
  externalPub: 0x0004,
  externalSenders: 0x0005,
} as const;
export const DEFAULT_EXTENSION_TYPES: readonly number[] = [1, 2, 3, 4, 5];

/** ProposalType code points (§17.4). */
export const ProposalType = {
  add: 1,
  update: 2,
  remove: 3,
  psk: 4,
  reinit: 5,
  externalInit: 6,
  groupContextExtensions: 7,
} as const;
export const DEFAULT_PROPOSAL_TYPES: readonly number[] = [1, 2, 3, 4, 5, 6, 7];

/** CredentialType code points (§17.5). */
export const CredentialType = { basic: 1, x509: 2 } as const;

export interface Extension { readonly type: number; readonly data: Uint8Array }

export function writeExtension(w: TlsWriter, e: Extension): void {
  w.u16(e.type).opaque(e.data);
}
export function readExtension(r: TlsReader): Extension {
  return { type: r.u16(), data: r.opaque() };
}
export function writeExtensions(w: TlsWriter, list: readonly Extension[]): void {
  w.vector(list, writeExtension);
}
export function readExtensions(r: TlsReader): Extension[] {
  return r.vector(readExtension);
}
/** True when no extension type appears twice (§13: "MUST NOT contain duplicates"). */
export function uniqueExtensionTypes(list: readonly Extension[]): boolean {
  return new Set(list.map((e) => e.type)).size === list.length;
}
export const writeU16 = (w: TlsWriter, v: number): void => void w.u16(v);
export const readU16 = (r: TlsReader): number => r.u16();
export const writeU32 = (w: TlsWriter, v: number): void => void w.u32(v);
export const readU32 = (r: TlsReader): number => r.u32();
