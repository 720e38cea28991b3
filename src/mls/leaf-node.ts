// LeafNode, Capabilities and Lifetime (RFC 9420 §7.2), with the leaf's signature over
// LeafNodeTBS. Pure codecs plus sign/verify through the cipher suite.
import { readCredential, writeCredential, type Credential } from './credential.js';
import { readExtensions, readU16, writeExtensions, writeU16, type Extension } from './extensions.js';
import { MlsError } from './errors.js';
import type { CipherSuite } from './suite.js';
import { TlsReader, TlsWriter } from './tls.js';
import type { Ed25519Seed } from '../crypto/types.js';

export interface Capabilities {
  readonly versions: readonly number[];
  readonly cipherSuites: readonly number[];
  readonly extensions: readonly number[];
  readonly proposals: readonly number[];
  readonly credentials: readonly number[];
}
export interface Lifetime { readonly notBefore: bigint; readonly notAfter: bigint }

export const LeafNodeSource = { keyPackage: 1, update: 2, commit: 3 } as const;

interface LeafNodeCommon {
  readonly encryptionKey: Uint8Array;
  readonly signatureKey: Uint8Array;
  readonly credential: Credential;
  readonly capabilities: Capabilities;
  readonly extensions: readonly Extension[];
  readonly signature: Uint8Array;
}
export type LeafNode = LeafNodeCommon & (
  | { readonly source: 1; readonly lifetime: Lifetime }
  | { readonly source: 2 }
  | { readonly source: 3; readonly parentHash: Uint8Array }
);
/** A LeafNode before it is signed. */
export type LeafNodeContent = LeafNode extends infer L ? (L extends LeafNode ? Omit<L, 'signature'> : never) : never;

/** Where a leaf sits, for the sources whose TBS binds it to a group (§7.2). */
export interface LeafBinding { readonly groupId: Uint8Array; readonly leafIndex: number }

export function writeCapabilities(w: TlsWriter, c: Capabilities): void {
  w.vector(c.versions, writeU16).vector(c.cipherSuites, writeU16).vector(c.extensions, writeU16)
    .vector(c.proposals, writeU16).vector(c.credentials, writeU16);
}
export function readCapabilities(r: TlsReader): Capabilities {
  return {
    versions: r.vector(readU16), cipherSuites: r.vector(readU16), extensions: r.vector(readU16),
    proposals: r.vector(readU16), credentials: r.vector(readU16),
  };
}

function writeLeafContent(w: TlsWriter, l: LeafNodeContent): void {
  w.opaque(l.encryptionKey).opaque(l.signatureKey);
  writeCredential(w, l.credential);
  writeCapabilities(w, l.capabilities);
  w.u8(l.source);
  if (l.source === 1) w.u64(l.lifetime.notBefore).u64(l.lifetime.notAfter);
  else if (l.source === 3) w.opaque(l.parentHash);
  writeExtensions(w, l.extensions);
}

export function writeLeafNode(w: TlsWriter, l: LeafNode): void {
  writeLeafContent(w, l);
  w.opaque(l.signature);
}
export function readLeafNode(r: TlsReader): LeafNode {
  const encryptionKey = r.opaque();
  const signatureKey = r.opaque();
  const credential = readCredential(r);
  const capabilities = readCapabilities(r);
  const source = r.u8();
  let variant: { source: 1; lifetime: Lifetime } | { source: 2 } | { source: 3; parentHash: Uint8Array };
  if (source === 1) variant = { source, lifetime: { notBefore: r.u64(), notAfter: r.u64() } };
  else if (source === 2) variant = { source };
  else if (source === 3) variant = { source, parentHash: r.opaque() };
  else throw new MlsError('MALFORMED', `leaf_node_source ${source}`);
  const extensions = readExtensions(r);
  const signature = r.opaque();
  return { encryptionKey, signatureKey, credential, capabilities, ...variant, extensions, signature };
}

/** LeafNodeTBS (§7.2): the content, then group_id and leaf_index for update and commit leaves. */
export function leafNodeTbs(l: LeafNodeContent, binding?: LeafBinding): Uint8Array {
  const w = new TlsWriter(256);
  writeLeafContent(w, l);
  if (l.source !== 1) {
    if (!binding) throw new MlsError('STATE', 'an update or commit leaf is signed with its group and index');
    w.opaque(binding.groupId).u32(binding.leafIndex);
  }
  return w.finish();
}

export function signLeafNode(suite: CipherSuite, seed: Ed25519Seed, content: LeafNodeContent, binding?: LeafBinding): LeafNode {
  const signature = suite.signWithLabel(seed, 'LeafNodeTBS', leafNodeTbs(content, binding));
  return { ...content, signature } as LeafNode;
}

export function verifyLeafNodeSignature(suite: CipherSuite, l: LeafNode, binding?: LeafBinding): boolean {
  return suite.verifyWithLabel(l.signatureKey, 'LeafNodeTBS', leafNodeTbs(l, binding), l.signature);
}
