// Linking a new device (spec/devices.md §3): the existing device's side (`startLink`) and the
// new device's (`joinAccount`), over a relay mailbox derived from the session code. Nothing
// is certified before the person typed, on the existing device, the code the new one shows.
import { ed25519PublicFromSeed, equalBytes, sealEnvelope, wipe, type X25519SecretKey } from '../crypto/index.js';
import type { ClientContext } from './context.js';
import { newLocalId } from './context.js';
import { decodeDeviceList, hasDevice, signDeviceList } from './device-list.js';
import { deviceId, maxDevices } from './devices.js';
import { ClientError, relayFailure } from './errors.js';
import { dhKeyOf } from './identity.js';
import { decodeInvitation } from './invitation.js';
import { makeInvitation, startAcceptor } from './invitations.js';
import {
  BODY_LINK_BUNDLE, BODY_LINK_END, BODY_LINK_OFFER, BODY_LINK_REVEAL, codeKeys, commitTo, confirmationMatches, decodeKeyBody, decodeLinkRequest, encodeKeyBody,
  encodeLinkRequest, LINK_CODE_TTL_MS, LINK_CONFIRM_TRIES, LINK_END_BODY, linkSecrets, newLinkEphemeral, newSessionCode, openBundle, parseSessionCode,
  sealBundle, type LinkRequest, type LinkSecrets,
} from './link-exchange.js';
import { mailboxKeysFrom, newMailboxKeys, sendCapability, type MailboxKeys, type SendCapability } from './mailbox.js';
import { KIND, put, SELF, type MailboxRecord } from './state.js';
import type { Device } from './types.js';
import type { Ed25519Seed } from '../crypto/index.js';

/** How long the new device's channel may take to answer once the code was confirmed (§3.5). */
const COMPLETE_TIMEOUT_MS = 120_000;

/** What the existing device shows and does during a link (Client.devices.link). */
export interface LinkAttempt {
  /** The session code to type on the new device: XXXXX-XXXXX. */
  readonly code: string;
  /** The relay the new device must use (its address is shown with the code). */
  readonly relay: string;
  /** ms since the epoch; the code is refused after it. */
  readonly expiresAt: number;
  /**
   * The confirmation code the new device shows, typed here. LINK_CODE_WRONG while tries
   * remain, LINK_FAILED after the third wrong one; resolves with the new device once linked.
   */
  confirm(code: string): Promise<Device>;
  /** Ends the attempt; nothing was certified. */
  cancel(): Promise<void>;
}

type Opened = { senderKey: Uint8Array; body: Uint8Array };

/** A link mailbox of this attempt: made, tracked, and handed to `handler`. */
async function linkMailbox(ctx: ClientContext, keys: MailboxKeys, handler: (o: Opened) => void): Promise<MailboxRecord> {
  try {
    // The relay's default TTL, as every mailbox of ours (spec/devices.md §10): the attempt ends, and
    // deletes the mailbox, after LINK_CODE_TTL_MS itself.
    await ctx.link(ctx.homeRelay).create(keys, 0);
  } catch (e) {
    throw relayFailure(e, 'link');
  }
  // Stored so that a restart deletes it (Client load): an attempt never survives a restart.
  const mb: MailboxRecord = { id: newLocalId(), address: ctx.homeRelay, keys, role: 'link', ownerId: 'link', status: 'active', createdAt: Date.now() };
  ctx.linkHandlers.set(mb.id, handler);
  ctx.addMailbox(mb);
  await ctx.store.write([put(KIND.mailbox, mb.id, mb)]);
  return mb;
}

async function dropMailbox(ctx: ClientContext, mb: MailboxRecord): Promise<void> {
  ctx.linkHandlers.delete(mb.id);
  mb.status = 'deleting';
  await ctx.store.write([put(KIND.mailbox, mb.id, mb)]).catch(() => undefined);
  await ctx.deleteMailbox(mb);
}

