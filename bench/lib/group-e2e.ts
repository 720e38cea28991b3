// One text to a whole MLS group, end to end through a relay in another process, the way the
// SDK sends it (src/client/groups.ts `deliver`) without the SDK's store around it:
//
// - the sender (the group's creator) encrypts the text once with MLS (Group.encrypt), reads
//   every other member's group-mailbox capability from its leaf, builds the body
//   0x03 || chunk header || MLS message (spec/groups.md §12.3), seals one envelope per member
//   to its mailboxKey (sealToMany: on a pool of availableParallelism() workers from 16
//   recipients, as the SDK's sealer), and sends them all on ONE connection, pipelined (every
//   SEND written before the first OK);
// - every member has its own group mailbox on the relay; the receivers live in this process and
//   share a few connections (at most RECEIVERS_PER_CONNECTION subscriptions each); each pushed
//   MSG is opened (delivery layer, then the sealed envelope), the chunk parsed, the MLS message
//   processed by that member's own Group state and checked, then ACKed.
//
// A round is timed from the call to encrypt until the last member has decrypted the text. All
// the receivers' work runs one after the other on this process's thread: the figure is an upper
// bound of what members on their own devices would see, and each round also reports the
// receivers' summed processing time and the time at which the relay had accepted every SEND.
import { availableParallelism } from 'node:os';
import { CryptoPool, equalBytes, openEnvelope, toHex, utf8 } from '../../src/crypto/index.js';
import { BODY_GROUP } from '../../src/client/groups.js';
import { readChunk, split, writeChunk } from '../../src/client/chunks.js';
import { sealToMany } from '../../src/client/fanout.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import { createMailbox, openDelivered, sendEnvelope, subscribe, type SendCapability } from '../../src/client/mailbox.js';
import type { Group } from '../../src/mls/group.js';
import { Reader, Writer } from '../../src/wire/bytes-codec.js';
import type { MsgFrame } from '../../src/wire/index.js';
import { median, now, watchdog } from './measure.js';
import { deliveryCapOf, forceGc, type BenchMember } from './mls-members.js';
import { relayCpuUs, type RelayProcess } from './relay-process.js';

/** Subscriptions per receiving connection (the relay allows 1,024 by default). */
export const RECEIVERS_PER_CONNECTION = 125;
/** Receivers below which every round starts with a forced full GC. */
export const GC_EVERY_ROUND_BELOW = 500;

export interface E2eRound {
  /** Call to encrypt → the last member has decrypted the text, ms. */
  readonly totalMs: number;
  /** Time marks from the call to encrypt, ms. */
  readonly encryptedMs: number;
  /** Every envelope sealed (the capabilities read from the leaves included). */
  readonly sealedMs: number;
  /** Every SEND written to the connection. */
  readonly sentMs: number;
  /** The relay's durable OK for the last SEND. */
  readonly lastOkMs: number;
  readonly firstDecryptedMs: number;
  /** The receivers' processing (delivery layer, envelope, chunk, MLS, ACK), summed, ms. */
  readonly receiversBusyMs: number;
  /** One receiver's processing, median, µs. */
  readonly perReceiverUs: number;
  /** The relay process's CPU (all threads) over the round, ms. */
  readonly relayCpuMs: number;
  /** This process's CPU (sender, receivers, sealing pool) over the round, ms. */
  readonly clientCpuMs: number;
  readonly envelopeBytes: number;
  readonly mlsMessageBytes: number;
}

interface Receiver {
  readonly member: BenchMember;
  readonly group: Group;
  readonly conn: RelayConnection;
  done: boolean;
}

export interface E2eSender { readonly member: BenchMember; readonly group: Group }

export class GroupE2e {
  private expected: Uint8Array = new Uint8Array(0);
  private remaining = 0;
  private onDone: (() => void) | null = null;
  private marks: { first: number; last: number; busy: number; per: number[]; errors: string[] } = { first: 0, last: 0, busy: 0, per: [], errors: [] };

  private constructor(
    private readonly sender: E2eSender,
    private readonly senderConn: RelayConnection,
    private readonly receivers: readonly Receiver[],
    private readonly byReadId: ReadonlyMap<string, Receiver>,
    private readonly conns: readonly RelayConnection[],
    private readonly pool: CryptoPool | null,
    private readonly relay: RelayProcess,
  ) {
    for (const c of conns) c.onMessage((m) => this.receive(c, m));
  }

  /**
   * Connects the sender and ceil(receivers / RECEIVERS_PER_CONNECTION) receiving connections,
   * creates and subscribes every receiver's mailbox (pipelined per connection).
   */
  static async setup(relay: RelayProcess, sender: E2eSender, receivers: readonly { member: BenchMember; group: Group }[]): Promise<GroupE2e> {
    const senderConn = await RelayConnection.connect(relay.address, { timeoutMs: 30_000 });
    const nConns = Math.max(1, Math.ceil(receivers.length / RECEIVERS_PER_CONNECTION));
    const conns: RelayConnection[] = [senderConn];
    try {
      for (let i = 0; i < nConns; i++) conns.push(await RelayConnection.connect(relay.address, { timeoutMs: 30_000 }));
      const rs: Receiver[] = receivers.map((r, i) => ({ ...r, conn: conns[1 + (i % nConns)]!, done: false }));
      await Promise.all(conns.slice(1).map(async (conn) => {
        const mine = rs.filter((r) => r.conn === conn);
        await Promise.all(mine.map((r) => createMailbox(conn, r.member.mailbox, { timeoutMs: 60_000 })));
        await Promise.all(mine.map((r) => subscribe(conn, r.member.mailbox, 60_000)));
      }));
      forceGc();
      const byReadId = new Map(rs.map((r) => [toHex(r.member.mailbox.readId), r]));
      const pool = receivers.length >= 16 ? await CryptoPool.create({ size: Math.max(1, availableParallelism()), backend: 'node' }) : null;
      return new GroupE2e(sender, senderConn, rs, byReadId, conns.slice(1), pool, relay);
    } catch (e) {
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      throw e;
    }
  }

