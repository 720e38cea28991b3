// The MLS group state machine (RFC 9420 §11, §12): creating a group, committing proposals
// (with or without an UpdatePath), processing members' commits, proposals and application
// messages, joining from a Welcome, and the epoch's exporter and authenticator. One `Group`
// holds the current epoch and the one before it (late application messages of the previous
// epoch still open, spec/groups.md §7). Everything a peer sends is checked before any state
// changes: a message that fails leaves the group exactly as it was.
import { equalBytes, toHex } from '../crypto/bytes.js';
import { randomBytes } from '../crypto/primitives.js';
import type { Ed25519Seed } from '../crypto/types.js';
import type { Commit, ProposalOrRef } from './commit.js';
import { MlsError } from './errors.js';
import { ExtensionType, PROTOCOL_VERSION_MLS10, type Extension } from './extensions.js';
import {
  proposalRef, type AuthenticatedContent, type FramedContent, type MlsMessage, type Sender,
} from './framing.js';
import { encodeGroupContext, type GroupContext } from './group-context.js';
import { signGroupInfo, verifyGroupInfoSignature, decodeGroupInfo, encodeGroupInfo, type GroupInfo } from './group-info.js';
import { EpochSecrets, welcomeKeyNonce } from './key-schedule.js';
import { keyPackageRef, type KeyPackage } from './key-package.js';
import { signLeafNode, type LeafNode, type LeafNodeContent } from './leaf-node.js';
import {
  protectPrivateMessage, protectPublicMessage, signContent, unprotectPrivateMessage, unprotectPublicMessage,
  withConfirmationTag, type PaddingPolicy, type ProtectionKeys,
} from './message-protection.js';
import { readRatchetTree } from './nodes.js';
import {
  applyProposals, pathRequired, requiredCapabilitiesOf, resolveProposals, validateUpdateLeaf,
  type AppliedProposals, type CachedProposal, type ProposalSender, type ResolvedProposal,
} from './proposal-list.js';
import type { Proposal } from './proposals.js';
import { derivePskSecret, type PskInput } from './psk.js';
import type { PreSharedKeyId } from './psk-id.js';
import { RatchetTree } from './ratchet-tree.js';
import { SecretTree, type RatchetKey } from './secret-tree.js';
import { cipherSuite, type CipherSuite, type HpkeKeyPair } from './suite.js';
import { TlsReader, decode } from './tls.js';
import { confirmationTag, confirmedTranscriptHash, initialTranscriptHashes, verifyConfirmationTag } from './transcript.js';
import { commonAncestor, type LeafIndex, type NodeIndex } from './tree-math.js';
import { createPath, decryptUpdatePath, mergeUpdatePath, TreeKemPrivate } from './treekem.js';
import { decodeWelcome, encodeGroupSecrets, decodeGroupSecrets, type Welcome, type GroupSecrets } from './welcome.js';

const EMPTY = new Uint8Array(0);

/** How many epochs' resumption PSKs a group keeps (§8.6). */
const RESUMPTION_EPOCHS = 8;

/** One epoch of the group as this member sees it. */
interface Epoch {
  readonly context: GroupContext;
  readonly tree: RatchetTree;
  readonly myLeaf: LeafIndex;
  /** Private keys of the nodes this member holds (its leaf and path). */
  readonly keys: TreeKemPrivate;
  readonly secrets: EpochSecrets;
  readonly secretTree: SecretTree;
  readonly interim: Uint8Array;
  readonly confirmationTag: Uint8Array;
  /** Proposals received by reference in this epoch, by hex ref. */
  readonly proposals: Map<string, CachedProposal>;
  /** The order key of the commit that made this epoch (spec/groups.md §10); none for epoch 0 or a join. */
  readonly commitOrder?: Uint8Array | undefined;
}

/** A commit's changes, shown to the group's policy before anything is applied (spec/groups.md §11). */
export interface ProposedChange {
  readonly committer: LeafIndex;
  /** The tree before the commit. */
  readonly tree: RatchetTree;
  readonly proposals: readonly ResolvedProposal[];
  readonly applied: AppliedProposals;
  /** The group's extensions before the commit. */
  readonly extensions: readonly Extension[];
}

/** What the caller must hold to be a member: its signature key and its leaf's content. */
export interface MemberIdentity {
  readonly signer: Ed25519Seed;
  /** The leaf's credential, capabilities and extensions; keys and source are filled in. */
  readonly leaf: Pick<LeafNodeContent, 'credential' | 'capabilities' | 'extensions'>;
}

/** The private half of a KeyPackage, kept until a Welcome uses it. */
export interface KeyPackageSecrets {
  readonly keyPackage: KeyPackage;
  readonly initKey: HpkeKeyPair;
  readonly encryptionKey: HpkeKeyPair;
  readonly signer: Ed25519Seed;
}

/** External PSKs this member holds, by hex psk_id (§8.4). */
export type ExternalPsks = ReadonlyMap<string, Uint8Array>;

export interface GroupOptions {
  readonly padding?: PaddingPolicy;
  /** Seconds since the Unix epoch, for KeyPackage lifetimes; undefined skips the check. */
  readonly now?: () => bigint;
  readonly externalPsks?: ExternalPsks;
  /**
   * The group's policy: throws (MlsError NOT_AUTHORIZED) for a commit its committer may not
   * make. Runs for received commits and for our own, before anything changes.
   */
  readonly authorize?: (change: ProposedChange) => void;
}

/** A change to the membership or the group's context, as a Commit made it. */
export interface CommitSummary {
  readonly committer: LeafIndex;
  /** The committer's leaf before the commit (its credential says who committed). */
  readonly committerLeaf: LeafNode | undefined;
  readonly epoch: bigint;
  readonly added: readonly { readonly leaf: LeafIndex; readonly leafNode: LeafNode }[];
  readonly removed: readonly { readonly leaf: LeafIndex; readonly leafNode: LeafNode }[];
  readonly updated: readonly LeafIndex[];
  readonly extensionsChanged: boolean;
  readonly pathUpdated: boolean;
  /** The commit as signed by its committer (its AuthenticatedContent), for the signed history. */
  readonly content: AuthenticatedContent;
  /** This member was removed: the group is finished for it. */
  readonly removedMe: boolean;
}

