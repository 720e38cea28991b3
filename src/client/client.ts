// The Sealpost client (spec/client.md): one identity, its contacts and their sessions, its
// mailboxes on relays, an outbox, and the events an app listens to. A thin front: the work is
// done by the parts, each mirroring a section of the spec, over one shared ClientContext
// (invitations §3–4, receiving §6, rotation §8.2, sending §9, contacts §10).
//
// Platform-free: sockets and storage come from a Platform (spec/client.md §12). The Node
// entry (`import { Client } from 'sealpost'`) is this class with the Node platform set.
import { toBase64url } from '../crypto/index.js';
import type { OrgPolicy } from '../admission/index.js';
import { TOKEN_LOW_WATER, TokenWallet, type WalletRecord } from './admission.js';
import { parseRelayAddress } from '../wire/index.js';
import { listContacts, history, renameContact, verifyContact } from './contacts.js';
import { ClientContext, DROP_REASONS } from './context.js';
import { ClientError, isClientError } from './errors.js';
import { checkFanoutOptions, FanoutSealer } from './fanout.js';
import { newIdentity, type Identity } from './identity.js';
import { acceptInvitation, createInvitation } from './invitations.js';
import { Emitter } from './emitter.js';
import type { MailboxKeys, SendCapability } from './mailbox.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import type { Platform } from './platform.js';
import { ProfileStore, type RecordBackend } from './profile-store.js';
import { ReceiptBatcher } from './receipts.js';
import { decodeRecord, isJsonRecord } from './records.js';
import { inboundHandlers } from './receiving.js';
import { maintain, rotateMailbox } from './rotation.js';
import { expireMessages, setTimer } from './timers.js';
import { Groups } from './groups-api.js';
import { Devices } from './devices-api.js';
import { announceOwnList, askUnknownAccounts, syncContact } from './device-sync.js';
import { migrateContacts } from './profile-migration.js';
import { loadAccount, newAccount, remindDevices, REVOKED_ID } from './devices.js';
import { joinAccount } from './link.js';
import { parseSessionCode } from './link-exchange.js';
import { loadGroups, maintainGroups, removeFromGroups } from './groups.js';
import { SendPool } from './send-pool.js';
import { send, sendReceipt, sendToMany } from './sending.js';
import { decodeSession, encodeSession, type Session } from './session.js';
import {
  identityFromRecord, KIND, loadAll, put, type ChannelRecord, type ContactRecord, type IdentityRecord, type InvitationRecord, type MailboxRecord, type MessageRecord,
} from './state.js';
import type {
  ClientEvents, ClientOptions, ClientStats, Contact, HistoryEntry, SentMessage, SentToMany,
} from './types.js';

const MAINTENANCE_INTERVAL_MS = 60_000;

/** A session record: the ratchet state's own encoding (ratchet.md §7), or the JSON wrapper of older profiles. */
function loadSession(v: Uint8Array): Session {
  return decodeSession(isJsonRecord(v) ? decodeRecord<{ state: Uint8Array }>(v).state : v);
}

export class Client extends Emitter<ClientEvents> {
  /** The platform `open` uses when the options name none; the Node entry sets it. */
  static platform: Platform | null = null;

  private readonly ctx: ClientContext;
  private maintenanceTimer: ReturnType<typeof setInterval> | null = null;

  protected constructor(platform: Platform, store: ProfileStore, identity: Identity, homeRelay: string, opts: ClientOptions) {
    super();
    const senders = new SendPool(platform.connect, 5_000, { homeRelay, privateRouting: opts.privateRouting ?? 'preferred' });
    const ctx = new ClientContext({
      platform, store, identity, homeRelay, opts, senders, sealer: new FanoutSealer(opts),
      emit: (event, arg) => this.emit(event, arg),
    });
    ctx.outbox = new Outbox(store, senders, { onSent: () => { ctx.counters.sent++; }, waitMs: ctx.relayTimeout });
    ctx.receipts = opts.receipts === true
      ? new ReceiptBatcher(opts.receiptDelayMs ?? { min: 5_000, max: 60_000 }, (contactId, ids) => { void sendReceipt(ctx, contactId, ids); })
      : null;
    ctx.inbound = inboundHandlers(ctx);
    // A failed commit leaves memory ahead of the disk: say so, and stop (a reopen reloads the disk).
    store.onFailure = (e) => { this.emit('error', e); void this.close(); };
    ctx.closeClient = () => this.close();
    ctx.announceOwnList = (ownOnly) => announceOwnList(ctx, ownOnly);
    ctx.syncContact = (person) => syncContact(ctx, person);
    ctx.removeFromGroups = (device) => removeFromGroups(ctx, device);
    // Before any link exists: the home relay's link spends the wallet's tokens.
    if (opts.organisation) ctx.wallet = new TokenWallet(opts.organisation, (rec) => store.write([put(KIND.admission, 'wallet', rec)]));
    this.ctx = ctx;
  }

