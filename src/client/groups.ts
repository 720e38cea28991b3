// Groups in the SDK (spec/groups.md §9–§14): MLS groups whose members are identities, carried
// over the relay in per-member group mailboxes. Each member's leaf holds the capability of a
// mailbox it made for that group alone; a sender encrypts once (MLS) and seals one envelope per
// other member (sealed sender), so the relay sees mailboxes and a burst of same-size envelopes,
// never a group id or a member list. KeyPackages and Welcomes travel in the 1:1 sessions with
// contacts. Every commit is checked against the group's signed policy (src/groups/policy.ts)
// before it applies, and kept with its signature as the group's history.
import { equalBytes, fromBase64url, randomBytes, sealEnvelope, toBase64url, toHex, x25519KeyPair } from '../crypto/index.js';
import { Reader, Writer } from '../wire/bytes-codec.js';
import { Group, type CommitSummary, type GroupOptions, type PendingCommit, type Processed } from '../mls/group.js';
import { isMlsError, MlsError } from '../mls/errors.js';
import { ExtensionType, type Extension } from '../mls/extensions.js';
import { decodeMlsMessage, encodeAuthenticatedContent, encodeMlsMessage } from '../mls/framing.js';
import { encodeGroupContext } from '../mls/group-context.js';
import { keyPackageRef, signKeyPackage, type KeyPackage } from '../mls/key-package.js';
import { signLeafNode, type Capabilities, type LeafNode } from '../mls/leaf-node.js';
import { validateKeyPackage } from '../mls/proposal-list.js';
import { cipherSuite } from '../mls/suite.js';
import { TlsWriter } from '../mls/tls.js';
import {
  DEFAULT_POLICY, SEALPOST_DELIVERY_EXTENSION, SEALPOST_GROUP_STATE_EXTENSION, groupStateExtension, groupStateOf,
  type GroupPolicyState,
} from '../groups/group-state.js';
import { authorizeChange } from '../groups/policy.js';
import { readCapability, writeCapability } from './capability.js';
import { decodeRecord } from './records.js';
import type { GroupChange, GroupMember, GroupMessage, GroupPolicyUpdate, GroupView } from './types.js';
import { readChunk, split, writeChunk, type Chunk } from './chunks.js';
import type { GroupsState } from './groups-state.js';
import type { ClientContext } from './context.js';
import { newLocalId } from './context.js';
import { ClientError, relayFailure } from './errors.js';
import { dropped, type Handled, type Opened } from './handled.js';
import { dhKeyOf, signingKeyOf } from './identity.js';
import { newMailboxKeys, sendCapability, type SendCapability } from './mailbox.js';
import type { OutboxEntry } from './outbox.js';
import { decodePayload, encodePayload, newPayload, type Payload } from './payload.js';
import type { StoreOp } from './profile-store.js';
import { checkText, sendPayload, submit } from './sending.js';
import { appliedTimer, checkOwnTimer, expiryOf } from './timer-rules.js';
import {
  del, KIND, SELF, put, type ChannelRecord, type GroupHistoryRecord, type GroupMessageRecord, type GroupRecord,
  type KeyPackageRecord, type MailboxRecord,
} from './state.js';

/** The body kind of a group envelope (client.md §5): 0x03 || chunk (spec/groups.md §12.3). */
export const BODY_GROUP = 0x03;
/** Groups the SDK makes use suite 1, the mandatory one (spec/groups.md §2). */
export const GROUP_SUITE = 1;
/** KeyPackages live four weeks and are replaced a week before (spec/groups.md §12.1). */
export const KEY_PACKAGE_LIFETIME_MS = 28 * 86_400_000;
export const KEY_PACKAGE_REFRESH_MS = 7 * 86_400_000;
/** Group mailboxes: the relay keeps envelopes this long (spec/groups.md §12.2). */
export const GROUP_MAILBOX_TTL_SECONDS = 30 * 86_400;
export const MAX_GROUP_MEMBERS = 5_000;
/** Envelopes that arrive for an epoch not reached yet (or before our Welcome) wait, at most this many per group. */
const MAX_WAITING = 512;

const CAPABILITIES: Capabilities = {
  versions: [1], cipherSuites: [1, 3], extensions: [SEALPOST_DELIVERY_EXTENSION, SEALPOST_GROUP_STATE_EXTENSION], proposals: [], credentials: [1],
};
/** required_capabilities (RFC 9420 §11.1): every member must carry the Sealpost extensions. */
const REQUIRED_CAPABILITIES: Extension = {
  type: ExtensionType.requiredCapabilities,
  data: new TlsWriter().vector([SEALPOST_DELIVERY_EXTENSION, SEALPOST_GROUP_STATE_EXTENSION], (w, t) => void w.u16(t))
    .vector([] as number[], (w, t) => void w.u16(t)).vector([1], (w, t) => void w.u16(t)).finish(),
};

// ---- state kept in the context ---------------------------------------------------------------

const groupsOf = (ctx: ClientContext): GroupsState => ctx.groupsState;

function requireGroup(ctx: ClientContext, id: unknown): { rec: GroupRecord; group: Group } {
  const rec = typeof id === 'string' ? groupsOf(ctx).records.get(id) : undefined;
  const group = rec ? groupsOf(ctx).groups.get(rec.id) : undefined;
  if (!rec || !group) throw new ClientError('UNKNOWN_GROUP', 'no such group');
  if (rec.status !== 'active') throw new ClientError('NOT_A_MEMBER', 'this identity is no longer a member of the group');
  return { rec, group };
}

function groupOptions(): GroupOptions {
  return { authorize: authorizeChange, now: () => BigInt(Math.floor(Date.now() / 1000)) };
}

export const groupStateOp = (ctx: ClientContext, id: string): StoreOp =>
  ({ kind: KIND.groupState, id, value: () => groupsOf(ctx).groups.get(id)!.export() });

// ---- identities and members ------------------------------------------------------------------

function identityOfLeaf(leaf: LeafNode): Uint8Array {
  const c = leaf.credential;
  if (!('identity' in c) || c.identity.length !== 64) throw new MlsError('INVALID_TREE', 'a leaf without a Sealpost identity');
  return c.identity;
}

function deliveryOf(leaf: LeafNode): SendCapability {
  const e = leaf.extensions.find((x) => x.type === SEALPOST_DELIVERY_EXTENSION);
  if (!e) throw new MlsError('INVALID_TREE', 'a leaf without a delivery capability');
  try {
    const r = new Reader(e.data);
    const cap = readCapability(r);
    r.end();
    return cap;
  } catch (err) {
    throw new MlsError('MALFORMED', 'a leaf whose delivery capability does not decode', { cause: err });
  }
}

function deliveryExtension(cap: SendCapability): Extension {
  return { type: SEALPOST_DELIVERY_EXTENSION, data: writeCapability(new Writer(), cap).finish() };
}

function memberView(ctx: ClientContext, identity: Uint8Array, admins: readonly Uint8Array[]): GroupMember {
  const me = equalBytes(identity, ctx.identity.publicKey);
  let channel: ChannelRecord | undefined;
  if (!me) for (const c of ctx.channels.values()) if (equalBytes(c.identity, identity)) { channel = c; break; }
  const contact = channel ? ctx.personOf(channel) : undefined;
  const mine = channel?.contactId === SELF;
  return {
    identityKey: toBase64url(identity), me, contactId: contact?.id ?? null, name: contact?.name ?? (mine ? 'my other device' : null),
    verified: me || mine || (contact?.verified ?? false), admin: admins.some((a) => equalBytes(a, signingKeyOf(identity))),
  };
}