export type Processed =
  | { readonly kind: 'application'; readonly sender: LeafIndex; readonly data: Uint8Array; readonly authenticatedData: Uint8Array; readonly epoch: bigint }
  | { readonly kind: 'proposal'; readonly sender: ProposalSender; readonly proposal: Proposal; readonly ref: Uint8Array }
  | {
    readonly kind: 'commit'; readonly summary: CommitSummary;
    /** The commit this one replaced under the concurrent-commit rule (spec/groups.md §10): it lost. */
    readonly superseded?: CommitSummary | undefined;
  };

/** A commit this member made and has not yet applied. */
export interface PendingCommit {
  /** The Commit as an MLSMessage (a PrivateMessage, or a PublicMessage when asked). */
  readonly message: Uint8Array;
  /** The Welcome for the added members, if any (an MLSMessage). */
  readonly welcome?: Uint8Array | undefined;
  readonly summary: CommitSummary;
  /** Opaque: the epoch the commit leads to. */
  readonly next: unknown;
  readonly from: bigint;
}

export interface CommitOptions {
  readonly add?: readonly KeyPackage[];
  readonly remove?: readonly LeafIndex[];
  readonly extensions?: readonly Extension[];
  readonly psks?: readonly PreSharedKeyId[];
  /** Include an UpdatePath even when no proposal requires one (a self-update). */
  readonly forcePath?: boolean;
  /** New extensions for this member's own leaf (with a path). */
  readonly leafExtensions?: readonly Extension[];
  /** Commit the proposals received by reference in this epoch (default true). */
  readonly includePending?: boolean;
  readonly authenticatedData?: Uint8Array;
  /** 'private' (default) or 'public' framing for the Commit. */
  readonly wire?: 'private' | 'public';
}

const protectionKeys = (suite: CipherSuite, e: Epoch): ProtectionKeys => ({
  suite, groupContext: e.context, membershipKey: e.secrets.membershipKey, senderDataSecret: e.secrets.senderDataSecret, secretTree: e.secretTree,
});

export class Group {
  private epochState: Epoch;
  private previous: Epoch | undefined;
  private readonly resumption = new Map<bigint, Uint8Array>();
  private removed = false;
  /**
   * The commit that removed this member, while the group is still at the epoch it left: a
   * competing commit for that epoch with a smaller order key (spec/groups.md §13) supersedes it.
   */
  private removedBy: { readonly order: Uint8Array; readonly summary: CommitSummary } | undefined;
  /** The summary of the commit that made the current epoch, for the concurrent-commit rule. */
  private lastSummary: CommitSummary | undefined;
  /** For a group joined by Welcome: the leaf of the member who signed its GroupInfo (who added us). */
  welcomeSigner: LeafIndex | undefined;

  private constructor(
    readonly suite: CipherSuite,
    private readonly signer: Ed25519Seed,
    epoch: Epoch,
    private readonly options: GroupOptions,
  ) {
    this.epochState = epoch;
    this.resumption.set(epoch.context.epoch, epoch.secrets.resumptionPsk);
  }

  // ---- creation and joining ----------------------------------------------------------------

  /** §11: a one-member group at epoch 0. */
  static create(suiteId: number, groupId: Uint8Array, me: MemberIdentity, extensions: readonly Extension[], options: GroupOptions = {}): Group {
    const suite = cipherSuite(suiteId);
    const encryptionKey = suite.deriveKeyPair(randomBytes(32));
    const leaf = signLeafNode(suite, me.signer, {
      encryptionKey: encryptionKey.publicKey, signatureKey: suite.signaturePublicKey(me.signer), credential: me.leaf.credential,
      capabilities: me.leaf.capabilities, source: 1, lifetime: { notBefore: 0n, notAfter: 0xffffffffffffffffn }, extensions: me.leaf.extensions,
    } as LeafNodeContent);
    const tree = RatchetTree.create(suite, leaf);
    const context: GroupContext = {
      version: PROTOCOL_VERSION_MLS10, cipherSuite: suite.id, groupId, epoch: 0n, treeHash: tree.treeHash(),
      confirmedTranscriptHash: EMPTY, extensions,
    };
    const required = requiredCapabilitiesOf(extensions);
    if (required) {
      const probe = tree.clone();
      probe.verifyTree(groupId, { requiredCapabilities: required });
    }
    const secrets = EpochSecrets.fromInitSecret(suite, randomBytes(suite.hashLength), { groupContext: context }).epoch;
    const th = initialTranscriptHashes(suite, secrets.confirmationKey);
    const keys = TreeKemPrivate.forLeaf(suite, 0, encryptionKey);
    return new Group(suite, me.signer, {
      context, tree, myLeaf: 0, keys, secrets, secretTree: new SecretTree(suite, secrets.encryptionSecret, tree.leafCount),
      interim: th.interim, confirmationTag: confirmationTag(suite, secrets.confirmationKey, EMPTY), proposals: new Map(),
    }, options);
  }