  /** Opens (or creates) the profile in `dataDir`; WRONG_PASSPHRASE if the passphrase does not open it. */
  static async open(opts: ClientOptions): Promise<Client> {
    if (typeof (opts as { code?: unknown } | undefined)?.code === 'string') {
      throw new ClientError('INVALID_ARGUMENT', 'a linking code goes to Client.link, on the new device only (spec/devices.md §3)');
    }
    return this.openProfile(opts, false);
  }

  /**
   * Links this new profile to an existing account (spec/devices.md §3): `code` is the session
   * code the existing device shows (`client.devices.link()`). Resolves with the confirmation
   * code to show here, for the person to type on the existing device; `client` resolves once
   * the existing device certified this one. BAD_LINK_CODE for anything that is not a session
   * code (an invitation, a link, a message), LINK_EXPIRED for a code no attempt has.
   */
  static async link(opts: ClientOptions & { readonly code: string }): Promise<{ confirmationCode: string; client: Promise<Client> }> {
    parseSessionCode(opts?.code);
    const client = await this.openProfile(opts, true);
    try {
      // A closed relay: the new device's link mailbox needs a token of its own (spec/client.md §10.1).
      if (client.ctx.wallet && client.ctx.wallet.stock() === 0) await client.admission!.refresh();
      const { confirmationCode, done } = await joinAccount(client.ctx, opts.code);
      const ready = done.then(() => client, async (e: unknown) => { await client.close(); throw e; });
      ready.catch(() => undefined);
      return { confirmationCode, client: ready };
    } catch (e) {
      await client.close();
      throw e;
    }
  }

