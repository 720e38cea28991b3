// ParentNode and the ratchet tree's wire form (RFC 9420 §7.1, §7.2, §12.4.3.3): a vector of
// optional<Node>, leaves at even positions, trailing blanks omitted. Pure codecs.
import { readLeafNode, writeLeafNode, type LeafNode } from './leaf-node.js';
import { readU32, writeU32 } from './extensions.js';
import { MlsError } from './errors.js';
import { TlsReader, TlsWriter } from './tls.js';

export interface ParentNode {
  readonly encryptionKey: Uint8Array;
  readonly parentHash: Uint8Array;
  readonly unmergedLeaves: readonly number[];
}
export type TreeNode =
  | { readonly type: 1; readonly leaf: LeafNode }
  | { readonly type: 2; readonly parent: ParentNode };

export function writeParentNode(w: TlsWriter, p: ParentNode): void {
  w.opaque(p.encryptionKey).opaque(p.parentHash).vector(p.unmergedLeaves, writeU32);
}
export function readParentNode(r: TlsReader): ParentNode {
  return { encryptionKey: r.opaque(), parentHash: r.opaque(), unmergedLeaves: r.vector(readU32) };
}
export function writeNode(w: TlsWriter, n: TreeNode): void {
  w.u8(n.type);
  if (n.type === 1) writeLeafNode(w, n.leaf);
  else writeParentNode(w, n.parent);
}
export function readNode(r: TlsReader): TreeNode {
  const type = r.u8();
  if (type === 1) return { type, leaf: readLeafNode(r) };
  if (type === 2) return { type, parent: readParentNode(r) };
  throw new MlsError('MALFORMED', `node_type ${type}`);
}
/** optional<Node> ratchet_tree<V>, as carried by the ratchet_tree extension and the vectors. */
export function writeRatchetTree(w: TlsWriter, nodes: readonly (TreeNode | undefined)[]): void {
  let n = nodes.length;
  while (n > 0 && nodes[n - 1] === undefined) n--;
  w.vector(nodes.slice(0, n), (x, node) => void x.optional(node, writeNode));
}
/** Decodes the node list; §12.4.3.3: the last node must be present and sit at an even index. */
export function readRatchetTree(r: TlsReader): (TreeNode | undefined)[] {
  const nodes = r.vector((x) => x.optional(readNode));
  if (nodes.length === 0) throw new MlsError('INVALID_TREE', 'empty ratchet tree');
  if (nodes[nodes.length - 1] === undefined) throw new MlsError('INVALID_TREE', 'ratchet tree ends in a blank node');
  if (nodes.length % 2 === 0) throw new MlsError('INVALID_TREE', 'ratchet tree has an even number of nodes');
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    if (n && n.type !== (i % 2 === 0 ? 1 : 2)) throw new MlsError('INVALID_TREE', `node ${i} has the wrong type for its position`);
  }
  return nodes;
}