  /**
   * §12.4.3.1: joins from a Welcome (an MLSMessage or a bare Welcome) with the KeyPackage it
   * was made for. `ratchetTree` is the tree when the GroupInfo does not carry it.
   */
  static join(welcomeBytes: Uint8Array, kp: KeyPackageSecrets, ratchetTree?: Uint8Array, options: GroupOptions = {}): Group {
    const welcome = parseWelcome(welcomeBytes);
    const suite = cipherSuite(welcome.cipherSuite);
    if (kp.keyPackage.cipherSuite !== suite.id) throw new MlsError('NO_WELCOME_FOR_US', 'the Welcome is for another cipher suite');
    const ref = keyPackageRef(suite, kp.keyPackage);
    const mine = welcome.secrets.find((s) => equalBytes(s.newMember, ref));
    if (!mine) throw new MlsError('NO_WELCOME_FOR_US', 'the Welcome has no secrets for this KeyPackage');
    const secretsBytes = suite.decryptWithLabel(kp.initKey, 'Welcome', welcome.encryptedGroupInfo, mine.encryptedGroupSecrets);
    const gs: GroupSecrets = decodeGroupSecrets(secretsBytes);
    // psk_secret from the GroupSecrets' PSKs (§8.4): external ones must be held; resumption
    // PSKs cannot be held by a new member.
    const psks: PskInput[] = gs.psks.map((id) => {
      if (id.psktype !== 1) throw new MlsError('INVALID_PROPOSAL', 'a Welcome with a resumption PSK this member cannot hold');
      const psk = options.externalPsks?.get(toHex(id.pskId));
      if (!psk) throw new MlsError('INVALID_PROPOSAL', 'a Welcome with an external PSK this member does not hold');
      return { id, psk };
    });
    const pskSecret = derivePskSecret(suite, psks);
    const member = suite.extract(gs.joinerSecret, pskSecret);
    const welcomeSecret = suite.deriveSecret(member, 'welcome');
    const { key, nonce } = welcomeKeyNonce(suite, welcomeSecret);
    const gi: GroupInfo = decodeGroupInfo(suite.open(key, nonce, EMPTY, welcome.encryptedGroupInfo));
    const ctx = gi.groupContext;
    if (ctx.cipherSuite !== suite.id) throw new MlsError('MALFORMED', 'the GroupInfo names another cipher suite');
    const treeExt = gi.extensions.find((e) => e.type === ExtensionType.ratchetTree);
    const treeBytes = treeExt?.data ?? ratchetTree;
    if (!treeBytes) throw new MlsError('INVALID_TREE', 'no ratchet tree in the GroupInfo and none given');
    const tree = RatchetTree.fromNodes(suite, decode(readRatchetTree, treeBytes, 'ratchet tree'));
    const signerLeaf = tree.leafNode(gi.signer);
    if (!signerLeaf) throw new MlsError('UNKNOWN_SENDER', 'the GroupInfo signer is not a member');
    if (!verifyGroupInfoSignature(suite, gi, signerLeaf.signatureKey)) throw new MlsError('BAD_SIGNATURE', 'GroupInfo signature does not verify');
    const required = requiredCapabilitiesOf(ctx.extensions);
    tree.verifyTree(ctx.groupId, required ? { requiredCapabilities: required } : {});
    if (!equalBytes(tree.treeHash(), ctx.treeHash)) throw new MlsError('INVALID_TREE', 'the tree does not match the GroupInfo tree hash');
    const myLeaf = tree.findLeaf(kp.keyPackage.leafNode);
    if (myLeaf === undefined) throw new MlsError('INVALID_TREE', 'our KeyPackage leaf is not in the tree');
    const keys = TreeKemPrivate.forLeaf(suite, myLeaf, kp.encryptionKey);
    keys.setKeyPair(tree, 2 * myLeaf, kp.encryptionKey);
    if (gs.pathSecret) keys.setPathSecretsFrom(tree, commonAncestor(2 * myLeaf, 2 * gi.signer), gs.pathSecret);
    const { epoch: secrets } = EpochSecrets.fromJoinerSecret(suite, gs.joinerSecret, pskSecret, ctx);
    verifyConfirmationTag(suite, secrets.confirmationKey, ctx.confirmedTranscriptHash, gi.confirmationTag);
    const interim = suite.hash(concatInterim(ctx.confirmedTranscriptHash, gi.confirmationTag));
    const g = new Group(suite, kp.signer, {
      context: ctx, tree, myLeaf, keys, secrets, secretTree: new SecretTree(suite, secrets.encryptionSecret, tree.leafCount),
      interim, confirmationTag: gi.confirmationTag, proposals: new Map(),
    }, options);
    g.welcomeSigner = gi.signer;
    return g;
  }

  // ---- storage (spec/groups.md §13.1) -------------------------------------------------------

  /** The whole state, for the member's encrypted store. It holds secrets: never send it. */
  export(): Uint8Array {
    const w = new TlsWriter(4096);
    w.u8(STATE_VERSION).u16(this.suite.id).opaque(this.signer).u8(this.removed ? 1 : 0).u32(this.welcomeSigner === undefined ? 0 : this.welcomeSigner + 1);
    writeEpoch(w, this.epochState);
    w.optional(this.previous, writeEpoch);
    w.vector([...this.resumption], (x, [epoch, psk]) => void x.u64(epoch).opaque(psk));
    return w.finish();
  }

  /** A group from `export()`'s bytes; MALFORMED when they do not decode. */
  static restore(bytes: Uint8Array, options: GroupOptions = {}): Group {
    return decode((r: TlsReader) => {
      if (r.u8() !== STATE_VERSION) throw new MlsError('UNSUPPORTED', 'group state version');
      const suite = cipherSuite(r.u16());
      const signer = r.opaqueOf(32, 'signer') as Ed25519Seed;
      const removed = r.u8() === 1;
      const ws = r.u32();
      const epoch = readEpoch(suite, r);
      const previous = r.optional((x) => readEpoch(suite, x));
      const resumption = r.vector((x) => [x.u64(), x.opaque()] as const);
      const g = new Group(suite, signer, epoch, options);
      g.previous = previous;
      g.removed = removed;
      g.welcomeSigner = ws === 0 ? undefined : ws - 1;
      for (const [e, psk] of resumption) g.resumption.set(e, psk);
      return g;
    }, bytes, 'group state');
  }

