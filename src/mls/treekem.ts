// TreeKEM (RFC 9420 §7.4–§7.6, §12.4.1–§12.4.2, §12.4.3.1): a committer's fresh path of key
// pairs, its UpdatePath, and a receiver's merge and decryption of one; plus the store of the
// private keys a member holds (its leaf and the parent nodes it knows).
//
// A Commit with a path runs these steps in order (§12.4.1):
//   1. apply the proposals to a clone of the tree (ratchet-tree.ts);
//   2. `createPath(tree, ...)`: new leaf and path keys merged into that tree, parent hashes set,
//      leaf signed — the tree now has its new tree hash;
//   3. build the provisional GroupContext with `tree.treeHash()`;
//   4. `path.encrypt(groupContext, addedLeaves)`: the UpdatePath to put in the Commit;
//   5. `path.commitSecret` into the key schedule, `path.pathSecretFor(joiner)` into each Welcome.
// A receiver (§12.4.2): apply the proposals, `mergeUpdatePath(tree, sender, path, groupId)`,
// build the provisional GroupContext, then `decryptUpdatePath(...)` for the commit secret.
import { randomBytes } from '../crypto/primitives.js';
import type { Ed25519Seed } from '../crypto/types.js';
import { equalBytes } from '../crypto/bytes.js';
import { MlsError } from './errors.js';
import { signLeafNode, verifyLeafNodeSignature, type LeafNode, type LeafNodeContent, type Capabilities } from './leaf-node.js';
import type { Credential } from './credential.js';
import type { Extension } from './extensions.js';
import type { RatchetTree, TreeVerifyOptions } from './ratchet-tree.js';
import type { CipherSuite, HpkeKeyPair } from './suite.js';
import { commonAncestor, directPath, isAncestor, type LeafIndex, type NodeIndex } from './tree-math.js';
import type { UpdatePath, UpdatePathNode } from './update-path.js';

const PATH_LABEL = 'UpdatePathNode';

/** The key pair of a node whose path secret is known (§7.4: DeriveKeyPair(DeriveSecret(path_secret, "node"))). */
export function nodeKeyPair(suite: CipherSuite, pathSecret: Uint8Array): HpkeKeyPair {
  return suite.deriveKeyPair(suite.deriveSecret(pathSecret, 'node'));
}
/** The next path secret up the filtered direct path (§7.4: DeriveSecret(path_secret, "path")). */
export function nextPathSecret(suite: CipherSuite, pathSecret: Uint8Array): Uint8Array {
  return suite.deriveSecret(pathSecret, 'path');
}

/**
 * The private keys one member holds (§7.5 "tree invariant"): its leaf's and those of the parent
 * nodes on its direct path it has learned. Keys are kept only while the tree holds their public
 * key (`prune`).
 */
export class TreeKemPrivate {
  private constructor(readonly suite: CipherSuite, readonly leafIndex: LeafIndex, private readonly keys: Map<NodeIndex, HpkeKeyPair>) {}

  /** A member's store holding only its leaf's key pair. */
  static forLeaf(suite: CipherSuite, leafIndex: LeafIndex, leafKeyPair: HpkeKeyPair): TreeKemPrivate {
    return new TreeKemPrivate(suite, leafIndex, new Map([[2 * leafIndex, leafKeyPair]]));
  }
  clone(): TreeKemPrivate { return new TreeKemPrivate(this.suite, this.leafIndex, new Map(this.keys)); }

  keyPair(x: NodeIndex): HpkeKeyPair | undefined { return this.keys.get(x); }
  /** The nodes we hold a private key for, in index order. */
  nodes(): NodeIndex[] { return [...this.keys.keys()].sort((a, b) => a - b); }

