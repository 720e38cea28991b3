// One-time invitations (spec/client.md §3): `sealpost:invite/<base64url(payload)>`.
//
//   payload   = version[1]=2 || inviter[64] || invitationKey[32] || expiresAt[4]
//               || mailboxKey[32] || accessKey[32] || relay var16 || signature[64]
//   signature = Ed25519(inviter's signing key, "sealpost/v1/invitation" || payload without signature)
//
// The signature covers every field, the version included (§3.1): an edited link is
// INVITATION_TAMPERED before anything is sent. It is checked first, so any edit of a signed
// byte gets that code, whatever the edit does to the field. The capability (relay,
// sendId = H("sealpost/v1/send-id" || mailboxKey), mailboxKey, accessKey) names a private
// mailbox made for this invitation alone (spec/crypto.md §3). Pure codec: no I/O, no clock.
import {
  concat, ed25519Sign, ed25519Verify, fromBase64url, fromUtf8, sendIdOf, toBase64url, utf8, x25519PublicKey,
  type AccessKey, type Ed25519Seed, type X25519PublicKey,
} from '../crypto/index.js';
import { parseRelayAddress } from '../wire/index.js';
import { Reader, Writer } from '../wire/bytes-codec.js';
import { ClientError } from './errors.js';
import { dhKeyOf, IDENTITY_PUBLIC_LENGTH, signingKeyOf } from './identity.js';
import { CLIENT_LABELS } from './labels.js';
import type { SendCapability } from './mailbox.js';

/** Version 2: signed. Version 1 (unsigned, with the identity binding in its place) is refused. */
export const INVITATION_VERSION = 2;
export const INVITATION_PREFIX = 'sealpost:invite/';
/** Default lifetime of an invitation (spec/client.md §3). */
export const DEFAULT_INVITATION_TTL_SECONDS = 24 * 3600;
const SIGNATURE_LENGTH = 64;
/** version, inviter, invitationKey, expiresAt, mailboxKey, accessKey, relay length, signature. */
const FIXED_LENGTH = 1 + IDENTITY_PUBLIC_LENGTH + 32 + 4 + 32 + 32 + 2 + SIGNATURE_LENGTH;

export interface InvitationFields {
  readonly inviter: Uint8Array;
  readonly invitationKey: X25519PublicKey;
  /** Unix seconds. */
  readonly expiresAt: number;
  readonly relay: string;
  readonly mailboxKey: X25519PublicKey;
  readonly accessKey: AccessKey;
}

export interface Invitation extends InvitationFields {
  /** The inviter's Ed25519 signature over every other byte of the payload (§3.1). */
  readonly signature: Uint8Array;
}

const signedMessage = (unsigned: Uint8Array): Uint8Array => concat(CLIENT_LABELS.invitation, unsigned);

/** The signed payload; `signSeed` is the inviter's identity signing seed (its public half is `inviter`'s first 32 bytes). */
export function encodeInvitation(inv: InvitationFields, signSeed: Ed25519Seed): Uint8Array {
  const unsigned = new Writer()
    .u8(INVITATION_VERSION).bytes(inv.inviter, IDENTITY_PUBLIC_LENGTH).bytes(inv.invitationKey, 32).u32(inv.expiresAt)
    .bytes(inv.mailboxKey, 32).bytes(inv.accessKey, 32).var16(utf8(inv.relay)).finish();
  return concat(unsigned, ed25519Sign(signSeed, signedMessage(unsigned)));
}

/**
 * Decodes and checks a payload, in this order (spec/client.md §3.1): the version
 * (INVITATION_VERSION for any other), the signature over all of it (INVITATION_TAMPERED), then
 * the layout, keys and relay address (BAD_INVITATION: a signed invitation its inviter made wrong).
 */
export function decodeInvitation(payload: Uint8Array): Invitation {
  if (!(payload instanceof Uint8Array) || payload.length < FIXED_LENGTH) throw new ClientError('BAD_INVITATION', 'not a valid invitation (too short)');
  if (payload[0] !== INVITATION_VERSION) {
    throw new ClientError('INVITATION_VERSION', payload[0]! < INVITATION_VERSION
      ? `this invitation was made by an older Sealpost (version ${payload[0]}, unsigned): ask for a new link`
      : `this invitation is of version ${payload[0]}, newer than this client reads (${INVITATION_VERSION})`);
  }
  const unsigned = payload.subarray(0, payload.length - SIGNATURE_LENGTH);
  const signature = payload.subarray(payload.length - SIGNATURE_LENGTH);
  const inviter = payload.subarray(1, 1 + IDENTITY_PUBLIC_LENGTH);
  if (!ed25519Verify(signature, signedMessage(unsigned), signingKeyOf(inviter))) {
    throw new ClientError('INVITATION_TAMPERED', "the invitation does not match its inviter's signature: it was altered after it was made");
  }
  try {
    const r = new Reader(unsigned);
    r.u8();
    const inv: Invitation = {
      inviter: r.bytes(IDENTITY_PUBLIC_LENGTH), invitationKey: x25519PublicKey(r.bytes(32), 'invitationKey'),
      expiresAt: r.u32(), mailboxKey: x25519PublicKey(r.bytes(32), 'mailboxKey'), accessKey: r.bytes(32) as AccessKey,
      relay: fromUtf8(r.var16()), signature: signature.slice(),
    };
    r.end();
    x25519PublicKey(dhKeyOf(inv.inviter), 'inviter');
    parseRelayAddress(inv.relay);
    return inv;
  } catch (e) {
    throw new ClientError('BAD_INVITATION', `not a valid invitation (${(e as Error).message})`, { cause: e });
  }
}

export const formatInvitationLink = (payload: Uint8Array): string => INVITATION_PREFIX + toBase64url(payload);

/** The payload bytes of a link (whitespace around it ignored). */
export function invitationPayloadOf(link: string): Uint8Array {
  if (typeof link !== 'string') throw new ClientError('BAD_INVITATION', 'an invitation is a string');
  const t = link.trim();
  if (!t.startsWith(INVITATION_PREFIX)) throw new ClientError('BAD_INVITATION', `an invitation starts with ${INVITATION_PREFIX}`);
  try {
    return fromBase64url(t.slice(INVITATION_PREFIX.length));
  } catch (e) {
    throw new ClientError('BAD_INVITATION', 'the invitation is not base64url', { cause: e });
  }
}

export function parseInvitationLink(link: string): { invitation: Invitation; payload: Uint8Array } {
  const payload = invitationPayloadOf(link);
  return { invitation: decodeInvitation(payload), payload };
}

export function checkNotExpired(inv: Pick<InvitationFields, 'expiresAt'>, nowMs: number): void {
  if (nowMs >= inv.expiresAt * 1000) throw new ClientError('INVITATION_EXPIRED', 'the invitation has expired');
}

export function invitationCapability(inv: Invitation): SendCapability {
  return { address: inv.relay, sendId: sendIdOf(inv.mailboxKey), mailboxKey: inv.mailboxKey, accessKey: inv.accessKey };
}