  /** Checks a stored commit's signature (its AuthenticatedContent, signed in `groupContext`): the signed history (spec/groups.md §13.2). */
  static verifyCommitSignature(suiteId: number, content: Uint8Array, groupContext: Uint8Array, signatureKey: Uint8Array): boolean {
    try {
      const suite = cipherSuite(suiteId);
      const a = decodeAuthenticatedContent(content);
      if (a.content.contentType !== 3) return false;
      return verifyFramedContentSignature(suite, signatureKey, a, groupContext);
    } catch {
      return false;
    }
  }

  // ---- reading the state -------------------------------------------------------------------

  get groupId(): Uint8Array { return this.epochState.context.groupId; }
  get epoch(): bigint { return this.epochState.context.epoch; }
  get myLeaf(): LeafIndex { return this.epochState.myLeaf; }
  get context(): GroupContext { return this.epochState.context; }
  /** The GroupContext of the epoch before this one, while it is kept (spec/groups.md §10). */
  get previousContext(): GroupContext | undefined { return this.previous?.context; }
  get extensions(): readonly Extension[] { return this.epochState.context.extensions; }
  get isRemoved(): boolean { return this.removed; }
  get epochAuthenticator(): Uint8Array { return this.epochState.secrets.epochAuthenticator; }
  get tree(): RatchetTree { return this.epochState.tree; }
  /** The members: leaf index and LeafNode, in leaf order. */
  members(): { readonly leaf: LeafIndex; readonly leafNode: LeafNode }[] {
    const t = this.epochState.tree;
    return t.members().map((leaf) => ({ leaf, leafNode: t.leafNode(leaf)! }));
  }
  exporter(label: string, context: Uint8Array, length: number): Uint8Array {
    return this.epochState.secrets.exporter(label, context, length);
  }

  // ---- sending -----------------------------------------------------------------------------

  /** An application message (§6.3), always a PrivateMessage. */
  encrypt(data: Uint8Array, authenticatedData: Uint8Array = EMPTY): Uint8Array {
    this.checkLive();
    const e = this.epochState;
    const keys = protectionKeys(this.suite, e);
    const content: FramedContent = {
      groupId: e.context.groupId, epoch: e.context.epoch, sender: { type: 1, leafIndex: e.myLeaf }, authenticatedData,
      contentType: 1, applicationData: data,
    };
    const signed = signContent(keys, this.signer, 2, content);
    return encodeMlsMessage({ wireFormat: 2, privateMessage: protectPrivateMessage(keys, signed, this.protectOptions()) });
  }

  /** A proposal by reference (§12.1), e.g. a member's own Remove to leave. Cached as received. */
  propose(proposal: Proposal, authenticatedData: Uint8Array = EMPTY): Uint8Array {
    this.checkLive();
    const e = this.epochState;
    const keys = protectionKeys(this.suite, e);
    const content: FramedContent = {
      groupId: e.context.groupId, epoch: e.context.epoch, sender: { type: 1, leafIndex: e.myLeaf }, authenticatedData,
      contentType: 2, proposal,
    };
    const signed = signContent(keys, this.signer, 2, content);
    const ref = proposalRef(this.suite, signed);
    e.proposals.set(toHex(ref), { ref, proposal, sender: { kind: 'member', leaf: e.myLeaf } });
    return encodeMlsMessage({ wireFormat: 2, privateMessage: protectPrivateMessage(keys, signed, this.protectOptions()) });
  }

  /**
   * §12.4: a Commit of the given changes and (by default) the proposals received by reference,
   * with its Welcome. The group does not change until `apply(pending)`.
   */
  commit(opts: CommitOptions = {}): PendingCommit {
    this.checkLive();
    const e = this.epochState;
    const suite = this.suite;
    const inline: Proposal[] = [];
    if (opts.extensions) inline.push({ type: 7, extensions: opts.extensions });
    for (const leaf of opts.remove ?? []) inline.push({ type: 3, removed: leaf });
    for (const kp of opts.add ?? []) inline.push({ type: 1, keyPackage: kp });
    for (const psk of opts.psks ?? []) inline.push({ type: 4, psk });
    const byRef: ProposalOrRef[] = [];
    if (opts.includePending !== false) {
      for (const c of e.proposals.values()) {
        // Our own Update proposals and proposals touching leaves we already change are left out.
        if (c.proposal.type === 2 && c.sender.kind === 'member' && c.sender.leaf === e.myLeaf) continue;
        if (c.proposal.type === 3 && (opts.remove ?? []).includes(c.proposal.removed)) continue;
        if (c.proposal.type === 3 && c.proposal.removed === e.myLeaf) continue;
        byRef.push({ type: 2, reference: c.ref });
      }
    }
    const list: ProposalOrRef[] = [...byRef, ...inline.map((proposal) => ({ type: 1 as const, proposal }))];
    const resolved = resolveProposals(list, e.myLeaf, e.proposals);
    const applied = applyProposals(this.applyContext(e, e.myLeaf), resolved);
    this.options.authorize?.({ committer: e.myLeaf, tree: e.tree, proposals: resolved, applied, extensions: e.context.extensions });
    const needPath = opts.forcePath === true || pathRequired(resolved);
    const tree = applied.tree;
    let commitSecret: Uint8Array = new Uint8Array(suite.hashLength);
    let keys = e.keys.clone();
    keys.prune(tree);
    let commit: Commit = { proposals: list };
    let pathSecretFor: ((leaf: LeafIndex) => Uint8Array | undefined) | undefined;
    if (needPath) {
      const made = createPath(tree, e.myLeaf, {
        groupId: e.context.groupId, signer: this.signer,
        ...(opts.leafExtensions ? { leafChanges: { extensions: opts.leafExtensions } } : {}),
      });
      const provisional = encodeGroupContext({ ...e.context, epoch: e.context.epoch + 1n, treeHash: tree.treeHash(), extensions: applied.extensions });
      commit = { proposals: list, path: made.encrypt(provisional, applied.added.map((a) => a.leaf)) };
      commitSecret = made.commitSecret;
      keys = made.privateKeys;
      pathSecretFor = (leaf) => made.pathSecretFor(leaf);
    }
    const content: FramedContent = {
      groupId: e.context.groupId, epoch: e.context.epoch, sender: { type: 1, leafIndex: e.myLeaf },
      authenticatedData: opts.authenticatedData ?? EMPTY, contentType: 3, commit,
    };
    const wire = opts.wire === 'public' ? 1 : 2;
    const pkeys = protectionKeys(suite, e);
    const signed = signContent(pkeys, this.signer, wire, content);
    const pskSecret = this.pskSecret(applied.psks);
    const built = this.nextEpoch(e, tree, applied, signed, commitSecret, pskSecret, keys, e.myLeaf);
    const final = withConfirmationTag(signed, built.tag);
    const message = wire === 1
      ? encodeMlsMessage({ wireFormat: 1, publicMessage: protectPublicMessage(pkeys, final) })
      : encodeMlsMessage({ wireFormat: 2, privateMessage: protectPrivateMessage(pkeys, final, this.protectOptions()) });
    let welcome: Uint8Array | undefined;
    if (applied.added.length > 0) {
      welcome = this.makeWelcome(built.epoch, built.joinerSecret, built.welcomeSecret, applied, pathSecretFor, e.myLeaf);
    }
    const summary = summarize(e.myLeaf, e.tree.leafNode(e.myLeaf), built.epoch.context.epoch, applied, needPath, final, false);
    const next: Epoch = { ...built.epoch, commitOrder: commitOrder(suite, final) };
    return { message, welcome, summary, next, from: e.context.epoch };
  }

