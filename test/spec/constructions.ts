// Recomputes the spec's own vectors (spec/vectors/constructions.json) from fixed inputs.
// SEALPOST_WRITE_VECTORS=1 writes the file instead of checking it (only when the spec changes).
import {
  accessVerifierOf, deliveryKey, ed25519KeyPair, ed25519Sign, fromHex, openDelivery, pad, readIdOf,
  readAuthMessage, relayFingerprintOf, safetyCode, sealDelivery, sendIdOf, solvePow, toHex, x25519KeyPair,
  powDigest, leadingZeroBits, sha256, utf8, sealEnvelope, openEnvelope, type AccessKey, type DeliveryKey,
} from '../../src/crypto/index.js';
import { encodeFrame, formatRelayAddress, type Frame } from '../../src/wire/index.js';
import { newIdentity } from '../../src/client/identity.js';
import { decodeInvitation, encodeInvitation, formatInvitationLink } from '../../src/client/invitation.js';

const seed = (label: string): Uint8Array => sha256(utf8(`sealpost test vector seed: ${label}`));

export interface ConstructionVectors { [section: string]: Record<string, unknown> }

export function sampleFrames(): Frame[] {
  const b = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
  return [
    { type: 'HELLO', corr: 1, minVersion: 1, maxVersion: 1, clientNonce: b(32, 0x11) },
    { type: 'CREATE', corr: 2, readKey: b(32, 1), sendId: b(32, 2), deliveryKey: b(32, 3), accessVerifier: b(32, 4), flags: 0, ttlSeconds: 86400, token: new Uint8Array(0), signature: b(64, 5) },
    { type: 'AUTH', corr: 3, readId: b(32, 6), signature: b(64, 7) },
    { type: 'SUB', corr: 4, readId: b(32, 6) },
    { type: 'FETCH', corr: 5, readId: b(32, 6) },
    { type: 'ACK', corr: 6, readId: b(32, 6), msgId: 2 ** 40 + 7 },
    { type: 'UNSUB', corr: 7, readId: b(32, 6) },
    { type: 'DEL', corr: 8, readId: b(32, 6) },
    { type: 'ROTATE', corr: 9, readId: b(32, 6), newReadKey: b(32, 8), newDeliveryKey: b(32, 9), newAccessVerifier: b(32, 10), signature: b(64, 11) },
    { type: 'SEND', corr: 0xffffffff, sendId: b(32, 2), proof: b(32, 12), envelope: b(256, 13) },
    { type: 'PING', corr: 10 },
    { type: 'SERVER_HELLO', corr: 1, version: 1, serverNonce: b(32, 14), relaySignKey: b(32, 15), relayDeliveryKey: b(32, 16), powDifficulty: 18, maxFrameBytes: 66560, signature: b(64, 17) },
    { type: 'OK', corr: 3 },
    { type: 'ERR', corr: 3, code: 5 },
    { type: 'CREATED', corr: 2, readId: b(32, 6), sendId: b(32, 2) },
    { type: 'MSG', corr: 0, readId: b(32, 6), msgId: 1, delivered: b(300, 18) },
    { type: 'EMPTY', corr: 5 },
    { type: 'PONG', corr: 10 },
    { type: 'END', corr: 0, readId: b(32, 6) },
    { type: 'ROTATED', corr: 9, newReadId: b(32, 19) },
  ];
}