function view(ctx: ClientContext, rec: GroupRecord, group: Group): GroupView {
  const state = groupStateOf(group.extensions);
  const admin = state.admins.some((a) => equalBytes(a, ctx.identity.sign.publicKey));
  return {
    id: rec.id, name: state.name, epoch: Number(group.epoch), status: rec.status, memberCount: group.members().length, admin,
    disappearingSeconds: state.disappearingSeconds, appliedDisappearingSeconds: appliedTimer(ctx.wallet?.policy, state.disappearingSeconds), reviewIntervalDays: state.reviewIntervalDays, reviewedAt: rec.reviewedAt,
    reviewDue: reviewDue(rec, state),
  };
}

const reviewDue = (rec: GroupRecord, s: GroupPolicyState, now = Date.now()): boolean =>
  rec.status === 'active' && s.reviewIntervalDays > 0 && now - rec.reviewedAt >= s.reviewIntervalDays * 86_400_000;

// ---- KeyPackages (spec/groups.md §12.1) --------------------------------------------------------

/**
 * KeyPackages made per maintenance round (spec/groups.md §12.1): each costs a CREATE, and the
 * relay's CREATE budget is per network address (protocol.md §5.2), shared with invitations and
 * new contacts, so they are made a few at a time unless the app asks (`groups.prepare()`).
 */
export const KEY_PACKAGES_PER_ROUND = 4;

/**
 * Makes sure established contacts hold a live KeyPackage of ours, at most `limit` new ones;
 * stops at the first relay refusal (the budget is spent: the next round goes on). Returns how
 * many were made.
 */
export async function ensureKeyPackages(ctx: ClientContext, limit = KEY_PACKAGES_PER_ROUND): Promise<number> {
  const g = groupsOf(ctx);
  const now = Date.now();
  let made = 0;
  for (const c of [...ctx.channels.values()]) {
    if (made >= limit || ctx.closed) break;
    if (!c.established || !c.peer || g.minting.has(c.id)) continue;
    const live = [...g.keyPackages.values()].some((k) => k.contactId === c.id && k.expiresAt - now > KEY_PACKAGE_REFRESH_MS);
    if (live) continue;
    g.minting.add(c.id);
    try {
      await mintKeyPackage(ctx, c);
      made++;
    } catch {
      break; // retried at the next round
    } finally {
      g.minting.delete(c.id);
    }
  }
  // Expired KeyPackages: forget them and delete their mailboxes.
  for (const k of [...g.keyPackages.values()]) {
    if (k.expiresAt > now) continue;
    g.keyPackages.delete(k.id);
    const mb = ctx.mailboxes.get(k.mailboxId);
    await ctx.store.write([del(KIND.keyPackage, k.id)]);
    if (mb) { mb.status = 'deleting'; await ctx.store.write([put(KIND.mailbox, mb.id, mb)]); await ctx.deleteMailbox(mb); }
  }
  return made;
}

async function newGroupMailbox(ctx: ClientContext, ownerId: string): Promise<MailboxRecord> {
  const keys = newMailboxKeys();
  try {
    await ctx.link(ctx.homeRelay).create(keys, GROUP_MAILBOX_TTL_SECONDS);
  } catch (e) {
    throw relayFailure(e, 'group mailbox');
  }
  const mb: MailboxRecord = { id: newLocalId(), address: ctx.homeRelay, keys, role: 'group', ownerId, status: 'active', createdAt: Date.now() };
  ctx.addMailbox(mb);
  return mb;
}

function myLeafContent(ctx: ClientContext, cap: SendCapability): { credential: LeafNode['credential']; capabilities: Capabilities; extensions: Extension[] } {
  return { credential: { type: 1, identity: ctx.identity.publicKey }, capabilities: CAPABILITIES, extensions: [deliveryExtension(cap)] };
}

async function mintKeyPackage(ctx: ClientContext, c: ChannelRecord): Promise<void> {
  const suite = cipherSuite(GROUP_SUITE);
  const mb = await newGroupMailbox(ctx, 'kp:pending');
  const initKey = x25519KeyPair();
  const encryptionKey = x25519KeyPair();
  const now = Date.now();
  const leafBase = myLeafContent(ctx, sendCapability(mb.address, mb.keys));
  const leafNode = signLeafNode(suite, ctx.identity.sign.seed, {
    encryptionKey: encryptionKey.publicKey, signatureKey: ctx.identity.sign.publicKey, ...leafBase,
    source: 1, lifetime: { notBefore: BigInt(Math.floor(now / 1000) - 3600), notAfter: BigInt(Math.floor((now + KEY_PACKAGE_LIFETIME_MS) / 1000)) },
  });
  const kp = signKeyPackage(suite, ctx.identity.sign.seed, { version: 1, cipherSuite: suite.id, initKey: initKey.publicKey, leafNode, extensions: [] });
  const rec: KeyPackageRecord = {
    id: toHex(keyPackageRef(suite, kp)), contactId: c.id, keyPackage: encodeMlsMessage({ wireFormat: 5, keyPackage: kp }),
    initSecret: initKey.secretKey, encryptionSecret: encryptionKey.secretKey, mailboxId: mb.id, createdAt: now, expiresAt: now + KEY_PACKAGE_LIFETIME_MS,
  };
  mb.ownerId = `kp:${rec.id}`;
  groupsOf(ctx).keyPackages.set(rec.id, rec);
  await sendPayload(ctx, c, newPayload({ type: 'key-package', keyPackage: rec.keyPackage }), [put(KIND.keyPackage, rec.id, rec), put(KIND.mailbox, mb.id, mb)]);
}

/** A contact's KeyPackage for us (payload `key-package`): kept when it is theirs and valid. */
export function receiveKeyPackage(ctx: ClientContext, c: ChannelRecord, bytes: Uint8Array, ops: StoreOp[]): boolean {
  try {
    const m = decodeMlsMessage(bytes);
    if (m.wireFormat !== 5) return false;
    const suite = cipherSuite(m.keyPackage.cipherSuite);
    validateKeyPackage(suite, m.keyPackage, undefined, BigInt(Math.floor(Date.now() / 1000)));
    if (!equalBytes(identityOfLeaf(m.keyPackage.leafNode), c.identity)) return false;
    if (!equalBytes(m.keyPackage.leafNode.signatureKey, signingKeyOf(c.identity))) return false;
    deliveryOf(m.keyPackage.leafNode);
  } catch {
    return false;
  }
  groupsOf(ctx).peerKeyPackages.set(c.id, bytes);
  ops.push(put(KIND.peerKeyPackage, c.id, { keyPackage: bytes, receivedAt: Date.now() }));
  return true;
}

