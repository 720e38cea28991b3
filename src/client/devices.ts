// Devices of one account (spec/devices.md §2, §4–§6): our own device list, the lists of
// contacts, the channels between every pair of devices (Sesame-style), the introductions that
// make them, the notices, the copies of what we send for our other devices, and revocation.
import { accountSafetyCode, compareBytes, ed25519KeyPair, equalBytes, fromBase64url, sha256, toBase64url, toHex, wipe, type Ed25519Seed } from '../crypto/index.js';
import { decodeInvitation } from './invitation.js';
import type { ClientContext } from './context.js';
import { compareLists, decodeDeviceList, hasDevice, listHash, MAX_DEVICES, signDeviceList, type DeviceList } from './device-list.js';
import { ClientError } from './errors.js';
import type { Handled } from './handled.js';
import { newPayload, type Payload } from './payload.js';
import type { ProfileStore, StoreOp } from './profile-store.js';
import { decodeRecord } from './records.js';
import { del, KIND, loadAll, put, putLatest, SELF, type AccountRecord, type ChannelRecord, type ContactRecord, type MessageRecord } from './state.js';
import type { Device } from './types.js';
import { appliedTimer, expiryOf, live } from './timer-rules.js';
import type { Identity } from './identity.js';

export const DEFAULT_MAX_DEVICES = 8;
/** A device addition is announced again this long after it (spec/devices.md §5). */
export const DEVICE_REMINDER_MS = 24 * 3600_000;
/** Texts sent again to a device whose channel came late are at most this old (§4.3). */
export const RESEND_WINDOW_MS = 7 * 24 * 3600_000;

export const deviceId = (device: Uint8Array): string => toBase64url(device);

/** A new account with this device as its only one (spec/devices.md §2.1). */
export function newAccount(identity: Identity, now = Date.now()): AccountRecord {
  const account = ed25519KeyPair();
  const list = signDeviceList(account.seed, account.publicKey, null, [{ device: identity.publicKey, addedAt: now }]);
  return { accountSeed: account.seed, deviceList: list.bytes, reminded: { [deviceId(identity.publicKey)]: now } };
}

export function loadAccount(ctx: ClientContext, store: ProfileStore): void {
  const raw = store.get(KIND.account, 'self');
  if (!raw) { ctx.account = null; return; }
  const record = decodeRecord<AccountRecord>(raw);
  const list = decodeDeviceList(record.deviceList);
  ctx.account = { record, publicKey: list.account, list };
}

/** The account record, encoded when its commit is built: changes made after the op (reminders) go with it. */
export function accountOp(ctx: ClientContext): StoreOp {
  const record = ctx.requireAccount().record;
  return putLatest(KIND.account, 'self', () => record);
}

/**
 * The devices an account may have (§6): `maxDevices`, or 8; in a closed deployment the
 * organisation policy's `maxDevicesPerMember` lowers it (spec/admission.md §5.4), and sets it
 * (up to 16) when the app gives no `maxDevices`.
 */
export function maxDevices(ctx: ClientContext): number {
  const m = ctx.opts.maxDevices;
  if (m !== undefined && (!Number.isSafeInteger(m) || m < 1 || m > 16)) throw new ClientError('INVALID_ARGUMENT', 'maxDevices must be in 1 .. 16');
  const policy = ctx.wallet?.policy;
  if (!policy) return m ?? DEFAULT_MAX_DEVICES;
  return Math.min(m ?? MAX_DEVICES, policy.maxDevicesPerMember);
}

export function listDevices(ctx: ClientContext): Device[] {
  const a = ctx.requireAccount();
  return a.list.devices.map((d) => ({ id: deviceId(d.device), current: equalBytes(d.device, ctx.identity.publicKey), addedAt: d.addedAt }));
}

/** The list a channel's device belongs to: ours, or its person's. */
export function listOf(ctx: ClientContext, ch: ChannelRecord): DeviceList | null {
  if (ch.contactId === SELF) return ctx.account?.list ?? null;
  const p = ctx.contacts.get(ch.contactId);
  return p?.deviceList ? decodeDeviceList(p.deviceList) : null;
}

/** The serials a payload carries on this channel (spec/devices.md §4.5). */
export function withSerials(ctx: ClientContext, ch: ChannelRecord, p: Payload): Payload {
  const own = ctx.account?.list.serial ?? 0;
  return { ...p, senderSerial: own, recipientSerial: ch.contactId === SELF ? own : (listOf(ctx, ch)?.serial ?? 0) };
}