  /** Applies a commit this member made (after its delivery, spec/groups.md §10). */
  apply(pending: PendingCommit): CommitSummary {
    this.checkLive();
    if (pending.from !== this.epoch) throw new MlsError('WRONG_EPOCH', 'the pending commit was made in another epoch');
    this.advance(pending.next as Epoch);
    this.lastSummary = pending.summary;
    return pending.summary;
  }

  // ---- receiving ---------------------------------------------------------------------------

  /** Processes one MLSMessage from the group (§6, §12). State changes only when it verifies. */
  process(bytes: Uint8Array): Processed {
    if (this.removed && this.removedBy) return this.commitAfterRemoval(bytes);
    this.checkLive();
    const msg = decodeMlsMessage(bytes);
    if (msg.wireFormat !== 1 && msg.wireFormat !== 2) throw new MlsError('MALFORMED', `wire format ${msg.wireFormat} is not a group message`);
    const groupId = msg.wireFormat === 1 ? msg.publicMessage.content.groupId : msg.privateMessage.groupId;
    const epochNo = msg.wireFormat === 1 ? msg.publicMessage.content.epoch : msg.privateMessage.epoch;
    if (!equalBytes(groupId, this.groupId)) throw new MlsError('WRONG_GROUP', 'message for another group');
    let e = this.epochState;
    const contentType = msg.wireFormat === 1 ? msg.publicMessage.content.contentType : msg.privateMessage.contentType;
    if (contentType === 3 && this.previous && epochNo === this.previous.context.epoch) return this.competingCommit(msg);
    if (epochNo !== e.context.epoch) {
      // A late application message of the previous epoch still opens (§13); nothing else does.
      if (this.previous && epochNo === this.previous.context.epoch && msg.wireFormat === 2 && msg.privateMessage.contentType === 1) {
        e = this.previous;
      } else {
        throw new MlsError('WRONG_EPOCH', `message for epoch ${epochNo}, group is at ${e.context.epoch}`);
      }
    }
    const { auth, consume } = this.open(e, msg);
    const c = auth.content;
    let out: Processed;
    if (c.contentType === 1) {
      if (c.sender.type !== 1) throw new MlsError('UNKNOWN_SENDER', 'application data from a non-member');
      out = { kind: 'application', sender: c.sender.leafIndex, data: c.applicationData, authenticatedData: c.authenticatedData, epoch: e.context.epoch };
    } else if (c.contentType === 2) {
      out = this.receiveProposal(e, auth, c.proposal);
    } else {
      out = { kind: 'commit', summary: this.receiveCommit(e, auth, c.commit) };
    }
    consume();
    return out;
  }

  /**
   * Unprotects a group message in epoch `e`. The ratchet key a PrivateMessage uses is consumed
   * only by `consume()`, once the message has passed every check: one that opens but is then
   * refused (a forged signature, an invalid or unauthorized commit, a commit that overtook the
   * proposal it references) leaves the ratchet as it was.
   */
  private open(e: Epoch, msg: MlsMessage): { readonly auth: AuthenticatedContent; readonly consume: () => void } {
    const sigKey = (s: Sender): Uint8Array | undefined => this.signatureKeyOf(e, s);
    if (msg.wireFormat === 1) return { auth: unprotectPublicMessage(protectionKeys(this.suite, e), msg.publicMessage, sigKey), consume: () => {} };
    if (msg.wireFormat !== 2) throw new MlsError('MALFORMED', `wire format ${msg.wireFormat} is not a group message`);
    const deferred = new DeferredKeys(e.secretTree);
    const keys = { ...protectionKeys(this.suite, e), secretTree: deferred as unknown as SecretTree };
    return { auth: unprotectPrivateMessage(keys, msg.privateMessage, sigKey).content, consume: () => deferred.consume() };
  }

