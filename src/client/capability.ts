// The send capability as bytes (spec/client.md §4): mailboxKey[32] || accessKey[32] || relay var16.
// sendId is not carried: it is H("sealpost/v1/send-id" || mailboxKey) (spec/crypto.md §3).
import { fromUtf8, sendIdOf, utf8, x25519PublicKey, type AccessKey } from '../crypto/index.js';
import { parseRelayAddress } from '../wire/index.js';
import { MalformedError, type Reader, type Writer } from '../wire/bytes-codec.js';
import type { SendCapability } from './mailbox.js';

export function writeCapability(w: Writer, cap: SendCapability): Writer {
  if (!cap.accessKey) throw new RangeError('only private mailboxes are handed to contacts');
  return w.bytes(cap.mailboxKey, 32).bytes(cap.accessKey, 32).var16(utf8(cap.address));
}

export function readCapability(r: Reader): SendCapability {
  let mailboxKey;
  try { mailboxKey = x25519PublicKey(r.bytes(32), 'mailboxKey'); } catch { throw new MalformedError('bad mailbox key'); }
  const accessKey = r.bytes(32) as AccessKey;
  const raw = r.var16();
  let address: string;
  try { address = fromUtf8(raw); parseRelayAddress(address); } catch { throw new MalformedError('bad relay address'); }
  return { address, sendId: sendIdOf(mailboxKey), mailboxKey, accessKey };
}
