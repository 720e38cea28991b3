// The relay's per-mailbox delivery layer (spec/crypto.md §6).
import { abytes, concat } from './bytes.js';
import { CryptoError } from './errors.js';
import { LABELS } from './labels.js';
import { hkdf, randomBytes, x25519, xchacha20poly1305Open, xchacha20poly1305Seal } from './primitives.js';
import type { AeadKey, SharedSecret, X25519PublicKey, X25519SecretKey } from './types.js';

export type DeliveryKey = AeadKey & { readonly __delivery: true };
export const DELIVERY_OVERHEAD = 24 + 4 + 16;

/** dk from either side: (relay secret, mailbox key) on the relay, (mailbox secret, relay key) on the client. */
export function deliveryKey(ownSecret: X25519SecretKey, peerPublic: X25519PublicKey, relayDeliveryKey: X25519PublicKey, mailboxDeliveryKey: X25519PublicKey): DeliveryKey {
  return deliveryKeyFromShared(x25519(ownSecret, peerPublic), relayDeliveryKey, mailboxDeliveryKey);
}

/** The key derivation half of `deliveryKey`, for an X25519 result computed elsewhere (a worker). */
export function deliveryKeyFromShared(shared: SharedSecret, relayDeliveryKey: X25519PublicKey, mailboxDeliveryKey: X25519PublicKey): DeliveryKey {
  return hkdf(abytes(shared, 'shared', 32), new Uint8Array(0), concat(LABELS.deliver, relayDeliveryKey, mailboxDeliveryKey), 32) as DeliveryKey;
}

function aad(msgId: number): Uint8Array {
  const b = new Uint8Array(LABELS.deliver.length + 8);
  b.set(LABELS.deliver);
  const dv = new DataView(b.buffer);
  dv.setUint32(LABELS.deliver.length, Math.floor(msgId / 2 ** 32));
  dv.setUint32(LABELS.deliver.length + 4, msgId >>> 0);
  return b;
}

export function sealDelivery(dk: DeliveryKey, msgId: number, receivedAtMinutes: number, envelope: Uint8Array, nonce: Uint8Array = randomBytes(24)): Uint8Array {
  abytes(envelope, 'envelope');
  const pt = new Uint8Array(4 + envelope.length);
  new DataView(pt.buffer).setUint32(0, receivedAtMinutes >>> 0);
  pt.set(envelope, 4);
  return concat(abytes(nonce, 'nonce', 24), xchacha20poly1305Seal(dk, nonce, pt, aad(msgId)));
}

export function openDelivery(dk: DeliveryKey, msgId: number, delivered: Uint8Array): { receivedAtMinutes: number; envelope: Uint8Array } {
  abytes(delivered, 'delivered');
  if (delivered.length < DELIVERY_OVERHEAD) throw new CryptoError('DECRYPT_FAILED', 'delivered envelope too short');
  const pt = xchacha20poly1305Open(dk, delivered.subarray(0, 24), delivered.subarray(24), aad(msgId));
  return { receivedAtMinutes: new DataView(pt.buffer, pt.byteOffset, 4).getUint32(0), envelope: pt.subarray(4) };
}

/** The relay's coarse clock for receivedAt: whole minutes since the epoch. */
export const minutesNow = (nowMs: number = Date.now()): number => Math.floor(nowMs / 60_000);

