// The invitation handshake (spec/client.md §4): an X3DH-style authenticated key agreement
// that seeds the Double Ratchet.
//
//   Bob (acceptor) holds IK_B, makes E_B; Alice (inviter) holds IK_A and the one-time invKey.
//   DH1 = DH(IK_B, invKey)    DH2 = DH(E_B, IK_A)    DH3 = DH(E_B, invKey)
//   th  = H("sealpost/v1/handshake-transcript" || var16(invitation payload) || hello)
//   SK  = HKDF-SHA256(ikm = DH1 || DH2 || DH3, salt = th, info = "sealpost/v1/handshake-key", L = 32)
//
// DH1 authenticates Bob to Alice, DH2 Alice to Bob, DH3 gives forward secrecy once E_B and
// invKey are deleted. th binds both identities, the invitation's signature, Bob's binding,
// E_B and Bob's capability, and feeds the safety code (spec/crypto.md §10). Pure functions.
import {
  MLKEM768_ENCAPSULATION_KEY_LENGTH, concat, hkdf, mlKem768EncapsulationKey, sha256, wipe, x25519, x25519PublicKey,
  type MlKem768EncapsulationKey, type X25519KeyPair, type X25519PublicKey, type X25519SecretKey,
} from '../crypto/index.js';
import { readCapability, writeCapability } from './capability.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import { dhKeyOf, verifyIdentity, type Identity } from './identity.js';
import { CLIENT_LABELS } from './labels.js';
import type { SendCapability } from './mailbox.js';

/** First byte of a sealed envelope's body (spec/client.md §5). */
export const BODY_HELLO = 0x01;
export const BODY_RATCHET = 0x02;
/** Version 2 carries the acceptor's ML-KEM-768 key (spec/client.md §4.1); version 1 is still read. */
export const HELLO_VERSION = 2;
const HELLO_VERSION_CLASSICAL = 1;

export interface Hello {
  readonly identity: Uint8Array;
  readonly binding: Uint8Array;
  readonly ephemeralKey: X25519PublicKey;
  /** Version 2: Bob's ML-KEM-768 key for this handshake; the session is hybrid (spec/ratchet.md §12.7). */
  readonly kemKey?: MlKem768EncapsulationKey;
  /** Bob's new per-conversation mailbox, for Alice to write to. */
  readonly capability: SendCapability;
}

export function encodeHello(h: Hello): Uint8Array {
  const w = new Writer().u8(BODY_HELLO).u8(h.kemKey ? HELLO_VERSION : HELLO_VERSION_CLASSICAL)
    .bytes(h.identity, 64).bytes(h.binding, 64).bytes(h.ephemeralKey, 32);
  if (h.kemKey) w.bytes(h.kemKey, MLKEM768_ENCAPSULATION_KEY_LENGTH);
  return writeCapability(w, h.capability).finish();
}

/** Layout, keys and the identity binding; MalformedError otherwise. */
export function decodeHello(body: Uint8Array): Hello {
  const r = new Reader(body);
  if (r.u8() !== BODY_HELLO) throw new MalformedError('not a hello');
  const version = r.u8();
  if (version !== HELLO_VERSION && version !== HELLO_VERSION_CLASSICAL) throw new MalformedError('unknown hello version');
  const identity = r.bytes(64);
  const binding = r.bytes(64);
  let ephemeralKey: X25519PublicKey;
  try { ephemeralKey = x25519PublicKey(r.bytes(32), 'ephemeralKey'); } catch { throw new MalformedError('bad ephemeral key'); }
  let kemKey: MlKem768EncapsulationKey | undefined;
  if (version === HELLO_VERSION) {
    try { kemKey = mlKem768EncapsulationKey(r.bytes(MLKEM768_ENCAPSULATION_KEY_LENGTH), 'kemKey'); } catch { throw new MalformedError('bad ML-KEM key'); }
  }
  const capability = readCapability(r);
  r.end();
  if (!verifyIdentity(identity, binding)) throw new MalformedError('identity binding does not verify');
  return { identity, binding, ephemeralKey, ...(kemKey ? { kemKey } : {}), capability };
}

export function transcriptHash(invitationPayload: Uint8Array, helloBody: Uint8Array): Uint8Array {
  const len = new Writer().u16(invitationPayload.length).finish();
  return sha256(concat(CLIENT_LABELS.handshakeTranscript, len, invitationPayload, helloBody));
}

function deriveSk(dh1: Uint8Array, dh2: Uint8Array, dh3: Uint8Array, th: Uint8Array): Uint8Array {
  const ikm = concat(dh1, dh2, dh3);
  try { return hkdf(ikm, th, CLIENT_LABELS.handshakeKey, 32); } finally { wipe(ikm, dh1, dh2, dh3); }
}

/** Bob's side: his identity, his ephemeral E_B, the invitation's keys. */
export function acceptorSecret(me: Identity, ephemeral: X25519KeyPair, inviter: Uint8Array, invitationKey: X25519PublicKey, th: Uint8Array): Uint8Array {
  return deriveSk(
    x25519(me.dh.secretKey, invitationKey),
    x25519(ephemeral.secretKey, dhKeyOf(inviter)),
    x25519(ephemeral.secretKey, invitationKey),
    th,
  );
}

/** Alice's side: her identity, the invitation secret, Bob's hello. */
export function inviterSecret(me: Identity, invitationSecret: X25519SecretKey, hello: Hello, th: Uint8Array): Uint8Array {
  return deriveSk(
    x25519(invitationSecret, dhKeyOf(hello.identity)),
    x25519(me.dh.secretKey, hello.ephemeralKey),
    x25519(invitationSecret, hello.ephemeralKey),
    th,
  );
}
