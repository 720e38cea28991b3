// The Sealpost client (spec/client.md): one identity, its contacts and their sessions, its
// mailboxes on relays, an outbox, and the events an app listens to.
//
// Incoming envelopes are processed one at a time (one queue for the whole client): open the
// delivery layer, skip msgIds already processed, open the sealed envelope, check the
// sender, run the handshake or the ratchet, write every resulting change in ONE store
// transaction, then ACK, then emit. A crash anywhere before the write leaves the envelope
// queued at the relay; after it, the seen set absorbs the redelivery (spec/client.md §6).
import {
  concat, equalBytes, randomBytes, safetyCode, safetyCodesMatch, sha256, toBase64url, toHex,
  x25519KeyPair, type X25519PublicKey, type X25519SecretKey,
} from '../crypto/index.js';
import { parseRelayAddress, type MsgFrame } from '../wire/index.js';
import { MalformedError } from './codec.js';
import type { RelayConnection } from './connection.js';
import { Emitter } from './emitter.js';
import { ClientError, isClientError } from './errors.js';
import { checkFanoutOptions, FanoutSealer, MAX_FANOUT, planFanout, type SealTarget } from './fanout.js';
import {
  acceptorSecret, BODY_RATCHET, decodeHello, encodeHello, inviterSecret, transcriptHash,
} from './handshake.js';
import { dhKeyOf, newIdentity, sameIdentity, type Identity } from './identity.js';
import {
  checkNotExpired, DEFAULT_INVITATION_TTL_SECONDS, encodeInvitation, formatInvitationLink, invitationCapability,
  parseInvitationLink,
} from './invitation.js';
import { newMailboxKeys, openDelivered, sendCapability, type Delivered, type MailboxKeys, type SendCapability } from './mailbox.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import { decodePayload, encodePayload, MAX_RECEIPT_IDS, newPayload, type Payload, type PayloadContent } from './payload.js';
import { ReadLink } from './read-link.js';
import { ReceiptBatcher } from './receipts.js';
import { decodeRecord } from './records.js';
import { openEnvelope, sealEnvelope } from '../crypto/index.js';
import { SendPool, classifySendError } from './send-pool.js';
import { KeyedSerial } from './serial.js';
import {
  decodeSession, encodeSession, SessionError, sessionDecrypt, sessionEncrypt, startInitiator, startResponder, type Session,
} from './session.js';
import {
  del, identityFromRecord, KIND, loadAll, put, SEEN_WINDOW,
  type ContactRecord, type IdentityRecord, type InvitationRecord, type MailboxRecord, type MessageRecord,
} from './state.js';
import { LocalStore, type StoreOp } from './store.js';
import type {
  ClientEvents, ClientOptions, ClientStats, Contact, DropReason, HistoryEntry, Message, RecipientOutcome, SentMessage, SentToMany,
} from './types.js';

const MAINTENANCE_INTERVAL_MS = 60_000;
const DEFAULT_ROTATION_GRACE_MS = 7 * 24 * 3600_000;
/** Relay TTL of envelopes in an invitation mailbox beyond the invitation's own expiry. */
const INVITATION_MAILBOX_SLACK_SECONDS = 3600;
const MAX_TEXT_BYTES = 60_000;

const newLocalId = (): string => toBase64url(randomBytes(9));
const DROP_REASONS: readonly DropReason[] = ['delivery', 'undecryptable', 'unknown-sender', 'malformed', 'replay', 'ratchet', 'expired'];

function checkText(text: unknown): asserts text is string {
  if (typeof text !== 'string') throw new ClientError('INVALID_ARGUMENT', 'text must be a string');
  if (new TextEncoder().encode(text).length > MAX_TEXT_BYTES) throw new ClientError('MESSAGE_TOO_LARGE', `texts are limited to ${MAX_TEXT_BYTES} bytes`);
}

interface Handled {
  ops: StoreOp[];
  after: Array<() => void>;
}

export class Client extends Emitter<ClientEvents> {
  private readonly contactsById = new Map<string, ContactRecord>();
  private readonly sessions = new Map<string, Session>();
  private readonly mailboxes = new Map<string, MailboxRecord>();
  private readonly invitations = new Map<string, InvitationRecord>();
  private readonly links = new Map<string, ReadLink>();
  private readonly acceptWaiters = new Map<string, { resolve(c: Contact): void; reject(e: Error): void }>();
  private readonly pool = new SendPool();
  private readonly outbox: Outbox;
  /** Per contact: ratchet step → outbox, one send at a time (spec/client.md §9.4). */
  private readonly outgoing = new KeyedSerial();
  private readonly sealer: FanoutSealer;
  private readonly receipts: ReceiptBatcher | null;
  private inbound: Promise<void> = Promise.resolve();
  private maintenanceTimer: ReturnType<typeof setInterval> | null = null;
  private messageSeq = 1;
  private closed = false;
  private readonly counters = { received: 0, sent: 0, errors: 0, dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number> };

