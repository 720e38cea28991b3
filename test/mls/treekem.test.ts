// TreeKEM (src/mls/treekem.ts) against the treekem vectors (RFC 9420 §7.4–§7.6, §12.4.2), every
// case on both crypto backends: each private leaf applies each update path (merge, tree hash,
// path secret at the common ancestor, commit secret), and each private leaf creates its own
// UpdatePath that every other private leaf decrypts to the same commit secret. Tampered paths fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RatchetTree } from '../../src/mls/ratchet-tree.js';
import { createPath, decryptUpdatePath, mergeUpdatePath, TreeKemPrivate } from '../../src/mls/treekem.js';
import { readUpdatePath, type UpdatePath } from '../../src/mls/update-path.js';
import { encodeGroupContext } from '../../src/mls/group-context.js';
import { cipherSuite } from '../../src/mls/suite.js';
import { MlsError } from '../../src/mls/errors.js';
import { decode } from '../../src/mls/tls.js';
import { withBackend, type BackendName, type Ed25519Seed } from '../../src/crypto/index.js';
import { hex, readJson, toHexString } from '../_support/files.js';

type H = string;
interface PrivateLeaf { index: number; encryption_priv: H; signature_priv: H; path_secrets: { node: number; path_secret: H }[] }
interface PathCase { sender: number; update_path: H; path_secrets: (H | null)[]; commit_secret: H; tree_hash_after: H }
interface Case {
  cipher_suite: number; group_id: H; epoch: number; confirmed_transcript_hash: H; ratchet_tree: H;
  leaves_private: PrivateLeaf[]; update_paths: PathCase[];
}
const cases = readJson<Case[]>('test', 'vectors', 'mls', 'treekem.json');

function context(c: Case, treeHash: Uint8Array): Uint8Array {
  return encodeGroupContext({
    version: 1, cipherSuite: c.cipher_suite, groupId: hex(c.group_id), epoch: BigInt(c.epoch), treeHash,
    confirmedTranscriptHash: hex(c.confirmed_transcript_hash), extensions: [],
  });
}

/** A private leaf's key store over the vector's tree; every listed path secret must give the tree's key. */
function privateFor(c: Case, tree: RatchetTree, p: PrivateLeaf): TreeKemPrivate {
  const suite = tree.cipherSuite;
  const priv = TreeKemPrivate.forLeaf(suite, p.index, suite.keyPairFromSecret(hex(p.encryption_priv)));
  priv.prune(tree);
  assert.equal(priv.nodes(), [2 * p.index], `leaf ${p.index} private key is the tree's`);
  for (const s of p.path_secrets) priv.setPathSecret(tree, s.node, hex(s.path_secret));
  return priv;
}

interface Counts { applied: number; created: number; decryptedOwn: number }

function checkCase(c: Case, counts: Counts): void {
  const suite = cipherSuite(c.cipher_suite);
  const gid = hex(c.group_id);
  const tree = RatchetTree.decode(suite, hex(c.ratchet_tree));
  tree.verifyTree(gid);
  const privs = new Map(c.leaves_private.map((p) => [p.index, privateFor(c, tree, p)]));

  // Every update path, applied by every private leaf.
  for (const u of c.update_paths) {
    const path = decode(readUpdatePath, hex(u.update_path), 'UpdatePath');
    const after = tree.clone();
    mergeUpdatePath(after, u.sender, path, gid);
    assert.is(toHexString(after.treeHash()), u.tree_hash_after, `tree hash after path from ${u.sender}`);
    after.verifyTree(gid);
    const ctx = context(c, after.treeHash());
    for (const p of c.leaves_private) {
      if (p.index === u.sender) { assert.is(u.path_secrets[p.index], null); continue; }
      const out = decryptUpdatePath(after, privs.get(p.index)!, u.sender, path, ctx);
      assert.is(toHexString(out.pathSecret), u.path_secrets[p.index], `path secret of leaf ${p.index} from ${u.sender}`);
      assert.is(toHexString(out.commitSecret), u.commit_secret, `commit secret of leaf ${p.index} from ${u.sender}`);
      // The new store holds our leaf and exactly the path nodes from the decrypted one up.
      const fdp = after.filteredDirectPath(u.sender);
      const mine = out.privateKeys.nodes();
      for (const x of fdp.slice(fdp.indexOf(out.node))) assert.ok(mine.includes(x), `key for ${x}`);
      counts.applied++;
    }
  }

  // Every private leaf commits; every other private leaf follows.
  for (const p of c.leaves_private) {
    const mine = tree.clone();
    const pending = createPath(mine, p.index, { groupId: gid, signer: hex(p.signature_priv) as Ed25519Seed });
    const ctx = context(c, mine.treeHash());
    const path: UpdatePath = pending.encrypt(ctx);
    mine.verifyTree(gid);
    counts.created++;
    for (const q of c.leaves_private) {
      if (q.index === p.index) continue;
      const theirs = tree.clone();
      mergeUpdatePath(theirs, p.index, path, gid);
      assert.is(toHexString(theirs.treeHash()), toHexString(mine.treeHash()), 'same tree after the path');
      const out = decryptUpdatePath(theirs, privs.get(q.index)!, p.index, path, ctx);
      assert.is(toHexString(out.commitSecret), toHexString(pending.commitSecret), `leaf ${q.index} follows ${p.index}`);
      assert.is(toHexString(out.pathSecret), toHexString(pending.pathSecretFor(q.index)!));
      counts.decryptedOwn++;
    }
  }
}