  /** Stores a key pair, after checking that the tree holds its public key at x (INVALID_TREE otherwise). */
  setKeyPair(tree: RatchetTree, x: NodeIndex, kp: HpkeKeyPair): void {
    const pub = tree.encryptionKey(x);
    if (!pub || !equalBytes(pub, kp.publicKey)) throw new MlsError('INVALID_TREE', `the key derived for node ${x} is not the tree's`);
    this.keys.set(x, kp);
  }
  /** Stores the key pair a path secret gives node x. */
  setPathSecret(tree: RatchetTree, x: NodeIndex, pathSecret: Uint8Array): void {
    this.setKeyPair(tree, x, nodeKeyPair(this.suite, pathSecret));
  }
  /**
   * Joining by Welcome (§12.4.3.1): the path secret of node x (the lowest common ancestor of our
   * leaf and the committer's), then each next path secret for the non-blank ancestors of x up to
   * the root — the rest of the committer's filtered direct path. Returns the commit secret.
   */
  setPathSecretsFrom(tree: RatchetTree, x: NodeIndex, pathSecret: Uint8Array): Uint8Array {
    let secret = pathSecret;
    for (const y of [x, ...directPath(x, tree.leafCount)]) {
      if (!tree.nodeAt(y)) continue;
      this.setPathSecret(tree, y, secret);
      secret = nextPathSecret(this.suite, secret);
    }
    return secret;
  }
  /** Forgets every key whose node is now blank or holds another public key. */
  prune(tree: RatchetTree): void {
    for (const [x, kp] of this.keys) {
      const pub = x < tree.nodeCount ? tree.encryptionKey(x) : undefined;
      if (!pub || !equalBytes(pub, kp.publicKey)) this.keys.delete(x);
    }
  }
}

/** What a committer may change in its leaf besides the keys (§7.5: "MAY specify other changes"). */
export interface LeafChanges {
  readonly signatureKey?: Uint8Array;
  readonly credential?: Credential;
  readonly capabilities?: Capabilities;
  readonly extensions?: readonly Extension[];
}

export interface CreatePathOptions {
  readonly groupId: Uint8Array;
  /** The signature key's seed: signs the new leaf (LeafNodeTBS with group id and leaf index). */
  readonly signer: Ed25519Seed;
  /** The leaf secret; fresh random bytes when omitted (tests pass one). */
  readonly leafSecret?: Uint8Array;
  readonly leafChanges?: LeafChanges;
}

/**
 * A committer's new path, merged into its tree (§7.4, §7.5), ready to be encrypted once the
 * provisional GroupContext is known.
 */
export class PendingPath {
  /** @internal */
  constructor(
    private readonly tree: RatchetTree,
    readonly leafIndex: LeafIndex,
    readonly leafNode: LeafNode,
    /** The filtered direct path with each node's copath child, and its path secret and public key. */
    private readonly steps: readonly { node: NodeIndex; copath: NodeIndex; secret: Uint8Array; publicKey: Uint8Array }[],
    /** path_secret[n+1], after the root's (§12.4.1); DeriveSecret(leaf_secret, "path") for a lone member. */
    readonly commitSecret: Uint8Array,
    /** Our private keys after the commit: the new leaf and every path node. */
    readonly privateKeys: TreeKemPrivate,
  ) {}

  /** The filtered direct path's nodes, root last. */
  get nodes(): NodeIndex[] { return this.steps.map((s) => s.node); }
  /** The path secret of a node of the path, or undefined. */
  pathSecret(x: NodeIndex): Uint8Array | undefined { return this.steps.find((s) => s.node === x)?.secret; }
  /**
   * The PathSecret for a member at `leaf` joining by Welcome (§12.4.1): the secret of the lowest
   * node of our filtered direct path above that leaf (its common ancestor with us), or undefined
   * when our path is empty.
   */
  pathSecretFor(leaf: LeafIndex): Uint8Array | undefined {
    const ca = commonAncestor(2 * leaf, 2 * this.leafIndex);
    return this.steps.find((s) => isAncestor(s.node, ca))?.secret;
  }

