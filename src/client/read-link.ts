// The reading connection to one relay (spec/client.md §8): connects with backoff, and after
// every (re)connect authenticates and subscribes every mailbox the client reads there.
// Pushed MSGs go to `onMessage`, with the connection they came on (the delivery layer key
// is the relay's, spec/crypto.md §6).
import { toHex } from '../crypto/index.js';
import { isProtocolError, type MsgFrame } from '../wire/index.js';
import { backoffDelay, sleep, type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
import { RelayConnection } from './connection.js';
import {
  authenticate, createMailbox, deleteMailbox, fetchNext, subscribe, unsubscribe,
  type Delivered, type MailboxKeys,
} from './mailbox.js';
import { ClientError, relayFailure } from './errors.js';
import type { Connector } from './transport.js';
import type { TokenTicket } from './admission.js';

/** Re-SUBs after END per mailbox and connection (spec/client.md §8.3). */
export const MAX_RESUBSCRIBES = 3;
const END_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 30_000 };

export interface ReadLinkHandlers {
  onMessage(conn: RelayConnection, keys: MailboxKeys, msg: MsgFrame): void;
  /** A mailbox the relay no longer knows (AUTH refused): expired or deleted. */
  onLost(keys: MailboxKeys): void;
  onState(online: boolean): void;
}

export class ReadLink {
  private conn: RelayConnection | null = null;
  private readonly mailboxes = new Map<string, MailboxKeys>();
  private waiters: Array<(c: RelayConnection | null) => void> = [];
  /** A connection made and still authenticating and subscribing (close() closes it too). */
  private starting: RelayConnection | null = null;
  private readonly endTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly endCounts = new WeakMap<RelayConnection, Map<string, number>>();
  /** ENDs received for mailboxes this link reads (another connection took one over). */
  takeovers = 0;
  private closed = false;
  private attempt = 0;
  private pendingSleep: { cancel(): void } | null = null;
  private running = false;
  /** Why the last connection attempt failed (ready() reports it). */
  private lastError: unknown = null;

  constructor(
    readonly address: string,
    private readonly connector: Connector,
    private readonly handlers: ReadLinkHandlers,
    /** Time allowed for each relay command. */
    private readonly requestTimeoutMs: number,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
    /** A closed relay's admission tokens (spec/client.md §10.1): one is spent per CREATE. */
    private readonly admission: { take(): TokenTicket } | null = null,
  ) {}

  get online(): boolean { return this.conn !== null && this.conn.isOpen; }

  /** Registers mailboxes to read before start (no network). */
  track(keys: MailboxKeys): void { this.mailboxes.set(toHex(keys.readId), keys); }
  untrack(keys: MailboxKeys): void { this.mailboxes.delete(toHex(keys.readId)); }
  keysFor(readId: Uint8Array): MailboxKeys | undefined { return this.mailboxes.get(toHex(readId)); }

  start(): void {
    if (!this.running && !this.closed) void this.loop();
  }

