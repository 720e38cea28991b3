// The February 2025 attack on Signal, replayed against Sealpost's linking (spec/devices.md
// §3.1, §3.3, §3.6, §6): an attacker's device-linking code sent to a victim as a contact
// invitation, dressed as a group invitation, and as a plain message is refused or stays text;
// linking refuses what is not a session code and has one entry point; an attacker who has not
// seen the victim's code cannot reach the attempt; a wrong confirmation code ends it after
// three tries; expired and used codes are refused; one exchange per attempt; the device cap.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Client, type Contact } from '../../src/client/index.js';
import { Groups } from '../../src/client/groups-api.js';
import { LINK_CODE_TTL_MS, newSessionCode } from '../../src/client/link-exchange.js';
import { cleanup, connect, nextEvent, openClient, startRelay, TEST_KDF, tempDir, until, withTimeout } from './_helpers.js';
import { ctxOf, linkDevice, linkOptions, linkState, otherCode, PASS, Probe, rejects, sleep, startJoin } from './_link.js';

type TestRelay = Awaited<ReturnType<typeof startRelay>>;
let relay: TestRelay;
const open: Client[] = [];
const track = <T extends Client>(c: T): T => { open.push(c); return c; };

test.before(async () => { relay = await startRelay(); });
test.after(async () => {
  await Promise.all([...open, ...Probe.made].map((c) => c.close().catch(() => undefined)));
  await relay.close();
  cleanup();
});

