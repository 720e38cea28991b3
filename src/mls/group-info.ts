// GroupInfo (RFC 9420 §12.4.3): the group's context as a joiner receives it, signed by a
// member over GroupInfoTBS. Pure codecs plus sign/verify through the cipher suite.
import { readExtensions, writeExtensions, type Extension } from './extensions.js';
import { readGroupContext, writeGroupContext, type GroupContext } from './group-context.js';
import type { CipherSuite } from './suite.js';
import { TlsReader, TlsWriter, decode, encode } from './tls.js';
import type { Ed25519Seed } from '../crypto/types.js';

export interface GroupInfo {
  readonly groupContext: GroupContext;
  readonly extensions: readonly Extension[];
  readonly confirmationTag: Uint8Array;
  /** The leaf index of the member who signed. */
  readonly signer: number;
  readonly signature: Uint8Array;
}
/** A GroupInfo before it is signed (GroupInfoTBS). */
export type GroupInfoContent = Omit<GroupInfo, 'signature'>;

export function writeGroupInfoTbs(w: TlsWriter, g: GroupInfoContent): void {
  writeGroupContext(w, g.groupContext);
  writeExtensions(w, g.extensions);
  w.opaque(g.confirmationTag).u32(g.signer);
}
export function writeGroupInfo(w: TlsWriter, g: GroupInfo): void {
  writeGroupInfoTbs(w, g);
  w.opaque(g.signature);
}
export function readGroupInfo(r: TlsReader): GroupInfo {
  const groupContext = readGroupContext(r);
  const extensions = readExtensions(r);
  const confirmationTag = r.opaque();
  const signer = r.u32();
  return { groupContext, extensions, confirmationTag, signer, signature: r.opaque() };
}
export const encodeGroupInfo = (g: GroupInfo): Uint8Array => encode(writeGroupInfo, g);
export const decodeGroupInfo = (b: Uint8Array): GroupInfo => decode(readGroupInfo, b, 'GroupInfo');
/** GroupInfoTBS (§12.4.3): everything but the signature. */
export const groupInfoTbs = (g: GroupInfoContent): Uint8Array => encode(writeGroupInfoTbs, g);

/** Signs with SignWithLabel(., "GroupInfoTBS", GroupInfoTBS) under the signer's leaf key. */
export function signGroupInfo(suite: CipherSuite, seed: Ed25519Seed, content: GroupInfoContent): GroupInfo {
  const { groupContext, extensions, confirmationTag, signer } = content;
  const signature = suite.signWithLabel(seed, 'GroupInfoTBS', groupInfoTbs(content));
  return { groupContext, extensions, confirmationTag, signer, signature };
}
/** Verifies against the signature key of the leaf at `signer`, which the caller looks up. */
export function verifyGroupInfoSignature(suite: CipherSuite, g: GroupInfo, signerPublicKey: Uint8Array): boolean {
  return suite.verifyWithLabel(signerPublicKey, 'GroupInfoTBS', groupInfoTbs(g), g.signature);
}
