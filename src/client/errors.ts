// The client SDK's closed set of failure codes (spec/client.md §11): everything the SDK
// throws, rejects with or emits is a ClientError. Callers branch on `code`, never on
// message text; the lower layer's error, when there is one, is the `cause`.
import { CodedError, codedGuard } from '../coded-error.js';
import { isProtocolError, type ErrorName } from '../wire/index.js';
import { ConnectionClosedError, RequestTimeoutError } from './connection.js';

export const CLIENT_ERROR_CODES = [
  'WRONG_PASSPHRASE', // the store exists and the passphrase does not open it
  'PROFILE_LOCKED', // another live process has this data directory open
  'STORE_CORRUPT', // a store record does not decrypt or decode
  'STORE_FAILED', // the store could not commit a change (disk full, I/O error): the client closes
  'BAD_INVITATION', // not a well-formed sealpost:invite/ link
  'INVITATION_VERSION', // an invitation of another version: an old unsigned one (v1), or a newer one
  'INVITATION_TAMPERED', // the invitation does not match its inviter's signature: altered after it was made
  'INVITATION_EXPIRED', // the invitation's expiry has passed
  'INVITATION_USED', // this invitation was already accepted here, or its mailbox is gone at the relay (used or withdrawn)
  'OWN_INVITATION', // accepting an invitation this identity made
  'HANDSHAKE_TIMEOUT', // the inviter did not answer in time (the contact may still complete later)
  'UNKNOWN_CONTACT', // no contact with this id or name
  'CONTACT_PENDING', // the contact's handshake has not completed yet
  'SAFETY_CODE_MISMATCH', // the code typed is not this contact's safety code
  'MESSAGE_TOO_LARGE', // the text does not fit the largest envelope bucket
  'SEND_REJECTED', // the relay refused the envelope for good (mailbox gone, size)
  'RELAY_UNAVAILABLE', // the relay could not be reached, or the connection dropped
  'RELAY_HANDSHAKE', // the relay's key does not match its address, or its HELLO is invalid
  'RELAY_BUSY', // the relay refused for now (rate, quota, busy, internal error): try later
  'RELAY_REFUSED', // the relay refused a command for good (the relay's error name is in `relayError`)
  'TIMEOUT', // the relay did not answer a command in time
  'POW_TOO_HARD', // the relay asks more proof-of-work for a public mailbox than clients spend (MAX_POW_DIFFICULTY)
  'UNKNOWN_GROUP', // no group with this id
  'NOT_A_MEMBER', // this identity left the group or was removed from it
  'NOT_GROUP_ADMIN', // the change needs a group admin (spec/groups.md §11)
  'CONTACT_UNVERIFIED', // groups are made of verified contacts: compare safety codes first
  'NO_KEY_PACKAGE', // the contact's client has not sent a KeyPackage yet (spec/groups.md §12.1)
  'LINK_CODE_NOT_INVITATION', // acceptInvitation was given a device-linking code (spec/devices.md §3.1)
  'BAD_LINK_CODE', // linking was given something other than a session code: an invitation, a link, a message
  'LINK_EXPIRED', // the linking code or attempt is older than two minutes, or was used already
  'LINK_CODE_WRONG', // the confirmation code typed does not match the new device's (tries remain)
  'LINK_FAILED', // the linking attempt ended: too many wrong codes, cancelled, or the other device went away
  'DEVICE_LIMIT', // the account has as many devices as its policy allows (spec/devices.md §6)
  'UNKNOWN_DEVICE', // no device of this account with this id
  'NOT_LINKED', // this device is still being linked to an account
  'DEVICE_REVOKED', // this device was removed from its account
  'ADMISSION_REQUIRED', // a closed relay needs an admission token and the wallet has none (or no organisation is set)
  'ADMISSION_REFUSED', // the closed relay refused the token, or the issuer refused this member (disabled in the directory)
  'TOKEN_SPENT', // the closed relay saw this token spent before (the wallet drops it)
  'TOKEN_EPOCH', // the token's epoch is not open at the relay, or the issuer is not issuing the epoch asked for
  'QUOTA_EXCEEDED', // the issuer's quota of tokens for this member and epoch is used up
  'ISSUER_INVALID', // the issuer's answer is malformed, its proof fails, or the key it shows is not the policy's
  'ISSUER_UNAVAILABLE', // the issuer could not be reached, or failed (5xx): try later
  'POLICY_INVALID', // the organisation policy does not verify under the organisation key, or is older than the one held
  'INVALID_ARGUMENT', // a caller's argument is out of its documented range
  'CLOSED', // the client was closed
  'INTERNAL', // a defect of the SDK (please report it)
] as const;

export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

export class ClientError extends CodedError<ClientErrorCode> {
  /** For RELAY_BUSY and RELAY_REFUSED: the relay's error name (spec/protocol.md §7). */
  readonly relayError: ErrorName | null;
  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown; relayError?: ErrorName }) {
    super(code, message, options);
    this.relayError = options?.relayError ?? null;
  }
}

export const isClientError = codedGuard(ClientError);

/** Relay refusals that may succeed later (spec/protocol.md §7). */
const TRANSIENT: ReadonlySet<ErrorName> = new Set(['BUSY', 'RATE', 'QUOTA', 'INTERNAL', 'LIMIT', 'PEER_DOWN']);

/** A closed relay's admission refusals keep their name as the client code (spec/admission.md §8). */
const ADMISSION: ReadonlySet<ErrorName> = new Set(['ADMISSION_REQUIRED', 'ADMISSION_REFUSED', 'TOKEN_SPENT', 'TOKEN_EPOCH']);

/** Errors that are defects, never network conditions. */
const PROGRAMMING = [TypeError, RangeError, ReferenceError, SyntaxError];

/**
 * The ClientError for a failure of a relay operation: `what` says what failed (it begins
 * the message). A ClientError passes through unchanged.
 */
export function relayFailure(e: unknown, what: string): ClientError {
  if (isClientError(e)) return e;
  if (isProtocolError(e)) {
    const relayError = e.errorName;
    if (relayError === 'HANDSHAKE' || relayError === 'VERSION') return new ClientError('RELAY_HANDSHAKE', `${what}: the relay's HELLO failed`, { cause: e, relayError });
    if (ADMISSION.has(relayError)) return new ClientError(relayError as ClientErrorCode, `${what}: the relay answered ${relayError}`, { cause: e, relayError });
    if (TRANSIENT.has(relayError)) return new ClientError('RELAY_BUSY', `${what}: the relay answered ${relayError}`, { cause: e, relayError });
    return new ClientError('RELAY_REFUSED', `${what}: the relay answered ${relayError}`, { cause: e, relayError });
  }
  if (e instanceof RequestTimeoutError) return new ClientError('TIMEOUT', `${what}: the relay did not answer in time`, { cause: e });
  if (e instanceof ConnectionClosedError || (e instanceof Error && !PROGRAMMING.some((c) => e instanceof c))) {
    return new ClientError('RELAY_UNAVAILABLE', `${what}: the relay could not be reached`, { cause: e });
  }
  return new ClientError('INTERNAL', `${what}: ${String(e)}`, { cause: e });
}
