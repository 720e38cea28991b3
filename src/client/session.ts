// TEMPORARY stand-in for the Double Ratchet adapter (replaced when src/client/ratchet.ts lands).
import { concat, hkdf, utf8, xchacha20poly1305Open, xchacha20poly1305Seal, type AeadKey, type X25519KeyPair, type X25519PublicKey } from '../crypto/index.js';
import { Reader, Writer } from './codec.js';

export interface Session { ad: Uint8Array; sendCk: Uint8Array; sendN: number; recvCk: Uint8Array; recvN: number }
export type SessionFailure = 'replay' | 'undecryptable';
export class SessionError extends Error {
  constructor(readonly reason: SessionFailure, message: string) { super(message); this.name = 'SessionError'; }
}
const chain = (sk: Uint8Array, l: string): Uint8Array => hkdf(sk, new Uint8Array(0), utf8(l), 32);
export function startInitiator(sk: Uint8Array, ad: Uint8Array, _remote: X25519PublicKey): Session {
  return { ad, sendCk: chain(sk, 'a'), sendN: 0, recvCk: chain(sk, 'b'), recvN: 0 };
}
export function startResponder(sk: Uint8Array, ad: Uint8Array, _own: X25519KeyPair): Session {
  return { ad, sendCk: chain(sk, 'b'), sendN: 0, recvCk: chain(sk, 'a'), recvN: 0 };
}
export function sessionEncrypt(s: Session, pt: Uint8Array): Uint8Array {
  const mk = hkdf(s.sendCk, new Uint8Array(0), utf8('mk'), 32) as AeadKey;
  s.sendCk = hkdf(s.sendCk, new Uint8Array(0), utf8('ck'), 32);
  const n = s.sendN++;
  const hdr = new Writer().u32(n).finish();
  return concat(hdr, xchacha20poly1305Seal(mk, new Uint8Array(24), pt, concat(s.ad, hdr)));
}
export function sessionDecrypt(s: Session, m: Uint8Array): Uint8Array {
  const n = new Reader(m.subarray(0, 4)).u32();
  if (n < s.recvN) throw new SessionError('replay', 'old');
  let ck = s.recvCk;
  for (let i = s.recvN; i < n; i++) ck = hkdf(ck, new Uint8Array(0), utf8('ck'), 32);
  const mk = hkdf(ck, new Uint8Array(0), utf8('mk'), 32) as AeadKey;
  let pt: Uint8Array;
  try { pt = xchacha20poly1305Open(mk, new Uint8Array(24), m.subarray(4), concat(s.ad, m.subarray(0, 4))); } catch { throw new SessionError('undecryptable', 'bad'); }
  s.recvCk = hkdf(ck, new Uint8Array(0), utf8('ck'), 32);
  s.recvN = n + 1;
  return pt;
}
export function encodeSession(s: Session): Uint8Array {
  return new Writer().var16(s.ad).bytes(s.sendCk).u32(s.sendN).bytes(s.recvCk).u32(s.recvN).finish();
}
export function decodeSession(b: Uint8Array): Session {
  const r = new Reader(b);
  return { ad: r.var16(), sendCk: r.bytes(32), sendN: r.u32(), recvCk: r.bytes(32), recvN: r.u32() };
}
