// An identity: an Ed25519 and an X25519 key pair made on the device (spec/client.md §1).
// Its public form is 64 bytes, Ed25519 || X25519 (spec/crypto.md §10). The binding
// signature ties the two halves together without saying anything about any conversation.
import {
  concat, ed25519KeyPair, ed25519Sign, ed25519Verify, equalBytes, x25519KeyPair, x25519PublicKey,
  type Ed25519KeyPair, type Ed25519PublicKey, type Ed25519Signature, type X25519KeyPair, type X25519PublicKey,
} from '../crypto/index.js';
import { CLIENT_LABELS } from './labels.js';

export const IDENTITY_PUBLIC_LENGTH = 64;

export interface Identity {
  readonly sign: Ed25519KeyPair;
  readonly dh: X25519KeyPair;
  /** Ed25519 public || X25519 public. */
  readonly publicKey: Uint8Array;
  /** Ed25519(sign, "sealpost/v1/identity-bind" || dh.publicKey). */
  readonly binding: Ed25519Signature;
}

export function newIdentity(sign: Ed25519KeyPair = ed25519KeyPair(), dh: X25519KeyPair = x25519KeyPair()): Identity {
  return {
    sign, dh,
    publicKey: concat(sign.publicKey, dh.publicKey),
    binding: ed25519Sign(sign.seed, concat(CLIENT_LABELS.identityBind, dh.publicKey)),
  };
}

export const signingKeyOf = (identityPublic: Uint8Array): Ed25519PublicKey => identityPublic.subarray(0, 32) as Ed25519PublicKey;
export const dhKeyOf = (identityPublic: Uint8Array): X25519PublicKey => identityPublic.subarray(32, 64) as X25519PublicKey;

/** True when `identityPublic` is 64 bytes, its X25519 half is a valid peer key and `binding` verifies. */
export function verifyIdentity(identityPublic: Uint8Array, binding: Uint8Array): boolean {
  if (identityPublic.length !== IDENTITY_PUBLIC_LENGTH) return false;
  try { x25519PublicKey(dhKeyOf(identityPublic)); } catch { return false; }
  return ed25519Verify(binding, concat(CLIENT_LABELS.identityBind, dhKeyOf(identityPublic)), signingKeyOf(identityPublic));
}

export const sameIdentity = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && equalBytes(a, b);