/** Signs and keeps a new own list (`devices` replacing the current ones); the ops that store it. */
export function replaceOwnList(ctx: ClientContext, devices: DeviceList['devices']): StoreOp[] {
  const a = ctx.requireAccount();
  const list = signDeviceList(a.record.accountSeed as Ed25519Seed, a.publicKey, a.list, devices);
  a.record.signed = { list: list.bytes, parent: a.list.bytes };
  a.record.parent = a.list.bytes;
  a.list = list;
  a.record.deviceList = list.bytes;
  return [accountOp(ctx)];
}

/**
 * The effects of a device list received on channel `ch` (a notice, an answer, a confirm, a
 * contact-sync): checked against the account we hold for that side, taken if newer, and acted
 * on: channels with removed devices are closed, the app is told, and when it is our own list
 * without this device, this device wipes itself (§6). Returns false when the list is refused.
 */
export function takeDeviceList(ctx: ClientContext, ch: ChannelRecord, bytes: Uint8Array, h: Handled): boolean {
  let list: DeviceList;
  try { list = decodeDeviceList(bytes); } catch { return false; }
  if (!hasDevice(list, ch.identity) && !(ch.contactId === SELF && ctx.account && !hasDevice(list, ctx.identity.publicKey))) {
    // A list that does not hold the device that sent it: only ours may (it revokes this device).
    if (ch.contactId !== SELF) return false;
  }
  if (ch.contactId === SELF) return takeOwnList(ctx, list, h);
  const p = ctx.contacts.get(ch.contactId);
  if (!p) return false;
  if (ctx.account && equalBytes(list.account, ctx.account.publicKey)) return false; // our own account on a contact's channel
  if (p.account === null) {
    // A second invitation between the same people makes a second contact, as it always did: the
    // app decides whether to forget one (spec/devices.md §4).
    p.account = list.account;
    p.safetyCode = ctx.account ? accountSafetyCode(ctx.account.publicKey, list.account) : '';
    p.deviceList = list.bytes;
    p.announced = list.devices.map((d) => deviceId(d.device));
    h.ops.push(ctx.contactOp(p));
    return true;
  }
  if (!equalBytes(p.account, list.account)) return false;
  const held = decodeDeviceList(p.deviceList!);
  const step = compareLists(held, list);
  if (step === 'older') return false;
  // A losing fork is still the account's signature: the channel's device may be named by it only (§2.2).
  if (step === 'same' || step === 'fork-kept') return hasDevice(held, ch.identity) || step === 'fork-kept';
  applyPersonList(ctx, p, held, list, h);
  return true;
}

function applyPersonList(ctx: ClientContext, p: ContactRecord, held: DeviceList | null, list: DeviceList, h: Handled): void {
  p.deviceList = list.bytes;
  const added = list.devices.filter((d) => !p.announced.includes(deviceId(d.device))).map((d) => deviceId(d.device));
  const gone = (held?.devices ?? []).filter((d) => !hasDevice(list, d.device));
  const removed = gone.map((d) => deviceId(d.device));
  p.announced = list.devices.map((d) => deviceId(d.device));
  h.ops.push(ctx.contactOp(p));
  for (const r of removed) closeChannelsWith(ctx, r, h);
  leaveGroups(ctx, gone, h);
  if (added.length + removed.length > 0) h.after.push(() => ctx.emit('devices', { contactId: p.id, added, removed, reminder: false }));
}

/**
 * Our own account's list (§2.2). A fork we lose to a list without this device is a revocation
 * when the list it replaces named us, and otherwise an addition of ours that lost (we are newer
 * than that list): then the device that signed ours re-applies it, and we wait for that list.
 * A fork lost by a list this device signed: we take the winner and sign our change again on
 * top of it, for every device.
 */
