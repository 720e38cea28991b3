// The SDK across federated relays (spec/client.md §9.5, spec/federation.md): alice's home is
// relay A, bob's is relay B, A and B partners. Invitations carry the inviter's relay, so each
// sends to the other's mailboxes through its own relay (private routing), contact request
// included. A client of a relay without that partner falls back to sending directly unless it
// requires private routing; 'always' routes same-relay sends through the relay too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isClientError } from '../../src/client/index.js';
import { parseRelayAddress } from '../../src/wire/index.js';
import { startTestRelay, type TestRelay } from '../relay/_helpers.js';
import { cleanup, connect, inbox, openClient } from './_helpers.js';

let A: TestRelay, B: TestRelay, C: TestRelay;

test.before(async () => {
  [A, B, C] = await Promise.all([startTestRelay({ powDifficulty: 1 }), startTestRelay({ powDifficulty: 1 }), startTestRelay({ powDifficulty: 1 })]);
  A.relay.partners.setAddresses('test', [parseRelayAddress(B.relay.address)]);
  B.relay.partners.setAddresses('test', [parseRelayAddress(A.relay.address)]);
});
test.after(async () => {
  await Promise.all([A, B, C].map((r) => r.stop()));
  cleanup();
});

const count = (r: TestRelay, metric: string): number => {
  const m = new RegExp(`^${metric.replace(/[{}]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(r.relay.metricsText());
  return m ? Number(m[1]) : 0;
};

test('contacts on two partner relays talk through their own relays', async () => {
  const alice = await openClient(A.relay.address);
  const bob = await openClient(B.relay.address);
  try {
    const aIn = inbox(alice), bIn = inbox(bob);
    const { ab, ba } = await connect(alice, bob, { a: 'bob', b: 'alice' });
    for (let i = 0; i < 5; i++) await bob.send(ba.id, `hi alice ${i}`);
    await alice.send(ab.id, 'hi bob');
    assert.equal((await aIn.until(5)).map((m) => m.text), [0, 1, 2, 3, 4].map((i) => `hi alice ${i}`));
    assert.is((await bIn.until(1))[0]!.text, 'hi bob');
    // Bob's envelopes (the contact request too) went B → A, alice's A → B: nothing went directly.
    assert.ok(count(B, 'sealpost_forwards_out_total{outcome="answered"}') >= 6, B.relay.metricsText());
    assert.ok(count(A, 'sealpost_forwards_in_total{code="OK"}') >= 6);
    assert.ok(count(A, 'sealpost_forwards_out_total{outcome="answered"}') >= 1);
    assert.ok(count(B, 'sealpost_forwards_in_total{code="OK"}') >= 1);
  } finally {
    await alice.close();
    await bob.close();
  }
});

test('no partner: preferred falls back to a direct send, required refuses', async () => {
  const alice = await openClient(A.relay.address);
  const carol = await openClient(C.relay.address); // 'preferred' by default; C has no partners
  const dave = await openClient(C.relay.address, { privateRouting: 'required' });
  try {
    const aIn = inbox(alice);
    const { ba } = await connect(alice, carol);
    await carol.send(ba.id, 'direct after all');
    assert.is((await aIn.until(1))[0]!.text, 'direct after all');
    assert.is(count(C, 'sealpost_forwards_out_total{outcome="answered"}'), 0, 'C forwarded nothing: it has no partner');
    const link = await alice.createInvitation();
    try {
      await dave.acceptInvitation(link);
      assert.unreachable('required private routing without a partner must fail');
    } catch (e) {
      assert.ok(isClientError(e), `${String(e)} ${(e as Error).stack}`);
      assert.match(String(e), /NO_PEER/);
    }
  } finally {
    await Promise.all([alice.close(), carol.close(), dave.close()]);
  }
});

test("'always' routes sends to contacts on the home relay through it as well", async () => {
  const alice = await openClient(A.relay.address);
  const erin = await openClient(A.relay.address, { privateRouting: 'always' });
  try {
    const aIn = inbox(alice);
    const before = count(A, 'sealpost_forwards_out_total{outcome="local"}');
    const { ba } = await connect(alice, erin);
    await erin.send(ba.id, 'same relay, sealed to it');
    assert.is((await aIn.until(1))[0]!.text, 'same relay, sealed to it');
    assert.ok(count(A, 'sealpost_forwards_out_total{outcome="local"}') >= before + 2);
  } finally {
    await Promise.all([alice.close(), erin.close()]);
  }
});

test.run();
