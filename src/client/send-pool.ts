// Connections used for sending, one per relay address, opened on demand and separate from
// the reading connections (spec/client.md §8): the relay does not see a client's sends and
// reads on one connection. A closed connection is dropped and re-opened on the next send.
import { isProtocolError, type ErrorName } from '../wire/index.js';
import { RelayConnection } from './connection.js';
import { sendEnvelope, type SendCapability } from './mailbox.js';

/** ERR codes after which retrying the same SEND cannot succeed (spec/protocol.md §7). */
const PERMANENT: ReadonlySet<ErrorName> = new Set(['AUTH', 'SIZE', 'INVALID', 'MALFORMED', 'VERSION', 'UNKNOWN_COMMAND']);

/** 'permanent' for a refusal that retrying cannot change; 'transient' for anything else (network, BUSY, QUOTA…). */
export function classifySendError(e: unknown): 'permanent' | 'transient' {
  return isProtocolError(e) && PERMANENT.has(e.errorName) ? 'permanent' : 'transient';
}

export class SendPool {
  private readonly conns = new Map<string, Promise<RelayConnection>>();
  private closed = false;

  constructor(private readonly connectTimeoutMs = 5_000) {}

  private get(address: string): Promise<RelayConnection> {
    if (this.closed) return Promise.reject(new Error('send pool closed'));
    let p = this.conns.get(address);
    if (!p) {
      p = RelayConnection.connect(address, { timeoutMs: this.connectTimeoutMs });
      this.conns.set(address, p);
      p.then(
        (c) => c.onClose(() => { if (this.conns.get(address) === p) this.conns.delete(address); }),
        () => { if (this.conns.get(address) === p) this.conns.delete(address); },
      );
    }
    return p;
  }

  /** One SEND; resolves when the relay has durably accepted it (spec/protocol.md §5.10). */
  async send(cap: SendCapability, envelope: Uint8Array, timeoutMs = 15_000): Promise<void> {
    const conn = await this.get(cap.address);
    if (!conn.isOpen) {
      this.conns.delete(cap.address);
      return this.send(cap, envelope, timeoutMs);
    }
    await Promise.race([
      sendEnvelope(conn, cap, envelope),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('SEND timed out')), timeoutMs).unref()),
    ]);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close(), () => undefined)));
  }
}
