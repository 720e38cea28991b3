// The state every part of the client shares (spec/client.md), the way the relay's handlers
// share a RelayContext: the profile store and identity, contacts, sessions, mailboxes, the
// links that read them, the outbox, counters and the event sink. The parts (invitations,
// receiving, rotation, sending, contacts) are functions over it; `Client` is their front.
import { randomBytes, toBase64url } from '../crypto/index.js';
import type { MsgFrame } from '../wire/index.js';
import type { RelayConnection } from './connection.js';
import { ClientError } from './errors.js';
import type { FanoutSealer } from './fanout.js';
import type { Identity } from './identity.js';
import type { MailboxKeys } from './mailbox.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { Platform } from './platform.js';
import type { ProfileStore, StoreOp } from './profile-store.js';
import { ReadLink } from './read-link.js';
import type { TokenWallet } from './admission.js';
import type { ReceiptBatcher } from './receipts.js';
import { SeenSet } from './seen-set.js';
import type { SendPool } from './send-pool.js';
import { InboundBudget } from './inbound-budget.js';
import { KeyedSerial } from './serial.js';
import { GroupsState } from './groups-state.js';
import type { Session } from './session.js';
import { del, KIND, put, putLatest, SELF, type AccountRecord, type ChannelRecord, type ContactRecord, type InvitationRecord, type MailboxRecord } from './state.js';
import type { DeviceList } from './device-list.js';
import type { ClientEvents, ClientOptions, Contact, DropReason } from './types.js';
import { encodeSession } from './session.js';
import { timerView } from './timer-rules.js';
import { wipeState } from '../ratchet/index.js';

/** Tasks queued or running per mailbox in `serial` (spec/client.md §6.4). */
export const MAX_SERIAL_PER_MAILBOX = 1024;

export const DROP_REASONS: readonly DropReason[] = ['delivery', 'undecryptable', 'unknown-sender', 'malformed', 'replay', 'ratchet', 'expired'];

export const newLocalId = (): string => toBase64url(randomBytes(9));

/** What the links report, handled by the receiving part (spec/client.md §6). */
export interface InboundHandlers {
  onMessage(conn: RelayConnection, keys: MailboxKeys, msg: MsgFrame): void;
  onLost(keys: MailboxKeys): void;
}

export interface ContextParts {
  readonly platform: Platform;
  readonly store: ProfileStore;
  readonly identity: Identity;
  readonly homeRelay: string;
  readonly opts: ClientOptions;
  readonly emit: <K extends keyof ClientEvents>(event: K, arg: ClientEvents[K]) => void;
  readonly senders: SendPool;
  readonly sealer: FanoutSealer;
}

export class ClientContext {
  readonly platform: Platform;
  readonly store: ProfileStore;
  readonly identity: Identity;
  readonly homeRelay: string;
  readonly opts: ClientOptions;
  readonly emit: ContextParts['emit'];
  readonly senders: SendPool;
  readonly sealer: FanoutSealer;