  private static async openProfile(opts: ClientOptions, linking: boolean): Promise<Client> {
    if (!opts || typeof opts.dataDir !== 'string' || opts.dataDir === '') throw new ClientError('INVALID_ARGUMENT', 'dataDir is required');
    checkFanoutOptions(opts);
    if (opts.relay !== undefined) {
      try { parseRelayAddress(opts.relay); } catch (e) { throw new ClientError('INVALID_ARGUMENT', 'relay is not a relay address', { cause: e }); }
    }
    const platform = opts.platform ?? this.platform;
    if (!platform) throw new ClientError('INVALID_ARGUMENT', "no platform: import { Client } from 'sealpost', or pass `platform`");
    let backend: RecordBackend;
    try {
      backend = await platform.openRecords(opts.dataDir);
    } catch (e) {
      throw isClientError(e) ? e : new ClientError('STORE_FAILED', 'the profile store could not be opened', { cause: e });
    }
    const store = await ProfileStore.open(backend, { passphrase: opts.passphrase, ...(opts.kdf ? { kdf: opts.kdf } : {}) });
    try {
      if (store.has(KIND.account, REVOKED_ID)) {
        throw new ClientError('DEVICE_REVOKED', 'this device was removed from its account by another device, and its data was wiped: open a new profile to use Sealpost here');
      }
      const raw = store.get(KIND.identity, 'self');
      let rec = raw ? decodeRecord<IdentityRecord>(raw) : null;
      if (!rec) {
        if (!opts.relay) throw new ClientError('INVALID_ARGUMENT', 'a new profile needs a relay address');
        const id = newIdentity();
        rec = { signSeed: id.sign.seed, dhSecret: id.dh.secretKey, homeRelay: opts.relay, createdAt: Date.now() };
        // A new profile is a new account with this device as its only one (spec/devices.md §2.1);
        // a device being linked gets its account from the device that links it (Client.link).
        await store.write([put(KIND.identity, 'self', rec), ...(linking ? [] : [put(KIND.account, 'self', newAccount(id))])]);
      } else if (!store.has(KIND.account, 'self') && !linking) {
        // A device whose link never completed (spec/devices.md §3.5) becomes an account of its own when opened plainly.
        await store.write([put(KIND.account, 'self', newAccount(identityFromRecord(rec)))]);
      } else if (opts.relay && opts.relay !== rec.homeRelay) {
        rec = { ...rec, homeRelay: opts.relay };
        await store.write([put(KIND.identity, 'self', rec)]);
      }
      const migrated = migrateContacts(store);
      if (migrated.ops.length > 0) await store.write(migrated.ops);
      const client = new this(platform, store, identityFromRecord(rec), rec.homeRelay, opts);
      client.load();
      client.start();
      return client;
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  // ---- public API -------------------------------------------------------------------------

  /** This identity's public key (Ed25519 || X25519), base64url. */
  get identityKey(): string { return toBase64url(this.ctx.identity.publicKey); }
  get relay(): string { return this.ctx.homeRelay; }

  /** A one-time invitation link (spec/client.md §3). `name` labels the contact who accepts it. */
  createInvitation(opts: { ttlSeconds?: number; name?: string } = {}): Promise<string> { return createInvitation(this.ctx, opts); }

  /** Accepts an invitation (spec/client.md §4); resolves once both sides share a session. */
  acceptInvitation(link: string, opts: { name?: string; timeoutMs?: number } = {}): Promise<Contact> { return acceptInvitation(this.ctx, link, opts); }

  /** Marks a contact verified when `code` is its safety code; SAFETY_CODE_MISMATCH otherwise. */
  verifyContact(contactId: string, code: string): Promise<Contact> { return verifyContact(this.ctx, contactId, code); }

  renameContact(contactId: string, name: string): Promise<Contact> { return renameContact(this.ctx, contactId, name); }

  /** The conversation's disappearing timer in seconds, 0 off, for both people and all their devices (spec/client.md §10.2). */
  setTimer(contactId: string, seconds: number): Promise<Contact> { return setTimer(this.ctx, contactId, seconds); }

  /** Sends a text; resolves when the relay has durably accepted the envelope (spec/protocol.md §5.10). */
  send(contactId: string, text: string): Promise<SentMessage> { return send(this.ctx, contactId, text); }

  /** One text to many contacts (spec/client.md §9.4); `results[i]` for `contactIds[i]`. */
  sendToMany(contactIds: readonly string[], text: string): Promise<SentToMany> { return sendToMany(this.ctx, contactIds, text); }

  /** Moves a contact to a new mailbox of ours (spec/client.md §8.2). */
  rotateMailbox(contactId: string): Promise<void> { return rotateMailbox(this.ctx, contactId); }

  contacts(): Contact[] { return listContacts(this.ctx); }

  /** This device's account (spec/devices.md): its devices, linking a new one, removing one. */
  get devices(): Devices { return this.devicesFront ??= new Devices(this.ctx); }
  private devicesFront: Devices | undefined;

  /** Groups on MLS (spec/groups.md §13): create, change, review, leave, and texts to all members. */
  get groups(): Groups { return this.groupsFront ??= new Groups(this.ctx); }
  private groupsFront: Groups | undefined;

  /** A contact by id, or by its (case-insensitive) name. */
  contact(idOrName: string): Contact | undefined {
    const c = typeof idOrName === 'string' ? this.ctx.findContact(idOrName) : undefined;
    return c ? this.ctx.view(c) : undefined;
  }

  /** Stored texts with a contact, oldest first (empty when keepHistory is false). */
  history(contactId: string): HistoryEntry[] { return history(this.ctx, contactId); }

  stats(): ClientStats {
    const { counters: k, outbox } = this.ctx;
    return {
      dropped: { ...k.dropped, total: DROP_REASONS.reduce((a, r) => a + k.dropped[r], 0) },
      received: k.received, sent: k.sent, errors: k.errors,
      outboxPending: outbox.size, online: this.ctx.link(this.ctx.homeRelay).online,
      takeovers: [...this.ctx.links.values()].reduce((a, l) => a + l.takeovers, 0),
    };
  }

  /**
   * A closed deployment's admission (spec/client.md §10.1), or null without `organisation`:
   * `refresh()` fetches the signed policy and, if the stock is low, a batch of tokens (call it
   * after logging in to the issuer); `setSession` takes the session of a new login.
   */
  get admission(): { refresh(): Promise<{ serial: number; tokens: number }>; setSession(session: string | null): Promise<void>; readonly policy: OrgPolicy | null; tokens(): number } | null {
    const w = this.ctx.wallet;
    if (!w) return null;
    return {
      refresh: async () => {
        this.ctx.assertOpen();
        const p = await w.refreshPolicy();
        if (w.stock() < (this.ctx.opts.organisation?.lowWater ?? TOKEN_LOW_WATER)) await w.fetchBatch();
        w.maybeScheduleRefill();
        return { serial: p.serial, tokens: w.stock() };
      },
      setSession: (session) => w.setSession(session),
      get policy() { return w.policy; },
      tokens: () => w.stock(),
    };
  }

  async close(): Promise<void> {
    const ctx = this.ctx;
    if (ctx.closed) return;
    ctx.closed = true;
    ctx.wallet?.close();
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    ctx.receipts?.close();
    for (const w of ctx.acceptWaiters.values()) w.reject(new ClientError('CLOSED', 'the client was closed'));
    ctx.acceptWaiters.clear();
    const drained = ctx.outbox.close();
    await Promise.all([ctx.senders.close(), ctx.sealer.close(), ...[...ctx.links.values()].map((l) => l.close())]);
    await drained;
    await Promise.all([...ctx.inboundTails.values()]);
    for (const id of [...ctx.sessions.keys()]) ctx.dropSession(id);
    await ctx.store.close();
  }

  // ---- internals exposed for tests (not part of the supported surface) -------------------

  /** @internal */
  _internals(): {
    peerCapability(contactId: string): SendCapability | null;
    inboxKeys(contactId: string): MailboxKeys | undefined;
    exportSession(contactId: string): Uint8Array;
    identityDh: Identity['dh'];
    onSent(fn: (entry: OutboxEntry) => void): void;
    mailboxCount(): number;
    storeCommits(): number;
    walletTokens(): Uint8Array[];
  } {
    const ctx = this.ctx;
    const firstChannel = (id: string): ChannelRecord => {
      const ch = ctx.channelsOf(ctx.requireContact(id).id)[0];
      if (!ch) throw new ClientError('UNKNOWN_CONTACT', 'no channel');
      return ch;
    };
    return {
      peerCapability: (id) => firstChannel(id).peer,
      inboxKeys: (id) => ctx.mailboxes.get(firstChannel(id).inboxId)?.keys,
      exportSession: (id) => encodeSession(ctx.sessions.get(firstChannel(id).id)!),
      identityDh: ctx.identity.dh,
      onSent: (fn) => { ctx.sentTaps.push(fn); },
      mailboxCount: () => ctx.mailboxes.size,
      storeCommits: () => ctx.store.commits,
      walletTokens: () => ctx.wallet?.held() ?? [],
    };
  }

  // ---- loading ------------------------------------------------------------------------------

  private load(): void {
    const { ctx } = this;
    loadAccount(ctx, ctx.store);
    for (const c of loadAll<ContactRecord>(ctx.store, KIND.contact)) ctx.contacts.set(c.id, c);
    for (const c of loadAll<ChannelRecord>(ctx.store, KIND.channel)) ctx.channels.set(c.id, c);
    for (const [id, v] of ctx.store.entries(KIND.session)) ctx.sessions.set(id, loadSession(v));
    for (const i of loadAll<InvitationRecord>(ctx.store, KIND.invitation)) ctx.invitations.set(i.id, i);
    for (const m of loadAll<MailboxRecord>(ctx.store, KIND.mailbox)) {
      if (m.role === 'link') m.status = 'deleting'; // a linking attempt never survives a restart (spec/devices.md §3.5)
      const seen = ctx.store.get(KIND.seen, m.id);
      const legacy = m.seen ?? [];
      delete m.seen;
      ctx.addMailbox(m, seen ? decodeRecord<number[]>(seen) : legacy);
    }
    for (const m of loadAll<MessageRecord>(ctx.store, KIND.message)) ctx.messageSeq = Math.max(ctx.messageSeq, m.seq + 1);
    for (const m of loadAll<{ seq: number }>(ctx.store, KIND.groupMessage)) ctx.messageSeq = Math.max(ctx.messageSeq, m.seq + 1);
    loadGroups(ctx);
    const wallet = ctx.store.get(KIND.admission, 'wallet');
    ctx.wallet?.restore(wallet ? decodeRecord<WalletRecord>(wallet) : null);
  }

  private start(): void {
    const { ctx } = this;
    ctx.started = true;
    ctx.link(ctx.homeRelay);
    for (const l of ctx.links.values()) l.start();
    ctx.outbox.kick();
    ctx.wallet?.maybeScheduleRefill();
    askUnknownAccounts(ctx);
    const tick = (): void => {
      void maintain(ctx).then(() => (ctx.closed ? undefined : maintainGroups(ctx))).then(() => (ctx.closed ? undefined : expireMessages(ctx))).then(() => remindDevices(ctx)).catch(() => { ctx.counters.errors++; });
    };
    this.maintenanceTimer = setInterval(tick, MAINTENANCE_INTERVAL_MS);
    (this.maintenanceTimer as { unref?: () => void }).unref?.(); // Node: do not keep the process alive for it
    tick();
  }
}