/** Waits until the relay's counts stop moving (maintenance of freshly opened clients), and returns them. */
async function quiet(): Promise<{ mailboxes: number; envelopes: number }> {
  let last = JSON.stringify(relay.stats());
  for (let stable = 0; stable < 3;) {
    await sleep(200);
    const now = JSON.stringify(relay.stats());
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  const { mailboxes, envelopes } = relay.stats();
  return { mailboxes, envelopes };
}

/** Every form a person could be sent the attacker's code in: URI and bare, any case, any spacing. */
function dressings(code: string): string[] {
  const bare = code.replace('-', '');
  return [
    `sealpost:link/${bare}`, `SEALPOST:LINK/${bare}`, `Sealpost:Link/${bare.toLowerCase()}`, `  sealpost:link/${bare}\n`,
    code, code.toLowerCase(), code.replace('-', ' '), bare, bare.toLowerCase(), ` ${code} `,
  ];
}

test('an attacker\'s linking code sent as a contact invitation, a group invitation or a message links nothing', async () => {
  const victim = track(await openClient(relay.address));
  const attacker = track(await openClient(relay.address));
  // The attacker is also a real contact of the victim's, so that it can send it a plain message.
  const { ab: attackerSeenByVictim } = await connect(victim, attacker);
  const attempt = await attacker.devices.link();
  assert.match(attempt.code, /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/, 'the session code is XXXXX-XXXXX');
  const victimDevices = JSON.stringify(victim.devices.list());
  const victimContacts = JSON.stringify(victim.contacts());
  const before = await quiet();
  const victimMailboxes = victim._internals().mailboxCount();
  const victimCommits = victim._internals().storeCommits();

  // 1. As a contact invitation: refused before anything is made, with a message saying what it is.
  for (const text of dressings(attempt.code)) {
    const e = await rejects(victim.acceptInvitation(text), 'LINK_CODE_NOT_INVITATION', JSON.stringify(text));
    assert.match(e.message, /device-linking code/, 'the message says it is a device-linking code');
    assert.match(e.message, /add a device to an account/, 'and what it would do');
    assert.match(e.message, /never enter a code someone sent/i, 'and that a code someone sent must never be entered');
  }
  // Wrapped in a lure, it is not an invitation either: refused, and nothing made.
  for (const text of [`Join our group: sealpost:link/${attempt.code.replace('-', '')}`, `sealpost:invite/${attempt.code.replace('-', '')}`]) {
    const e = await victim.acceptInvitation(text).then(() => null, (x: unknown) => x as { code: string });
    assert.ok(e && ['LINK_CODE_NOT_INVITATION', 'BAD_INVITATION'].includes(e.code), `${text}: ${String(e?.code)}`);
  }
  assert.is(victim._internals().storeCommits(), victimCommits, 'nothing was stored');
  assert.is(victim._internals().mailboxCount(), victimMailboxes, 'no mailbox was made');
  assert.equal(await quiet(), before, 'the relay saw no new mailbox and no envelope');
  assert.is(JSON.stringify(victim.contacts()), victimContacts, 'contacts unchanged');

  // 2. As a group invitation: groups have no invitation link (spec/groups.md §12). The group API's
  //    entry points are these, and none joins anything; given the code where a group or contact
  //    id goes, each refuses it.
  const entryPoints = Object.getOwnPropertyNames(Groups.prototype).filter((n) => n !== 'constructor').sort();
  assert.equal(entryPoints, ['add', 'create', 'history', 'leave', 'list', 'markReviewed', 'members', 'messages', 'prepare', 'remove', 'send', 'setPolicy', 'updateKeys'],
    'the group API (a new entry point must be checked here: none may take a code or a link)');
  for (const text of [`sealpost:link/${attempt.code.replace('-', '')}`, attempt.code]) {
    await rejects(victim.groups.add(text, [attackerSeenByVictim.id]), 'UNKNOWN_GROUP', 'groups.add(code)');
    await rejects(victim.groups.send(text, 'hi'), 'UNKNOWN_GROUP', 'groups.send(code)');
    await rejects(victim.groups.leave(text), 'UNKNOWN_GROUP', 'groups.leave(code)');
    await rejects(victim.groups.updateKeys(text), 'UNKNOWN_GROUP', 'groups.updateKeys(code)');
    await rejects(victim.groups.markReviewed(text), 'UNKNOWN_GROUP', 'groups.markReviewed(code)');
    await rejects(async () => victim.groups.members(text), 'UNKNOWN_GROUP', 'groups.members(code)');
    await rejects(victim.groups.create('Team invitation', [text]), 'UNKNOWN_CONTACT', 'groups.create(name, [code])');
  }
  assert.is(victim.groups.list().length, 0, 'the victim is in no group');
  assert.is(victim._internals().storeCommits(), victimCommits, 'nothing was stored');

  // 3. As a plain message from a real contact: it arrives as text, and nothing links.
  const victimSide = attacker.contacts()[0]!;
  const uri = `sealpost:link/${attempt.code.replace('-', '')}`;
  for (const text of [uri, `Join our group: ${uri}`, `Security alert! Verify your device: ${attempt.code}`]) {
    const got = nextEvent<{ text: string }>(victim, 'message', 10_000, (m) => m.text === text);
    await attacker.send(victimSide.id, text);
    assert.is((await got).text, text, 'it arrives as the text it was');
  }
  await sleep(300);
  assert.equal(linkState(victim), { mailboxes: 0, handlers: 0 }, 'no link mailbox, no attempt on the victim');
  assert.is(JSON.stringify(victim.devices.list()), victimDevices, 'the victim\'s device list is unchanged');
  assert.is(victim.devices.list().length, 1);
  assert.is(attacker.devices.list().length, 1, 'the attacker gained no device');

  // Across all three, nothing reached the attacker's attempt: no new device ever answered its code.
  const e = await rejects(attempt.confirm('1234 5678'), 'LINK_CODE_WRONG', 'the attacker confirms');
  assert.match(e.message, /no new device has answered/);
  await attempt.cancel();
});

test('Client.link takes only a session code; Client.open takes no code', async () => {
  const inviter = track(await openClient(relay.address));
  const invitation = await inviter.createInvitation();
  const notCodes: Array<[string, RegExp]> = [
    [invitation, /contact invitation/],
    [invitation.replace('sealpost:invite/', 'SEALPOST:INVITE/'), /not a device-linking code/],
    ['Join our group: sealpost:link/ABCDEFGHJK', /not a device-linking code/],
    ['sealpost:group/ABCDEFGHJK', /not a device-linking code/],
    ['ABCDE-FGHJU', /alphabet/], // U is not Crockford base32
    ['ABCDE-FGHJ', /not a device-linking code/],
    ['ABCDE--FGHJK', /not a device-linking code/],
    ['', /not a device-linking code/],
  ];
  for (const [text, message] of notCodes) {
    const dataDir = join(tempDir(), 'never-made');
    const e = await rejects(Client.link({ dataDir, relay: relay.address, passphrase: PASS, kdf: TEST_KDF, code: text }), 'BAD_LINK_CODE', JSON.stringify(text.slice(0, 40)));
    assert.match(e.message, message);
    assert.not.ok(existsSync(dataDir), 'refused before the profile was touched');
  }
  await rejects(Client.link({ dataDir: tempDir(), relay: relay.address, passphrase: PASS, kdf: TEST_KDF, code: 42 as unknown as string }), 'BAD_LINK_CODE', 'a number');

  // One entry point: Client.open refuses a code, before touching its directory.
  const dataDir = join(tempDir(), 'never-made');
  const code = (await inviter.devices.link()).code;
  const e = await rejects(Client.open({ dataDir, relay: relay.address, passphrase: PASS, kdf: TEST_KDF, code } as Parameters<typeof Client.open>[0]), 'INVALID_ARGUMENT', 'Client.open with a code');
  assert.match(e.message, /Client\.link/);
  assert.not.ok(existsSync(dataDir));

  // A profile that already has an account is not linked over.
  const existing = tempDir();
  await (await openClient(relay.address, { dataDir: existing })).close();
  await rejects(Client.link(linkOptions(relay.address, code, { dataDir: existing })), 'INVALID_ARGUMENT', 'linking a profile with an account');
});

test('without the victim\'s session code an attacker cannot reach the attempt; one exchange per attempt; a used code is refused', async () => {
  const victim = track(await openClient(relay.address));
  const attempt = await victim.devices.link();
  const canonical = attempt.code.replace('-', '');

  // Guesses: random codes, and the real code with one symbol changed. Each is an ERR AUTH at the
  // relay (LINK_EXPIRED), and the new profile it was typed on is left without an account.
  const flip = (i: number): string => {
    const c = canonical[i] === 'A' ? 'B' : 'A';
    return canonical.slice(0, i) + c + canonical.slice(i + 1);
  };
  const guesses = [newSessionCode(), newSessionCode(), flip(0), flip(9)];
  for (const guess of guesses) {
    const e = await rejects(Client.link(linkOptions(relay.address, guess)), 'LINK_EXPIRED', `guess ${guess}`);
    assert.match(e.message, /no linking attempt has this code/);
  }

  // Two new devices type the right code at once: the attempt answers one of them only.
  const first = await startJoin(relay.address, `sealpost:link/${canonical.toLowerCase()}`);
  const second = await startJoin(relay.address, attempt.code.replace('-', ' '));
  const winner = await Promise.race([first.joined.then(() => first), second.joined.then(() => second)]);
  const loser = winner === first ? second : first;
  let loserAnswered = false;
  void loser.joined.then(() => { loserAnswered = true; }, () => undefined);
  await sleep(1_500);
  assert.not.ok(loserAnswered, 'the second device got no offer: one exchange per attempt');
  const { confirmationCode, client } = await winner.joined;
  assert.match(confirmationCode, /^\d{4} \d{4}$/);

  // The guesses cost no try and took no slot: the right device links.
  const [device, linked] = await Promise.all([attempt.confirm(confirmationCode), client]);
  track(linked);
  assert.is(victim.devices.list().length, 2);
  assert.equal(victim.devices.list().map((d) => d.id).sort(), linked.devices.list().map((d) => d.id).sort());
  assert.ok(victim.devices.list().some((d) => d.id === device.id));
  const loserId = loser.device.identityKey;
  assert.not.ok(victim.devices.list().some((d) => d.id === loserId), 'the second device is not in the list');
  assert.not.ok(loserAnswered);
  assert.is(ctxOf(loser.device).account, null, 'the second device has no account');
  await loser.device.close();
  await rejects(loser.joined, 'LINK_FAILED', 'the second device, closed while waiting');

  // The code was used: a third profile typing it is refused, and the list stays as it was.
  await rejects(Client.link(linkOptions(relay.address, attempt.code)), 'LINK_EXPIRED', 'the used code');
  await rejects(attempt.confirm(confirmationCode), 'LINK_EXPIRED', 'confirming a finished attempt again');
  assert.is(victim.devices.list().length, 2);
  assert.equal(linkState(victim), { mailboxes: 0, handlers: 0 }, 'the attempt\'s mailbox is gone');
});

test('a wrong confirmation code: LINK_CODE_WRONG twice, then LINK_FAILED, and nothing is linked', async () => {
  const existing = track(await openClient(relay.address));
  const listBefore = JSON.stringify(existing.devices.list());
  const attempt = await existing.devices.link();
  const join = await startJoin(relay.address, attempt.code);
  const { confirmationCode, client } = await join.joined;
  let resolved = false;
  void client.then(() => { resolved = true; }, () => undefined);

  const e1 = await rejects(attempt.confirm(otherCode(confirmationCode, 1)), 'LINK_CODE_WRONG', 'first wrong code');
  assert.match(e1.message, /2 tries left/);
  const e2 = await rejects(attempt.confirm(otherCode(confirmationCode, 2)), 'LINK_CODE_WRONG', 'second wrong code');
  assert.match(e2.message, /1 tries left/);
  const e3 = await rejects(attempt.confirm(otherCode(confirmationCode, 3)), 'LINK_FAILED', 'third wrong code');
  assert.match(e3.message, /nothing was linked/);
  // The right code after that is refused: the attempt is over.
  await rejects(attempt.confirm(confirmationCode), 'LINK_FAILED', 'the right code after the third wrong one');

  assert.is(JSON.stringify(existing.devices.list()), listBefore, 'the existing device\'s list is unchanged');
  assert.equal(linkState(existing), { mailboxes: 0, handlers: 0 }, 'its link mailbox is gone');
  // The new device is told at once (link-end, spec/devices.md §3.3), not at its deadline.
  const told = await rejects(withTimeout(client, 10_000, 'the new device hears the attempt ended'), 'LINK_FAILED', 'the new device gives up');
  assert.match(told.message, /ended the attempt/);
  assert.not.ok(resolved, 'the new device is not linked');
  assert.is(ctxOf(join.device).account, null, 'the new device has no account');
  // The code is dead at the relay too.
  await rejects(Client.link(linkOptions(relay.address, attempt.code)), 'LINK_EXPIRED', 'the code after the attempt ended');
  await join.device.close();
  // Reopened plainly, the new device's profile is an account of its own, without the existing device.
  const alone = track(await openClient(relay.address, { dataDir: join.opts.dataDir }));
  assert.is(alone.devices.list().length, 1);
  assert.not.ok(alone.devices.list().some((d) => existing.devices.list().some((x) => x.id === d.id)));
});

test('an expired code is refused (LINK_EXPIRED) on both devices', async () => {
  // There is no option to shorten LINK_CODE_TTL_MS: the attempt's timer is a setTimeout of exactly
  // that length, so this test shortens timers of that length while the attempt starts.
  const existing = track(await openClient(relay.address));
  const realSetTimeout = globalThis.setTimeout;
  const SHORT = 1_500;
  globalThis.setTimeout = ((fn: () => void, ms?: number) => realSetTimeout(fn, ms === LINK_CODE_TTL_MS ? SHORT : ms)) as typeof setTimeout;
  let attempt;
  try {
    attempt = await existing.devices.link();
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  assert.ok(Math.abs(attempt.expiresAt - Date.now() - LINK_CODE_TTL_MS) < 5_000, 'the code is shown as valid two minutes');
  assert.is(LINK_CODE_TTL_MS, 120_000);
  await until(() => linkState(existing).mailboxes === 0, 10_000, 'the expired attempt deletes its mailbox');
  const e = await rejects(Client.link(linkOptions(relay.address, attempt.code)), 'LINK_EXPIRED', 'the expired code on a new device');
  assert.match(e.message, /expired/);
  await rejects(attempt.confirm('1234 5678'), 'LINK_EXPIRED', 'confirm on the expired attempt');
  assert.is(existing.devices.list().length, 1);
});

test('the device cap: DEVICE_LIMIT before anything is made', async () => {
  const solo = track(await openClient(relay.address, { maxDevices: 1 }));
  const before = await quiet();
  const e = await rejects(solo.devices.link(), 'DEVICE_LIMIT', 'maxDevices 1');
  assert.match(e.message, /1 devices/);
  assert.equal(linkState(solo), { mailboxes: 0, handlers: 0 });
  assert.equal(await quiet(), before, 'no link mailbox at the relay');
  await rejects(track(await openClient(relay.address, { maxDevices: 17 })).devices.link(), 'INVALID_ARGUMENT', 'maxDevices 17');

  // Two allowed: one link, then the cap.
  const pair = track(await openClient(relay.address, { maxDevices: 2 }));
  track(await linkDevice(pair, relay.address));
  assert.is(pair.devices.list().length, 2);
  await rejects(pair.devices.link(), 'DEVICE_LIMIT', 'maxDevices 2 with two devices');
});

test.run();
