// Groups through a real relay (spec/groups.md §9–§16): three verified contacts make a group,
// exchange texts, see one membership with each member's verification state; the admin removes
// a member, who can read nothing sent afterwards; the signed history says who did what.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isClientError, type GroupChange, type GroupMessage } from '../../src/client/index.js';
import { cleanup, openClient, startRelay, until } from '../client/_helpers.js';
import { befriend, collect, joined } from './_group-helpers.js';

test('create, talk, review membership, remove, and the removed member is locked out', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address), bob = await openClient(relay.address), carol = await openClient(relay.address);
  try {
    const people = [{ client: alice, name: 'alice' }, { client: bob, name: 'bob' }, { client: carol, name: 'carol' }];
    const contacts = await befriend(people);
    const bobJoins = joined(bob), carolJoins = joined(carol);
    const g = await alice.groups.create('ops', [contacts.get('alice>bob')!.id, contacts.get('alice>carol')!.id]);
    assert.is(g.memberCount, 3);
    assert.ok(g.admin);
    const gb = await bobJoins, gc = await carolJoins;
    assert.is(gb.id, g.id);
    assert.is(gc.name, 'ops');
    assert.not.ok(gb.admin);

    const bobMsgs = collect<GroupMessage>(bob, 'groupMessage'), carolMsgs = collect<GroupMessage>(carol, 'groupMessage');
    const aliceMsgs = collect<GroupMessage>(alice, 'groupMessage');
    await alice.groups.send(g.id, 'hello team');
    await bob.groups.send(g.id, 'hi from bob');
    await bobMsgs.until(1);
    await carolMsgs.until(2);
    await aliceMsgs.until(1);
    assert.is(bobMsgs.items[0]!.text, 'hello team');
    assert.is(bobMsgs.items[0]!.sender.name, 'alice');
    assert.ok(bobMsgs.items[0]!.sender.verified);
    assert.ok(bobMsgs.items[0]!.sender.admin);
    assert.equal(carolMsgs.items.map((m) => m.text).sort(), ['hello team', 'hi from bob']);

    // Everyone sees the same members, each with its verification state.
    const seenByCarol = carol.groups.members(g.id);
    assert.is(seenByCarol.length, 3);
    assert.ok(seenByCarol.every((m) => m.verified));
    assert.is(seenByCarol.filter((m) => m.admin).length, 1);

    // A non-admin cannot remove anyone.
    try { await bob.groups.remove(g.id, [contacts.get('bob>carol')!.id]); assert.unreachable(); }
    catch (e) { assert.ok(isClientError(e, 'NOT_GROUP_ADMIN'), String(e)); }

    const bobChanges = collect<GroupChange>(bob, 'groupChange');
    await alice.groups.remove(g.id, [contacts.get('alice>carol')!.id]);
    await bobChanges.until(1);
    assert.is(bobChanges.items[0]!.removed[0]!.name, 'carol');
    assert.is(bobChanges.items[0]!.by.name, 'alice');
    await until(() => carol.groups.list()[0]?.status === 'removed', 10_000, 'carol removed');

    await alice.groups.send(g.id, 'after carol left');
    await bobMsgs.until(2);
    await new Promise((r) => setTimeout(r, 300));
    assert.not.ok(carolMsgs.items.some((m) => m.text === 'after carol left'));
    assert.is(bob.groups.members(g.id).length, 2);

    // The signed history: the add and the removal, each signature verified again.
    const h = bob.groups.history(g.id);
    assert.ok(h.length >= 1);
    assert.ok(h.every((e) => e.signatureValid));
    const hAlice = alice.groups.history(g.id);
    assert.ok(hAlice.some((e) => e.added.length === 2) && hAlice.some((e) => e.removed.length === 1));

    const reviewed = await bob.groups.markReviewed(g.id);
    assert.not.ok(reviewed.reviewDue);
  } finally {
    await Promise.all([alice.close(), bob.close(), carol.close()]);
    await relay.close();
    cleanup();
  }
});

test.run();
