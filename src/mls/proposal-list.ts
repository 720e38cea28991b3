// A Commit's proposal list (RFC 9420 §12.2, §12.3, §12.4.2): resolving references against the
// epoch's cached proposals, the validity rules every member applies identically, whether the
// Commit needs a path, and applying the list to a copy of the tree in the order §12.3 fixes
// (GroupContextExtensions, Update, Remove, Add, PreSharedKey). Pure apart from signature checks.
import { equalBytes, toHex } from '../crypto/bytes.js';
import { MlsError } from './errors.js';
import { ExtensionType, PROTOCOL_VERSION_MLS10, type Extension } from './extensions.js';
import type { ProposalOrRef } from './commit.js';
import { verifyKeyPackageSignature, type KeyPackage } from './key-package.js';
import { verifyLeafNodeSignature, type LeafNode } from './leaf-node.js';
import type { Proposal } from './proposals.js';
import type { PreSharedKeyId } from './psk-id.js';
import type { RatchetTree, RequiredCapabilities } from './ratchet-tree.js';
import type { CipherSuite } from './suite.js';
import { TlsReader, decode } from './tls.js';
import type { LeafIndex } from './tree-math.js';

/** Who sent a proposal: a member's leaf, or (for by-reference proposals) an external sender. */
export type ProposalSender = { readonly kind: 'member'; readonly leaf: LeafIndex } | { readonly kind: 'external'; readonly index: number };

export interface CachedProposal {
  readonly ref: Uint8Array;
  readonly proposal: Proposal;
  readonly sender: ProposalSender;
}

/** A proposal of a Commit with its sender resolved. */
export interface ResolvedProposal {
  readonly proposal: Proposal;
  readonly sender: ProposalSender;
  /** The proposal's reference, when it came by reference. */
  readonly ref?: Uint8Array;
}

/** The outcome of applying a proposal list to a tree. */
export interface AppliedProposals {
  readonly tree: RatchetTree;
  /** The group's extensions after a GroupContextExtensions proposal, else the old ones. */
  readonly extensions: readonly Extension[];
  readonly extensionsChanged: boolean;
  /** Leaves added, in proposal order, with the KeyPackage each came from. */
  readonly added: readonly { readonly leaf: LeafIndex; readonly keyPackage: KeyPackage }[];
  /** Leaves removed, with the LeafNode each held. */
  readonly removed: readonly { readonly leaf: LeafIndex; readonly leafNode: LeafNode }[];
  /** Leaves updated by Update proposals. */
  readonly updated: readonly LeafIndex[];
  readonly psks: readonly PreSharedKeyId[];
}

/** The proposal types whose presence makes a path mandatory (RFC §17.4 "Path Required"). */
const PATH_REQUIRED = new Set([2, 3, 6, 7]);

export function resolveProposals(
  list: readonly ProposalOrRef[], committer: LeafIndex, cache: ReadonlyMap<string, CachedProposal>,
): ResolvedProposal[] {
  return list.map((p) => {
    if (p.type === 1) return { proposal: p.proposal, sender: { kind: 'member', leaf: committer } };
    const c = cache.get(toHex(p.reference));
    if (!c) throw new MlsError('INVALID_COMMIT', 'the commit names a proposal this member never received');
    return { proposal: c.proposal, sender: c.sender, ref: c.ref };
  });
}

/** True when a Commit with this list must carry an UpdatePath (§12.4). */
export function pathRequired(list: readonly ResolvedProposal[]): boolean {
  return list.length === 0 || list.some((p) => PATH_REQUIRED.has(p.proposal.type));
}

export function requiredCapabilitiesOf(extensions: readonly Extension[]): RequiredCapabilities | undefined {
  const e = extensions.find((x) => x.type === ExtensionType.requiredCapabilities);
  if (!e) return undefined;
  return decode((r: TlsReader) => ({
    extensions: r.vector((x) => x.u16()), proposals: r.vector((x) => x.u16()), credentials: r.vector((x) => x.u16()),
  }), e.data, 'RequiredCapabilities');
}

