// The session adapter: the one place where the client meets the Double Ratchet
// (spec/client.md §4–§6). INTERIM: until src/client/ratchet.ts (spec/ratchet.md) lands,
// this file carries a compact Double Ratchet after Signal's specification (Perrin and
// Marlinspike, 2016), under its own labels `sealpost/v1/session-interim/…`, so that the
// SDK has forward secrecy and post-compromise security now. Switching to ratchet.ts
// changes this file only.
//
//   KDF_RK(rk, dh)  = HKDF-SHA256(ikm = dh, salt = rk, info = "sealpost/v1/session-interim/rk", 64) -> rk', ck
//   KDF_CK(ck)      = mk = HMAC(ck, 0x01), ck' = HMAC(ck, 0x02)
//   header          = dh[32] || pn[4] || n[4]
//   message         = header || XChaCha20-Poly1305(mk, nonce = 0^24, pt, aad = AD || header)   (mk is used once)
import {
  concat, equalBytes, hkdf, hmacSha256, toHex, wipe, x25519, x25519KeyPair, x25519PublicKey,
  xchacha20poly1305Open, xchacha20poly1305Seal, utf8,
  type AeadKey, type X25519KeyPair, type X25519PublicKey, type X25519SecretKey,
} from '../crypto/index.js';
import { Reader, Writer } from './codec.js';

const RK_LABEL = utf8('sealpost/v1/session-interim/rk');
const ZERO_NONCE = new Uint8Array(24);
const HEADER_BYTES = 40;
/** Message keys kept for messages that have not arrived yet (out of order, lost). */
export const MAX_SKIP = 1000;
const MAX_SKIPPED_TOTAL = 2000;
const PREVIOUS_KEYS_KEPT = 8;
const STATE_VERSION = 1;

export interface Session {
  ad: Uint8Array;
  rk: Uint8Array;
  dhs: X25519KeyPair;
  dhr: X25519PublicKey | null;
  cks: Uint8Array | null;
  ckr: Uint8Array | null;
  ns: number;
  nr: number;
  pn: number;
  /** Remote ratchet keys of finished chains: a message on one of them with no skipped key is a replay. */
  previous: Uint8Array[];
  /** hex(dh) + ':' + n -> message key */
  skipped: Map<string, Uint8Array>;
}

export type SessionFailure = 'replay' | 'undecryptable';
export class SessionError extends Error {
  constructor(readonly reason: SessionFailure, message: string) {
    super(message);
    this.name = 'SessionError';
  }
}

function kdfRk(rk: Uint8Array, dh: Uint8Array): [Uint8Array, Uint8Array] {
  const out = hkdf(dh, rk, RK_LABEL, 64);
  return [out.slice(0, 32), out.slice(32)];
}
function kdfCk(ck: Uint8Array): [Uint8Array, Uint8Array] {
  return [hmacSha256(ck, Uint8Array.of(1)), hmacSha256(ck, Uint8Array.of(2))];
}

/** The inviter (spec/client.md §4.2): knows the responder's ratchet key E_B, sends first. */
export function startInitiator(sk: Uint8Array, ad: Uint8Array, remote: X25519PublicKey): Session {
  const dhs = x25519KeyPair();
  const [rk, cks] = kdfRk(sk, x25519(dhs.secretKey, remote));
  return { ad, rk, dhs, dhr: remote, cks, ckr: null, ns: 0, nr: 0, pn: 0, previous: [], skipped: new Map() };
}

/** The acceptor (spec/client.md §4.1): its ratchet key pair is E_B. */
export function startResponder(sk: Uint8Array, ad: Uint8Array, own: X25519KeyPair): Session {
  return { ad, rk: sk.slice(), dhs: own, dhr: null, cks: null, ckr: null, ns: 0, nr: 0, pn: 0, previous: [], skipped: new Map() };
}

export function sessionEncrypt(s: Session, plaintext: Uint8Array): Uint8Array {
  if (!s.cks) throw new SessionError('undecryptable', 'this side cannot send before it has received');
  const [mk, ck] = kdfCk(s.cks);
  s.cks = ck;
  const header = new Writer().bytes(s.dhs.publicKey, 32).u32(s.pn).u32(s.ns).finish();
  s.ns++;
  try {
    return concat(header, xchacha20poly1305Seal(mk as AeadKey, ZERO_NONCE, plaintext, concat(s.ad, header)));
  } finally {
    wipe(mk);
  }
}

function open(s: Session, mk: Uint8Array, header: Uint8Array, ct: Uint8Array): Uint8Array {
  try {
    return xchacha20poly1305Open(mk as AeadKey, ZERO_NONCE, ct, concat(s.ad, header));
  } catch {
    throw new SessionError('undecryptable', 'message does not authenticate');
  } finally {
    wipe(mk);
  }
}