  get connections(): number { return this.conns.length; }

  private receive(conn: RelayConnection, msg: MsgFrame): void {
    const t = now();
    const r = this.byReadId.get(toHex(msg.readId));
    if (!r) return;
    try {
      const d = openDelivered(conn, r.member.mailbox, msg);
      const opened = openEnvelope({ mailboxSecret: r.member.mailbox.mailboxSecret, mailboxKey: r.member.mailbox.mailboxKey, envelope: d.envelope });
      if (opened.body[0] !== BODY_GROUP) throw new Error('not a group body');
      const chunk = readChunk(new Reader(opened.body.subarray(1)));
      if (chunk.count !== 1) throw new Error('a text in more than one chunk');
      const p = r.group.process(chunk.data);
      if (p.kind !== 'application' || !equalBytes(p.data, this.expected)) throw new Error(`member got ${p.kind} with other data`);
      conn.notify({ type: 'ACK', readId: r.member.mailbox.readId, msgId: msg.msgId });
      if (r.done) throw new Error('delivered twice');
      r.done = true;
    } catch (e) {
      this.marks.errors.push(e instanceof Error ? e.message : String(e));
      return;
    }
    const end = now();
    if (this.marks.first === 0) this.marks.first = end;
    this.marks.last = end;
    this.marks.busy += end - t;
    this.marks.per.push((end - t) * 1000);
    if (--this.remaining === 0) this.onDone?.();
  }

  /** One text to every member; throws if a member has not decrypted it within the deadline. */
  async round(text: string): Promise<E2eRound> {
    const data = utf8(text);
    this.expected = data;
    for (const r of this.receivers) r.done = false;
    this.remaining = this.receivers.length;
    this.marks = { first: 0, last: 0, busy: 0, per: [], errors: [] };
    const allDone = new Promise<void>((resolve) => { this.onDone = resolve; });
    // A full collection before each round, while it is cheap; past GC_EVERY_ROUND_BELOW receivers
    // (gigabytes of states) only the one after setup.
    if (this.receivers.length < GC_EVERY_ROUND_BELOW) forceGc();
    const s0 = await this.relay.sample();
    const c0 = process.cpuUsage();

    const t0 = now();
    const g = this.sender.group;
    const message = g.encrypt(data);
    const encrypted = now();
    // As `deliver`: the capabilities from the leaves, one body per chunk, one envelope per member.
    const caps: SendCapability[] = g.members().filter((m) => m.leaf !== g.myLeaf).map((m) => deliveryCapOf(m.leafNode));
    const bodies = split(message).map((chunk) => { const w = new Writer().u8(BODY_GROUP); writeChunk(w, chunk); return w.finish(); });
    if (bodies.length !== 1) throw new Error('a text in more than one chunk');
    const sealed = await sealToMany(this.sender.member.dh, caps.map((c) => ({ mailboxKey: c.mailboxKey, body: bodies[0]! })), this.pool);
    const sealedAt = now();
    let lastOk = 0;
    const oks = sealed.map((res, i) => {
      if (!res.ok) throw new Error(`seal failed: ${res.error}`);
      return sendEnvelope(this.senderConn, caps[i]!, res.value, 60_000).then(() => { lastOk = now(); });
    });
    const sentAt = now();
    const deadlineMs = 30_000 + 30 * this.receivers.length;
    const finished = await Promise.race([Promise.all([Promise.all(oks), allDone]).then(() => true), watchdog(deadlineMs).then(() => false)]);
    const c1 = process.cpuUsage(c0);
    const s1 = await this.relay.sample();
    this.onDone = null;
    if (this.marks.errors.length) throw new Error(`group end to end: ${this.marks.errors.length} receiver error(s), first: ${this.marks.errors[0]}`);
    if (!finished) throw new Error(`group end to end: ${this.receivers.length - this.remaining} of ${this.receivers.length} members decrypted the text within ${deadlineMs} ms`);
    return {
      totalMs: this.marks.last - t0,
      encryptedMs: encrypted - t0,
      sealedMs: sealedAt - t0,
      sentMs: sentAt - t0,
      lastOkMs: lastOk - t0,
      firstDecryptedMs: this.marks.first - t0,
      receiversBusyMs: this.marks.busy,
      perReceiverUs: median(this.marks.per),
      relayCpuMs: relayCpuUs(s0, s1) / 1000,
      clientCpuMs: (c1.user + c1.system) / 1000,
      envelopeBytes: sealed[0]?.ok ? sealed[0].value.length : 0,
      mlsMessageBytes: message.length,
    };
  }

  async close(): Promise<void> {
    await this.pool?.close().catch(() => undefined);
    await Promise.all([this.senderConn, ...this.conns].map((c) => c.close().catch(() => undefined)));
  }
}
