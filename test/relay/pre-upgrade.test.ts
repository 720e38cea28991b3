// TCP connections that never finish the WebSocket upgrade (spec/protocol.md §2, §8; issue 11,
// finding 2). Before, neither connection limit counted a socket before the upgrade and the HTTP
// server kept Node's default timeouts, so idle sockets exhausted the relay's file descriptors
// and shut every new client out. Now sockets count from accept, per address group (IPv6 /64)
// and in all below the file limit, and those that do not upgrade in time are closed.
import { connect, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RelayConnection } from '../../src/client/node/connection.js';
import { addressGroup } from '../../src/relay/address-group.js';
import { connectionsWithinFileLimit, FD_HEADROOM } from '../../src/relay/file-limit.js';
import { parseRelayAddress } from '../../src/wire/index.js';
import { sleep, spawnRelay, tempDir, withRelay, withTimeout } from './_helpers.js';

test('per-address limits group IPv6 by /64 and IPv4-mapped addresses as IPv4', () => {
  assert.is(addressGroup('192.0.2.7'), '192.0.2.7');
  assert.is(addressGroup('::ffff:192.0.2.7'), '192.0.2.7');
  assert.is(addressGroup('2001:db8:1:2:aaaa::1'), addressGroup('2001:db8:1:2:ffff:ffff:ffff:ffff'));
  assert.is(addressGroup('2001:0DB8:0001:0002::9'), '2001:db8:1:2::/64');
  assert.is.not(addressGroup('2001:db8:1:2::1'), addressGroup('2001:db8:1:3::1'));
  assert.is(addressGroup('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.is(addressGroup('::1'), '0:0:0:0::/64');
  assert.is(connectionsWithinFileLimit(20_000, 1024), 1024 - FD_HEADROOM);
  assert.is(connectionsWithinFileLimit(500, 65_536), 500);
  assert.is(connectionsWithinFileLimit(500, null), 500);
});

const FILE_LIMIT = 512;
const ATTACKERS = ['127.0.0.2', '127.0.0.3'];
const SOCKETS_PER_ATTACKER = 400; // 800 in all: more than the relay's file limit
const UPGRADE_TIMEOUT_S = 1.5;

test('idle and slow pre-upgrade sockets cannot shut clients out: counted from accept, closed after the upgrade timeout', async () => {
  const dir = tempDir('sealpost-preupgrade-');
  const relay = await spawnRelay(['--host', '127.0.0.1', '--port', '0', '--data', dir.path, '--metrics-port', 'off', '--pow-difficulty', '6',
    '--max-connections-per-address', '60', '--upgrade-timeout-seconds', String(UPGRADE_TIMEOUT_S), '--log-level', 'info'], {}, 15_000, FILE_LIMIT);
  const { port } = parseRelayAddress(relay.address);
  const open = new Set<Socket>();
  const lifetimes: number[] = [];
  let attacking = true;
  // One attacker socket: connects from `from`, sends nothing (or a header line every 400 ms: slowloris), reconnects when closed.
  const hold = (from: string, slow: boolean): void => {
    if (!attacking) return;
    const started = performance.now();
    const s = connect({ host: '127.0.0.1', port, localAddress: from });
    let drip: NodeJS.Timeout | null = null;
    s.on('connect', () => {
      open.add(s);
      if (slow) {
        s.write('GET / HTTP/1.1\r\nHost: relay\r\n');
        drip = setInterval(() => s.write('X-A: b\r\n'), 400);
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      if (drip) clearInterval(drip);
      if (open.delete(s)) lifetimes.push(performance.now() - started);
      setTimeout(() => hold(from, slow), 50);
    });
  };
  try {
    for (const a of ATTACKERS) for (let i = 0; i < SOCKETS_PER_ATTACKER; i++) hold(a, i % 20 === 0);
    await sleep(500);
    // A client from another address keeps connecting and completing HELLO while the attack runs.
    let served = 0;
    const connectMs: number[] = [];
    const attempts = 10;
    for (let i = 0; i < attempts; i++) {
      const t0 = performance.now();
      try {
        const c = await RelayConnection.connect(relay.address, { timeoutMs: 3_000 });
        await withTimeout(c.request({ type: 'PING' }), 3_000, 'PING');
        served++;
        connectMs.push(performance.now() - t0);
        await c.close();
      } catch { /* refused or timed out: not served */ }
      await sleep(300);
    }
    const overdue = lifetimes.filter((ms) => ms > (UPGRADE_TIMEOUT_S + 1.5) * 1000).length;
    console.log(`pre-upgrade flood: ${ATTACKERS.length * SOCKETS_PER_ATTACKER} attacker sockets against a file limit of ${FILE_LIMIT}; client served ${served}/${attempts}, connect+PING median ${connectMs.sort((a, b) => a - b)[connectMs.length >> 1]?.toFixed(0) ?? '-'} ms; attacker sockets closed ${lifetimes.length}, longest held ${Math.max(0, ...lifetimes).toFixed(0)} ms`);
    assert.is(served, attempts, 'every client attempt is served during the attack');
    assert.ok(lifetimes.length > 0, 'attacker sockets are closed');
    assert.is(overdue, 0, 'no socket outlives the upgrade timeout by much');
    assert.is(relay.child.exitCode, null);
    const out = relay.output();
    assert.ok(out.includes('"event":"file_limit"'), 'the file limit is read at start and warned about');
    assert.ok(out.includes('"event":"connections_refused"'), 'refusals are logged');
    assert.not.ok(/127\.0\.0\.[23]/.test(out), 'no address in the logs');
  } finally {
    attacking = false;
    for (const s of open) s.destroy();
    relay.child.kill('SIGTERM');
    await withTimeout(relay.exited, 15_000, 'relay exit').catch(() => relay.child.kill('SIGKILL'));
    dir.rm();
  }
});

test('an upgraded connection outlives the upgrade timeout', () => withRelay({ upgradeTimeoutSeconds: 0.2 }, async ({ relay }) => {
  const c = await RelayConnection.connect(relay.address);
  await sleep(500);
  await withTimeout(c.request({ type: 'PING' }), 2_000, 'PING after the upgrade timeout');
  await c.close();
}));

test.run();
