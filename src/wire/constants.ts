// Protocol constants (spec/protocol.md §3, §6, §8).
export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL = 'sealpost.v1';
export const FRAME_HEADER_BYTES = 6; // version[1] type[1] corr[4]
export const ID_BYTES = 32;
export const NONCE_BYTES = 32;

/** Envelope sizes the relay accepts (spec/protocol.md §6). */
export const ENVELOPE_BUCKETS = [256, 1024, 4096, 16384, 65536] as const;
export type EnvelopeBucket = (typeof ENVELOPE_BUCKETS)[number];
export const isEnvelopeBucket = (n: number): n is EnvelopeBucket => (ENVELOPE_BUCKETS as readonly number[]).includes(n);

/** Bytes the delivery layer adds: nonce[24] + receivedAt[4] + tag[16] (spec/crypto.md §6). */
export const DELIVERY_OVERHEAD = 44;

export const MAILBOX_FLAG_PUBLIC = 0x01;