function takePeerKeyPackage(ctx: ClientContext, c: ChannelRecord): KeyPackage {
  const bytes = groupsOf(ctx).peerKeyPackages.get(c.id);
  if (!bytes) throw new ClientError('NO_KEY_PACKAGE', `${ctx.personOf(c)?.name ?? 'a device'} has not sent a KeyPackage yet (it comes with their client's next maintenance)`);
  const m = decodeMlsMessage(bytes);
  if (m.wireFormat !== 5) throw new ClientError('INTERNAL', 'stored KeyPackage is not one');
  return m.keyPackage;
}

// ---- sending into a group ----------------------------------------------------------------------

/** Seals one MLS message to every other member's group mailbox and queues it (spec/groups.md §12.2). */
async function deliver(ctx: ClientContext, rec: GroupRecord, group: Group, message: Uint8Array, extra: StoreOp[], recipients?: readonly LeafNode[]): Promise<Promise<void>[]> {
  const targets = (recipients ?? group.members().filter((m) => m.leaf !== group.myLeaf).map((m) => m.leafNode)).map(deliveryOf);
  const bodies = split(message).map((chunk) => { const w = new Writer().u8(BODY_GROUP); writeChunk(w, chunk); return w.finish(); });
  const seal = targets.flatMap((cap) => bodies.map((body) => ({ mailboxKey: cap.mailboxKey, body })));
  const sealed = seal.length >= 16
    ? await ctx.sealer.seal(ctx.identity.dh, seal)
    : seal.map((t) => { try { return { ok: true as const, value: sealEnvelope({ mailboxKey: t.mailboxKey, sender: ctx.identity.dh, body: t.body }) }; } catch (e) { return { ok: false as const, error: String(e) }; } });
  const ops: StoreOp[] = [groupStateOp(ctx, rec.id), ...extra];
  const entries: OutboxEntry[] = [];
  sealed.forEach((r, i) => {
    if (!r.ok) return;
    const { entry, op } = ctx.outbox.prepare(`group:${rec.id}`, targets[Math.floor(i / bodies.length)]!, r.value);
    ops.push(op);
    entries.push(entry);
  });
  const written = ctx.store.write(ops);
  return entries.map((e) => submit(ctx, e, written));
}

/** Sends a text to the group; resolves when the relay(s) accepted every member's envelope. */
export async function sendToGroup(ctx: ClientContext, id: string, text: string): Promise<{ id: string; sentAt: number }> {
  ctx.assertOpen();
  checkText(text);
  const { rec, group } = requireGroup(ctx, id);
  await maybeSelfUpdate(ctx, rec, group);
  const payload = newPayload({ type: 'text', text });
  const message = group.encrypt(encodePayload(payload));
  rec.sentSinceUpdate++;
  const extra: StoreOp[] = [put(KIND.group, rec.id, rec)];
  const state = groupStateOf(group.extensions);
  if (ctx.keepHistory) extra.push(messageOp(ctx, rec, ctx.identity.publicKey, 'out', payload, text, state));
  const accepted = await deliver(ctx, rec, group, message, extra);
  const results = await Promise.allSettled(accepted);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed && failed.status === 'rejected') throw relayFailure(failed.reason, 'group send');
  return { id: toBase64url(payload.id), sentAt: payload.sentAt };
}

function messageOp(ctx: ClientContext, rec: GroupRecord, sender: Uint8Array, direction: 'in' | 'out', p: Payload, text: string, s: GroupPolicyState): StoreOp {
  const seq = ctx.messageSeq++;
  const m: GroupMessageRecord = {
    seq, groupId: rec.id, id: toBase64url(p.id), sender, direction, text, sentAt: p.sentAt, receivedAt: Date.now(),
    // A member's commit may have set a timer under our organisation's minimum: we store under ours (spec/client.md §10.2).
    expiresAt: expiryOf(p.sentAt, appliedTimer(ctx.wallet?.policy, s.disappearingSeconds)),
  };
  return put(KIND.groupMessage, `${rec.id}:${seq}`, m);
}

/** The member's periodic self-update (spec/groups.md §11.3): a path commit after N messages or D days. */
async function maybeSelfUpdate(ctx: ClientContext, rec: GroupRecord, group: Group): Promise<void> {
  const s = groupStateOf(group.extensions);
  const byCount = s.updateAfterMessages > 0 && rec.sentSinceUpdate >= s.updateAfterMessages;
  const byAge = s.updateAfterDays > 0 && Date.now() - rec.updatedAt >= s.updateAfterDays * 86_400_000;
  if (byCount || byAge) await commitAndDeliver(ctx, rec, group, { forcePath: true });
}

/**
 * Makes a commit, delivers it to the members of the epoch it was made in, then applies it
 * (spec/groups.md §10): the relay has accepted it for every member before we move on.
 */
async function commitAndDeliver(ctx: ClientContext, rec: GroupRecord, group: Group, opts: Parameters<Group['commit']>[0], welcomeTo: readonly ChannelRecord[] = []): Promise<CommitSummary> {
  let pending: PendingCommit;
  try {
    pending = group.commit(opts);
  } catch (e) {
    if (isMlsError(e, 'NOT_AUTHORIZED')) throw new ClientError('NOT_GROUP_ADMIN', e.message, { cause: e });
    throw e;
  }
  const before = group.members().filter((m) => m.leaf !== group.myLeaf).map((m) => m.leafNode);
  const contextBefore = encodeGroupContext(group.context);
  const summary = group.apply(pending);
  if (summary.pathUpdated) { rec.updatedAt = Date.now(); rec.sentSinceUpdate = 0; }
  const hist = historyRecord(rec, summary, contextBefore);
  const accepted = await deliver(ctx, rec, group, pending.message, [put(KIND.group, rec.id, rec), put(KIND.groupHistory, `${rec.id}:${hist.seq}`, hist)], before);
  if (pending.welcome) {
    for (const c of welcomeTo) {
      for (const chunk of split(pending.welcome)) accepted.push(sendPayload(ctx, c, newPayload({ type: 'group-welcome', chunk })));
    }
  }
  const results = await Promise.allSettled(accepted);
  const failed = results.find((r) => r.status === 'rejected');
  emitChange(ctx, rec, group, hist);
  if (failed && failed.status === 'rejected') throw relayFailure(failed.reason, 'group commit');
  return summary;
}

function historyRecord(rec: GroupRecord, s: CommitSummary, groupContext: Uint8Array, changes?: string[]): GroupHistoryRecord {
  return {
    seq: rec.historySeq++, epoch: Number(s.epoch), at: Date.now(), by: committerIdentity(s),
    added: s.added.map((a) => identityOfLeaf(a.leafNode)), removed: s.removed.map((r) => identityOfLeaf(r.leafNode)),
    changes: changes ?? (s.extensionsChanged ? ['state'] : []), selfUpdate: s.added.length === 0 && s.removed.length === 0 && !s.extensionsChanged,
    content: encodeAuthenticatedContent(s.content), groupContext,
  };
}

function committerIdentity(s: CommitSummary): Uint8Array {
  return s.committerLeaf ? identityOfLeaf(s.committerLeaf) : new Uint8Array(64);
}

function emitChange(ctx: ClientContext, rec: GroupRecord, group: Group, h: GroupHistoryRecord): void {
  const admins = groupStateOf(group.extensions).admins;
  ctx.emit('groupChange', {
    groupId: rec.id, epoch: h.epoch, at: h.at, by: memberView(ctx, h.by, admins), added: h.added.map((i) => memberView(ctx, i, admins)),
    removed: h.removed.map((i) => memberView(ctx, i, admins)), changes: h.changes, selfUpdate: h.selfUpdate,
  });
  ctx.emit('group', view(ctx, rec, group));
}

