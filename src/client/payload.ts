// What travels inside the ratchet (spec/client.md §5). Pure codec.
//
//   payload = version[1]=2 || type[1] || id[16] || sentAt[8] || senderSerial[4] || recipientSerial[4] || content
//   (version 1, without the two serials, is still read: they count as 0)
//     text            0x01  content = UTF-8 text
//     receipt         0x02  content = count[2] || id[16] * count
//     rotate-mailbox  0x03  content = capability (spec/client.md §4)
//     confirm         0x04  content = capability || var16(deviceList)   (each side's key confirmation)
//     key-package     0x05  content = KeyPackage   (an MLSMessage; spec/groups.md §12)
//     group-welcome   0x06  content = chunk        (a Welcome in chunks; spec/groups.md §12)
//     device-list     0x07  content = deviceList   (spec/devices.md §5: a change, or an answer to 0x08)
//     list-request    0x08  content = empty        (the sender's serial is newer than ours, §4.5)
//     intro           0x09  content = invitation   (another device of the sender's account, §4.2)
//     intro-forward   0x0A  content = device[64] || invitation   (own devices only: pass it to `device`)
//     sent            0x0B  content = count[2] || account[32] * count || text   (own devices only, §4.4)
//     contact-sync    0x0C  content = verified[1] || var16(name) || deviceList   (own devices only, §3.4)
//     timer           0x0D  content = seconds[4] || account[32]?   (the account only to own devices; §5.3)
//     timed-text      0x0E  content = seconds[4] || UTF-8 text     (seconds >= 1: a text under a timer)
//     timed-sent      0x0F  content = seconds[4] || count[2] || account[32] * count || text   (likewise, of `sent`)
//
// The serials are the sender's own device-list serial and the serial of the recipient's
// account list it holds (spec/devices.md §4.5): a stale list on either side is noticed.
// `id` is chosen at random by the sender (receipts name it); `sentAt` is the sender's clock in
// milliseconds since the Unix epoch, a claim, not evidence.
import { fromUtf8, randomBytes, utf8 } from '../crypto/index.js';
import { readCapability, writeCapability } from './capability.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import type { SendCapability } from './mailbox.js';
import { readChunk, writeChunk, type Chunk } from './chunks.js';

export const PAYLOAD_VERSION = 2;
/** Accounts a `sent` copy names at most. */
export const MAX_SENT_ACCOUNTS = 256;
export const MESSAGE_ID_LENGTH = 16;
export const MAX_RECEIPT_IDS = 256;

export type PayloadContent =
  | { type: 'text'; text: string; timer?: number }
  | { type: 'receipt'; ids: Uint8Array[] }
  | { type: 'rotate-mailbox'; capability: SendCapability }
  | { type: 'confirm'; capability: SendCapability; deviceList: Uint8Array }
  | { type: 'key-package'; keyPackage: Uint8Array }
  | { type: 'group-welcome'; chunk: Chunk }
  | { type: 'device-list'; deviceList: Uint8Array }
  | { type: 'list-request' }
  | { type: 'intro'; invitation: Uint8Array }
  | { type: 'intro-forward'; device: Uint8Array; invitation: Uint8Array }
  | { type: 'sent'; accounts: Uint8Array[]; text: string; timer?: number }
  | { type: 'contact-sync'; verified: boolean; name: string; deviceList: Uint8Array }
  | { type: 'timer'; seconds: number; account: Uint8Array | null };
export type Payload = PayloadContent & { id: Uint8Array; sentAt: number; senderSerial?: number; recipientSerial?: number };

const TYPE_CODES = {
  text: 1, receipt: 2, 'rotate-mailbox': 3, confirm: 4, 'key-package': 5, 'group-welcome': 6,
  'device-list': 7, 'list-request': 8, intro: 9, 'intro-forward': 10, sent: 11, 'contact-sync': 12, timer: 13,
} as const;
/** A text or sent copy under a disappearing timer has its own type, so that a version-2 reader never shows it as a lasting text (§5.3). */
const TIMED_TEXT = 14;
const TIMED_SENT = 15;
/** Disappearing timers are whole seconds in a u32; 0 is off. */
export const MAX_TIMER_SECONDS = 0xffffffff;
const timedCode = (p: Payload): number => {
  if (p.type === 'text' && p.timer) return TIMED_TEXT;
  if (p.type === 'sent' && p.timer) return TIMED_SENT;
  return TYPE_CODES[p.type];
};
function checkTimer(seconds: number): number {
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > MAX_TIMER_SECONDS) throw new RangeError('a timer is 0 .. 2^32-1 seconds');
  return seconds;
}

export function newPayload(content: PayloadContent, sentAt: number = Date.now(), id: Uint8Array = randomBytes(MESSAGE_ID_LENGTH)): Payload {
  return { ...content, id, sentAt };
}

