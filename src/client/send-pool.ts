// Connections used for sending, one per relay address, opened on demand and separate from
// the reading connections (spec/client.md §8): the relay does not see a client's sends and
// reads on one connection. Many SENDs may be in flight on one connection (§9.1). A closed
// connection is dropped and re-opened on the next send.
import { isProtocolError, type ErrorName } from '../wire/index.js';
import { RelayConnection } from './connection.js';
import { isClientError } from './errors.js';
import { sendEnvelope, type SendCapability } from './mailbox.js';
import type { Connector } from './transport.js';

/** ERR codes after which retrying the same SEND cannot succeed (spec/protocol.md §7). */
const PERMANENT: ReadonlySet<ErrorName> = new Set(['AUTH', 'SIZE', 'INVALID', 'MALFORMED', 'VERSION', 'UNKNOWN_COMMAND']);

/** 'permanent' for a refusal that retrying cannot change; 'transient' for anything else (network, BUSY, QUOTA…). */
export function classifySendError(e: unknown): 'permanent' | 'transient' {
  if (isClientError(e, 'POW_TOO_HARD')) return 'permanent';
  return isProtocolError(e) && PERMANENT.has(e.errorName) ? 'permanent' : 'transient';
}

export class SendPool {
  private readonly conns = new Map<string, Promise<RelayConnection>>();
  private closed = false;
  /** Rejects at close(): a send still waiting for its connection ends then. */
  private readonly closing: Promise<never>;
  private signalClose!: (e: Error) => void;

  constructor(private readonly connector: Connector, private readonly connectTimeoutMs = 5_000) {
    this.closing = new Promise<never>((_, reject) => { this.signalClose = reject; });
    this.closing.catch(() => undefined);
  }

  private get(address: string): Promise<RelayConnection> {
    if (this.closed) return Promise.reject(new Error('send pool closed'));
    let p = this.conns.get(address);
    if (!p) {
      p = RelayConnection.connect(this.connector, address, { timeoutMs: this.connectTimeoutMs });
      this.conns.set(address, p);
      const forget = (): void => { if (this.conns.get(address) === p) this.conns.delete(address); };
      p.then((c) => c.onClose(forget), forget);
    }
    return p;
  }

  /** One SEND; resolves when the relay has durably accepted it (spec/protocol.md §5.10). */
  async send(cap: SendCapability, envelope: Uint8Array, timeoutMs = 15_000): Promise<void> {
    let conn = await Promise.race([this.get(cap.address), this.closing]);
    if (!conn.isOpen) {
      this.conns.delete(cap.address);
      conn = await Promise.race([this.get(cap.address), this.closing]);
    }
    await sendEnvelope(conn, cap, envelope, timeoutMs);
  }

  /** Closes the open connections; one still connecting is closed when it opens, without waiting for it. */
  async close(): Promise<void> {
    this.closed = true;
    this.signalClose(new Error('send pool closed'));
    const all = [...this.conns.values()];
    this.conns.clear();
    const open: Array<Promise<void>> = [];
    for (const p of all) {
      let settled = false;
      const closing = p.then((c) => { settled = true; return c.close(); }, () => { settled = true; });
      await Promise.resolve(); // a connection already made has settled by now
      if (settled) open.push(closing);
    }
    await Promise.all(open);
  }
}
