// The ratchet tree's public state (RFC 9420 §4, §7): a full left-balanced binary tree held as an
// array of optional nodes (leaf i at node 2i), with resolution (§4.1.1), the filtered direct
// path (§4.1.2), adding, updating and removing leaves (§7.7, §12.1.1–§12.1.3), tree hashes
// (§7.8), parent hashes (§7.9) and the validation a joiner runs on a tree it is given (§7.3,
// §7.9.2, §12.4.3.1). Private keys live elsewhere (treekem.ts).
//
// Groups reach 1,000 members, so hashing is incremental: the tree hash of every node and the two
// parent hashes of every parent node are cached, and a change to a node forgets only the
// cached values of that node and of its ancestors. A commit therefore rehashes one path, not
// the tree. Nodes are immutable values, so `clone()` is a shallow copy of three arrays.
import { equalBytes, toHex } from '../crypto/bytes.js';
import { DEFAULT_EXTENSION_TYPES, DEFAULT_PROPOSAL_TYPES } from './extensions.js';
import { MlsError, type MlsErrorCode } from './errors.js';
import { verifyLeafNodeSignature, writeLeafNode, type LeafNode } from './leaf-node.js';
import { readRatchetTree, writeParentNode, writeRatchetTree, type ParentNode, type TreeNode } from './nodes.js';
import type { CipherSuite } from './suite.js';
import { TlsWriter, decode, encode } from './tls.js';
import { directPath, isAncestor, isLeaf, left, level, log2, nodeWidth, parent, right, root, type LeafIndex, type NodeIndex } from './tree-math.js';

const EMPTY = new Uint8Array(0);

/** RequiredCapabilities (§11.1), as the group's required_capabilities extension carries it. */
export interface RequiredCapabilities {
  readonly extensions: readonly number[];
  readonly proposals: readonly number[];
  readonly credentials: readonly number[];
}

export interface TreeVerifyOptions {
  /** The GroupContext's required_capabilities, when it has one (§7.3). */
  readonly requiredCapabilities?: RequiredCapabilities;
  /** Seconds since the Unix epoch; when given, key_package leaves must be within their lifetime (§7.3). */
  readonly now?: bigint;
}

const invalid = (msg: string): MlsError => new MlsError('INVALID_TREE', msg);
const DEFAULT_EXTENSIONS = new Set(DEFAULT_EXTENSION_TYPES);
const DEFAULT_PROPOSALS = new Set(DEFAULT_PROPOSAL_TYPES);