// ---- the API -----------------------------------------------------------------------------------

/** Every device of each contact named (each device is its own leaf, spec/devices.md §7). */
function requireVerifiedContacts(ctx: ClientContext, ids: unknown): ChannelRecord[] {
  if (!Array.isArray(ids) || ids.length > MAX_GROUP_MEMBERS) throw new ClientError('INVALID_ARGUMENT', `members must be an array of at most ${MAX_GROUP_MEMBERS} contacts`);
  const out = new Map<string, ChannelRecord>();
  for (const id of ids) {
    const c = ctx.requireContact(id);
    if (!ctx.isEstablished(c)) throw new ClientError('CONTACT_PENDING', `${c.name}: the handshake has not completed`);
    if (!c.verified) throw new ClientError('CONTACT_UNVERIFIED', `${c.name}: compare safety codes before adding them to a group`);
    for (const ch of ctx.channelsOf(c.id)) if (ch.established) out.set(ch.id, ch);
  }
  return [...out.values()];
}

export async function createGroup(ctx: ClientContext, name: string, memberIds: readonly string[], policy: GroupPolicyUpdate = {}): Promise<GroupView> {
  ctx.assertOpen();
  if (typeof name !== 'string' || name.trim() === '') throw new ClientError('INVALID_ARGUMENT', 'a group needs a name');
  const contacts = requireVerifiedContacts(ctx, memberIds);
  const kps = contacts.map((c) => takePeerKeyPackage(ctx, c));
  const groupId = randomBytes(16);
  const id = toBase64url(groupId);
  const mb = await newGroupMailbox(ctx, id);
  const state: GroupPolicyState = { ...DEFAULT_POLICY, ...orgTimer(ctx), ...pickPolicy(policy, ctx), name: name.trim(), admins: [ctx.identity.sign.publicKey] };
  let group: Group;
  try {
    group = Group.create(GROUP_SUITE, groupId, { signer: ctx.identity.sign.seed, leaf: myLeafContent(ctx, sendCapability(mb.address, mb.keys)) },
      [REQUIRED_CAPABILITIES, groupStateExtension(state)], groupOptions());
  } catch (e) {
    throw isMlsError(e) ? new ClientError('INVALID_ARGUMENT', e.message, { cause: e }) : e;
  }
  const now = Date.now();
  const rec: GroupRecord = {
    id, groupId, mailboxId: mb.id, status: 'active', joinedAt: now, reviewedAt: now, remindedAt: 0, updatedAt: now, sentSinceUpdate: 0, historySeq: 0, leaving: false,
  };
  const g = groupsOf(ctx);
  g.records.set(id, rec);
  g.groups.set(id, group);
  await ctx.store.write([put(KIND.mailbox, mb.id, mb), put(KIND.group, id, rec), groupStateOp(ctx, id)]);
  if (contacts.length > 0) {
    const used = peerKeyPackagesOf(ctx, contacts);
    await commitAndDeliver(ctx, rec, group, { add: kps }, contacts);
    await forgetPeerKeyPackages(ctx, used);
  }
  return view(ctx, rec, group);
}

function pickPolicy(p: GroupPolicyUpdate, ctx: ClientContext): Partial<GroupPolicyState> {
  const out: { -readonly [K in keyof GroupPolicyState]?: GroupPolicyState[K] } = {};
  for (const k of ['disappearingSeconds', 'reviewIntervalDays', 'updateAfterMessages', 'updateAfterDays'] as const) {
    const v = p[k];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) throw new ClientError('INVALID_ARGUMENT', `${k} must be a whole number`);
    out[k] = v;
  }
  // An organisation's minimum timer (spec/admission.md §5.4): no group of ours goes below it, or off.
  if (out.disappearingSeconds !== undefined) checkOwnTimer(ctx.wallet?.policy, out.disappearingSeconds);
  return out;
}

/** A new group's timer in a closed deployment: the organisation's default (spec/admission.md §5.4). */
const orgTimer = (ctx: ClientContext): Partial<GroupPolicyState> => {
  const p = ctx.wallet?.policy;
  return p ? { disappearingSeconds: p.defaultTimerSeconds } : {};
};

/** The contacts' KeyPackages as they are now (before a commit uses them). */
const peerKeyPackagesOf = (ctx: ClientContext, contacts: readonly ChannelRecord[]): Map<string, Uint8Array | undefined> =>
  new Map(contacts.map((c) => [c.id, groupsOf(ctx).peerKeyPackages.get(c.id)]));

/** Forgets the KeyPackages a commit used, unless a newer one came meanwhile. */
async function forgetPeerKeyPackages(ctx: ClientContext, used: Map<string, Uint8Array | undefined>): Promise<void> {
  const g = groupsOf(ctx);
  const gone = [...used].filter(([id, kp]) => g.peerKeyPackages.get(id) === kp).map(([id]) => id);
  for (const id of gone) g.peerKeyPackages.delete(id);
  await ctx.store.write(gone.map((id) => del(KIND.peerKeyPackage, id)));
}

export async function addMembers(ctx: ClientContext, id: string, memberIds: readonly string[]): Promise<GroupView> {
  ctx.assertOpen();
  const { rec, group } = requireGroup(ctx, id);
  const contacts = requireVerifiedContacts(ctx, memberIds);
  const present = new Set(group.members().map((m) => toHex(identityOfLeaf(m.leafNode))));
  const fresh = contacts.filter((c) => !present.has(toHex(c.identity)));
  if (fresh.length === 0) return view(ctx, rec, group);
  const used = peerKeyPackagesOf(ctx, fresh);
  await commitAndDeliver(ctx, rec, group, { add: fresh.map((c) => takePeerKeyPackage(ctx, c)) }, fresh);
  await forgetPeerKeyPackages(ctx, used);
  return view(ctx, rec, group);
}

/**
 * A person's device that is not in a group where another device of that person (or of ours) is
 * (spec/devices.md §7): an admin adds it with the KeyPackage it just sent, to one group per
 * KeyPackage (each is used once); the device's next KeyPackage brings the next group.
 */
export async function addSiblingDevice(ctx: ClientContext, ch: ChannelRecord): Promise<void> {
  const g = groupsOf(ctx);
  if (ctx.closed || !ch.established || !g.peerKeyPackages.has(ch.id)) return;
  if (ch.contactId !== SELF && !ctx.contacts.get(ch.contactId)?.verified) return; // groups take verified people only (§11)
  const siblings = ch.contactId === SELF ? [ctx.identity.publicKey] : ctx.channelsOf(ch.contactId).map((x) => x.identity);
  for (const [id, rec] of g.records) {
    const group = g.groups.get(id);
    if (!group || rec.status !== 'active') continue;
    if (!groupStateOf(group.extensions).admins.some((a) => equalBytes(a, ctx.identity.sign.publicKey))) continue;
    const members = group.members().map((m) => identityOfLeaf(m.leafNode));
    if (members.some((m) => equalBytes(m, ch.identity)) || !members.some((m) => siblings.some((s) => equalBytes(s, m)))) continue;
    await addDevice(ctx, rec, group, ch);
    return;
  }
}