  private constructor(
    private readonly store: LocalStore,
    private readonly identity: Identity,
    private homeRelay: string,
    private readonly opts: ClientOptions,
  ) {
    super();
    this.outbox = new Outbox(store, this.pool, {
      onSent: () => { this.counters.sent++; },
    });
    this.sealer = new FanoutSealer(opts);
    this.receipts = opts.receipts === true
      ? new ReceiptBatcher(opts.receiptDelayMs ?? { min: 5_000, max: 60_000 }, (contactId, ids) => { void this.sendReceipt(contactId, ids); })
      : null;
  }

  /** Opens (or creates) the profile in `dataDir`; WRONG_PASSPHRASE if the passphrase does not open it. */
  static async open(opts: ClientOptions): Promise<Client> {
    if (!opts || typeof opts.dataDir !== 'string' || opts.dataDir === '') throw new ClientError('INVALID_ARGUMENT', 'dataDir is required');
    checkFanoutOptions(opts);
    if (opts.relay !== undefined) {
      try { parseRelayAddress(opts.relay); } catch (e) { throw new ClientError('INVALID_ARGUMENT', 'relay is not a relay address', { cause: e }); }
    }
    const store = await LocalStore.open({ dir: opts.dataDir, passphrase: opts.passphrase, ...(opts.kdf ? { kdf: opts.kdf } : {}) });
    try {
      let rec = store.get(KIND.identity, 'self') ? decodeRecord<IdentityRecord>(store.get(KIND.identity, 'self')!) : null;
      if (!rec) {
        if (!opts.relay) throw new ClientError('INVALID_ARGUMENT', 'a new profile needs a relay address');
        const id = newIdentity();
        rec = { signSeed: id.sign.seed, dhSecret: id.dh.secretKey, homeRelay: opts.relay, createdAt: Date.now() };
        await store.write([put(KIND.identity, 'self', rec)]);
      } else if (opts.relay && opts.relay !== rec.homeRelay) {
        rec = { ...rec, homeRelay: opts.relay };
        await store.write([put(KIND.identity, 'self', rec)]);
      }
      const client = new Client(store, identityFromRecord(rec), rec.homeRelay, opts);
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
  get identityKey(): string { return toBase64url(this.identity.publicKey); }
  get relay(): string { return this.homeRelay; }

  /**
   * A one-time invitation link (spec/client.md §3): makes a private mailbox for it on the
   * home relay and a one-time X25519 key. `name` labels the contact who accepts it.
   */
  async createInvitation(opts: { ttlSeconds?: number; name?: string } = {}): Promise<string> {
    this.assertOpen();
    const ttl = opts.ttlSeconds ?? DEFAULT_INVITATION_TTL_SECONDS;
    if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > 30 * 24 * 3600) throw new ClientError('INVALID_ARGUMENT', 'ttlSeconds must be 1 .. 30 days');
    const keys = newMailboxKeys();
    await this.link(this.homeRelay).create(keys, Math.max(60, ttl + INVITATION_MAILBOX_SLACK_SECONDS), this.relayTimeout);
    const invKey = x25519KeyPair();
    const expiresAt = Math.floor(Date.now() / 1000) + ttl;
    const payload = encodeInvitation({
      inviter: this.identity.publicKey, binding: this.identity.binding, invitationKey: invKey.publicKey, expiresAt,
      relay: this.homeRelay, mailboxKey: keys.mailboxKey, accessKey: keys.accessKey!,
    });
    const inv: InvitationRecord = { id: newLocalId(), payload, invitationSecret: invKey.secretKey, mailboxId: newLocalId(), expiresAt, name: opts.name ?? null };
    const mb: MailboxRecord = { id: inv.mailboxId, address: this.homeRelay, keys, role: 'invitation', ownerId: inv.id, status: 'active', createdAt: Date.now(), seen: [] };
    this.invitations.set(inv.id, inv);
    this.addMailbox(mb);
    await this.store.write([put(KIND.invitation, inv.id, inv), put(KIND.mailbox, mb.id, mb)]);
    return formatInvitationLink(payload);
  }

  /**
   * Accepts an invitation (spec/client.md §4): sends the handshake to the inviter's one-time
   * mailbox and resolves once the inviter's answer has arrived, i.e. both sides share a
   * session. HANDSHAKE_TIMEOUT if it does not arrive in time (the contact may still complete
   * later, with a 'contact' event).
   */
  async acceptInvitation(link: string, opts: { name?: string; timeoutMs?: number } = {}): Promise<Contact> {
    this.assertOpen();
    const { invitation: inv, payload } = parseInvitationLink(link);
    checkNotExpired(inv, Date.now());
    if (sameIdentity(inv.inviter, this.identity.publicKey)) throw new ClientError('OWN_INVITATION', 'this invitation was made by this identity');
    const acceptedId = toHex(sha256(payload));
    if (this.store.get(KIND.accepted, acceptedId)) throw new ClientError('INVITATION_USED', 'this invitation was already accepted');

    const keys = newMailboxKeys();
    await this.link(this.homeRelay).create(keys, 0, this.relayTimeout);
    const ephemeral = x25519KeyPair();
    const helloBody = encodeHello({ identity: this.identity.publicKey, binding: this.identity.binding, ephemeralKey: ephemeral.publicKey, capability: sendCapability(this.homeRelay, keys) });
    const th = transcriptHash(payload, helloBody);
    const sk = acceptorSecret(this.identity, ephemeral, inv.inviter, inv.invitationKey, th);
    const session = startResponder(sk, th, ephemeral);

    const contact: ContactRecord = {
      id: newLocalId(), name: this.uniqueName(opts.name), identity: inv.inviter, transcriptHash: th,
      safetyCode: safetyCode(this.identity.publicKey, inv.inviter, th), verified: false, established: false, role: 'acceptor',
      inboxId: newLocalId(), nextInboxId: null, rotatedAt: null, peer: null, createdAt: Date.now(),
    };
    const mb: MailboxRecord = { id: contact.inboxId, address: this.homeRelay, keys, role: 'contact', ownerId: contact.id, status: 'active', createdAt: Date.now(), seen: [] };
    this.contactsById.set(contact.id, contact);
    this.sessions.set(contact.id, session);
    this.addMailbox(mb);
    const established = new Promise<Contact>((resolve, reject) => this.acceptWaiters.set(contact.id, { resolve, reject }));
    established.catch(() => undefined);
    await this.store.write([
      put(KIND.contact, contact.id, contact), this.sessionOp(contact.id), put(KIND.mailbox, mb.id, mb),
      put(KIND.accepted, acceptedId, { contactId: contact.id }),
    ]);

    const envelope = sealEnvelope({ mailboxKey: inv.mailboxKey, sender: this.identity.dh, body: helloBody });
    try {
      await this.sendWithRetry(invitationCapability(inv), envelope);
    } catch (e) {
      await this.forgetContact(contact.id);
      if (classifySendError(e) === 'permanent') throw new ClientError('INVITATION_USED', 'the invitation mailbox is gone: the invitation was used or withdrawn', { cause: e });
      throw isClientError(e) ? e : new ClientError('RELAY_UNAVAILABLE', 'could not reach the inviter\'s relay', { cause: e });
    }

    const timeoutMs = opts.timeoutMs ?? this.opts.handshakeTimeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        established,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ClientError('HANDSHAKE_TIMEOUT', 'the inviter has not answered yet; the contact completes when it does')), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.acceptWaiters.delete(contact.id);
    }
  }

  /** Marks a contact verified when `code` is its safety code; SAFETY_CODE_MISMATCH otherwise (nothing changes). */
  async verifyContact(contactId: string, code: string): Promise<Contact> {
    const c = this.requireContact(contactId);
    if (typeof code !== 'string' || !safetyCodesMatch(c.safetyCode, code)) {
      throw new ClientError('SAFETY_CODE_MISMATCH', 'the code does not match: do not trust this contact until you know why');
    }
    if (!c.verified) {
      c.verified = true;
      await this.store.write([put(KIND.contact, c.id, c)]);
      this.emit('contact', this.view(c));
    }
    return this.view(c);
  }

  async renameContact(contactId: string, name: string): Promise<Contact> {
    const c = this.requireContact(contactId);
    if (typeof name !== 'string' || name.trim() === '') throw new ClientError('INVALID_ARGUMENT', 'a name must not be empty');
    c.name = name.trim();
    await this.store.write([put(KIND.contact, c.id, c)]);
    return this.view(c);
  }

  /** Sends a text; resolves when the relay has durably accepted the envelope (spec/protocol.md §5.10). */
  async send(contactId: string, text: string): Promise<SentMessage> {
    this.assertOpen();
    checkText(text);
    const c = this.requireContact(contactId);
    const payload = newPayload({ type: 'text', text });
    const extra: StoreOp[] = [];
    if (this.keepHistory) {
      const rec: MessageRecord = { seq: this.messageSeq++, contactId: c.id, id: toBase64url(payload.id), direction: 'out', text, sentAt: payload.sentAt, receivedAt: payload.sentAt, verified: c.verified };
      extra.push(put(KIND.message, `${c.id}:${rec.seq}`, rec));
    }
    await this.sendPayload(c, payload, extra);
    return { id: toBase64url(payload.id), sentAt: payload.sentAt };
  }

  /**
   * Sends one text to many contacts (spec/client.md §9.4): a ratchet message each, sealed in one
   * batch on the crypto pool, queued in order. Resolves when every argument has its outcome,
   * `results[i]` for `contactIds[i]` (relay accepted, or why not): one contact's failure never
   * fails the others, and a contact named twice gets the message once.
   */
  async sendToMany(contactIds: readonly string[], text: string): Promise<SentToMany> {
    this.assertOpen();
    checkText(text);
    if (!Array.isArray(contactIds) || contactIds.length > MAX_FANOUT) throw new ClientError('INVALID_ARGUMENT', `contactIds must be an array of at most ${MAX_FANOUT}`);
    const payload = newPayload({ type: 'text', text });
    const { targets, slots } = planFanout(contactIds, (x) => this.findContact(x));
    const seq = this.messageSeq; // history order is call order, as for send()
    this.messageSeq += targets.length;
    const queued = await this.outgoing.run(targets.map((c) => c.id), () => this.fanOut(targets, payload, text, seq));
    const settled = await Promise.all(queued.map((q) => (q instanceof ClientError ? q : q.then(() => null, (e: unknown) =>
      isClientError(e) ? e : new ClientError('RELAY_UNAVAILABLE', 'the envelope was not sent', { cause: e })))));
    const results = slots.map((s, i): RecipientOutcome => {
      const error = typeof s === 'number' ? settled[s] : s;
      return error ? { contactId: String(contactIds[i]), ok: false, error } : { contactId: String(contactIds[i]), ok: true };
    });
    return { id: toBase64url(payload.id), sentAt: payload.sentAt, results };
  }

  /**
   * Moves a contact to a new mailbox of ours (spec/client.md §8.2): creates it, tells the
   * contact in the ratchet, and deletes the old one once the contact has written to the new
   * one (or after the grace period). Resolves when the relay has accepted the notice.
   */
  async rotateMailbox(contactId: string): Promise<void> {
    this.assertOpen();
    const c = this.requireContact(contactId);
    if (c.nextInboxId) return; // a rotation is already under way
    const keys = newMailboxKeys();
    await this.link(this.homeRelay).create(keys, 0, this.relayTimeout);
    const mb: MailboxRecord = { id: newLocalId(), address: this.homeRelay, keys, role: 'contact', ownerId: c.id, status: 'active', createdAt: Date.now(), seen: [] };
    this.addMailbox(mb);
    c.nextInboxId = mb.id;
    c.rotatedAt = Date.now();
    await this.sendPayload(c, newPayload({ type: 'rotate-mailbox', capability: sendCapability(this.homeRelay, keys) }), [put(KIND.mailbox, mb.id, mb), put(KIND.contact, c.id, c)]);
  }

  contacts(): Contact[] {
    return [...this.contactsById.values()].sort((a, b) => a.createdAt - b.createdAt).map((c) => this.view(c));
  }

  /** A contact by id, or by its (case-insensitive) name. */
  contact(idOrName: string): Contact | undefined {
    const c = this.findContact(idOrName);
    return c ? this.view(c) : undefined;
  }

  /** Stored texts with a contact, oldest first (empty when keepHistory is false). */
  history(contactId: string): HistoryEntry[] {
    const c = this.requireContact(contactId);
    return loadAll<MessageRecord>(this.store, KIND.message)
      .filter((m) => m.contactId === c.id)
      .sort((a, b) => a.seq - b.seq)
      .map(({ seq: _s, ...m }) => m);
  }

  stats(): ClientStats {
    const d = this.counters.dropped;
    return {
      dropped: { ...d, total: DROP_REASONS.reduce((a, r) => a + d[r], 0) },
      received: this.counters.received, sent: this.counters.sent, errors: this.counters.errors,
      outboxPending: this.outbox.size, online: this.link(this.homeRelay).online,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    this.receipts?.close();
    for (const w of this.acceptWaiters.values()) w.reject(new ClientError('CLOSED', 'the client was closed'));
    this.acceptWaiters.clear();
    const drained = this.outbox.close();
    await Promise.all([this.pool.close(), this.sealer.close(), ...[...this.links.values()].map((l) => l.close())]);
    await drained;
    await this.inbound.catch(() => undefined);
    await this.store.close();
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
  } {
    return {
      peerCapability: (id) => this.requireContact(id).peer,
      inboxKeys: (id) => this.mailboxes.get(this.requireContact(id).inboxId)?.keys,
      exportSession: (id) => encodeSession(this.sessions.get(id)!),
      identityDh: this.identity.dh,
      onSent: (fn) => { this.sentTaps.push(fn); },
      mailboxCount: () => this.mailboxes.size,
    };
  }
  private readonly sentTaps: Array<(e: OutboxEntry) => void> = [];

  // ---- loading and links ------------------------------------------------------------------

  private get relayTimeout(): number { return this.opts.relayTimeoutMs ?? 10_000; }
  private get keepHistory(): boolean { return this.opts.keepHistory !== false; }

  private load(): void {
    for (const c of loadAll<ContactRecord>(this.store, KIND.contact)) this.contactsById.set(c.id, c);
    for (const [id, v] of this.store.entries(KIND.session)) this.sessions.set(id, decodeSession(decodeRecord<{ state: Uint8Array }>(v).state));
    for (const i of loadAll<InvitationRecord>(this.store, KIND.invitation)) this.invitations.set(i.id, i);
    for (const m of loadAll<MailboxRecord>(this.store, KIND.mailbox)) this.mailboxes.set(m.id, m);
    for (const m of loadAll<MessageRecord>(this.store, KIND.message)) this.messageSeq = Math.max(this.messageSeq, m.seq + 1);
  }

  private start(): void {
    this.link(this.homeRelay);
    for (const mb of this.mailboxes.values()) if (mb.status !== 'deleting') this.link(mb.address).track(mb.keys);
    for (const l of this.links.values()) l.start();
    this.outbox.kick();
    // outbox taps for tests
    this.maintenanceTimer = setInterval(() => { void this.maintain(); }, MAINTENANCE_INTERVAL_MS);
    this.maintenanceTimer.unref?.();
    void this.maintain();
  }

  private link(address: string): ReadLink {
    let l = this.links.get(address);
    if (!l) {
      l = new ReadLink(address, {
        onMessage: (conn, keys, msg) => this.enqueueInbound(() => this.handleMsg(conn, keys, msg)),
        onLost: (keys) => this.enqueueInbound(() => this.mailboxLost(keys)),
        onState: (online) => { if (address === this.homeRelay) this.emit('connection', { online }); },
      });
      this.links.set(address, l);
      if (this.maintenanceTimer) l.start();
    }
    return l;
  }

  private addMailbox(mb: MailboxRecord): void {
    this.mailboxes.set(mb.id, mb);
    this.link(mb.address).track(mb.keys);
  }

  private mailboxByReadId(readId: Uint8Array): MailboxRecord | undefined {
    for (const m of this.mailboxes.values()) if (equalBytes(m.keys.readId, readId)) return m;
    return undefined;
  }

  private enqueueInbound(task: () => Promise<void>): void {
    this.inbound = this.inbound.then(async () => {
      if (this.closed) return;
      try {
        await task();
      } catch {
        this.counters.errors++; // left unacknowledged: the relay delivers it again after a reconnect
      }
    });
  }

  // ---- incoming -----------------------------------------------------------------------------

  private async handleMsg(conn: RelayConnection, keys: MailboxKeys, msg: MsgFrame): Promise<void> {
    const mb = this.mailboxByReadId(keys.readId);
    if (!mb) return;
    let delivered: Delivered;
    try {
      delivered = openDelivered(conn, keys, msg);
    } catch {
      return this.finish(conn, mb, msg.msgId, this.dropped('delivery'));
    }
    await this.handleDelivered(conn, mb, delivered);
  }

  /** `conn` is the connection that delivered the envelope; its ACK goes there. */
  private async handleDelivered(conn: RelayConnection, mb: MailboxRecord, d: Delivered): Promise<void> {
    if (mb.seen.includes(d.msgId)) {
      await this.link(mb.address).ack(conn, mb.keys, d.msgId);
      return;
    }
    let opened: { senderKey: X25519PublicKey; body: Uint8Array };
    try {
      opened = openEnvelope({ mailboxSecret: mb.keys.mailboxSecret, mailboxKey: mb.keys.mailboxKey, envelope: d.envelope });
    } catch {
      return this.finish(conn, mb, d.msgId, this.dropped('undecryptable'));
    }
    const result = mb.role === 'invitation' ? await this.handleHello(mb, opened, d) : this.handleRatchet(mb, opened);
    await this.finish(conn, mb, d.msgId, result);
  }

  /** Writes the result with the msgId marked seen, then ACKs, then runs the after-commit effects. */
  private async finish(conn: RelayConnection, mb: MailboxRecord, msgId: number, h: Handled): Promise<void> {
    if (this.mailboxes.get(mb.id) === mb) {
      mb.seen.push(msgId);
      if (mb.seen.length > SEEN_WINDOW) mb.seen.splice(0, mb.seen.length - SEEN_WINDOW);
      h.ops.push(put(KIND.mailbox, mb.id, mb));
    }
    await this.store.write(h.ops);
    await this.link(mb.address).ack(conn, mb.keys, msgId).catch(() => undefined);
    for (const f of h.after) f();
  }

  private dropped(reason: DropReason, ops: StoreOp[] = []): Handled {
    this.counters.dropped[reason]++;
    return { ops, after: [() => this.emit('dropped', { reason })] };
  }

  /** Alice: a handshake on an invitation mailbox (spec/client.md §4.2). */
  private async handleHello(mb: MailboxRecord, opened: { senderKey: X25519PublicKey; body: Uint8Array }, d: Delivered): Promise<Handled> {
    const inv = this.invitations.get(mb.ownerId);
    if (!inv || mb.status !== 'active') return this.dropped('replay');
    if (d.receivedAtMinutes * 60 > inv.expiresAt) return this.dropped('expired');
    let hello;
    try { hello = decodeHello(opened.body); } catch { return this.dropped('malformed'); }
    if (!equalBytes(dhKeyOf(hello.identity), opened.senderKey)) return this.dropped('unknown-sender');
    if (sameIdentity(hello.identity, this.identity.publicKey)) return this.dropped('malformed');

    const th = transcriptHash(inv.payload, opened.body);
    const sk = inviterSecret(this.identity, inv.invitationSecret as X25519SecretKey, hello, th);
    const keys = newMailboxKeys();
    await this.link(this.homeRelay).create(keys, 0, this.relayTimeout);
    const session = startInitiator(sk, th, hello.ephemeralKey);
    const contact: ContactRecord = {
      id: newLocalId(), name: this.uniqueName(inv.name ?? undefined), identity: hello.identity, transcriptHash: th,
      safetyCode: safetyCode(this.identity.publicKey, hello.identity, th), verified: false, established: true, role: 'inviter',
      inboxId: newLocalId(), nextInboxId: null, rotatedAt: null, peer: hello.capability, createdAt: Date.now(),
    };
    const inbox: MailboxRecord = { id: contact.inboxId, address: this.homeRelay, keys, role: 'contact', ownerId: contact.id, status: 'active', createdAt: Date.now(), seen: [] };
    this.contactsById.set(contact.id, contact);
    this.sessions.set(contact.id, session);
    this.addMailbox(inbox);
    const { entry, op } = this.sealPayload(contact, newPayload({ type: 'confirm', capability: sendCapability(this.homeRelay, keys) }));
    // One-time: the invitation is consumed now; its mailbox is deleted after the commit.
    this.invitations.delete(inv.id);
    mb.status = 'deleting';
    const ops = [put(KIND.contact, contact.id, contact), this.sessionOp(contact.id), put(KIND.mailbox, inbox.id, inbox), op, del(KIND.invitation, inv.id)];
    return {
      ops,
      after: [
        () => { this.submit(entry); },
        () => { void this.deleteMailbox(mb); },
        () => this.emit('contact', this.view(contact)),
      ],
    };
  }

  /** A ratchet message on a contact mailbox (spec/client.md §5, §6). */
  private handleRatchet(mb: MailboxRecord, opened: { senderKey: X25519PublicKey; body: Uint8Array }): Handled {
    const c = this.contactsById.get(mb.ownerId);
    if (!c || !equalBytes(opened.senderKey, dhKeyOf(c.identity))) return this.dropped('unknown-sender');
    if (opened.body.length < 1 || opened.body[0] !== BODY_RATCHET) return this.dropped('malformed');
    const current = this.sessions.get(c.id);
    if (!current) return this.dropped('unknown-sender');
    // Decrypt on a copy: a refused message must leave the session as it was.
    const session = decodeSession(encodeSession(current));
    let plaintext: Uint8Array;
    try {
      plaintext = sessionDecrypt(session, opened.body.subarray(1));
    } catch (e) {
      return this.dropped(e instanceof SessionError && e.reason === 'replay' ? 'replay' : 'ratchet');
    }
    this.sessions.set(c.id, session);
    const ops: StoreOp[] = [this.sessionOp(c.id)];
    const after: Array<() => void> = [];
    let payload: Payload;
    try {
      payload = decodePayload(plaintext);
    } catch (e) {
      if (!(e instanceof MalformedError)) throw e;
      return this.dropped('malformed', ops);
    }
    this.counters.received++;
    // The contact wrote to our new mailbox: it has switched, so the old one can go (§8.2).
    if (c.nextInboxId === mb.id) {
      const old = this.mailboxes.get(c.inboxId);
      c.inboxId = mb.id;
      c.nextInboxId = null;
      c.rotatedAt = null;
      if (old) {
        old.status = 'retiring';
        ops.push(put(KIND.mailbox, old.id, old));
        after.push(() => this.enqueueInbound(() => this.retire(old)));
      }
    }
    switch (payload.type) {
      case 'text': {
        const m: Message = { contactId: c.id, id: toBase64url(payload.id), text: payload.text, sentAt: payload.sentAt, receivedAt: Date.now(), verified: c.verified };
        if (this.keepHistory) ops.push(put(KIND.message, `${c.id}:${this.messageSeq}`, { seq: this.messageSeq++, direction: 'in', ...m } satisfies MessageRecord));
        after.push(() => this.emit('message', m));
        if (this.receipts) { const r = this.receipts; after.push(() => r.add(c.id, payload.id)); }
        break;
      }
      case 'receipt':
        after.push(() => this.emit('receipt', { contactId: c.id, ids: payload.ids.map(toBase64url) }));
        break;
      case 'rotate-mailbox':
        c.peer = payload.capability;
        break;
      case 'confirm':
        if (!c.established) {
          c.peer = payload.capability;
          c.established = true;
          after.push(() => {
            const v = this.view(c);
            this.acceptWaiters.get(c.id)?.resolve(v);
            this.emit('contact', v);
          });
        }
        break;
    }
    ops.push(put(KIND.contact, c.id, c));
    return { ops, after };
  }

  /** Drains a replaced mailbox with FETCH, then deletes it (spec/client.md §8.2). */
  private async retire(mb: MailboxRecord): Promise<void> {
    if (mb.status !== 'retiring' || this.mailboxes.get(mb.id) !== mb) return; // done already
    const l = this.link(mb.address);
    for (let i = 0; i < 10_000; i++) {
      const { conn, delivered } = await l.fetch(mb.keys, this.relayTimeout);
      if (!delivered) break;
      await this.handleDelivered(conn, mb, delivered);
    }
    mb.status = 'deleting';
    await this.store.write([put(KIND.mailbox, mb.id, mb)]);
    await this.deleteMailbox(mb);
  }

  private async mailboxLost(keys: MailboxKeys): Promise<void> {
    const mb = this.mailboxByReadId(keys.readId);
    if (!mb) return;
    this.mailboxes.delete(mb.id);
    await this.store.write([del(KIND.mailbox, mb.id)]);
  }

  private async deleteMailbox(mb: MailboxRecord): Promise<void> {
    try {
      await this.link(mb.address).remove(mb.keys, this.relayTimeout);
    } catch {
      return; // retried by maintain()
    }
    this.mailboxes.delete(mb.id);
    if (!this.closed) await this.store.write([del(KIND.mailbox, mb.id)]);
  }

  /** Periodic: expired invitations, rotation grace periods, deletions that failed. */
  private async maintain(): Promise<void> {
    if (this.closed) return;
    const now = Date.now();
    for (const inv of [...this.invitations.values()]) {
      if (inv.expiresAt * 1000 + INVITATION_MAILBOX_SLACK_SECONDS * 1000 < now) {
        this.invitations.delete(inv.id);
        const mb = this.mailboxes.get(inv.mailboxId);
        const ops: StoreOp[] = [del(KIND.invitation, inv.id)];
        if (mb) { mb.status = 'deleting'; ops.push(put(KIND.mailbox, mb.id, mb)); }
        await this.store.write(ops).catch(() => undefined);
      }
    }
    const grace = this.opts.rotationGraceMs ?? DEFAULT_ROTATION_GRACE_MS;
    for (const c of this.contactsById.values()) {
      if (c.nextInboxId && c.rotatedAt !== null && c.rotatedAt + grace < now) {
        const old = this.mailboxes.get(c.inboxId);
        c.inboxId = c.nextInboxId;
        c.nextInboxId = null;
        c.rotatedAt = null;
        const ops: StoreOp[] = [put(KIND.contact, c.id, c)];
        if (old) { old.status = 'retiring'; ops.push(put(KIND.mailbox, old.id, old)); }
        await this.store.write(ops).catch(() => undefined);
      }
    }
    for (const mb of [...this.mailboxes.values()]) {
      if (mb.status === 'retiring') this.enqueueInbound(() => this.retire(mb));
      else if (mb.status === 'deleting') void this.deleteMailbox(mb);
    }
  }

  // ---- outgoing -----------------------------------------------------------------------------

  /** Ratchet-encrypts and seals one payload to the contact's mailbox; the outbox entry and its store op. */
  private sealPayload(c: ContactRecord, payload: Payload): { entry: OutboxEntry; op: StoreOp } {
    if (!c.peer) throw new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
    const session = this.sessions.get(c.id)!;
    const message = sessionEncrypt(session, encodePayload(payload));
    const envelope = sealEnvelope({ mailboxKey: c.peer.mailboxKey, sender: this.identity.dh, body: concat(new Uint8Array([BODY_RATCHET]), message) });
    return this.outbox.prepare(c.id, c.peer, envelope);
  }

  private async sendPayload(c: ContactRecord, payload: Payload, extra: StoreOp[] = []): Promise<void> {
    const queued = await this.outgoing.run([c.id], async () => {
      const { entry, op } = this.sealPayload(c, payload);
      await this.store.write([this.sessionOp(c.id), op, ...extra]);
      return [this.submit(entry)]; // in an array: the section ends at the outbox, not at the relay's OK
    });
    await queued[0];
  }

  /**
   * A fan-out's section, holding all its contacts (spec/client.md §9.4): a ratchet step each,
   * one sealing batch, one store write, then the outbox in order. Per target: the outbox's
   * promise, or the error that kept it from the outbox.
   */
  private async fanOut(targets: readonly ContactRecord[], payload: Payload, text: string, seq: number): Promise<Array<Promise<void> | ClientError>> {
    const out: Array<Promise<void> | ClientError> = new Array(targets.length);
    const plaintext = encodePayload(payload);
    const ready: Array<{ i: number; c: ContactRecord; peer: SendCapability }> = [];
    const seal: SealTarget[] = [];
    targets.forEach((c, i) => {
      if (this.contactsById.get(c.id) !== c) out[i] = new ClientError('UNKNOWN_CONTACT', 'the contact was deleted');
      else if (!c.peer) out[i] = new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
      else {
        ready.push({ i, c, peer: c.peer });
        seal.push({ mailboxKey: c.peer.mailboxKey, body: concat(new Uint8Array([BODY_RATCHET]), sessionEncrypt(this.sessions.get(c.id)!, plaintext)) });
      }
    });
    const sealed = await this.sealer.seal(this.identity.dh, seal);
    this.assertOpen();
    const ops: StoreOp[] = [];
    const entries: Array<{ i: number; entry: OutboxEntry }> = [];
    ready.forEach(({ i, c, peer }, k) => {
      if (this.contactsById.get(c.id) !== c) { out[i] = new ClientError('UNKNOWN_CONTACT', 'the contact was deleted'); return; }
      ops.push(this.sessionOp(c.id)); // kept even if sealing failed: a message key is never used twice
      const r = sealed[k]!;
      if (!r.ok) { out[i] = new ClientError('SEND_REJECTED', `the contact's mailbox key cannot be sealed to (${r.error})`); return; }
      const { entry, op } = this.outbox.prepare(c.id, peer, r.value);
      ops.push(op);
      entries.push({ i, entry });
      if (this.keepHistory) {
        const rec: MessageRecord = { seq: seq + i, contactId: c.id, id: toBase64url(payload.id), direction: 'out', text, sentAt: payload.sentAt, receivedAt: payload.sentAt, verified: c.verified };
        ops.push(put(KIND.message, `${c.id}:${rec.seq}`, rec));
      }
    });
    await this.store.write(ops);
    for (const { i, entry } of entries) out[i] = this.submit(entry);
    return out;
  }

  private submit(entry: OutboxEntry): Promise<void> {
    const p = this.outbox.submit(entry);
    p.then(() => { for (const t of this.sentTaps) t(entry); }, () => undefined);
    return p;
  }

  private async sendReceipt(contactId: string, ids: Uint8Array[]): Promise<void> {
    const c = this.contactsById.get(contactId);
    if (!c || this.closed) return;
    for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
      const content: PayloadContent = { type: 'receipt', ids: ids.slice(i, i + MAX_RECEIPT_IDS) };
      await this.sendPayload(c, newPayload(content)).catch(() => undefined);
    }
  }

  /** A direct SEND (the handshake), retrying transient failures until the relay timeout. */
  private async sendWithRetry(cap: SendCapability, envelope: Uint8Array): Promise<void> {
    const deadline = Date.now() + this.relayTimeout;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.pool.send(cap, envelope, this.relayTimeout);
      } catch (e) {
        if (classifySendError(e) === 'permanent' || Date.now() + 200 * 2 ** attempt > deadline || this.closed) throw e;
        await new Promise((r) => setTimeout(r, Math.min(2_000, 200 * 2 ** attempt)));
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private sessionOp(contactId: string): StoreOp {
    return put(KIND.session, contactId, { state: encodeSession(this.sessions.get(contactId)!) });
  }

  private async forgetContact(contactId: string): Promise<void> {
    const c = this.contactsById.get(contactId);
    if (!c) return;
    this.contactsById.delete(contactId);
    this.sessions.delete(contactId);
    const ops: StoreOp[] = [del(KIND.contact, contactId), del(KIND.session, contactId), ...this.outbox.dropContact(contactId)];
    for (const mb of [...this.mailboxes.values()]) {
      if (mb.role === 'contact' && mb.ownerId === contactId) { mb.status = 'deleting'; ops.push(put(KIND.mailbox, mb.id, mb)); }
    }
    for (const [id, v] of this.store.entries(KIND.accepted)) {
      if (decodeRecord<{ contactId: string }>(v).contactId === contactId) ops.push(del(KIND.accepted, id));
    }
    await this.store.write(ops);
    for (const mb of [...this.mailboxes.values()]) if (mb.ownerId === contactId) void this.deleteMailbox(mb);
  }

  private view(c: ContactRecord): Contact {
    return { id: c.id, name: c.name, safetyCode: c.safetyCode, verified: c.verified, established: c.established };
  }

  private findContact(idOrName: string): ContactRecord | undefined {
    const byId = this.contactsById.get(idOrName);
    if (byId) return byId;
    const lower = idOrName.toLowerCase();
    return [...this.contactsById.values()].find((c) => c.name.toLowerCase() === lower);
  }

  private requireContact(idOrName: string): ContactRecord {
    const c = typeof idOrName === 'string' ? this.findContact(idOrName) : undefined;
    if (!c) throw new ClientError('UNKNOWN_CONTACT', 'no such contact');
    return c;
  }

  private uniqueName(wanted: string | undefined): string {
    const taken = new Set([...this.contactsById.values()].map((c) => c.name.toLowerCase()));
    if (wanted && wanted.trim() && !taken.has(wanted.trim().toLowerCase())) return wanted.trim();
    const base = wanted?.trim() || 'contact';
    for (let n = 1; ; n++) if (!taken.has(`${base}-${n}`.toLowerCase())) return `${base}-${n}`;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClientError('CLOSED', 'the client is closed');
  }
}