export function encodePayload(p: Payload): Uint8Array {
  const w = new Writer().u8(PAYLOAD_VERSION).u8(timedCode(p)).bytes(p.id, MESSAGE_ID_LENGTH).u64(p.sentAt)
    .u32(p.senderSerial ?? 0).u32(p.recipientSerial ?? 0);
  switch (p.type) {
    case 'text':
      if (p.timer) w.u32(checkTimer(p.timer));
      w.bytes(utf8(p.text));
      break;
    case 'receipt':
      if (p.ids.length > MAX_RECEIPT_IDS) throw new RangeError(`at most ${MAX_RECEIPT_IDS} ids per receipt`);
      w.u16(p.ids.length);
      for (const id of p.ids) w.bytes(id, MESSAGE_ID_LENGTH);
      break;
    case 'rotate-mailbox': writeCapability(w, p.capability); break;
    case 'confirm': writeCapability(w, p.capability).var16(p.deviceList); break;
    case 'key-package': w.bytes(p.keyPackage); break;
    case 'group-welcome': writeChunk(w, p.chunk); break;
    case 'device-list': w.bytes(p.deviceList); break;
    case 'list-request': break;
    case 'intro': w.bytes(p.invitation); break;
    case 'intro-forward': w.bytes(p.device, 64).bytes(p.invitation); break;
    case 'sent':
      if (p.accounts.length < 1 || p.accounts.length > MAX_SENT_ACCOUNTS) throw new RangeError(`a sent copy names 1 .. ${MAX_SENT_ACCOUNTS} accounts`);
      if (p.timer) w.u32(checkTimer(p.timer));
      w.u16(p.accounts.length);
      for (const a of p.accounts) w.bytes(a, 32);
      w.bytes(utf8(p.text));
      break;
    case 'contact-sync': w.u8(p.verified ? 1 : 0).var16(utf8(p.name)).bytes(p.deviceList); break;
    case 'timer':
      w.u32(checkTimer(p.seconds));
      if (p.account) w.bytes(p.account, 32);
      break;
  }
  return w.finish();
}

/** Throws MalformedError for any layout, version or type it does not know. */
export function decodePayload(b: Uint8Array): Payload {
  const r = new Reader(b);
  const version = r.u8();
  if (version !== 1 && version !== PAYLOAD_VERSION) throw new MalformedError('unknown payload version');
  const code = r.u8();
  const id = r.bytes(MESSAGE_ID_LENGTH);
  const sentAt = r.u64();
  const senderSerial = version === 1 ? 0 : r.u32();
  const recipientSerial = version === 1 ? 0 : r.u32();
  const text = (): string => { try { return fromUtf8(r.rest()); } catch { throw new MalformedError('text is not UTF-8'); } };
  const timer = (): number => {
    const t = r.u32();
    if (t === 0) throw new MalformedError('a timed text has a timer of at least 1 s');
    return t;
  };
  const sentCopy = (t?: number): PayloadContent => {
    const n = r.u16();
    if (n < 1 || n > MAX_SENT_ACCOUNTS) throw new MalformedError('a sent copy names 1 .. 256 accounts');
    const accounts: Uint8Array[] = [];
    for (let i = 0; i < n; i++) accounts.push(r.bytes(32).slice());
    return t === undefined ? { type: 'sent', accounts, text: text() } : { type: 'sent', accounts, text: text(), timer: t };
  };
  let content: PayloadContent;
  switch (code) {
    case 1: content = { type: 'text', text: text() }; break;
    case 2: {
      const n = r.u16();
      if (n > MAX_RECEIPT_IDS) throw new MalformedError('too many receipt ids');
      const ids: Uint8Array[] = [];
      for (let i = 0; i < n; i++) ids.push(r.bytes(MESSAGE_ID_LENGTH));
      content = { type: 'receipt', ids };
      break;
    }
    case 3: content = { type: 'rotate-mailbox', capability: readCapability(r) }; break;
    case 4: {
      const capability = readCapability(r);
      content = { type: 'confirm', capability, deviceList: version === 1 ? new Uint8Array(0) : r.var16().slice() };
      break;
    }
    case 5: content = { type: 'key-package', keyPackage: r.rest() }; break;
    case 6: content = { type: 'group-welcome', chunk: readChunk(r) }; break;
    case 7: content = { type: 'device-list', deviceList: r.rest().slice() }; break;
    case 8: content = { type: 'list-request' }; break;
    case 9: content = { type: 'intro', invitation: r.rest().slice() }; break;
    case 10: content = { type: 'intro-forward', device: r.bytes(64).slice(), invitation: r.rest().slice() }; break;
    case 11: content = sentCopy(); break;
    case 12: {
      const verified = r.u8();
      if (verified > 1) throw new MalformedError('bad flag');
      let name: string;
      try { name = fromUtf8(r.var16()); } catch { throw new MalformedError('name is not UTF-8'); }
      content = { type: 'contact-sync', verified: verified === 1, name, deviceList: r.rest().slice() };
      break;
    }
    case 13: {
      const seconds = r.u32();
      const rest = r.rest();
      if (rest.length !== 0 && rest.length !== 32) throw new MalformedError('a timer names one account or none');
      content = { type: 'timer', seconds, account: rest.length === 32 ? rest.slice() : null };
      break;
    }
    case TIMED_TEXT: { const t = timer(); content = { type: 'text', text: text(), timer: t }; break; }
    case TIMED_SENT: content = sentCopy(timer()); break;
    default: throw new MalformedError(`unknown payload type ${code}`);
  }
  r.end();
  return { ...content, id, sentAt, senderSerial, recipientSerial };
}
