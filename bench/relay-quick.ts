// A quick relay throughput/latency measurement: the relay runs as a child process (the
// compiled CLI), this process drives it. Senders pipeline SENDs to many private mailboxes;
// owners are subscribed and ACK every pushed envelope. Reports envelopes/s delivered and
// acknowledged, and latency percentiles of SEND→OK and SEND→push.
//
//   npx tsc -p tsconfig.json && node .build/bench/relay-quick.js [--seconds 10] [--senders 8]
//        [--owners 32] [--inflight 64] [--size 1024] [--clients 1] [--workers auto|N] [--processes N]
//
// --processes N runs `sealpost relay --processes N` (spec/scale-out.md); relay CPU is then the
// primary's and every relay process's together. RELAY_QUICK_ARGS adds relay options (say,
// "--postgres-url postgres://… --nats-url nats://…" for the PostgreSQL store).
// --clients N forks N load-generator processes (the load generator is JavaScript too, and on
// a small machine it competes with the relay for cores).
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RelayConnection } from '../src/client/node/connection.js';
import { ack, createMailbox, newMailboxKeys, sendCapability, subscribe, type MailboxKeys } from '../src/client/mailbox.js';
import { randomBytes } from '../src/crypto/index.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const num = (k: string, d: number): number => (args.has(k) ? Number(args.get(k)) : d);
const SECONDS = num('seconds', 10);
const SENDERS = num('senders', 8);
const OWNERS = num('owners', 32);
const INFLIGHT = num('inflight', 64);
const SIZE = num('size', 1024);
const CLIENTS = num('clients', 1);
const WORKERS = args.get('workers') ?? 'auto'; // the relay's --crypto-workers
const PROCESSES = args.get('processes') ?? '1'; // the relay's --processes

const pct = (sorted: number[], p: number): number => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : NaN;

interface Result { delivered: number; sendLat: number[]; e2eLat: number[]; seconds: number }

/** One load generator: its own owners and senders against `address`. */
async function drive(address: string, mark: (phase: 'start' | 'end') => void = () => {}): Promise<Result> {
  const owners: Array<{ conn: RelayConnection; keys: MailboxKeys }> = [];
  for (let i = 0; i < OWNERS; i++) {
    const conn = await RelayConnection.connect(address);
    const keys = newMailboxKeys();
    await createMailbox(conn, keys);
    await subscribe(conn, keys);
    owners.push({ conn, keys });
  }
  const caps = owners.map((o) => sendCapability(address, o.keys));
  const senders = await Promise.all(Array.from({ length: SENDERS }, () => RelayConnection.connect(address)));
  const sentAt = new Map<string, number>(); // envelope tag -> time
  const sendLat: number[] = [];
  const e2eLat: number[] = [];
  let delivered = 0;
  let measuring = false;
  let running = true;
  const { openDelivered } = await import('../src/client/mailbox.js');
  for (const o of owners) {
    o.conn.onMessage((m) => {
      const env = openDelivered(o.conn, o.keys, m).envelope;
      const tag = Buffer.from(env.subarray(0, 12)).toString('hex');
      const t0 = sentAt.get(tag);
      sentAt.delete(tag);
      if (measuring) {
        delivered++;
        if (t0 !== undefined) e2eLat.push(performance.now() - t0);
      }
      ack(o.conn, o.keys, m.msgId).catch(() => {});
    });
  }
  let target = 0;
  const loop = async (conn: RelayConnection): Promise<void> => {
    while (running) {
      const env = randomBytes(SIZE);
      const tag = Buffer.from(env.subarray(0, 12)).toString('hex');
      const cap = caps[target++ % caps.length]!;
      const t0 = performance.now();
      sentAt.set(tag, t0);
      try {
        await conn.request({ type: 'SEND', sendId: cap.sendId, proof: cap.accessKey!, envelope: env });
        if (measuring) sendLat.push(performance.now() - t0);
      } catch (e) {
        sentAt.delete(tag);
        if (running) await new Promise((r) => setTimeout(r, 5)); // QUOTA/BUSY: back off a little
      }
    }
  };
  const loops = senders.flatMap((c) => Array.from({ length: INFLIGHT }, () => loop(c)));
  await new Promise((r) => setTimeout(r, 1500)); // warm-up
  measuring = true;
  mark('start');
  const start = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  mark('end');
  const seconds = (performance.now() - start) / 1000;
  running = false;
  await Promise.allSettled(loops);
  await Promise.all([...senders, ...owners.map((o) => o.conn)].map((c) => c.close()));
  return { delivered, sendLat, e2eLat, seconds };
}

