// `sealpost chat --profile NAME [--relay ADDRESS] [--data DIR] [--link CODE]` (spec/client.md §13): an
// interactive terminal client for a person. Profiles live in ~/.sealpost/<profile> unless
// --data says otherwise. The passphrase comes from SEALPOST_PASSPHRASE (scripting), a hidden
// prompt on a terminal, or the first line of standard input.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { Client, isClientError, type Contact, type GroupView, type LinkAttempt, type Message } from '../client/index.js';
import { qrText } from '../web/qr.js';
import { parseDuration } from './options.js';

const HELP = `commands:
  /invite [name]            make a one-time invitation link (name = your label for whoever accepts it)
  /accept <link> [name]     accept an invitation; then compare the safety code with your contact
  /contacts                 list contacts, their safety codes and whether you verified them
  /verify <contact> <code>  mark a contact verified after comparing codes (throws if they differ)
  /to <contact>             talk to this contact: plain lines are then sent to it
  /history [contact]        show stored messages
  /rename <contact> <name>  change your own label for a contact
  /rotate [contact]         move this contact to a new mailbox of yours
  /timer [DURATION|off]     messages in this conversation (or group, with /in) disappear after
                            DURATION (90s, 15m, 12h, 7d) for both sides; without one, show it
  /groups                   list your groups (review reminders show here)
  /group create <name> <contact>...    a group of verified contacts; you are its admin
  /group add <group> <contact>...      add verified contacts (admins)
  /group remove <group> <member>...    remove members (admins)
  /group leave <group>                 leave (an admin's client commits it)
  /group members <group>               who is in it, verified or not, admin or not
  /group changes <group>               the signed history: who added or removed whom, when
  /group review <group>                mark the membership reviewed
  /group policy <group> key=value...   name=, disappearing=SECONDS, review=DAYS, admins=contact,contact (admins)
  /group update <group>                replace your group keys now
  /in <group>               talk in a group: plain lines are then sent to it
  /devices                  the devices of your account (as its signed list says)
  /devices link             link a new device: shows a code to type on the new device
  /devices confirm <code>   then type here the code the new device shows
  /devices revoke <id>      remove a device (any device can remove any other)
  /stats                    counters (dropped envelopes, outbox)
  /quit                     leave
/invite prints the link and its QR code: share either, out of band.`;

/** A timer as the user reads it; with the one this client applies when the organisation's minimum raises it. */
function describeTimer(seconds: number, applied: number): string {
  const say = (s: number): string => (s === 0 ? 'are kept' : `disappear after ${s} s`);
  return seconds === applied ? say(seconds) : `${say(seconds)} (here: ${applied === 0 ? 'kept' : `after ${applied} s`}, the organisation's minimum)`;
}

const USAGE = 'usage: sealpost chat --profile NAME [--relay ADDRESS] [--data DIR] [--link CODE]';

interface ChatArgs { profile: string; relay?: string; data?: string; link?: string }

function parseArgs(args: string[]): ChatArgs | string {
  const out: Partial<ChatArgs> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => inline ?? args[++i] ?? '';
    if (flag === '--profile') out.profile = value();
    else if (flag === '--relay') out.relay = value();
    else if (flag === '--data') out.data = value();
    else if (flag === '--link') out.link = value();
    else if (flag === '--help' || flag === '-h') return 'help';
    else return `unknown option ${a}`;
  }
  if (!out.profile || !/^[A-Za-z0-9._-]{1,64}$/.test(out.profile)) return 'a --profile NAME (letters, digits, . _ -) is required';
  return out as ChatArgs;
}

