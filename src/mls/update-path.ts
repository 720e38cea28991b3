// UpdatePathNode and UpdatePath (RFC 9420 §7.6): the committer's new leaf and, for each node of
// its filtered direct path, the new public key and the path secret encrypted to the copath's
// resolution. Pure codecs.
import { readLeafNode, writeLeafNode, type LeafNode } from './leaf-node.js';
import type { HpkeCiphertext } from './suite.js';
import { TlsReader, TlsWriter, encode } from './tls.js';

export interface UpdatePathNode {
  readonly encryptionKey: Uint8Array;
  readonly encryptedPathSecret: readonly HpkeCiphertext[];
}
export interface UpdatePath {
  readonly leafNode: LeafNode;
  readonly nodes: readonly UpdatePathNode[];
}

// HPKECiphertext (§5.1.3): suite.ts's codec, repeated so that the pure codecs never load the
// crypto at run time.
const writeCt = (w: TlsWriter, c: HpkeCiphertext): void => void w.opaque(c.kemOutput).opaque(c.ciphertext);
const readCt = (r: TlsReader): HpkeCiphertext => { const kemOutput = r.opaque(); return { kemOutput, ciphertext: r.opaque() }; };

export function writeUpdatePathNode(w: TlsWriter, n: UpdatePathNode): void {
  w.opaque(n.encryptionKey).vector(n.encryptedPathSecret, writeCt);
}
export function readUpdatePathNode(r: TlsReader): UpdatePathNode {
  const encryptionKey = r.opaque();
  return { encryptionKey, encryptedPathSecret: r.vector(readCt) };
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