export function computeVectors(): ConstructionVectors {
  const read = ed25519KeyPair(seed('read key'));
  const mailbox = x25519KeyPair(seed('mailbox key'));
  const accessKey = seed('access key');
  const relaySign = ed25519KeyPair(seed('relay sign key'));
  const relayDelivery = x25519KeyPair(seed('relay delivery key'));
  const ownerDelivery = x25519KeyPair(seed('owner delivery key'));
  const serverNonce = seed('server nonce');
  const clientNonce = seed('client nonce');
  const readId = readIdOf(read.publicKey);
  const sendId = sendIdOf(mailbox.publicKey);

  const dkRelay = deliveryKey(relayDelivery.secretKey, ownerDelivery.publicKey, relayDelivery.publicKey, ownerDelivery.publicKey);
  const dkOwner = deliveryKey(ownerDelivery.secretKey, relayDelivery.publicKey, relayDelivery.publicKey, ownerDelivery.publicKey);
  const envelope = new Uint8Array(256).map((_, i) => i);
  const delivered = sealDelivery(dkRelay, 42, 29_000_000, envelope, seed('delivery nonce').subarray(0, 24));
  if (toHex(openDelivery(dkOwner as DeliveryKey, 42, delivered).envelope) !== toHex(envelope)) throw new Error('delivery layer does not round-trip');

  const powNonce = solvePow(serverNonce, sendId, envelope, 8, new Uint8Array(32));
  const sender = x25519KeyPair(seed('sender identity key'));
  const ephemeral = x25519KeyPair(seed('hpke ephemeral'));
  const body = utf8('sealed sender test body');
  const sealed = sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, ephemeral });
  const opened = openEnvelope({ mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey, envelope: sealed });
  if (toHex(opened.body) !== toHex(body) || toHex(opened.senderKey) !== toHex(sender.publicKey)) throw new Error('envelope does not round-trip');
  const idA = new Uint8Array(64).fill(0xaa), idB = new Uint8Array(64).fill(0x55);

  // spec/client.md §3: a signed invitation (Ed25519 is deterministic, so the link is fixed).
  const inviter = newIdentity(ed25519KeyPair(seed('inviter sign key')), x25519KeyPair(seed('inviter dh key')));
  const invitationKey = x25519KeyPair(seed('invitation key'));
  const relay = formatRelayAddress({ tls: true, host: 'relay.example.org', port: 443, fingerprint: relayFingerprintOf(relaySign.publicKey) });
  const invitation = encodeInvitation({
    inviter: inviter.publicKey, invitationKey: invitationKey.publicKey, expiresAt: 1_900_000_000, relay, mailboxKey: mailbox.publicKey, accessKey: accessKey as AccessKey,
  }, inviter.sign.seed);
  if (decodeInvitation(invitation).expiresAt !== 1_900_000_000) throw new Error('invitation does not round-trip');
  const link = formatInvitationLink(invitation);

  return {
    ids: {
      readKey: toHex(read.publicKey), readId: toHex(readId),
      mailboxKey: toHex(mailbox.publicKey), sendId: toHex(sendId),
      accessKey: toHex(accessKey), accessVerifier: toHex(accessVerifierOf(accessKey)),
      relaySignKey: toHex(relaySign.publicKey), relayFingerprint: toHex(relayFingerprintOf(relaySign.publicKey)),
    },
    readAuth: {
      readSeed: toHex(read.seed), serverNonce: toHex(serverNonce), clientNonce: toHex(clientNonce), readId: toHex(readId),
      signature: toHex(ed25519Sign(read.seed, readAuthMessage(serverNonce, clientNonce, readId))),
    },
    delivery: {
      relayDeliverySecret: toHex(relayDelivery.secretKey), relayDeliveryKey: toHex(relayDelivery.publicKey),
      ownerDeliverySecret: toHex(ownerDelivery.secretKey), ownerDeliveryKey: toHex(ownerDelivery.publicKey),
      dk: toHex(dkRelay), msgId: 42, receivedAtMinutes: 29_000_000, nonce: toHex(delivered.subarray(0, 24)),
      envelope: toHex(envelope), delivered: toHex(delivered),
    },
    padding: {
      content: toHex(utf8('hello')), bucket: 256, padded: toHex(pad(utf8('hello'))),
    },
    pow: {
      serverNonce: toHex(serverNonce), sendId: toHex(sendId), envelope: toHex(envelope), difficulty: 8,
      nonce: toHex(powNonce), digest: toHex(powDigest(serverNonce, sendId, envelope, powNonce)),
      zeroBits: leadingZeroBits(powDigest(serverNonce, sendId, envelope, powNonce)),
    },
    envelope: {
      mailboxSecret: toHex(mailbox.secretKey), mailboxKey: toHex(mailbox.publicKey),
      senderSecret: toHex(sender.secretKey), senderKey: toHex(sender.publicKey),
      ephemeralSecret: toHex(ephemeral.secretKey), body: toHex(body), bucket: 256, envelope: toHex(sealed),
    },
    sas: {
      identityA: toHex(idA), identityB: toHex(idB), transcriptHash: toHex(seed('transcript')),
      code: safetyCode(idA, idB, seed('transcript')),
    },
    invitation: {
      inviterSignSeed: toHex(inviter.sign.seed), inviter: toHex(inviter.publicKey), invitationKey: toHex(invitationKey.publicKey),
      expiresAt: 1_900_000_000, relay, mailboxKey: toHex(mailbox.publicKey), accessKey: toHex(accessKey),
      payload: toHex(invitation), signature: toHex(invitation.subarray(invitation.length - 64)), link, linkLength: link.length,
    },
    frames: Object.fromEntries(sampleFrames().map((f) => [f.type, toHex(encodeFrame(f))])),
  };
}

/** Lists the paths at which two vector objects differ (empty when equal). */
export function diffVectors(expected: unknown, actual: unknown, path = ''): string[] {
  if (typeof expected !== 'object' || expected === null || typeof actual !== 'object' || actual === null) {
    return expected === actual ? [] : [path || '(root)'];
  }
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  return [...keys].flatMap((k) => diffVectors((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k], `${path}.${k}`));
}

export { fromHex };
