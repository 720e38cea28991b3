// The relay learns nothing new from devices (spec/devices.md §4, issue 13): the same session run
// twice on fresh relays, (a) one person with two linked devices and a contact, Carol, and (b)
// two people who know each other, each a contact of Carol. Everything the relay could record is
// captured: every store write as it happens (CREATE's TTL and flags, each queued envelope's
// size, each DEL and how long the mailbox lived), and after it stops, every file it wrote (LMDB
// records byte for byte, its debug log). The stored records and the logs of (a) and (b) have the
// same shape; no account key, device identity, device list, safety code, contact name or linking
// code is in any stored byte or log line; what the relay can still tell apart is pinned below.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { open as openLmdb } from 'lmdb';
import { Client, type Contact } from '../../src/client/index.js';
import { fromBase64url, utf8 } from '../../src/crypto/index.js';
import { startRelay, type Store } from '../../src/relay/index.js';
import { describeHits, readTree, scanNeedles, type Needle } from '../_support/scan.js';
import { cleanup, connect, openClient, tempDir, until } from './_helpers.js';
import { ctxOf, linkOptions } from './_link.js';

test.after(() => { cleanup(); });

const BUCKETS = [256, 1024, 4096, 16384, 65536];

/** One thing the relay saw happen, in order. */
type Seen =
  | { op: 'create'; iid: number; ttl: number; flags: number }
  | { op: 'enqueue'; iid: number; size: number }
  | { op: 'delete'; iid: number; ttl: number; livedMs: number };

interface Run {
  seen: Seen[];
  /** Hits of the positive controls (readIds of live mailboxes): the scanner does find what is there. */
  controls: number;
  /** Mailbox records still stored: [flags, ttlSeconds, record length], sorted. */
  records: string[];
  /** Sizes of the envelopes still queued. */
  queued: number[];
  /** Log lines: event and sorted field names (no values). */
  logShapes: string[];
  /** Live mailboxes of each device, by role, sorted. */
  perDevice: string[];
  needleHits: string;
  everything: number;
}