function takeOwnList(ctx: ClientContext, list: DeviceList, h: Handled): boolean {
  const a = ctx.account;
  if (!a || !equalBytes(list.account, a.publicKey)) return false;
  const step = compareLists(a.list, list);
  if (step === 'older') return false;
  if (step === 'same' || step === 'fork-kept') return true;
  const me = ctx.identity.publicKey;
  const parent = a.record.parent ? decodeDeviceList(a.record.parent) : null;
  if (step === 'fork-taken' && !hasDevice(list, me) && !(parent && hasDevice(parent, me) && equalBytes(list.prev, listHash(parent.bytes)))) return true;
  const held = a.list;
  a.list = list;
  a.record.parent = held.bytes;
  a.record.deviceList = list.bytes;
  h.ops.push(accountOp(ctx));
  if (!hasDevice(list, me)) {
    h.after.push(() => { void wipeRevoked(ctx); });
    return true;
  }
  const signed = a.record.signed;
  if (step === 'fork-taken' && signed && equalBytes(signed.list, held.bytes)) reapply(ctx, decodeDeviceList(signed.parent), held, h);
  else h.after.push(() => ctx.announceOwnList(true)); // our other devices, some of which the signer may not reach yet
  noticeOwnChange(ctx, held, a.list, h);
  return true;
}

/** Our change (`parent` → `mine`) that lost a fork, signed again on top of the list now held. */
function reapply(ctx: ClientContext, parent: DeviceList, mine: DeviceList, h: Handled): void {
  const a = ctx.requireAccount();
  const removed = parent.devices.filter((d) => !hasDevice(mine, d.device));
  const added = mine.devices.filter((d) => !hasDevice(parent, d.device) && !hasDevice(a.list, d.device));
  const merged = [...a.list.devices.filter((d) => !removed.some((r) => equalBytes(r.device, d.device))), ...added];
  if (merged.length > MAX_DEVICES || (added.length === 0 && merged.length === a.list.devices.length)) return;
  h.ops.push(...replaceOwnList(ctx, merged));
  h.after.push(() => ctx.announceOwnList());
}

/** The `devices` notice and the effects of our list going from `held` to `list`. */
function noticeOwnChange(ctx: ClientContext, held: DeviceList, list: DeviceList, h: Handled): void {
  const added = list.devices.filter((d) => !hasDevice(held, d.device)).map((d) => deviceId(d.device));
  const gone = held.devices.filter((d) => !hasDevice(list, d.device));
  const removed = gone.map((d) => deviceId(d.device));
  for (const r of removed) closeChannelsWith(ctx, r, h);
  leaveGroups(ctx, gone, h);
  const now = Date.now();
  for (const d of added) ctx.requireAccount().record.reminded[d] = now;
  if (added.length + removed.length > 0) h.after.push(() => ctx.emit('devices', { contactId: null, added, removed, reminder: false }));
}

/**
 * The device we linked answered on its link channel with the list we certified (§3.5). When
 * our list moved meanwhile (another device linked or removed one), that list is older than
 * ours or loses the fork against it: we certify the device again on top of the list we hold, so that no device believes itself
 * linked while the account's list leaves it out. The new list reaches it and every other
 * device in device-sync.ts `onChannelEstablished`.
 */
export function takeLinkedDevice(ctx: ClientContext, ch: ChannelRecord, bytes: Uint8Array, h: Handled): boolean {
  const a = ctx.account;
  let offered: DeviceList;
  try { offered = decodeDeviceList(bytes); } catch { return false; }
  const step = a ? compareLists(a.list, offered) : 'newer';
  if (!a || step === 'newer' || step === 'same' || step === 'fork-taken') return takeDeviceList(ctx, ch, bytes, h);
  const entry = offered.devices.find((d) => equalBytes(d.device, ch.identity));
  if (!entry || !equalBytes(offered.account, a.publicKey)) return false;
  if (hasDevice(a.list, ch.identity)) return true;
  if (a.list.devices.length >= maxDevices(ctx)) return false;
  const held = a.list;
  h.ops.push(...replaceOwnList(ctx, [...held.devices, entry]));
  noticeOwnChange(ctx, held, a.list, h);
  return true;
}

/**
 * Removed devices leave the groups where this device is an admin (§7): every admin that takes
 * the list commits the removal, so a revoked device is out of a group even when the device that
 * revoked it is no admin there. Concurrent removals of the same leaf resolve as any concurrent
 * commits (groups.md §10): the first one wins, the others find the leaf gone.
 */
function leaveGroups(ctx: ClientContext, gone: DeviceList['devices'], h: Handled): void {
  for (const d of gone) h.after.push(() => { void ctx.removeFromGroups(d.device).catch(() => { ctx.counters.errors++; }); });
}

