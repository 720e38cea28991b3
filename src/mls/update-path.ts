// UpdatePathNode and UpdatePath (RFC 9420 §7.6): the committer's new leaf and, for each node of
// its filtered direct path, the new public key and the path secret encrypted to the copath's
// resolution. Pure codecs.
import { readLeafNode, writeLeafNode, type LeafNode } from './leaf-node.js';
import { readHpkeCiphertext, writeHpkeCiphertext, type HpkeCiphertext } from './hpke-ciphertext.js';
import { TlsReader, TlsWriter, encode } from './tls.js';

export interface UpdatePathNode {
  readonly encryptionKey: Uint8Array;
  readonly encryptedPathSecret: readonly HpkeCiphertext[];
}
export interface UpdatePath {
  readonly leafNode: LeafNode;
  readonly nodes: readonly UpdatePathNode[];
}


export function writeUpdatePathNode(w: TlsWriter, n: UpdatePathNode): void {
  w.opaque(n.encryptionKey).vector(n.encryptedPathSecret, writeHpkeCiphertext);
}
export function readUpdatePathNode(r: TlsReader): UpdatePathNode {
  const encryptionKey = r.opaque();
  return { encryptionKey, encryptedPathSecret: r.vector(readHpkeCiphertext) };
}
export function writeUpdatePath(w: TlsWriter, p: UpdatePath): void {
  writeLeafNode(w, p.leafNode);
  w.vector(p.nodes, writeUpdatePathNode);
}
export function readUpdatePath(r: TlsReader): UpdatePath {
  const leafNode = readLeafNode(r);
  return { leafNode, nodes: r.vector(readUpdatePathNode) };
}
export const encodeUpdatePath = (p: UpdatePath): Uint8Array => encode(writeUpdatePath, p);