/** A relay with a recording store, the session `play`, then everything the relay wrote. */
async function session(play: (address: string) => Promise<{ clients: Client[]; needles: Needle[] }>): Promise<Run> {
  let controls: Needle[] = [];
  const dataDir = tempDir('sealpost-relay-').toString();
  const seen: Seen[] = [];
  const born = new Map<number, number>();
  const wrap = (store: Store): Store => new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'createMailbox') {
        return (r: Parameters<Store['createMailbox']>[0], day: number) => {
          seen.push({ op: 'create', iid: r.iid, ttl: r.ttlSeconds, flags: r.flags });
          born.set(r.iid, Date.now());
          return target.createMailbox(r, day);
        };
      }
      if (prop === 'enqueue') {
        return (iid: number, e: Parameters<Store['enqueue']>[1], c: number | null) => {
          seen.push({ op: 'enqueue', iid, size: e.delivered.length });
          return target.enqueue(iid, e, c);
        };
      }
      if (prop === 'deleteMailbox') {
        return (r: Parameters<Store['deleteMailbox']>[0]) => {
          seen.push({ op: 'delete', iid: r.iid, ttl: r.ttlSeconds, livedMs: Date.now() - (born.get(r.iid) ?? 0) });
          return target.deleteMailbox(r);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const relay = await startRelay({
    host: '127.0.0.1', port: 0, dataDir, powDifficulty: 1, metricsPort: null, logLevel: 'debug', logFile: join(dataDir, 'relay.log'), wrapStore: wrap,
  });
  let clients: Client[] = [];
  let needles: Needle[] = [];
  let perDevice: string[] = [];
  try {
    ({ clients, needles } = await play(relay.address));
    await new Promise((r) => setTimeout(r, 1_000)); // let receipts, copies and maintenance settle
    controls = [...ctxOf(clients[0]!).mailboxes.values()].filter((m) => m.status === 'active').map((m, i) => ({ label: `live readId #${i}`, bytes: m.keys.readId }));
    perDevice = clients.map((c) => {
      const roles = new Map<string, number>();
      for (const m of ctxOf(c).mailboxes.values()) if (m.status === 'active') roles.set(m.role, (roles.get(m.role) ?? 0) + 1);
      return JSON.stringify([...roles].sort());
    }).sort();
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await relay.close();
  }

  const files = readTree(dataDir);
  const log = files.find((f) => f.name === 'relay.log');
  assert.ok(log, 'the relay wrote its log');
  const logShapes = [...new Set(Buffer.from(log!.bytes).toString('utf8').split('\n').filter(Boolean).map((l) => {
    const { event, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return `${String(event)}(${Object.keys(rest).sort().join(',')})`;
  }))].sort();
  const hits = scanNeedles(files, needles);

  const env = openLmdb({ path: join(dataDir, 'store'), readOnly: true, maxDbs: 12, encoding: 'binary', keyEncoding: 'binary' } as Parameters<typeof openLmdb>[0]);
  try {
    const records = [...env.openDB({ name: 'mailbox', encoding: 'binary', keyEncoding: 'ordered-binary' }).getRange()].map(({ value }) => {
      const v = new Uint8Array(value as Uint8Array);
      return JSON.stringify([v[1], new DataView(v.buffer, v.byteOffset).getUint32(2), v.length]);
    }).sort();
    const queued = [...env.openDB({ name: 'queue', encoding: 'binary', keyEncoding: 'ordered-binary' }).getRange()].map(({ value }) => (value as Uint8Array).length - 4).sort((x, y) => x - y);
    const controlHits = new Set(scanNeedles(files.filter((f) => f.name === 'store/data.mdb'), controls, { rawOnly: true }).map((h) => h.needle)).size;
    return { seen, controls: controlHits === controls.length ? controls.length : -controlHits, records, queued, logShapes, perDevice, needleHits: describeHits(hits), everything: files.length };
  } finally {
    await env.close();
  }
}

/** What no stored byte or log line may hold, for one client and its contacts. */
function needlesOf(name: string, c: Client, contactNames: string[], extra: Needle[] = []): Needle[] {
  const a = ctxOf(c).account!;
  const identity = fromBase64url(c.identityKey);
  const out: Needle[] = [
    { label: `${name} account key`, bytes: a.publicKey }, { label: `${name} account seed`, bytes: a.record.accountSeed },
    { label: `${name} device identity (Ed25519)`, bytes: identity.subarray(0, 32) }, { label: `${name} device identity (X25519)`, bytes: identity.subarray(32) },
    { label: `${name} device list`, bytes: a.list.bytes.subarray(0, 48) }, { label: `${name} device list tail`, bytes: a.list.bytes.subarray(a.list.bytes.length - 48) },
    ...extra,
  ];
  for (const ct of c.contacts()) {
    out.push({ label: `${name}'s safety code with ${ct.name}`, bytes: utf8(ct.safetyCode) }, { label: `${name}'s safety code digits with ${ct.name}`, bytes: utf8(ct.safetyCode.replace(/\D/g, '')) });
  }
  for (const n of contactNames) out.push({ label: `contact name ${n}`, bytes: utf8(n) });
  return out;
}

async function exchange(from: Client, to: Client, fromSide: Contact, text: string): Promise<void> {
  const got = new Promise<void>((resolve) => { const h = (m: { text: string }): void => { if (m.text === text) { to.off('message', h); resolve(); } }; to.on('message', h); });
  await from.send(fromSide.id, text);
  await got;
}

const runs: { a?: Run; b?: Run } = {};

test('(a) one person with two devices, and Carol', async () => {
  runs.a = await session(async (address) => {
    const a1 = await openClient(address);
    const carol = await openClient(address);
    const { ab: a1Carol, ba: carolAlice } = await connect(a1, carol, { a: 'Carol Zanzibar', b: 'Alice Quixote' });
    const attempt = await a1.devices.link();
    const joined = await Client.link(linkOptions(address, attempt.code));
    const [, a2] = await Promise.all([attempt.confirm(joined.confirmationCode), joined.client]);
    await until(() => a2.contacts().length === 1 && a2.contacts()[0]!.devices === 1 && carol.contact(carolAlice.id)!.devices === 2, 20_000, 'a2 reaches Carol');
    const a2Carol = a2.contacts()[0]!;
    await exchange(a1, carol, a1Carol, 'one');
    await exchange(a2, carol, a2Carol, 'two');
    await exchange(carol, a1, carolAlice, 'three');
    await until(() => a2.history(a2Carol.id).some((m) => m.text === 'three'), 10_000, 'a2 too');
    await carol.close();
    await a1.send(a1Carol.id, 'four, queued for Carol'); // stays queued at the relay
    const codes: Needle[] = [
      { label: 'session code', bytes: utf8(attempt.code) }, { label: 'session code bare', bytes: utf8(attempt.code.replace('-', '')) },
      { label: 'confirmation code', bytes: utf8(joined.confirmationCode.replace(' ', '')) },
    ];
    return {
      clients: [a1, a2, carol],
      needles: [...needlesOf('a1', a1, ['Carol Zanzibar', 'Alice Quixote'], codes), ...needlesOf('a2', a2, []), ...needlesOf('carol', carol, [])],
    };
  });
});

test('(b) two people who know each other, and Carol', async () => {
  runs.b = await session(async (address) => {
    const alice = await openClient(address);
    const bob = await openClient(address);
    const carol = await openClient(address);
    await connect(alice, bob, { a: 'Bob Marzipan', b: 'Alice Quixote' });
    const { ab: aliceCarol, ba: carolAlice } = await connect(alice, carol, { a: 'Carol Zanzibar', b: 'Alice Quixote' });
    const { ab: bobCarol } = await connect(bob, carol, { a: 'Carol Zanzibar', b: 'Bob Marzipan' });
    await exchange(alice, carol, aliceCarol, 'one');
    await exchange(bob, carol, bobCarol, 'two');
    await exchange(carol, alice, carolAlice, 'three');
    await carol.close();
    await alice.send(aliceCarol.id, 'four, queued for Carol'); // stays queued at the relay
    return {
      clients: [alice, bob, carol],
      needles: [...needlesOf('alice', alice, ['Carol Zanzibar', 'Alice Quixote', 'Bob Marzipan']), ...needlesOf('bob', bob, []), ...needlesOf('carol', carol, [])],
    };
  });
});

const creates = (r: Run): number[] => r.seen.flatMap((x) => (x.op === 'create' ? [x.ttl] : []));

test('the relay\'s records and logs of (a) and (b) have the same shape, and hold nothing of accounts or devices', () => {
  const { a, b } = runs as Required<typeof runs>;
  for (const [name, r] of [['a', a], ['b', b]] as const) {
    assert.is(r.needleHits, '', `(${name}) found in the relay's files what it must never hold:\n${r.needleHits}`);
    assert.ok(r.controls > 0, `(${name}) the scanner finds the live readIds in data.mdb (positive control)`);
    assert.is(r.everything, 4, `(${name}) identity.json, relay.log, store/data.mdb, store/lock.mdb`);
    assert.ok(r.seen.every((x) => x.op !== 'create' || x.flags === 0), `(${name}) every mailbox is private`);
    assert.ok(r.seen.every((x) => x.op !== 'enqueue' || BUCKETS.includes(x.size - 44)), `(${name}) every envelope is a bucket`);
  }
  // Stored: the same mailbox records (flags, TTL, record size), as many, the same queued envelope sizes.
  assert.equal(a.records, b.records, 'mailbox records: [flags, ttlSeconds, bytes]');
  assert.is(a.records.length, 6, 'three channels, two mailboxes each');
  assert.equal(a.queued, b.queued, 'queued envelope sizes');
  assert.is(a.queued.length, 1);
  // Each device holds as many mailboxes, of the same role, as each person does.
  assert.equal(a.perDevice, b.perDevice, 'live mailboxes per device, by role');
  // The logs have the same lines, with the same fields.
  assert.equal(a.logShapes, b.logShapes, 'log lines: event and fields');
});

// A relay watching CREATE must not tell a device link or an introduction from what two people
// do by the TTLs a client asks for: every mailbox of the client asks for the relay's default
// (spec/devices.md §10), and the client enforces the shorter lifetimes itself.
test('the TTLs a client asks for at CREATE do not tell a link or an introduction from an invitation', () => {
  const { a, b } = runs as Required<typeof runs>;
  const known = new Set(creates(b));
  const distinctive = creates(a).filter((t) => !known.has(t));
  assert.equal(distinctive, [], `TTLs only (a) asks for: ${JSON.stringify(distinctive)} (b asks for ${JSON.stringify([...known])})`);
});

test.run();