/** Forgets every channel with a device (its session wiped, our mailboxes for it deleted). */
export function closeChannelsWith(ctx: ClientContext, device: string, h: Handled): void {
  for (const ch of [...ctx.channels.values()]) {
    if (deviceId(ch.identity) !== device) continue;
    h.ops.push(...forgetChannelOps(ctx, ch));
    const owned = [...ctx.mailboxes.values()].filter((mb) => mb.role === 'contact' && mb.ownerId === ch.id);
    for (const mb of owned) { mb.status = 'deleting'; h.ops.push(put(KIND.mailbox, mb.id, mb)); h.after.push(() => { void ctx.deleteMailbox(mb); }); }
  }
}

/** The ops that forget a channel here (its mailboxes are the caller's). */
export function forgetChannelOps(ctx: ClientContext, ch: ChannelRecord): StoreOp[] {
  ctx.channels.delete(ch.id);
  ctx.dropSession(ch.id);
  return [del(KIND.channel, ch.id), del(KIND.session, ch.id), ...ctx.outbox.dropContact(ch.id)];
}

/** The record that marks a revoked profile (§6): Client.open refuses it with DEVICE_REVOKED. */
export const REVOKED_ID = 'revoked';

/**
 * This device was revoked (§6): every record but its mailboxes is deleted in one commit, with
 * the mark that makes later opens refuse; then its mailboxes are deleted at the relay, and the
 * client closes. A relay that cannot be reached leaves them to expire there.
 */
async function wipeRevoked(ctx: ClientContext): Promise<void> {
  if (ctx.revoked) return;
  ctx.revoked = true;
  const mailboxes = [...ctx.mailboxes.values()];
  for (const ch of [...ctx.channels.values()]) forgetChannelOps(ctx, ch);
  const ops: StoreOp[] = [];
  for (const kind of Object.values(KIND)) {
    if (kind === KIND.mailbox) continue;
    for (const id of ctx.store.ids(kind)) ops.push(del(kind, id));
  }
  ops.push(put(KIND.account, REVOKED_ID, { at: Date.now() }));
  for (const mb of mailboxes) { mb.status = 'deleting'; ops.push(put(KIND.mailbox, mb.id, mb)); }
  if (ctx.account) { wipe(ctx.account.record.accountSeed); ctx.account = null; }
  ctx.contacts.clear();
  await ctx.store.write(ops).catch(() => undefined);
  await Promise.all(mailboxes.map((mb) => ctx.deleteMailbox(mb)));
  ctx.emit('revoked', { at: Date.now() });
  await ctx.closeClient();
}

// ---- stale lists (§4.5) -----------------------------------------------------------------------

/** Serials of a payload against what we hold: ask for a newer list of theirs, answer with ours. */
export function checkSerials(ctx: ClientContext, ch: ChannelRecord, p: Payload, reply: (payload: Payload) => void): void {
  const own = ctx.account?.list;
  if (!own) return;
  const theirs = ch.contactId === SELF ? own.serial : (listOf(ctx, ch)?.serial ?? 0);
  if ((p.senderSerial ?? 0) > theirs && p.type !== 'device-list' && p.type !== 'confirm' && p.type !== 'contact-sync') {
    reply(newPayload({ type: 'list-request' }));
  }
  if ((p.recipientSerial ?? 0) > 0 && (p.recipientSerial ?? 0) < own.serial && p.type !== 'list-request') {
    reply(newPayload({ type: 'device-list', deviceList: own.bytes }));
  }
}

// ---- copies for our other devices (§4.4) and late channels (§4.3) ---------------------------

/**
 * The channels a text goes out on: established, one per device (the oldest, when a person
 * accepted two invitations of the same device, so that nothing arrives twice).
 */
export function sendingChannels(ctx: ClientContext, contactId: string): ChannelRecord[] {
  const seen = new Set<string>();
  return ctx.channelsOf(contactId).filter((ch) => {
    if (!ch.established || !ch.peer) return false;
    const d = deviceId(ch.identity);
    if (seen.has(d)) return false;
    seen.add(d);
    return true;
  });
}

/** Our own established channels (other devices of this account). */
export const ownChannels = (ctx: ClientContext): ChannelRecord[] => sendingChannels(ctx, SELF);

