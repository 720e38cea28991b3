// Restarts in the middle of a link leave no half-linked device (spec/devices.md §3.5): the
// existing device restarted between the code and the confirmation, and the new device closed
// between showing its code and the bundle. Nothing is certified, the new profile holds no
// account, and the link mailboxes are gone at the relay (its store, read from a backup).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { open as openLmdb } from 'lmdb';
import { Client, type ClientOptions, type DeviceNotice } from '../../src/client/index.js';
import { codeKeys, parseSessionCode } from '../../src/client/link-exchange.js';
import { mailboxKeysFrom } from '../../src/client/mailbox.js';
import { startRelay, type RunningRelay, type Store } from '../../src/relay/index.js';
import type { X25519SecretKey } from '../../src/crypto/index.js';
import { cleanup, openClient, tempDir, until } from './_helpers.js';
import { ctxOf, linkDevice, linkOptions, linkState, Probe, rejects, sleep, startJoin } from './_link.js';

let relay: RunningRelay;
const open: Client[] = [];
const track = <T extends Client>(c: T): T => { open.push(c); return c; };
const realNow = Date.now;

/** While set, the relay holds every envelope for the mailbox with this sendId (hex) until `release`. */
let hold: { sendId: string; reached: () => void; release: Promise<void> } | null = null;
const sendIdOfIid = new Map<number, string>();

/** The relay's store, with `hold` applied to enqueues. */
function holding(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'createMailbox') {
        return (r: Parameters<Store['createMailbox']>[0], day: number) => { sendIdOfIid.set(r.iid, hex(r.sendId)); return target.createMailbox(r, day); };
      }
      if (prop === 'enqueue') {
        return async (iid: number, e: Parameters<Store['enqueue']>[1], c: number | null) => {
          const h = hold;
          if (h && sendIdOfIid.get(iid) === h.sendId) { h.reached(); await h.release; }
          return target.enqueue(iid, e, c);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test.before(async () => {
  // The relay keeps the real clock even while a test moves the clients' clock on.
  relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir: tempDir('sealpost-relay-'), powDifficulty: 1, metricsPort: null, log: () => {}, now: realNow, wrapStore: holding });
});
test.after(async () => {
  Date.now = realNow;
  await Promise.all([...open, ...Probe.made].map((c) => c.close().catch(() => undefined)));
  await relay.close();
  cleanup();
});

/** Moves the clock of everything in this process but the relay `ms` on (the linking deadlines read Date.now). */
function clockAhead(ms: number): void {
  Date.now = () => realNow() + ms;
}

