// Mailbox operations for owners and senders over a RelayConnection (spec/protocol.md §4, §5).
// Owners: create, authenticate, subscribe, fetch, ack, rotate, delete. Senders: send with a
// send capability (access key), or with proof-of-work to a public mailbox.
import {
  accessVerifierOf, createMessage, deliveryKey as deriveDeliveryKey, ed25519KeyPair, ed25519Sign, equalBytes, openDelivery,
  readAuthMessage, readIdOf, rotateMessage, randomBytes, sendIdOf, solvePow, toHex, x25519KeyPair,
  type AccessKey, type AccessVerifier, type DeliveryKey, type Ed25519PublicKey, type Ed25519Seed, type ReadId, type SendId,
  type X25519PublicKey, type X25519SecretKey,
} from '../crypto/index.js';
import {
  bodyWithoutSignature, encodeFrame, MAILBOX_FLAG_PUBLIC, parseRelayAddress, ProtocolError,
  type CreateFrame, type MsgFrame, type RelayFrame, type RotateFrame,
} from '../wire/index.js';
import type { RelayConnection } from './connection.js';
import { ClientError } from './errors.js';

export interface MailboxKeys {
  readonly readSeed: Ed25519Seed;
  readonly readKey: Ed25519PublicKey;
  readonly readId: ReadId;
  readonly mailboxSecret: X25519SecretKey;
  readonly mailboxKey: X25519PublicKey;
  readonly sendId: SendId;
  readonly deliverySecret: X25519SecretKey;
  readonly deliveryKey: X25519PublicKey;
  /** null for a public (contact-request) mailbox. */
  readonly accessKey: AccessKey | null;
  /** H("sealpost/v1/access" || accessKey), all zero for a public mailbox. */
  readonly accessVerifier: AccessVerifier;
}

/** What an owner hands to a contact so that it can send (spec/crypto.md §3). */
export interface SendCapability {
  readonly address: string;
  readonly sendId: SendId;
  readonly mailboxKey: X25519PublicKey;
  readonly accessKey: AccessKey | null;
}

export interface Delivered { msgId: number; envelope: Uint8Array; receivedAtMinutes: number }

function readAndDelivery(isPublic: boolean): Pick<MailboxKeys, 'readSeed' | 'readKey' | 'readId' | 'deliverySecret' | 'deliveryKey' | 'accessKey' | 'accessVerifier'> {
  const read = ed25519KeyPair();
  const delivery = x25519KeyPair();
  const accessKey = isPublic ? null : (randomBytes(32) as AccessKey);
  return {
    readSeed: read.seed, readKey: read.publicKey, readId: readIdOf(read.publicKey),
    deliverySecret: delivery.secretKey, deliveryKey: delivery.publicKey,
    accessKey, accessVerifier: accessKey ? accessVerifierOf(accessKey) : (new Uint8Array(32) as AccessVerifier),
  };
}

/** Fresh keys for a new mailbox (spec/crypto.md §3): nothing is shared with any other mailbox. */
export function newMailboxKeys(opts: { public?: boolean } = {}): MailboxKeys {
  const mailbox = x25519KeyPair();
  return { ...readAndDelivery(opts.public === true), mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey, sendId: sendIdOf(mailbox.publicKey) };
}

/** A private mailbox whose sealing key and access key come from elsewhere (a linking code, spec/devices.md §3.2). */
export function mailboxKeysFrom(mailboxSecret: X25519SecretKey, mailboxKey: X25519PublicKey, accessKey: AccessKey): MailboxKeys {
  const base = readAndDelivery(false);
  return { ...base, accessKey, accessVerifier: accessVerifierOf(accessKey), mailboxSecret, mailboxKey, sendId: sendIdOf(mailboxKey) };
}

export const isPublicMailbox = (keys: MailboxKeys): boolean => keys.accessKey === null;

export function sendCapability(address: string, keys: MailboxKeys): SendCapability {
  return { address, sendId: keys.sendId, mailboxKey: keys.mailboxKey, accessKey: keys.accessKey };
}

