// The client's store records (spec/client.md §7.2) and their (de)serialisation. Each kind
// is one record per id; all are encrypted by the store.
import { ed25519KeyPair, x25519KeyPair, type Ed25519Seed, type X25519SecretKey } from '../crypto/index.js';
import { newIdentity, type Identity } from './identity.js';
import type { MailboxKeys, SendCapability } from './mailbox.js';
import { decodeRecord, encodeRecord } from './records.js';
import type { ProfileStore, StoreOp } from './profile-store.js';

export const KIND = {
  identity: 'identity',
  mailbox: 'mailbox',
  invitation: 'invitation',
  accepted: 'accepted',
  /** A person: their account and device list (spec/devices.md §4). */
  contact: 'contact',
  /** A ratchet channel with one device (ours or a contact's). */
  channel: 'channel',
  /** Our account: its key, our device list, a link in progress (spec/devices.md §2, §3). */
  account: 'account',
  session: 'session',
  message: 'message',
  /** Per mailbox: the relay msgIds processed last (§6.2), apart so that the mailbox is not rewritten per message. */
  seen: 'seen',
  /** Groups (spec/groups.md §13): the SDK's record, the MLS state, the signed history, texts. */
  group: 'group',
  groupState: 'group-state',
  groupHistory: 'group-history',
  groupMessage: 'group-message',
  /** Our KeyPackages handed to contacts, with their secrets (spec/groups.md §12.1). */
  keyPackage: 'key-package',
  /** Each contact's latest KeyPackage for us. */
  peerKeyPackage: 'peer-key-package',
  /** A closed deployment's wallet: the signed policy, unspent admission tokens, the issuer session (§10.1). */
  admission: 'admission',
} as const;

export interface IdentityRecord { signSeed: Uint8Array; dhSecret: Uint8Array; homeRelay: string; createdAt: number }

export interface MailboxRecord {
  id: string;
  /** Relay the mailbox lives on. */
  address: string;
  keys: MailboxKeys;
  role: 'invitation' | 'contact' | 'group' | 'link';
  /** Invitation id, channel id, or group id (for a KeyPackage's mailbox not yet in a group: `kp:` and its ref). */
  ownerId: string;
  /** active: read; retiring: drain then delete; deleting: delete at the relay, then forget. */
  status: 'active' | 'retiring' | 'deleting';
  createdAt: number;
  /** Before the `seen` kind: the seen set, kept here (read once, then moved to its own record). */
  seen?: number[];
}

export interface InvitationRecord {
  id: string;
  payload: Uint8Array;
  invitationSecret: Uint8Array;
  mailboxId: string;
  /** Unix seconds. */
  expiresAt: number;
  name: string | null;
  /** The person (or SELF) a device introduced to us belongs to; null: whoever accepts becomes a new contact. */
  contactId?: string | null;
  origin?: 'invitation' | 'intro' | 'link';
  /** The one device that may accept it (spec/devices.md §3.4, §4.2); null for a person's invitation. */
  device?: Uint8Array | null;
  /** A link's: the list that certifies that device, sent in the confirm and kept by both once it completes (§3.4). */
  deviceList?: Uint8Array | null;
}

/** The channels of our own other devices belong to this pseudo-contact. */
export const SELF = 'self';

/** A person (spec/devices.md §4): what the API calls a contact. */
export interface ContactRecord {
  id: string;
  name: string;
  /** Their account key; null until their first channel sent its device list. */
  account: Uint8Array | null;
  /** Their signed device list (device-list.ts), as last accepted. */
  deviceList: Uint8Array | null;
  /** spec/crypto.md §10.1 over both accounts; '' until the account is known. */
  safetyCode: string;
  verified: boolean;
  createdAt: number;
  /** Device keys (base64url) already announced to the app, for the notices (spec/devices.md §5). */
  announced: string[];
  /** The conversation's disappearing timer (s, 0 off) as last set by either side, and when (the setter's clock, ms); absent: never set (spec/client.md §10.2). */
  timer?: number;
  timerAt?: number;
}

/** Our account (spec/devices.md §2), one record 'self'. */
export interface AccountRecord {
  accountSeed: Uint8Array;
  deviceList: Uint8Array;
  /** Device keys (base64url) → when the add reminder was shown (ms), for the reminder (§5). */
  reminded: Record<string, number>;
  /** The list held before `deviceList` (spec/devices.md §2.2: tells a revocation from a lost addition). */
  parent?: Uint8Array | null;
  /** The last list this device signed, and the one it signed it on top of (§2.2: re-applied when it loses a fork). */
  signed?: { list: Uint8Array; parent: Uint8Array } | null;
}