  /**
   * The UpdatePath (§7.6): each path secret encrypted with EncryptWithLabel(pk, "UpdatePathNode",
   * groupContext, path_secret) to every node of its copath child's resolution, leaves the same
   * Commit adds excluded. `groupContext` is the encoded provisional GroupContext. Reads the tree
   * createPath changed: call it before changing that tree again.
   */
  encrypt(groupContext: Uint8Array, addedLeaves: Iterable<LeafIndex> = []): UpdatePath {
    const suite = this.tree.cipherSuite;
    const exclude = new Set(addedLeaves);
    const nodes: UpdatePathNode[] = this.steps.map((s) => ({
      encryptionKey: s.publicKey,
      encryptedPathSecret: this.tree.resolution(s.copath, exclude).map((y) => suite.encryptWithLabel(this.tree.encryptionKey(y)!, PATH_LABEL, groupContext, s.secret)),
    }));
    return { leafNode: this.leafNode, nodes };
  }
}

/**
 * Creates the committer's new path in `tree` (changed in place): a fresh leaf secret, the path
 * secrets up the filtered direct path, the node key pairs, the parent hashes from the root down
 * and the new commit leaf signed with the group id and our leaf index (§7.4, §7.5, §7.9).
 */
export function createPath(tree: RatchetTree, leafIndex: LeafIndex, opts: CreatePathOptions): PendingPath {
  const suite = tree.cipherSuite;
  const old = tree.leafNode(leafIndex);
  if (!old) throw new MlsError('STATE', `leaf ${leafIndex} is blank`);
  const leafSecret = opts.leafSecret ?? randomBytes(suite.hashLength);
  const leafKeys = nodeKeyPair(suite, leafSecret);
  const fdp = tree.filteredDirectPathWithCopath(leafIndex);
  const steps: { node: NodeIndex; copath: NodeIndex; secret: Uint8Array; publicKey: Uint8Array }[] = [];
  const pairs: HpkeKeyPair[] = [];
  let secret = leafSecret;
  for (const { node, copath } of fdp) {
    secret = nextPathSecret(suite, secret);
    const kp = nodeKeyPair(suite, secret);
    pairs.push(kp);
    steps.push({ node, copath, secret, publicKey: kp.publicKey });
  }
  const commitSecret = nextPathSecret(suite, secret);
  const parentHash = tree.mergePath(leafIndex, steps.map((s) => s.publicKey));
  const c = opts.leafChanges ?? {};
  const content: LeafNodeContent = {
    encryptionKey: leafKeys.publicKey,
    signatureKey: c.signatureKey ?? old.signatureKey,
    credential: c.credential ?? old.credential,
    capabilities: c.capabilities ?? old.capabilities,
    source: 3,
    parentHash,
    extensions: c.extensions ?? old.extensions,
  };
  const leafNode = signLeafNode(suite, opts.signer, content, { groupId: opts.groupId, leafIndex });
  tree.setLeaf(leafIndex, leafNode);
  const priv = TreeKemPrivate.forLeaf(suite, leafIndex, leafKeys);
  steps.forEach((s, i) => priv.setKeyPair(tree, s.node, pairs[i]!));
  return new PendingPath(tree, leafIndex, leafNode, steps, commitSecret, priv);
}

/**
 * A receiver's validation and merge of a Commit's UpdatePath into the tree after the proposals
 * (§12.4.2, §7.5): the leaf is a commit leaf signed for this group and the sender's index and
 * passes §7.3 (validateLeafNode, with `opts`' required capabilities and time), its encryption key is new, no public key of the path is already in the tree, the path has one node
 * per filtered-direct-path node, and the leaf's parent_hash is the one the merged path gives.
 * Changes `tree` in place; BAD_SIGNATURE or INVALID_COMMIT (the tree is then unusable: merge into a clone).
 */
