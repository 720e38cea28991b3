// Adding, updating and removing leaves (src/mls/ratchet-tree.ts, RFC 9420 §7.7, §12.1.1–§12.1.3)
// against the tree-operations vectors: each case's proposal applied from proposal_sender gives
// tree_after byte for byte and both tree hashes, every case on both crypto backends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RatchetTree } from '../../src/mls/ratchet-tree.js';
import { decodeProposal, type Proposal } from '../../src/mls/proposals.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { withBackend, type BackendName } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type H = string;
interface Case { cipher_suite: number; proposal: H; proposal_sender: number; tree_before: H; tree_after: H; tree_hash_before: H; tree_hash_after: H }
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'tree-operations.json');

function apply(tree: RatchetTree, p: Proposal, sender: number): void {
  if (p.type === 1) tree.addLeaf(p.keyPackage.leafNode);
  else if (p.type === 2) tree.updateLeaf(sender, p.leafNode);
  else if (p.type === 3) tree.removeLeaf(p.removed);
  else throw new Error(`proposal type ${p.type} does not change the tree`);
}

/** Checks one case; returns what failed. */
function check(c: Case): string[] {
  const bad: string[] = [];
  const tree = RatchetTree.decode(cipherSuite(c.cipher_suite), hex(c.tree_before));
  if (toHexString(tree.treeHash()) !== c.tree_hash_before) bad.push('tree hash before');
  apply(tree, decodeProposal(hex(c.proposal)), c.proposal_sender);
  if (toHexString(tree.encode()) !== c.tree_after) bad.push('tree after');
  if (toHexString(tree.treeHash()) !== c.tree_hash_after) bad.push('tree hash after (incremental)');
  // The same hash from scratch, without the caches.
  const fresh = RatchetTree.decode(cipherSuite(c.cipher_suite), hex(c.tree_after));
  if (toHexString(fresh.treeHash()) !== c.tree_hash_after) bad.push('tree hash after (fresh)');
  if (fresh.leafCount !== tree.leafCount) bad.push('leaf count');
  return bad;
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every tree-operations case on the ${backend} backend`, () => {
    const types: number[] = [];
    withBackend(backend, () => {
      for (const [i, c] of cases.entries()) {
        assert.equal(check(c), [], `case ${i}`);
        types.push(decodeProposal(hex(c.proposal)).type);
      }
    });
    assert.equal(types, [1, 1, 2, 3, 3]);
  });
}

test('a corrupted case fails: another sender, another removed leaf, a flipped expected tree', () => {
  const update = cases.find((c) => decodeProposal(hex(c.proposal)).type === 2)!;
  const other = RatchetTree.decode(cipherSuite(update.cipher_suite), hex(update.tree_before)).members().find((l) => l !== update.proposal_sender)!;
  assert.ok(check({ ...update, proposal_sender: other }).includes('tree after'));
  const remove = cases.find((c) => decodeProposal(hex(c.proposal)).type === 3)!;
  const flipped = { ...remove, tree_after: remove.tree_after.slice(0, -2) + (remove.tree_after.endsWith('00') ? '01' : '00') };
  assert.ok(check(flipped).includes('tree after'));
  const removed = (decodeProposal(hex(remove.proposal)) as { removed: number }).removed;
  const members = RatchetTree.decode(cipherSuite(remove.cipher_suite), hex(remove.tree_before)).members();
  const wrong = members.find((l) => l !== removed)!;
  const bytes = hex(remove.proposal);
  new DataView(bytes.buffer).setUint32(2, wrong);
  assert.ok(check({ ...remove, proposal: toHexString(bytes) }).includes('tree hash after (incremental)'));
});

test('truncation after removing the rightmost members, and the tree grows again on add', () => {
  const c = cases.find((x) => decodeProposal(hex(x.proposal)).type === 1)!;
  const tree = RatchetTree.decode(cipherSuite(c.cipher_suite), hex(c.tree_before));
  const add = decodeProposal(hex(c.proposal)) as Extract<Proposal, { type: 1 }>;
  const start = tree.leafCount;
  // Fill every blank leaf, then one more: the tree doubles.
  const blanks = Array.from({ length: start }, (_, l) => l).filter((l) => !tree.leafNode(l)).length;
  for (let i = 0; i <= blanks; i++) tree.addLeaf(add.keyPackage.leafNode);
  assert.is(tree.leafCount, 2 * start);
  assert.is(tree.members().length, start + 1);
  // Remove from the right until one member is left: the leaf count halves back each time the right half empties.
  for (let m = tree.members(); m.length > 1; m = tree.members()) {
    tree.removeLeaf(m[m.length - 1]!);
    const last = tree.members().at(-1)!;
    assert.ok(tree.leafCount === 1 || (last >= tree.leafCount / 2 && last < tree.leafCount), `leaf count ${tree.leafCount} for last member ${last}`);
    assert.is(toHexString(tree.treeHash()), toHexString(RatchetTree.decode(cipherSuite(c.cipher_suite), tree.encode()).treeHash()));
  }
});

test.run();
