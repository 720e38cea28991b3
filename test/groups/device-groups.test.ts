// Devices in groups (spec/devices.md §7): every device is a leaf of its own. A device newly
// linked to a member's account is added by an admin as soon as its KeyPackage arrives (for our
// own account and for a contact's); a revoked device is removed by an admin even when the
// device that revoked it is no admin of the group, and reads nothing sent to the group after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Client, GroupMessage } from '../../src/client/index.js';
import { cleanup, linkDevice, openClient, startRelay, until } from '../client/_helpers.js';
import { befriend, collect } from './_group-helpers.js';

const leafCount = (c: Client, id: string): number => c.groups.members(id).length;

test('a linked device joins the groups of its account; a revoked one is removed by an admin that did not revoke it', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  const clients: Client[] = [alice, bob];
  try {
    await befriend([{ client: alice, name: 'alice' }, { client: bob, name: 'bob' }]);
    const g = await alice.groups.create('ops', [alice.contact('bob')!.id]);
    await until(() => bob.groups.list().some((x) => x.id === g.id), 20_000, 'bob joined');
    assert.is(leafCount(alice, g.id), 2);

    // Bob links a laptop: Alice, the admin, adds its leaf once the laptop's KeyPackage reaches her.
    const laptop = await linkDevice(bob, relay.address);
    clients.push(laptop);
    await until(() => alice.contact('bob')!.devices === 2, 30_000, "Alice has a channel with Bob's laptop");
    await laptop.groups.prepare();
    await until(() => laptop.groups.list().some((x) => x.id === g.id && x.status === 'active'), 30_000, 'the laptop was added to the group');
    await until(() => leafCount(alice, g.id) === 3 && leafCount(bob, g.id) === 3, 20_000, 'everyone sees three leaves');
    const seen = collect<GroupMessage>(laptop, 'groupMessage');
    await alice.groups.send(g.id, 'hello all devices');
    await seen.until(1, 20_000);

    // Bob's phone (no admin) revokes the laptop: Alice, who takes the new list, removes its leaf.
    const laptopId = laptop.devices.list().find((d) => d.current)!.id;
    await bob.devices.revoke(laptopId);
    await until(() => leafCount(alice, g.id) === 2 && leafCount(bob, g.id) === 2, 30_000, "the laptop's leaf was removed");
    const before = seen.items.length;
    await alice.groups.send(g.id, 'after the revocation');
    const bobSeen = collect<GroupMessage>(bob, 'groupMessage');
    await bobSeen.until(1, 20_000);
    assert.is(seen.items.length, before, 'the revoked laptop read nothing sent to the group after');

    // Alice links a second device of her own: she adds it herself (her own sibling).
    const alice2 = await linkDevice(alice, relay.address);
    clients.push(alice2);
    await alice2.groups.prepare();
    await until(() => alice2.groups.list().some((x) => x.id === g.id && x.status === 'active'), 30_000, "Alice's second device was added");
    await until(() => leafCount(bob, g.id) === 3, 20_000, 'Bob sees it');
    // Admin rights are the person's: Alice's new device is an admin where her first one is.
    await until(() => alice2.groups.list().find((x) => x.id === g.id)?.admin === true, 20_000, "Alice's second device is an admin");
    assert.ok(bob.groups.members(g.id).filter((m) => m.admin).length === 2, 'both of her devices are admins in everyone\'s view');
    // Revoking an admin device removes it from the group and from the admins, in one commit.
    await alice.devices.revoke(alice2.devices.list().find((d) => d.current)!.id);
    await until(() => leafCount(bob, g.id) === 2 && bob.groups.members(g.id).filter((m) => m.admin).length === 1, 20_000, 'the revoked admin device is out');
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await relay.close();
    cleanup();
  }
});

test.run();