/**
 * Adds one device's leaf with the KeyPackage it sent us (used once). Our own device becomes an
 * admin where we are one, in the same commit: admin rights are a leaf's, and the person's
 * (spec/devices.md §7).
 */
async function addDevice(ctx: ClientContext, rec: GroupRecord, group: Group, ch: ChannelRecord): Promise<void> {
  if (group.members().some((m) => equalBytes(identityOfLeaf(m.leafNode), ch.identity))) return;
  const used = peerKeyPackagesOf(ctx, [ch]);
  const state = groupStateOf(group.extensions);
  const promote = ch.contactId === SELF && state.admins.some((a) => equalBytes(a, ctx.identity.sign.publicKey));
  const extensions = promote ? stateExtensions(group, { ...state, admins: [...state.admins, signingKeyOf(ch.identity)] }) : undefined;
  await commitAndDeliver(ctx, rec, group, { add: [takePeerKeyPackage(ctx, ch)], ...(extensions ? { extensions } : {}) }, [ch]);
  await forgetPeerKeyPackages(ctx, used);
}

/** The leaves of a contact (all its devices) or of one identity key. */
function leavesOf(ctx: ClientContext, group: Group, who: string): number[] {
  const c = ctx.findContact(who);
  let identities: Uint8Array[] = c ? ctx.channelsOf(c.id).map((ch) => ch.identity) : [];
  if (identities.length === 0) { try { identities = [fromBase64url(who)]; } catch { identities = []; } }
  const leaves = group.members().filter((x) => identities.some((i) => equalBytes(identityOfLeaf(x.leafNode), i))).map((m) => m.leaf);
  if (leaves.length === 0) throw new ClientError('INVALID_ARGUMENT', 'no such member');
  return leaves;
}

export async function removeMembers(ctx: ClientContext, id: string, who: readonly string[]): Promise<GroupView> {
  ctx.assertOpen();
  const { rec, group } = requireGroup(ctx, id);
  const leaves = [...new Set(who.flatMap((w) => leavesOf(ctx, group, w)))];
  if (leaves.includes(group.myLeaf)) throw new ClientError('INVALID_ARGUMENT', 'use leave() to leave a group');
  const state = groupStateOf(group.extensions);
  const removedKeys = leaves.map((l) => group.members().find((m) => m.leaf === l)!.leafNode.signatureKey);
  const admins = state.admins.filter((a) => !removedKeys.some((k) => equalBytes(k, a)));
  // Every admin removed: only a non-admin could ask that (an admin cannot remove itself).
  if (admins.length === 0) throw new ClientError('NOT_GROUP_ADMIN', 'only an admin removes members');
  const extensions = admins.length !== state.admins.length ? stateExtensions(group, { ...state, admins }) : undefined;
  await commitAndDeliver(ctx, rec, group, { remove: leaves, ...(extensions ? { extensions } : {}) });
  return view(ctx, rec, group);
}

function stateExtensions(group: Group, next: GroupPolicyState): Extension[] {
  let ext: Extension;
  try {
    ext = groupStateExtension(next);
  } catch (e) {
    throw isMlsError(e) ? new ClientError('INVALID_ARGUMENT', e.message, { cause: e }) : e;
  }
  return group.extensions.map((e) => (e.type === SEALPOST_GROUP_STATE_EXTENSION ? ext : e));
}

export async function setGroupPolicy(ctx: ClientContext, id: string, update: GroupPolicyUpdate): Promise<GroupView> {
  ctx.assertOpen();
  const { rec, group } = requireGroup(ctx, id);
  const state = groupStateOf(group.extensions);
  let admins = state.admins;
  if (update.admins) {
    admins = update.admins.flatMap((k) => leavesOf(ctx, group, k).map((leaf) => group.members().find((m) => m.leaf === leaf)!.leafNode.signatureKey));
    if (admins.length === 0) throw new ClientError('INVALID_ARGUMENT', 'a group needs at least one admin');
  }
  const name = update.name === undefined ? state.name : update.name.trim();
  if (name === '') throw new ClientError('INVALID_ARGUMENT', 'a group needs a name');
  const next: GroupPolicyState = { ...state, ...pickPolicy(update, ctx), name, admins };
  await commitAndDeliver(ctx, rec, group, { extensions: stateExtensions(group, next) });
  return view(ctx, rec, group);
}

/** Leaves: proposes our own removal, which the next admin commits (spec/groups.md §11.2). */
export async function leaveGroup(ctx: ClientContext, id: string): Promise<void> {
  ctx.assertOpen();
  const { rec, group } = requireGroup(ctx, id);
  const state = groupStateOf(group.extensions);
  const iAmAdmin = state.admins.some((a) => equalBytes(a, ctx.identity.sign.publicKey));
  if (iAmAdmin && state.admins.length === 1 && group.members().length > 1) {
    throw new ClientError('INVALID_ARGUMENT', 'the only admin cannot leave: make another member admin first');
  }
  if (group.members().length === 1) { await finishMembership(ctx, rec, 'left'); return; }
  const message = group.propose({ type: 3, removed: group.myLeaf });
  rec.leaving = true;
  const accepted = await deliver(ctx, rec, group, message, [put(KIND.group, rec.id, rec)]);
  await Promise.all(accepted).catch((e: unknown) => { throw relayFailure(e, 'leave'); });
}

/** A self-update now: a fresh leaf and path (post-compromise healing, spec/groups.md §11.3). */
export async function updateOwnLeaf(ctx: ClientContext, id: string): Promise<void> {
  const { rec, group } = requireGroup(ctx, id);
  await commitAndDeliver(ctx, rec, group, { forcePath: true });
}

export function listGroups(ctx: ClientContext): GroupView[] {
  const g = groupsOf(ctx);
  return [...g.records.values()].filter((r) => g.groups.has(r.id)).map((r) => view(ctx, r, g.groups.get(r.id)!));
}

export function groupMembers(ctx: ClientContext, id: string): GroupMember[] {
  const rec = groupsOf(ctx).records.get(id);
  const group = rec ? groupsOf(ctx).groups.get(id) : undefined;
  if (!rec || !group) throw new ClientError('UNKNOWN_GROUP', 'no such group');
  const admins = groupStateOf(group.extensions).admins;
  return group.members().map((m) => memberView(ctx, identityOfLeaf(m.leafNode), admins));
}

export function groupHistory(ctx: ClientContext, id: string): (GroupChange & { readonly signatureValid: boolean })[] {
  const rec = groupsOf(ctx).records.get(id);
  const group = rec ? groupsOf(ctx).groups.get(id) : undefined;
  if (!rec || !group) throw new ClientError('UNKNOWN_GROUP', 'no such group');
  const admins = groupStateOf(group.extensions).admins;
  const prefix = `${id}:`;
  return ctx.store.entries(KIND.groupHistory)
    .filter(([k]) => k.startsWith(prefix))
    .map(([, v]) => decodeHistory(v))
    .sort((a, b) => a.seq - b.seq)
    .map((h) => ({
      groupId: id, epoch: h.epoch, at: h.at, by: memberView(ctx, h.by, admins), added: h.added.map((i) => memberView(ctx, i, admins)),
      removed: h.removed.map((i) => memberView(ctx, i, admins)), changes: h.changes, selfUpdate: h.selfUpdate,
      signatureValid: Group.verifyCommitSignature(GROUP_SUITE, h.content, h.groupContext, signingKeyOf(h.by)),
    }));
}