  /** The live connection, waiting up to `timeoutMs` for one; RELAY_UNAVAILABLE otherwise. */
  ready(timeoutMs: number): Promise<RelayConnection> {
    if (this.closed) return Promise.reject(new ClientError('CLOSED', 'the client is closed'));
    if (this.conn && this.conn.isOpen) return Promise.resolve(this.conn);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(this.lastError === null
          ? new ClientError('RELAY_UNAVAILABLE', 'the relay could not be reached in time')
          : relayFailure(this.lastError, 'the relay could not be reached in time'));
      }, timeoutMs);
      const done = (c: RelayConnection | null): void => {
        clearTimeout(t);
        if (c) resolve(c);
        else reject(new ClientError('CLOSED', 'the client is closed'));
      };
      this.waiters.push(done);
    });
  }

  /** CREATE (which authenticates this connection for it), then SUB; the mailbox is then re-read after reconnects. */
  async create(keys: MailboxKeys, ttlSeconds: number): Promise<void> {
    const conn = await this.ready(this.requestTimeoutMs);
    if (this.admission === null) await createMailbox(conn, keys, { ttlSeconds, timeoutMs: this.requestTimeoutMs });
    else await this.createAdmitted(conn, keys, ttlSeconds, this.admission);
    this.track(keys);
    await subscribe(conn, keys, this.requestTimeoutMs);
  }

  /**
   * CREATE with an admission token (spec/client.md §10.1). A token the relay spent, or can never
   * take (TOKEN_SPENT, ADMISSION_REFUSED, TOKEN_EPOCH), leaves the wallet; any other outcome
   * returns it, since the relay spends a token only with the mailbox (a CREATE whose answer was
   * lost may have spent it: its next use is TOKEN_SPENT, and is dropped then). After TOKEN_SPENT
   * the CREATE is tried once more with another token.
   */
  private async createAdmitted(conn: RelayConnection, keys: MailboxKeys, ttlSeconds: number, admission: { take(): TokenTicket }): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const ticket = admission.take();
      try {
        await createMailbox(conn, keys, { ttlSeconds, timeoutMs: this.requestTimeoutMs, token: ticket.token });
        ticket.used();
        return;
      } catch (e) {
        const name = isProtocolError(e) ? e.errorName : null;
        if (name === 'TOKEN_SPENT' || name === 'ADMISSION_REFUSED' || name === 'TOKEN_EPOCH') ticket.used();
        else ticket.unused();
        if (name !== 'TOKEN_SPENT' || attempt > 0) throw e;
      }
    }
  }

  /**
   * ACKs on `conn`, the connection that delivered the envelope: it is authenticated for the
   * mailbox, even while a reconnect is still subscribing and `this.conn` is not yet set. The
   * ACK's answer is not awaited and nothing is kept for it (spec/client.md §6.1): a relay that
   * never answers ACKs pins no memory. If the ACK is lost, the relay pushes the envelope again
   * on the next SUB, where the seen set ACKs it (§6.1, §9.2).
   */
  ack(conn: RelayConnection, keys: MailboxKeys, msgId: number): void {
    conn.notify({ type: 'ACK', readId: keys.readId, msgId });
  }

  async fetch(keys: MailboxKeys): Promise<{ conn: RelayConnection; delivered: Delivered | null }> {
    const conn = await this.ready(this.requestTimeoutMs);
    return { conn, delivered: await fetchNext(conn, keys, this.requestTimeoutMs) };
  }

  /**
   * UNSUB and DEL; a mailbox the relay already forgot counts as deleted. DEL needs an AUTH on
   * this connection (spec/protocol.md §5.3), which a mailbox read here has; one that is not (a
   * mailbox loaded for deletion after a restart is never subscribed) is authenticated first,
   * and only an ERR AUTH to that AUTH means the relay has no such mailbox.
   */
  async remove(keys: MailboxKeys): Promise<void> {
    const conn = await this.ready(this.requestTimeoutMs);
    this.untrack(keys);
    try {
      await unsubscribe(conn, keys, this.requestTimeoutMs).catch(() => undefined);
      await deleteMailbox(conn, keys, this.requestTimeoutMs);
    } catch (e) {
      if (!isProtocolError(e, 'AUTH')) throw e;
      try {
        await authenticate(conn, keys, this.requestTimeoutMs);
      } catch (e2) {
        if (isProtocolError(e2, 'AUTH')) return;
        throw e2;
      }
      await deleteMailbox(conn, keys, this.requestTimeoutMs);
    }
  }

  /** Closes the connection (and one still subscribing); whoever waits in ready() gets CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    this.pendingSleep?.cancel();
    for (const t of this.endTimers) clearTimeout(t);
    this.endTimers.clear();
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w(null);
    const c = this.conn, starting = this.starting;
    this.conn = null;
    this.starting = null;
    await Promise.all([c?.close(), starting?.close()]);
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (!this.closed) {
        let conn: RelayConnection;
        try {
          conn = await RelayConnection.connect(this.connector, this.address, { timeoutMs: 5_000 });
        } catch (e) {
          this.lastError = e;
          await this.pause();
          continue;
        }
        if (this.closed) { await conn.close(); return; }
        const closedP = new Promise<void>((r) => conn.onClose(() => r()));
        conn.onMessage((msg) => {
          const keys = this.keysFor(msg.readId);
          if (keys) this.handlers.onMessage(conn, keys, msg);
        });
        conn.onEnd((readId) => this.ended(conn, readId));
        this.starting = conn;
        try {
          await this.resubscribe(conn);
        } catch (e) {
          this.lastError = e;
          await conn.close();
          await this.pause();
          continue;
        } finally {
          if (this.starting === conn) this.starting = null;
        }
        if (this.closed) { await conn.close(); return; }
        this.attempt = 0;
        this.lastError = null;
        this.conn = conn;
        this.handlers.onState(true);
        const ws = this.waiters;
        this.waiters = [];
        for (const w of ws) w(conn);
        await closedP;
        if (this.conn === conn) this.conn = null;
        if (!this.closed) {
          this.handlers.onState(false);
          await this.pause();
        }
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * END (spec/protocol.md §5.4): another connection took the mailbox's subscription over — a
   * second client of this profile, or whoever holds its read key. Subscribe again after a
   * backoff, at most MAX_RESUBSCRIBES times per mailbox and connection, so that two readers
   * cannot take it from each other forever; after that the other keeps it until this link
   * reconnects (spec/client.md §8.3). Counted in `takeovers`.
   */
  private ended(conn: RelayConnection, readId: Uint8Array): void {
    const keys = this.keysFor(readId);
    if (!keys || this.closed) return;
    this.takeovers++;
    let counts = this.endCounts.get(conn);
    if (!counts) this.endCounts.set(conn, (counts = new Map()));
    const hex = toHex(readId);
    const n = (counts.get(hex) ?? 0) + 1;
    counts.set(hex, n);
    if (n > MAX_RESUBSCRIBES) return;
    const t = setTimeout(() => {
      this.endTimers.delete(t);
      if (!this.closed && conn.isOpen && this.keysFor(readId) === keys) void subscribe(conn, keys, this.requestTimeoutMs).catch(() => undefined);
    }, backoffDelay(n - 1, END_BACKOFF));
    this.endTimers.add(t);
  }

  private async pause(): Promise<void> {
    const s = sleep(backoffDelay(this.attempt++, this.backoff));
    this.pendingSleep = s;
    await s.promise;
    this.pendingSleep = null;
  }

  /** AUTH + SUB for every tracked mailbox, pipelined (spec/protocol.md §5.3, §5.4). */
  private async resubscribe(conn: RelayConnection): Promise<void> {
    await Promise.all([...this.mailboxes.values()].map(async (keys) => {
      try {
        await authenticate(conn, keys, this.requestTimeoutMs);
      } catch (e) {
        if (isProtocolError(e, 'AUTH')) {
          this.untrack(keys);
          this.handlers.onLost(keys);
          return;
        }
        throw e;
      }
      await subscribe(conn, keys, this.requestTimeoutMs);
    }));
  }
}
