// Several devices per person (spec/devices.md): three devices of Alice linked with the
// two-code flow, two contacts; every text reaches every device of the recipient and Alice's
// other devices exactly once; notices of additions and removals on every device and at
// contacts; a revoked device learns nothing afterwards; a restart during a link leaves no
// half-linked device.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Client, isClientError, type DeviceNotice, type Message, type SentElsewhere } from '../../src/client/index.js';
import { decodeDeviceList } from '../../src/client/device-list.js';
import { ctxOf } from './_link.js';
import { cleanup, connect, inbox, linkDevice, openClient, startRelay, TEST_KDF, tempDir, until } from './_helpers.js';

const PASS = 'correct horse battery staple';

function recorder(c: Client): { messages: Message[]; sent: SentElsewhere[]; notices: DeviceNotice[]; revoked: number } {
  const r = { messages: [] as Message[], sent: [] as SentElsewhere[], notices: [] as DeviceNotice[], revoked: 0 };
  c.on('message', (m) => r.messages.push(m));
  c.on('sent', (m) => r.sent.push(m));
  c.on('devices', (n) => r.notices.push(n));
  c.on('revoked', () => { r.revoked++; });
  return r;
}

test('three devices, two contacts: exactly once everywhere, notices, revocation', async () => {
  const relay = await startRelay();
  const a1 = await openClient(relay.address);
  const bob = await openClient(relay.address);
  const carol = await openClient(relay.address);
  const clients: Client[] = [a1, bob, carol];
  try {
    const { ab: aBob, ba: bobA } = await connect(a1, bob);
    const { ab: aCarol, ba: carolA } = await connect(a1, carol);
    await bob.verifyContact(bobA.id, aBob.safetyCode);
    const rec1 = recorder(a1);
    const recBob = recorder(bob);
    const recCarol = recorder(carol);

    const a2Dir = tempDir();
    const a2 = await linkDevice(a1, relay.address, { dataDir: a2Dir });
    clients.push(a2);
    const rec2 = recorder(a2);
    assert.is(a1.devices.list().length, 2);
    assert.is(a2.devices.list().length, 2);
    // The new device knows the contacts, with the same safety codes; the verified flag came along.
    await until(() => a2.contacts().length === 2 && a2.contacts().every((c) => c.devices === 1), 20_000, 'a2 has channels with both contacts');
    assert.equal(a2.contacts().map((c) => c.safetyCode).sort(), [aBob.safetyCode, aCarol.safetyCode].sort());
    await until(() => bob.contact(bobA.id)!.devices === 2, 20_000, "Bob has channels with both of Alice's devices");
    assert.ok(bob.contact(bobA.id)!.verified, 'a verified contact stays verified when they add a device');
    assert.ok(recBob.notices.some((n) => n.contactId === bobA.id && n.added.length === 1), 'Bob was told of the new device');
    assert.ok(rec1.notices.some((n) => n.contactId === null && n.added.length === 1), 'a1 was told');

    const a3 = await linkDevice(a2, relay.address);
    clients.push(a3);
    const rec3 = recorder(a3);
    await until(() => a3.contacts().length === 2 && a3.contacts().every((c) => c.devices === 1), 20_000, 'a3 has channels with both contacts');
    await until(() => bob.contact(bobA.id)!.devices === 3 && carol.contact(carolA.id)!.devices === 3, 20_000, 'contacts reach all three devices');

    // Bob writes to Alice: every one of her devices gets it once. a1 writes to Carol: Carol gets
    // it once, and a2, a3 get a copy once.
    await bob.send(bobA.id, 'to all of Alice');
    const a1Carol = a1.contacts().find((c) => c.safetyCode === aCarol.safetyCode)!;
    await a1.send(a1Carol.id, 'from a1 to Carol');
    await until(() => [rec1, rec2, rec3].every((r) => r.messages.filter((m) => m.text === 'to all of Alice').length >= 1), 20_000, 'every device of Alice');
    await until(() => recCarol.messages.some((m) => m.text === 'from a1 to Carol'), 20_000, 'Carol');
    await until(() => rec2.sent.length >= 1 && rec3.sent.length >= 1, 20_000, 'copies on a2 and a3');
    await new Promise((r) => setTimeout(r, 500)); // anything duplicated would arrive meanwhile
    for (const r of [rec1, rec2, rec3]) assert.is(r.messages.filter((m) => m.text === 'to all of Alice').length, 1);
    assert.is(recCarol.messages.filter((m) => m.text === 'from a1 to Carol').length, 1);
    assert.is(rec2.sent.filter((m) => m.text === 'from a1 to Carol').length, 1);
    assert.is(rec3.sent.filter((m) => m.text === 'from a1 to Carol').length, 1);

    // a3 removes a2: every remaining device and both contacts hear of it; a2 wipes itself.
    const a2Id = a2.devices.list().find((d) => d.current)!.id;
    await a3.devices.revoke(a2Id);
    await until(() => rec2.revoked === 1, 20_000, 'a2 learns it was removed');
    await until(() => a1.devices.list().length === 2, 20_000, 'a1 has the new list');
    await until(() => bob.contact(bobA.id)!.devices === 2 && carol.contact(carolA.id)!.devices === 2, 20_000, 'contacts closed their channels with a2');
    assert.ok(recBob.notices.some((n) => n.removed.includes(a2Id)));
    assert.ok(rec1.notices.some((n) => n.removed.includes(a2Id)));
    const before = rec2.messages.length;
    await bob.send(bobA.id, 'after the removal');
    await until(() => rec1.messages.some((m) => m.text === 'after the removal') && rec3.messages.some((m) => m.text === 'after the removal'), 20_000, 'a1 and a3');
    await new Promise((r) => setTimeout(r, 500));
    assert.is(rec2.messages.length, before, 'the removed device read nothing after');
    // It closed itself, wiped its profile, and refuses to open again (spec/devices.md §6 step 4).
    const refusal = async (p: () => Promise<unknown>): Promise<unknown> => { try { await p(); return null; } catch (e) { return e; } };
    const late = await refusal(() => a2.send('x', 'still here?'));
    assert.ok(isClientError(late, 'CLOSED') || isClientError(late, 'DEVICE_REVOKED'), String(late));
    assert.ok(isClientError(await refusal(() => Client.open({ dataDir: a2Dir, passphrase: PASS, kdf: TEST_KDF })), 'DEVICE_REVOKED'), 'a revoked profile does not open again');
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await relay.close();
    cleanup();
  }
});