/** Checks a leaf against the group's required capabilities and credential rules (§7.3). */
export function checkLeafCapabilities(leaf: LeafNode, required: RequiredCapabilities | undefined, what: string, code: 'INVALID_PROPOSAL' | 'INVALID_KEY_PACKAGE' | 'INVALID_COMMIT'): void {
  if (leaf.credential.type !== 1) throw new MlsError('UNSUPPORTED', `${what} has credential type ${leaf.credential.type}`);
  if (!leaf.capabilities.credentials.includes(1)) throw new MlsError(code, `${what} does not list the basic credential`);
  if (!required) return;
  const defaults = new Set([1, 2, 3, 4, 5]);
  for (const t of required.extensions) if (!defaults.has(t) && !leaf.capabilities.extensions.includes(t)) throw new MlsError(code, `${what} lacks required extension ${t}`);
  for (const t of required.proposals) if (t > 7 && !leaf.capabilities.proposals.includes(t)) throw new MlsError(code, `${what} lacks required proposal ${t}`);
  for (const t of required.credentials) if (!leaf.capabilities.credentials.includes(t)) throw new MlsError(code, `${what} lacks required credential ${t}`);
}

/** §10.1: a KeyPackage a member may add. */
export function validateKeyPackage(suite: CipherSuite, kp: KeyPackage, required: RequiredCapabilities | undefined, now?: bigint): void {
  const bad = (m: string): MlsError => new MlsError('INVALID_KEY_PACKAGE', m);
  if (kp.version !== PROTOCOL_VERSION_MLS10) throw bad(`version ${kp.version}`);
  if (kp.cipherSuite !== suite.id) throw bad(`cipher suite ${kp.cipherSuite} in a group of suite ${suite.id}`);
  if (kp.leafNode.source !== 1) throw bad('its leaf is not a key_package leaf');
  if (!verifyKeyPackageSignature(suite, kp)) throw bad('signature does not verify');
  if (!verifyLeafNodeSignature(suite, kp.leafNode)) throw bad('leaf signature does not verify');
  if (equalBytes(kp.initKey, kp.leafNode.encryptionKey)) throw bad('init key equals the leaf encryption key');
  suite.hpkePublicKey(kp.initKey);
  suite.hpkePublicKey(kp.leafNode.encryptionKey);
  if (!kp.leafNode.capabilities.cipherSuites.includes(suite.id)) throw bad('its leaf does not list the group cipher suite');
  if (!kp.leafNode.capabilities.versions.includes(PROTOCOL_VERSION_MLS10)) throw bad('its leaf does not list mls10');
  if (now !== undefined && (now < kp.leafNode.lifetime.notBefore || now > kp.leafNode.lifetime.notAfter)) {
    throw new MlsError('EXPIRED', 'the KeyPackage is outside its lifetime');
  }
  checkLeafCapabilities(kp.leafNode, required, 'the KeyPackage leaf', 'INVALID_KEY_PACKAGE');
}

export interface ApplyContext {
  readonly suite: CipherSuite;
  readonly groupId: Uint8Array;
  readonly tree: RatchetTree;
  readonly extensions: readonly Extension[];
  readonly committer: LeafIndex;
  /** Seconds since the Unix epoch, for KeyPackage lifetimes; undefined skips the check. */
  readonly now?: bigint | undefined;
  /** Whether a PreSharedKeyID can be resolved (§8.4); unknown ones make the list invalid. */
  readonly pskKnown: (id: PreSharedKeyId) => boolean;
}

/**
 * Validates a Commit's resolved proposal list (§12.2) and applies it (§12.3) to a copy of the
 * tree. INVALID_PROPOSAL (a proposal that is invalid by itself), INVALID_COMMIT (a list that
 * is invalid as a whole), INVALID_KEY_PACKAGE, UNSUPPORTED.
 */
