// The relay's identity (spec/crypto.md §4): an Ed25519 key that signs HELLO and names the
// relay by its fingerprint, and an X25519 key for the delivery layer (crypto.md §6). Made on
// first start and kept in `identity.json` in the data directory, readable by the owner only.
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, chmodSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  ed25519KeyPair, fromBase64url, randomBytes, relayFingerprintOf, toBase64url, toHex, x25519KeyPair,
  type Ed25519PublicKey, type Ed25519Seed, type X25519PublicKey, type X25519SecretKey,
} from '../crypto/index.js';

export interface RelayIdentity {
  readonly signSeed: Ed25519Seed;
  readonly signKey: Ed25519PublicKey;
  readonly deliverySecret: X25519SecretKey;
  readonly deliveryKey: X25519PublicKey;
  /** base64url of the fingerprint, as written in relay addresses (spec/protocol.md §1). */
  readonly fingerprint: string;
}

export const IDENTITY_FILE = 'identity.json';

interface IdentityFileV1 { version: 1; signSeed: string; deliverySecret: string }

function fromSecrets(signSeed: Uint8Array, deliverySecret: Uint8Array): RelayIdentity {
  const sign = ed25519KeyPair(signSeed);
  const dh = x25519KeyPair(deliverySecret);
  return {
    signSeed: sign.seed, signKey: sign.publicKey,
    deliverySecret: dh.secretKey, deliveryKey: dh.publicKey,
    fingerprint: toBase64url(relayFingerprintOf(sign.publicKey)),
  };
}

function parse(text: string, path: string): RelayIdentity {
  let json: IdentityFileV1;
  try {
    json = JSON.parse(text) as IdentityFileV1;
    if (json.version !== 1) throw new Error(`unsupported version ${String(json.version)}`);
    const seed = fromBase64url(json.signSeed);
    const secret = fromBase64url(json.deliverySecret);
    if (seed.length !== 32 || secret.length !== 32) throw new Error('keys must be 32 bytes');
    return fromSecrets(seed, secret);
  } catch (e) {
    throw new Error(`relay identity ${path} is unreadable: ${(e as Error).message}`);
  }
}

/** Loads the identity from `dataDir`, creating the directory (0700) and the file (0600) if needed. */
export function loadOrCreateIdentity(dataDir: string): RelayIdentity {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, IDENTITY_FILE);
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) chmodSync(path, 0o600); // tighten a copy restored with loose permissions
    return parse(readFileSync(path, 'utf8'), path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const id = fromSecrets(randomBytes(32), randomBytes(32));
  const body: IdentityFileV1 = { version: 1, signSeed: toBase64url(id.signSeed), deliverySecret: toBase64url(id.deliverySecret) };
  // Write a private temporary file, fsync it, then link it into place: link() fails if another
  // process created the identity meanwhile, and then that one wins.
  const tmp = join(dataDir, `.identity.${toHex(randomBytes(6))}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(body) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return parse(readFileSync(path, 'utf8'), path);
  } finally {
    unlinkSync(tmp);
  }
  return id;
}
