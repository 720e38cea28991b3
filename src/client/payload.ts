// What travels inside the ratchet (spec/client.md §5). Pure codec.
//
//   payload = version[1]=1 || type[1] || id[16] || sentAt[8] || content
//     text            0x01  content = UTF-8 text
//     receipt         0x02  content = count[2] || id[16] * count
//     rotate-mailbox  0x03  content = capability (spec/client.md §4)
//     confirm         0x04  content = capability   (the inviter's answer to a handshake)
//     key-package     0x05  content = KeyPackage   (an MLSMessage; spec/groups.md §12)
//     group-welcome   0x06  content = chunk        (a Welcome in chunks; spec/groups.md §12)
//
// `id` is chosen at random by the sender (receipts name it); `sentAt` is the sender's clock in
// milliseconds since the Unix epoch, a claim, not evidence.
import { fromUtf8, randomBytes, utf8 } from '../crypto/index.js';
import { readCapability, writeCapability } from './capability.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import type { SendCapability } from './mailbox.js';
import { readChunk, writeChunk, type Chunk } from './chunks.js';

export const PAYLOAD_VERSION = 1;
export const MESSAGE_ID_LENGTH = 16;
export const MAX_RECEIPT_IDS = 256;

export type PayloadContent =
  | { type: 'text'; text: string }
  | { type: 'receipt'; ids: Uint8Array[] }
  | { type: 'rotate-mailbox'; capability: SendCapability }
  | { type: 'confirm'; capability: SendCapability }
  | { type: 'key-package'; keyPackage: Uint8Array }
  | { type: 'group-welcome'; chunk: Chunk };
export type Payload = PayloadContent & { id: Uint8Array; sentAt: number };

const TYPE_CODES = { text: 1, receipt: 2, 'rotate-mailbox': 3, confirm: 4, 'key-package': 5, 'group-welcome': 6 } as const;

export function newPayload(content: PayloadContent, sentAt: number = Date.now(), id: Uint8Array = randomBytes(MESSAGE_ID_LENGTH)): Payload {
  return { ...content, id, sentAt };
}

export function encodePayload(p: Payload): Uint8Array {
  const w = new Writer().u8(PAYLOAD_VERSION).u8(TYPE_CODES[p.type]).bytes(p.id, MESSAGE_ID_LENGTH).u64(p.sentAt);
  switch (p.type) {
    case 'text': w.bytes(utf8(p.text)); break;
    case 'receipt':
      if (p.ids.length > MAX_RECEIPT_IDS) throw new RangeError(`at most ${MAX_RECEIPT_IDS} ids per receipt`);
      w.u16(p.ids.length);
      for (const id of p.ids) w.bytes(id, MESSAGE_ID_LENGTH);
      break;
    case 'rotate-mailbox':
    case 'confirm': writeCapability(w, p.capability); break;
    case 'key-package': w.bytes(p.keyPackage); break;
    case 'group-welcome': writeChunk(w, p.chunk); break;
  }
  return w.finish();
}

/** Throws MalformedError for any layout, version or type it does not know. */
export function decodePayload(b: Uint8Array): Payload {
  const r = new Reader(b);
  if (r.u8() !== PAYLOAD_VERSION) throw new MalformedError('unknown payload version');
  const code = r.u8();
  const id = r.bytes(MESSAGE_ID_LENGTH);
  const sentAt = r.u64();
  let content: PayloadContent;
  switch (code) {
    case 1: {
      let text: string;
      try { text = fromUtf8(r.rest()); } catch { throw new MalformedError('text is not UTF-8'); }
      content = { type: 'text', text };
      break;
    }
    case 2: {
      const n = r.u16();
      if (n > MAX_RECEIPT_IDS) throw new MalformedError('too many receipt ids');
      const ids: Uint8Array[] = [];
      for (let i = 0; i < n; i++) ids.push(r.bytes(MESSAGE_ID_LENGTH));
      content = { type: 'receipt', ids };
      break;
    }
    case 3: content = { type: 'rotate-mailbox', capability: readCapability(r) }; break;
    case 4: content = { type: 'confirm', capability: readCapability(r) }; break;
    case 5: content = { type: 'key-package', keyPackage: r.rest() }; break;
    case 6: content = { type: 'group-welcome', chunk: readChunk(r) }; break;
    default: throw new MalformedError(`unknown payload type ${code}`);
  }
  r.end();
  return { ...content, id, sentAt };
}