/** Byte equality for public values (keys, hashes): exits at the first difference. */
function samePublic(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The nodes in the subtree under x: a contiguous range of node indices (in-order layout). */
function span(x: NodeIndex): [NodeIndex, NodeIndex] {
  const half = (1 << level(x)) - 1;
  return [x - half, x + half];
}
function insertSorted(list: readonly number[], v: number): number[] {
  const out = list.slice();
  let i = out.length;
  while (i > 0 && out[i - 1]! > v) i--;
  if (out[i - 1] !== v) out.splice(i, 0, v);
  return out;
}

export class RatchetTree {
  /** Length nodeWidth(leafCount); leafCount is a power of two (the tree is always full, §7.7). */
  private nodes: (TreeNode | undefined)[];
  /** Cached tree hash per node (§7.8). */
  private th: (Uint8Array | undefined)[];
  /** Cached parent hash per parent node and copath side: [2x] with copath child left(x), [2x+1] with right(x) (§7.9). */
  private ph: (Uint8Array | undefined)[];

  private constructor(private readonly suite: CipherSuite, nodes: (TreeNode | undefined)[], th?: (Uint8Array | undefined)[], ph?: (Uint8Array | undefined)[]) {
    this.nodes = nodes;
    this.th = th ?? new Array<Uint8Array | undefined>(nodes.length).fill(undefined);
    this.ph = ph ?? new Array<Uint8Array | undefined>(2 * nodes.length).fill(undefined);
  }

  /** A one-member tree (§11: the creator's leaf). */
  static create(suite: CipherSuite, leaf: LeafNode): RatchetTree {
    return new RatchetTree(suite, [{ type: 1, leaf }]);
  }

  /** A tree from its node list (the wire form's order), padded with blanks to a full tree. */
  static fromNodes(suite: CipherSuite, list: readonly (TreeNode | undefined)[]): RatchetTree {
    if (list.length === 0 || list.length % 2 === 0) throw invalid(`a ratchet tree has an odd number of nodes, got ${list.length}`);
    for (let i = 0; i < list.length; i++) {
      const n = list[i];
      if (n && n.type !== (isLeaf(i) ? 1 : 2)) throw invalid(`node ${i} has the wrong type for its position`);
    }
    const leaves = (list.length + 1) / 2;
    const full = leaves <= 1 ? 1 : 1 << (log2(leaves - 1) + 1);
    const nodes = list.slice();
    while (nodes.length < nodeWidth(full)) nodes.push(undefined);
    return new RatchetTree(suite, nodes);
  }

  /** Decodes optional<Node> ratchet_tree<V> (§12.4.3.3). MALFORMED or INVALID_TREE on bad input. */
  static decode(suite: CipherSuite, bytes: Uint8Array): RatchetTree {
    return RatchetTree.fromNodes(suite, decode(readRatchetTree, bytes, 'ratchet tree'));
  }

  /** The wire form, trailing blank nodes omitted (§12.4.3.3). */
  encode(): Uint8Array { return encode(writeRatchetTree, this.nodes); }
  write(w: TlsWriter): void { writeRatchetTree(w, this.nodes); }

  /** An independent copy sharing the immutable nodes and the caches' current values. */
  clone(): RatchetTree { return new RatchetTree(this.suite, this.nodes.slice(), this.th.slice(), this.ph.slice()); }

  get cipherSuite(): CipherSuite { return this.suite; }
  get leafCount(): number { return (this.nodes.length + 1) / 2; }
  get nodeCount(): number { return this.nodes.length; }
  get root(): NodeIndex { return root(this.leafCount); }

  nodeAt(x: NodeIndex): TreeNode | undefined { return this.nodes[x]; }
  leafNode(leaf: LeafIndex): LeafNode | undefined {
    const n = this.nodes[2 * leaf];
    return n?.type === 1 ? n.leaf : undefined;
  }
  parentNode(x: NodeIndex): ParentNode | undefined {
    const n = this.nodes[x];
    return n?.type === 2 ? n.parent : undefined;
  }
  /** The HPKE public key held at a node, or undefined for a blank node. */
  encryptionKey(x: NodeIndex): Uint8Array | undefined {
    const n = this.nodes[x];
    return n === undefined ? undefined : n.type === 1 ? n.leaf.encryptionKey : n.parent.encryptionKey;
  }
  /** Leaf indices of the non-blank leaves, in order. */
  members(): LeafIndex[] {
    const out: LeafIndex[] = [];
    for (let x = 0; x < this.nodes.length; x += 2) if (this.nodes[x]) out.push(x >>> 1);
    return out;
  }
  /** The first leaf whose LeafNode encodes to the same bytes as `leaf`, or undefined. */
  findLeaf(leaf: LeafNode): LeafIndex | undefined {
    const want = encode(writeLeafNode, leaf);
    for (let x = 0; x < this.nodes.length; x += 2) {
      const n = this.nodes[x];
      if (n?.type === 1 && samePublic(encode(writeLeafNode, n.leaf), want)) return x >>> 1;
    }
    return undefined;
  }
  /** True when some node of the tree holds this HPKE public key. */
  hasEncryptionKey(key: Uint8Array): boolean {
    for (let x = 0; x < this.nodes.length; x++) {
      const k = this.encryptionKey(x);
      if (k && samePublic(k, key)) return true;
    }
    return false;
  }

  // ---- §4.1.1 resolution, §4.1.2 filtered direct path ----

  /** True when every node under x (x included) is blank, i.e. resolution(x) is empty. */
  isBlankSubtree(x: NodeIndex): boolean {
    const [lo, hi] = span(x);
    for (let i = lo; i <= hi; i++) if (this.nodes[i] !== undefined) return false;
    return true;
  }

  /**
   * The resolution of x (§4.1.1): x itself with its unmerged leaves when x is not blank, nothing
   * for a blank leaf, else the resolutions of its children. Leaves in `exclude` (the members a
   * Commit adds, §7.6) are left out.
   */
  resolution(x: NodeIndex, exclude?: ReadonlySet<LeafIndex>): NodeIndex[] {
    const out: NodeIndex[] = [];
    const walk = (y: NodeIndex): void => {
      const n = this.nodes[y];
      if (n) {
        if (n.type === 1) { if (!exclude?.has(y >>> 1)) out.push(y); return; }
        out.push(y);
        for (const l of n.parent.unmergedLeaves) if (!exclude?.has(l)) out.push(2 * l);
        return;
      }
      if (isLeaf(y)) return;
      walk(left(y));
      walk(right(y));
    };
    walk(x);
    return out;
  }

  /** The direct path of a leaf (§4.1.2): its ancestors up to the root. */
  directPath(leaf: LeafIndex): NodeIndex[] {
    this.checkLeaf(leaf);
    return directPath(2 * leaf, this.leafCount);
  }

  /**
   * The filtered direct path of a leaf (§4.1.2), each node with its child on the leaf's copath:
   * the direct path without the nodes whose copath child has an empty resolution.
   */
  filteredDirectPathWithCopath(leaf: LeafIndex): { node: NodeIndex; copath: NodeIndex }[] {
    const out: { node: NodeIndex; copath: NodeIndex }[] = [];
    let child = 2 * leaf;
    for (const p of this.directPath(leaf)) {
      const s = child < p ? right(p) : left(p);
      if (!this.isBlankSubtree(s)) out.push({ node: p, copath: s });
      child = p;
    }
    return out;
  }
  filteredDirectPath(leaf: LeafIndex): NodeIndex[] {
    return this.filteredDirectPathWithCopath(leaf).map((e) => e.node);
  }

  // ---- changes (§7.5, §7.7, §12.1) ----

  /** Sets or blanks one node; forgets the cached hashes of it and its ancestors. */
  setNode(x: NodeIndex, node: TreeNode | undefined): void {
    if (!Number.isInteger(x) || x < 0 || x >= this.nodes.length) throw new MlsError('STATE', `node ${x} outside a tree of ${this.nodes.length} nodes`);
    if (node && node.type !== (isLeaf(x) ? 1 : 2)) throw new MlsError('STATE', `node ${x} cannot hold a ${node.type === 1 ? 'leaf' : 'parent'}`);
    this.nodes[x] = node;
    this.invalidate(x);
  }
  blankNode(x: NodeIndex): void { this.setNode(x, undefined); }

  /** Blanks every node on the leaf's direct path (§7.5 step 1, §12.1.2, §12.1.3). */
  blankDirectPath(leaf: LeafIndex): void {
    for (const p of this.directPath(leaf)) if (this.nodes[p] !== undefined) this.setNode(p, undefined);
  }

  /** Replaces a leaf's LeafNode and nothing else (the committer's leaf of an UpdatePath). */
  setLeaf(leaf: LeafIndex, node: LeafNode): void {
    this.checkLeaf(leaf);
    this.setNode(2 * leaf, { type: 1, leaf: node });
  }

  /**
   * Add (§12.1.1, §7.7): the leftmost blank leaf, else a new one after extending the tree; the
   * new leaf's index joins the unmerged_leaves of every non-blank node on its direct path.
   */
  addLeaf(node: LeafNode): LeafIndex {
    let x = 0;
    while (x < this.nodes.length && this.nodes[x] !== undefined) x += 2;
    if (x >= this.nodes.length) this.extend();
    const leaf = x >>> 1;
    for (const p of directPath(x, this.leafCount)) {
      const n = this.nodes[p];
      if (n?.type === 2) this.setNode(p, { type: 2, parent: { ...n.parent, unmergedLeaves: insertSorted(n.parent.unmergedLeaves, leaf) } });
    }
    this.setNode(x, { type: 1, leaf: node });
    return leaf;
  }

  /** Update (§12.1.2): the sender's leaf is replaced and its direct path blanked. */
  updateLeaf(leaf: LeafIndex, node: LeafNode): void {
    if (!this.leafNode(leaf)) throw new MlsError('STATE', `leaf ${leaf} is blank`);
    this.setLeaf(leaf, node);
    this.blankDirectPath(leaf);
  }

  /** Remove (§12.1.3): the leaf and its direct path are blanked, then the tree truncated (§7.7). */
  removeLeaf(leaf: LeafIndex): void {
    if (!this.leafNode(leaf)) throw new MlsError('STATE', `leaf ${leaf} is blank`);
    this.setNode(2 * leaf, undefined);
    this.blankDirectPath(leaf);
    this.truncate();
  }

  /** Doubles the leaf count: the old tree becomes the left subtree of a new blank root (§7.7). */
  private extend(): void {
    const width = nodeWidth(2 * this.leafCount);
    const n = this.nodes.length;
    for (let i = n; i < width; i++) { this.nodes.push(undefined); this.th.push(undefined); this.ph.push(undefined, undefined); }
  }

  /** While the root's right subtree is all blank, drop it and the root (§7.7). */
  private truncate(): void {
    while (this.leafCount > 1 && this.isBlankSubtree(right(this.root))) {
      const width = nodeWidth(this.leafCount / 2);
      this.nodes.length = width;
      this.th.length = width;
      this.ph.length = 2 * width;
    }
  }

  private invalidate(x: NodeIndex): void {
    this.th[x] = undefined;
    this.ph[2 * x] = undefined;
    this.ph[2 * x + 1] = undefined;
    for (const p of directPath(x, this.leafCount)) {
      this.th[p] = undefined;
      this.ph[2 * p] = undefined;
      this.ph[2 * p + 1] = undefined;
    }
  }

  private checkLeaf(leaf: LeafIndex): void {
    if (!Number.isInteger(leaf) || leaf < 0 || leaf >= this.leafCount) throw new MlsError('STATE', `leaf ${leaf} outside a tree of ${this.leafCount} leaves`);
  }

  // ---- §7.8 tree hashes ----

  /** The tree hash of node x (the root when omitted): Hash(TreeHashInput). Cached. */
  treeHash(x: NodeIndex = this.root): Uint8Array {
    const cached = this.th[x];
    if (cached) return cached;
    const n = this.nodes[x];
    const h = isLeaf(x)
      ? this.leafHash(x, n?.type === 1 ? n.leaf : undefined)
      : this.parentTreeHash(n?.type === 2 ? n.parent : undefined, this.treeHash(left(x)), this.treeHash(right(x)));
    this.th[x] = h;
    return h;
  }

  // TreeHashInput { node_type = leaf; LeafNodeHashInput { uint32 leaf_index; optional<LeafNode> } }
  private leafHash(x: NodeIndex, leaf: LeafNode | undefined): Uint8Array {
    const w = new TlsWriter(leaf ? 512 : 8).u8(1).u32(x >>> 1).optional(leaf, writeLeafNode);
    return this.suite.hash(w.finish());
  }
  // TreeHashInput { node_type = parent; ParentNodeHashInput { optional<ParentNode>; left_hash<V>; right_hash<V> } }
  private parentTreeHash(p: ParentNode | undefined, l: Uint8Array, r: Uint8Array): Uint8Array {
    const w = new TlsWriter(160).u8(2).optional(p, writeParentNode).opaque(l).opaque(r);
    return this.suite.hash(w.finish());
  }

  /**
   * The tree hash of x in the tree where the given leaves are blanked and removed from every
   * unmerged_leaves list (§7.9: original_sibling_tree_hash). Subtrees holding none of them
   * reuse the cached hashes.
   */
  treeHashWithout(x: NodeIndex, removed: readonly LeafIndex[]): Uint8Array {
    const mine = removed.filter((l) => isAncestor(x, 2 * l));
    if (mine.length === 0) return this.treeHash(x);
    const n = this.nodes[x];
    if (isLeaf(x)) return this.leafHash(x, undefined);
    let p = n?.type === 2 ? n.parent : undefined;
    if (p) p = { ...p, unmergedLeaves: p.unmergedLeaves.filter((l) => !mine.includes(l)) };
    return this.parentTreeHash(p, this.treeHashWithout(left(x), mine), this.treeHashWithout(right(x), mine));
  }

  // ---- §7.9 parent hashes ----

  /**
   * The parent hash of the non-blank parent P with copath child S (§7.9):
   * Hash(ParentHashInput { P.encryption_key, P.parent_hash, original_sibling_tree_hash(S) }). Cached.
   */
  parentHash(p: NodeIndex, s: NodeIndex): Uint8Array {
    const side = s === left(p) ? 0 : s === right(p) ? 1 : -1;
    if (side < 0) throw new MlsError('STATE', `${s} is not a child of ${p}`);
    const cached = this.ph[2 * p + side];
    if (cached) return cached;
    const node = this.parentNode(p);
    if (!node) throw new MlsError('STATE', `parent hash of blank node ${p}`);
    const sibling = this.treeHashWithout(s, node.unmergedLeaves);
    const h = this.suite.hash(new TlsWriter(128).opaque(node.encryptionKey).opaque(node.parentHash).opaque(sibling).finish());
    this.ph[2 * p + side] = h;
    return h;
  }

  /**
   * Merges a committer's new path keys (§7.5 "merges UpdatePath into the tree", steps 1–3):
   * blanks the leaf's direct path, sets each filtered-direct-path node to its new key with no
   * unmerged leaves, and chains their parent hashes from the root down. Returns the parent hash
   * the committer's new leaf must carry. The leaf itself is set with setLeaf.
   */
  mergePath(leaf: LeafIndex, publicKeys: readonly Uint8Array[]): Uint8Array {
    const fdp = this.filteredDirectPathWithCopath(leaf);
    if (publicKeys.length !== fdp.length) {
      throw new MlsError('INVALID_COMMIT', `the path has ${publicKeys.length} nodes, the filtered direct path ${fdp.length}`);
    }
    this.blankDirectPath(leaf);
    let parentHash: Uint8Array = EMPTY;
    for (let i = fdp.length - 1; i >= 0; i--) {
      const { node, copath } = fdp[i]!;
      this.setNode(node, { type: 2, parent: { encryptionKey: publicKeys[i]!, parentHash, unmergedLeaves: [] } });
      parentHash = this.parentHash(node, copath);
    }
    return parentHash;
  }

  /** The parent_hash field of a node (a commit leaf's or a parent's), else undefined. */
  private parentHashField(x: NodeIndex): Uint8Array | undefined {
    const n = this.nodes[x];
    if (!n) return undefined;
    if (n.type === 2) return n.parent.parentHash;
    return n.leaf.source === 3 ? n.leaf.parentHash : undefined;
  }

  /**
   * The descendants D of the non-blank parent P whose parent hash is valid with respect to P
   * (§7.9.2): D.parent_hash is the parent hash of P with copath child S, D is in the resolution
   * of the other child C, and P's unmerged leaves under C are exactly resolution(C) minus D.
   */
  parentHashLinks(p: NodeIndex): NodeIndex[] {
    const node = this.parentNode(p);
    if (!node) return [];
    const out: NodeIndex[] = [];
    for (const [c, s] of [[left(p), right(p)], [right(p), left(p)]] as const) {
      const res = this.resolution(c);
      let ph: Uint8Array | undefined;
      for (const d of res) {
        const field = this.parentHashField(d);
        if (!field) continue;
        ph ??= this.parentHash(p, s);
        if (!equalBytes(field, ph)) continue;
        const rest = res.filter((y) => y !== d).sort((a, b) => a - b);
        const unmerged = node.unmergedLeaves.map((l) => 2 * l).filter((y) => isAncestor(c, y)).sort((a, b) => a - b);
        if (rest.length === unmerged.length && rest.every((y, i) => y === unmerged[i])) out.push(d);
      }
    }
    return out;
  }

  /**
   * §7.9.2 "top down": every non-blank parent node has exactly one descendant for which it is
   * parent-hash valid, so that each chains back to a leaf. INVALID_TREE otherwise.
   */
  verifyParentHashes(): void {
    for (let x = 1; x < this.nodes.length; x += 2) {
      if (!this.nodes[x]) continue;
      const links = this.parentHashLinks(x);
      if (links.length !== 1) throw invalid(`parent node ${x} is not parent-hash valid (${links.length} links)`);
    }
  }

  // ---- §12.4.3.1 validation of a whole tree ----

  /**
   * The §7.3 checks of one LeafNode against itself: a basic credential (§5.3.1; others are
   * UNSUPPORTED), its signature (update and commit leaves bound to the group id and `leafIndex`)
   * unless `skipSignature`, its credential type and non-default extensions listed in its
   * capabilities, the group's required capabilities, and its lifetime when `now` is given
   * (EXPIRED). Other failures throw `code`.
   */
  private checkLeafOwn(leaf: LeafNode, index: LeafIndex, groupId: Uint8Array, opts: TreeVerifyOptions, code: MlsErrorCode, skipSignature: boolean): void {
    const fail = (msg: string): MlsError => new MlsError(code, `leaf ${index} ${msg}`);
    if (leaf.credential.type !== 1) throw new MlsError('UNSUPPORTED', `leaf ${index} has credential type ${leaf.credential.type}`);
    if (!skipSignature) {
      const binding = leaf.source === 1 ? undefined : { groupId, leafIndex: index };
      if (!verifyLeafNodeSignature(this.suite, leaf, binding)) throw fail('signature does not verify');
    }
    const caps = leaf.capabilities;
    if (!caps.credentials.includes(leaf.credential.type)) throw fail('does not list its own credential type');
    for (const e of leaf.extensions) {
      if (!DEFAULT_EXTENSIONS.has(e.type) && !caps.extensions.includes(e.type)) throw fail(`carries extension ${e.type} it does not list`);
    }
    const req = opts.requiredCapabilities;
    if (req) {
      for (const t of req.extensions) if (!DEFAULT_EXTENSIONS.has(t) && !caps.extensions.includes(t)) throw fail(`lacks required extension ${t}`);
      for (const t of req.proposals) if (!DEFAULT_PROPOSALS.has(t) && !caps.proposals.includes(t)) throw fail(`lacks required proposal ${t}`);
      for (const t of req.credentials) if (!caps.credentials.includes(t)) throw fail(`lacks required credential ${t}`);
    }
    if (opts.now !== undefined && leaf.source === 1 && (opts.now < leaf.lifetime.notBefore || opts.now > leaf.lifetime.notAfter)) {
      throw new MlsError('EXPIRED', `leaf ${index} is outside its lifetime`);
    }
  }

  /**
   * Validates a LeafNode that is to sit at `leafIndex` (an Add's, an Update's or a commit path's,
   * §7.3) against the rest of the tree: the leaf's own checks (see verifyTree), its credential
   * type supported by every other member and theirs by it, and its signature and encryption keys
   * used by no other node (the leaf it replaces at `leafIndex` aside). Failures throw `code`
   * (UNSUPPORTED and EXPIRED keep theirs).
   */
  validateLeafNode(leaf: LeafNode, leafIndex: LeafIndex, groupId: Uint8Array, opts: TreeVerifyOptions & { readonly code?: MlsErrorCode; readonly skipSignature?: boolean } = {}): void {
    const code = opts.code ?? 'INVALID_TREE';
    this.checkLeafOwn(leaf, leafIndex, groupId, opts, code, opts.skipSignature === true);
    for (let x = 0; x < this.nodes.length; x++) {
      if (x === 2 * leafIndex) continue;
      const n = this.nodes[x];
      if (!n) continue;
      if (n.type === 2) {
        if (samePublic(n.parent.encryptionKey, leaf.encryptionKey)) throw new MlsError(code, `leaf ${leafIndex} repeats node ${x}'s encryption key`);
        continue;
      }
      const other = n.leaf;
      if (samePublic(other.encryptionKey, leaf.encryptionKey)) throw new MlsError(code, `leaf ${leafIndex} repeats node ${x}'s encryption key`);
      if (samePublic(other.signatureKey, leaf.signatureKey)) throw new MlsError(code, `leaf ${leafIndex} repeats leaf ${x >>> 1}'s signature key`);
      if (!other.capabilities.credentials.includes(leaf.credential.type)) throw new MlsError(code, `leaf ${x >>> 1} does not support leaf ${leafIndex}'s credential type`);
      if (!leaf.capabilities.credentials.includes(other.credential.type)) throw new MlsError(code, `leaf ${leafIndex} does not support leaf ${x >>> 1}'s credential type`);
    }
  }

  /**
   * Validates the tree as a joiner must (§12.4.3.1, with §7.3 for each leaf): leaf signatures
   * (update and commit leaves bound to `groupId` and their index), credential and capability
   * rules, lifetimes when `now` is given, unique signature and encryption keys, unmerged-leaf
   * consistency, and parent-hash validity of every parent. The caller compares treeHash() with
   * the GroupInfo's. INVALID_TREE (or UNSUPPORTED, EXPIRED) on the first failure.
   */
  verifyTree(groupId: Uint8Array, opts: TreeVerifyOptions = {}): void {
    if (this.members().length === 0) throw invalid('the tree has no members');
    const sigKeys = new Set<string>();
    const encKeys = new Set<string>();
    const credentialTypes = new Set<number>();
    for (let x = 0; x < this.nodes.length; x += 2) {
      const n = this.nodes[x];
      if (!n || n.type !== 1) continue;
      const leaf = n.leaf;
      const index = x >>> 1;
      this.checkLeafOwn(leaf, index, groupId, opts, 'INVALID_TREE', false);
      const sk = toHex(leaf.signatureKey);
      if (sigKeys.has(sk)) throw invalid(`leaf ${index} repeats another member's signature key`);
      sigKeys.add(sk);
      credentialTypes.add(leaf.credential.type);
    }
    // §7.3: every member supports every credential type in use.
    for (let x = 0; x < this.nodes.length; x += 2) {
      const leaf = this.leafNode(x >>> 1);
      if (leaf) for (const t of credentialTypes) if (!leaf.capabilities.credentials.includes(t)) throw invalid(`leaf ${x >>> 1} does not support credential type ${t}`);
    }
    // §7.3, §12.4.3.1: encryption keys unique over all nodes.
    for (let x = 0; x < this.nodes.length; x++) {
      const k = this.encryptionKey(x);
      if (!k) continue;
      const h = toHex(k);
      if (encKeys.has(h)) throw invalid(`node ${x} repeats another node's encryption key`);
      encKeys.add(h);
    }
    // §7.1, §12.4.3.1: unmerged leaves sorted, non-blank descendants, listed by every non-blank node between.
    for (let x = 1; x < this.nodes.length; x += 2) {
      const p = this.parentNode(x);
      if (!p) continue;
      let prev = -1;
      for (const l of p.unmergedLeaves) {
        if (l <= prev) throw invalid(`node ${x} unmerged leaves are not strictly increasing`);
        prev = l;
        if (!isAncestor(x, 2 * l) || !this.leafNode(l)) throw invalid(`node ${x} lists unmerged leaf ${l} that is not a member under it`);
        for (let y = parent(2 * l, this.leafCount); y !== x; y = parent(y, this.leafCount)) {
          const q = this.parentNode(y);
          if (q && !q.unmergedLeaves.includes(l)) throw invalid(`node ${y} between leaf ${l} and node ${x} does not list it as unmerged`);
        }
      }
    }
    this.verifyParentHashes();
  }
}
