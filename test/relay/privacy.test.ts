// What the relay writes down (DESIGN.md "What the relay may learn"; spec/protocol.md §4, §11;
// spec/threat-model.md §1.1, §5): a scripted session between four identities (private and
// public mailboxes, sends both ways, pushes and fetches, acks, a rotate, a delete, an expiry,
// some refusals), with the relay logging to a file in its data directory and serving metrics.
// Then the relay stops and the test reads everything it wrote: every file in the data
// directory (the LMDB data and lock files byte for byte, the identity file, the log) and a
// /metrics scrape taken before the stop; and it opens the LMDB store read-only to check each
// record structurally. Nothing the relay must not know or keep may appear, raw or encoded.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { open } from 'lmdb';
import {
  accessVerifierOf, deliveryKey as deriveDeliveryKey, ed25519KeyPair, equalBytes, fromBase64url, openDelivery, openEnvelope, randomBytes, sealEnvelope, utf8,
  x25519KeyPair,
  type Ed25519KeyPair, type X25519KeyPair, type X25519PublicKey,
} from '../../src/crypto/index.js';
import { RelayConnection } from '../../src/client/node/connection.js';
import {
  ack, authenticate, createMailbox, deleteMailbox, fetchNext, newMailboxKeys, openDelivered, rotateMailbox, sendCapability, sendEnvelope,
  subscribe, type MailboxKeys, type SendCapability,
} from '../../src/client/mailbox.js';
import { startRelay, type RunningRelay } from '../../src/relay/index.js';
import type { MsgFrame } from '../../src/wire/index.js';
import { RawClient } from '../_support/frames-fuzz.js';
import {
  contains, coOccurrences, decimalTokens, describeHits, encodedForms, findAll, intEncodings, readTree, scanNeedles, type Haystack, type Needle,
} from '../_support/scan.js';
import { collectMessages, errorOf, tempDir, withTimeout } from './_helpers.js';

const BUCKETS = [256, 1024, 4096, 16384, 65536];
/** Plaintext body lengths chosen to be unusual numbers; the sealed content is 64 bytes longer (crypto.md §9). */
const BODY_LENGTHS = [777, 1234, 3001, 555];
const EXACT_LENGTHS = [...BODY_LENGTHS, ...BODY_LENGTHS.map((n) => n + 64), ...BODY_LENGTHS.map((n) => n + 68)];

interface Identity { name: string; sign: Ed25519KeyPair; dh: X25519KeyPair; conn: RelayConnection }
interface Mbox { name: string; owner: Identity; versions: MailboxKeys[]; isPublic: boolean; deleted: boolean }
const current = (m: Mbox): MailboxKeys => m.versions[m.versions.length - 1]!;

interface Sent { to: Mbox; from: Identity; body: Uint8Array; envelope: Uint8Array }

/** A clock the test moves forward (for the expiry sweep). */
let clockOffset = 0;
const clock = (): number => Date.now() + clockOffset;

test('the scanners find a needle in every encoding and alignment (self-check)', () => {
  const needle = randomBytes(32);
  for (let pad = 0; pad < 6; pad++) {
    const around = (b: Uint8Array): Uint8Array => new Uint8Array([...randomBytes(pad), ...b, ...randomBytes(5 - pad)]);
    const outputs = [
      Buffer.from(around(needle)),
      Buffer.from(JSON.stringify({ x: Buffer.from(around(needle)).toString('hex') })),
      Buffer.from(JSON.stringify({ x: Buffer.from(around(needle)).toString('hex').toUpperCase() })),
      Buffer.from(JSON.stringify({ x: Buffer.from(around(needle)).toString('base64') })),
      Buffer.from(JSON.stringify({ x: Buffer.from(around(needle)).toString('base64url') })),
      Buffer.from(JSON.stringify({ x: Array.from(around(needle)) })),
      Buffer.from(JSON.stringify({ x: Buffer.from(around(needle)) })),
    ];
    for (const [i, o] of outputs.entries()) {
      assert.ok(scanNeedles([{ name: `o${i}`, bytes: new Uint8Array(o) }], [{ label: 'n', bytes: needle }]).length > 0, `encoding ${i}, offset ${pad}`);
    }
  }
  assert.is(scanNeedles([{ name: 'noise', bytes: utf8(Buffer.from(randomBytes(4096)).toString('base64')) }], [{ label: 'n', bytes: needle }]).length, 0, 'no false positive');
  assert.equal(decimalTokens('"ts":"12:07:45.777Z" port 777, 17770 1.777 777', 777), [26, 43]);
});

