// Issuer sessions (spec/admission.md §3.5): a random 32-byte secret handed to the member in a
// URL fragment, stored by the issuer only as H(label || secret), so a copy of its store cannot
// be replayed as a bearer token.
import { concat, randomBytes, sha256, toBase64url, fromBase64url, utf8 } from '../crypto/index.js';

export type SessionSecret = Uint8Array & { readonly __brand: 'SessionSecret' };
export type SessionHash = Uint8Array & { readonly __brand: 'SessionHash' };

const LABEL = utf8('sealpost/v1/issuer-session');
export const SESSION_LENGTH = 32;

export const newSession = (): SessionSecret => randomBytes(SESSION_LENGTH) as SessionSecret;
export const sessionHash = (s: SessionSecret): SessionHash => sha256(concat(LABEL, s)) as SessionHash;
export const encodeSession = (s: SessionSecret): string => toBase64url(s);

/** The session of an `Authorization: Bearer S` header, or undefined if there is none or it is malformed. */
export function bearerSession(header: string | undefined): SessionSecret | undefined {
  const m = /^Bearer ([A-Za-z0-9_-]{43})$/.exec(header ?? '');
  if (m === null) return undefined;
  try {
    const b = fromBase64url(m[1]!);
    return b.length === SESSION_LENGTH ? (b as SessionSecret) : undefined;
  } catch { return undefined; }
}