  /** People (spec/devices.md §4), by id. */
  readonly contacts = new Map<string, ContactRecord>();
  /** One ratchet channel per device of a contact or of ours, by id. */
  readonly channels = new Map<string, ChannelRecord>();
  /** Our account and its current device list; null on a device that is still being linked (spec/devices.md §3). */
  account: { record: AccountRecord; publicKey: Uint8Array; list: DeviceList } | null = null;
  /** Set once this device was revoked (spec/devices.md §6): everything refuses with DEVICE_REVOKED. */
  revoked = false;
  /**
   * Introductions our own devices asked us to pass to a device we have no working channel with
   * yet (spec/devices.md §4.2), by device id: passed on when that channel starts working. In
   * memory, at most a few per device.
   */
  readonly pendingIntros = new Map<string, Uint8Array[]>();
  /** Tells our other devices about a person (contact-sync: device-sync.ts `syncContact`; set by Client). */
  syncContact: (person: ContactRecord) => void = () => undefined;
  /** Removes a device's leaves from the groups we administer (groups.ts `removeFromGroups`; set by Client). */
  removeFromGroups: (device: Uint8Array) => Promise<void> = async () => undefined;
  /** Sends our current device list on every working channel, or our own devices' (device-sync.ts; set by Client). */
  announceOwnList: (ownOnly?: boolean) => void = () => undefined;
  /** Closes the Client that owns this context (set by Client; a revoked device closes itself). */
  closeClient: () => Promise<void> = async () => undefined;
  readonly sessions = new Map<string, Session>();
  readonly mailboxes = new Map<string, MailboxRecord>();
  /** The record of each tracked mailbox by its keys object (the links report keys). */
  readonly mailboxByKeys = new Map<MailboxKeys, MailboxRecord>();
  readonly seen = new Map<string, SeenSet>();
  readonly invitations = new Map<string, InvitationRecord>();
  readonly links = new Map<string, ReadLink>();
  readonly acceptWaiters = new Map<string, { resolve(c: Contact | null): void; reject(e: Error): void }>();
  /** Handlers of the link mailboxes of a linking attempt (spec/devices.md §3), by mailbox id. */
  readonly linkHandlers = new Map<string, (opened: { senderKey: Uint8Array; body: Uint8Array }) => void>();
  /** Per contact: a fan-out's ratchet steps → outbox, ahead of later sends (spec/client.md §9.4). */
  readonly outgoing = new KeyedSerial();
  /** Per mailbox: work that must not interleave with that mailbox's messages (§6.1). */
  readonly inboundTails = new Map<string, Promise<void>>();
  /** Per mailbox: tasks queued or running in `serial` (at most MAX_SERIAL_PER_MAILBOX, §6.4). */
  readonly inboundDepth = new Map<string, number>();
  /** Envelopes received and not yet finished, per connection and in all (§6.4). */
  readonly inboundBudget = new InboundBudget();
  readonly sentTaps: Array<(e: OutboxEntry) => void> = [];
  /** Groups (spec/groups.md §13). */
  readonly groupsState = new GroupsState();
  readonly counters = {
    received: 0, sent: 0, errors: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
  };
  outbox!: Outbox;
  receipts: ReceiptBatcher | null = null;
  /** A closed deployment's policy and admission tokens (spec/client.md §10.1); null otherwise. */
  wallet: TokenWallet | null = null;
  inbound!: InboundHandlers;
  messageSeq = 1;
  started = false;
  closed = false;

  constructor(p: ContextParts) {
    this.platform = p.platform;
    this.store = p.store;
    this.identity = p.identity;
    this.homeRelay = p.homeRelay;
    this.opts = p.opts;
    this.emit = p.emit;
    this.senders = p.senders;
    this.sealer = p.sealer;
  }

  get relayTimeout(): number { return this.opts.relayTimeoutMs ?? 10_000; }
  get keepHistory(): boolean { return this.opts.keepHistory !== false; }

  assertOpen(): void {
    if (this.closed) throw new ClientError('CLOSED', 'the client is closed');
    if (this.revoked) throw new ClientError('DEVICE_REVOKED', 'this device was removed from its account by another device');
  }

  /** Our account, for what needs one (not while this device is being linked). */
  requireAccount(): NonNullable<ClientContext['account']> {
    this.assertOpen();
    if (!this.account) throw new ClientError('NOT_LINKED', 'this device is not linked to an account yet');
    return this.account;
  }

  // ---- links and mailboxes (spec/client.md §8) ----------------------------------------------

  link(address: string): ReadLink {
    let l = this.links.get(address);
    if (!l) {
      l = new ReadLink(address, this.platform.connect, {
        onMessage: (conn, keys, msg) => this.inbound.onMessage(conn, keys, msg),
        onLost: (keys) => this.inbound.onLost(keys),
        onState: (online) => { if (address === this.homeRelay) this.emit('connection', { online }); },
      }, this.relayTimeout, undefined, address === this.homeRelay && this.wallet ? this.wallet : null);
      this.links.set(address, l);
      if (this.started) l.start();
    }
    return l;
  }

  addMailbox(mb: MailboxRecord, seen: readonly number[] = []): void {
    this.mailboxes.set(mb.id, mb);
    this.mailboxByKeys.set(mb.keys, mb);
    this.seen.set(mb.id, new SeenSet(seen));
    if (mb.status !== 'deleting') this.link(mb.address).track(mb.keys);
  }

  /** The ops that forget a mailbox locally (after the relay deleted it, or lost it). */
  forgetMailbox(mb: MailboxRecord): StoreOp[] {
    this.mailboxes.delete(mb.id);
    this.mailboxByKeys.delete(mb.keys);
    this.seen.delete(mb.id);
    return [del(KIND.mailbox, mb.id), del(KIND.seen, mb.id)];
  }

  /** DEL at the relay, then forget it here; a failure is retried by maintenance (§8.2). */
  async deleteMailbox(mb: MailboxRecord): Promise<void> {
    try {
      await this.link(mb.address).remove(mb.keys);
    } catch {
      return;
    }
    const ops = this.forgetMailbox(mb);
    if (!this.closed) await this.store.write(ops).catch(() => undefined);
  }