/** The sendIds of the mailboxes the relay holds now, hex (from a consistent backup of its store). */
async function relaySendIds(): Promise<Set<string>> {
  const dir = join(tempDir('sealpost-relay-backup-'), 'copy');
  await relay.backup(dir);
  const path = existsSync(join(dir, 'data.mdb')) ? dir : join(dir, readdirSync(dir)[0]!);
  const env = openLmdb({ path, readOnly: true, maxDbs: 12, encoding: 'binary', keyEncoding: 'binary' } as Parameters<typeof openLmdb>[0]);
  try {
    const send = env.openDB({ name: 'send', keyEncoding: 'binary', encoding: 'msgpack' });
    return new Set([...send.getKeys()].map((k) => Buffer.from(k as Uint8Array).toString('hex')));
  } finally {
    await env.close();
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The sendId of the existing device's link mailbox for `code` (spec/devices.md §3.2). */
async function codeSendId(code: string): Promise<string> {
  const ck = await codeKeys(parseSessionCode(code));
  return hex(mailboxKeysFrom(ck.mailboxSecret as X25519SecretKey, ck.mailboxKey, ck.accessKey).sendId);
}

/** The sendIds of a client's link mailboxes. */
const linkSendIds = (c: Client): string[] => [...ctxOf(c).mailboxes.values()].filter((m) => m.role === 'link').map((m) => hex(m.keys.sendId));

const reopen = (c: Client, extra: Partial<ClientOptions> = {}): Promise<Client> => openClient(relay.address, { dataDir: ctxOf(c).opts.dataDir, ...extra });

test('the existing device restarts after the code was typed and before the confirmation: nothing is linked', async () => {
  let existing = track(await openClient(relay.address));
  const dataDir = ctxOf(existing).opts.dataDir;
  const listBefore = JSON.stringify(existing.devices.list());
  const attempt = await existing.devices.link();
  const oMailbox = await codeSendId(attempt.code);
  const join = await startJoin(relay.address, attempt.code);
  const { confirmationCode, client } = await join.joined; // the exchange ran: N shows its code
  const nMailboxes = linkSendIds(join.device);
  assert.is(nMailboxes.length, 1, 'the new device has its link mailbox');
  let ids = await relaySendIds();
  assert.ok(ids.has(oMailbox) && ids.has(nMailboxes[0]!), 'both link mailboxes are at the relay (positive control)');

  // The existing device restarts. The attempt lived in memory only.
  await existing.close();
  existing = track(await openClient(relay.address, { dataDir }));
  assert.is(JSON.stringify(existing.devices.list()), listBefore, 'its list is unchanged');
  await until(() => linkState(existing).mailboxes === 0, 10_000, 'the stored link mailbox is deleted on open');
  ids = await relaySendIds();
  assert.not.ok(ids.has(oMailbox), 'the link mailbox is gone at the relay');
  // The old attempt is gone: the code is dead, and confirming on the old object is refused.
  await rejects(Client.link(linkOptions(relay.address, attempt.code)), 'LINK_EXPIRED', 'the code after the restart');
  await rejects(attempt.confirm(confirmationCode), 'CLOSED', 'the attempt of the closed client');

  // The new device waits for a bundle that never comes; at its deadline (the code's 120 s and
  // 60 s for the bundle, §3.5) Client.link fails, and it deletes its own link mailbox.
  await sleep(300);
  assert.is(ctxOf(join.device).account, null, 'the new device holds no account');
  clockAhead(181_000);
  await rejects(client, 'LINK_FAILED', 'the new device at its deadline');
  Date.now = realNow;
  assert.not.ok((await relaySendIds()).has(nMailboxes[0]!), 'the new device\'s link mailbox is gone at the relay');
  assert.is(JSON.stringify(existing.devices.list()), listBefore);

  // Its profile has a device identity and no account: it can be linked again (§3.5), to a new attempt.
  const again = track(await linkDevice(existing, relay.address, { dataDir: join.opts.dataDir }));
  assert.is(again.identityKey, join.device.identityKey, 'the same device identity, linked now');
  assert.is(existing.devices.list().length, 2);
  assert.is(again.devices.list().length, 2);
});

test('the new device closes after showing its code and before the bundle: confirm fails, nothing is linked', async () => {
  const existing = track(await openClient(relay.address));
  const listBefore = JSON.stringify(existing.devices.list());
  const attempt = await existing.devices.link();
  const oMailbox = await codeSendId(attempt.code);
  const join = await startJoin(relay.address, attempt.code);
  const { confirmationCode, client } = await join.joined;
  const nMailbox = linkSendIds(join.device)[0]!;
  await join.device.close();
  await rejects(client, 'LINK_FAILED', 'the closed new device');

  // The person types the right code on the existing device: it certifies nothing that takes
  // effect, and after its wait for the new device (§3.5: 120 s) the confirm fails.
  const confirming = attempt.confirm(confirmationCode);
  confirming.catch(() => undefined);
  await sleep(1_500);
  assert.is(JSON.stringify(existing.devices.list()), listBefore, 'not in the list while it waits');
  clockAhead(121_000);
  await rejects(confirming, 'LINK_FAILED', 'confirm after the new device went away');
  Date.now = realNow;
  assert.is(JSON.stringify(existing.devices.list()), listBefore, 'the existing device\'s list is unchanged');
  assert.equal(linkState(existing), { mailboxes: 0, handlers: 0 });
  assert.not.ok((await relaySendIds()).has(oMailbox), 'the existing device\'s link mailbox is gone at the relay');

  // The new device's profile, opened again, deletes its link mailbox at the relay and is an
  // account of its own: one device, not the existing one's.
  const reopened = track(await reopen(join.device));
  await until(() => linkState(reopened).mailboxes === 0, 10_000, 'the stored link mailbox is deleted on open');
  assert.not.ok((await relaySendIds()).has(nMailbox), 'the new device\'s link mailbox is gone at the relay');
  assert.is(reopened.devices.list().length, 1);
  assert.is(reopened.devices.list()[0]!.id, reopened.identityKey);
  assert.not.ok(existing.devices.list().some((d) => d.id === reopened.identityKey));
});

test('the existing device restarts after sending the bundle: its stored invitation completes the link, with a notice', async () => {
  let existing = track(await openClient(relay.address));
  const dataDir = ctxOf(existing).opts.dataDir;
  const attempt = await existing.devices.link();
  const join = await startJoin(relay.address, attempt.code);
  const { confirmationCode, client } = await join.joined;
  // The relay holds the bundle for the new device until the existing device has gone.
  let reached!: () => void, release!: () => void;
  const atRelay = new Promise<void>((r) => { reached = r; });
  hold = { sendId: linkSendIds(join.device)[0]!, reached, release: new Promise<void>((r) => { release = r; }) };
  const confirming = attempt.confirm(confirmationCode);
  confirming.catch(() => undefined);
  await atRelay;
  await existing.close();
  hold = null;
  release();
  const e = await confirming.then(() => null, (x: unknown) => x as { code: string });
  assert.ok(e, 'the closed device\'s confirm does not resolve');
  assert.is(ctxOf(existing).account!.list.devices.length, 1, 'nothing was taken before the restart');

  // Reopened, the existing device answers the new device's hello on the stored invitation.
  existing = track(await openClient(relay.address, { dataDir }));
  const notices: DeviceNotice[] = [];
  existing.on('devices', (n) => notices.push(n));
  const linked = track(await client);
  assert.is(linked.identityKey, join.device.identityKey);
  await until(() => existing.devices.list().length === 2, 20_000, 'the existing device takes the new list');
  assert.equal(existing.devices.list().map((d) => d.id).sort(), linked.devices.list().map((d) => d.id).sort(), 'both hold the same list');
  await until(() => notices.some((n) => n.contactId === null && n.added.includes(linked.identityKey)), 10_000, 'a devices notice on the existing device');
  assert.equal(linkState(existing), { mailboxes: 0, handlers: 0 });
  assert.equal(linkState(linked), { mailboxes: 0, handlers: 0 });
});

// A finished link leaves no timer behind: a process that closed every client can exit.
test('closing the clients after a link leaves no timer running', async () => {
  const count = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = count();
  const existing = await openClient(relay.address);
  const linked = await linkDevice(existing, relay.address);
  await Promise.all([existing.close(), linked.close()]);
  await sleep(500);
  assert.ok(count() <= before, `timers left holding the process after every client closed: ${count()} > ${before}`);
});

test.run();