export async function markReviewed(ctx: ClientContext, id: string): Promise<GroupView> {
  const { rec, group } = requireGroup(ctx, id);
  rec.reviewedAt = Date.now();
  rec.remindedAt = 0;
  await ctx.store.write([put(KIND.group, rec.id, rec)]);
  return view(ctx, rec, group);
}

export function groupMessages(ctx: ClientContext, id: string): GroupMessage[] {
  const group = groupsOf(ctx).groups.get(id);
  if (!group) throw new ClientError('UNKNOWN_GROUP', 'no such group');
  const admins = groupStateOf(group.extensions).admins;
  const prefix = `${id}:`;
  const now = Date.now();
  return ctx.store.entries(KIND.groupMessage)
    .filter(([k]) => k.startsWith(prefix))
    .map(([, v]) => decodeGroupMessage(v))
    .filter((m) => m.expiresAt === 0 || m.expiresAt > now)
    .sort((a, b) => a.seq - b.seq)
    .map((m) => ({ groupId: id, id: m.id, sender: memberView(ctx, m.sender, admins), text: m.text, sentAt: m.sentAt, receivedAt: m.receivedAt }));
}

// ---- receiving ---------------------------------------------------------------------------------

/** A Welcome chunk from a contact (payload `group-welcome`). Joins once the whole Welcome is in. */
export function receiveWelcomeChunk(ctx: ClientContext, c: ChannelRecord, chunk: Chunk, ops: StoreOp[], after: Array<() => void>): void {
  const whole = groupsOf(ctx).chunks.add(`contact:${c.id}`, chunk);
  if (!whole) return;
  try {
    joinFromWelcome(ctx, c, whole, ops, after);
  } catch (e) {
    after.push(() => ctx.emit('groupRefused', { groupId: null, reason: isMlsError(e) ? e.code : 'INTERNAL' }));
  }
}

function joinFromWelcome(ctx: ClientContext, c: ChannelRecord, bytes: Uint8Array, ops: StoreOp[], after: Array<() => void>): void {
  const g = groupsOf(ctx);
  const m = decodeMlsMessage(bytes);
  if (m.wireFormat !== 3) throw new MlsError('MALFORMED', 'not a Welcome');
  const mine = m.welcome.secrets.map((s) => g.keyPackages.get(toHex(s.newMember))).find((k) => k !== undefined);
  if (!mine) throw new MlsError('NO_WELCOME_FOR_US', 'no KeyPackage of ours in the Welcome');
  if (mine.contactId !== c.id) throw new MlsError('NO_WELCOME_FOR_US', 'the Welcome came from another contact than the one the KeyPackage was for');
  const kpMsg = decodeMlsMessage(mine.keyPackage);
  if (kpMsg.wireFormat !== 5) throw new MlsError('STATE', 'stored KeyPackage');
  const suite = cipherSuite(kpMsg.keyPackage.cipherSuite);
  const group = Group.join(bytes, {
    keyPackage: kpMsg.keyPackage, initKey: suite.keyPairFromSecret(mine.initSecret), encryptionKey: suite.keyPairFromSecret(mine.encryptionSecret),
    signer: ctx.identity.sign.seed,
  }, undefined, groupOptions());
  // The member who added us must be the contact the Welcome came from.
  const signer = group.welcomeSigner === undefined ? undefined : group.tree.leafNode(group.welcomeSigner);
  if (!signer || !equalBytes(identityOfLeaf(signer), c.identity)) throw new MlsError('NOT_AUTHORIZED', 'the Welcome was signed by someone else than the contact who sent it');
  groupStateOf(group.extensions);
  for (const mem of group.members()) { identityOfLeaf(mem.leafNode); deliveryOf(mem.leafNode); }
  const id = toBase64url(group.groupId);
  const existing = g.records.get(id);
  const old = existing ? g.groups.get(id) : undefined;
  if (existing && existing.status === 'active') {
    // A Welcome into a group we are in: only as an admin's add made again after the add that
    // brought us in lost to a concurrent commit (spec/groups.md §10). Our state is then an epoch
    // no one else is in; the new Welcome is for a later epoch, from an admin of that state.
    const admins = old ? groupStateOf(old.extensions).admins : [];
    if (!old || group.epoch <= old.epoch || !admins.some((a) => equalBytes(a, signer.signatureKey))) throw new MlsError('STATE', 'already in this group');
  }
  const mb = ctx.mailboxes.get(mine.mailboxId);
  if (!mb) throw new MlsError('STATE', 'the KeyPackage mailbox is gone');
  mb.ownerId = id;
  const now = Date.now();
  const rec: GroupRecord = {
    id, groupId: group.groupId, mailboxId: mb.id, status: 'active', joinedAt: now, reviewedAt: now, remindedAt: 0, updatedAt: now, sentSinceUpdate: 0,
    historySeq: existing?.historySeq ?? 0, leaving: false,
  };
  const oldMailbox = existing && existing.mailboxId !== mb.id ? ctx.mailboxes.get(existing.mailboxId) : undefined;
  if (existing) g.waiting.delete(`group:${id}`);
  if (oldMailbox && oldMailbox.status === 'active') {
    oldMailbox.status = 'deleting';
    ops.push(put(KIND.mailbox, oldMailbox.id, oldMailbox));
    after.push(() => { void ctx.deleteMailbox(oldMailbox).catch(() => undefined); });
  }
  g.records.set(id, rec);
  g.groups.set(id, group);
  g.keyPackages.delete(mine.id);
  ops.push(put(KIND.group, id, rec), groupStateOp(ctx, id), put(KIND.mailbox, mb.id, mb), del(KIND.keyPackage, mine.id));
  after.push(() => {
    ctx.emit('group', view(ctx, rec, group));
    void ensureKeyPackages(ctx, 1).catch(() => undefined);
    replayWaiting(ctx, `mailbox:${mb.id}`);
  });
}

/** An envelope on a group mailbox (spec/groups.md §12.2). `redo` re-runs it when it must wait. */
export function handleGroupEnvelope(ctx: ClientContext, mb: MailboxRecord, opened: Opened, redo: () => void): Handled | null {
  const g = groupsOf(ctx);
  if (opened.body.length < 1 || opened.body[0] !== BODY_GROUP) return dropped(ctx, 'malformed');
  let chunk: Chunk;
  try {
    chunk = readChunk(new Reader(opened.body.subarray(1)));
  } catch {
    return dropped(ctx, 'malformed');
  }
  const rec = g.records.get(mb.ownerId);
  const group = rec ? g.groups.get(rec.id) : undefined;
  if (!rec || !group) {
    // A KeyPackage mailbox: group traffic may overtake our Welcome. It waits (unacknowledged).
    if (mb.ownerId.startsWith('kp:')) return wait(ctx, `mailbox:${mb.id}`, redo);
    return dropped(ctx, 'unknown-sender');
  }
  if (rec.status !== 'active') return dropped(ctx, 'expired');
  const whole = g.chunks.add(`mailbox:${mb.id}:${toHex(opened.senderKey)}`, chunk);
  if (!whole) return { ops: [], send: [], after: [] };
  return processGroupMessage(ctx, rec, group, opened, whole, redo);
}

