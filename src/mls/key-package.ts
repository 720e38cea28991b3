// KeyPackage (RFC 9420 §10): a client's offer to be added, signed over KeyPackageTBS with its
// leaf's signature key, and its reference (§5.2). Pure codecs plus sign/verify/ref through the
// cipher suite.
import { readExtensions, writeExtensions, PROTOCOL_VERSION_MLS10, type Extension } from './extensions.js';
import { MlsError } from './errors.js';
import { readLeafNode, writeLeafNode, type LeafNode } from './leaf-node.js';
import type { CipherSuite } from './suite.js';
import { TlsReader, TlsWriter, decode, encode } from './tls.js';
import type { Ed25519Seed } from '../crypto/types.js';

export interface KeyPackage {
  readonly version: number;
  readonly cipherSuite: number;
  readonly initKey: Uint8Array;
  readonly leafNode: LeafNode;
  readonly extensions: readonly Extension[];
  readonly signature: Uint8Array;
}
/** A KeyPackage before it is signed (KeyPackageTBS). */
export type KeyPackageContent = Omit<KeyPackage, 'signature'>;

export function writeKeyPackageTbs(w: TlsWriter, k: KeyPackageContent): void {
  w.u16(k.version).u16(k.cipherSuite).opaque(k.initKey);
  writeLeafNode(w, k.leafNode);
  writeExtensions(w, k.extensions);
}
export function writeKeyPackage(w: TlsWriter, k: KeyPackage): void {
  writeKeyPackageTbs(w, k);
  w.opaque(k.signature);
}
/** Refuses any version but mls10 (UNSUPPORTED); the cipher suite is checked at validation (§10.1). */
export function readKeyPackage(r: TlsReader): KeyPackage {
  const version = r.u16();
  if (version !== PROTOCOL_VERSION_MLS10) throw new MlsError('UNSUPPORTED', `key package version ${version}`);
  const cipherSuite = r.u16();
  const initKey = r.opaque();
  const leafNode = readLeafNode(r);
  const extensions = readExtensions(r);
  return { version, cipherSuite, initKey, leafNode, extensions, signature: r.opaque() };
}
export const encodeKeyPackage = (k: KeyPackage): Uint8Array => encode(writeKeyPackage, k);
export const decodeKeyPackage = (b: Uint8Array): KeyPackage => decode(readKeyPackage, b, 'KeyPackage');
/** KeyPackageTBS (§10): everything but the signature. */
export const keyPackageTbs = (k: KeyPackageContent): Uint8Array => encode(writeKeyPackageTbs, k);

/** Signs with SignWithLabel(., "KeyPackageTBS", KeyPackageTBS); the seed is the leaf's signature key. */
export function signKeyPackage(suite: CipherSuite, seed: Ed25519Seed, content: KeyPackageContent): KeyPackage {
  const { version, cipherSuite, initKey, leafNode, extensions } = content;
  const signature = suite.signWithLabel(seed, 'KeyPackageTBS', keyPackageTbs(content));
  return { version, cipherSuite, initKey, leafNode, extensions, signature };
}
/** Verifies the signature with the leaf node's signature key (§10.1). */
export function verifyKeyPackageSignature(suite: CipherSuite, k: KeyPackage): boolean {
  return suite.verifyWithLabel(k.leafNode.signatureKey, 'KeyPackageTBS', keyPackageTbs(k), k.signature);
}
/** KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage) (§5.2). */
export function keyPackageRef(suite: CipherSuite, k: KeyPackage): Uint8Array {
  return suite.refHash('MLS 1.0 KeyPackage Reference', encodeKeyPackage(k));
}
