// Mailbox ids, the access verifier and the relay fingerprint (spec/crypto.md §3, §4).
import { abytes, concat } from './bytes.js';
import { LABELS } from './labels.js';
import { sha256 } from './primitives.js';
import type { Brand, Ed25519PublicKey, X25519PublicKey } from './types.js';

export type ReadId = Brand<Uint8Array, 'ReadId'>;
export type SendId = Brand<Uint8Array, 'SendId'>;
export type AccessKey = Brand<Uint8Array, 'AccessKey'>;
export type AccessVerifier = Brand<Uint8Array, 'AccessVerifier'>;
export type Fingerprint = Brand<Uint8Array, 'Fingerprint'>;

export const readIdOf = (readKey: Ed25519PublicKey): ReadId =>
  sha256(concat(LABELS.readId, abytes(readKey, 'readKey', 32))) as ReadId;

export const sendIdOf = (mailboxKey: X25519PublicKey): SendId =>
  sha256(concat(LABELS.sendId, abytes(mailboxKey, 'mailboxKey', 32))) as SendId;

export const accessVerifierOf = (accessKey: AccessKey | Uint8Array): AccessVerifier =>
  sha256(concat(LABELS.access, abytes(accessKey, 'accessKey', 32))) as AccessVerifier;

export const relayFingerprintOf = (relaySignKey: Ed25519PublicKey): Fingerprint =>
  sha256(concat(LABELS.relayFingerprint, abytes(relaySignKey, 'relaySignKey', 32))) as Fingerprint;
