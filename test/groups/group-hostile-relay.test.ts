// Group traffic through a relay that replays, drops and reorders it (spec/groups.md §10, §15.2).
//
// The relay controls what reaches a member's group mailbox and in what order. Its powers are
// played here two ways: (1) a tap at the member's last hop, on the MSG frames the relay pushes
// before the SDK sees them (ctx.inbound), which holds and releases them in another order,
// pushes a frame again (same msgId), or throws one away and acknowledges it so that the relay
// forgets it (a permanent drop); (2) the same sealed envelope sent into the member's mailbox
// again over a raw relay connection, which the relay delivers under a fresh msgId (what a relay
// replaying an envelope it keeps looks like to the member).
//
// Observed: replays are never shown twice (the same msgId is absorbed by the mailbox's seen set;
// a fresh msgId is refused by MLS: the key of that generation was used (KEY_REUSED), or the
// commit is one the group already left). A dropped commit is not recovered by the SDK: the member
// stays consistently behind at its epoch (its state intact, later texts waiting unacknowledged,
// nothing shown out of order); its own texts still reach the others while they keep the
// previous epoch, and are silently lost once the group is two commits ahead (send() still
// resolves: the relay took them; no member can open them). When the commit does come (the relay delivers it late), the member catches up
// and every waiting text is shown once. Reordered texts, and texts overtaking the commit of
// their epoch, all arrive once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openEnvelope } from '../../src/crypto/index.js';
import type { Client, Contact } from '../../src/client/index.js';
import type { RelayConnection } from '../../src/client/connection.js';
import type { InboundHandlers } from '../../src/client/context.js';
import { readChunk } from '../../src/client/chunks.js';
import { openDelivered, sendEnvelope, type MailboxKeys } from '../../src/client/mailbox.js';
import { RelayConnection as NodeRelayConnection } from '../../src/client/node/connection.js';
import { decodeMlsMessage } from '../../src/mls/framing.js';
import { Reader, type MsgFrame } from '../../src/wire/index.js';
import { cleanup, openClient, startRelay, until } from '../client/_helpers.js';
import { befriend, collect, converged, ctxOf, groupMailboxCap, joined, sleep, snapshot, type GroupMessage } from './_group-helpers.js';

interface Frame { conn: RelayConnection; keys: MailboxKeys; msg: MsgFrame; envelope: Uint8Array; contentType: number; epoch: bigint }

/** The hostile last hop in front of `c`'s group mailbox for group `id`. */
class Tap {
  /** Every group frame that came, in arrival order. */
  readonly frames: Frame[] = [];
  readonly held: Frame[] = [];
  mode: 'pass' | 'hold' | 'drop-commit' = 'pass';
  readonly dropped: Frame[] = [];
  private readonly inner: InboundHandlers;

  constructor(private readonly c: Client, private readonly id: string) {
    const ctx = ctxOf(c);
    this.inner = ctx.inbound;
    ctx.inbound = {
      onMessage: (conn, keys, msg) => {
        const mb = ctx.mailboxByKeys.get(keys);
        if (!mb || mb.role !== 'group' || mb.ownerId !== this.id) { this.inner.onMessage(conn, keys, msg); return; }
        const f = this.decode(conn, keys, msg);
        this.frames.push(f);
        if (this.mode === 'hold') { this.held.push(f); return; }
        if (this.mode === 'drop-commit' && f.contentType === 3) {
          this.dropped.push(f);
          this.mode = 'pass';
          ctx.link(mb.address).ack(conn, keys, msg.msgId); // the relay forgets it
          return;
        }
        this.inner.onMessage(conn, keys, msg);
      },
      onLost: (keys) => this.inner.onLost(keys),
    };
  }

  private decode(conn: RelayConnection, keys: MailboxKeys, msg: MsgFrame): Frame {
    const { envelope } = openDelivered(conn, keys, msg);
    const { body } = openEnvelope({ mailboxSecret: keys.mailboxSecret, mailboxKey: keys.mailboxKey, envelope });
    const chunk = readChunk(new Reader(body.subarray(1)));
    const m = decodeMlsMessage(chunk.data);
    if (m.wireFormat !== 2) throw new Error(`group traffic that is not a PrivateMessage: ${m.wireFormat}`);
    return { conn, keys, msg, envelope, contentType: m.privateMessage.contentType, epoch: m.privateMessage.epoch };
  }

  /** Pushes these frames on to the SDK (again, if they went before), in the order given. */
  push(frames: readonly Frame[]): void {
    for (const f of frames) this.inner.onMessage(f.conn, f.keys, f.msg);
  }

  /** Releases the held frames in the order `order` gives (indices into `held`). */
  release(order: (held: Frame[]) => Frame[]): void {
    const out = order(this.held.splice(0));
    this.mode = 'pass';
    this.push(out);
  }

  async waitHeld(n: number): Promise<void> { await until(() => this.held.length >= n, 10_000, `${n} held frames (have ${this.held.length})`); }
  get client(): Client { return this.c; }
}