export function applyProposals(ctx: ApplyContext, list: readonly ResolvedProposal[]): AppliedProposals {
  const { suite, committer } = ctx;
  const invalid = (m: string): MlsError => new MlsError('INVALID_COMMIT', m);
  const gce = list.filter((p) => p.proposal.type === 7);
  const updates = list.filter((p) => p.proposal.type === 2);
  const removes = list.filter((p) => p.proposal.type === 3);
  const adds = list.filter((p) => p.proposal.type === 1);
  const psks = list.filter((p) => p.proposal.type === 4);
  if (list.some((p) => p.proposal.type === 5) && list.length > 1) throw invalid('a ReInit proposal with other proposals');
  if (list.some((p) => p.proposal.type === 5)) throw new MlsError('UNSUPPORTED', 'ReInit is not supported');
  if (list.some((p) => p.proposal.type === 6)) throw invalid('ExternalInit in a member commit');
  if (gce.length > 1) throw invalid('more than one GroupContextExtensions proposal');

  let extensions = ctx.extensions;
  if (gce.length === 1) {
    const p = gce[0]!.proposal;
    if (p.type !== 7) throw invalid('unreachable');
    extensions = p.extensions;
    if (new Set(extensions.map((e) => e.type)).size !== extensions.length) throw new MlsError('INVALID_PROPOSAL', 'duplicate extension types');
  }
  const required = requiredCapabilitiesOf(extensions);

  const touched = new Set<LeafIndex>();
  for (const u of updates) {
    if (u.sender.kind !== 'member') throw new MlsError('INVALID_PROPOSAL', 'an Update from a non-member');
    if (u.sender.leaf === committer) throw invalid('the committer proposes an Update of its own leaf');
    if (touched.has(u.sender.leaf)) throw invalid('two changes to one leaf');
    touched.add(u.sender.leaf);
  }
  for (const r of removes) {
    const p = r.proposal;
    if (p.type !== 3) continue;
    if (p.removed === committer) throw invalid('the committer removes itself');
    if (!ctx.tree.leafNode(p.removed)) throw new MlsError('INVALID_PROPOSAL', `Remove of blank leaf ${p.removed}`);
    if (touched.has(p.removed)) throw invalid('two changes to one leaf');
    touched.add(p.removed);
  }
  const pskIds = new Set<string>();
  for (const p of psks) {
    const id = p.proposal.type === 4 ? p.proposal.psk : undefined;
    if (!id) continue;
    if (id.psktype === 2 && id.usage !== 1) throw new MlsError('INVALID_PROPOSAL', 'a resumption PSK whose usage is not application');
    if (id.pskNonce.length !== suite.hashLength) throw new MlsError('INVALID_PROPOSAL', 'psk_nonce must be Nh bytes');
    const key = toHex(new Uint8Array([id.psktype])) + (id.psktype === 1 ? toHex(id.pskId) : `${toHex(id.pskGroupId)}:${id.pskEpoch}`);
    if (pskIds.has(key)) throw invalid('the same PSK twice');
    pskIds.add(key);
    if (!ctx.pskKnown(id)) throw new MlsError('INVALID_PROPOSAL', 'a PSK this member does not hold');
  }

  const tree = ctx.tree.clone();
  const updated: LeafIndex[] = [];
  for (const u of updates) {
    const p = u.proposal;
    if (p.type !== 2 || u.sender.kind !== 'member') continue;
    const leaf = u.sender.leaf;
    const old = tree.leafNode(leaf);
    if (!old) throw new MlsError('INVALID_PROPOSAL', `Update from blank leaf ${leaf}`);
    validateUpdateLeaf(suite, ctx.groupId, leaf, p.leafNode, old, tree, required);
    tree.updateLeaf(leaf, p.leafNode);
    updated.push(leaf);
  }
  const removed: { leaf: LeafIndex; leafNode: LeafNode }[] = [];
  for (const r of removes) {
    const p = r.proposal;
    if (p.type !== 3) continue;
    removed.push({ leaf: p.removed, leafNode: tree.leafNode(p.removed)! });
    tree.removeLeaf(p.removed);
  }
  const added: { leaf: LeafIndex; keyPackage: KeyPackage }[] = [];
  const seenSig = new Set<string>();
  for (const a of adds) {
    const p = a.proposal;
    if (p.type !== 1) continue;
    validateKeyPackage(suite, p.keyPackage, required, ctx.now);
    const sig = toHex(p.keyPackage.leafNode.signatureKey);
    if (seenSig.has(sig)) throw invalid('two Adds of one client');
    seenSig.add(sig);
    for (const m of tree.members()) {
      if (equalBytes(tree.leafNode(m)!.signatureKey, p.keyPackage.leafNode.signatureKey)) throw invalid('an Add of a client already in the group');
    }
    if (tree.hasEncryptionKey(p.keyPackage.leafNode.encryptionKey)) throw new MlsError('INVALID_PROPOSAL', 'an Add whose encryption key is in use');
    added.push({ leaf: tree.addLeaf(p.keyPackage.leafNode), keyPackage: p.keyPackage });
  }
  if (gce.length === 1 && required) {
    for (const m of tree.members()) checkLeafCapabilities(tree.leafNode(m)!, required, `leaf ${m}`, 'INVALID_PROPOSAL');
  }
  for (const m of tree.members()) {
    const leaf = tree.leafNode(m)!;
    for (const e of extensions) {
      if (e.type > 5 && !leaf.capabilities.extensions.includes(e.type)) throw new MlsError('INVALID_PROPOSAL', `leaf ${m} does not support group extension ${e.type}`);
    }
  }
  return {
    tree, extensions, extensionsChanged: gce.length === 1, added, removed, updated,
    psks: psks.map((p) => (p.proposal.type === 4 ? p.proposal.psk : undefined)).filter((x): x is PreSharedKeyId => x !== undefined),
  };
}