export function mergeUpdatePath(tree: RatchetTree, sender: LeafIndex, path: UpdatePath, groupId: Uint8Array, opts: TreeVerifyOptions = {}): void {
  const suite = tree.cipherSuite;
  const current = tree.leafNode(sender);
  if (!current) throw new MlsError('UNKNOWN_SENDER', `leaf ${sender} is blank`);
  const leaf = path.leafNode;
  if (leaf.source !== 3) throw new MlsError('INVALID_COMMIT', 'the path leaf is not a commit leaf');
  if (!verifyLeafNodeSignature(suite, leaf, { groupId, leafIndex: sender })) throw new MlsError('BAD_SIGNATURE', 'the path leaf signature does not verify');
  if (equalBytes(leaf.encryptionKey, current.encryptionKey)) throw new MlsError('INVALID_COMMIT', 'the path leaf keeps the old encryption key');
  const keys = [leaf.encryptionKey, ...path.nodes.map((n) => n.encryptionKey)];
  for (let i = 0; i < keys.length; i++) {
    if (tree.hasEncryptionKey(keys[i]!)) throw new MlsError('INVALID_COMMIT', 'a public key of the path is already in the tree');
    for (let j = 0; j < i; j++) if (equalBytes(keys[i]!, keys[j]!)) throw new MlsError('INVALID_COMMIT', 'the path repeats a public key');
  }
  tree.validateLeafNode(leaf, sender, groupId, { ...opts, code: 'INVALID_COMMIT', skipSignature: true });
  const parentHash = tree.mergePath(sender, keys.slice(1));
  if (!equalBytes(parentHash, leaf.parentHash)) throw new MlsError('INVALID_COMMIT', 'the path leaf parent hash does not match the path');
  tree.setLeaf(sender, leaf);
}

export interface DecryptedPath {
  /** The node of the sender's filtered direct path whose secret we decrypted (our common ancestor). */
  readonly node: NodeIndex;
  /** Its path secret. */
  readonly pathSecret: Uint8Array;
  readonly commitSecret: Uint8Array;
  /** Our private keys after the commit (the old store pruned, the new path nodes added). */
  readonly privateKeys: TreeKemPrivate;
}

/**
 * A receiver's decryption of a merged UpdatePath (§7.5 "decrypts the path secrets", §12.4.2):
 * the first node of the sender's filtered direct path above us, the ciphertext for the node of
 * its copath child's resolution (minus `addedLeaves`) we hold a key for, then the path secrets up
 * to the root, each derived public key checked against the path. `groupContext` is the encoded
 * provisional GroupContext. DECRYPT_FAILED, INVALID_COMMIT or STATE.
 */
export function decryptUpdatePath(
  tree: RatchetTree, priv: TreeKemPrivate, sender: LeafIndex, path: UpdatePath, groupContext: Uint8Array, addedLeaves: Iterable<LeafIndex> = [],
): DecryptedPath {
  const suite = tree.cipherSuite;
  const me = 2 * priv.leafIndex;
  if (priv.leafIndex === sender) throw new MlsError('STATE', 'a committer does not decrypt its own path');
  const fdp = tree.filteredDirectPathWithCopath(sender);
  if (fdp.length !== path.nodes.length) throw new MlsError('INVALID_COMMIT', 'the path does not match the filtered direct path');
  const i = fdp.findIndex((s) => isAncestor(s.copath, me));
  if (i < 0) throw new MlsError('STATE', `leaf ${priv.leafIndex} is not under the sender's path`);
  const { node, copath } = fdp[i]!;
  const res = tree.resolution(copath, new Set(addedLeaves));
  const cts = path.nodes[i]!.encryptedPathSecret;
  if (cts.length !== res.length) throw new MlsError('INVALID_COMMIT', `node ${node} has ${cts.length} ciphertexts for a resolution of ${res.length}`);
  const j = res.findIndex((y) => {
    const kp = priv.keyPair(y);
    const pub = tree.encryptionKey(y);
    return kp !== undefined && pub !== undefined && equalBytes(kp.publicKey, pub);
  });
  if (j < 0) throw new MlsError('STATE', `no private key for the resolution of node ${copath}`);
  const pathSecret = suite.decryptWithLabel(priv.keyPair(res[j]!)!, PATH_LABEL, groupContext, cts[j]!);
  const next = priv.clone();
  next.prune(tree);
  let secret = pathSecret;
  for (let k = i; k < fdp.length; k++) {
    const kp = nodeKeyPair(suite, secret);
    if (!equalBytes(kp.publicKey, path.nodes[k]!.encryptionKey)) throw new MlsError('INVALID_COMMIT', `the path secret for node ${fdp[k]!.node} does not give its public key`);
    next.setKeyPair(tree, fdp[k]!.node, kp);
    secret = nextPathSecret(suite, secret);
  }
  return { node, pathSecret, commitSecret: secret, privateKeys: next };
}
