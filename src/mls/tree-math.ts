// Array-based left-balanced binary tree arithmetic (RFC 9420 §4.2, Appendix C). Nodes are
// numbered in-order: leaf i is node 2i, parents sit at odd indices, and a tree of n leaves
// (n a power of two once padded, §7.8) has 2n - 1 nodes. Pure integer functions.
import { MlsError } from './errors.js';

export type NodeIndex = number;
export type LeafIndex = number;

/** floor(log2(x)) for x > 0; 0 for x = 0. */
export function log2(x: number): number {
  if (x === 0) return 0;
  return 31 - Math.clz32(x);
}
/** A node's level: 0 for leaves, the number of trailing 1 bits otherwise. */
export function level(x: NodeIndex): number {
  if ((x & 1) === 0) return 0;
  let k = 0;
  while (((x >> k) & 1) === 1) k++;
  return k;
}
export const isLeaf = (x: NodeIndex): boolean => (x & 1) === 0;
export const leafToNode = (leaf: LeafIndex): NodeIndex => 2 * leaf;
export const nodeToLeaf = (x: NodeIndex): LeafIndex => x >>> 1;
/** Nodes in a tree of n leaves. */
export const nodeWidth = (n: number): number => (n === 0 ? 0 : 2 * (n - 1) + 1);
export function root(nLeaves: number): NodeIndex {
  return (1 << log2(nodeWidth(nLeaves))) - 1;
}
export function left(x: NodeIndex): NodeIndex {
  const k = level(x);
  if (k === 0) throw new MlsError('STATE', 'a leaf has no children');
  return x ^ (1 << (k - 1));
}
export function right(x: NodeIndex): NodeIndex {
  const k = level(x);
  if (k === 0) throw new MlsError('STATE', 'a leaf has no children');
  return x ^ (3 << (k - 1));
}
/** The parent in a full tree (may lie outside a tree that is not a power of two). */
function parentStep(x: NodeIndex): NodeIndex {
  const k = level(x);
  const b = (x >> (k + 1)) & 1;
  return (x | (1 << k)) ^ (b << (k + 1));
}
export function parent(x: NodeIndex, nLeaves: number): NodeIndex {
  if (x === root(nLeaves)) throw new MlsError('STATE', 'the root has no parent');
  return parentStep(x);
}
export function sibling(x: NodeIndex, nLeaves: number): NodeIndex {
  const p = parent(x, nLeaves);
  return x < p ? right(p) : left(p);
}
/** The parents of x up to and including the root (§4.1.2). */
export function directPath(x: NodeIndex, nLeaves: number): NodeIndex[] {
  const r = root(nLeaves);
  const out: NodeIndex[] = [];
  if (x === r) return out;
  let p = x;
  while (p !== r) {
    p = parentStep(p);
    out.push(p);
  }
  return out;
}
/** The siblings of x and of each node on its direct path, root excluded (§4.1.2). */
export function copath(x: NodeIndex, nLeaves: number): NodeIndex[] {
  const r = root(nLeaves);
  if (x === r) return [];
  const path = [x, ...directPath(x, nLeaves)];
  path.pop();
  return path.map((y) => sibling(y, nLeaves));
}
/** True when `ancestor` is x or lies above x (in-order subtree test). */
export function isAncestor(ancestor: NodeIndex, x: NodeIndex): boolean {
  const k = level(ancestor);
  return x >= ancestor - ((1 << k) - 1) && x <= ancestor + ((1 << k) - 1);
}
/** The lowest node whose subtree holds both x and y. */
export function commonAncestor(x: NodeIndex, y: NodeIndex): NodeIndex {
  let lx = level(x) + 1, ly = level(y) + 1;
  if (lx <= ly && x >> ly === y >> ly) return y;
  if (ly <= lx && x >> lx === y >> lx) return x;
  let xn = x, yn = y, k = 0;
  while (xn !== yn) { xn >>= 1; yn >>= 1; k++; }
  lx = 0; ly = 0;
  return ((xn << k) + (1 << (k - 1)) - 1);
}
