// Federation on loopback (spec/federation.md): relays A and B partners, C a stranger. A client
// of A sends to a mailbox on B through A; retries keep one copy; the answer is sealed and of one
// size; strangers and impostors are refused at the handshake and counted by reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { equalBytes, FORWARD_RESPONSE_BYTES, randomBytes, sealForward, toBase64url, toHex } from '../../src/crypto/index.js';
import { fetchNext, openDelivered, type MailboxKeys, type SendCapability } from '../../src/client/mailbox.js';
import { forwardEnvelope, newIdempotencyKey, queryDestination, type DestinationRelay } from '../../src/client/forwarding.js';
import type { RelayConnection } from '../../src/client/node/connection.js';
import { parseRelayAddress } from '../../src/wire/index.js';
import { subscribe } from '../../src/client/mailbox.js';
import { clientPool, collectMessages, envelope, errorOf, freePort, makeMailbox, startTestRelay, sleep, waitFor, type TestRelay } from './_helpers.js';

const relays: TestRelay[] = [];
let A: TestRelay, B: TestRelay, C: TestRelay;

test.before(async () => {
  [A, B, C] = await Promise.all([startTestRelay({ forwardTimeoutSeconds: 3 }), startTestRelay(), startTestRelay({ forwardTimeoutSeconds: 2 })]);
  relays.push(A, B, C);
  // A dials B (it knows B's address); B accepts A (a fingerprint from a second source, as a signed policy would give).
  A.relay.partners.setAddresses('test', [parseRelayAddress(B.relay.address)]);
  B.relay.partners.setFingerprints('policy', [A.relay.fingerprint]);
  // C knows B, but B does not know C.
  C.relay.partners.setAddresses('test', [parseRelayAddress(B.relay.address)]);
});

test.after(async () => {
  await Promise.all(relays.map((r) => r.stop()));
});


/** An owner on B with a private mailbox, a sender on A with B's keys; every client closed after. */
async function acrossAB(fn: (m: { owner: RelayConnection; keys: MailboxKeys; cap: SendCapability; sender: RelayConnection; dest: DestinationRelay }) => Promise<void>): Promise<void> {
  const onA = clientPool(A.relay.address);
  const onB = clientPool(B.relay.address);
  try {
    const owner = await onB.connect();
    const { keys, cap } = await makeMailbox(owner, B.relay.address);
    const sender = await onA.connect();
    await fn({ owner, keys, cap, sender, dest: await queryDestination(sender, B.relay.address) });
  } finally {
    await onA.closeAll();
    await onB.closeAll();
  }
}

test('a client of A sends to a mailbox on B through A; B delivers it once', () => acrossAB(async ({ owner, keys, cap, sender, dest }) => {
  const inbox = collectMessages(owner);
  await subscribe(owner, keys);
  assert.is(toBase64url(dest.fingerprint), B.relay.fingerprint);
  const env = envelope(1024);
  const key = newIdempotencyKey();
  await forwardEnvelope(sender, dest, cap, env, key);
  const msg = await inbox.next();
  assert.ok(equalBytes(openDelivered(owner, keys, msg).envelope, env));
  // The same request again (a retry after a lost answer): OK, and no second copy.
  await forwardEnvelope(sender, dest, cap, env, key);
  await forwardEnvelope(sender, dest, cap, env, key);
  await sleep(200);
  assert.is(inbox.messages.length, 1, 'one copy');
  assert.is(B.relay.stats().envelopes, 1);
  // A new key is a new envelope.
  await forwardEnvelope(sender, dest, cap, env, newIdempotencyKey());
  await inbox.waitCount(2);
  assert.match(B.relay.metricsText(), /sealpost_forwards_in_total\{code="DEDUPED"\} 2/);
  assert.match(A.relay.metricsText(), /sealpost_forwards_out_total\{outcome="answered"\} 4/);
  // A never saw the mailbox: no sendId or readId in its logs.
  const aLogs = JSON.stringify(A.logs);
  for (const id of [keys.sendId, keys.readId]) {
    assert.not.ok(aLogs.includes(toHex(id)) || aLogs.includes(toBase64url(id)), 'A logged a mailbox id');
  }
}));