/** §12.1.2 with §7.3: a replacement leaf for `leaf`. */
export function validateUpdateLeaf(
  suite: CipherSuite, groupId: Uint8Array, leaf: LeafIndex, node: LeafNode, old: LeafNode, tree: RatchetTree,
  required: RequiredCapabilities | undefined, source: 2 | 3 = 2,
): void {
  const bad = (m: string): MlsError => new MlsError(source === 2 ? 'INVALID_PROPOSAL' : 'INVALID_COMMIT', m);
  if (node.source !== source) throw bad(`leaf_node_source ${node.source} where ${source} is required`);
  if (!verifyLeafNodeSignature(suite, node, { groupId, leafIndex: leaf })) throw new MlsError('BAD_SIGNATURE', `new leaf ${leaf} signature does not verify`);
  if (!equalCredential(node, old)) throw bad('a leaf may not change its credential');
  if (!node.capabilities.cipherSuites.includes(suite.id)) throw bad('the new leaf does not list the group cipher suite');
  suite.hpkePublicKey(node.encryptionKey);
  if (equalBytes(node.encryptionKey, old.encryptionKey)) throw bad('the new leaf reuses its encryption key');
  if (tree.hasEncryptionKey(node.encryptionKey)) throw bad('the new leaf encryption key is in use');
  for (const m of tree.members()) {
    if (m !== leaf && equalBytes(tree.leafNode(m)!.signatureKey, node.signatureKey)) throw bad('the new leaf signature key is another member\'s');
  }
  checkLeafCapabilities(node, required, `leaf ${leaf}`, source === 2 ? 'INVALID_PROPOSAL' : 'INVALID_COMMIT');
}

function equalCredential(a: LeafNode, b: LeafNode): boolean {
  const ca = a.credential, cb = b.credential;
  if (ca.type !== cb.type) return false;
  if ('identity' in ca && 'identity' in cb) return equalBytes(ca.identity, cb.identity);
  return false;
}