async function main(): Promise<void> {
  if (process.env['RELAY_QUICK_ADDRESS']) {
    // A forked load generator.
    const r = await drive(process.env['RELAY_QUICK_ADDRESS']);
    process.send!(r);
    return;
  }
  if (args.has('address')) {
    const r = await drive(args.get('address')!);
    const sorted = r.sendLat.sort((a, b) => a - b);
    console.log(JSON.stringify({ deliveredPerSecond: Math.round(r.delivered / r.seconds), sendToOkP99: pct(sorted, 0.99) }));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-bench-'));
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
  const nodeFlags = (process.env['RELAY_QUICK_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
  const relay = spawn(process.execPath, [...nodeFlags, ...(process.env['RELAY_QUICK_PROFILE'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['RELAY_QUICK_PROFILE']] : []), cli, 'relay', '--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', dir,
    '--send-rate-per-second', '1000000', '--send-burst', '1000000', '--log-level', 'warn', '--crypto-workers', WORKERS, '--processes', PROCESSES,
    ...(process.env['RELAY_QUICK_ARGS'] ?? '').split(' ').filter(Boolean)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  relay.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    while (!/address: (\S+)/.test(out)) {
      if (relay.exitCode !== null) throw new Error('relay exited: ' + out);
      await new Promise((r) => setTimeout(r, 20));
    }
    const address = /address: (\S+)/.exec(out)![1]!;
    // Relay CPU seconds (user + system) from /proc, over the measured window (Linux).
    // The main thread's own (its task id is the pid): the event loop, without the crypto workers.
    const cpuOf = (path: string): number => {
      try {
        const f = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
        return (Number(f[11]) + Number(f[12])) / 100;
      } catch { return NaN; }
    };
    const cpu: Record<string, number> = {};
    // With --processes, the relay processes the primary printed (process N: pid P), and the primary.
    const pids = [relay.pid!, ...[...out.matchAll(/process \d+: pid (\d+)/g)].map((m) => Number(m[1]))];
    const sum = (f: (pid: number) => number): number => pids.reduce((a, pid) => a + f(pid), 0);
    const mark = (phase: 'start' | 'end'): void => {
      cpu[phase] = sum((pid) => cpuOf(`/proc/${pid}/stat`));
      cpu[phase + 'Main'] = sum((pid) => cpuOf(`/proc/${pid}/task/${pid}/stat`));
      const own = process.cpuUsage();
      cpu[phase + 'Client'] = (own.user + own.system) / 1e6; // this load generator
    };
    const results: Result[] = CLIENTS === 1 ? [await drive(address, mark)] : await Promise.all(Array.from({ length: CLIENTS }, () => new Promise<Result>((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2), { env: { ...process.env, RELAY_QUICK_ADDRESS: address } });
      child.once('message', (m) => resolve(m as Result));
      child.once('exit', (code) => { if (code !== 0) reject(new Error(`load generator exited ${code}`)); });
    })));
    if (CLIENTS > 1) { cpu['start'] = NaN; cpu['end'] = NaN; cpu['startMain'] = NaN; cpu['endMain'] = NaN; }
    const delivered = results.reduce((a, r) => a + r.delivered, 0);
    const seconds = Math.max(...results.map((r) => r.seconds));
    const sendLat = results.flatMap((r) => r.sendLat).sort((a, b) => a - b);
    const e2eLat = results.flatMap((r) => r.e2eLat).sort((a, b) => a - b);
    const line = {
      envelopeBytes: SIZE, cryptoWorkers: WORKERS, processes: PROCESSES, senders: SENDERS * CLIENTS, owners: OWNERS * CLIENTS, inflightPerSender: INFLIGHT, seconds: +seconds.toFixed(1),
      deliveredPerSecond: Math.round(delivered / seconds),
      sendToOkMs: { p50: +pct(sendLat, 0.5).toFixed(2), p99: +pct(sendLat, 0.99).toFixed(2) },
      sendToPushMs: { p50: +pct(e2eLat, 0.5).toFixed(2), p99: +pct(e2eLat, 0.99).toFixed(2) },
      relayCpuUtilisation: +((cpu['end']! - cpu['start']!) / seconds).toFixed(2),
      loadGeneratorCpuUtilisation: +((cpu['endClient']! - cpu['startClient']!) / seconds).toFixed(2),
      relayCpuMicrosecondsPerEnvelope: Math.round(((cpu['end']! - cpu['start']!) * 1e6) / delivered),
      relayMainThreadMicrosecondsPerEnvelope: Math.round(((cpu['endMain']! - cpu['startMain']!) * 1e6) / delivered),
    };
    console.log(JSON.stringify(line));
  } finally {
    relay.kill('SIGTERM');
    await new Promise((r) => relay.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
