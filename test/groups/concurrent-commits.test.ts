// Two admins commit at the same moment (spec/groups.md §10), through a real relay.
//
// The rule observed (and asserted here): two commits made for the same epoch both reach every
// member; each member keeps the one whose order key (RefHash "Sealpost 1.0 Commit Order" of its
// AuthenticatedContent) is smaller, whichever it saw first, so every member ends on the same
// epoch with the same membership. The loser's committer makes its lost changes again on the
// new epoch: its removes at once; its adds once the added contact's fresh KeyPackage has come
// (the contact had joined the losing epoch from its Welcome, and takes the new Welcome in place
// of that orphaned state); its group-state fields that the winner did not change. A field both
// changed keeps the winner's value, and the loser's client says so ('groupRefused', reason
// SUPERSEDED). Every member's signed history verifies, including the winner's commit as the
// loser recorded it.
//
// Which commit wins is a hash comparison. The add-against-remove tests choose the winner by
// re-rolling the second committer's commit (its UpdatePath is random) until its order key is
// smaller or larger than the first's, before either is delivered: the commits still cross, as
// concurrent commits do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Client, Contact } from '../../src/client/index.js';
import type { Group, PendingCommit } from '../../src/mls/group.js';
import { cleanup, openClient, startRelay, until } from '../client/_helpers.js';
import { befriend, collect, converged, ctxOf, joined, snapshot, type GroupMessage } from './_group-helpers.js';

interface Cast { alice: Client; bob: Client; carol: Client; dave: Client; contacts: Map<string, Contact> }

async function withCast(fn: (c: Cast) => Promise<void>): Promise<void> {
  const relay = await startRelay();
  const clients = await Promise.all([0, 1, 2, 3].map(() => openClient(relay.address)));
  const [alice, bob, carol, dave] = clients as [Client, Client, Client, Client];
  try {
    const contacts = await befriend([{ client: alice, name: 'alice' }, { client: bob, name: 'bob' }, { client: carol, name: 'carol' }, { client: dave, name: 'dave' }]);
    await fn({ alice, bob, carol, dave, contacts });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await relay.close();
    cleanup();
  }
}

/** alice makes a group of `others` and makes bob a second admin; resolves once all agree. */
async function groupWithTwoAdmins(c: Cast, others: readonly Client[]): Promise<string> {
  const name = (x: Client): string => (x === c.bob ? 'bob' : x === c.carol ? 'carol' : 'dave');
  const joins = others.map((o) => joined(o));
  const g = await c.alice.groups.create('ops', others.map((o) => c.contacts.get(`alice>${name(o)}`)!.id));
  await Promise.all(joins);
  await c.alice.groups.setPolicy(g.id, { admins: [c.alice.identityKey, c.bob.identityKey] });
  await converged([c.alice, ...others], g.id);
  assert.ok(c.bob.groups.list()[0]!.admin, 'bob is an admin');
  return g.id;
}

const groupOf = (c: Client, id: string): Group => ctxOf(c).groupsState.groups.get(id)!;
const orderOf = (p: PendingCommit): Uint8Array => (p.next as { commitOrder: Uint8Array }).commitOrder;
function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Records the order key of the next commit `c` makes in the group, re-rolled (with a path) until
 * its first byte is mid-range, so that a competitor can be rolled to either side of it quickly.
 */
function captureOrder(c: Client, id: string): { order(): Uint8Array } {
  const g = groupOf(c, id);
  const commit = g.commit.bind(g);
  let order: Uint8Array | undefined;
  g.commit = (opts) => {
    g.commit = commit;
    for (let i = 0; i < 64; i++) {
      const p = commit({ ...opts, forcePath: true });
      order = orderOf(p);
      if (order[0]! >= 0x40 && order[0]! < 0xc0) return p;
    }
    throw new Error('could not roll a mid-range order key');
  };
  return { order: () => { if (!order) throw new Error('no commit captured'); return order; } };
}

/** Makes `c`'s next commit win (or lose) against the order key `against()`, by re-rolling its path. */
function forceOutcome(c: Client, id: string, outcome: 'win' | 'lose', against: () => Uint8Array): void {
  const g = groupOf(c, id);
  const commit = g.commit.bind(g);
  g.commit = (opts) => {
    g.commit = commit;
    for (let i = 0; i < 40; i++) {
      const p = commit({ ...opts, forcePath: true });
      const cmp = compare(orderOf(p), against());
      if ((outcome === 'win') === (cmp < 0)) return p;
    }
    throw new Error('could not roll the wanted outcome');
  };
}

async function everyoneTalks(members: readonly { client: Client; name: string }[], id: string, tag: string): Promise<void> {
  const inboxes = members.map((m) => collect<GroupMessage>(m.client, 'groupMessage'));
  for (const m of members) await m.client.groups.send(id, `${tag} from ${m.name}`);
  for (const [i, m] of members.entries()) {
    await inboxes[i]!.until(members.length - 1);
    const want = members.filter((o) => o !== m).map((o) => `${tag} from ${o.name}`).sort();
    assert.equal(inboxes[i]!.items.map((x) => x.text).sort(), want, `${m.name} got every text once`);
  }
}

