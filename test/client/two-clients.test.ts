// Two and three clients through a real relay (spec/client.md §3–§6): invitation, equal
// safety codes, verification, messages both ways, events with their verified flags.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isClientError, type Contact } from '../../src/client/index.js';
import { cleanup, connect, inbox, nextEvent, openClient, startRelay } from './_helpers.js';

test('invitation, equal safety codes, verify, messages both ways', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const bob = await openClient(relay.address);
  try {
    const aIn = inbox(alice), bIn = inbox(bob);
    const link = await alice.createInvitation({ name: 'bob' });
    assert.match(link, /^sealpost:invite\/[A-Za-z0-9_-]+$/);
    const aliceSeesContact = nextEvent<Contact>(alice, 'contact');
    const ba = await bob.acceptInvitation(link, { name: 'alice' });
    const ab = await aliceSeesContact;
    assert.is(ba.name, 'alice');
    assert.is(ab.name, 'bob');
    assert.match(ab.safetyCode, /^\d{5} \d{5} \d{5} \d{5}$/);
    assert.is(ab.safetyCode, ba.safetyCode, 'both sides show the same safety code');
    assert.is(ab.verified, false);
    assert.ok(ba.established && ab.established);

    await bob.send(ba.id, 'hello alice');
    const [m1] = await aIn.until(1);
    assert.is(m1!.text, 'hello alice');
    assert.is(m1!.contactId, ab.id);
    assert.is(m1!.verified, false);
    assert.ok(Math.abs(m1!.sentAt - Date.now()) < 10_000);

    // A wrong code throws and changes nothing.
    try {
      await bob.verifyContact(ba.id, '00000 00000 00000 00000');
      assert.unreachable('a wrong code must throw');
    } catch (e) {
      assert.ok(isClientError(e, 'SAFETY_CODE_MISMATCH'), String(e));
    }
    assert.is(bob.contacts()[0]!.verified, false);

    const verifiedEvent = nextEvent<Contact>(alice, 'contact');
    const v = await alice.verifyContact(ab.id, ba.safetyCode.replace(/ /g, '-'));
    assert.is(v.verified, true);
    assert.is((await verifiedEvent).verified, true);
    await bob.verifyContact(ba.id, ab.safetyCode);

    await alice.send(ab.id, 'hi bob');
    await alice.send(ab.id, 'second');
    const got = await bIn.until(2);
    assert.equal(got.map((m) => m.text), ['hi bob', 'second']);
    assert.ok(got.every((m) => m.verified));
    assert.equal(alice.contacts().map((c) => ({ name: c.name, verified: c.verified })), [{ name: 'bob', verified: true }]);
    assert.equal(alice.history(ab.id).map((h) => [h.direction, h.text]), [['in', 'hello alice'], ['out', 'hi bob'], ['out', 'second']]);
    assert.is(alice.stats().dropped.total, 0);
    assert.is(bob.stats().dropped.total, 0);
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await relay.close();
  }
});

test('three clients: pairwise contacts, distinct codes, messages routed to the right contact', async () => {
  const relay = await startRelay();
  const [a, b, c] = await Promise.all([openClient(relay.address), openClient(relay.address), openClient(relay.address)]);
  try {
    const ab = await connect(a, b, { a: 'b', b: 'a' });
    const ac = await connect(a, c, { a: 'c', b: 'a' });
    const bc = await connect(b, c, { a: 'c', b: 'b' });
    const codes = new Set([ab.ab.safetyCode, ac.ab.safetyCode, bc.ab.safetyCode]);
    assert.is(codes.size, 3);
    assert.is(ac.ab.safetyCode, ac.ba.safetyCode);
    assert.is(bc.ab.safetyCode, bc.ba.safetyCode);
    const aIn = inbox(a), bIn = inbox(b), cIn = inbox(c);
    await b.send(ab.ba.id, 'b->a');
    await c.send(ac.ba.id, 'c->a');
    await c.send(bc.ba.id, 'c->b');
    await a.send(ac.ab.id, 'a->c');
    const am = await aIn.until(2);
    assert.equal(am.map((m) => `${m.contactId === ab.ab.id ? 'b' : m.contactId === ac.ab.id ? 'c' : '?'}:${m.text}`).sort(), ['b:b->a', 'c:c->a']);
    const [bm] = await bIn.until(1);
    assert.is(bm!.contactId, bc.ab.id);
    assert.is(bm!.text, 'c->b');
    const [cm] = await cIn.until(1);
    assert.is(cm!.contactId, ac.ba.id);
    assert.equal(a.contacts().map((x) => x.name).sort(), ['b', 'c']);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
    await relay.close();
  }
});

test.after(cleanup);
test.run();