  /**
   * A second commit for the epoch we already left (spec/groups.md §10): of two commits for one
   * epoch, every member keeps the one whose order key is smaller. If the newcomer wins, the
   * group goes back to the previous epoch and applies it; our own losing commit is reported as
   * `superseded` so that its changes can be made again. Only one epoch back: once the group has
   * moved on past the contested epoch, a late competitor is WRONG_EPOCH.
   */
  private competingCommit(msg: MlsMessage): Processed {
    const prev = this.previous!;
    const current = this.epochState;
    const { auth, consume } = this.open(prev, msg);
    if (auth.content.contentType !== 3) throw new MlsError('MALFORMED', 'not a commit');
    const order = commitOrder(this.suite, auth);
    if (!current.commitOrder || compareBytes(order, current.commitOrder) >= 0) {
      throw new MlsError('WRONG_EPOCH', `a competing commit for epoch ${prev.context.epoch} that loses to the one applied`);
    }
    // Try the winner against the previous epoch; only if it is valid does the group switch.
    const lost = this.lastSummary;
    this.epochState = prev;
    this.previous = undefined;
    try {
      const summary = this.receiveCommit(prev, auth, auth.content.commit);
      consume();
      current.secretTree.destroy();
      return { kind: 'commit', summary, superseded: lost };
    } catch (e) {
      this.epochState = current;
      this.previous = prev;
      throw e;
    }
  }

  /**
   * After a commit removed this member, the one message it still takes: a competing commit for
   * the same epoch that wins over the removing one (spec/groups.md §10). Anything else is STATE.
   */
  private commitAfterRemoval(bytes: Uint8Array): Processed {
    const by = this.removedBy!;
    const e = this.epochState;
    const msg = decodeMlsMessage(bytes);
    const header = msg.wireFormat === 1 ? msg.publicMessage.content : msg.wireFormat === 2 ? msg.privateMessage : undefined;
    const contentType = msg.wireFormat === 1 ? msg.publicMessage.content.contentType : msg.wireFormat === 2 ? msg.privateMessage.contentType : 0;
    if (!header || contentType !== 3 || header.epoch !== e.context.epoch || !equalBytes(header.groupId, e.context.groupId)) this.checkLive();
    const { auth, consume } = this.open(e, msg);
    if (auth.content.contentType !== 3 || compareBytes(commitOrder(this.suite, auth), by.order) >= 0) this.checkLive();
    this.removed = false;
    this.removedBy = undefined;
    try {
      const summary = this.receiveCommit(e, auth, (auth.content as { commit: Commit }).commit);
      consume();
      return { kind: 'commit', summary, superseded: by.summary };
    } catch (err) {
      this.removed = true;
      this.removedBy = by;
      throw err;
    }
  }

  private receiveProposal(e: Epoch, auth: AuthenticatedContent, proposal: Proposal): Processed {
    const s = auth.content.sender;
    let sender: ProposalSender;
    if (s.type === 1) sender = { kind: 'member', leaf: s.leafIndex };
    else if (s.type === 2) sender = { kind: 'external', index: s.senderIndex };
    else throw new MlsError('UNSUPPORTED', 'new-member proposals are not accepted');
    if (proposal.type === 2) {
      if (sender.kind !== 'member') throw new MlsError('INVALID_PROPOSAL', 'an Update from a non-member');
      validateUpdateLeaf(this.suite, e.context.groupId, sender.leaf, proposal.leafNode, e.tree.leafNode(sender.leaf)!, e.tree, requiredCapabilitiesOf(e.context.extensions));
    }
    if (proposal.type === 3 && !e.tree.leafNode(proposal.removed)) throw new MlsError('INVALID_PROPOSAL', `Remove of blank leaf ${proposal.removed}`);
    const ref = proposalRef(this.suite, auth);
    e.proposals.set(toHex(ref), { ref, proposal, sender });
    return { kind: 'proposal', sender, proposal, ref };
  }

  private receiveCommit(e: Epoch, auth: AuthenticatedContent, commit: Commit): CommitSummary {
    const s = auth.content.sender;
    if (s.type !== 1) throw new MlsError('UNSUPPORTED', 'commits from non-members (external joins) are not accepted');
    const committer = s.leafIndex;
    if (committer === e.myLeaf) throw new MlsError('STATE', 'our own commit comes back: apply the pending commit instead');
    if (!auth.auth.confirmationTag) throw new MlsError('MALFORMED', 'a commit without a confirmation tag');
    const resolved: ResolvedProposal[] = resolveProposals(commit.proposals, committer, e.proposals);
    for (const p of resolved) {
      if (p.sender.kind === 'member' && p.sender.leaf === committer && p.ref === undefined && p.proposal.type === 2) {
        throw new MlsError('INVALID_COMMIT', 'an inline Update proposal in a commit');
      }
    }
    const applied = applyProposals(this.applyContext(e, committer), resolved);
    if (pathRequired(resolved) && !commit.path) throw new MlsError('INVALID_COMMIT', 'the commit needs a path and has none');
    this.options.authorize?.({ committer, tree: e.tree, proposals: resolved, applied, extensions: e.context.extensions });
    const removedMe = applied.removed.some((r) => r.leaf === e.myLeaf);
    const tree = applied.tree;
    let commitSecret: Uint8Array = new Uint8Array(this.suite.hashLength);
    let keys = e.keys.clone();
    keys.prune(tree);
    if (commit.path) {
      const old = tree.leafNode(committer);
      if (!old) throw new MlsError('INVALID_COMMIT', 'the committer is not in the tree');
      validateUpdateLeaf(this.suite, e.context.groupId, committer, commit.path.leafNode, old, tree, requiredCapabilitiesOf(applied.extensions), 3);
      mergeUpdatePath(tree, committer, commit.path, e.context.groupId);
      if (!removedMe) {
        const provisional = encodeGroupContext({ ...e.context, epoch: e.context.epoch + 1n, treeHash: tree.treeHash(), extensions: applied.extensions });
        const got = decryptUpdatePath(tree, e.keys, committer, commit.path, provisional, applied.added.map((a) => a.leaf));
        commitSecret = got.commitSecret;
        keys = got.privateKeys;
      }
    }
    const summary = summarize(committer, e.tree.leafNode(committer), e.context.epoch + 1n, applied, commit.path !== undefined, auth, removedMe);
    if (removedMe) {
      this.removed = true;
      this.removedBy = { order: commitOrder(this.suite, auth), summary };
      return summary;
    }
    const pskSecret = this.pskSecret(applied.psks);
    const built = this.nextEpoch(e, tree, applied, auth, commitSecret, pskSecret, keys, e.myLeaf);
    verifyConfirmationTag(this.suite, built.epoch.secrets.confirmationKey, built.epoch.context.confirmedTranscriptHash, auth.auth.confirmationTag);
    this.advance({ ...built.epoch, commitOrder: commitOrder(this.suite, auth) });
    this.lastSummary = summary;
    return summary;
  }