/** A ratchet channel with one device: a contact's, or another of our own (spec/devices.md §4). */
export interface ChannelRecord {
  id: string;
  /** The person (ContactRecord id) whose device this is, or SELF for our own devices. */
  contactId: string;
  /** The device identity (spec/client.md §1). */
  identity: Uint8Array;
  transcriptHash: Uint8Array;
  established: boolean;
  /** When it was established (ms), 0 before: messages sent before are sent again (spec/devices.md §4.3). */
  establishedAt: number;
  /** What made it: an invitation a person accepted, an introduction between devices (§4.2), or a link (§3.4). */
  origin: 'invitation' | 'intro' | 'link';
  role: 'inviter' | 'acceptor';
  /** My mailbox this contact writes to. */
  inboxId: string;
  /** My new mailbox during a rotation, until the contact writes to it. */
  nextInboxId: string | null;
  rotatedAt: number | null;
  /** The contact's mailbox I write to; null until the handshake completes (acceptor side). */
  peer: SendCapability | null;
  createdAt: number;
}

export interface MessageRecord {
  seq: number;
  contactId: string;
  id: string;
  direction: 'in' | 'out';
  text: string;
  sentAt: number;
  receivedAt: number;
  verified: boolean;
  /** An 'out' text another of our devices sent (spec/devices.md §4.4): that device, not this one, resends it (§4.3). */
  copy?: boolean;
  /** The timer it went under as this client applies it (s), and when it expires (ms); absent or 0: kept (spec/client.md §10.2). */
  timer?: number;
  expiresAt?: number;
}

export function identityFromRecord(r: IdentityRecord): Identity {
  return newIdentity(ed25519KeyPair(r.signSeed as Ed25519Seed), x25519KeyPair(r.dhSecret as X25519SecretKey));
}

export const put = (kind: string, id: string, value: unknown): StoreOp => ({ kind, id, value: encodeRecord(value) });
/** A record encoded when its commit is built, with the newest `value()` (spec/client.md §7.4). */
export const putLatest = (kind: string, id: string, value: () => unknown): StoreOp => ({ kind, id, value: () => encodeRecord(value()) });
export const del = (kind: string, id: string): StoreOp => ({ kind, id, value: null });

export function loadAll<T>(store: ProfileStore, kind: string): T[] {
  return store.entries(kind).map(([, v]) => decodeRecord<T>(v));
}

/** A group this identity is in, or was in (spec/groups.md §13). */
export interface GroupRecord {
  /** Local id: the MLS group id in base64url. */
  id: string;
  groupId: Uint8Array;
  /** Our group mailbox (its capability is in our leaf). */
  mailboxId: string;
  status: 'active' | 'removed' | 'left';
  joinedAt: number;
  /** When the membership was last marked reviewed (ms). */
  reviewedAt: number;
  /** When the review reminder was last emitted (ms), or 0. */
  remindedAt: number;
  /** When our leaf was last updated (ms), and application messages we sent since. */
  updatedAt: number;
  sentSinceUpdate: number;
  historySeq: number;
  /** We proposed our own removal and wait for an admin to commit it. */
  leaving: boolean;
}

/** One entry of a group's signed history (spec/groups.md §13.2). */
export interface GroupHistoryRecord {
  seq: number;
  epoch: number;
  at: number;
  /** The committer's identity (64 bytes). */
  by: Uint8Array;
  added: Uint8Array[];
  removed: Uint8Array[];
  /** Which parts of the group state changed: 'name', 'admins', 'disappearing', 'review', 'update'. */
  changes: string[];
  selfUpdate: boolean;
  /** The commit's AuthenticatedContent and the GroupContext it was signed in: the evidence. */
  content: Uint8Array;
  groupContext: Uint8Array;
}

export interface GroupMessageRecord {
  seq: number;
  groupId: string;
  id: string;
  /** The sender's identity (64 bytes). */
  sender: Uint8Array;
  direction: 'in' | 'out';
  text: string;
  sentAt: number;
  receivedAt: number;
  /** ms; 0 when the group keeps messages. */
  expiresAt: number;
}

/** A KeyPackage we gave a contact, and what joining with it needs (spec/groups.md §12.1). */
export interface KeyPackageRecord {
  /** The KeyPackageRef, hex. */
  id: string;
  contactId: string;
  keyPackage: Uint8Array;
  initSecret: Uint8Array;
  encryptionSecret: Uint8Array;
  mailboxId: string;
  createdAt: number;
  expiresAt: number;
}
