// Relay-wide memory bounds (spec/protocol.md §8; issue 11, finding 4). Every per-connection bound
// has a relay-wide one: bytes waiting in send buffers (maxBufferedBytesTotal: the largest slow
// readers are closed 4005), authenticated mailboxes (maxAuthTotal: BUSY). The relay runs as a
// child process so that its resident memory is measured alone (/proc/PID/status).
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RelayConnection } from '../../src/client/node/connection.js';
import { authenticate, createMailbox, fetchNext, newMailboxKeys, sendCapability, sendEnvelope, type MailboxKeys } from '../../src/client/mailbox.js';
import { envelope, errorOf, fetchMetrics, freePort, sleep, spawnRelay, tempDir, withTimeout, type RelayProcess } from './_helpers.js';

const MiB = 1024 * 1024;

/** VmHWM (peak), VmRSS, RssAnon and RssFile of a process, in MiB. */
function memoryOf(pid: number): { peak: number; rss: number; anon: number; file: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) / 1024;
  return { peak: kb('VmHWM'), rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}
const fmt = (m: ReturnType<typeof memoryOf>): string => `peak ${m.peak.toFixed(0)}, rss ${m.rss.toFixed(0)} (anon ${m.anon.toFixed(0)}, file ${m.file.toFixed(0)}) MiB`;

async function metric(port: number, name: string): Promise<number> {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await fetchMetrics(port))?.[1] ?? NaN);
}