function wait(ctx: ClientContext, key: string, redo: () => void): Handled | null {
  const g = groupsOf(ctx);
  const list = g.waiting.get(key) ?? [];
  if (list.length >= MAX_WAITING) return dropped(ctx, 'expired');
  list.push(() => { redo(); return null; });
  g.waiting.set(key, list);
  return null;
}

function replayWaiting(ctx: ClientContext, key: string): void {
  const g = groupsOf(ctx);
  const list = g.waiting.get(key);
  if (!list) return;
  g.waiting.delete(key);
  for (const f of list) f();
}

function processGroupMessage(ctx: ClientContext, rec: GroupRecord, group: Group, opened: Opened, bytes: Uint8Array, redo: () => void): Handled | null {
  const contextBefore = encodeGroupContext(group.context);
  let r: Processed;
  try {
    r = group.process(bytes);
  } catch (e) {
    if (isMlsError(e, 'WRONG_EPOCH')) {
      const m = safeEpoch(bytes);
      if (m !== undefined && m > group.epoch) return wait(ctx, `group:${rec.id}`, redo);
    }
    if (isMlsError(e, 'NOT_AUTHORIZED') || isMlsError(e, 'BAD_SIGNATURE') || isMlsError(e, 'INVALID_COMMIT') || isMlsError(e, 'BAD_CONFIRMATION')) {
      const code = e.code;
      const h = dropped(ctx, 'ratchet');
      h.after.push(() => ctx.emit('groupRefused', { groupId: rec.id, reason: code }));
      return h;
    }
    return dropped(ctx, isMlsError(e, 'KEY_REUSED') ? 'replay' : 'ratchet');
  }
  const ops: StoreOp[] = [groupStateOp(ctx, rec.id)];
  const after: Array<() => void> = [];
  const state = groupStateOf(group.extensions);
  switch (r.kind) {
    case 'application': {
      const leaf = group.tree.leafNode(r.sender) ?? undefined;
      const sender = leaf ? identityOfLeaf(leaf) : undefined;
      // Sealed sender and MLS sender must be the same identity.
      if (!sender || !equalBytes(dhKeyOf(sender), opened.senderKey)) return dropped(ctx, 'unknown-sender', ops);
      let p: Payload;
      try { p = decodePayload(r.data); } catch { return dropped(ctx, 'malformed', ops); }
      if (p.type !== 'text') return dropped(ctx, 'malformed', ops);
      ctx.counters.received++;
      if (ctx.keepHistory) ops.push(messageOp(ctx, rec, sender, 'in', p, p.text, state));
      const msg: GroupMessage = {
        groupId: rec.id, id: toBase64url(p.id), sender: memberView(ctx, sender, state.admins), text: p.text, sentAt: p.sentAt, receivedAt: Date.now(),
      };
      after.push(() => ctx.emit('groupMessage', msg));
      break;
    }
    case 'proposal': {
      // A member's own Remove (leaving): an admin commits it.
      const p = r.proposal;
      const iAmAdmin = state.admins.some((a) => equalBytes(a, ctx.identity.sign.publicKey));
      if (p.type === 3 && r.sender.kind === 'member' && r.sender.leaf === p.removed && iAmAdmin) {
        const leaving = group.tree.leafNode(p.removed)?.signatureKey;
        const admins = state.admins.filter((a) => !leaving || !equalBytes(a, leaving));
        const extensions = admins.length !== state.admins.length && admins.length > 0 ? stateExtensions(group, { ...state, admins }) : undefined;
        after.push(() => { void commitAndDeliver(ctx, rec, group, extensions ? { extensions } : {}).catch(() => undefined); });
      }
      break;
    }
    case 'commit': {
      const s = r.summary;
      // The context the commit was signed in: the epoch before it. When it replaced a commit we
      // had applied (spec/groups.md §10), that is the epoch before the one we were in.
      const signedIn = r.superseded ? encodeGroupContext(s.removedMe ? group.context : group.previousContext!) : contextBefore;
      if (s.removedMe) {
        const hist = historyRecord(rec, s, signedIn);
        ops.push(put(KIND.groupHistory, `${rec.id}:${hist.seq}`, hist));
        rec.status = rec.leaving ? 'left' : 'removed';
        ops.push(put(KIND.group, rec.id, rec));
        after.push(() => { emitChange(ctx, rec, group, hist); void finishMembership(ctx, rec, rec.status as 'left' | 'removed'); });
        break;
      }
      const hist = historyRecord(rec, s, signedIn);
      ops.push(put(KIND.groupHistory, `${rec.id}:${hist.seq}`, hist), put(KIND.group, rec.id, rec));
      const lost = r.superseded;
      const stateBefore = lost ? groupStateOf(group.previousContext!.extensions) : undefined;
      after.push(() => {
        emitChange(ctx, rec, group, hist);
        // Our own commit lost to a concurrent one (spec/groups.md §10): make its changes again.
        if (lost) void redoSuperseded(ctx, rec, group, lost, stateBefore!).catch(() => undefined);
        replayWaiting(ctx, `group:${rec.id}`);
      });
      break;
    }
  }
  return { ops, send: [], after };
}

function safeEpoch(bytes: Uint8Array): bigint | undefined {
  try {
    const m = decodeMlsMessage(bytes);
    if (m.wireFormat === 1) return m.publicMessage.content.epoch;
    if (m.wireFormat === 2) return m.privateMessage.epoch;
  } catch { /* not a message */ }
  return undefined;
}

/**
 * Our commit lost to a concurrent one (spec/groups.md §10): its changes are made again on the
 * new epoch. Removes at once. Adds once the contact's next KeyPackage is here (the lost add spent
 * the one it had: the contact joined the losing epoch with it, and takes the new Welcome in place
 * of that state). Group-state fields the winner left alone are set again; a field the winner
 * changed too keeps the winner's value, and 'groupRefused' (SUPERSEDED) says so.
 */
