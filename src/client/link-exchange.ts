// Device linking's codes and key exchange (spec/devices.md §3). Pure functions, except the
// session code's scrypt, which is asynchronous.
//
//   session code  10 symbols of Crockford base32 (50 bits), shown "XXXXX-XXXXX"; URI form
//                 "sealpost:link/XXXXXXXXXX". Typed on the NEW device.
//   codeSeed      = scrypt(code, salt = H("sealpost/v1/link-code")[0..16], N = 2^15, r = 8, p = 1)
//   mailbox       = HKDF(codeSeed, "", "sealpost/v1/link-mailbox", 64): mailboxSecret[32] || accessKey[32]
//   codeKey       = HKDF(codeSeed, "", "sealpost/v1/link-code-key", 32)
//   request  N→O  0x04 || 1 || device[64] || binding[64] || commit[32] || capability (N's reply mailbox)
//                 commit = H("sealpost/v1/link-commit" || E_N)
//   offer    O→N  0x05 || 1 || E_O[32]
//   reveal   N→O  0x06 || 1 || E_N[32]
//   th            = H("sealpost/v1/link-transcript" || codeKey || var16(request) || var16(offer) || var16(reveal))
//   K             = HKDF(X25519(E_N, E_O), th, "sealpost/v1/link-key", 32)
//   confirmation  = uint40(H("sealpost/v1/link-confirm" || th)[0..5]) mod 10^8, shown "1234 5678". Typed on the OLD device.
//   bundle   O→N  0x07 || 1 || ChaCha20-Poly1305(K, nonce 0, aad th, accountSeed[32] || var16(deviceList) || var16(invitation))
//
// N commits to E_N before it sees E_O, so a party in the middle must fix its own key towards
// O before it learns N's: it then matches N's confirmation code with probability 10^-8 per
// attempt, and O allows one exchange and three tries per attempt (§3.3).
import {
  aeadKey, chacha20poly1305Open, chacha20poly1305Seal, concat, derivePassphraseKey, equalBytes, hkdf, randomBytes, sha256, utf8, wipe,
  x25519, x25519KeyPair, x25519PublicFromSecret, x25519PublicKey, x25519SecretKey,
  type AccessKey, type X25519KeyPair, type X25519PublicKey,
} from '../crypto/index.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import { readCapability, writeCapability } from './capability.js';
import { ClientError } from './errors.js';
import { verifyIdentity } from './identity.js';
import { INVITATION_PREFIX } from './invitation.js';
import type { SendCapability } from './mailbox.js';

export const LINK_PREFIX = 'sealpost:link/';
/** Codes and attempts live this long at most (spec/devices.md §3.2). */
export const LINK_CODE_TTL_MS = 120_000;
/** Wrong confirmation codes an attempt survives: the third ends it. */
export const LINK_CONFIRM_TRIES = 3;
export const BODY_LINK_REQUEST = 0x04;
export const BODY_LINK_OFFER = 0x05;
export const BODY_LINK_REVEAL = 0x06;
export const BODY_LINK_BUNDLE = 0x07;
/** The existing device ended the attempt after its offer, without a bundle: `0x08 || 1` (spec/devices.md §3.3). */
export const BODY_LINK_END = 0x08;
export const LINK_END_BODY = new Uint8Array([BODY_LINK_END, 1]);
const VERSION = 1;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LENGTH = 10;
const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;
const L = {
  code: utf8('sealpost/v1/link-code'), mailbox: utf8('sealpost/v1/link-mailbox'), codeKey: utf8('sealpost/v1/link-code-key'),
  commit: utf8('sealpost/v1/link-commit'), transcript: utf8('sealpost/v1/link-transcript'), key: utf8('sealpost/v1/link-key'),
  confirm: utf8('sealpost/v1/link-confirm'),
};

