// A relay that floods the client (issue 11, finding 7; spec/client.md §6.4): the hostile relay
// of test/_support/hostile-relay.ts pushes MSGs for every mailbox the client subscribes there
// (an invitation mailbox, whose envelopes queue per mailbox, and a conversation mailbox,
// handled in the turn they arrive), ignoring ACKs and the delivery window. The client's memory
// must not grow with the bytes pushed: it stops reading once its inbound budget is spent, and
// TCP back-pressure holds the rest at the relay.
//
// Prints the figures: node .build/test/client/hostile-flood.test.js
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { forkHostileRelay } from '../_support/hostile-relay.js';
import { cleanup, openClient, startRelay, withTimeout } from './_helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1 << 20;

function settle(): { heap: number; rss: number } {
  gc(); gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.arrayBuffers, rss: m.rss };
}

test('a relay pushing MSGs without end: client memory stays bounded (per MiB pushed)', async () => {
  const hostile = await forkHostileRelay();
  const honest = await startRelay();
  const alice = await openClient(honest.address);
  const victim = await openClient(hostile.address, { relayTimeoutMs: 2_000 });
  try {
    await victim.createInvitation(); // an invitation mailbox at the hostile relay: flooded
    // A conversation mailbox there too: the handshake's confirm never comes (the relay never delivers it).
    const link = await alice.createInvitation();
    await victim.acceptInvitation(link, { timeoutMs: 300 }).catch(() => undefined);
    await hostile.flood();
    const warm = Date.now() + 1_500;
    while (Date.now() < warm) await new Promise((r) => setTimeout(r, 100));
    const before = settle();
    const start = (await hostile.stats()).pushedBytes;
    const deadline = Date.now() + 15_000;
    let pushed = 0;
    while (Date.now() < deadline && pushed < 48 * MiB) {
      await new Promise((r) => setTimeout(r, 250));
      pushed = (await hostile.stats()).pushedBytes - start;
    }
    const after = settle();
    const s = await hostile.stats();
    const perMiB = (after.heap - before.heap) / Math.max(1, pushed / MiB);
    console.log(`flood: pushed ${(pushed / MiB).toFixed(1)} MiB (${s.pushedMsgs} MSGs on ${s.connections} connections, ${s.acks} ACKs back) in ${((Date.now() - deadline + 15_000) / 1000).toFixed(1)} s; ` +
      `heap+buffers ${((after.heap - before.heap) / MiB).toFixed(1)} MiB (${(perMiB / 1024).toFixed(1)} KiB per MiB pushed), ` +
      `rss ${((after.rss - before.rss) / MiB).toFixed(1)} MiB; dropped ${victim.stats().dropped.total}, errors ${victim.stats().errors}`);
    assert.ok(s.acks > 0, 'the client processed and acknowledged envelopes');
    assert.ok(after.heap - before.heap < 24 * MiB, `heap grew ${((after.heap - before.heap) / MiB).toFixed(1)} MiB`);
    // Bounded: under 0.1 MiB per MiB pushed, or (when a loaded machine pushed little) under 2 MiB in all.
    assert.ok(pushed < 4 * MiB || perMiB < 0.1 * MiB || after.heap - before.heap < 2 * MiB, `${(perMiB / 1024).toFixed(0)} KiB per MiB pushed`);
  } finally {
    const t0 = Date.now();
    await withTimeout(victim.close(), 10_000, 'close under flood');
    console.log(`flood: close() took ${Date.now() - t0} ms`);
    await alice.close();
    await hostile.close();
    await honest.close();
  }
});

test.after(cleanup);
test.run();
