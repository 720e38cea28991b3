// The ratchet tree (src/mls/ratchet-tree.ts) against the tree-validation vectors (RFC 9420 §4.1.1,
// §7.8, §7.9.2, §12.4.3.1): every node's tree hash and resolution, and the whole tree verifies,
// every case on both crypto backends. A flipped parent hash or leaf signature is INVALID_TREE.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RatchetTree } from '../../src/mls/ratchet-tree.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { MlsError } from '../../src/mls/errors.js';
import { signLeafNode, type LeafNode, type LeafNodeContent } from '../../src/mls/leaf-node.js';
import type { TreeNode } from '../../src/mls/nodes.js';
import { withBackend, type BackendName, type Ed25519Seed } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

interface Case { cipher_suite: number; tree: string; group_id: string; tree_hashes: string[]; resolutions: number[][] }
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'tree-validation.json');

const isInvalidTree = (e: unknown): boolean => e instanceof MlsError && e.code === 'INVALID_TREE';

/** Checks one case; returns what failed. */
function check(c: Case): string[] {
  const bad: string[] = [];
  const tree = RatchetTree.decode(cipherSuite(c.cipher_suite), hex(c.tree));
  if (tree.nodeCount !== c.tree_hashes.length) bad.push(`node count ${tree.nodeCount} != ${c.tree_hashes.length}`);
  for (let x = 0; x < c.tree_hashes.length; x++) {
    if (toHexString(tree.treeHash(x)) !== c.tree_hashes[x]) bad.push(`tree hash ${x}`);
    if (JSON.stringify(tree.resolution(x)) !== JSON.stringify(c.resolutions[x])) bad.push(`resolution ${x}`);
  }
  try { tree.verifyTree(hex(c.group_id)); } catch (e) { bad.push(`verify: ${(e as Error).message}`); }
  if (toHexString(tree.encode()) !== c.tree) bad.push('re-encoding');
  return bad;
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every tree-validation case on the ${backend} backend`, () => {
    let checked = 0;
    withBackend(backend, () => {
      for (const [i, c] of cases.entries()) {
        assert.equal(check(c), [], `case ${i}`);
        checked++;
      }
    });
    assert.is(checked, 28);
  });
}

/** Replaces node x of a decoded vector tree with `f(node)`. */
function tamper(c: Case, pick: (t: RatchetTree) => number, f: (n: TreeNode) => TreeNode): RatchetTree {
  const tree = RatchetTree.decode(cipherSuite(c.cipher_suite), hex(c.tree));
  const x = pick(tree);
  tree.setNode(x, f(tree.nodeAt(x)!));
  return tree;
}
const flip = (b: Uint8Array): Uint8Array => {
  if (b.length === 0) return new Uint8Array([1]);
  const o = b.slice();
  o[o.length - 1]! ^= 1;
  return o;
};

test('a flipped parent hash or leaf signature fails verification with INVALID_TREE', () => {
  let parents = 0, leaves = 0, commitLeaves = 0;
  for (const c of cases) {
    const gid = hex(c.group_id);
    // A flipped parent_hash in every non-blank parent node in turn.
    const probe = RatchetTree.decode(cipherSuite(c.cipher_suite), hex(c.tree));
    for (let x = 1; x < probe.nodeCount; x += 2) {
      if (!probe.parentNode(x)) continue;
      const t = tamper(c, () => x, (n) => (n.type === 2 ? { type: 2, parent: { ...n.parent, parentHash: flip(n.parent.parentHash) } } : n));
      assert.throws(() => t.verifyTree(gid), isInvalidTree, `parent ${x}`);
      parents++;
    }
    // A flipped signature on every leaf in turn.
    for (const l of probe.members()) {
      const t = tamper(c, () => 2 * l, (n) => (n.type === 1 ? { type: 1, leaf: { ...n.leaf, signature: flip(n.leaf.signature) } as LeafNode } : n));
      assert.throws(() => t.verifyTree(gid), isInvalidTree, `leaf ${l}`);
      leaves++;
      // A commit leaf's parent hash is covered by its signature and by the chain.
      const leaf = probe.leafNode(l)!;
      if (leaf.source === 3 && leaf.parentHash.length > 0) {
        const u = tamper(c, () => 2 * l, (n) => (n.type === 1 && n.leaf.source === 3 ? { type: 1, leaf: { ...n.leaf, parentHash: flip(n.leaf.parentHash) } } : n));
        assert.throws(() => u.verifyTree(gid), isInvalidTree, `commit leaf ${l}`);
        commitLeaves++;
      }
    }
    // Another group id breaks the update and commit leaves' signatures.
    if (probe.members().some((l) => probe.leafNode(l)!.source !== 1)) {
      assert.throws(() => probe.verifyTree(flip(gid)), isInvalidTree);
    }
  }
  assert.ok(parents > 50 && leaves > 100 && commitLeaves > 10, `${parents} ${leaves} ${commitLeaves}`);
});

test('a corrupted case fails its checks', () => {
  const c = structuredClone(cases[3]!);
  c.tree_hashes[5] = c.tree_hashes[5]!.replace(/^./, (d) => (d === '0' ? '1' : '0'));
  c.resolutions[6] = [...c.resolutions[6]!, 99];
  const bad = check(c);
  assert.ok(bad.includes('tree hash 5') && bad.includes('resolution 6'), bad.join());
});

/** A fresh key_package leaf shaped like `like`, signed with a new key. */
function freshLeaf(c: Case, like: LeafNode, n: number): LeafNode {
  const suite = cipherSuite(c.cipher_suite);
  const seed = new Uint8Array(32).fill(n) as Ed25519Seed;
  const content: LeafNodeContent = {
    encryptionKey: suite.deriveKeyPair(new Uint8Array(32).fill(n + 1)).publicKey,
    signatureKey: suite.signaturePublicKey(seed),
    credential: { type: 1, identity: new Uint8Array([n]) },
    capabilities: like.capabilities,
    source: 1,
    lifetime: { notBefore: 0n, notAfter: 0xffffffffffffffffn },
    extensions: [],
  };
  return signLeafNode(suite, seed, content);
}

test('added leaves become unmerged and the tree still verifies; broken unmerged lists are INVALID_TREE', () => {
  let tried = 0;
  for (const c of cases) {
    const gid = hex(c.group_id);
    const tree = RatchetTree.decode(cipherSuite(c.cipher_suite), hex(c.tree));
    const like = tree.leafNode(tree.members()[0]!)!;
    const before = tree.leafCount;
    const added = [tree.addLeaf(freshLeaf(c, like, 100)), tree.addLeaf(freshLeaf(c, like, 110))];
    tree.verifyTree(gid);
    assert.ok(tree.leafCount >= before);
    for (const l of added) {
      for (const p of tree.directPath(l)) {
        const node = tree.parentNode(p);
        if (node) assert.ok(node.unmergedLeaves.includes(l), `node ${p} lists ${l}`);
      }
    }
    // Drop an added leaf from the lowest non-blank node listing it, when a higher one lists it too.
    const holders = tree.directPath(added[0]!).filter((p) => tree.parentNode(p)?.unmergedLeaves.includes(added[0]!));
    if (holders.length >= 2) {
      const t = tree.clone();
      const p = t.parentNode(holders[0]!)!;
      t.setNode(holders[0]!, { type: 2, parent: { ...p, unmergedLeaves: p.unmergedLeaves.filter((l) => l !== added[0]) } });
      assert.throws(() => t.verifyTree(gid), isInvalidTree, 'missing from an intermediate node');
      tried++;
    }
    if (holders.length >= 1) {
      const t = tree.clone();
      const x = holders[holders.length - 1]!;
      const p = t.parentNode(x)!;
      t.setNode(x, { type: 2, parent: { ...p, unmergedLeaves: [...p.unmergedLeaves, tree.leafCount + 7] } });
      assert.throws(() => t.verifyTree(gid), isInvalidTree, 'not a member');
      tried++;
    }
    // Removing them blanks their direct paths; the others stay members and the tree still verifies.
    const members = tree.members().filter((l) => !added.includes(l));
    for (const l of added) tree.removeLeaf(l);
    assert.equal(tree.members(), members);
    tree.verifyTree(gid);
    assert.ok(tree.leafCount <= Math.max(before, 1 << Math.ceil(Math.log2(members[members.length - 1]! + 1))));
  }
  assert.ok(tried > 10, String(tried));
});

test('validateLeafNode and verifyTree options: duplicate keys, capabilities, lifetime', () => {
  const c = cases[2]!;
  const suite = cipherSuite(c.cipher_suite);
  const gid = hex(c.group_id);
  const tree = RatchetTree.decode(suite, hex(c.tree));
  const [a, b] = tree.members() as [number, number];
  const like = tree.leafNode(a)!;
  const fresh = freshLeaf(c, like, 120);
  const spot = tree.leafCount; // an index no member holds
  tree.validateLeafNode(fresh, spot, gid);
  const code = (want: string) => (e: unknown): boolean => e instanceof MlsError && e.code === want;
  // Another member's signature key (re-signed with a throwaway key: the signature is skipped).
  const dupSig = { ...fresh, signatureKey: tree.leafNode(b)!.signatureKey } as LeafNode;
  assert.throws(() => tree.validateLeafNode(dupSig, spot, gid, { skipSignature: true, code: 'INVALID_PROPOSAL' }), code('INVALID_PROPOSAL'));
  assert.throws(() => tree.validateLeafNode(dupSig, spot, gid), code('INVALID_TREE'));
  // The member's own leaf may keep its keys at its own index, not at another.
  tree.validateLeafNode(tree.leafNode(a)!, a, gid);
  assert.throws(() => tree.validateLeafNode(tree.leafNode(a)!, spot, gid), code('INVALID_TREE'));
  // An extension the leaf does not list, and a required capability it lacks.
  const unlisted = signLeafNode(suite, new Uint8Array(32).fill(120) as Ed25519Seed, { ...fresh, extensions: [{ type: 0xff00, data: new Uint8Array(0) }] } as LeafNodeContent);
  assert.throws(() => tree.validateLeafNode(unlisted, spot, gid), code('INVALID_TREE'));
  assert.throws(() => tree.verifyTree(gid, { requiredCapabilities: { extensions: [0xff01], proposals: [], credentials: [] } }), code('INVALID_TREE'));
  tree.verifyTree(gid, { requiredCapabilities: { extensions: [1, 2, 3], proposals: [1, 7], credentials: [1] } });
  // Lifetime: key_package leaves outside their lifetime are EXPIRED when a time is given.
  tree.addLeaf(signLeafNode(suite, new Uint8Array(32).fill(121) as Ed25519Seed, { ...fresh, signatureKey: suite.signaturePublicKey(new Uint8Array(32).fill(121) as Ed25519Seed), encryptionKey: suite.deriveKeyPair(new Uint8Array(32).fill(122)).publicKey, lifetime: { notBefore: 0x64000000n, notAfter: 0x64100000n } } as LeafNodeContent));
  tree.verifyTree(gid);
  tree.verifyTree(gid, { now: 0x64080000n });
  assert.throws(() => tree.verifyTree(gid, { now: 0x64200000n }), code('EXPIRED'));
});

test.run();