test('two devices link a device each at the same moment: one list everywhere, none half-linked; then a two-device contact reaches all four, and a verification on one device holds on all', async () => {
  const relay = await startRelay();
  const a1 = await openClient(relay.address);
  const clients: Client[] = [a1];
  try {
    const a2 = await linkDevice(a1, relay.address);
    clients.push(a2);
    const recs = [recorder(a1), recorder(a2)];
    // Both certify on top of the same list (serial 2): the two lists fork (spec/devices.md §3.5).
    const [x, y] = await Promise.all([a1.devices.link(), a2.devices.link()]);
    const [jx, jy] = await Promise.all([
      Client.link({ dataDir: tempDir(), relay: relay.address, passphrase: PASS, kdf: TEST_KDF, relayTimeoutMs: 5_000, code: x.code }),
      Client.link({ dataDir: tempDir(), relay: relay.address, passphrase: PASS, kdf: TEST_KDF, relayTimeoutMs: 5_000, code: y.code }),
    ]);
    await Promise.all([x.confirm(jx.confirmationCode), y.confirm(jy.confirmationCode)]);
    const [a3, a4] = await Promise.all([jx.client, jy.client]);
    clients.push(a3, a4);
    const ids = (c: Client): string => c.devices.list().map((d) => d.id).sort().join();
    await until(() => [a1, a2, a3, a4].every((c) => c.devices.list().length === 4 && ids(c) === ids(a1)), 30_000, 'one list of four devices everywhere');
    for (const r of [...recs, recorder(a3), recorder(a4)]) assert.is(r.revoked, 0, 'no device took itself for revoked');
    // A contact with two devices, met after all this: every pair of devices gets a channel
    // (contact-sync to our own devices, introductions held until a channel exists, §4.2).
    const bob = await openClient(relay.address);
    const bob2 = await linkDevice(bob, relay.address);
    clients.push(bob, bob2);
    const { ab, ba } = await connect(a1, bob);
    await until(() => bob.contact(ba.id)?.devices === 4, 30_000, 'Bob has channels with all four devices');
    await until(() => bob2.contacts()[0]?.devices === 4, 30_000, "Bob's second device too");
    await until(() => [a1, a2, a3, a4].every((c) => c.contacts()[0]?.devices === 2), 30_000, "every device of Alice has both of Bob's").catch((e) => { console.error(JSON.stringify([a1, a2, a3, a4].map((c) => c.contacts().map((x) => [x.name, x.devices, x.established])))); throw e; });
    const got = [a1, a2, a3, a4].map((c) => inbox(c));
    await bob2.send(bob2.contacts()[0]!.id, 'from the second device');
    for (const g of got) await g.until(1, 20_000);
    // Verified on one device: verified on all of the account's devices (the same account key).
    await a1.verifyContact(ab.id, ab.safetyCode);
    await until(() => [a2, a3, a4].every((c) => c.contacts()[0]?.verified === true), 20_000, 'the verification reaches every device');
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await relay.close();
    cleanup();
  }
});

test('a text sent against a stale device list is noticed: the receiver asks for the list and takes it', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  const clients: Client[] = [alice, bob];
  try {
    const { ab, ba } = await connect(alice, bob);
    const bobView = ctxOf(bob).contacts.get(ba.id)!;
    const before = bobView.deviceList!.slice();
    const a2 = await linkDevice(alice, relay.address);
    clients.push(a2);
    await until(() => bob.contact(ba.id)!.devices === 2, 20_000, "Bob reaches Alice's second device");
    // Bob loses the change (as if the notice never came): he holds Alice's first list again.
    bobView.deviceList = before;
    bobView.announced = bobView.announced.slice(0, 1);
    await ctxOf(bob).store.write([ctxOf(bob).contactOp(bobView)]);
    const notices = recorder(bob).notices;
    // Alice's next text carries her list's serial (2): Bob asks for the list, and takes it.
    await alice.send(ab.id, 'with serial 2');
    await until(() => notices.some((n) => n.contactId === ba.id && n.added.length === 1), 20_000, 'Bob takes the newer list');
    assert.is(decodeDeviceList(ctxOf(bob).contacts.get(ba.id)!.deviceList!).serial, 2);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await relay.close();
    cleanup();
  }
});

test.run();