function skipTo(s: Session, until: number): void {
  if (!s.ckr || !s.dhr) return;
  if (until - s.nr > MAX_SKIP) throw new SessionError('undecryptable', 'too many skipped messages');
  while (s.nr < until) {
    const [mk, ck] = kdfCk(s.ckr);
    s.ckr = ck;
    s.skipped.set(`${toHex(s.dhr)}:${s.nr}`, mk);
    s.nr++;
  }
  while (s.skipped.size > MAX_SKIPPED_TOTAL) s.skipped.delete(s.skipped.keys().next().value!);
}

/**
 * Decrypts in place. Callers that must keep the session unchanged on failure decrypt on a
 * copy (the client does: spec/client.md §6.1). SessionError 'replay' for a message whose
 * key was already used, 'undecryptable' otherwise.
 */
export function sessionDecrypt(s: Session, message: Uint8Array): Uint8Array {
  if (message.length < HEADER_BYTES + 16) throw new SessionError('undecryptable', 'message too short');
  const header = message.subarray(0, HEADER_BYTES);
  const ct = message.subarray(HEADER_BYTES);
  const r = new Reader(header);
  let dh: X25519PublicKey;
  try { dh = x25519PublicKey(r.bytes(32)); } catch { throw new SessionError('undecryptable', 'bad ratchet key'); }
  const pn = r.u32(), n = r.u32();
  const id = `${toHex(dh)}:${n}`;
  const mk = s.skipped.get(id);
  if (mk) {
    const pt = open(s, mk.slice(), header, ct);
    s.skipped.delete(id);
    return pt;
  }
  if (s.dhr && equalBytes(dh, s.dhr)) {
    if (n < s.nr) throw new SessionError('replay', 'message key already used');
  } else {
    if (s.previous.some((p) => equalBytes(p, dh))) throw new SessionError('replay', 'message of a finished chain already received');
    // DH ratchet step (Signal's DHRatchet).
    skipTo(s, pn);
    if (s.dhr) s.previous = [...s.previous, s.dhr].slice(-PREVIOUS_KEYS_KEPT);
    s.pn = s.ns;
    s.ns = 0;
    s.nr = 0;
    s.dhr = dh;
    [s.rk, s.ckr] = kdfRk(s.rk, x25519(s.dhs.secretKey, dh));
    s.dhs = x25519KeyPair();
    [s.rk, s.cks] = kdfRk(s.rk, x25519(s.dhs.secretKey, dh));
  }
  skipTo(s, n);
  const [key, ck] = kdfCk(s.ckr!);
  s.ckr = ck;
  s.nr++;
  return open(s, key, header, ct);
}

const opt = (w: Writer, b: Uint8Array | null): Writer => (b ? w.u8(1).bytes(b, 32) : w.u8(0));
const readOpt = (r: Reader): Uint8Array | null => (r.u8() ? r.bytes(32) : null);

export function encodeSession(s: Session): Uint8Array {
  const w = new Writer().u8(STATE_VERSION).var16(s.ad).bytes(s.rk, 32).bytes(s.dhs.secretKey, 32);
  opt(w, s.dhr); opt(w, s.cks); opt(w, s.ckr);
  w.u32(s.ns).u32(s.nr).u32(s.pn).u8(s.previous.length);
  for (const p of s.previous) w.bytes(p, 32);
  w.u16(s.skipped.size);
  for (const [k, mk] of s.skipped) {
    const [dh = '', n = '0'] = k.split(':');
    w.bytes(Uint8Array.from(Buffer.from(dh, 'hex')), 32).u32(Number(n)).bytes(mk, 32);
  }
  return w.finish();
}

export function decodeSession(b: Uint8Array): Session {
  const r = new Reader(b);
  if (r.u8() !== STATE_VERSION) throw new SessionError('undecryptable', 'unknown session state version');
  const ad = r.var16(), rk = r.bytes(32);
  const dhs = x25519KeyPair(r.bytes(32) as X25519SecretKey);
  const dhr = readOpt(r) as X25519PublicKey | null, cks = readOpt(r), ckr = readOpt(r);
  const ns = r.u32(), nr = r.u32(), pn = r.u32();
  const previous: Uint8Array[] = [];
  for (let i = r.u8(); i > 0; i--) previous.push(r.bytes(32));
  const skipped = new Map<string, Uint8Array>();
  for (let i = r.u16(); i > 0; i--) {
    const dh = r.bytes(32), n = r.u32();
    skipped.set(`${toHex(dh)}:${n}`, r.bytes(32));
  }
  r.end();
  return { ad, rk, dhs, dhr, cks, ckr, ns, nr, pn, previous, skipped };
}
