// The client SDK's closed set of failure codes (spec/client.md §11). Callers branch on
// `code`, never on message text.
export type ClientErrorCode =
  | 'WRONG_PASSPHRASE' // the store exists and the passphrase does not open it
  | 'PROFILE_LOCKED' // another live process has this data directory open
  | 'STORE_CORRUPT' // a store record does not decrypt or decode
  | 'BAD_INVITATION' // not a well-formed sealpost:invite/ link, or its signature does not verify
  | 'INVITATION_EXPIRED' // the invitation's expiry has passed
  | 'INVITATION_USED' // this invitation was already accepted (here, or its mailbox is gone)
  | 'OWN_INVITATION' // accepting an invitation this identity made
  | 'HANDSHAKE_TIMEOUT' // the inviter did not answer in time (the contact may still complete later)
  | 'UNKNOWN_CONTACT' // no contact with this id or name
  | 'CONTACT_PENDING' // the contact's handshake has not completed yet
  | 'SAFETY_CODE_MISMATCH' // the code typed is not this contact's safety code
  | 'MESSAGE_TOO_LARGE' // the text does not fit the largest envelope bucket
  | 'SEND_REJECTED' // the relay refused the envelope for good (mailbox gone, size)
  | 'RELAY_UNAVAILABLE' // the relay could not be reached in time
  | 'INVALID_ARGUMENT' // a caller's argument is out of its documented range
  | 'CLOSED'; // the client was closed

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.name = 'ClientError';
  }
}

export function isClientError(e: unknown, code?: ClientErrorCode): e is ClientError {
  return e instanceof ClientError && (code === undefined || e.code === code);
}
