// The SDK's public value types (spec/client.md §10).
import type { CryptoPool, ScryptParams } from '../crypto/index.js';
import type { ClientError } from './errors.js';
import type { OrganisationOptions } from './admission.js';
import type { Platform } from './platform.js';

export type PrivateRouting = 'preferred' | 'required' | 'always' | 'off';

export interface ClientOptions {
  /** Directory of this profile's encrypted store (created 0700). */
  readonly dataDir: string;
  /** Home relay address (sealpost+ws[s]://FP@HOST:PORT): where this client's mailboxes live. Required for a new profile. */
  readonly relay?: string;
  /** Unlocks the store; a wrong one throws ClientError WRONG_PASSPHRASE. */
  readonly passphrase: string;
  /** Devices an account may have (spec/devices.md §6; an organisation's policy sets it). Default 8, at most 16. */
  readonly maxDevices?: number;
  /** When the reminder of a device added to our account comes (spec/devices.md §5). Default one day. */
  readonly deviceReminderMs?: number;
  /** Delivery receipts, batched and randomly delayed (spec/client.md §9.3). Default false. */
  readonly receipts?: boolean;
  /** Random delay before a batch of receipts goes out, in ms. Default { min: 5_000, max: 60_000 }. */
  readonly receiptDelayMs?: { readonly min: number; readonly max: number };
  /** scrypt cost for a NEW store (tests use a low N); an existing store keeps its own. */
  readonly kdf?: ScryptParams;
  /** How long acceptInvitation waits for the inviter's answer. Default 30 s. */
  readonly handshakeTimeoutMs?: number;
  /** How long to wait for the relay on operations that need it. Default 10 s. */
  readonly relayTimeoutMs?: number;
  /** After a rotation, the old mailbox is deleted at the contact's first message to the new one, or after this. Default 7 days. */
  readonly rotationGraceMs?: number;
  /**
   * Private routing (spec/federation.md §4, spec/client.md §9.5): envelopes for a contact whose
   * mailbox is on another relay go through the home relay, sealed to the contact's relay, which
   * then never sees this client's address. 'preferred' (default): forward when the home relay
   * can (it is a partner of the contact's relay), else send directly; 'required': forward or
   * fail (SEND_REJECTED); 'always': forward also to contacts on the home relay; 'off': send
   * directly.
   */
  readonly privateRouting?: PrivateRouting;
  /** Keep received and sent texts in the store (history()). Default true. */
  readonly keepHistory?: boolean;
  /**
   * Worker threads that seal fan-outs (sendToMany, spec/client.md §9.4); 0 seals on the calling
   * thread. Default: os.availableParallelism() in Node, 0 elsewhere. The pool starts at the
   * first fan-out of 16 or more contacts and close() stops it.
   */
  readonly cryptoWorkers?: number;
  /** A CryptoPool shared with the app (or other clients) instead of one of the client's own; close() leaves it open. */
  readonly cryptoPool?: CryptoPool;
  /** Sockets and storage (spec/client.md §12); default: the entry's platform (Node's for 'sealpost'). */
  readonly platform?: Platform;
  /**
   * A closed deployment (spec/client.md §10.1, spec/admission.md): the organisation's issuer and
   * public key. The client then keeps the signed policy and a wallet of admission tokens, and
   * spends one per mailbox it creates on its home relay.
   */
  readonly organisation?: OrganisationOptions;
}

export interface Contact {
  readonly id: string;
  /** The user's own label for this contact; never sent anywhere. */
  readonly name: string;
  /** Four groups of five digits both people compare (spec/crypto.md §10). */
  readonly safetyCode: string;
  readonly verified: boolean;
  /** False until the handshake has completed on this side. */
  readonly established: boolean;
  /** Their devices we have a working channel with (spec/devices.md §4). */
  readonly devices: number;
  /** The conversation's disappearing timer in seconds, as either side set it (0: off; spec/client.md §10.2). */
  readonly disappearingSeconds: number;
  /** The timer this client applies: the same, unless the organisation's minimum raises it. */
  readonly appliedDisappearingSeconds: number;
}

/** A conversation's timer changed (spec/client.md §10.2): by this device, another of ours, or the contact. */
export interface TimerChange {
  readonly contactId: string;
  readonly seconds: number;
  readonly appliedSeconds: number;
  readonly by: 'me' | 'device' | 'contact';
  /** The setter's clock (ms). */
  readonly at: number;
}

/** A device of our account (spec/devices.md §2). */
export interface Device {
  /** The device's identity key, base64url. */
  readonly id: string;
  /** This device. */
  readonly current: boolean;
  /** When it was linked (ms, the certifying device's clock). */
  readonly addedAt: number;
}

/**
 * A change of a device list (spec/devices.md §5): ours (`contactId` null) or a contact's.
 * `reminder` repeats an earlier addition of one of ours, a day later.
 */
export interface DeviceNotice {
  readonly contactId: string | null;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly reminder: boolean;
}

export interface Message {
  readonly contactId: string;
  /** The sender's random message id (base64url), named by receipts. */
  readonly id: string;
  readonly text: string;
  /** The sender's clock, ms since the epoch (a claim, not evidence). */
  readonly sentAt: number;
  /** This client's clock when it was processed. */
  readonly receivedAt: number;
  /** Whether the contact was verified when this arrived. */
  readonly verified: boolean;
  /** When this client deletes it under a disappearing timer (ms); 0: kept (spec/client.md §10.2). */
  readonly expiresAt: number;
}

