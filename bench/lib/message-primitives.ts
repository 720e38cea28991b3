// The cryptographic floor of one SDK text message: the primitives one message needs, timed
// alone on one backend, so that the SDK's CPU per message can be read as a multiple of them
// (the SDK end-to-end suite's "CPU ratio"). One message costs:
//
//   - a ratchet step: encrypt on the sender, decrypt on the receiver (spec/ratchet.md §5),
//   - a sealed envelope, sealed by the sender and opened by the receiver, 1 KiB bucket
//     (spec/crypto.md §9),
//   - the relay's delivery layer, sealed by the relay and opened by the receiver (spec/crypto.md §6;
//     the client's side is mailbox.ts openDelivered, with its key derived once per mailbox).
//
// This is the one bench module that reaches into SDK internals (the ratchet): the clients in the
// end-to-end measurement use only the public API. When the ratchet moves (issue 10 gives it its
// own folder), only the import below changes.
import {
  deliveryKey, openDelivery, openEnvelope, randomBytes, sealDelivery, sealEnvelope, withBackend, x25519KeyPair,
  type BackendName,
} from '../../src/crypto/index.js';
import { decrypt, encrypt, initReceiver, initSender } from '../../src/ratchet/index.js';
import { measureInterleaved, type CaseResult } from './measure.js';
import { TEXT_CHARS } from './sdk-pair.js';

/** A 100-character text as a ratchet plaintext: the text and its payload header (version, type, 16-byte id, 8-byte time). */
const PAYLOAD_HEADER = 1 + 1 + 16 + 8;
/** The envelope bucket a short text lands in. */
export const BUCKET = 1024;

export interface MessagePrimitives {
  readonly backend: BackendName;
  /** µs per operation, median sample. */
  readonly ratchetStepUs: number;
  readonly envelopeSealUs: number;
  readonly envelopeOpenUs: number;
  readonly deliverySealOpenUs: number;
  /** The sum: the primitives one message needs, end to end (sender, relay's delivery seal, receiver). */
  readonly sumUs: number;
}

/** Times the primitives of one message, interleaved, within about `budgetMs`. */
export function measureMessagePrimitives(budgetMs: number, backend: BackendName = 'node'): MessagePrimitives {
  return withBackend(backend, () => {
    // A session as after a handshake: the inviter sends first, the acceptor receives (one-way traffic).
    const sk = randomBytes(32), ad = randomBytes(32);
    const acceptorKey = x25519KeyPair();
    const sender = initSender(sk, ad, acceptorKey.publicKey);
    const receiver = initReceiver(sk, ad, acceptorKey);
    const plaintext = randomBytes(PAYLOAD_HEADER + TEXT_CHARS);
    const body = new Uint8Array([0x02, ...encrypt(sender, plaintext)]); // BODY_RATCHET || ratchet message
    decrypt(receiver, body.subarray(1));

    const from = x25519KeyPair(), mailbox = x25519KeyPair();
    const envelope = sealEnvelope({ mailboxKey: mailbox.publicKey, sender: from, body, bucket: BUCKET });
    if (envelope.length !== BUCKET) throw new Error(`a ${TEXT_CHARS}-character text sealed to ${envelope.length} B, not the ${BUCKET} B bucket`);

    // The delivery key is derived once per mailbox on both sides, so it is not part of a message.
    const relayKey = x25519KeyPair(), mailboxDelivery = x25519KeyPair();
    const dk = deliveryKey(relayKey.secretKey, mailboxDelivery.publicKey, relayKey.publicKey, mailboxDelivery.publicKey);
    let msgId = 1;

    const results = measureInterleaved([
      { name: 'ratchet', fn: () => decrypt(receiver, encrypt(sender, plaintext)) },
      { name: 'seal', fn: () => sealEnvelope({ mailboxKey: mailbox.publicKey, sender: from, body, bucket: BUCKET }) },
      { name: 'open', fn: () => openEnvelope({ mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey, envelope }) },
      { name: 'delivery', fn: () => { const id = msgId++; return openDelivery(dk, id, sealDelivery(dk, id, 29_000_000, envelope)); } },
    ], budgetMs);
    const us = (name: string): number => (results.find((r: CaseResult) => r.name === name)?.usPerOp ?? NaN);
    const p = { ratchetStepUs: us('ratchet'), envelopeSealUs: us('seal'), envelopeOpenUs: us('open'), deliverySealOpenUs: us('delivery') };
    return { backend, ...p, sumUs: p.ratchetStepUs + p.envelopeSealUs + p.envelopeOpenUs + p.deliverySealOpenUs };
  });
}