test('errors at the destination come back sealed, at the size of an OK', () => acrossAB(async ({ cap, sender, dest }) => {
  const wrong = { ...cap, accessKey: randomBytes(32) as never };
  assert.is(await errorOf(forwardEnvelope(sender, dest, wrong, envelope(256), newIdempotencyKey())), 'AUTH');
  const unknown = { ...cap, sendId: randomBytes(32) as never };
  assert.is(await errorOf(forwardEnvelope(sender, dest, unknown, envelope(256), newIdempotencyKey())), 'AUTH');
  await forwardEnvelope(sender, dest, cap, envelope(256), newIdempotencyKey());
  // What A passes back is FORWARD_RESPONSE_BYTES long for an OK and for an AUTH alike.
  const sizes = await Promise.all([cap, wrong].map(async (c) => {
    const { sealed } = sealForward(dest.deliveryKey, { idempotencyKey: newIdempotencyKey(), sendId: c.sendId, proof: c.accessKey!, envelope: envelope(256) });
    const f = await sender.request({ type: 'FORWARD', relay: dest.fingerprint, sealed });
    return f.type === 'FORWARDED' ? f.response.length : -1;
  }));
  assert.equal(sizes, [FORWARD_RESPONSE_BYTES, FORWARD_RESPONSE_BYTES]);
  // Sealed to another key: the destination cannot open it.
  const fake = { ...dest, deliveryKey: (await queryDestination(sender, A.relay.address)).deliveryKey };
  assert.is(await errorOf(forwardEnvelope(sender, fake, cap, envelope(256), newIdempotencyKey())), 'FORWARD_INVALID');
  // Not an envelope size.
  assert.is(await errorOf(sender.request({ type: 'FORWARD', relay: dest.fingerprint, sealed: randomBytes(300) })), 'SIZE');
}));

test('same-relay private routing: FORWARD naming the relay itself', async () => {
  const onA = clientPool(A.relay.address);
  try {
    const owner = await onA.connect();
    const { keys, cap } = await makeMailbox(owner, A.relay.address);
    const sender = await onA.connect();
    const self = await queryDestination(sender, A.relay.address);
    const env = envelope(4096);
    const key = newIdempotencyKey();
    await forwardEnvelope(sender, self, cap, env, key);
    await forwardEnvelope(sender, self, cap, env, key);
    const got = await fetchNext(owner, keys);
    assert.ok(got && equalBytes(got.envelope, env));
    assert.is(A.relay.stats().envelopes, 1);
  } finally {
    await onA.closeAll();
  }
});

test('a destination with crypto workers opens a link batch of FWDs on them: each OK stored once, bad requests fail alone', async () => {
  // spec/protocol.md §12, spec/federation.md §6: the opens of one turn go to the workers as one batch.
  const [a, d] = await Promise.all([startTestRelay({ cryptoWorkers: 0 }), startTestRelay({ cryptoWorkers: 2 })]);
  a.relay.partners.setAddresses('test', [parseRelayAddress(d.relay.address)]);
  d.relay.partners.setFingerprints('policy', [a.relay.fingerprint]);
  const onA = clientPool(a.relay.address);
  const onD = clientPool(d.relay.address);
  try {
    const owner = await onD.connect();
    const { cap } = await makeMailbox(owner, d.relay.address);
    const sender = await onA.connect();
    const dest = await queryDestination(sender, d.relay.address);
    const keys = Array.from({ length: 40 }, () => newIdempotencyKey());
    const elsewhere = { ...dest, deliveryKey: (await queryDestination(sender, a.relay.address)).deliveryKey };
    const before = d.relay.cryptoStats();
    const wave = (): Promise<string[]> => Promise.all([
      ...keys.map((k, i) => forwardEnvelope(sender, dest, cap, envelope(i % 2 ? 1024 : 256), k).then(() => 'OK', errorOf)),
      errorOf(forwardEnvelope(sender, elsewhere, cap, envelope(256), newIdempotencyKey())),
      errorOf(forwardEnvelope(sender, dest, { ...cap, accessKey: randomBytes(32) as never }, envelope(256), newIdempotencyKey())),
    ]);
    assert.equal(await wave(), [...keys.map(() => 'OK'), 'FORWARD_INVALID', 'AUTH']);
    const after = d.relay.cryptoStats();
    assert.is(after.workers, 2);
    assert.ok(after.items - before.items >= 42 + 41 + 40, 'the opens, the proof checks and the seals ran on the workers');
    assert.ok(after.batches - before.batches < after.items - before.items, 'in batches, not one by one');
    // Every request again, at once (retries after lost answers): OK, and no second copy.
    assert.equal(await wave(), [...keys.map(() => 'OK'), 'FORWARD_INVALID', 'AUTH']);
    assert.is(d.relay.stats().envelopes, keys.length);
    assert.match(d.relay.metricsText(), new RegExp(`sealpost_forwards_in_total\\{code="DEDUPED"\\} ${keys.length}`));
  } finally {
    await onA.closeAll();
    await onD.closeAll();
    await Promise.all([a.stop(), d.stop()]);
  }
});

