// Crash safety (spec/protocol.md §5.10, §11): the relay runs as a child process, is SIGKILLed
// in the middle of a stream of sends, and restarted on the same data directory. Every
// envelope that got OK must be delivered exactly once; nothing may appear twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { RelayConnection } from '../../src/client/node/connection.js';
import { ack, authenticate, createMailbox, fetchNext, newMailboxKeys, sendCapability, sendEnvelope, type MailboxKeys } from '../../src/client/mailbox.js';
import { randomBytes } from '../../src/crypto/index.js';
import { CLI_PATH, spawnRelay, tempDir, withTimeout, type RelayProcess } from './_helpers.js';

const ARGS = (dir: string): string[] => ['--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', dir, '--log-level', 'warn'];

function tagged(seq: number): Uint8Array {
  const e = randomBytes(256);
  new DataView(e.buffer).setUint32(0, seq);
  return e;
}
const tagOf = (e: Uint8Array): number => new DataView(e.buffer, e.byteOffset, 4).getUint32(0);

async function drain(conn: RelayConnection, keys: MailboxKeys): Promise<Array<{ msgId: number; seq: number }>> {
  const got: Array<{ msgId: number; seq: number }> = [];
  for (;;) {
    const m = await fetchNext(conn, keys);
    if (!m) return got;
    got.push({ msgId: m.msgId, seq: tagOf(m.envelope) });
    await ack(conn, keys, m.msgId);
  }
}

async function stopProcess(p: RelayProcess | null, signal: NodeJS.Signals): Promise<number | string | null> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return null;
  p.child.kill(signal);
  return withTimeout(p.exited, 10_000, `relay exit after ${signal}`);
}

test('SIGKILL mid-stream: every OKed envelope is delivered exactly once after restart', async () => {
  const dir = tempDir('sealpost-durability-');
  let relay: RelayProcess | null = null;
  try {
    relay = await spawnRelay(ARGS(dir.path));
    const firstAddress = relay.address;
    const owner = await RelayConnection.connect(relay.address);
    const keys = newMailboxKeys();
    await createMailbox(owner, keys);
    const cap = sendCapability(relay.address, keys);
    const sender = await RelayConnection.connect(relay.address);

    // Stream sends with up to 64 in flight; SIGKILL once 400 have been acknowledged, and keep
    // streaming until the connection dies, so that sends are in flight at the moment of death
    // (the relay may well answer everything sent before the signal lands).
    const oked = new Set<number>();
    const sent = new Set<number>();
    let seq = 0;
    let killed = false;
    const killedAt = new Promise<void>((resolveKill) => {
      const pump = (): void => {
        if (!sender.isOpen) return;
        const s = ++seq;
        sent.add(s);
        sendEnvelope(sender, cap, tagged(s)).then(() => {
          oked.add(s);
          if (oked.size >= 400 && !killed) {
            killed = true;
            relay!.child.kill('SIGKILL');
            resolveKill();
          }
          pump();
        }, () => { /* the connection died with the relay: not OKed */ });
      };
      for (let i = 0; i < 64; i++) pump();
    });
    await withTimeout(killedAt, 20_000, 'streaming 400 sends');
    assert.is(await withTimeout(relay.exited, 5_000), 'SIGKILL');
    await Promise.all([owner.closed, sender.closed]);
    assert.ok(sent.size > oked.size, 'some sends were in flight at the kill');

    relay = await spawnRelay(ARGS(dir.path));
    assert.is(relay.address, firstAddress.replace(/:\d+$/, ':' + relay.address.split(':').pop()), 'same identity after restart');
    const reader = await RelayConnection.connect(relay.address);
    await authenticate(reader, keys);
    const got = await drain(reader, keys);
    const seqs = got.map((g) => g.seq);
    if (process.env['SEALPOST_TEST_VERBOSE']) console.log({ sent: sent.size, oked: oked.size, delivered: got.length });
    const counts = new Map<number, number>();
    for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    assert.equal(twice, [], 'nothing delivered twice');
    const lost = [...oked].filter((s) => !counts.has(s));
    assert.equal(lost, [], 'every OKed envelope delivered');
    for (const s of seqs) assert.ok(sent.has(s), 'only what was sent');
    const ids = got.map((g) => g.msgId);
    assert.equal(ids, [...ids].sort((a, b) => a - b), 'in msgId order');

    // msgIds keep increasing across the restart, so clients can keep deduplicating by msgId.
    const sender2 = await RelayConnection.connect(relay.address);
    await sendEnvelope(sender2, sendCapability(relay.address, keys), tagged(999_999));
    const after = await fetchNext(reader, keys);
    assert.ok(after && after.msgId > Math.max(...ids));
    await Promise.all([reader.close(), sender2.close()]);

    // SIGTERM drains and exits 0.
    assert.is(await stopProcess(relay, 'SIGTERM'), 0);
    relay = null;
  } finally {
    await stopProcess(relay, 'SIGKILL').catch(() => {});
    dir.rm();
  }
});

test('relay backup copies the store and identity of a running relay', async () => {
  const dir = tempDir('sealpost-backup-');
  const bk = tempDir('sealpost-backup-copy-');
  let relay: RelayProcess | null = null;
  try {
    relay = await spawnRelay(ARGS(dir.path));
    const conn = await RelayConnection.connect(relay.address);
    const keys = newMailboxKeys();
    await createMailbox(conn, keys);
    const env = tagged(7);
    await sendEnvelope(conn, sendCapability(relay.address, keys), env);
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [CLI_PATH, 'relay', 'backup', '--data', dir.path, '--to', `${bk.path}/copy`], { stdio: 'ignore' });
      child.on('exit', (c) => resolve(c));
    });
    assert.is(code, 0);
    await conn.close();
    assert.is(await stopProcess(relay, 'SIGTERM'), 0);
    relay = await spawnRelay(ARGS(`${bk.path}/copy`));
    const reader = await RelayConnection.connect(relay.address);
    await authenticate(reader, keys);
    const m = await fetchNext(reader, keys);
    assert.ok(m && tagOf(m.envelope) === 7);
    await reader.close();
  } finally {
    await stopProcess(relay, 'SIGKILL').catch(() => {});
    dir.rm();
    bk.rm();
  }
});

test.run();
