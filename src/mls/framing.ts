// Message framing (RFC 9420 §6): Sender, FramedContent and its authentication, PublicMessage,
// PrivateMessage with its sender data and AADs, the MLSMessage envelope, the structures that
// are signed, MACed or hashed over a message (§6.1, §6.2, §8.2) and ProposalRef (§5.2). Pure
// codecs; the few helpers that sign, MAC or hash take the cipher suite.
import { readCommit, writeCommit, type Commit } from './commit.js';
import { PROTOCOL_VERSION_MLS10 } from './extensions.js';
import { MlsError } from './errors.js';
import { readGroupInfo, writeGroupInfo, type GroupInfo } from './group-info.js';
import { readKeyPackage, writeKeyPackage, type KeyPackage } from './key-package.js';
import { readProposal, writeProposal, type Proposal } from './proposals.js';
import type { CipherSuite } from './suite.js';
import { TlsReader, TlsWriter, decode, encode } from './tls.js';
import { readWelcome, writeWelcome, type Welcome } from './welcome.js';
import type { Ed25519Seed } from '../crypto/types.js';

/** ContentType code points (§6). */
export const ContentType = { application: 1, proposal: 2, commit: 3 } as const;
export type ContentTypeValue = 1 | 2 | 3;
/** SenderType code points (§6). */
export const SenderType = { member: 1, external: 2, newMemberProposal: 3, newMemberCommit: 4 } as const;
export type SenderTypeValue = 1 | 2 | 3 | 4;
/** WireFormat code points (§6, §17.2). */
export const WireFormat = { publicMessage: 1, privateMessage: 2, welcome: 3, groupInfo: 4, keyPackage: 5 } as const;
export type WireFormatValue = 1 | 2 | 3 | 4 | 5;

export type Sender =
  | { readonly type: 1; readonly leafIndex: number }
  /** An index into the group's external_senders extension. */
  | { readonly type: 2; readonly senderIndex: number }
  | { readonly type: 3 }
  | { readonly type: 4 };

/** The content of a FramedContent or a PrivateMessageContent, by content type. */
export type FramedContentBody =
  | { readonly contentType: 1; readonly applicationData: Uint8Array }
  | { readonly contentType: 2; readonly proposal: Proposal }
  | { readonly contentType: 3; readonly commit: Commit };

export interface FramedContentHeader {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly sender: Sender;
  readonly authenticatedData: Uint8Array;
}
export type FramedContent = FramedContentHeader & FramedContentBody;

export interface FramedContentAuthData {
  readonly signature: Uint8Array;
  /** Present exactly when the content is a commit. */
  readonly confirmationTag?: Uint8Array | undefined;
}
/** AuthenticatedContent (§6.1): what is signed and what a ProposalRef hashes. */
export interface AuthenticatedContent {
  readonly wireFormat: 1 | 2;
  readonly content: FramedContent;
  readonly auth: FramedContentAuthData;
}
export interface PublicMessage {
  readonly content: FramedContent;
  readonly auth: FramedContentAuthData;
  /** Present exactly when the sender is a member (§6.2). */
  readonly membershipTag?: Uint8Array | undefined;
}
export interface PrivateMessage {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly contentType: ContentTypeValue;
  readonly authenticatedData: Uint8Array;
  readonly encryptedSenderData: Uint8Array;
  readonly ciphertext: Uint8Array;
}
/** PrivateMessageContent (§6.3.1): the body, its auth, then `paddingLength` zero bytes. */
export type PrivateMessageContent = FramedContentBody & {
  readonly auth: FramedContentAuthData;
  readonly paddingLength: number;
};
export interface SenderData {
  readonly leafIndex: number;
  readonly generation: number;
  /** Four bytes (§6.3.2). */
  readonly reuseGuard: Uint8Array;
}
export interface SenderDataAad {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly contentType: ContentTypeValue;
}
export interface PrivateContentAad {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly contentType: ContentTypeValue;
  readonly authenticatedData: Uint8Array;
}
/** MLSMessage (§6): version is always mls10, written and checked by the codec. */
export type MlsMessage =
  | { readonly wireFormat: 1; readonly publicMessage: PublicMessage }
  | { readonly wireFormat: 2; readonly privateMessage: PrivateMessage }
  | { readonly wireFormat: 3; readonly welcome: Welcome }
  | { readonly wireFormat: 4; readonly groupInfo: GroupInfo }
  | { readonly wireFormat: 5; readonly keyPackage: KeyPackage };

function readContentType(r: TlsReader): ContentTypeValue {
  const t = r.u8();
  if (t === 1 || t === 2 || t === 3) return t;
  throw new MlsError('MALFORMED', `content_type ${t}`);
}