/** A text another device of ours sent (spec/devices.md §4.4). */
export interface SentElsewhere {
  readonly contactId: string;
  readonly id: string;
  readonly text: string;
  readonly sentAt: number;
  readonly expiresAt: number;
}

export interface HistoryEntry extends Message { readonly direction: 'in' | 'out' }

export interface Receipt { readonly contactId: string; readonly ids: readonly string[] }

export interface SentMessage { readonly id: string; readonly sentAt: number }

/** What sendToMany did for one of its arguments (spec/client.md §9.4). */
export type RecipientOutcome =
  | { readonly contactId: string; readonly ok: true }
  | { readonly contactId: string; readonly ok: false; readonly error: ClientError };

/** sendToMany's result: the message's id and time (the same for every contact), and `results[i]` for `contactIds[i]`. */
export interface SentToMany extends SentMessage { readonly results: readonly RecipientOutcome[] }

/** Why an incoming envelope was dropped (spec/client.md §6.3). */
export type DropReason =
  | 'delivery' // the relay's delivery layer did not open
  | 'undecryptable' // the sealed envelope did not open: tampered, truncated or sealed to another mailbox
  | 'unknown-sender' // it opened, but the sender is not this mailbox's contact
  | 'malformed' // a body or payload that does not decode
  | 'replay' // a ratchet message already received, or a handshake for a consumed invitation
  | 'ratchet' // the ratchet refused it (tampered inner layer, or too far ahead)
  | 'expired'; // a handshake that arrived after its invitation expired

export interface ClientStats {
  readonly dropped: Readonly<Record<DropReason, number>> & { readonly total: number };
  readonly received: number;
  readonly sent: number;
  readonly outboxPending: number;
  readonly online: boolean;
  /** Envelopes whose processing failed for a local reason, or refused past the inbound bounds (left for redelivery). */
  readonly errors: number;
  /** ENDs from relays: another connection took over one of this client's subscriptions (spec/client.md §8.3). */
  readonly takeovers: number;
}

// ---- groups (spec/groups.md §13) ----

export interface GroupMember {
  /** The member's identity key (base64url), as `client.identityKey` shows it. */
  readonly identityKey: string;
  readonly me: boolean;
  /** The contact this identity is, if it is one. */
  readonly contactId: string | null;
  readonly name: string | null;
  /** Whether its safety code was compared (only for contacts). */
  readonly verified: boolean;
  readonly admin: boolean;
}

export interface GroupView {
  readonly id: string;
  readonly name: string;
  readonly epoch: number;
  readonly status: 'active' | 'removed' | 'left';
  readonly memberCount: number;
  readonly admin: boolean;
  readonly disappearingSeconds: number;
  /** The timer this client applies to the group's texts: the same, unless the organisation's minimum raises it (spec/client.md §10.2). */
  readonly appliedDisappearingSeconds: number;
  readonly reviewIntervalDays: number;
  readonly reviewedAt: number;
  readonly reviewDue: boolean;
}

export interface GroupChange {
  readonly groupId: string;
  readonly epoch: number;
  readonly at: number;
  readonly by: GroupMember;
  readonly added: readonly GroupMember[];
  readonly removed: readonly GroupMember[];
  readonly changes: readonly string[];
  readonly selfUpdate: boolean;
}

export interface GroupMessage {
  readonly groupId: string;
  readonly id: string;
  readonly sender: GroupMember;
  readonly text: string;
  readonly sentAt: number;
  readonly receivedAt: number;
}

export interface GroupPolicyUpdate {
  readonly name?: string;
  readonly disappearingSeconds?: number;
  readonly reviewIntervalDays?: number;
  readonly updateAfterMessages?: number;
  readonly updateAfterDays?: number;
  /** Identity keys (base64url) of the admins; must be members. */
  readonly admins?: readonly string[];
}


export interface ClientEvents {
  message: Message;
  /** A text one of our other devices sent to a contact (spec/devices.md §4.4). */
  sent: SentElsewhere;
  contact: Contact;
  /** A conversation's disappearing timer changed (spec/client.md §10.2). */
  timer: TimerChange;
  /** A device was added to or removed from our account or a contact's, or a reminder of an addition (spec/devices.md §5). */
  devices: DeviceNotice;
  /** Another device removed this one from the account: the client has wiped its mailboxes and closes (spec/devices.md §6). */
  revoked: { readonly at: number };
  receipt: Receipt;
  dropped: { readonly reason: DropReason };
  connection: { readonly online: boolean };
  /** A failure in the background that stops the client (STORE_FAILED); it closes itself after this. */
  error: ClientError;
  /** A group was created, joined, changed, or this identity left or was removed (spec/groups.md §13). */
  group: GroupView;
  /** A signed change to a group's membership or state, as it entered the group's history. */
  groupChange: GroupChange;
  groupMessage: GroupMessage;
  /** The group's review interval has passed since its membership was last marked reviewed. */
  groupReviewDue: GroupView;
  /** A group message that was refused: a commit not allowed by the group's policy, or one that did not verify. */
  groupRefused: { readonly groupId: string | null; readonly reason: string };
}