/** Request options for an optional timeout (no timer at all without one). */
const timeout = (timeoutMs: number | undefined): { timeoutMs?: number } => (timeoutMs === undefined ? {} : { timeoutMs });

function expect<T extends RelayFrame['type']>(f: RelayFrame, type: T): Extract<RelayFrame, { type: T }> {
  if (f.type !== type) throw new ProtocolError('MALFORMED', `expected ${type}, relay answered ${f.type}`);
  return f as Extract<RelayFrame, { type: T }>;
}

/**
 * CREATE, signed by the read key over the connection's nonces (spec/protocol.md §5.2); `token`
 * is an admission token for a closed relay (§5.12).
 */
export async function createMailbox(conn: RelayConnection, keys: MailboxKeys, opts: { ttlSeconds?: number; timeoutMs?: number; token?: Uint8Array } = {}): Promise<void> {
  const frame: CreateFrame = {
    type: 'CREATE', corr: 0, readKey: keys.readKey, sendId: keys.sendId, deliveryKey: keys.deliveryKey,
    accessVerifier: keys.accessVerifier, flags: isPublicMailbox(keys) ? MAILBOX_FLAG_PUBLIC : 0, ttlSeconds: opts.ttlSeconds ?? 0,
    token: opts.token ?? new Uint8Array(0), signature: new Uint8Array(64),
  };
  frame.signature = ed25519Sign(keys.readSeed, createMessage(conn.serverNonce, conn.clientNonce, bodyWithoutSignature(encodeFrame(frame))));
  const created = expect(await conn.request(frame, timeout(opts.timeoutMs)), 'CREATED');
  if (!equalBytes(created.readId, keys.readId) || !equalBytes(created.sendId, keys.sendId)) {
    throw new ProtocolError('MALFORMED', 'CREATED carries other ids');
  }
}

/** AUTH: proves the read key for this connection (spec/protocol.md §5.3). */
export async function authenticate(conn: RelayConnection, keys: MailboxKeys, timeoutMs?: number): Promise<void> {
  const signature = ed25519Sign(keys.readSeed, readAuthMessage(conn.serverNonce, conn.clientNonce, keys.readId));
  expect(await conn.request({ type: 'AUTH', readId: keys.readId, signature }, timeout(timeoutMs)), 'OK');
}

export async function subscribe(conn: RelayConnection, keys: MailboxKeys, timeoutMs?: number): Promise<void> {
  expect(await conn.request({ type: 'SUB', readId: keys.readId }, timeout(timeoutMs)), 'OK');
}

export async function unsubscribe(conn: RelayConnection, keys: MailboxKeys, timeoutMs?: number): Promise<void> {
  expect(await conn.request({ type: 'UNSUB', readId: keys.readId }, timeout(timeoutMs)), 'OK');
}

// dk is derived once per (mailbox keys, relay key) pair: one X25519 per mailbox, not per message.
const dkCache = new WeakMap<MailboxKeys, Map<string, DeliveryKey>>();
function dkFor(conn: RelayConnection, keys: MailboxKeys): DeliveryKey {
  let byRelay = dkCache.get(keys);
  if (!byRelay) dkCache.set(keys, (byRelay = new Map()));
  const relayHex = toHex(conn.relayDeliveryKey);
  let dk = byRelay.get(relayHex);
  if (!dk) {
    dk = deriveDeliveryKey(keys.deliverySecret, conn.relayDeliveryKey, conn.relayDeliveryKey, keys.deliveryKey);
    byRelay.set(relayHex, dk);
  }
  return dk;
}

/** Opens the delivery layer of a MSG (spec/crypto.md §6): the envelope as the sender sent it. */
export function openDelivered(conn: RelayConnection, keys: MailboxKeys, msg: MsgFrame): Delivered {
  const { envelope, receivedAtMinutes } = openDelivery(dkFor(conn, keys), msg.msgId, msg.delivered);
  return { msgId: msg.msgId, envelope, receivedAtMinutes };
}