  // ---- internals ---------------------------------------------------------------------------

  private advance(next: Epoch): void {
    if (this.previous) this.previous.secretTree.destroy();
    this.previous = this.epochState;
    this.epochState = next;
    this.resumption.set(next.context.epoch, next.secrets.resumptionPsk);
    for (const k of [...this.resumption.keys()]) if (k + BigInt(RESUMPTION_EPOCHS) <= next.context.epoch) this.resumption.delete(k);
  }

  private protectOptions(): { padding?: PaddingPolicy } {
    return this.options.padding ? { padding: this.options.padding } : {};
  }

  private checkLive(): void {
    if (this.removed) throw new MlsError('STATE', 'this member was removed from the group');
  }

  private signatureKeyOf(e: Epoch, s: Sender): Uint8Array | undefined {
    if (s.type === 1) return e.tree.leafNode(s.leafIndex)?.signatureKey;
    if (s.type === 2) {
      const ext = e.context.extensions.find((x) => x.type === ExtensionType.externalSenders);
      if (!ext) return undefined;
      // ExternalSender { signature_key; Credential: a type, then one opaque body (basic) or vector (x509) }
      const senders = decode((r: TlsReader) => r.vector((x) => { const key = x.opaque(); x.u16(); x.opaque(); return key; }), ext.data, 'external_senders');
      return senders[s.senderIndex];
    }
    return undefined;
  }

  private applyContext(e: Epoch, committer: LeafIndex) {
    return {
      suite: this.suite, groupId: e.context.groupId, tree: e.tree, extensions: e.context.extensions, committer,
      now: this.options.now?.(), pskKnown: (id: PreSharedKeyId) => this.pskValue(id) !== undefined,
    };
  }

  private pskValue(id: PreSharedKeyId): Uint8Array | undefined {
    if (id.psktype === 1) return this.options.externalPsks?.get(toHex(id.pskId));
    if (!equalBytes(id.pskGroupId, this.groupId)) return undefined;
    return this.resumption.get(id.pskEpoch);
  }

  private pskSecret(ids: readonly PreSharedKeyId[]): Uint8Array {
    return derivePskSecret(this.suite, ids.map((id) => {
      const psk = this.pskValue(id);
      if (!psk) throw new MlsError('INVALID_PROPOSAL', 'a PSK this member does not hold');
      return { id, psk };
    }));
  }

  /** The epoch after a commit (§8, §8.2), with the confirmation tag it must carry. */
  private nextEpoch(
    e: Epoch, tree: RatchetTree, applied: AppliedProposals, signed: AuthenticatedContent, commitSecret: Uint8Array,
    pskSecret: Uint8Array, keys: TreeKemPrivate, myLeaf: LeafIndex,
  ): { epoch: Epoch; tag: Uint8Array; joinerSecret: Uint8Array; welcomeSecret: Uint8Array } {
    const suite = this.suite;
    // The confirmed transcript hash covers the signed content; the confirmation tag is not in it (§8.2).
    const confirmed = confirmedTranscriptHash(suite, e.interim, signed);
    const context: GroupContext = {
      ...e.context, epoch: e.context.epoch + 1n, treeHash: tree.treeHash(), confirmedTranscriptHash: confirmed, extensions: applied.extensions,
    };
    const t = e.secrets.next({ commitSecret, pskSecret, groupContext: context });
    const tag = confirmationTag(suite, t.epoch.confirmationKey, confirmed);
    const interim = suite.hash(concatInterim(confirmed, tag));
    return {
      epoch: {
        context, tree, myLeaf, keys, secrets: t.epoch, secretTree: new SecretTree(suite, t.epoch.encryptionSecret, tree.leafCount),
        interim, confirmationTag: tag, proposals: new Map(),
      },
      tag, joinerSecret: t.joinerSecret, welcomeSecret: t.welcomeSecret,
    };
  }

  private makeWelcome(
    next: Epoch, joinerSecret: Uint8Array, welcomeSecret: Uint8Array, applied: AppliedProposals,
    pathSecretFor: ((leaf: LeafIndex) => Uint8Array | undefined) | undefined, committer: LeafIndex,
  ): Uint8Array {
    const suite = this.suite;
    const gi = signGroupInfo(suite, this.signer, {
      groupContext: next.context,
      extensions: [{ type: ExtensionType.ratchetTree, data: next.tree.encode() }],
      confirmationTag: next.confirmationTag, signer: committer,
    });
    const { key, nonce } = welcomeKeyNonce(suite, welcomeSecret);
    const encryptedGroupInfo = suite.seal(key, nonce, EMPTY, encodeGroupInfo(gi));
    const secrets = applied.added.map(({ leaf, keyPackage }) => {
      const pathSecret = pathSecretFor?.(leaf);
      const gs: GroupSecrets = { joinerSecret, pathSecret, psks: applied.psks };
      return {
        newMember: keyPackageRef(suite, keyPackage),
        encryptedGroupSecrets: suite.encryptWithLabel(keyPackage.initKey, 'Welcome', encryptedGroupInfo, encodeGroupSecrets(gs)),
      };
    });
    const welcome: Welcome = { cipherSuite: suite.id, secrets, encryptedGroupInfo };
    return encodeMlsMessage({ wireFormat: 3, welcome });
  }
}

