// Keeping every pair of devices connected (spec/devices.md §3.4, §4.2–§4.4): what happens when
// a channel starts working, the contacts a new device receives from the device that linked it,
// and the introductions that give it a channel with every other device.
import { equalBytes } from '../crypto/index.js';
import type { ClientContext } from './context.js';
import { decodeDeviceList } from './device-list.js';
import { closeChannelsWith, deviceId, lateTexts, replaceOwnList } from './devices.js';
import { ClientError } from './errors.js';
import { removeFromGroups } from './groups.js';
import type { Handled } from './handled.js';
import { decodeInvitation } from './invitation.js';
import { makeInvitation, startAcceptor } from './invitations.js';
import { newPayload, type Payload } from './payload.js';
import { sendPayload } from './sending.js';
import { newLocalId } from './context.js';
import { SELF, type ChannelRecord, type ContactRecord } from './state.js';
import { accountSafetyCode } from '../crypto/index.js';

/** Introductions live a week: the other device may be offline meanwhile (§4.2). */
const INTRO_TTL_SECONDS = 7 * 24 * 3600;

const quietly = (p: Promise<unknown>): void => { void p.catch(() => undefined); };

/** Introductions held per device until we have a channel with it (§4.2). */
const MAX_HELD_INTROS = 16;

/** An introduction for a device we have no working channel with yet: passed on once we do. */
export function holdIntro(ctx: ClientContext, device: Uint8Array, invitation: Uint8Array): void {
  const id = deviceId(device);
  const held = ctx.pendingIntros.get(id) ?? [];
  if (held.length >= MAX_HELD_INTROS || ctx.pendingIntros.size >= 256) return;
  held.push(invitation.slice());
  ctx.pendingIntros.set(id, held);
}

/** After a channel's handshake completed (receiving.ts `establish`). */
export function onChannelEstablished(ctx: ClientContext, ch: ChannelRecord): void {
  if (ctx.closed || ctx.revoked) return;
  // Texts sent to this device's account while it had no channel (§4.3).
  for (const p of lateTexts(ctx, ch)) quietly(sendPayload(ctx, ch, p));
  // Introductions our devices asked us to pass to this device before we could (§4.2).
  const held = ctx.pendingIntros.get(deviceId(ch.identity));
  ctx.pendingIntros.delete(deviceId(ch.identity));
  for (const invitation of held ?? []) quietly(sendPayload(ctx, ch, newPayload({ type: 'intro', invitation })));
  if (ch.contactId !== SELF && ch.origin === 'invitation') {
    // A new contact: our other devices hear of it and introduce themselves to its devices through us.
    const p = ctx.contacts.get(ch.contactId);
    if (p) syncContact(ctx, p);
  }
  if (ch.contactId === SELF && ch.origin === 'link' && ch.role === 'inviter') {
    // We linked this device (§3.4): the whole account learns of it (the new device too, in case
    // we certified it again on a list that moved, devices.ts `takeLinkedDevice`), and it learns our contacts.
    announceOwnList(ctx);
    for (const p of ctx.contacts.values()) {
      if (!p.deviceList) continue;
      quietly(sendPayload(ctx, ch, newPayload({ type: 'contact-sync', verified: p.verified, name: p.name, deviceList: p.deviceList })));
      // And the conversation's timer, dated as it was set, behind the contact it names (spec/client.md §10.2).
      if (p.timer !== undefined && p.account) quietly(sendPayload(ctx, ch, newPayload({ type: 'timer', seconds: p.timer, account: p.account }, p.timerAt ?? 0)));
    }
  }
  if (ch.contactId === SELF && ch.origin === 'link' && ch.role === 'acceptor') {
    // We are the new device: introduce ourselves to our account's other devices through the one that linked us.
    const own = ctx.requireAccount().list;
    for (const d of own.devices) {
      if (equalBytes(d.device, ctx.identity.publicKey) || equalBytes(d.device, ch.identity)) continue;
      quietly(introduceThrough(ctx, ch, SELF, d.device));
    }
  }
}

/** Our current list on every working channel, or only our own devices' (spec/devices.md §2.2, §6). */
export function announceOwnList(ctx: ClientContext, ownOnly = false): void {
  const a = ctx.account;
  if (!a || ctx.closed || ctx.revoked) return;
  const notice = newPayload({ type: 'device-list', deviceList: a.list.bytes });
  for (const ch of [...ctx.channels.values()]) {
    if (ch.established && ch.peer && (!ownOnly || ch.contactId === SELF)) quietly(sendPayload(ctx, ch, notice));
  }
}

/**
 * Channels whose person's account we do not know (a profile made before devices,
 * profile-migration.ts): our list goes to them, and theirs is asked for. Runs at every open
 * until it is known.
 */