/** A fresh session code, 10 symbols, shown as XXXXX-XXXXX. */
export function newSessionCode(): string {
  const b = randomBytes(CODE_LENGTH);
  let s = '';
  for (const x of b) s += ALPHABET[x & 31];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

const CODE_SHAPE = /^[0-9A-Za-z]{5}[\s-]?[0-9A-Za-z]{5}$/;

/** True for text shaped like a session code, bare or in its URI form (what acceptInvitation must refuse). */
export function looksLikeLinkCode(text: string): boolean {
  const t = text.trim();
  return t.toLowerCase().startsWith(LINK_PREFIX) || CODE_SHAPE.test(t);
}

/**
 * The 10 canonical symbols of a session code typed by a person (Crockford: I and L read as
 * 1, O as 0; case, spaces and one dash ignored; the URI form accepted). BAD_LINK_CODE for
 * anything else, saying what it is when it is an invitation.
 */
export function parseSessionCode(text: unknown): string {
  if (typeof text !== 'string') throw new ClientError('BAD_LINK_CODE', 'a linking code is a string');
  let t = text.trim();
  if (t.startsWith(INVITATION_PREFIX)) {
    throw new ClientError('BAD_LINK_CODE', 'this is a contact invitation, not a device-linking code: linking takes only the code your own existing device shows in its "link a device" screen');
  }
  if (t.toLowerCase().startsWith(LINK_PREFIX)) t = t.slice(LINK_PREFIX.length);
  if (!CODE_SHAPE.test(t)) throw new ClientError('BAD_LINK_CODE', 'not a device-linking code (ten letters and digits, XXXXX-XXXXX, shown by your existing device)');
  const s = t.replace(/[\s-]/g, '').toUpperCase().replace(/[IL]/g, '1').replace(/O/g, '0');
  if ([...s].some((ch) => !ALPHABET.includes(ch))) throw new ClientError('BAD_LINK_CODE', 'not a device-linking code (a symbol outside its alphabet)');
  return s;
}

export interface CodeKeys {
  readonly mailboxSecret: Uint8Array;
  readonly mailboxKey: X25519PublicKey;
  readonly accessKey: AccessKey;
  readonly codeKey: Uint8Array;
}

/** The link mailbox's keys and the code's key, from the canonical code (§3.2). */
export async function codeKeys(canonical: string): Promise<CodeKeys> {
  const seed = await derivePassphraseKey(canonical, sha256(L.code).subarray(0, 16), SCRYPT);
  try {
    const mb = hkdf(seed, new Uint8Array(0), L.mailbox, 64);
    const mailboxSecret = x25519SecretKey(mb.slice(0, 32));
    return {
      mailboxSecret, mailboxKey: x25519PublicFromSecret(mailboxSecret), accessKey: mb.slice(32) as AccessKey,
      codeKey: hkdf(seed, new Uint8Array(0), L.codeKey, 32),
    };
  } finally {
    wipe(seed);
  }
}

export interface LinkRequest {
  readonly device: Uint8Array;
  readonly binding: Uint8Array;
  readonly commit: Uint8Array;
  readonly reply: SendCapability;
}

export const commitTo = (ephemeral: X25519PublicKey): Uint8Array => sha256(concat(L.commit, ephemeral));

export function encodeLinkRequest(r: LinkRequest): Uint8Array {
  const w = new Writer().u8(BODY_LINK_REQUEST).u8(VERSION).bytes(r.device, 64).bytes(r.binding, 64).bytes(r.commit, 32);
  return writeCapability(w, r.reply).finish();
}

export function decodeLinkRequest(b: Uint8Array): LinkRequest {
  const r = new Reader(b);
  if (r.u8() !== BODY_LINK_REQUEST || r.u8() !== VERSION) throw new MalformedError('not a link request');
  const device = r.bytes(64).slice();
  const binding = r.bytes(64).slice();
  const commit = r.bytes(32).slice();
  const reply = readCapability(r);
  r.end();
  if (!verifyIdentity(device, binding)) throw new MalformedError('device binding does not verify');
  return { device, binding, commit, reply };
}

/** An offer (O's key) or a reveal (N's key): kind || 1 || key[32]. */
export function encodeKeyBody(kind: typeof BODY_LINK_OFFER | typeof BODY_LINK_REVEAL, key: X25519PublicKey): Uint8Array {
  return new Writer().u8(kind).u8(VERSION).bytes(key, 32).finish();
}

export function decodeKeyBody(kind: typeof BODY_LINK_OFFER | typeof BODY_LINK_REVEAL, b: Uint8Array): X25519PublicKey {
  const r = new Reader(b);
  if (r.u8() !== kind || r.u8() !== VERSION) throw new MalformedError('unexpected link message');
  let key: X25519PublicKey;
  try { key = x25519PublicKey(r.bytes(32)); } catch { throw new MalformedError('bad link key'); }
  r.end();
  return key;
}

export interface LinkSecrets {
  readonly transcript: Uint8Array;
  readonly key: Uint8Array;
  /** 8 digits, "1234 5678". */
  readonly confirmation: string;
}

/** Both sides: the transcript, the bundle key and the confirmation code (§3.3). Throws for a low-order key. */
export function linkSecrets(codeKey: Uint8Array, mine: X25519KeyPair, theirs: X25519PublicKey, request: Uint8Array, offer: Uint8Array, reveal: Uint8Array): LinkSecrets {
  const w = new Writer().bytes(L.transcript).bytes(codeKey).var16(request).var16(offer).var16(reveal);
  const transcript = sha256(w.finish());
  const shared = x25519(mine.secretKey, theirs);
  try {
    const key = hkdf(shared, transcript, L.key, 32);
    const d = sha256(concat(L.confirm, transcript));
    let v = 0;
    for (let i = 0; i < 5; i++) v = v * 256 + d[i]!;
    const digits = String(v % 100_000_000).padStart(8, '0');
    return { transcript, key, confirmation: `${digits.slice(0, 4)} ${digits.slice(4)}` };
  } finally {
    wipe(shared);
  }
}

/** Compares a typed confirmation code (spaces and dashes ignored) in constant time. */
export function confirmationMatches(expected: string, typed: unknown): boolean {
  if (typeof typed !== 'string') return false;
  const a = utf8(expected.replace(/[\s-]/g, '')), b = utf8(typed.replace(/[\s-]/g, ''));
  return a.length === b.length && equalBytes(a, b);
}

export interface LinkBundle {
  readonly accountSeed: Uint8Array;
  readonly deviceList: Uint8Array;
  /** O's one-time invitation for N: their channel (spec/devices.md §3.4). */
  readonly invitation: Uint8Array;
}

export function sealBundle(s: LinkSecrets, b: LinkBundle): Uint8Array {
  const plain = new Writer().bytes(b.accountSeed, 32).var16(b.deviceList).var16(b.invitation).finish();
  try {
    return concat(new Uint8Array([BODY_LINK_BUNDLE, VERSION]), chacha20poly1305Seal(aeadKey(s.key), new Uint8Array(12), plain, s.transcript));
  } finally {
    wipe(plain);
  }
}

/** MalformedError when it does not open under this exchange's key. */
export function openBundle(s: LinkSecrets, body: Uint8Array): LinkBundle {
  if (body.length < 2 || body[0] !== BODY_LINK_BUNDLE || body[1] !== VERSION) throw new MalformedError('not a link bundle');
  let plain: Uint8Array;
  try { plain = chacha20poly1305Open(aeadKey(s.key), new Uint8Array(12), body.subarray(2), s.transcript); } catch { throw new MalformedError('link bundle does not open'); }
  const r = new Reader(plain);
  const accountSeed = r.bytes(32).slice();
  const deviceList = r.var16().slice();
  const invitation = r.var16().slice();
  r.end();
  wipe(plain);
  return { accountSeed, deviceList, invitation };
}

export const newLinkEphemeral = (): X25519KeyPair => x25519KeyPair();