  seenOp(mailboxId: string): StoreOp {
    return putLatest(KIND.seen, mailboxId, () => this.seen.get(mailboxId)?.list() ?? []);
  }

  // ---- contacts and sessions ------------------------------------------------------------------

  /** The session record, encoded at commit with the newest state (one encoding per commit). */
  sessionOp(contactId: string): StoreOp {
    return { kind: KIND.session, id: contactId, value: () => encodeSession(this.sessions.get(contactId)!) };
  }

  channelOp(c: ChannelRecord): StoreOp {
    return put(KIND.channel, c.id, c);
  }

  contactOp(c: ContactRecord): StoreOp {
    return put(KIND.contact, c.id, c);
  }

  /** The channels of a person (or of SELF), oldest first. */
  channelsOf(contactId: string): ChannelRecord[] {
    return [...this.channels.values()].filter((ch) => ch.contactId === contactId).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Replaces a contact's session, wiping the secrets of the one it replaces (ratchet.md §5.4). */
  setSession(contactId: string, session: Session): void {
    const old = this.sessions.get(contactId);
    if (old && old !== session) wipeState(old);
    this.sessions.set(contactId, session);
  }

  dropSession(contactId: string): void {
    const old = this.sessions.get(contactId);
    if (old) wipeState(old);
    this.sessions.delete(contactId);
  }

  findContact(idOrName: string): ContactRecord | undefined {
    const byId = this.contacts.get(idOrName);
    if (byId) return byId;
    const lower = idOrName.toLowerCase();
    for (const c of this.contacts.values()) if (c.name.toLowerCase() === lower) return c;
    return undefined;
  }

  requireContact(idOrName: unknown): ContactRecord {
    const c = typeof idOrName === 'string' ? this.findContact(idOrName) : undefined;
    if (!c) throw new ClientError('UNKNOWN_CONTACT', 'no such contact');
    return c;
  }

  /** Established: its account is known and a channel with one of its devices works. */
  isEstablished(c: ContactRecord): boolean {
    return c.account !== null && this.channelsOf(c.id).some((ch) => ch.established);
  }

  view(c: ContactRecord): Contact {
    const devices = new Set(this.channelsOf(c.id).filter((ch) => ch.established).map((ch) => toBase64url(ch.identity))).size;
    return { id: c.id, name: c.name, safetyCode: c.safetyCode, verified: c.verified, established: this.isEstablished(c), devices, ...timerView(this.wallet?.policy, c) };
  }

  /** The person a channel belongs to (undefined for our own devices). */
  personOf(ch: ChannelRecord): ContactRecord | undefined {
    return ch.contactId === SELF ? undefined : this.contacts.get(ch.contactId);
  }

  uniqueName(wanted: string | undefined): string {
    const taken = new Set([...this.contacts.values()].map((c) => c.name.toLowerCase()));
    if (wanted && wanted.trim() && !taken.has(wanted.trim().toLowerCase())) return wanted.trim();
    const base = wanted?.trim() || 'contact';
    for (let n = 1; ; n++) if (!taken.has(`${base}-${n}`.toLowerCase())) return `${base}-${n}`;
  }

  dropped(reason: DropReason): void {
    this.counters.dropped[reason]++;
  }

  /**
   * Runs `task` after earlier tasks of the same mailbox, never blocking other mailboxes
   * (spec/client.md §6.1), then `done`. A failed task leaves its envelope unacknowledged: the
   * relay delivers it again after a reconnect. A mailbox holds at most MAX_SERIAL_PER_MAILBOX
   * tasks (§6.4): beyond, the task is refused (false), counted as an error, and `done` is not called.
   */
  serial(mailboxId: string, task: () => Promise<void>, done?: () => void): boolean {
    const depth = this.inboundDepth.get(mailboxId) ?? 0;
    if (depth >= MAX_SERIAL_PER_MAILBOX) { this.counters.errors++; return false; }
    this.inboundDepth.set(mailboxId, depth + 1);
    const before = this.inboundTails.get(mailboxId) ?? Promise.resolve();
    const mine = before.then(async () => {
      try {
        if (!this.closed) await task();
      } catch {
        this.counters.errors++;
      } finally {
        const left = (this.inboundDepth.get(mailboxId) ?? 1) - 1;
        if (left > 0) this.inboundDepth.set(mailboxId, left);
        else this.inboundDepth.delete(mailboxId);
        done?.();
      }
    });
    this.inboundTails.set(mailboxId, mine);
    void mine.then(() => { if (this.inboundTails.get(mailboxId) === mine) this.inboundTails.delete(mailboxId); });
    return true;
  }
}
