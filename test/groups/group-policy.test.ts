// The Sealpost group policy through a real relay (spec/groups.md §11): who may change a group,
// checked by the committer's SDK (NOT_GROUP_ADMIN) and, when a member forges a commit below the
// SDK, by every other member (groupRefused NOT_AUTHORIZED, epoch unchanged); leaving (a member
// proposes its own removal, an admin's client commits it); the membership review reminder; the
// disappearing-messages timer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isClientError, type Client, type Contact } from '../../src/client/index.js';
import { maintainGroups } from '../../src/client/groups.js';
import { KIND } from '../../src/client/state.js';
import { Group } from '../../src/mls/group.js';
import { SEALPOST_GROUP_STATE_EXTENSION, groupStateExtension, groupStateOf } from '../../src/groups/group-state.js';
import { cleanup, openClient, startRelay, until } from '../client/_helpers.js';
import { befriend, collect, converged, ctxOf, deliverRaw, hasKeyPackageFrom, joined, sleep, snapshot, type GroupChange, type GroupMessage } from './_group-helpers.js';

interface Trio { alice: Client; bob: Client; carol: Client; contacts: Map<string, Contact>; relayAddress: string; id: string }

/** alice (the admin), bob and carol in one group, through a fresh relay. */
async function withTrio(fn: (t: Trio) => Promise<void>, policy: { disappearingSeconds?: number } = {}): Promise<void> {
  const relay = await startRelay();
  const clients = await Promise.all([0, 1, 2].map(() => openClient(relay.address)));
  const [alice, bob, carol] = clients as [Client, Client, Client];
  try {
    const contacts = await befriend([{ client: alice, name: 'alice' }, { client: bob, name: 'bob' }, { client: carol, name: 'carol' }]);
    const joins = [joined(bob), joined(carol)];
    const g = await alice.groups.create('policy', [contacts.get('alice>bob')!.id, contacts.get('alice>carol')!.id], policy);
    await Promise.all(joins);
    await converged(clients, g.id);
    await fn({ alice, bob, carol, contacts, relayAddress: relay.address, id: g.id });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await relay.close();
    cleanup();
  }
}

const texts = (c: Client, id: string): string[] => c.groups.messages(id).map((m) => m.text);

