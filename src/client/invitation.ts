// One-time invitations (spec/client.md §3): `sealpost:invite/<base64url(payload)>`.
//
//   payload = version[1]=1 || inviter[64] || binding[64] || invitationKey[32] || expiresAt[4]
//             || mailboxKey[32] || accessKey[32] || relay var16
//
// The capability (relay, sendId = H("sealpost/v1/send-id" || mailboxKey), mailboxKey,
// accessKey) names a private mailbox made for this invitation alone (spec/crypto.md §3).
// Pure codec: no I/O, no clock (callers pass `now`).
import {
  fromBase64url, fromUtf8, sendIdOf, toBase64url, utf8, x25519PublicKey,
  type AccessKey, type X25519PublicKey,
} from '../crypto/index.js';
import { parseRelayAddress } from '../wire/index.js';
import { Reader, Writer } from '../wire/bytes-codec.js';
import { ClientError } from './errors.js';
import { verifyIdentity } from './identity.js';
import type { SendCapability } from './mailbox.js';

export const INVITATION_VERSION = 1;
export const INVITATION_PREFIX = 'sealpost:invite/';
/** Default lifetime of an invitation (spec/client.md §3). */
export const DEFAULT_INVITATION_TTL_SECONDS = 24 * 3600;

export interface Invitation {
  readonly inviter: Uint8Array;
  readonly binding: Uint8Array;
  readonly invitationKey: X25519PublicKey;
  /** Unix seconds. */
  readonly expiresAt: number;
  readonly relay: string;
  readonly mailboxKey: X25519PublicKey;
  readonly accessKey: AccessKey;
}

export function encodeInvitation(inv: Invitation): Uint8Array {
  return new Writer()
    .u8(INVITATION_VERSION).bytes(inv.inviter, 64).bytes(inv.binding, 64).bytes(inv.invitationKey, 32).u32(inv.expiresAt)
    .bytes(inv.mailboxKey, 32).bytes(inv.accessKey, 32).var16(utf8(inv.relay)).finish();
}

/** Decodes and checks a payload: layout, keys, relay address and the inviter's binding. BAD_INVITATION otherwise. */
export function decodeInvitation(payload: Uint8Array): Invitation {
  try {
    const r = new Reader(payload);
    if (r.u8() !== INVITATION_VERSION) throw new Error('unknown version');
    const inv: Invitation = {
      inviter: r.bytes(64), binding: r.bytes(64), invitationKey: x25519PublicKey(r.bytes(32), 'invitationKey'),
      expiresAt: r.u32(), mailboxKey: x25519PublicKey(r.bytes(32), 'mailboxKey'), accessKey: r.bytes(32) as AccessKey,
      relay: fromUtf8(r.var16()),
    };
    r.end();
    parseRelayAddress(inv.relay);
    if (!verifyIdentity(inv.inviter, inv.binding)) throw new Error('inviter binding does not verify');
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

export function checkNotExpired(inv: Invitation, nowMs: number): void {
  if (nowMs >= inv.expiresAt * 1000) throw new ClientError('INVITATION_EXPIRED', 'the invitation has expired');
}

export function invitationCapability(inv: Invitation): SendCapability {
  return { address: inv.relay, sendId: sendIdOf(inv.mailboxKey), mailboxKey: inv.mailboxKey, accessKey: inv.accessKey };
}
