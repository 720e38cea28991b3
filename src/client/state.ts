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
  contact: 'contact',
  session: 'session',
  message: 'message',
  /** Per mailbox: the relay msgIds processed last (§6.2), apart so that the mailbox is not rewritten per message. */
  seen: 'seen',
} as const;

export interface IdentityRecord { signSeed: Uint8Array; dhSecret: Uint8Array; homeRelay: string; createdAt: number }

export interface MailboxRecord {
  id: string;
  /** Relay the mailbox lives on. */
  address: string;
  keys: MailboxKeys;
  role: 'invitation' | 'contact';
  /** Invitation id or contact id. */
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
}

export interface ContactRecord {
  id: string;
  name: string;
  identity: Uint8Array;
  transcriptHash: Uint8Array;
  safetyCode: string;
  verified: boolean;
  established: boolean;
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