/** The relay delivers these envelopes to `c`'s group mailbox again, each under a fresh msgId. */
async function resend(relayAddress: string, c: Client, id: string, envelopes: readonly Uint8Array[]): Promise<void> {
  const conn = await NodeRelayConnection.connect(relayAddress, { timeoutMs: 5_000 });
  try {
    const cap = groupMailboxCap(c, id);
    for (const e of envelopes) await sendEnvelope(conn, cap, e);
  } finally {
    await conn.close();
  }
}

interface Trio { alice: Client; bob: Client; carol: Client; contacts: Map<string, Contact>; relayAddress: string; id: string; tap: Tap }

/** alice (admin), bob and carol in a group; a tap in front of carol's group mailbox. */
async function withTrio(fn: (t: Trio) => Promise<void>): Promise<void> {
  const relay = await startRelay();
  const clients = await Promise.all([0, 1, 2].map(() => openClient(relay.address)));
  const [alice, bob, carol] = clients as [Client, Client, Client];
  try {
    const contacts = await befriend([{ client: alice, name: 'alice' }, { client: bob, name: 'bob' }, { client: carol, name: 'carol' }]);
    const joins = [joined(bob), joined(carol)];
    const g = await alice.groups.create('hostile', [contacts.get('alice>bob')!.id, contacts.get('alice>carol')!.id]);
    await Promise.all(joins);
    await converged(clients, g.id);
    await fn({ alice, bob, carol, contacts, relayAddress: relay.address, id: g.id, tap: new Tap(carol, g.id) });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await relay.close();
    cleanup();
  }
}

const texts = (c: Client, id: string): string[] => c.groups.messages(id).map((m) => m.text);

test('replayed envelopes (same msgId, or again under a fresh msgId) are never shown twice; commits are not applied twice', () => withTrio(async (t) => {
  const inbox = collect<GroupMessage>(t.carol, 'groupMessage');
  const changes = collect(t.carol, 'groupChange');
  await t.alice.groups.send(t.id, 'm1');
  await t.bob.groups.send(t.id, 'm2');
  await t.alice.groups.setPolicy(t.id, { name: 'renamed' });
  await t.alice.groups.send(t.id, 'm3');
  await inbox.until(3);
  await changes.until(1);
  const epoch = snapshot(t.carol, t.id)!.epoch;
  assert.is(t.tap.frames.length, 4);
  const dropsBefore = t.carol.stats().dropped.total;

  // The same frames again (same msgIds): the seen set acknowledges them, nothing else.
  t.tap.push(t.tap.frames.slice());
  // Every envelope again, as new deliveries (fresh msgIds), twice, in another order.
  const envelopes = t.tap.frames.map((f) => f.envelope);
  await resend(t.relayAddress, t.carol, t.id, [...envelopes].reverse());
  await resend(t.relayAddress, t.carol, t.id, envelopes);
  await until(() => t.carol.stats().dropped.total - dropsBefore >= 8, 10_000, `the 8 replays dropped (dropped: ${JSON.stringify(t.carol.stats().dropped)})`);
  await sleep(300);
  assert.equal(inbox.items.map((m) => m.text), ['m1', 'm2', 'm3'], 'each text shown once');
  assert.equal(texts(t.carol, t.id), ['m1', 'm2', 'm3'], 'each text stored once');
  assert.is(changes.items.length, 1, 'the commit applied once');
  assert.is(snapshot(t.carol, t.id)!.epoch, epoch);
  assert.is(t.carol.groups.history(t.id).length, t.alice.groups.history(t.id).length - 1, "carol's history: alice's, less the add that brought her in");

  // The group goes on.
  await t.bob.groups.send(t.id, 'm4');
  await inbox.until(4);
  await t.carol.groups.send(t.id, 'm5 from carol');
  await until(() => texts(t.alice, t.id).includes('m5 from carol'), 10_000, "carol's text");
}));

test('a dropped commit: the member stays consistently behind (not recovered by the SDK) and catches up when the commit comes late', () => withTrio(async (t) => {
  const inbox = collect<GroupMessage>(t.carol, 'groupMessage');
  const epoch = snapshot(t.carol, t.id)!.epoch;
  const membersBefore = snapshot(t.carol, t.id)!.members;
  t.tap.mode = 'drop-commit';
  await t.alice.groups.setPolicy(t.id, { name: 'after the drop' });
  await t.alice.groups.send(t.id, 'a1');
  await t.bob.groups.send(t.id, 'b1');
  await until(() => t.tap.dropped.length === 1 && t.tap.frames.length === 3, 10_000, 'the commit dropped, the two texts in');
  await sleep(500);
  // Behind, consistently: the old epoch, name and members; the new epoch's texts wait, unshown.
  const s = snapshot(t.carol, t.id)!;
  assert.equal(s, { epoch, status: 'active', name: 'hostile', members: membersBefore });
  assert.is(inbox.items.length, 0);
  assert.equal(texts(t.carol, t.id), []);
  assert.is(snapshot(t.alice, t.id)!.epoch, epoch + 1);
  // Her texts still reach the others, who keep the previous epoch for late texts.
  await t.carol.groups.send(t.id, 'c1 from behind');
  await until(() => texts(t.alice, t.id).includes('c1 from behind') && texts(t.bob, t.id).includes('c1 from behind'), 10_000, "carol's text from the old epoch");
  // Nothing recovers it by itself.
  await sleep(1_000);
  assert.is(snapshot(t.carol, t.id)!.epoch, epoch, 'no recovery without the commit');

  // The relay delivers the commit after all: she catches up, and the waiting texts come, once.
  await resend(t.relayAddress, t.carol, t.id, [t.tap.dropped[0]!.envelope]);
  const caught = await converged([t.alice, t.bob, t.carol], t.id, 10_000, (x) => x.name === 'after the drop');
  assert.is(caught.epoch, epoch + 1);
  await inbox.until(2);
  await sleep(300);
  assert.equal(inbox.items.map((m) => m.text).sort(), ['a1', 'b1']);
  await t.alice.groups.send(t.id, 'a2');
  await inbox.until(3);
  assert.equal(texts(t.carol, t.id).sort(), ['a1', 'a2', 'b1', 'c1 from behind']);
}));