// ---- Sender, FramedContent, auth ---------------------------------------------------------

export function writeSender(w: TlsWriter, s: Sender): void {
  w.u8(s.type);
  if (s.type === 1) w.u32(s.leafIndex);
  else if (s.type === 2) w.u32(s.senderIndex);
}
export function readSender(r: TlsReader): Sender {
  const type = r.u8();
  switch (type) {
    case 1: return { type, leafIndex: r.u32() };
    case 2: return { type, senderIndex: r.u32() };
    case 3: case 4: return { type };
    default: throw new MlsError('MALFORMED', `sender_type ${type}`);
  }
}

/** The content_type and the content it selects. */
export function writeFramedContentBody(w: TlsWriter, b: FramedContentBody): void {
  w.u8(b.contentType);
  writeContentOf(w, b);
}
function writeContentOf(w: TlsWriter, b: FramedContentBody): void {
  if (b.contentType === 1) w.opaque(b.applicationData);
  else if (b.contentType === 2) writeProposal(w, b.proposal);
  else writeCommit(w, b.commit);
}
function readContentOf(r: TlsReader, contentType: ContentTypeValue): FramedContentBody {
  if (contentType === 1) return { contentType, applicationData: r.opaque() };
  if (contentType === 2) return { contentType, proposal: readProposal(r) };
  return { contentType, commit: readCommit(r) };
}
export function readFramedContentBody(r: TlsReader): FramedContentBody {
  return readContentOf(r, readContentType(r));
}

export function writeFramedContent(w: TlsWriter, c: FramedContent): void {
  w.opaque(c.groupId).u64(c.epoch);
  writeSender(w, c.sender);
  w.opaque(c.authenticatedData);
  writeFramedContentBody(w, c);
}
export function readFramedContent(r: TlsReader): FramedContent {
  const groupId = r.opaque();
  const epoch = r.u64();
  const sender = readSender(r);
  const authenticatedData = r.opaque();
  return { groupId, epoch, sender, authenticatedData, ...readFramedContentBody(r) };
}
export const encodeFramedContent = (c: FramedContent): Uint8Array => encode(writeFramedContent, c);

/** FramedContentAuthData: the confirmation tag is written exactly for a commit. */
export function writeFramedContentAuthData(w: TlsWriter, a: FramedContentAuthData, contentType: ContentTypeValue): void {
  w.opaque(a.signature);
  if (contentType === 3) {
    if (!a.confirmationTag) throw new MlsError('STATE', 'a commit carries a confirmation tag');
    w.opaque(a.confirmationTag);
  } else if (a.confirmationTag) throw new MlsError('STATE', 'only a commit carries a confirmation tag');
}
export function readFramedContentAuthData(r: TlsReader, contentType: ContentTypeValue): FramedContentAuthData {
  const signature = r.opaque();
  return contentType === 3 ? { signature, confirmationTag: r.opaque() } : { signature };
}

export function writeAuthenticatedContent(w: TlsWriter, a: AuthenticatedContent): void {
  w.u16(a.wireFormat);
  writeFramedContent(w, a.content);
  writeFramedContentAuthData(w, a.auth, a.content.contentType);
}
export function readAuthenticatedContent(r: TlsReader): AuthenticatedContent {
  const wireFormat = r.u16();
  if (wireFormat !== 1 && wireFormat !== 2) throw new MlsError('MALFORMED', `wire_format ${wireFormat} for AuthenticatedContent`);
  const content = readFramedContent(r);
  return { wireFormat, content, auth: readFramedContentAuthData(r, content.contentType) };
}
export const encodeAuthenticatedContent = (a: AuthenticatedContent): Uint8Array => encode(writeAuthenticatedContent, a);
export const decodeAuthenticatedContent = (b: Uint8Array): AuthenticatedContent =>
  decode(readAuthenticatedContent, b, 'AuthenticatedContent');

// ---- what is signed, MACed, hashed ---------------------------------------------------------

/** Whether FramedContentTBS binds the group context for this sender (§6.1). */
export const senderBindsContext = (s: Sender): boolean => s.type === 1 || s.type === 4;

/**
 * FramedContentTBS (§6.1): version, wire_format, content, then the encoded GroupContext when
 * the sender is a member or a new member committing; `groupContext` is ignored otherwise.
 */
