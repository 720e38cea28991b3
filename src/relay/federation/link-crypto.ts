// The link's handshake proofs and its channel keys (spec/federation.md §2). Pure: both sides
// sign the whole transcript (both nonces, both identity keys, both ephemeral keys), and the
// channel keys come from the ephemeral X25519 exchange, so a recorded link stays sealed after
// either relay's identity key leaks.
import {
  aeadKey, chacha20poly1305Open, chacha20poly1305Seal, concat, CryptoError, hkdf, LABELS, sha256, wipe, x25519,
  type AeadKey, type X25519PublicKey, type X25519SecretKey,
} from '../../crypto/index.js';

/** What the listening relay signs: LINK_HELLO as received, then LINK_ACCEPT up to its signature. */
export const acceptMessage = (hello: Uint8Array, acceptWithoutSignature: Uint8Array): Uint8Array =>
  concat(LABELS.peerAccept, hello, acceptWithoutSignature);

/** What the dialing relay signs in LINK_AUTH: both handshake messages as sent. */
export const authMessage = (hello: Uint8Array, accept: Uint8Array): Uint8Array => concat(LABELS.peerAuth, hello, accept);

export interface LinkKeys { readonly send: AeadKey; readonly receive: AeadKey }

/**
 * k = HKDF-SHA256(ikm = X25519(eph, peerEph), salt = H(hello || accept), info = "sealpost/v1/peer-keys", L = 64);
 * the dialer sends with k[0..32] and the listener with k[32..64].
 */
export function linkKeys(ephemeral: X25519SecretKey, peerEphemeral: X25519PublicKey, hello: Uint8Array, accept: Uint8Array, role: 'dialer' | 'listener'): LinkKeys {
  const shared = x25519(ephemeral, peerEphemeral);
  const k = hkdf(shared, sha256(concat(hello, accept)), LABELS.peerKeys, 64);
  wipe(shared);
  const first = aeadKey(k.slice(0, 32));
  const second = aeadKey(k.slice(32));
  wipe(k);
  return role === 'dialer' ? { send: first, receive: second } : { send: second, receive: first };
}

/** Messages a link may carry each way before it must be replaced (the nonce is a counter). */
export const LINK_MESSAGE_LIMIT = 2 ** 48;

/** One direction of a link: ChaCha20-Poly1305 with the message number as nonce, no reordering possible. */
export class LinkCipher {
  private seq = 0;
  private readonly nonce = new Uint8Array(12);
  constructor(private readonly key: AeadKey) {}

  private next(): Uint8Array {
    if (this.seq >= LINK_MESSAGE_LIMIT) throw new CryptoError('MESSAGE_LIMIT', 'link message limit reached');
    const n = this.seq++;
    new DataView(this.nonce.buffer).setUint32(4, Math.floor(n / 2 ** 32));
    new DataView(this.nonce.buffer).setUint32(8, n >>> 0);
    return this.nonce;
  }

  seal(plaintext: Uint8Array): Uint8Array {
    return chacha20poly1305Seal(this.key, this.next(), plaintext);
  }

  /** DECRYPT_FAILED for anything but the next message sealed by the other side. */
  open(ciphertext: Uint8Array): Uint8Array {
    const seq = this.seq;
    try {
      return chacha20poly1305Open(this.key, this.next(), ciphertext);
    } catch (e) {
      this.seq = seq;
      throw e;
    }
  }
}