test('a dropped commit with a second commit after it: two epochs behind, her texts are lost to the others; the late commit brings her through both', () => withTrio(async (t) => {
  const inbox = collect<GroupMessage>(t.carol, 'groupMessage');
  const epoch = snapshot(t.carol, t.id)!.epoch;
  t.tap.mode = 'drop-commit';
  await t.alice.groups.setPolicy(t.id, { name: 'first' });
  await t.alice.groups.send(t.id, 'x1');
  await t.alice.groups.setPolicy(t.id, { name: 'second' });
  await t.bob.groups.send(t.id, 'x2');
  await until(() => t.tap.dropped.length === 1 && t.tap.frames.length === 4, 10_000, 'one commit dropped, three frames in');
  await sleep(300);
  assert.equal(snapshot(t.carol, t.id)!.epoch, epoch);
  assert.is(inbox.items.length, 0, 'nothing of the later epochs is shown');
  // Two epochs behind: the others no longer hold her epoch. Her text is accepted by the relay
  // and silently refused by every member (the SDK cannot tell her).
  const aliceDrops = t.alice.stats().dropped.total;
  await t.carol.groups.send(t.id, 'unheard');
  await until(() => t.alice.stats().dropped.total > aliceDrops, 10_000, "alice drops carol's text");
  assert.not.ok(texts(t.alice, t.id).includes('unheard'));
  // The first commit, late: the second applies after it, then the texts.
  await resend(t.relayAddress, t.carol, t.id, [t.tap.dropped[0]!.envelope]);
  const caught = await converged([t.alice, t.bob, t.carol], t.id, 10_000, (x) => x.name === 'second');
  assert.is(caught.epoch, epoch + 2);
  await inbox.until(2);
  await sleep(300);
  assert.equal(inbox.items.map((m) => m.text), ['x1', 'x2']);
}));

test('reordered: texts released backwards, a text ahead of its epoch\'s commit, a late text after the commit, each arrive once', () => withTrio(async (t) => {
  const inbox = collect<GroupMessage>(t.carol, 'groupMessage');
  // Five texts from two senders, released to carol backwards.
  t.tap.mode = 'hold';
  for (let i = 1; i <= 5; i++) await (i % 2 ? t.alice : t.bob).groups.send(t.id, `r${i}`);
  await t.tap.waitHeld(5);
  t.tap.release((h) => h.reverse());
  await inbox.until(5);
  await sleep(200);
  assert.equal(inbox.items.map((m) => m.text), ['r5', 'r4', 'r3', 'r2', 'r1'], 'shown in the order they came, each once');

  // A commit and a text of its new epoch, the text first: it waits for the commit.
  const epoch = snapshot(t.carol, t.id)!.epoch;
  t.tap.mode = 'hold';
  await t.alice.groups.setPolicy(t.id, { name: 'reordered' });
  await t.alice.groups.send(t.id, 'new epoch text');
  await t.tap.waitHeld(2);
  assert.equal(t.tap.held.map((f) => f.contentType), [3, 1]);
  t.tap.release((h) => h.reverse());
  await inbox.until(6);
  assert.is(inbox.items[5]!.text, 'new epoch text');
  assert.is(snapshot(t.carol, t.id)!.epoch, epoch + 1);

  // A text of the old epoch held back behind the next commit: the previous epoch still opens it.
  t.tap.mode = 'hold';
  await t.bob.groups.send(t.id, 'late old-epoch text');
  await t.alice.groups.setPolicy(t.id, { name: 'reordered again' });
  await t.tap.waitHeld(2);
  assert.equal(t.tap.held.map((f) => f.contentType), [1, 3]);
  t.tap.release((h) => h.reverse());
  await inbox.until(7);
  await sleep(300);
  assert.is(inbox.items[6]!.text, 'late old-epoch text');
  assert.is(inbox.items.length, 7);
  await converged([t.alice, t.bob, t.carol], t.id, 10_000, (x) => x.name === 'reordered again');
  assert.is(new Set(texts(t.carol, t.id)).size, texts(t.carol, t.id).length, 'no text stored twice');
}));

test.run();