/** FETCH: the oldest unacknowledged envelope, or null (spec/protocol.md §5.5). */
export async function fetchNext(conn: RelayConnection, keys: MailboxKeys, timeoutMs?: number): Promise<Delivered | null> {
  const f = await conn.request({ type: 'FETCH', readId: keys.readId }, timeout(timeoutMs));
  if (f.type === 'EMPTY') return null;
  return openDelivered(conn, keys, expect(f, 'MSG'));
}

export async function ack(conn: RelayConnection, keys: MailboxKeys, msgId: number, timeoutMs?: number): Promise<void> {
  expect(await conn.request({ type: 'ACK', readId: keys.readId, msgId }, timeout(timeoutMs)), 'OK');
}

export async function deleteMailbox(conn: RelayConnection, keys: MailboxKeys, timeoutMs?: number): Promise<void> {
  expect(await conn.request({ type: 'DEL', readId: keys.readId }, timeout(timeoutMs)), 'OK');
}

/**
 * ROTATE: new read, delivery and access keys for the same sendId (spec/protocol.md §5.9).
 * Old send capabilities stop working; hand out `sendCapability(address, newKeys)`.
 */
export async function rotateMailbox(conn: RelayConnection, keys: MailboxKeys): Promise<MailboxKeys> {
  const fresh = readAndDelivery(isPublicMailbox(keys));
  const next: MailboxKeys = { ...keys, ...fresh };
  const frame: RotateFrame = {
    type: 'ROTATE', corr: 0, readId: keys.readId, newReadKey: next.readKey, newDeliveryKey: next.deliveryKey,
    newAccessVerifier: next.accessVerifier, signature: new Uint8Array(64),
  };
  frame.signature = ed25519Sign(next.readSeed, rotateMessage(conn.serverNonce, conn.clientNonce, bodyWithoutSignature(encodeFrame(frame))));
  const rotated = expect(await conn.request(frame), 'ROTATED');
  if (!equalBytes(rotated.newReadId, next.readId)) throw new ProtocolError('MALFORMED', 'ROTATED carries another readId');
  return next;
}

const fingerprints = new Map<string, Uint8Array>();
/** The fingerprint in a relay address, parsed once per address (a client knows few relays). */
function fingerprintOf(address: string): Uint8Array {
  let fp = fingerprints.get(address);
  if (!fp) {
    if (fingerprints.size >= 256) fingerprints.clear();
    fingerprints.set(address, (fp = parseRelayAddress(address).fingerprint));
  }
  return fp;
}

/**
 * The most proof-of-work a client spends on one SEND to a public mailbox, in leading zero
 * bits (spec/client.md §9.5, threat model §1.3): 2^20 hashes, about 3 s on the event loop of
 * a 2-core machine (4 times the relays' default of 18). A relay that asks more is refused.
 */
export const MAX_POW_DIFFICULTY = 20;

/** SEND with a capability: the access key, or proof-of-work for a public mailbox (spec/protocol.md §5.10). */
export async function sendEnvelope(conn: RelayConnection, cap: SendCapability, envelope: Uint8Array, timeoutMs?: number): Promise<void> {
  if (cap.address && !equalBytes(fingerprintOf(cap.address), conn.address.fingerprint)) {
    throw new ProtocolError('INVALID', 'this capability is for another relay');
  }
  if (!cap.accessKey && conn.powDifficulty > MAX_POW_DIFFICULTY) {
    throw new ClientError('POW_TOO_HARD', `the relay asks ${conn.powDifficulty} bits of proof-of-work; clients spend at most ${MAX_POW_DIFFICULTY}`);
  }
  const proof = cap.accessKey ?? solvePow(conn.serverNonce, cap.sendId, envelope, conn.powDifficulty);
  expect(await conn.request({ type: 'SEND', sendId: cap.sendId, proof, envelope }, timeout(timeoutMs)), 'OK');
}
