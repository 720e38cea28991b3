// An established link's data channel (spec/federation.md §3), the same both ways: items
// written during one turn of the event loop leave together, packed into as few DATA messages
// as fit LINK_MAX_MESSAGE_BYTES, each sealed with the next message number.
import type { WebSocket } from 'ws';
import { LinkCipher } from './link-crypto.js';
import { LinkError } from './link-errors.js';
import { decodeItems, decodeLinkMessage, encodeItems, encodeLinkMessage, itemBytes, LINK_MAX_MESSAGE_BYTES, type LinkItem } from './peer-wire.js';

/** Plaintext per DATA message: the message less its header[2] and tag[16]. */
export const LINK_MAX_PLAINTEXT = LINK_MAX_MESSAGE_BYTES - 2 - 16;

export class LinkChannel {
  private queue: LinkItem[] = [];
  private scheduled = false;
  private readonly sendCipher: LinkCipher;
  private readonly receiveCipher: LinkCipher;
  /** DATA messages sent, for the bench and tests (how well batching works). */
  messagesSent = 0;

  /**
   * `maxBuffered`: bytes the peer may leave unread in our send buffer; past it the link is cut
   * (spec/federation.md §8): its FORWARDs answer PEER_DOWN, and the dialer dials again.
   */
  constructor(private readonly ws: WebSocket, keys: { send: Uint8Array; receive: Uint8Array }, private readonly maxBuffered = Infinity) {
    this.sendCipher = new LinkCipher(keys.send as never);
    this.receiveCipher = new LinkCipher(keys.receive as never);
  }

  get bufferedAmount(): number { return this.ws.bufferedAmount; }

  write(item: LinkItem): void {
    this.queue.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.queue;
    this.queue = [];
    if (this.ws.readyState !== this.ws.OPEN) return;
    let group: LinkItem[] = [];
    let size = 0;
    const send = (): void => {
      if (group.length === 0) return;
      this.ws.send(encodeLinkMessage({ type: 'LINK_DATA', ciphertext: this.sendCipher.seal(encodeItems(group)) }));
      this.messagesSent++;
      group = [];
      size = 0;
    };
    for (const it of items) {
      if (size + itemBytes(it) > LINK_MAX_PLAINTEXT) send();
      group.push(it);
      size += itemBytes(it);
    }
    send();
    if (this.ws.bufferedAmount > this.maxBuffered) this.ws.terminate();
  }

  /** The items of one received message; PEER_AUTH when it was not sealed by the other side, MALFORMED for a bad layout. */
  read(bytes: Uint8Array): LinkItem[] {
    const m = decodeLinkMessage(bytes);
    if (m.type !== 'LINK_DATA') throw new LinkError('HANDSHAKE', `${m.type} after the handshake`);
    let plain: Uint8Array;
    try {
      plain = this.receiveCipher.open(m.ciphertext);
    } catch {
      throw new LinkError('PEER_AUTH', 'a DATA message that does not open');
    }
    return decodeItems(plain);
  }
}