export function framedContentTbs(wireFormat: 1 | 2, content: FramedContent, groupContext?: Uint8Array): Uint8Array {
  const w = new TlsWriter(256).u16(PROTOCOL_VERSION_MLS10).u16(wireFormat);
  writeFramedContent(w, content);
  if (senderBindsContext(content.sender)) {
    if (!groupContext) throw new MlsError('STATE', 'FramedContentTBS of a member or new-member commit needs the group context');
    w.raw(groupContext);
  }
  return w.finish();
}
/** SignWithLabel(., "FramedContentTBS", FramedContentTBS) (§6.1). */
export function signFramedContent(
  suite: CipherSuite, seed: Ed25519Seed, wireFormat: 1 | 2, content: FramedContent, groupContext?: Uint8Array,
): Uint8Array {
  return suite.signWithLabel(seed, 'FramedContentTBS', framedContentTbs(wireFormat, content, groupContext));
}
export function verifyFramedContentSignature(
  suite: CipherSuite, signerPublicKey: Uint8Array, a: AuthenticatedContent, groupContext?: Uint8Array,
): boolean {
  return suite.verifyWithLabel(signerPublicKey, 'FramedContentTBS', framedContentTbs(a.wireFormat, a.content, groupContext), a.auth.signature);
}
/** AuthenticatedContentTBM (§6.2): FramedContentTBS then the auth data, for a PublicMessage. */
export function authenticatedContentTbm(content: FramedContent, auth: FramedContentAuthData, groupContext: Uint8Array): Uint8Array {
  const w = new TlsWriter(256).raw(framedContentTbs(1, content, groupContext));
  writeFramedContentAuthData(w, auth, content.contentType);
  return w.finish();
}
/** membership_tag = MAC(membership_key, AuthenticatedContentTBM) (§6.2). */
export function membershipTag(
  suite: CipherSuite, membershipKey: Uint8Array, content: FramedContent, auth: FramedContentAuthData, groupContext: Uint8Array,
): Uint8Array {
  return suite.mac(membershipKey, authenticatedContentTbm(content, auth, groupContext));
}
/** ConfirmedTranscriptHashInput (§8.2): wire_format, the (commit) content, its signature. */
export function confirmedTranscriptHashInput(a: AuthenticatedContent): Uint8Array {
  const w = new TlsWriter(256).u16(a.wireFormat);
  writeFramedContent(w, a.content);
  return w.opaque(a.auth.signature).finish();
}
/** InterimTranscriptHashInput (§8.2): the confirmation tag. */
export function interimTranscriptHashInput(confirmationTag: Uint8Array): Uint8Array {
  return new TlsWriter(confirmationTag.length + 4).opaque(confirmationTag).finish();
}
/** ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent) (§5.2). */
export function proposalRef(suite: CipherSuite, a: AuthenticatedContent): Uint8Array {
  return suite.refHash('MLS 1.0 Proposal Reference', encodeAuthenticatedContent(a));
}

// ---- PublicMessage ------------------------------------------------------------------------

export function writePublicMessage(w: TlsWriter, m: PublicMessage): void {
  writeFramedContent(w, m.content);
  writeFramedContentAuthData(w, m.auth, m.content.contentType);
  if (m.content.sender.type === 1) {
    if (!m.membershipTag) throw new MlsError('STATE', 'a member\'s PublicMessage carries a membership tag');
    w.opaque(m.membershipTag);
  } else if (m.membershipTag) throw new MlsError('STATE', 'only a member\'s PublicMessage carries a membership tag');
}
export function readPublicMessage(r: TlsReader): PublicMessage {
  const content = readFramedContent(r);
  const auth = readFramedContentAuthData(r, content.contentType);
  return content.sender.type === 1 ? { content, auth, membershipTag: r.opaque() } : { content, auth };
}
/** The AuthenticatedContent a PublicMessage carries. */
export const publicMessageContent = (m: PublicMessage): AuthenticatedContent => ({ wireFormat: 1, content: m.content, auth: m.auth });

// ---- PrivateMessage -----------------------------------------------------------------------

export function writePrivateMessage(w: TlsWriter, m: PrivateMessage): void {
  w.opaque(m.groupId).u64(m.epoch).u8(m.contentType).opaque(m.authenticatedData)
    .opaque(m.encryptedSenderData).opaque(m.ciphertext);
}
export function readPrivateMessage(r: TlsReader): PrivateMessage {
  const groupId = r.opaque();
  const epoch = r.u64();
  const contentType = readContentType(r);
  const authenticatedData = r.opaque();
  const encryptedSenderData = r.opaque();
  return { groupId, epoch, contentType, authenticatedData, encryptedSenderData, ciphertext: r.opaque() };
}

