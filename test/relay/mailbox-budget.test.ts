// Mailbox creation and expiry (spec/protocol.md §5.2, §8, §11.5; issue 11, finding 3). Before,
// one address created mailboxes as fast as its connections could sign (about 175,000 a minute
// from 50 connections) and mailboxes never expired. Now CREATE draws on a budget per address
// group shared by all its connections, and a mailbox unused for its TTL is deleted by the
// sweeper, unless a connection holds it.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RelayConnection } from '../../src/client/node/connection.js';
import { authenticate, createMailbox, newMailboxKeys, sendCapability, sendEnvelope, type MailboxKeys } from '../../src/client/mailbox.js';
import { createMessage, ed25519Sign, randomBytes } from '../../src/crypto/index.js';
import { bodyWithoutSignature, encodeFrame, ERROR_CODES, type CreateFrame } from '../../src/wire/index.js';
import { CLIENT_TYPES, parseRelayFrame, RawClient } from '../_support/frames-fuzz.js';
import { envelope, errorOf, sleep, waitFor, withRelay } from './_helpers.js';

const DAY = 86_400_000;

/**
 * Waits until the relay has processed every close and committed every write so far (its
 * connection count is `connections` and its commit count stays still for 150 ms). With an
 * injected clock, a connection whose close is still in flight, or a renewal write not yet
 * committed, holds its mailbox at the next sweep, which then renews it (spec §11.5): correct,
 * but not what a step of this test means.
 */
async function quiet(relay: { stats(): { connections: number }; metricsText(): string }, connections: number): Promise<void> {
  await waitFor(() => relay.stats().connections === connections, 5_000, `${connections} connections`);
  const commits = (): string => /sealpost_commit_latency_seconds_count (\d+)/.exec(relay.metricsText())?.[1] ?? '';
  for (let last = commits(); ; ) {
    await sleep(150);
    const now = commits();
    if (now === last) return;
    last = now;
  }
}

/** CREATE over a raw connection from `localAddress`; resolves with the answer's type or error name. */
async function createFrom(port: number, localAddress: string): Promise<string> {
  const c = await RawClient.open(port, { localAddress });
  try {
    await c.hello(randomBytes(32));
    const keys = newMailboxKeys();
    const frame: CreateFrame = {
      type: 'CREATE', corr: 7, readKey: keys.readKey, sendId: keys.sendId, deliveryKey: keys.deliveryKey,
      accessVerifier: keys.accessVerifier, flags: 0, ttlSeconds: 0, token: new Uint8Array(0), signature: new Uint8Array(64),
    };
    const bytes = encodeFrame(frame);
    bytes.set(ed25519Sign(keys.readSeed, createMessage(c.serverNonce, c.clientNonce, bodyWithoutSignature(bytes))), bytes.length - 64);
    assert.is(bytes[1], CLIENT_TYPES.CREATE);
    c.send(bytes);
    const r = await c.next(3_000);
    if (!r || r.kind !== 'frame') return 'closed';
    const f = parseRelayFrame(r.bytes);
    if (f.type !== 'ERR') return f.type;
    return Object.entries(ERROR_CODES).find(([, v]) => v === (f as { code: number }).code)?.[0] ?? 'ERR?';
  } finally {
    c.ws.terminate();
  }
}