function historiesVerify(clients: readonly Client[], id: string): void {
  for (const c of clients) {
    const h = c.groups.history(id);
    assert.ok(h.length > 0);
    assert.ok(h.every((e) => e.signatureValid), `every signature in the history verifies: ${JSON.stringify(h.map((e) => [e.epoch, e.signatureValid]))}`);
  }
}

test('alice adds dave while bob removes carol, alice wins: bob removes carol again', () => withCast(async (c) => {
  const id = await groupWithTwoAdmins(c, [c.bob, c.carol]);
  const epoch0 = snapshot(c.alice, id)!.epoch;
  const daveJoins = joined(c.dave);
  const first = captureOrder(c.alice, id);
  forceOutcome(c.bob, id, 'lose', first.order);
  await Promise.all([
    c.alice.groups.add(id, [c.contacts.get('alice>dave')!.id]),
    c.bob.groups.remove(id, [c.contacts.get('bob>carol')!.id]),
  ]);
  await daveJoins;
  const end = await converged([c.alice, c.bob, c.dave], id, 20_000, (x) => x.members.length === 3);
  assert.is(end.epoch, epoch0 + 2, 'the winner, then the loser made again');
  assert.equal(end.members, [c.alice.identityKey, c.bob.identityKey, c.dave.identityKey].sort());
  await until(() => snapshot(c.carol, id)?.status === 'removed', 10_000, 'carol removed');
  historiesVerify([c.alice, c.bob, c.dave], id);
  await everyoneTalks([{ client: c.alice, name: 'alice' }, { client: c.bob, name: 'bob' }, { client: c.dave, name: 'dave' }], id, 'after');
}));

test('alice adds dave while bob removes carol, bob wins: alice adds dave again, dave leaves the orphaned epoch', () => withCast(async (c) => {
  const id = await groupWithTwoAdmins(c, [c.bob, c.carol]);
  const epoch0 = snapshot(c.alice, id)!.epoch;
  const daveGroups = collect(c.dave, 'group');
  const first = captureOrder(c.alice, id);
  forceOutcome(c.bob, id, 'win', first.order);
  await Promise.all([
    c.alice.groups.add(id, [c.contacts.get('alice>dave')!.id]),
    c.bob.groups.remove(id, [c.contacts.get('bob>carol')!.id]),
  ]);
  await daveGroups.until(1);
  const end = await converged([c.alice, c.bob, c.dave], id, 30_000, (x) => x.members.length === 3);
  assert.is(end.epoch, epoch0 + 2, 'the winner, then the loser made again');
  assert.equal(end.members, [c.alice.identityKey, c.bob.identityKey, c.dave.identityKey].sort());
  assert.is(snapshot(c.carol, id)?.status, 'removed');
  assert.is(c.dave.groups.list().length, 1, 'dave holds one group');
  historiesVerify([c.alice, c.bob], id);
  await everyoneTalks([{ client: c.alice, name: 'alice' }, { client: c.bob, name: 'bob' }, { client: c.dave, name: 'dave' }], id, 'after');
}));

test('both admins rename at once: one name everywhere, the loser is told; a field only one changed is made again', () => withCast(async (c) => {
  const id = await groupWithTwoAdmins(c, [c.bob, c.carol, c.dave]);
  const all = [c.alice, c.bob, c.carol, c.dave];
  const epoch0 = snapshot(c.alice, id)!.epoch;
  const refusedA = collect<{ groupId: string; reason: string }>(c.alice, 'groupRefused');
  const refusedB = collect<{ groupId: string; reason: string }>(c.bob, 'groupRefused');
  await Promise.all([c.alice.groups.setPolicy(id, { name: 'alpha' }), c.bob.groups.setPolicy(id, { name: 'bravo' })]);
  const s1 = await converged(all, id, 20_000, (x) => x.name !== 'ops');
  assert.is(s1.epoch, epoch0 + 1, 'one of the two commits, nothing made again');
  assert.ok(s1.name === 'alpha' || s1.name === 'bravo', s1.name);
  const loser = s1.name === 'alpha' ? refusedB : refusedA;
  const winner = s1.name === 'alpha' ? refusedA : refusedB;
  await loser.until(1);
  assert.equal(loser.items[0], { groupId: id, reason: 'SUPERSEDED' });
  assert.is(winner.items.length, 0);
  historiesVerify(all, id);

  // Different fields at once: the loser's field is made again, so both changes hold.
  await Promise.all([c.alice.groups.setPolicy(id, { name: 'charlie' }), c.bob.groups.setPolicy(id, { reviewIntervalDays: 30 })]);
  await until(() => all.every((x) => x.groups.list()[0]!.name === 'charlie' && x.groups.list()[0]!.reviewIntervalDays === 30), 20_000, 'both changes');
  const s2 = await converged(all, id);
  assert.is(s2.epoch, s1.epoch + 2, 'the winner, then the loser made again');
  assert.ok(all.every((x) => x.groups.list()[0]!.reviewIntervalDays === 30));
  historiesVerify(all, id);
  await everyoneTalks(all.map((client, i) => ({ client, name: ['alice', 'bob', 'carol', 'dave'][i]! })), id, 'renamed');
}));

test.run();