export function askUnknownAccounts(ctx: ClientContext): void {
  const own = ctx.account?.list;
  if (!own) return;
  for (const ch of [...ctx.channels.values()]) {
    if (ch.contactId === SELF || !ch.established || !ch.peer || ctx.contacts.get(ch.contactId)?.account !== null) continue;
    quietly(sendPayload(ctx, ch, newPayload({ type: 'device-list', deviceList: own.bytes })));
    quietly(sendPayload(ctx, ch, newPayload({ type: 'list-request' })));
  }
}

/** A person, as this device knows it, to each of our other devices (contact-sync, §4.2). */
export function syncContact(ctx: ClientContext, p: ContactRecord): void {
  if (!p.deviceList || ctx.closed || ctx.revoked) return;
  const sync = newPayload({ type: 'contact-sync', verified: p.verified, name: p.name, deviceList: p.deviceList });
  for (const own of ctx.channelsOf(SELF)) if (own.established && own.peer) quietly(sendPayload(ctx, own, sync));
}

/** A contact as the device that linked us knows it (§3.4): the person, then an introduction to each of its devices. */
export function takeContactSync(ctx: ClientContext, p: Extract<Payload, { type: 'contact-sync' }>, h: Handled, via: ChannelRecord): void {
  let list;
  try { list = decodeDeviceList(p.deviceList); } catch { return; }
  const account = ctx.account;
  if (!account || equalBytes(list.account, account.publicKey)) return;
  let person = [...ctx.contacts.values()].find((c) => c.account && equalBytes(c.account, list.account));
  if (!person) {
    person = {
      id: newLocalId(), name: ctx.uniqueName(p.name), account: list.account, deviceList: list.bytes,
      safetyCode: accountSafetyCode(account.publicKey, list.account), verified: p.verified, createdAt: Date.now(),
      announced: list.devices.map((d) => deviceId(d.device)),
    } satisfies ContactRecord;
    ctx.contacts.set(person.id, person);
    h.ops.push(ctx.contactOp(person));
  } else if (p.verified && !person.verified) {
    // Verified on another of our devices: the same account key, so verified here too.
    person.verified = true;
    h.ops.push(ctx.contactOp(person));
    const v = ctx.view(person);
    h.after.push(() => ctx.emit('contact', v));
  }
  const target = person;
  for (const d of list.devices) {
    if ([...ctx.channels.values()].some((x) => equalBytes(x.identity, d.device))) continue;
    h.after.push(() => quietly(introduceThrough(ctx, via, target.id, d.device)));
  }
}

/**
 * Makes an invitation for one device (ours or a contact's) and asks `via`, a device of ours
 * that has a channel with it, to pass it on (§4.2). The device accepts it if the device list it
 * holds says that we belong to the account `via` belongs to.
 */
async function introduceThrough(ctx: ClientContext, via: ChannelRecord, contactId: string, device: Uint8Array): Promise<void> {
  const inv = await makeInvitation(ctx, { ttlSeconds: INTRO_TTL_SECONDS, name: null, contactId, origin: 'intro', device });
  await sendPayload(ctx, via, newPayload({ type: 'intro-forward', device, invitation: inv.payload }));
}

/** Accepts an introduction a channel passed on (the checks are devices.ts `introAcceptable`). */
export async function acceptIntro(ctx: ClientContext, contactId: string, invitation: Uint8Array): Promise<void> {
  if (ctx.closed || ctx.revoked) return;
  try {
    await startAcceptor(ctx, decodeInvitation(invitation), invitation, contactId, 'intro');
  } catch {
    ctx.counters.errors++; // an introduction that fails (used, expired) is not retried: the next list change brings another
  }
}

/**
 * Removes a device: a new list without it goes to every device we have a channel with (the
 * removed one included, so that it wipes itself), then our channels with it are closed and it
 * leaves every group we administer.
 */
export async function revokeDevice(ctx: ClientContext, id: string): Promise<void> {
  const a = ctx.requireAccount();
  const entry = a.list.devices.find((d) => deviceId(d.device) === id);
  if (!entry) throw new ClientError('UNKNOWN_DEVICE', 'no device of this account has this id');
  if (equalBytes(entry.device, ctx.identity.publicKey)) throw new ClientError('INVALID_ARGUMENT', 'a device cannot remove itself: remove it from another device');
  const ops = replaceOwnList(ctx, a.list.devices.filter((d) => d !== entry));
  await ctx.store.write(ops);
  const notice = newPayload({ type: 'device-list', deviceList: a.list.bytes });
  const sends = [...ctx.channels.values()].filter((ch) => ch.established && ch.peer).map((ch) => sendPayload(ctx, ch, notice).catch(() => undefined));
  await Promise.all(sends);
  const h: Handled = { ops: [], send: [], after: [] };
  closeChannelsWith(ctx, id, h);
  await ctx.store.write(h.ops);
  for (const f of h.after) f();
  await removeFromGroups(ctx, entry.device).catch(() => { ctx.counters.errors++; });
  ctx.emit('devices', { contactId: null, added: [], removed: [id], reminder: false });
}

