// A relay that stops answering (issue 11, finding 6; spec/client.md §6.1, §8.3, §9.1): the
// client's home relay goes silent behind a TCP proxy (connections stay open, nothing comes
// back). Messages from a contact whose mailbox is on another relay keep arriving, even while
// a HELLO on an invitation mailbox there waits for a CREATE at the silent relay; every public
// call that needs the silent relay ends within its timeout with TIMEOUT or RELAY_UNAVAILABLE;
// close() does not hang.
//
// Prints the figures: node .build/test/client/silent-relay.test.js
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClientError, type Client } from '../../src/client/index.js';
import { startTcpProxy, withPort } from '../_support/tcp-proxy.js';
import { cleanup, connect, inbox, openClient, startRelay, tempDir, withTimeout } from './_helpers.js';

const TIMEOUT_MS = 1_000;
/** What a call may take beyond the relay timeout (a SEND in flight, timers, a loaded machine). */
const SLACK_MS = 1_500;

async function endsWithin<T>(what: string, p: Promise<T>, log: string[]): Promise<ClientError> {
  const t0 = Date.now();
  const e = await withTimeout(p.then(() => null, (x: unknown) => x), TIMEOUT_MS + SLACK_MS + 2_000, what);
  const ms = Date.now() - t0;
  log.push(`${what}: ${e instanceof ClientError ? e.code : String(e)} after ${ms} ms`);
  assert.instance(e, ClientError, `${what}: ${String(e)}`);
  assert.ok(['TIMEOUT', 'RELAY_UNAVAILABLE'].includes((e as ClientError).code), `${what}: ${(e as ClientError).code}`);
  assert.ok(ms <= TIMEOUT_MS + SLACK_MS, `${what} took ${ms} ms`);
  return e as ClientError;
}

test('a silent home relay: the other relay keeps delivering, every call against the silent one times out, close() ends', async () => {
  const healthy = await startRelay();
  const silentRelay = await startRelay();
  const proxy = await startTcpProxy(silentRelay.port);
  const silent = withPort(silentRelay.address, proxy.port);
  const carolDir = tempDir();
  let carol: Client = await openClient(healthy.address, { dataDir: carolDir, relayTimeoutMs: TIMEOUT_MS });
  const bob = await openClient(healthy.address);
  const dave = await openClient(healthy.address);
  const erin = await openClient(healthy.address);
  const alice = await openClient(silent);
  const log: string[] = [];
  try {
    const { ba } = await connect(carol, bob, { a: 'bob' });
    const { ba: carolForAlice } = await connect(alice, carol, { b: 'alice' }); // Alice's mailbox is on the silent relay
    void carolForAlice;
    const pending = await carol.createInvitation(); // an invitation mailbox on the healthy relay
    // Carol moves home to the relay that will go silent; her mailboxes on the healthy one stay.
    await carol.close();
    // Direct sends (spec/client.md §9.6): under private routing a silent home relay would hold the
    // sends to Bob's relay too (they go through it), and the fan-out below would time out for both.
    carol = await openClient(silent, { dataDir: carolDir, relayTimeoutMs: TIMEOUT_MS, privateRouting: 'off' });
    await withTimeout(new Promise<void>((r) => { if (carol.stats().online) r(); else carol.once('connection', () => r()); }), 5_000, 'carol online');
    const cIn = inbox(carol);
    await bob.send(ba.id, 'before');
    await cIn.until(1, 5_000);

    proxy.silence();
    const t0 = Date.now();
    // A HELLO on the healthy relay whose handling needs a CREATE at the silent home relay.
    const daveAccepts = dave.acceptInvitation(pending, { timeoutMs: 500 }).catch(() => undefined);
    // Public calls against the silent relay, all at once.
    const erinLink = await erin.createInvitation();
    const calls = [
      endsWithin('createInvitation', carol.createInvitation(), log),
      endsWithin('acceptInvitation', carol.acceptInvitation(erinLink), log),
      endsWithin('rotateMailbox', carol.rotateMailbox('bob'), log),
      endsWithin('send to a contact on the silent relay', carol.send('alice', 'into the void'), log),
    ];
    for (const c of calls) c.catch(() => undefined); // awaited below
    const many = carol.sendToMany(['alice', 'bob'], 'to both');
    // Meanwhile Bob's messages arrive through the healthy relay.
    const N = 50;
    for (let i = 0; i < N; i++) await bob.send(ba.id, `during ${i}`);
    await cIn.until(1 + N, 5_000);
    const deliveredMs = Date.now() - t0;
    log.push(`healthy side: ${N} messages delivered during the silence in ${deliveredMs} ms`);
    await Promise.all(calls);
    const fan = await withTimeout(many, TIMEOUT_MS + SLACK_MS + 2_000, 'sendToMany');
    assert.is(fan.results[1]!.ok, true, 'bob (healthy relay) gets the fan-out');
    assert.is(fan.results[0]!.ok, false, 'alice (silent relay) does not');
    if (!fan.results[0]!.ok) assert.ok(['TIMEOUT', 'RELAY_UNAVAILABLE'].includes(fan.results[0]!.error.code), fan.results[0]!.error.code);
    await daveAccepts;
    assert.equal(cIn.messages.slice(1).map((m) => m.text), Array.from({ length: N }, (_, i) => `during ${i}`));
    const c0 = Date.now();
    await withTimeout(carol.close(), 5_000, 'close');
    log.push(`close(): ${Date.now() - c0} ms`);
    assert.ok(Date.now() - c0 < 3_000, `close took ${Date.now() - c0} ms`);
  } finally {
    console.log(log.map((l) => `silent relay: ${l}`).join('\n'));
    await Promise.all([carol.close(), bob.close(), dave.close(), erin.close(), alice.close()]);
    await proxy.close();
    await Promise.all([healthy.close(), silentRelay.close()]);
  }
});

test.after(cleanup);
test.run();