/** Reads a passphrase without echo from a terminal. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stdout.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let s = '';
    const onData = (d: Buffer): void => {
      const chars = [...d.toString('utf8')];
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i]!;
        if (ch === '\r' || ch === '\n') {
          done();
          const rest = chars.slice(ch === '\r' && chars[i + 1] === '\n' ? i + 2 : i + 1).join('');
          if (rest) stdin.unshift(Buffer.from(rest)); // typed ahead: leave it for the next reader
          resolve(s);
          return;
        }
        if (ch === '\u0003') { done(); reject(new Error('cancelled')); return; }
        if (ch === '\u007f' || ch === '\b') s = s.slice(0, -1);
        else s += ch;
      }
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stdout.write('\n');
    };
    stdin.on('data', onData);
  });
}

class LineSource {
  private readonly queue: string[] = [];
  private waiter: ((l: string | null) => void) | null = null;
  private ended = false;
  constructor(readonly rl: Interface) {
    rl.on('line', (l) => { if (this.waiter) { const w = this.waiter; this.waiter = null; w(l); } else this.queue.push(l); });
    rl.on('close', () => { this.ended = true; this.waiter?.(null); this.waiter = null; });
  }
  next(): Promise<string | null> {
    const l = this.queue.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.resolve(null);
    return new Promise((r) => { this.waiter = r; });
  }
}

export async function chatCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') { console.log(`${USAGE}\n\n${HELP}`); return 0; }
  if (typeof args === 'string') { console.error(`${args}\n${USAGE}`); return 2; }
  const dataDir = args.data ?? join(homedir(), '.sealpost', args.profile);
  const isNew = !existsSync(join(dataDir, 'store'));
  if (isNew && !args.relay) { console.error('a new profile needs --relay ADDRESS (sealpost+ws://FINGERPRINT@HOST:PORT)'); return 2; }
  if (args.link && !isNew) { console.error('--link makes a new device: use a new --profile (or --data) for it'); return 2; }

  const interactive = process.stdin.isTTY === true;
  let passphrase = process.env['SEALPOST_PASSPHRASE'];
  if (!passphrase && interactive) {
    // Before readline exists, so that it does not see the keys typed.
    try {
      passphrase = await promptHidden(isNew ? 'choose a passphrase for this new profile: ' : 'passphrase: ');
      if (isNew && (await promptHidden('again: ')) !== passphrase) { console.error('the two passphrases differ'); return 2; }
    } catch {
      return 130;
    }
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
  const lines = new LineSource(rl);
  if (!passphrase) passphrase = (await lines.next()) ?? '';

  let client: Client;
  try {
    const opts = { dataDir, passphrase, ...(args.relay ? { relay: args.relay } : {}) };
    if (args.link) {
      // The new device's side of a link (spec/devices.md §3.3): the code came from the person's own existing device.
      const joined = await Client.link({ ...opts, code: args.link });
      console.log(`type this confirmation code on your existing device (/devices confirm …): ${joined.confirmationCode}`);
      client = await joined.client;
      console.log('this device is now linked to your account');
    } else {
      client = await Client.open(opts);
    }
  } catch (e) {
    console.error(isClientError(e, 'WRONG_PASSPHRASE') ? 'wrong passphrase' : `cannot open the profile: ${(e as Error).message}`);
    rl.close();
    return 1;
  }

  let target: Contact | null = null;
  let groupTarget: GroupView | null = null;
  let linking: LinkAttempt | null = null;
  const print = (text: string): void => {
    if (interactive) { process.stdout.write('\r\x1b[K'); console.log(text); rl.prompt(true); } else console.log(text);
  };
  const label = (id: string): string => client.contact(id)?.name ?? id;
  client.on('message', (m: Message) => print(`[${label(m.contactId)}${m.verified ? '' : ' (unverified)'}] ${m.text}`));
  // A person has few contacts: each gets our KeyPackage at once, so that they can add us to a
  // group now rather than after the next maintenance round (spec/groups.md §12.1).
  const prepareGroups = (): void => { void client.groups.prepare().catch(() => undefined); };
  client.on('contact', (c: Contact) => {
    prepareGroups();
    if (c.verified) return;
    print(`[contact] ${c.name} is connected. Safety code: ${c.safetyCode}\n          compare it with them, then: /verify ${c.name} <the code they read>`);
  });
  client.on('sent', (m) => print(`[you, from another device -> ${label(m.contactId)}] ${m.text}`));
  client.on('devices', (n) => {
    const whose = n.contactId === null ? 'your account' : `${label(n.contactId)}'s account`;
    const parts = [...(n.added.length ? [`gained ${n.added.length} device(s): ${n.added.map(short).join(', ')}`] : []), ...(n.removed.length ? [`lost ${n.removed.length}: ${n.removed.map(short).join(', ')}`] : [])];
    print(`[devices] ${n.reminder ? 'reminder: ' : ''}${whose} ${parts.join('; ')}${n.contactId === null && n.added.length ? '\n          not yours? remove it now: /devices revoke <id>' : ''}`);
  });
  client.on('revoked', () => print('[devices] this device was removed from your account by another device: its data is wiped; /quit'));
  client.on('timer', (t) => {
    if (t.by !== 'me') print(`[timer ${label(t.contactId)}] ${t.by === 'contact' ? 'they' : 'you, on another device,'} set it: messages ${describeTimer(t.seconds, t.appliedSeconds)}`);
  });
  client.on('receipt', (r) => print(`[receipt] ${label(r.contactId)} received ${r.ids.length} message(s)`));
  client.on('connection', ({ online }) => print(online ? '[relay] connected' : '[relay] connection lost, reconnecting…'));
  client.on('groupMessage', (m) => print(`[${groupName(m.groupId)}] ${m.sender.name ?? m.sender.identityKey.slice(0, 8)}${m.sender.verified ? '' : ' (unverified)'}: ${m.text}`));
  client.on('groupChange', (c) => print(`[${groupName(c.groupId)}] ${describeChange(c)}`));
  client.on('groupReviewDue', (g) => print(`[${g.name}] please review who is in this group (/group members ${g.name}), then /group review ${g.name}`));
  client.on('groupRefused', (r) => print(`[${r.groupId ? groupName(r.groupId) : 'group'}] a change was refused (${r.reason}): it was not allowed or not signed by a member`));
  const short = (deviceId: string): string => deviceId.slice(0, 10);
  const groupName = (id: string): string => client.groups.list().find((g) => g.id === id)?.name ?? id.slice(0, 8);
  const who = (m: { name: string | null; identityKey: string; me: boolean }): string => (m.me ? 'you' : m.name ?? `${m.identityKey.slice(0, 8)}… (not a contact)`);
  const describeChange = (c: import('../client/index.js').GroupChange): string => {
    const parts: string[] = [];
    if (c.added.length) parts.push(`added ${c.added.map(who).join(', ')}`);
    if (c.removed.length) parts.push(`removed ${c.removed.map(who).join(', ')}`);
    if (c.changes.length) parts.push('changed the group settings');
    if (parts.length === 0) parts.push('updated their keys');
    return `epoch ${c.epoch}: ${who(c.by)} ${parts.join('; ')}`;
  };
  const findGroup = (ref: string | undefined): GroupView => {
    const all = client.groups.list();
    const g = ref ? all.find((x) => x.id === ref || x.name.toLowerCase() === ref.toLowerCase()) : groupTarget ?? undefined;
    if (!g) throw new Error(ref ? `no group "${ref}" (see /groups)` : 'name a group');
    return g;
  };

  const n = client.contacts().length;
  console.log(`profile ${args.profile} (${dataDir}), relay ${client.relay}, ${n} contact${n === 1 ? '' : 's'}. Type /help for commands.`);
  rl.setPrompt('> ');
  if (interactive) rl.prompt();

  const find = (ref: string | undefined): Contact => {
    const c = ref ? client.contact(ref) : target ?? undefined;
    if (!c) throw new Error(ref ? `no contact "${ref}" (see /contacts)` : 'name a contact, or choose one with /to');
    return c;
  };

  const devicesCommand = async (rest: string[]): Promise<void> => {
    const [sub = '', arg] = rest;
    if (sub === '') {
      print(client.devices.list().map((d) => `${short(d.id)}  added ${new Date(d.addedAt).toISOString().slice(0, 16).replace('T', ' ')}${d.current ? '  (this device)' : ''}`).join('\n'));
    } else if (sub === 'link') {
      linking = await client.devices.link();
      print(`on the NEW device, run: sealpost chat --profile NEW --relay ${linking.relay} --link ${linking.code}\n`
        + `session code ${linking.code}, valid two minutes. Then type here the code the new device shows: /devices confirm <code>\n`
        + 'never type a code someone sent you, and never read this code to anyone.');
    } else if (sub === 'confirm') {
      if (!linking) throw new Error('no link in progress: /devices link first');
      const code = rest.slice(1).join(' ');
      if (!code) throw new Error('usage: /devices confirm <code>');
      const attempt = linking;
      print('checking the code…');
      try {
        const d = await attempt.confirm(code);
        linking = null;
        print(`device ${short(d.id)} is linked to your account; your contacts will see it`);
      } catch (e) {
        if (!isClientError(e, 'LINK_CODE_WRONG')) linking = null;
        throw e;
      }
    } else if (sub === 'revoke') {
      const d = client.devices.list().find((x) => arg && x.id.startsWith(arg));
      if (!d) throw new Error('usage: /devices revoke <id> (see /devices)');
      await client.devices.revoke(d.id);
      print(`device ${short(d.id)} was removed; your contacts stop writing to it`);
    } else {
      throw new Error('usage: /devices [link | confirm <code> | revoke <id>]');
    }
  };

  const groupCommand = async (rest: string[]): Promise<void> => {
    const [sub = '', ref, ...more] = rest;
    const contactIds = (names: string[]): string[] => names.map((n) => find(n).id);
    if (sub === 'create') {
      if (!ref) throw new Error('usage: /group create <name> <contact>...');
      const g = await client.groups.create(ref, contactIds(more));
      groupTarget = g;
      target = null;
      print(`group ${g.name} created with ${g.memberCount} members; plain lines now go to it`);
    } else if (sub === 'add') {
      const g = await client.groups.add(findGroup(ref).id, contactIds(more));
      print(`${g.name}: ${g.memberCount} members`);
    } else if (sub === 'remove') {
      const g = findGroup(ref);
      const members = client.groups.members(g.id);
      const ids = more.map((n) => members.find((m) => (m.name ?? '').toLowerCase() === n.toLowerCase() || m.identityKey.startsWith(n))?.identityKey ?? n);
      const after = await client.groups.remove(g.id, ids);
      print(`${after.name}: ${after.memberCount} members`);
    } else if (sub === 'leave') {
      await client.groups.leave(findGroup(ref).id);
      print('you asked to leave; an admin\'s client will remove you');
    } else if (sub === 'members') {
      const g = findGroup(ref);
      print(client.groups.members(g.id).map((m) => `${who(m).padEnd(24)} ${m.me ? '' : m.verified ? 'verified' : 'NOT verified'}${m.admin ? '  admin' : ''}`).join('\n'));
    } else if (sub === 'changes') {
      const g = findGroup(ref);
      print(client.groups.history(g.id).map((c) => `${new Date(c.at).toISOString().slice(0, 16).replace('T', ' ')} ${describeChange(c)}${c.signatureValid ? '' : '  SIGNATURE INVALID'}`).join('\n') || '(no changes since you joined)');
    } else if (sub === 'review') {
      const g = await client.groups.markReviewed(findGroup(ref).id);
      print(`${g.name}: membership marked reviewed`);
    } else if (sub === 'policy') {
      const g = findGroup(ref);
      const update: { name?: string; disappearingSeconds?: number; reviewIntervalDays?: number; admins?: string[] } = {};
      for (const kv of more) {
        const [k, v = ''] = kv.split('=');
        if (k === 'name') update.name = v;
        else if (k === 'disappearing') update.disappearingSeconds = Number(v);
        else if (k === 'review') update.reviewIntervalDays = Number(v);
        else if (k === 'admins') {
          const members = client.groups.members(g.id);
          update.admins = v.split(',').map((n) => (n === 'me' ? members.find((m) => m.me)!.identityKey : members.find((m) => (m.name ?? '').toLowerCase() === n.toLowerCase())?.identityKey ?? n));
        } else throw new Error(`unknown policy key ${k}`);
      }
      const after = await client.groups.setPolicy(g.id, update);
      print(`${after.name}: settings changed`);
    } else if (sub === 'update') {
      await client.groups.updateKeys(findGroup(ref).id);
      print('your group keys were replaced');
    } else {
      throw new Error('usage: /group create|add|remove|leave|members|changes|review|policy|update …');
    }
  };

  /** `/timer`: the current conversation's (or group's) disappearing timer (spec/client.md §10.2). */
  const timerCommand = async (arg: string | undefined): Promise<void> => {
    const seconds = arg === undefined ? undefined : arg === 'off' ? 0 : parseDuration(arg);
    if (seconds === null) throw new Error('usage: /timer DURATION|off, such as /timer 90s, 15m, 12h or 7d');
    if (groupTarget) {
      const g = seconds === undefined ? client.groups.list().find((x) => x.id === groupTarget!.id)! : await client.groups.setPolicy(groupTarget.id, { disappearingSeconds: seconds });
      print(`messages in ${g.name} ${describeTimer(g.disappearingSeconds, g.appliedDisappearingSeconds)}`);
      return;
    }
    if (!target) throw new Error('choose a contact first: /to <contact>, or a group: /in <group>');
    const c = seconds === undefined ? client.contact(target.id)! : await client.setTimer(target.id, seconds);
    print(`messages with ${c.name} ${describeTimer(c.disappearingSeconds, c.appliedDisappearingSeconds)}`);
  };

  for (let line = await lines.next(); line !== null; line = await lines.next()) {
    const text = line.trim();
    if (!text) { if (interactive) rl.prompt(); continue; }
    const [cmd = '', ...rest] = text.split(/\s+/);
    try {
      if (!text.startsWith('/')) {
        if (groupTarget) {
          await client.groups.send(groupTarget.id, line);
          print(`[you -> ${groupTarget.name}] ${line}`);
          continue;
        }
        if (!target) { print('choose a contact first: /to <contact>, or a group: /in <group>'); continue; }
        await client.send(target.id, line);
        print(`[you -> ${target.name}] ${line}`);
      } else if (cmd === '/help') {
        print(HELP);
      } else if (cmd === '/quit' || cmd === '/exit') {
        break;
      } else if (cmd === '/invite') {
        const link = await client.createInvitation(rest[0] ? { name: rest.join(' ') } : {});
        print(`invitation (one-time, valid 24 h); give it to one person, out of band:\n${link}\n${qrText(link)}`);
      } else if (cmd === '/accept') {
        if (!rest[0]) throw new Error('usage: /accept <link> [name]');
        print('contacting the inviter…');
        const c = await client.acceptInvitation(rest[0], rest[1] ? { name: rest.slice(1).join(' ') } : {});
        target = c;
        prepareGroups();
        print(`[contact] ${c.name} is connected. Safety code: ${c.safetyCode}\n          compare it with them, then: /verify ${c.name} <the code they read>`);
      } else if (cmd === '/contacts') {
        const cs = client.contacts();
        print(cs.length === 0 ? 'no contacts yet: /invite or /accept'
          : cs.map((c) => `${c.name.padEnd(16)} ${c.safetyCode}  ${c.verified ? 'verified' : 'NOT verified'}${c.established ? '' : ' (pending)'}  id ${c.id}`).join('\n'));
      } else if (cmd === '/verify') {
        const c = find(rest[0]);
        const code = rest.slice(1).join(' ');
        if (!code) throw new Error('usage: /verify <contact> <code>');
        await client.verifyContact(c.id, code);
        print(`${c.name} is verified.`);
      } else if (cmd === '/groups') {
        const gs = client.groups.list();
        print(gs.length === 0 ? 'no groups yet: /group create <name> <contact>...'
          : gs.map((g) => `${g.name.padEnd(16)} ${g.memberCount} members  ${g.status}${g.admin ? '  admin' : ''}${g.reviewDue ? '  REVIEW DUE' : ''}${g.disappearingSeconds ? `  messages disappear after ${g.disappearingSeconds} s` : ''}`).join('\n'));
      } else if (cmd === '/in') {
        groupTarget = findGroup(rest[0]);
        target = null;
        print(`talking in ${groupTarget.name} (${groupTarget.memberCount} members; /group members ${groupTarget.name})`);
      } else if (cmd === '/devices') {
        await devicesCommand(rest);
      } else if (cmd === '/group') {
        await groupCommand(rest);
      } else if (cmd === '/to') {
        groupTarget = null;
        target = find(rest[0]);
        print(`talking to ${target.name}${target.verified ? '' : ' (NOT verified: compare safety codes)'}`);
      } else if (cmd === '/history') {
        const c = find(rest[0]);
        print(client.history(c.id).map((h) => `${new Date(h.sentAt).toISOString().slice(0, 16).replace('T', ' ')} ${h.direction === 'in' ? c.name : 'you'}: ${h.text}`).join('\n') || '(nothing yet)');
      } else if (cmd === '/rename') {
        const c = find(rest[0]);
        const renamed = await client.renameContact(c.id, rest.slice(1).join(' '));
        if (target?.id === c.id) target = renamed;
        print(`renamed to ${renamed.name}`);
      } else if (cmd === '/rotate') {
        const c = find(rest[0]);
        await client.rotateMailbox(c.id);
        print(`${c.name} is being moved to a new mailbox.`);
      } else if (cmd === '/timer') {
        await timerCommand(rest[0]);
      } else if (cmd === '/stats') {
        print(JSON.stringify(client.stats()));
      } else {
        print(`unknown command ${cmd}; /help lists them`);
      }
    } catch (e) {
      print(`error: ${(e as Error).message}`);
    }
    if (interactive) rl.prompt();
  }
  rl.close();
  await client.close();
  console.log('bye');
  return 0;
}