for (const backend of ['node', 'noble'] as BackendName[]) {
  test(`every treekem case on the ${backend} backend`, () => {
    const counts: Counts = { applied: 0, created: 0, decryptedOwn: 0 };
    withBackend(backend, () => { for (const c of cases) checkCase(c, counts); });
    const want = cases.reduce((s, c) => s + c.update_paths.reduce((t, u) => t + c.leaves_private.filter((p) => p.index !== u.sender).length, 0), 0);
    assert.is(counts.applied, want);
    assert.is(counts.created, cases.reduce((s, c) => s + c.leaves_private.length, 0));
    assert.is(counts.decryptedOwn, cases.reduce((s, c) => s + c.leaves_private.length * (c.leaves_private.length - 1), 0));
    assert.is(cases.length, 22);
  });
}

const code = (want: string) => (e: unknown): boolean => e instanceof MlsError && e.code === want;

test('a corrupted case fails: wrong commit secret, flipped ciphertext, flipped leaf parent hash, wrong group', () => {
  const c = cases[4]!;
  const suite = cipherSuite(c.cipher_suite);
  const gid = hex(c.group_id);
  const tree = RatchetTree.decode(suite, hex(c.ratchet_tree));
  const u = c.update_paths[0]!;
  const p = c.leaves_private.find((x) => x.index !== u.sender)!;
  const priv = privateFor(c, tree, p);
  const path = decode(readUpdatePath, hex(u.update_path), 'UpdatePath');

  // A commit secret the vector does not give is caught by the comparison.
  const after = tree.clone();
  mergeUpdatePath(after, u.sender, path, gid);
  const ok = decryptUpdatePath(after, priv, u.sender, path, context(c, after.treeHash()));
  assert.is.not(toHexString(ok.commitSecret), u.commit_secret.replace(/^./, (d) => (d === '0' ? '1' : '0')));

  // Another GroupContext (another epoch) does not decrypt.
  assert.throws(() => decryptUpdatePath(after, priv, u.sender, path, context({ ...c, epoch: c.epoch + 1 }, after.treeHash())), code('DECRYPT_FAILED'));

  // Every ciphertext flipped.
  const flipped: UpdatePath = { ...path, nodes: path.nodes.map((n) => ({ ...n, encryptedPathSecret: n.encryptedPathSecret.map((ct) => { const b = ct.ciphertext.slice(); b[0]! ^= 1; return { ...ct, ciphertext: b }; }) })) };
  assert.throws(() => decryptUpdatePath(after, priv, u.sender, flipped, context(c, after.treeHash())), code('DECRYPT_FAILED'));

  // A path public key replaced: the derived key no longer matches (or the parent hash does not).
  const swapped: UpdatePath = { ...path, nodes: path.nodes.map((n, i) => (i === path.nodes.length - 1 ? { ...n, encryptionKey: suite.deriveKeyPair(new Uint8Array(32).fill(9)).publicKey } : n)) };
  assert.throws(() => mergeUpdatePath(tree.clone(), u.sender, swapped, gid), code('INVALID_COMMIT'));

  // The leaf signed for another group, or claimed by another sender.
  assert.throws(() => mergeUpdatePath(tree.clone(), u.sender, path, new Uint8Array([1, 2, 3])), code('BAD_SIGNATURE'));
  const other = c.leaves_private.find((x) => x.index !== u.sender)!.index;
  assert.throws(() => mergeUpdatePath(tree.clone(), other, path, gid), (e: unknown) => e instanceof MlsError);

  // One node fewer than the filtered direct path.
  assert.throws(() => mergeUpdatePath(tree.clone(), u.sender, { ...path, nodes: path.nodes.slice(1) }, gid), code('INVALID_COMMIT'));
});

test('added leaves are excluded from the encryption and still get the path secret for their Welcome', () => {
  const c = cases[3]!; // 4 members
  const suite = cipherSuite(c.cipher_suite);
  const gid = hex(c.group_id);
  const tree = RatchetTree.decode(suite, hex(c.ratchet_tree));
  const p = c.leaves_private[0]!;
  const like = tree.leafNode(p.index)!;
  const mine = tree.clone();
  // A new member (its leaf a copy of a key_package leaf with fresh keys is not needed here: the
  // encryption only reads the tree) takes a new leaf; the path must not encrypt to it.
  const joinerKeys = suite.deriveKeyPair(new Uint8Array(32).fill(42));
  const added = mine.addLeaf({ ...like, encryptionKey: joinerKeys.publicKey, signatureKey: new Uint8Array(32).fill(43) });
  const pending = createPath(mine, p.index, { groupId: gid, signer: hex(p.signature_priv) as Ed25519Seed });
  const ctx = context(c, mine.treeHash());
  const withJoiner = pending.encrypt(ctx);
  const without = pending.encrypt(ctx, [added]);
  const count = (u: UpdatePath): number => u.nodes.reduce((s, n) => s + n.encryptedPathSecret.length, 0);
  assert.is(count(withJoiner), count(without) + 1);
  // The joiner learns the path from its Welcome's path secret and reaches the same commit secret.
  const joiner = TreeKemPrivate.forLeaf(suite, added, joinerKeys);
  const secret = pending.pathSecretFor(added)!;
  const ca = pending.nodes.find((x) => isAbove(x, 2 * added))!;
  assert.is(toHexString(joiner.setPathSecretsFrom(mine, ca, secret)), toHexString(pending.commitSecret));
});

function isAbove(x: number, y: number): boolean {
  let k = 0;
  while (((x >> k) & 1) === 1) k++;
  const half = (1 << k) - 1;
  return y >= x - half && y <= x + half;
}

test.run();