test('CREATE draws on one budget per address, shared by its connections; another address has its own', () => withRelay({ mailboxCreateBurst: 6, mailboxCreatesPerHour: 60 }, async ({ relay }) => {
  const conns = await Promise.all(Array.from({ length: 3 }, () => RelayConnection.connect(relay.address)));
  try {
    const outcomes: string[] = [];
    for (let i = 0; i < 9; i++) {
      outcomes.push(await errorOf(createMailbox(conns[i % 3]!, newMailboxKeys())).catch(() => 'OK'));
    }
    assert.equal(outcomes, ['OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'RATE', 'RATE', 'RATE'], '6 from 127.0.0.1 in all, over 3 connections');
    assert.is(await createFrom(relay.port, '127.0.0.2'), 'CREATED', 'another address has its own budget');
    assert.is(await createFrom(relay.port, '127.0.0.1'), 'RATE');
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
}));

test('the creation flood of the issue: 10 connections from one address for 2 s', () => withRelay({ keyOpsPerSecond: 100_000, keyOpsBurst: 100_000 }, async ({ relay, dataDir }) => {
  const conns = await Promise.all(Array.from({ length: 10 }, () => RelayConnection.connect(relay.address)));
  const size = (): number => statSync(join(dataDir, 'store', 'data.mdb')).blocks * 512;
  try {
    const before = size();
    const mailboxesBefore = relay.stats().mailboxes;
    let created = 0;
    let refused = 0;
    const deadline = performance.now() + 2_000;
    await Promise.all(conns.map(async (c) => {
      while (performance.now() < deadline) {
        const batch = Array.from({ length: 16 }, () => createMailbox(c, newMailboxKeys()).then(() => { created++; }, () => { refused++; }));
        await Promise.all(batch);
      }
    }));
    const perMinute = (created * 60) / 2;
    const mailboxes = relay.stats().mailboxes - mailboxesBefore;
    console.log(`creation flood: ${created} mailboxes created (${perMinute.toFixed(0)} a minute) and ${refused} refused from one address in 2 s; store +${((size() - before) / 1024).toFixed(0)} KiB`);
    assert.is(mailboxes, created);
    assert.ok(created <= relay.config.mailboxCreateBurst + 1, `at most the burst (${relay.config.mailboxCreateBurst}) in 2 s: ${created}`);
    assert.ok(refused > 0);
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
}));

test('a mailbox unused for its TTL is deleted by the sweeper; AUTH and SEND renew it; one in use on a connection stays', async () => {
  let clock = Date.now();
  await withRelay({ now: () => clock, minTtlSeconds: 60 }, async ({ relay, logs }) => {
    const owner = await RelayConnection.connect(relay.address);
    const sender = await RelayConnection.connect(relay.address);
    const make = async (ttlSeconds: number): Promise<MailboxKeys> => { const k = newMailboxKeys(); await createMailbox(owner, k, { ttlSeconds }); return k; };
    try {
      const unused = await make(2 * 86_400);
      const sentTo = await make(2 * 86_400);
      const authed = await make(2 * 86_400);
      const longer = await make(10 * 86_400);
      await owner.close(); // no connection holds any of them now
      const other = await RelayConnection.connect(relay.address);
      const held = newMailboxKeys();
      await createMailbox(other, held, { ttlSeconds: 60 }); // stays authenticated on `other`
      assert.is(relay.stats().mailboxes, 5);
      await quiet(relay, 2);

      clock += 2 * DAY;
      await sendEnvelope(sender, sendCapability(relay.address, sentTo), envelope());
      const reader = await RelayConnection.connect(relay.address);
      await authenticate(reader, authed);
      await reader.close();
      await quiet(relay, 2);
      await relay.sweepNow();
      assert.is(relay.stats().mailboxes, 5, 'nothing expires before its TTL has passed since its last use');

      await quiet(relay, 2);
      clock += 2 * DAY; // 4 days after creation, 2 after the SEND and the AUTH
      await relay.sweepNow();
      assert.is(relay.stats().mailboxes, 4, 'the unused one is gone');
      assert.is(await errorOf(sendEnvelope(sender, sendCapability(relay.address, unused), envelope())), 'AUTH');
      assert.is(relay.metricsText().match(/sealpost_mailboxes_expired_total (\d+)/)?.[1], '1');

      await quiet(relay, 2);
      clock += 2 * DAY; // 6 days: the renewed ones' TTL has now passed too; `longer` has 10 days
      await relay.sweepNow();
      const problems = logs.filter((l) => l['level'] === 'error' || l['level'] === 'warn' || l['event'] === 'mailbox_expiry_kept').map((l) => JSON.stringify(l)).join('\n');
      assert.is(relay.stats().mailboxes, 2, `\`longer\` and the one held by a connection remain; warnings and errors:\n${problems}\n${relay.metricsText().split('\n').filter((l) => /expired|failures|INTERNAL/.test(l)).join('\n')}`);
      await sendEnvelope(sender, sendCapability(relay.address, longer), envelope());
      await sendEnvelope(sender, sendCapability(relay.address, held), envelope());
      await other.close();
    } finally {
      await Promise.all([owner.close(), sender.close()]);
    }
  });
});

test('disk use per mailbox (README "Storage and disk")', () => withRelay({ keyOpsPerSecond: 100_000, keyOpsBurst: 100_000, mailboxCreateBurst: 100_000 }, async ({ relay, dataDir }) => {
  const conns = await Promise.all(Array.from({ length: 4 }, () => RelayConnection.connect(relay.address)));
  const size = (): number => statSync(join(dataDir, 'store', 'data.mdb')).blocks * 512;
  try {
    for (let i = 0; i < 50; i++) await Promise.all(conns.map((c) => createMailbox(c, newMailboxKeys()))); // past the first pages
    const before = size();
    const N = 4_000;
    for (let i = 0; i < N / 40; i++) await Promise.all(conns.flatMap((c) => Array.from({ length: 10 }, () => createMailbox(c, newMailboxKeys()))));
    const perMailbox = (size() - before) / N;
    console.log(`disk per mailbox: ${perMailbox.toFixed(0)} bytes (${N} mailboxes, record, read/send indexes and expiry entry, LMDB pages included)`);
    assert.ok(perMailbox < 1_024, `${perMailbox} bytes per mailbox`);
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
}));

test.run();