const sendTo = (ctx: ClientContext, cap: SendCapability, body: Uint8Array): Promise<void> =>
  ctx.senders.send(cap, sealEnvelope({ mailboxKey: cap.mailboxKey, sender: ctx.identity.dh, body }), ctx.relayTimeout);

/** The attempt each device runs: one at a time (§3.3), a new one ends the previous. */
const running = new WeakMap<ClientContext, LinkAttempt>();

/** The existing device (§3.3): shows a session code, runs the exchange, certifies after the confirmation code. */
export async function startLink(ctx: ClientContext): Promise<LinkAttempt> {
  const account = ctx.requireAccount();
  if (account.list.devices.length >= maxDevices(ctx)) throw new ClientError('DEVICE_LIMIT', `this account has ${account.list.devices.length} devices, the most its policy allows`);
  await running.get(ctx)?.cancel();
  const attempt = await runLink(ctx, account);
  running.set(ctx, attempt);
  return attempt;
}

async function runLink(ctx: ClientContext, account: NonNullable<ClientContext['account']>): Promise<LinkAttempt> {
  const code = newSessionCode();
  const ck = await codeKeys(parseSessionCode(code));
  const expiresAt = Date.now() + LINK_CODE_TTL_MS;
  const mine = newLinkEphemeral();
  let request: { req: LinkRequest; bytes: Uint8Array; sender: Uint8Array } | null = null;
  let offer: Uint8Array | null = null;
  let secrets: LinkSecrets | null = null;
  let tries = 0;
  let ended: ClientError | null = null;
  let exchanged!: () => void;
  const exchangedP = new Promise<void>((r) => { exchanged = r; });

  const mb = await linkMailbox(ctx, mailboxKeysFrom(ck.mailboxSecret as X25519SecretKey, ck.mailboxKey, ck.accessKey), (o) => {
    if (ended) return;
    if (o.body[0] === BODY_LINK_REVEAL && request && offer && !secrets) {
      let theirs;
      try { theirs = decodeKeyBody(BODY_LINK_REVEAL, o.body); } catch { return; }
      if (!equalBytes(o.senderKey, request.sender) || !equalBytes(commitTo(theirs), request.req.commit)) { void end(new ClientError('LINK_FAILED', 'the new device did not keep its commitment: attempt ended')); return; }
      try { secrets = linkSecrets(ck.codeKey, mine, theirs, request.bytes, offer, o.body); } catch { void end(new ClientError('LINK_FAILED', 'bad key: attempt ended')); return; }
      exchanged();
      return;
    }
    if (request) return; // one exchange per attempt (§3.3): a second request is ignored
    try {
      const req = decodeLinkRequest(o.body);
      if (!equalBytes(dhKeyOf(req.device), o.senderKey)) return;
      if (hasDevice(account.list, req.device)) return;
      request = { req, bytes: o.body.slice(), sender: o.senderKey.slice() };
    } catch {
      return;
    }
    offer = encodeKeyBody(BODY_LINK_OFFER, mine.publicKey);
    void sendTo(ctx, request.req.reply, offer).catch(() => { void end(new ClientError('LINK_FAILED', 'the new device could not be reached')); });
  });

  const timer = setTimeout(() => { void end(new ClientError('LINK_EXPIRED', 'the linking code expired (two minutes)')); }, LINK_CODE_TTL_MS);
  (timer as { unref?: () => void }).unref?.();
  /** Ends the attempt; a new device that had our offer is told (`link-end`), unless it gets the bundle. */
  async function end(reason: ClientError, bundled = false): Promise<void> {
    if (ended) return;
    ended = reason;
    clearTimeout(timer);
    wipe(mine.secretKey, ck.codeKey);
    exchanged();
    if (offer && request && !bundled) await sendTo(ctx, request.req.reply, LINK_END_BODY).catch(() => undefined);
    await dropMailbox(ctx, mb);
  }

  return {
    code, relay: ctx.homeRelay, expiresAt,
    async confirm(typed: string): Promise<Device> {
      ctx.assertOpen();
      if (ended) throw ended;
      await within(exchangedP, 10_000);
      if (ended) throw ended;
      if (!secrets || !request) throw new ClientError('LINK_CODE_WRONG', 'no new device has answered this code yet: type the code on the new device first');
      if (!confirmationMatches(secrets.confirmation, typed)) {
        tries++;
        if (tries >= LINK_CONFIRM_TRIES) {
          await end(new ClientError('LINK_FAILED', 'three wrong confirmation codes: the attempt ended, nothing was linked'));
          throw ended!;
        }
        throw new ClientError('LINK_CODE_WRONG', `that is not the code the new device shows (${LINK_CONFIRM_TRIES - tries} tries left)`);
      }
      // Confirmed: certify (a list that only takes effect once the new device answers, §3.5).
      const device = request.req.device;
      const addedAt = Date.now();
      const list = signDeviceList(account.record.accountSeed as Ed25519Seed, account.publicKey, account.list, [...account.list.devices, { device, addedAt }]);
      account.record.signed = { list: list.bytes, parent: account.list.bytes }; // stored with the list when it is taken (§2.2)
      const inv = await makeInvitation(ctx, { ttlSeconds: Math.ceil(COMPLETE_TIMEOUT_MS / 1000), name: null, contactId: SELF, origin: 'link', device, deviceList: list.bytes });
      const bundle = sealBundle(secrets, { accountSeed: account.record.accountSeed, deviceList: list.bytes, invitation: inv.payload });
      const reply = request.req.reply;
      await end(new ClientError('LINK_EXPIRED', 'this linking code was used'), true);
      try {
        await sendTo(ctx, reply, bundle);
      } catch (e) {
        throw relayFailure(e, 'link');
      }
      const linked = await waitFor(() => hasDevice(ctx.account!.list, device), COMPLETE_TIMEOUT_MS);
      if (!linked) throw new ClientError('LINK_FAILED', 'the new device did not finish linking in time: it is not part of the account');
      return { id: deviceId(device), current: false, addedAt };
    },
    async cancel(): Promise<void> { await end(new ClientError('LINK_FAILED', 'the linking attempt was cancelled (or a newer one started)')); },
  };
}