test('a relay not on the allow-list is refused at the handshake, counted by reason', async () => {
  const onC = clientPool(C.relay.address);
  const onA = clientPool(A.relay.address);
  try {
    const sender = await onC.connect();
    // C dials B, B refuses: the client of C gets PEER_DOWN, for KEY_QUERY and FORWARD alike.
    assert.is(await errorOf(sender.request({ type: 'KEY_QUERY', relay: parseRelayAddress(B.relay.address).fingerprint })), 'PEER_DOWN');
    await waitFor(() => /sealpost_peer_refused_total\{reason="not_partner"\} [1-9]/.test(B.relay.metricsText()), 5_000, 'B counted the refusal');
    assert.match(C.relay.metricsText(), /sealpost_peer_refused_total\{reason="not_partner"\} [1-9]/);
    // A relay that is not a partner of A: NO_PEER at once.
    const a = await onA.connect();
    assert.is(await errorOf(a.request({ type: 'KEY_QUERY', relay: parseRelayAddress(C.relay.address).fingerprint })), 'NO_PEER');
    assert.is(await errorOf(a.request({ type: 'FORWARD', relay: parseRelayAddress(C.relay.address).fingerprint, sealed: randomBytes(256 + 129) })), 'NO_PEER');
    // Metrics never carry an address.
    for (const r of [A, B, C]) assert.not.match(r.relay.metricsText(), /127\.0\.0\.1/);
  } finally {
    await onC.closeAll();
    await onA.closeAll();
  }
});

test('a peer answering with another key than its address pins is refused (wrong_key)', async () => {
  const b = parseRelayAddress(B.relay.address);
  // A believes B's host and port belong to C's fingerprint: B (which accepts A) answers with its own key.
  const impostor = { ...b, fingerprint: parseRelayAddress(C.relay.address).fingerprint };
  A.relay.partners.setAddresses('wrong', [impostor]);
  const onA = clientPool(A.relay.address);
  try {
    const sender = await onA.connect();
    assert.is(await errorOf(sender.request({ type: 'KEY_QUERY', relay: impostor.fingerprint })), 'PEER_DOWN');
    assert.match(A.relay.metricsText(), /sealpost_peer_refused_total\{reason="wrong_key"\} [1-9]/);
  } finally {
    A.relay.partners.setAddresses('wrong', []);
    await onA.closeAll();
  }
});

test('a partner taken off the list loses its link', () => acrossAB(async ({ cap, sender, dest }) => {
  await forwardEnvelope(sender, dest, cap, envelope(256), newIdempotencyKey());
  B.relay.partners.setFingerprints('policy', []);
  assert.is(await errorOf(forwardEnvelope(sender, dest, cap, envelope(256), newIdempotencyKey())), 'PEER_DOWN');
  B.relay.partners.setFingerprints('policy', [A.relay.fingerprint]);
  await forwardEnvelope(sender, dest, cap, envelope(256), newIdempotencyKey());
}));

test('a partner that is down is dialed while a request waits for it, not after the request timed out', async () => {
  // A names a partner at a port where nothing listens.
  const dead = { ...parseRelayAddress(B.relay.address), port: await freePort(), fingerprint: randomBytes(32) };
  A.relay.partners.setAddresses('dead', [dead]);
  const onA = clientPool(A.relay.address);
  const dials = (): number => Number(/sealpost_peer_dials_total (\d+)/.exec(A.relay.metricsText())?.[1] ?? 0);
  try {
    const sender = await onA.connect();
    assert.is(await errorOf(sender.request({ type: 'KEY_QUERY', relay: dead.fingerprint })), 'PEER_DOWN');
    const after = dials();
    assert.ok(after >= 1, 'it was dialed while the query waited');
    await sleep(1_500);
    assert.is(dials(), after, 'no redial once nothing waits');
  } finally {
    A.relay.partners.setAddresses('dead', []);
    await onA.closeAll();
  }
});

test.run();