/** A text another of our devices sent: into the history, and the `sent` event. */
export function takeSentCopy(ctx: ClientContext, p: Extract<Payload, { type: 'sent' }>, h: Handled): void {
  for (const account of p.accounts) {
    const person = [...ctx.contacts.values()].find((c) => c.account && equalBytes(c.account, account));
    if (!person) continue;
    const id = toBase64url(p.id);
    const timer = appliedTimer(ctx.wallet?.policy, p.timer ?? 0);
    const expiresAt = expiryOf(p.sentAt, timer);
    if (ctx.keepHistory) {
      const rec: MessageRecord = { seq: ctx.messageSeq++, contactId: person.id, id, direction: 'out', text: p.text, sentAt: p.sentAt, receivedAt: Date.now(), verified: person.verified, copy: true, timer, expiresAt };
      h.ops.push(put(KIND.message, `${person.id}:${rec.seq}`, rec));
    }
    h.after.push(() => ctx.emit('sent', { contactId: person.id, id, text: p.text, sentAt: p.sentAt, expiresAt }));
  }
}

/**
 * The texts a channel that became established late must still carry (§4.3): those this device
 * sent to its person (or, for our own device, to anyone: as copies) after the device was added
 * and before the channel worked, from the history, in order. Copies of what our other devices
 * sent are theirs to resend, so that each text arrives once.
 */
export function lateTexts(ctx: ClientContext, ch: ChannelRecord): Payload[] {
  if (!ctx.keepHistory) return [];
  const entry = listOf(ctx, ch)?.devices.find((d) => equalBytes(d.device, ch.identity));
  if (!entry) return [];
  const from = Math.max(entry.addedAt, Date.now() - RESEND_WINDOW_MS);
  const out: Payload[] = [];
  const now = Date.now();
  const msgs = loadAll<MessageRecord>(ctx.store, KIND.message).filter((m) => m.direction === 'out' && !m.copy && m.sentAt >= from && m.sentAt < ch.establishedAt && live(m, now)).sort((a, b) => a.seq - b.seq);
  for (const m of msgs) {
    const id = fromBase64url(m.id);
    const timer = m.timer ? { timer: m.timer } : {}; // it goes under the timer it was first sent under (spec/client.md §10.2)
    if (ch.contactId === SELF) {
      const acc = ctx.contacts.get(m.contactId)?.account;
      if (acc) out.push(newPayload({ type: 'sent', accounts: [acc], text: m.text, ...timer }, m.sentAt, id));
    } else if (m.contactId === ch.contactId) {
      out.push(newPayload({ type: 'text', text: m.text, ...timer }, m.sentAt, id));
    }
  }
  return out;
}

// ---- introductions (§4.2) ---------------------------------------------------------------------

/** An intro's invitation is taken when a device of `ch`'s account made it and we have no channel with that device yet. */
export function introAcceptable(ctx: ClientContext, ch: ChannelRecord, invitation: Uint8Array): boolean {
  let inv;
  try { inv = decodeInvitation(invitation); } catch { return false; }
  const list = listOf(ctx, ch);
  if (!list || !hasDevice(list, inv.inviter) || equalBytes(inv.inviter, ctx.identity.publicKey)) return false;
  if ([...ctx.channels.values()].some((x) => equalBytes(x.identity, inv.inviter))) return false;
  // Two devices that introduced themselves to each other at once: the one with the smaller
  // identity key keeps its own introduction and ignores the other's, so one channel results.
  const crossed = [...ctx.invitations.values()].some((i) => i.origin === 'intro' && i.device && equalBytes(i.device, inv.inviter));
  if (crossed && compareBytes(ctx.identity.publicKey, inv.inviter) < 0) return false;
  return !ctx.store.has(KIND.accepted, toHex(sha256(invitation)));
}

// ---- revocation (§6) and reminders (§5) -------------------------------------------------------

/** Maintenance: the reminder of each device added to our account, once, a day after (§5). */
export async function remindDevices(ctx: ClientContext, now = Date.now()): Promise<void> {
  const a = ctx.account;
  if (!a || ctx.revoked) return;
  const after = ctx.opts.deviceReminderMs ?? DEVICE_REMINDER_MS;
  const due = Object.entries(a.record.reminded).filter(([d, at]) => at > 0 && now - at >= after && d !== deviceId(ctx.identity.publicKey) && a.list.devices.some((x) => deviceId(x.device) === d));
  if (due.length === 0) return;
  for (const [d] of due) a.record.reminded[d] = 0;
  await ctx.store.write([accountOp(ctx)]);
  ctx.emit('devices', { contactId: null, added: due.map(([d]) => d), removed: [], reminder: true });
}