/** `p`'s value, or undefined after `ms`; the timer never outlives the wait (nor keeps a process up). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const until = Date.now() + ms;
    const tick = (): void => {
      if (cond()) resolve(true);
      else if (Date.now() > until) resolve(false);
      else setTimeout(tick, 100);
    };
    tick();
  });
}

/**
 * The new device (§3.3): sends its request to the mailbox the code names, answers the offer
 * with its key, and returns the confirmation code to show. `done` resolves once the bundle
 * came and the channel with the linking device works (the account is then stored here).
 */
export async function joinAccount(ctx: ClientContext, typedCode: string): Promise<{ confirmationCode: string; done: Promise<void> }> {
  const canonical = parseSessionCode(typedCode);
  if (ctx.account) throw new ClientError('INVALID_ARGUMENT', 'this profile already belongs to an account: link a new, empty profile');
  const ck = await codeKeys(canonical);
  const target: SendCapability = sendCapability(ctx.homeRelay, mailboxKeysFrom(ck.mailboxSecret as X25519SecretKey, ck.mailboxKey, ck.accessKey));
  const mine = newLinkEphemeral();
  const inbox: Opened[] = [];
  let wake: () => void = () => undefined;
  const mb = await linkMailbox(ctx, newMailboxKeys(), (o) => { inbox.push(o); wake(); });
  let linker: Uint8Array | null = null; // the X25519 key that made the offer
  const next = async (kind: number, until: number): Promise<Opened> => {
    for (;;) {
      const i = inbox.findIndex((o) => o.body[0] === kind);
      if (i >= 0) return inbox.splice(i, 1)[0]!;
      if (linker && inbox.some((o) => o.body[0] === BODY_LINK_END && o.body.length === 2 && equalBytes(o.senderKey, linker!))) {
        throw new ClientError('LINK_FAILED', 'the existing device ended the attempt (cancelled, wrong codes, expired, or restarted): nothing was linked');
      }
      const left = until - Date.now();
      if (left <= 0 || ctx.closed) throw new ClientError('LINK_FAILED', 'the existing device did not answer in time');
      await new Promise<void>((r) => { wake = r; setTimeout(r, Math.min(left, 1_000)); });
    }
  };
  const deadline = Date.now() + LINK_CODE_TTL_MS;
  try {
    const request = encodeLinkRequest({ device: ctx.identity.publicKey, binding: ctx.identity.binding, commit: commitTo(mine.publicKey), reply: sendCapability(ctx.homeRelay, mb.keys) });
    try {
      await sendTo(ctx, target, request);
    } catch (e) {
      const c = relayFailure(e, 'link');
      if (c.relayError === 'AUTH') throw new ClientError('LINK_EXPIRED', 'no linking attempt has this code at this relay: it expired, was used, or was mistyped', { cause: e });
      throw c;
    }
    const offerMsg = await next(BODY_LINK_OFFER, deadline);
    linker = offerMsg.senderKey;
    const theirs = decodeKeyBody(BODY_LINK_OFFER, offerMsg.body);
    const reveal = encodeKeyBody(BODY_LINK_REVEAL, mine.publicKey);
    const secrets = linkSecrets(ck.codeKey, mine, theirs, request, offerMsg.body, reveal);
    await sendTo(ctx, target, reveal);
    const done = (async (): Promise<void> => {
      try {
        const bundleMsg = await next(BODY_LINK_BUNDLE, deadline + 60_000);
        if (!equalBytes(bundleMsg.senderKey, offerMsg.senderKey)) throw new ClientError('LINK_FAILED', 'the bundle came from another device');
        const b = openBundle(secrets, bundleMsg.body);
        const list = decodeDeviceList(b.deviceList);
        const inv = decodeInvitation(b.invitation);
        if (!hasDevice(list, ctx.identity.publicKey) || !hasDevice(list, inv.inviter) || !equalBytes(dhKeyOf(inv.inviter), offerMsg.senderKey)) {
          throw new ClientError('LINK_FAILED', 'the existing device sent a list that does not certify this device');
        }
        // The seed must be the key that signed the list (§3.4): else this device would hold an account it cannot sign for.
        if (!equalBytes(ed25519PublicFromSeed(b.accountSeed as Ed25519Seed), list.account)) {
          throw new ClientError('LINK_FAILED', 'the account key in the bundle is not the one that signed the device list');
        }
        // Held in memory only: stored when the linking device's confirm arrives (receiving.ts `establish`).
        ctx.account = { record: { accountSeed: b.accountSeed, deviceList: list.bytes, reminded: {} }, publicKey: list.account, list };
        const started = await startAcceptor(ctx, inv, b.invitation, SELF, 'link');
        const ok = await within(started.established.then(() => true), COMPLETE_TIMEOUT_MS);
        if (!ok) throw new ClientError('LINK_FAILED', 'the existing device did not complete the link');
      } catch (e) {
        if (!ctx.store.has(KIND.account, 'self')) ctx.account = null;
        throw e instanceof ClientError ? e : new ClientError('LINK_FAILED', `linking failed (${(e as Error).message})`, { cause: e });
      } finally {
        wipe(mine.secretKey);
        await dropMailbox(ctx, mb);
      }
    })();
    done.catch(() => undefined);
    return { confirmationCode: secrets.confirmation, done };
  } catch (e) {
    wipe(mine.secretKey);
    await dropMailbox(ctx, mb);
    throw e;
  }
}