async function relayWith(args: string[]): Promise<{ relay: RelayProcess; metricsPort: number; stop(): Promise<void> }> {
  const dir = tempDir('sealpost-mem-');
  const metricsPort = await freePort();
  const relay = await spawnRelay(['--host', '127.0.0.1', '--port', '0', '--data', dir.path, '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort), '--pow-difficulty', '6', '--log-level', 'warn', ...args]);
  return {
    relay, metricsPort,
    async stop() {
      relay.child.kill('SIGTERM');
      await withTimeout(relay.exited, 15_000, 'relay exit').catch(() => relay.child.kill('SIGKILL'));
      dir.rm();
    },
  };
}

// RelayConnection → the platform's Socket (WsSocket) → ws → its TCP socket.
const pauseReading = (c: RelayConnection): void => (c as unknown as { ws: { ws: { _socket: { pause(): void } } } }).ws.ws._socket.pause();

test('slow readers: all send buffers together stay under maxBufferedBytesTotal; a bystander is served throughout', async () => {
  const CONNS = 40;
  const FETCHES = 110; // 110 × 64 KiB ≈ 6.9 MiB a connection: under maxBufferedBytes (8 MiB) each, 275 MiB in all
  const { relay, metricsPort, stop } = await relayWith(['--max-buffered-bytes-total', String(32 * MiB)]);
  const conns: RelayConnection[] = [];
  try {
    const owner = await RelayConnection.connect(relay.address);
    conns.push(owner);
    const keys = newMailboxKeys();
    await createMailbox(owner, keys);
    await sendEnvelope(owner, sendCapability(relay.address, keys), envelope(65536));
    const by = await RelayConnection.connect(relay.address);
    conns.push(by);
    const byKeys = newMailboxKeys();
    await createMailbox(by, byKeys);
    const byCap = sendCapability(relay.address, byKeys);
    const before = memoryOf(relay.child.pid!);

    let served = 0;
    let maxOutbound = 0;
    const attackers = await Promise.all(Array.from({ length: CONNS }, async () => {
      const c = await RelayConnection.connect(relay.address);
      conns.push(c);
      await authenticate(c, keys);
      return c;
    }));
    let peak = before;
    for (const c of attackers) {
      pauseReading(c);
      for (let i = 0; i < FETCHES; i++) c.request({ type: 'FETCH', readId: keys.readId }).catch(() => {});
      await sleep(20);
      const m = memoryOf(relay.child.pid!);
      if (m.rss > peak.rss) peak = m;
      maxOutbound = Math.max(maxOutbound, await metric(metricsPort, 'sealpost_outbound_buffered_bytes'));
      // The bystander still sends, and reads what it sent.
      await withTimeout(sendEnvelope(by, byCap, envelope(1024)), 5_000, 'bystander SEND');
      assert.ok(await withTimeout(fetchNext(by, byKeys), 5_000, 'bystander FETCH'));
      served++;
    }
    await sleep(500);
    const during = memoryOf(relay.child.pid!);
    const shed = await metric(metricsPort, 'sealpost_slow_readers_shed_total');
    for (const c of attackers) c.close().catch(() => {});
    await sleep(3_000);
    const after = memoryOf(relay.child.pid!);
    console.log(`slow readers: ${CONNS} × ${FETCHES} FETCHes of 64 KiB unread (${((CONNS * FETCHES * 65580) / MiB).toFixed(0)} MiB asked); relay before ${fmt(before)}; during ${fmt(during)}; 3 s after they left ${fmt(after)}; relay-wide send buffers at most ${(maxOutbound / MiB).toFixed(1)} MiB, ${shed} slow readers shed; bystander served ${served}/${CONNS}`);
    assert.is(served, CONNS, 'the bystander is served throughout');
    assert.ok(during.peak - before.rss < 32 + 96, `peak RSS grew by ${(during.peak - before.rss).toFixed(0)} MiB with a 32 MiB relay-wide bound`);
    assert.ok(shed > 0, 'the largest slow readers were closed');
    assert.ok(maxOutbound <= 32 * MiB + 66_000, `send buffers in all: ${maxOutbound} bytes`);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await stop();
  }
});

test('authenticated mailboxes: past maxAuthTotal AUTH answers BUSY; closing a connection gives its share back', async () => {
  const MAILBOXES = 400, CONNS = 10, CAP = 2_000;
  const { relay, stop } = await relayWith(['--max-auth-total', String(CAP), '--mailbox-create-burst', '100000', '--key-ops-burst', '100000', '--key-ops-per-second', '100000']);
  const conns: RelayConnection[] = [];
  try {
    const maker = await RelayConnection.connect(relay.address);
    conns.push(maker);
    const boxes: MailboxKeys[] = [];
    for (let i = 0; i < MAILBOXES; i += 50) {
      const ks = Array.from({ length: 50 }, () => newMailboxKeys());
      await Promise.all(ks.map((k) => createMailbox(maker, k)));
      boxes.push(...ks);
    }
    await maker.close(); // its 400 authentications are given back
    const before = memoryOf(relay.child.pid!);
    const outcomes = new Map<string, number>();
    const readers: RelayConnection[] = [];
    for (let c = 0; c < CONNS; c++) {
      const conn = await RelayConnection.connect(relay.address);
      conns.push(conn);
      readers.push(conn);
      const results = await Promise.all(boxes.map((k) => authenticate(conn, k).then(() => 'OK', (e: unknown) => errorOf(Promise.reject(e)))));
      for (const r of results) outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
    }
    const after = memoryOf(relay.child.pid!);
    const ok = outcomes.get('OK') ?? 0;
    console.log(`auth pinning: ${CONNS} connections × ${MAILBOXES} AUTHs: ${JSON.stringify(Object.fromEntries(outcomes))}; relay anon RSS ${before.anon.toFixed(0)} -> ${after.anon.toFixed(0)} MiB (${(((after.anon - before.anon) * MiB) / Math.max(1, ok)).toFixed(0)} bytes of anonymous RSS per successful AUTH, uncollected garbage included)`);
    assert.is(ok, CAP, `exactly maxAuthTotal (${CAP}) succeed`);
    assert.is(outcomes.get('BUSY'), CONNS * MAILBOXES - CAP);
    await readers[0]!.close();
    await sleep(200);
    const again = await RelayConnection.connect(relay.address);
    conns.push(again);
    await authenticate(again, boxes[0]!); // room again
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await stop();
  }
});

test.run();