// ---- helpers -------------------------------------------------------------------------------

import {
  encodeMlsMessage, decodeMlsMessage, decodeAuthenticatedContent, encodeAuthenticatedContent, interimTranscriptHashInput, verifyFramedContentSignature,
} from './framing.js';
import { readProposal, writeProposal } from './proposals.js';
import { readGroupContext } from './group-context.js';
import { TlsWriter } from './tls.js';

/**
 * An epoch's secret tree as message-protection.ts sees it when receiving: the key of a message
 * that opens is not consumed then but by `consume()`, after the group has accepted the message.
 * (SecretTree.withKey consumes as soon as the ciphertext opens; here the key is found and used
 * with the ratchet left untouched, then taken for good with keyFor.)
 */
class DeferredKeys {
  private used: readonly [LeafIndex, number, number] | undefined;
  constructor(private readonly tree: SecretTree) {}
  get leafCount(): number { return this.tree.leafCount; }
  withKey<T>(leaf: LeafIndex, type: number, generation: number, use: (key: RatchetKey) => T): T {
    let out: { value: T } | undefined;
    try {
      this.tree.withKey(leaf, type, generation, (k) => { out = { value: use(k) }; throw LEAVE_RATCHET; });
    } catch (e) {
      if (e !== LEAVE_RATCHET || !out) throw e;
    }
    this.used = [leaf, type, generation];
    return out!.value;
  }
  consume(): void {
    if (!this.used) return;
    const [leaf, type, generation] = this.used;
    this.used = undefined;
    const k = this.tree.keyFor(leaf, type, generation);
    k.key.fill(0);
    k.nonce.fill(0);
  }
}
const LEAVE_RATCHET = Symbol('leave the ratchet as it was');

function parseWelcome(b: Uint8Array): Welcome {
  try {
    const m = decodeMlsMessage(b);
    if (m.wireFormat !== 3) throw new MlsError('MALFORMED', 'not a Welcome');
    return m.welcome;
  } catch (e) {
    if (e instanceof MlsError && e.code === 'MALFORMED') return decodeWelcome(b);
    throw e;
  }
}

function concatInterim(confirmed: Uint8Array, tag: Uint8Array): Uint8Array {
  const input = interimTranscriptHashInput(tag);
  const out = new Uint8Array(confirmed.length + input.length);
  out.set(confirmed, 0);
  out.set(input, confirmed.length);
  return out;
}

const STATE_VERSION = 1;
const treeBytes = new WeakMap<RatchetTree, Uint8Array>();

function writeEpoch(w: TlsWriter, e: Epoch): void {
  // The tree is the bulk of the state and changes only with the epoch: encoded once per tree.
  let tree = treeBytes.get(e.tree);
  if (!tree) { tree = e.tree.encode(); treeBytes.set(e.tree, tree); }
  w.opaque(encodeGroupContext(e.context)).opaque(tree).u32(e.myLeaf);
  w.vector(e.keys.nodes(), (x, n) => void x.u32(n).opaque(e.keys.keyPair(n)!.secretKey));
  e.secrets.writeState(w);
  e.secretTree.writeState(w);
  w.opaque(e.interim).opaque(e.confirmationTag);
  w.vector([...e.proposals.values()], (x, p) => {
    x.opaque(p.ref);
    writeProposal(x, p.proposal);
    if (p.sender.kind === 'member') x.u8(1).u32(p.sender.leaf);
    else x.u8(2).u32(p.sender.index);
  });
  w.optional(e.commitOrder, (x, v) => void x.opaque(v));
}

function readEpoch(suite: CipherSuite, r: TlsReader): Epoch {
  const context = decode(readGroupContext, r.opaque(), 'GroupContext');
  const tree = RatchetTree.decode(suite, r.opaque());
  const myLeaf = r.u32();
  const keyList = r.vector((x) => [x.u32(), x.opaqueOf(32, 'node secret')] as const);
  const own = keyList.find(([n]) => n === 2 * myLeaf);
  if (!own) throw new MlsError('MALFORMED', 'group state without our leaf key');
  const keys = TreeKemPrivate.forLeaf(suite, myLeaf, suite.keyPairFromSecret(own[1]));
  for (const [n, secret] of keyList) if (n !== 2 * myLeaf) keys.setKeyPair(tree, n, suite.keyPairFromSecret(secret));
  const secrets = EpochSecrets.readState(suite, r);
  const secretTree = SecretTree.readState(suite, r);
  const interim = r.opaque();
  const confirmationTag = r.opaque();
  const proposals = new Map<string, CachedProposal>();
  for (const p of r.vector((x) => {
    const ref = x.opaque();
    const proposal = readProposal(x);
    const kind = x.u8();
    const index = x.u32();
    const sender: ProposalSender = kind === 1 ? { kind: 'member', leaf: index } : { kind: 'external', index };
    return { ref, proposal, sender };
  })) proposals.set(toHex(p.ref), p);
  const commitOrder = r.optional((x) => x.opaque());
  return { context, tree, myLeaf, keys, secrets, secretTree, interim, confirmationTag, proposals, commitOrder };
}

/** The order key of a commit (spec/groups.md §10): RefHash over its AuthenticatedContent. */
export function commitOrder(suite: CipherSuite, a: AuthenticatedContent): Uint8Array {
  return suite.refHash('Sealpost 1.0 Commit Order', encodeAuthenticatedContent(a));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function summarize(committer: LeafIndex, committerLeaf: LeafNode | undefined, epoch: bigint, applied: AppliedProposals, path: boolean, content: AuthenticatedContent, removedMe: boolean): CommitSummary {
  return {
    committer, committerLeaf, epoch, added: applied.added.map((a) => ({ leaf: a.leaf, leafNode: a.keyPackage.leafNode })), removed: applied.removed,
    updated: applied.updated, extensionsChanged: applied.extensionsChanged, pathUpdated: path, content, removedMe,
  };
}