async function refusedWith(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(isClientError(e, code as never), `expected ${code}, got ${String(e)}`);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test("a non-admin's changes are refused by its own SDK: NOT_GROUP_ADMIN, nothing sent, nothing changed", () => withTrio(async (t) => {
  const before = snapshot(t.bob, t.id)!;
  const aliceChanges = collect<GroupChange>(t.alice, 'groupChange');
  await refusedWith(t.bob.groups.setPolicy(t.id, { name: 'mine now' }), 'NOT_GROUP_ADMIN');
  await refusedWith(t.bob.groups.setPolicy(t.id, { admins: [t.bob.identityKey] }), 'NOT_GROUP_ADMIN');
  await refusedWith(t.bob.groups.setPolicy(t.id, { disappearingSeconds: 5 }), 'NOT_GROUP_ADMIN');
  await refusedWith(t.bob.groups.remove(t.id, [t.contacts.get('bob>carol')!.id]), 'NOT_GROUP_ADMIN');
  await refusedWith(t.bob.groups.remove(t.id, [t.contacts.get('bob>alice')!.id]), 'NOT_GROUP_ADMIN');
  assert.equal(snapshot(t.bob, t.id), before);
  // An admin's invalid change is the caller's error too, not an MLS one.
  await refusedWith(t.alice.groups.setPolicy(t.id, { name: 'x'.repeat(300) }), 'INVALID_ARGUMENT');
  assert.equal(snapshot(t.alice, t.id), before);
  // The group still works at the same epoch: nothing half-made was left behind.
  const inbox = collect<GroupMessage>(t.alice, 'groupMessage');
  await t.bob.groups.send(t.id, 'still fine');
  await inbox.until(1);
  assert.is(inbox.items[0]!.text, 'still fine');
  assert.is(aliceChanges.items.length, 0);
  assert.equal(snapshot(t.alice, t.id), before);
}));

test('a commit forged below the SDK by a non-admin is refused by every other member (NOT_AUTHORIZED), who stay on their epoch', () => withTrio(async (t) => {
  const epoch = snapshot(t.alice, t.id)!.epoch;
  const refusedA = collect<{ groupId: string; reason: string }>(t.alice, 'groupRefused');
  const refusedC = collect<{ groupId: string; reason: string }>(t.carol, 'groupRefused');
  // bob's real MLS state, restored without the policy hook: Group.commit no longer asks authorize.
  const real = ctxOf(t.bob).groupsState.groups.get(t.id)!;
  const forged = Group.restore(real.export(), {});
  const state = groupStateOf(forged.extensions);
  const bobSigns = ctxOf(t.bob).identity.sign.publicKey;
  const selfPromotion = forged.commit({
    extensions: forged.extensions.map((e) => (e.type === SEALPOST_GROUP_STATE_EXTENSION ? groupStateExtension({ ...state, admins: [bobSigns], name: 'bob rules' }) : e)),
  });
  const carolLeaf = forged.members().find((m) => m.leaf !== forged.myLeaf && !state.admins.some((a) => a.every((b, i) => b === m.leafNode.signatureKey[i])))!.leaf;
  const removal = forged.commit({ remove: [carolLeaf] });
  await deliverRaw(t.relayAddress, t.bob, [t.alice, t.carol], t.id, selfPromotion.message);
  await deliverRaw(t.relayAddress, t.bob, [t.alice, t.carol], t.id, removal.message);
  await refusedA.until(2);
  await refusedC.until(2);
  assert.equal(refusedA.items, [{ groupId: t.id, reason: 'NOT_AUTHORIZED' }, { groupId: t.id, reason: 'NOT_AUTHORIZED' }]);
  assert.equal(refusedC.items, [{ groupId: t.id, reason: 'NOT_AUTHORIZED' }, { groupId: t.id, reason: 'NOT_AUTHORIZED' }]);
  for (const c of [t.alice, t.bob, t.carol]) {
    const s = snapshot(c, t.id)!;
    assert.is(s.epoch, epoch, 'same epoch');
    assert.is(s.name, 'policy');
    assert.is(s.members.length, 3);
    assert.is(c.groups.members(t.id).filter((m) => m.admin).map((m) => m.identityKey).join(), t.alice.identityKey, 'alice is still the only admin');
  }
  // And the group goes on: the admin's next change is taken by all (bob included).
  await t.alice.groups.setPolicy(t.id, { name: 'policy 2' });
  const s = await converged([t.alice, t.bob, t.carol], t.id, 15_000, (x) => x.name === 'policy 2');
  assert.is(s.epoch, epoch + 1);
}));

test('leaving: the member proposes its removal, the admin\'s client commits it, everyone sees it', () => withTrio(async (t) => {
  const epoch = snapshot(t.alice, t.id)!.epoch;
  const bobChanges = collect<GroupChange>(t.bob, 'groupChange');
  await t.carol.groups.leave(t.id);
  await until(() => snapshot(t.carol, t.id)?.status === 'left', 15_000, "carol's group to say 'left'");
  const s = await converged([t.alice, t.bob], t.id, 15_000, (x) => x.members.length === 2);
  assert.is(s.epoch, epoch + 1);
  assert.equal(s.members, [t.alice.identityKey, t.bob.identityKey].sort());
  await bobChanges.until(1);
  assert.is(bobChanges.items[0]!.by.name, 'alice', 'committed by the admin');
  assert.is(bobChanges.items[0]!.removed[0]!.name, 'carol');
  assert.ok(t.bob.groups.history(t.id).every((h) => h.signatureValid));
  // carol's client refuses to act in the group any more; texts after it do not reach her.
  await refusedWith(t.carol.groups.send(t.id, 'ghost'), 'NOT_A_MEMBER');
  const carolInbox = collect<GroupMessage>(t.carol, 'groupMessage');
  const bobInbox = collect<GroupMessage>(t.bob, 'groupMessage');
  await t.alice.groups.send(t.id, 'after carol');
  await bobInbox.until(1);
  await sleep(300);
  assert.is(carolInbox.items.length, 0);
  // The only admin cannot leave while others remain.
  await refusedWith(t.alice.groups.leave(t.id), 'INVALID_ARGUMENT');
  // A member who left can be added again: her client takes the new Welcome in place of the old record.
  await hasKeyPackageFrom(t.alice, t.contacts.get('alice>carol')!.id);
  const carolRefused = collect<{ groupId: string | null; reason: string }>(t.carol, 'groupRefused');
  await t.alice.groups.add(t.id, [t.contacts.get('alice>carol')!.id]);
  const back = await converged([t.alice, t.bob, t.carol], t.id, 15_000, (x) => x.members.length === 3);
  assert.is(back.epoch, epoch + 2);
  assert.is(carolRefused.items.length, 0);
  assert.is(t.carol.groups.list().length, 1);
  await t.carol.groups.send(t.id, 'back again');
  await until(() => texts(t.bob, t.id).includes('back again'), 10_000, "carol's text after rejoining");
}));

test('review reminder: past the interval, maintenance emits groupReviewDue once; markReviewed clears it', () => withTrio(async (t) => {
  await t.alice.groups.setPolicy(t.id, { reviewIntervalDays: 1 });
  await until(() => t.bob.groups.list()[0]!.reviewIntervalDays === 1, 10_000, 'the interval at bob');
  const ctx = ctxOf(t.bob);
  const due = collect<{ id: string; reviewDue: boolean }>(t.bob, 'groupReviewDue');
  await maintainGroups(ctx);
  assert.is(due.items.length, 0, 'not due yet');
  assert.not.ok(t.bob.groups.list()[0]!.reviewDue);
  ctx.groupsState.records.get(t.id)!.reviewedAt = Date.now() - 2 * 86_400_000;
  assert.ok(t.bob.groups.list()[0]!.reviewDue);
  await maintainGroups(ctx);
  assert.is(due.items.length, 1);
  assert.is(due.items[0]!.id, t.id);
  assert.ok(due.items[0]!.reviewDue);
  await maintainGroups(ctx);
  assert.is(due.items.length, 1, 'reminded once a day, not at every maintenance');
  const v = await t.bob.groups.markReviewed(t.id);
  assert.not.ok(v.reviewDue);
  await maintainGroups(ctx);
  assert.is(due.items.length, 1);
  // The interval is the group's: a member whose group has none (0) is never reminded.
  await t.alice.groups.setPolicy(t.id, { reviewIntervalDays: 0 });
  await until(() => t.bob.groups.list()[0]!.reviewIntervalDays === 0, 10_000, 'no interval at bob');
  ctx.groupsState.records.get(t.id)!.reviewedAt = 0;
  await maintainGroups(ctx);
  assert.is(due.items.length, 1);
}));

test('disappearing messages: with a 1 s timer a text leaves messages() once it expires, and the store at maintenance', () => withTrio(async (t) => {
  await t.alice.groups.setPolicy(t.id, { disappearingSeconds: 1 });
  await until(() => [t.bob, t.carol].every((c) => c.groups.list()[0]!.disappearingSeconds === 1), 10_000, 'the timer everywhere');
  const bobInbox = collect<GroupMessage>(t.bob, 'groupMessage');
  await t.alice.groups.send(t.id, 'self-destruct');
  await bobInbox.until(1);
  assert.equal(t.bob.groups.messages(t.id).map((m) => m.text), ['self-destruct']);
  assert.equal(t.alice.groups.messages(t.id).map((m) => m.text), ['self-destruct'], "the sender's copy too");
  await until(() => t.bob.groups.messages(t.id).length === 0 && t.alice.groups.messages(t.id).length === 0, 5_000, 'the text to expire');
  const stored = (c: Client): number => ctxOf(c).store.entries(KIND.groupMessage).length;
  assert.is(stored(t.bob), 1, 'hidden at once, deleted at the next maintenance');
  await maintainGroups(ctxOf(t.bob));
  await maintainGroups(ctxOf(t.alice));
  assert.is(stored(t.bob), 0);
  assert.is(stored(t.alice), 0);
  // Texts sent with no timer stay.
  await t.alice.groups.setPolicy(t.id, { disappearingSeconds: 0 });
  await until(() => t.bob.groups.list()[0]!.disappearingSeconds === 0, 10_000, 'the timer off at bob');
  await t.alice.groups.send(t.id, 'keeper');
  await bobInbox.until(2);
  await sleep(1_200);
  assert.equal(t.bob.groups.messages(t.id).map((m) => m.text), ['keeper']);
}));

test.run();