test('privacy: nothing the relay must not know or keep is in its files, logs or metrics', async () => {
  const dir = tempDir('sealpost-privacy-');
  const dataDir = dir.path;
  let relay: RunningRelay | null = null;
  const conns: RelayConnection[] = [];
  const clientPorts = new Set<number>();
  const sent: Sent[] = [];
  const mailboxes: Mbox[] = [];
  try {
    relay = await startRelay({
      host: '127.0.0.1', port: 0, dataDir, metricsHost: '127.0.0.1', metricsPort: 0, powDifficulty: 6, logLevel: 'debug',
      logFile: join(dataDir, 'relay.log'), minTtlSeconds: 60, sweepIntervalSeconds: 3600, now: clock,
    });
    const r = relay;
    const address = r.address;
    const connect = async (): Promise<RelayConnection> => {
      const c = await RelayConnection.connect(address, { timeoutMs: 5_000 });
      conns.push(c);
      const sock = (c as unknown as { ws: { ws: { _socket: { localPort: number } } } }).ws.ws._socket; // RelayConnection → WsSocket → ws
      clientPorts.add(sock.localPort);
      return c;
    };
    const identity = async (name: string): Promise<Identity> => ({ name, sign: ed25519KeyPair(), dh: x25519KeyPair(), conn: await connect() });
    const [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map(identity)) as [Identity, Identity, Identity, Identity];
    const mailbox = async (name: string, owner: Identity, opts: { public?: boolean; ttlSeconds?: number } = {}): Promise<Mbox> => {
      const keys = newMailboxKeys(opts.public ? { public: true } : {});
      await createMailbox(owner.conn, keys, opts.ttlSeconds !== undefined ? { ttlSeconds: opts.ttlSeconds } : {});
      const m: Mbox = { name, owner, versions: [keys], isPublic: opts.public === true, deleted: false };
      mailboxes.push(m);
      return m;
    };
    const body = (n: number, tag: string): Uint8Array => {
      const b = randomBytes(n);
      b.set(utf8(`PLAINTEXT ${tag} `).subarray(0, Math.min(n, 40)));
      return b;
    };
    const send = async (from: Identity, to: Mbox, length: number, cap: SendCapability = sendCapability(address, current(to))): Promise<Sent> => {
      const b = body(length, `${from.name}->${to.name}`);
      const envelope = sealEnvelope({ mailboxKey: current(to).mailboxKey, sender: from.dh, body: b });
      await sendEnvelope(from.conn, cap, envelope);
      const s = { to, from, body: b, envelope };
      sent.push(s);
      return s;
    };
    /** Opens a delivered MSG down to the body and checks it against what was sent. */
    const receive = (who: Identity, m: Mbox, msg: MsgFrame | { msgId: number; envelope: Uint8Array }): Sent => {
      const env = 'delivered' in msg ? openDelivered(who.conn, current(m), msg).envelope : msg.envelope;
      const opened = openEnvelope({ mailboxSecret: current(m).mailboxSecret, mailboxKey: current(m).mailboxKey, envelope: env });
      const s = sent.find((x) => equalBytes(x.envelope, env));
      assert.ok(s, 'a delivered envelope is one that was sent');
      assert.ok(equalBytes(opened.body, s!.body) && equalBytes(opened.senderKey, s!.from.dh.publicKey), 'sender and body arrive intact');
      return s!;
    };

    // ---- the session ----
    const aliceInbox = await mailbox('A1', alice);
    const aliceRequests = await mailbox('A2', alice, { public: true });
    const bobInbox = await mailbox('B1', bob);
    const carolInbox = await mailbox('C1', carol);
    const carolSpare = await mailbox('C2', carol);
    const bobShort = await mailbox('B2', bob, { ttlSeconds: 60 });
    const aliceMsgs = collectMessages(alice.conn);
    await subscribe(alice.conn, current(aliceInbox));

    await send(bob, aliceInbox, 777);
    await send(carol, aliceInbox, 1234);
    await send(dave, aliceRequests, 1234); // a contact request: proof-of-work, no capability
    await send(alice, bobInbox, 777);
    await send(alice, carolInbox, 1234);
    await send(alice, carolSpare, 555);
    await send(carol, bobShort, 555);
    const pushed = await aliceMsgs.waitCount(2, 5_000);
    const bobMsg = pushed.find((m) => receive(alice, aliceInbox, m).from === bob)!;
    await ack(alice.conn, current(aliceInbox), bobMsg.msgId);
    const ackedDeliveries = [bobMsg.delivered.slice()];
    // carol's message to alice stays queued (unacknowledged).
    const request = await fetchNext(alice.conn, current(aliceRequests));
    assert.ok(request);
    receive(alice, aliceRequests, request!);
    await ack(alice.conn, current(aliceRequests), request!.msgId);
    await send(dave, aliceRequests, 3001); // a second request, left queued

    // bob reads from another connection (AUTH), acks.
    const bob2 = await connect();
    await authenticate(bob2, current(bobInbox));
    const b1 = await fetchNext(bob2, current(bobInbox));
    receive({ ...bob, conn: bob2 }, bobInbox, b1!);
    await ack(bob2, current(bobInbox), b1!.msgId);
    await send(bob, aliceInbox, 3001); // left queued

    // carol rotates C1 with alice's envelope still queued; alice's old capability stops working.
    const oldCap = sendCapability(address, current(carolInbox));
    carolInbox.versions.push(await rotateMailbox(carol.conn, current(carolInbox)));
    assert.is(await errorOf(sendEnvelope(alice.conn, oldCap, sealEnvelope({ mailboxKey: current(carolInbox).mailboxKey, sender: alice.dh, body: body(777, 'refused') }))), 'AUTH');
    await send(alice, carolInbox, 777);
    const carolMsgs = collectMessages(carol.conn);
    await subscribe(carol.conn, current(carolInbox));
    const toCarol = await carolMsgs.waitCount(2, 5_000);
    for (const m of toCarol) receive(carol, carolInbox, m);
    await ack(carol.conn, current(carolInbox), toCarol[0]!.msgId); // the second stays queued
    ackedDeliveries.push(toCarol[0]!.delivered.slice());

    // carol deletes C2, with alice's envelope in it.
    await deleteMailbox(carol.conn, current(carolSpare));
    carolSpare.deleted = true;

    // B2's envelope expires (ttl 60 s): move the clock two minutes on and sweep.
    clockOffset = 3 * 60_000;
    assert.is(await r.sweepNow(), 1, 'the expired envelope is swept');

    // Some refusals and closes, so that errors and close codes are in the metrics.
    assert.is(await errorOf(authenticate(dave.conn, { ...current(aliceInbox), readSeed: dave.sign.seed })), 'AUTH');
    assert.is(await errorOf(sendEnvelope(dave.conn, sendCapability(address, current(bobInbox)), randomBytes(300))), 'SIZE');
    const raw = await RawClient.open(r.port);
    clientPorts.add(raw.socket.localPort!);
    raw.sendText('not binary');
    assert.is((await withTimeout(raw.closed, 3_000)).code, 1003);

    // The scrape (metrics and health), then everyone leaves and the relay stops.
    const metricsRes = await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`);
    assert.is(metricsRes.status, 200);
    const metricsText = await metricsRes.text();
    assert.match(metricsText, new RegExp(`sealpost_envelopes_in_total ${sent.length}\\n`));
    await Promise.all(conns.map((c) => c.close()));
    await withTimeout(r.close(), 15_000, 'relay close');
    relay = null;

    // ---- what the relay wrote ----
    const files = readTree(dataDir);
    const names = files.map((f) => f.name).sort();
    assert.equal(names, ['identity.json', 'relay.log', 'store/data.mdb', 'store/lock.mdb'], 'the data directory holds these files only');
    const logFile = files.find((f) => f.name === 'relay.log')!;
    const logText = Buffer.from(logFile.bytes).toString('utf8');
    const logLines = logText.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(logLines.some((l) => l['event'] === 'start') && logLines.some((l) => l['event'] === 'stop'), 'the log was written');
    const metrics: Haystack = { name: '/metrics', bytes: utf8(metricsText) };
    const textOutputs: Haystack[] = [logFile, metrics];
    const everything: Haystack[] = [...files, metrics];

    // 1. Secrets and things the relay never receives or must not keep: nowhere, in any form.
    const never: Needle[] = [];
    for (const id of [alice, bob, carol, dave]) {
      never.push(
        { label: `${id.name} identity Ed25519 seed`, bytes: id.sign.seed }, { label: `${id.name} identity Ed25519 key`, bytes: id.sign.publicKey },
        { label: `${id.name} identity X25519 secret`, bytes: id.dh.secretKey }, { label: `${id.name} identity X25519 key`, bytes: id.dh.publicKey },
      );
    }
    for (const m of mailboxes) {
      m.versions.forEach((k, v) => {
        const l = `${m.name}${m.versions.length > 1 ? `#${v}` : ''}`;
        never.push(
          { label: `${l} readSeed`, bytes: k.readSeed }, { label: `${l} mailboxSecret`, bytes: k.mailboxSecret },
          { label: `${l} mailboxKey`, bytes: k.mailboxKey }, { label: `${l} deliverySecret`, bytes: k.deliverySecret },
        );
        if (k.accessKey) never.push({ label: `${l} accessKey`, bytes: k.accessKey });
      });
    }
    for (const [i, s] of sent.entries()) {
      never.push({ label: `plaintext #${i} (${s.body.length} bytes)`, bytes: s.body.subarray(0, 48) });
      never.push({ label: `plaintext #${i} tail`, bytes: s.body.subarray(s.body.length - 32) });
      const e = s.envelope;
      for (const at of [0, 1, 33, Math.floor(e.length / 2), e.length - 32]) never.push({ label: `sent envelope #${i} @${at}`, bytes: e.subarray(at, at + 32) });
    }
    // Positive controls: the scanners do find what is there (current ids in the store, the
    // fingerprint in the log as base64url).
    const dataFile = files.find((f) => f.name === 'store/data.mdb')!;
    for (const m of mailboxes.filter((x) => !x.deleted)) {
      assert.ok(scanNeedles([dataFile], [{ label: 'readId', bytes: current(m).readId }]).length > 0, `${m.name}'s readId is found in data.mdb`);
    }
    assert.ok(scanNeedles([logFile], [{ label: 'fingerprint', bytes: fromBase64url(r.fingerprint) }]).some((h) => h.form.startsWith('base64')), 'the fingerprint is found in the log');
    const neverHits = scanNeedles(everything, never);
    assert.is(neverHits.length, 0, `found what the relay must never keep:\n${describeHits(neverHits)}`);

    // 2. Ids, keys and delivered bytes: allowed in the store (§11.2), never in logs or metrics.
    const notInText: Needle[] = [];
    for (const m of mailboxes) {
      m.versions.forEach((k, v) => {
        const l = `${m.name}#${v}`;
        notInText.push(
          { label: `${l} readId`, bytes: k.readId }, { label: `${l} sendId`, bytes: k.sendId }, { label: `${l} readKey`, bytes: k.readKey },
          { label: `${l} deliveryKey`, bytes: k.deliveryKey }, { label: `${l} accessVerifier`, bytes: k.accessVerifier },
        );
      });
    }
    for (const c of conns) notInText.push({ label: 'a serverNonce', bytes: c.serverNonce }, { label: 'a clientNonce', bytes: c.clientNonce });
    const textHits = scanNeedles(textOutputs, notInText.filter((n) => !n.bytes.every((b) => b === 0)));
    assert.is(textHits.length, 0, `ids or keys in logs or metrics:\n${describeHits(textHits)}`);

    // 3. Client addresses and ports: never in logs or metrics (the relay's own port may be).
    for (const h of textOutputs) {
      const text = Buffer.from(h.bytes).toString('utf8');
      assert.not.ok(text.includes('127.0.0.1'), `a client address in ${h.name}`);
      assert.not.ok(contains(h.bytes, new Uint8Array([127, 0, 0, 1])), `a raw IPv4 address in ${h.name}`);
      for (const p of clientPorts) assert.is(decimalTokens(text, p).length, 0, `client port ${p} in ${h.name}`);
    }
    for (const f of files) assert.not.ok(contains(f.bytes, utf8('127.0.0.1')), `a client address in ${f.name}`);
    for (const l of logLines) {
      for (const p of clientPorts) assert.not.ok(JSON.stringify(l).includes(`:${p}`) || Object.values(l).includes(p), `client port ${p} in a log line`);
    }

    // 4. Exact lengths: not in logs or metrics, as numbers or as binary integers.
    const lengthsIn = (text: string): number[] => EXACT_LENGTHS.filter((n) => decimalTokens(text, n).length > 0);
    for (const l of logLines) {
      const { ts: _ts, ...rest } = l;
      assert.equal(lengthsIn(JSON.stringify(rest)), [], `an exact message length in log line ${JSON.stringify(l)}`);
    }
    for (const line of metricsText.split('\n').filter((x) => x && !x.startsWith('#'))) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      assert.not.ok(EXACT_LENGTHS.includes(value), `an exact message length as a metric value: ${line}`);
      assert.equal(lengthsIn(line.slice(0, line.lastIndexOf(' '))), [], `an exact message length in a metric label: ${line}`);
    }
    for (const n of EXACT_LENGTHS) {
      for (const form of intEncodings(n)) {
        for (const h of textOutputs) assert.is(findAll(h.bytes, form.bytes).length, 0, `length ${n} as ${form.form} in ${h.name}`);
        for (const enc of encodedForms(form.bytes, { minTextBytes: 4 }).filter((f) => f.form === 'hex')) {
          for (const h of textOutputs) assert.is(findAll(h.bytes, enc.bytes).length, 0, `length ${n} as ${form.form} hex in ${h.name}`);
        }
      }
    }

    // 5. Logs and metrics carry no high-entropy strings other than the relay's fingerprint, and
    //    metric labels come from small closed sets.
    const fingerprint = r.fingerprint;
    for (const h of textOutputs) {
      const text = Buffer.from(h.bytes).toString('utf8');
      const blobs = [...text.matchAll(/[0-9a-fA-F]{24,}|[A-Za-z0-9+/_-]{32,}={0,2}/g)].map((m) => m[0]).filter((s) => s !== fingerprint && !/^[a-z_]+$/.test(s));
      assert.equal(blobs, [], `opaque strings in ${h.name}`);
    }
    for (const m of metricsText.matchAll(/\{([^}]*)\}/g)) {
      for (const lv of m[1]!.matchAll(/="([^"]*)"/g)) assert.ok(/^([A-Z_]{1,20}|\d{4}|[0-9.e+-]{1,12}|\+Inf)$/.test(lv[1]!), `metric label value ${lv[1]}`);
    }

    // 6. Permissions (spec §11.1): the data directory and the store 0700, every file 0600.
    const mode = (rel: string): string => (statSync(join(dataDir, rel)).mode & 0o777).toString(8);
    assert.is(mode('.'), '700', 'data directory mode');
    assert.is(mode('store'), '700', 'store directory mode');
    for (const f of names) assert.is(mode(f), '600', `${f} mode`);
    // The identity file holds the relay's own keys only.
    const identityFile = JSON.parse(Buffer.from(files.find((f) => f.name === 'identity.json')!.bytes).toString('utf8')) as Record<string, unknown>;
    assert.equal(Object.keys(identityFile).sort(), ['deliverySecret', 'signSeed', 'version']);

    // 7. The store, record by record (opened read-only now that the relay is stopped): every byte
    //    of every entry is accounted for by spec §11.2.
    const env = open({ path: join(dataDir, 'store'), readOnly: true, maxDbs: 12, encoding: 'binary', keyEncoding: 'binary' } as Parameters<typeof open>[0]);
    try {
      const dbNames = [...env.getKeys()].map((k) => Buffer.from(k as Uint8Array).toString('latin1').replace(/[^a-z]/g, '')).sort();
      assert.equal(dbNames, ['expiry', 'forwarded', 'mailbox', 'mexpiry', 'queue', 'read', 'send', 'seq', 'spent'], 'the store holds the databases of spec §11.2 only');
      const entries: Array<{ db: string; key: Uint8Array; value: Uint8Array }> = [];
      for (const name of dbNames) {
        const db = env.openDB({ name, encoding: 'binary', keyEncoding: 'binary' });
        for (const { key, value } of db.getRange()) entries.push({ db: name, key: new Uint8Array(key as Uint8Array), value: new Uint8Array(value as Uint8Array) });
      }
      const live = mailboxes.filter((m) => !m.deleted);

      // mailbox: iid -> version flags ttl readId readKey sendId verifier dk, one per live mailbox.
      const iidOf = new Map<Mbox, number>();
      const records = [...env.openDB({ name: 'mailbox', encoding: 'binary', keyEncoding: 'ordered-binary' }).getRange()].map(({ key, value }) => ({ iid: key as unknown as number, value: new Uint8Array(value as Uint8Array) }));
      assert.is(records.length, live.length, 'one record per live mailbox');
      for (const rec of records) {
        const m = live.find((x) => equalBytes(rec.value.subarray(6, 38), current(x).readId));
        assert.ok(m, 'a record for a live mailbox, under its current readId');
        const k = current(m!);
        iidOf.set(m!, rec.iid);
        assert.ok(Number.isSafeInteger(rec.iid) && rec.iid > 0, 'iid');
        assert.is(rec.value.length, 170, 'record size (spec §11.2)');
        assert.is(rec.value[0], 2, 'record version');
        assert.is(rec.value[1], m!.isPublic ? 1 : 0, 'flags');
        assert.is(new DataView(rec.value.buffer).getUint32(2), m === bobShort ? 60 : 21 * 86_400, 'ttlSeconds');
        assert.ok(equalBytes(rec.value.subarray(38, 70), k.readKey), 'readKey');
        assert.ok(equalBytes(rec.value.subarray(70, 102), k.sendId), 'sendId');
        assert.ok(equalBytes(rec.value.subarray(102, 134), m!.isPublic ? new Uint8Array(32) : accessVerifierOf(k.accessKey!)), 'the verifier, not the access key');
        assert.ok(equalBytes(rec.value.subarray(134, 166), dkOf(m!)), 'dk');
      }
      // read and send: id -> iid, nothing else.
      for (const [name, idOf] of [['read', (m: Mbox) => current(m).readId], ['send', (m: Mbox) => current(m).sendId]] as const) {
        const rows = [...env.openDB({ name, keyEncoding: 'binary', encoding: 'msgpack' }).getRange()].map(({ key, value }) => ({ key: new Uint8Array(key as Uint8Array), value: value as unknown }));
        assert.is(rows.length, live.length, `${name}: one entry per live mailbox`);
        for (const row of rows) {
          const m = live.find((x) => equalBytes(idOf(x), row.key));
          assert.ok(m, `${name}: a live mailbox's id`);
          assert.is(row.value, iidOf.get(m!), `${name}: the value is the iid`);
        }
      }
      // seq: iid -> msgId ceiling, for live mailboxes only.
      for (const { key, value } of env.openDB({ name: 'seq', encoding: 'msgpack', keyEncoding: 'ordered-binary' }).getRange()) {
        assert.ok([...iidOf.values()].includes(key as unknown as number), 'seq: a live mailbox');
        assert.ok(typeof value === 'number' && value >= 1, 'seq: a number');
      }
      // queue: [iid, msgId] -> expiryMinute || delivered. Each opens under its mailbox's dk to an
      // envelope sent to that mailbox; the stored bytes are not the sent bytes.
      const queued = [...env.openDB({ name: 'queue', encoding: 'binary', keyEncoding: 'ordered-binary' }).getRange()].map(({ key, value }) => ({ key: key as unknown as [number, number], value: new Uint8Array(value as Uint8Array) }));
      const stillQueued: Sent[] = [];
      for (const q of queued) {
        const m = live.find((x) => iidOf.get(x) === q.key[0]);
        assert.ok(m, 'a queued envelope of a live mailbox');
        const delivered = q.value.subarray(4);
        assert.ok(BUCKETS.includes(delivered.length - 44), `stored ${delivered.length} bytes: a bucket + 44`);
        const opened = openDelivery(dkOf(m!), q.key[1], delivered);
        const s = sent.find((x) => equalBytes(x.envelope, opened.envelope));
        assert.ok(s && s.to === m, 'it is an envelope sent to this mailbox');
        stillQueued.push(s!);
        assert.not.ok(contains(q.value, s!.envelope.subarray(0, 64)), 'stored bytes are not sent bytes');
        const expiryMinute = new DataView(q.value.buffer).getUint32(0);
        assert.ok(Math.abs(expiryMinute - (opened.receivedAtMinutes + 21 * 1440)) <= 1, 'the cleartext beside the ciphertext is the expiry minute');
      }
      const expected = sent.filter((x) => (x.to === aliceInbox && (x.from === carol || x.body.length === 3001)) || (x.to === aliceRequests && x.body.length === 3001) || (x.to === carolInbox && x.body.length === 777));
      assert.is(stillQueued.length, expected.length, 'queued: carol→A1, bob→A1 (3001), dave→A2 (3001), alice→C1 after ROTATE');
      for (const e of expected) assert.ok(stillQueued.includes(e), `${e.from.name}→${e.to.name} (${e.body.length}) is queued`);
      // expiry: one [minute, iid, msgId] per queued envelope, with its minute; values empty.
      const expiry = [...env.openDB({ name: 'expiry', encoding: 'binary', keyEncoding: 'ordered-binary' }).getRange()].map(({ key, value }) => ({ key: key as unknown as [number, number, number], value: value as Uint8Array }));
      assert.is(expiry.length, queued.length, 'one expiry entry per queued envelope');
      for (const x of expiry) {
        assert.is(x.value.length, 0, 'expiry values are empty');
        const q = queued.find((y) => y.key[0] === x.key[1] && y.key[1] === x.key[2]);
        assert.ok(q && new DataView(q.value.buffer).getUint32(0) === x.key[0], 'the expiry entry matches its envelope');
      }

      // The expiry day closing each record, and mexpiry: [expiryDay, iid] -> empty, one per live
      // mailbox (spec §11.5): a day, last use plus the TTL in whole days, nothing finer.
      const today = Math.floor(Date.now() / 86_400_000);
      const days = records.map((rec) => ({ iid: rec.iid, day: new DataView(rec.value.buffer).getUint32(166) }));
      for (const d of days) {
        const m = live.find((x) => iidOf.get(x) === d.iid)!;
        const ttlDays = m === bobShort ? 1 : 21;
        assert.ok(d.day === today + ttlDays || d.day === today + ttlDays - 1, `expiry day: last use plus ${ttlDays} days (${d.day})`);
      }
      const mexpiry = [...env.openDB({ name: 'mexpiry', encoding: 'binary', keyEncoding: 'ordered-binary' }).getRange()].map(({ key, value }) => ({ key: key as unknown as [number, number], value: value as Uint8Array }));
      assert.is(mexpiry.length, days.length, 'mexpiry: one entry per live mailbox');
      for (const x of mexpiry) {
        assert.is(x.value.length, 0, 'mexpiry values are empty');
        assert.ok(days.some((d) => d.iid === x.key[1] && d.day === x.key[0]), 'mexpiry matches the record');
      }

      // readId and sendId together: in the mailbox record only, once per mailbox; a rotated-away
      // readId or a deleted mailbox's ids in no live entry at all.
      for (const m of mailboxes) {
        const sendId = current(m).sendId;
        m.versions.forEach((k, v) => {
          const isCurrent = !m.deleted && v === m.versions.length - 1;
          const has = (e: (typeof entries)[number], id: Uint8Array): boolean => contains(e.key, id) || contains(e.value, id);
          assert.equal(entries.filter((e) => has(e, k.readId) && has(e, sendId)).map((e) => e.db), isCurrent ? ['mailbox'] : [], `${m.name}#${v}: readId and sendId together`);
          assert.equal(entries.filter((e) => has(e, k.readId)).map((e) => e.db).sort(), isCurrent ? ['mailbox', 'read'] : [], `${m.name}#${v}: where the readId is`);
        });
        assert.equal(entries.filter((e) => contains(e.key, sendId) || contains(e.value, sendId)).map((e) => e.db).sort(), m.deleted ? [] : ['mailbox', 'send'], `${m.name}: where the sendId is`);
      }
      // Exact lengths: no entry of that size; not as a u32 in any key or cleartext value; not as a
      // u16 in the cleartext fields that are not ids (record header, expiry minute). Ids, iids and
      // hashes are random, so a u16 would turn up in them by chance.
      for (const e of entries) {
        assert.not.ok(EXACT_LENGTHS.includes(e.value.length), `a value of exactly ${e.value.length} bytes in ${e.db}`);
        const fields = e.db === 'queue' ? e.value.subarray(0, 4) : e.db === 'mailbox' ? e.value.subarray(0, 6) : null;
        const cleartext = e.db === 'queue' ? fields! : e.db === 'mailbox' ? Buffer.concat([e.value.subarray(0, 134), e.value.subarray(166)]) : e.value;
        for (const n of EXACT_LENGTHS) {
          for (const f of intEncodings(n)) {
            if (f.form.startsWith('u32')) {
              assert.is(findAll(e.key, f.bytes).length, 0, `length ${n} as ${f.form} in a ${e.db} key`);
              assert.is(findAll(cleartext, f.bytes).length, 0, `length ${n} as ${f.form} in a ${e.db} value`);
            } else if (fields) {
              assert.is(findAll(fields, f.bytes).length, 0, `length ${n} as ${f.form} in a ${e.db} record field`);
            }
          }
        }
      }

      // 8. The raw data file beyond the live entries: what copy-on-write left in freed pages
      //    (threat-model §5 "deleted records"). Reported, not failed: the spec documents it.
      const data = files.find((f) => f.name === 'store/data.mdb')!.bytes;
      const stale: string[] = [];
      for (const m of mailboxes) {
        m.versions.forEach((k, v) => {
          const isCurrent = !m.deleted && v === m.versions.length - 1;
          const pairs = coOccurrences(data, k.readId, current(m).sendId, 200).length;
          if (!isCurrent && pairs > 0) stale.push(`${m.name}#${v}${m.deleted ? ' (deleted)' : ' (rotated away)'}: ${pairs} old record cop${pairs === 1 ? 'y' : 'ies'}`);
        });
      }
      const staleAcked = ackedDeliveries.filter((d) => contains(data, d.subarray(0, 48))).length;
      console.log(`privacy: ${files.map((f) => `${f.name} ${f.bytes.length} B`).join(', ')}; /metrics ${metricsText.length} B; ${logLines.length} log lines; ${entries.length} live LMDB entries`);
      console.log(`privacy: freed LMDB pages still hold: ${stale.length ? stale.join('; ') : 'no old mailbox records'}; ${staleAcked} of ${ackedDeliveries.length} acknowledged envelopes`);
      // Exact lengths as u32 anywhere in the raw file (u16 would collide by chance in 0.5 MB of ciphertext).
      const rawLengthHits = EXACT_LENGTHS.flatMap((n) => intEncodings(n).filter((f) => f.form.startsWith('u32')).flatMap((f) => findAll(data, f.bytes).map((o) => `${n} ${f.form} @${o}`)));
      assert.equal(rawLengthHits, [], 'an exact length as a u32 in data.mdb');
    } finally {
      await env.close();
    }
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    if (relay) await withTimeout(relay.close(), 15_000, 'relay close').catch(() => {});
    dir.rm();
  }

  function dkOf(m: Mbox): ReturnType<typeof deriveDeliveryKey> {
    const k = current(m);
    const relayKey = conns[0]!.relayDeliveryKey as X25519PublicKey;
    return deriveDeliveryKey(k.deliverySecret, relayKey, relayKey, k.deliveryKey);
  }
});

test.run();