async function redoSuperseded(ctx: ClientContext, rec: GroupRecord, group: Group, lost: CommitSummary, before: GroupPolicyState): Promise<void> {
  if (!lost.committerLeaf || !equalBytes(lost.committerLeaf.signatureKey, ctx.identity.sign.publicKey)) return;
  const present = (): Set<string> => new Set(group.members().map((m) => toHex(identityOfLeaf(m.leafNode))));
  const remove = lost.removed.map((x) => identityOfLeaf(x.leafNode)).filter((i) => present().has(toHex(i))).map((i) => toBase64url(i));
  if (remove.length > 0) await removeMembers(ctx, rec.id, remove).catch(() => undefined);
  const g = groupsOf(ctx);
  for (const a of lost.added) {
    const identity = identityOfLeaf(a.leafNode);
    const c = [...ctx.channels.values()].find((x) => equalBytes(x.identity, identity));
    if (!c || present().has(toHex(identity))) continue;
    const kp = g.peerKeyPackages.get(c.id);
    if (kp) {
      const m = decodeMlsMessage(kp);
      if (m.wireFormat === 5 && equalBytes(m.keyPackage.leafNode.encryptionKey, a.leafNode.encryptionKey)) {
        g.peerKeyPackages.delete(c.id);
        await ctx.store.write([del(KIND.peerKeyPackage, c.id)]);
      }
    }
    const pending = g.readd.get(c.id) ?? new Set<string>();
    pending.add(rec.id);
    g.readd.set(c.id, pending);
    await readdPending(ctx, c.id);
  }
  const lostState = committedState(lost);
  if (!lostState || rec.status !== 'active') return;
  const now = groupStateOf(group.extensions);
  const update: { -readonly [K in keyof GroupPolicyUpdate]: GroupPolicyUpdate[K] } = {};
  let conflict = false;
  for (const k of ['name', 'disappearingSeconds', 'reviewIntervalDays', 'updateAfterMessages', 'updateAfterDays'] as const) {
    if (lostState[k] === before[k] || lostState[k] === now[k]) continue;
    if (now[k] === before[k]) (update as Record<string, unknown>)[k] = lostState[k];
    else conflict = true;
  }
  const sameKeys = (x: readonly Uint8Array[], y: readonly Uint8Array[]): boolean => x.length === y.length && x.every((a) => y.some((b) => equalBytes(a, b)));
  if (!sameKeys(lostState.admins, before.admins) && !sameKeys(lostState.admins, now.admins)) {
    const members = group.members().map((m) => m.leafNode);
    const leaves = lostState.admins.map((a) => members.find((l) => equalBytes(l.signatureKey, a)));
    if (sameKeys(now.admins, before.admins) && leaves.every((l) => l !== undefined)) update.admins = leaves.map((l) => toBase64url(identityOfLeaf(l!)));
    else conflict = true;
  }
  if (Object.keys(update).length > 0) await setGroupPolicy(ctx, rec.id, update).catch(() => undefined);
  if (conflict) ctx.emit('groupRefused', { groupId: rec.id, reason: 'SUPERSEDED' });
}

/** The group state a commit set inline (a GroupContextExtensions proposal), if it set one. */
function committedState(s: CommitSummary): GroupPolicyState | undefined {
  const c = s.content.content;
  if (c.contentType !== 3) return undefined;
  for (const p of c.commit.proposals) {
    if (p.type !== 1 || p.proposal.type !== 7) continue;
    try { return groupStateOf(p.proposal.extensions); } catch { return undefined; }
  }
  return undefined;
}

/** Adds a contact again to the groups whose add of it lost, once a KeyPackage of it is here. */
export async function readdPending(ctx: ClientContext, channelId: string): Promise<void> {
  const g = groupsOf(ctx);
  const pending = g.readd.get(channelId);
  if (!pending) return;
  for (const id of [...pending]) {
    const ch = ctx.channels.get(channelId);
    if (!ch || !g.peerKeyPackages.has(channelId) || ctx.closed) break;
    pending.delete(id);
    const rec = g.records.get(id);
    const group = g.groups.get(id);
    if (rec?.status === 'active' && group) await addDevice(ctx, rec, group, ch).catch(() => undefined);
  }
  if (pending.size === 0) g.readd.delete(channelId);
}

/** We are out of the group: delete its mailbox; the record and history stay. */
async function finishMembership(ctx: ClientContext, rec: GroupRecord, status: 'left' | 'removed'): Promise<void> {
  rec.status = status;
  const mb = ctx.mailboxes.get(rec.mailboxId);
  await ctx.store.write([put(KIND.group, rec.id, rec)]);
  if (mb) {
    mb.status = 'deleting';
    await ctx.store.write([put(KIND.mailbox, mb.id, mb)]);
    await ctx.deleteMailbox(mb);
  }
  const group = groupsOf(ctx).groups.get(rec.id);
  if (group) ctx.emit('group', view(ctx, rec, group));
}

// ---- maintenance and loading -------------------------------------------------------------------

/** Review reminders, disappearing messages, scheduled self-updates (spec/groups.md §11). */
export async function maintainGroups(ctx: ClientContext): Promise<void> {
  const g = groupsOf(ctx);
  const now = Date.now();
  for (const rec of g.records.values()) {
    const group = g.groups.get(rec.id);
    if (!group || rec.status !== 'active') continue;
    const s = groupStateOf(group.extensions);
    if (reviewDue(rec, s, now) && now - rec.remindedAt > 86_400_000) {
      rec.remindedAt = now;
      await ctx.store.write([put(KIND.group, rec.id, rec)]);
      ctx.emit('groupReviewDue', view(ctx, rec, group));
    }
    if (s.updateAfterDays > 0 && now - rec.updatedAt >= s.updateAfterDays * 86_400_000) {
      await commitAndDeliver(ctx, rec, group, { forcePath: true }).catch(() => undefined);
    }
  }
  const expired = ctx.store.entries(KIND.groupMessage).filter(([, v]) => { const m = decodeGroupMessage(v); return m.expiresAt > 0 && m.expiresAt <= now; });
  if (expired.length > 0) await ctx.store.write(expired.map(([k]) => del(KIND.groupMessage, k)));
  await ensureKeyPackages(ctx);
}

const decodeHistory = (v: Uint8Array): GroupHistoryRecord => decodeRecord<GroupHistoryRecord>(v);
const decodeGroupMessage = (v: Uint8Array): GroupMessageRecord => decodeRecord<GroupMessageRecord>(v);

export function loadGroups(ctx: ClientContext): void {
  const g = groupsOf(ctx);
  for (const [id, v] of ctx.store.entries(KIND.group)) {
    const rec = decodeRecord<GroupRecord>(v);
    g.records.set(id, rec);
    const state = ctx.store.get(KIND.groupState, id);
    if (state) g.groups.set(id, Group.restore(state, groupOptions()));
  }
  for (const [id, v] of ctx.store.entries(KIND.keyPackage)) g.keyPackages.set(id, decodeRecord<KeyPackageRecord>(v));
  for (const [id, v] of ctx.store.entries(KIND.peerKeyPackage)) g.peerKeyPackages.set(id, decodeRecord<{ keyPackage: Uint8Array }>(v).keyPackage);
}

/**
 * A device left its account (spec/devices.md §6): its leaves leave every group where we may
 * commit that (we are an admin); elsewhere an admin's device does the same when it hears.
 */
export async function removeFromGroups(ctx: ClientContext, device: Uint8Array): Promise<void> {
  const g = groupsOf(ctx);
  for (const [id, rec] of g.records) {
    const group = g.groups.get(id);
    if (!group || rec.status !== 'active') continue;
    if (!groupStateOf(group.extensions).admins.some((a) => equalBytes(a, ctx.identity.sign.publicKey))) continue;
    const gone = group.members().filter((m) => equalBytes(identityOfLeaf(m.leafNode), device));
    if (gone.length === 0) continue;
    // A revoked admin device leaves the admin list in the same commit (groups.md §11).
    const state = groupStateOf(group.extensions);
    const admins = state.admins.filter((a) => !gone.some((m) => equalBytes(m.leafNode.signatureKey, a)));
    const extensions = admins.length !== state.admins.length ? stateExtensions(group, { ...state, admins }) : undefined;
    await commitAndDeliver(ctx, rec, group, { remove: gone.map((m) => m.leaf), ...(extensions ? { extensions } : {}) });
  }
}