/** PrivateMessageContent: the content (its type is the PrivateMessage's), the auth, the zero padding. */
export function encodePrivateMessageContent(c: PrivateMessageContent): Uint8Array {
  if (!Number.isInteger(c.paddingLength) || c.paddingLength < 0) throw new RangeError('padding length');
  const w = new TlsWriter(256);
  writeContentOf(w, c);
  writeFramedContentAuthData(w, c.auth, c.contentType);
  return w.raw(new Uint8Array(c.paddingLength)).finish();
}
/** Decodes a decrypted PrivateMessageContent; the padding must be all zero bytes (§6.3.1). */
export function decodePrivateMessageContent(b: Uint8Array, contentType: ContentTypeValue): PrivateMessageContent {
  const r = new TlsReader(b);
  const body = readContentOf(r, contentType);
  const auth = readFramedContentAuthData(r, contentType);
  const start = r.offset;
  for (let i = start; i < b.length; i++) if (b[i] !== 0) throw new MlsError('MALFORMED', 'non-zero padding in PrivateMessageContent');
  return { ...body, auth, paddingLength: b.length - start };
}

export function writeSenderData(w: TlsWriter, s: SenderData): void {
  if (s.reuseGuard.length !== 4) throw new RangeError('reuse_guard is 4 bytes');
  w.u32(s.leafIndex).u32(s.generation).raw(s.reuseGuard);
}
export function readSenderData(r: TlsReader): SenderData {
  const leafIndex = r.u32();
  const generation = r.u32();
  return { leafIndex, generation, reuseGuard: r.raw(4) };
}
export const encodeSenderData = (s: SenderData): Uint8Array => encode(writeSenderData, s);
export const decodeSenderData = (b: Uint8Array): SenderData => decode(readSenderData, b, 'SenderData');

/** SenderDataAAD (§6.3.2). */
export function writeSenderDataAad(w: TlsWriter, a: SenderDataAad): void {
  w.opaque(a.groupId).u64(a.epoch).u8(a.contentType);
}
export function readSenderDataAad(r: TlsReader): SenderDataAad {
  const groupId = r.opaque();
  const epoch = r.u64();
  return { groupId, epoch, contentType: readContentType(r) };
}
export const encodeSenderDataAad = (a: SenderDataAad): Uint8Array => encode(writeSenderDataAad, a);

/** PrivateContentAAD (§6.3.1). */
export function writePrivateContentAad(w: TlsWriter, a: PrivateContentAad): void {
  w.opaque(a.groupId).u64(a.epoch).u8(a.contentType).opaque(a.authenticatedData);
}
export function readPrivateContentAad(r: TlsReader): PrivateContentAad {
  const groupId = r.opaque();
  const epoch = r.u64();
  const contentType = readContentType(r);
  return { groupId, epoch, contentType, authenticatedData: r.opaque() };
}
export const encodePrivateContentAad = (a: PrivateContentAad): Uint8Array => encode(writePrivateContentAad, a);

// ---- MLSMessage ---------------------------------------------------------------------------

export function writeMlsMessage(w: TlsWriter, m: MlsMessage): void {
  w.u16(PROTOCOL_VERSION_MLS10).u16(m.wireFormat);
  switch (m.wireFormat) {
    case 1: writePublicMessage(w, m.publicMessage); return;
    case 2: writePrivateMessage(w, m.privateMessage); return;
    case 3: writeWelcome(w, m.welcome); return;
    case 4: writeGroupInfo(w, m.groupInfo); return;
    case 5: writeKeyPackage(w, m.keyPackage); return;
  }
}
/** An unknown version is UNSUPPORTED, an unknown wire format MALFORMED. */
export function readMlsMessage(r: TlsReader): MlsMessage {
  const version = r.u16();
  if (version !== PROTOCOL_VERSION_MLS10) throw new MlsError('UNSUPPORTED', `protocol version ${version}`);
  const wireFormat = r.u16();
  switch (wireFormat) {
    case 1: return { wireFormat, publicMessage: readPublicMessage(r) };
    case 2: return { wireFormat, privateMessage: readPrivateMessage(r) };
    case 3: return { wireFormat, welcome: readWelcome(r) };
    case 4: return { wireFormat, groupInfo: readGroupInfo(r) };
    case 5: return { wireFormat, keyPackage: readKeyPackage(r) };
    default: throw new MlsError('MALFORMED', `wire_format ${wireFormat}`);
  }
}
export const encodeMlsMessage = (m: MlsMessage): Uint8Array => encode(writeMlsMessage, m);
export const decodeMlsMessage = (b: Uint8Array): MlsMessage => decode(readMlsMessage, b, 'MLSMessage');
