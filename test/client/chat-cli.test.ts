// `sealpost chat` driven through standard input (spec/client.md §13): two profiles in two
// processes, /help, /invite, /accept, /contacts, /verify, /to, plain lines, /timer, /quit; groups:
// /group create, /in (by create), /groups, /group members|remove|changes|review; devices:
// /devices link on one profile, --link on a new one, /devices confirm, /devices, /devices revoke.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { repoPath } from '../_support/files.js';
import { cleanup, startRelay, tempDir, withTimeout } from './_helpers.js';

const MAIN = repoPath('.build', 'src', 'cli', 'main.js');

interface Chat { child: ChildProcessWithoutNullStreams; out(): string; waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>; send(line: string): void; exited: Promise<number | null> }

function chat(args: string[], passphrase = 'chat test passphrase'): Chat {
  const child = spawn(process.execPath, [MAIN, 'chat', ...args], { env: { ...process.env, SEALPOST_PASSPHRASE: passphrase }, stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer): void => { text += d.toString(); for (const w of waiters.splice(0)) w(); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => { r(code); for (const w of waiters.splice(0)) w(); }));
  let from = 0;
  return {
    child, exited,
    out: () => text,
    send: (line) => { child.stdin.write(line + '\n'); },
    async waitFor(re, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = re.exec(text.slice(from));
        if (m) { from += m.index + m[0].length; return m; }
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${re} in output:\n${text}`);
        await withTimeout(new Promise<void>((r) => waiters.push(r)), deadline - Date.now(), String(re)).catch(() => undefined);
      }
    },
  };
}

test('chat: /help, /invite and /quit', async () => {
  const relay = await startRelay();
  const c = chat(['--profile', 'solo', '--relay', relay.address, '--data', tempDir()]);
  try {
    await c.waitFor(/Type \/help for commands/);
    c.send('/help');
    await c.waitFor(/\/invite/);
    c.send('/invite');
    await c.waitFor(/sealpost:invite\/[A-Za-z0-9_-]{100,}/);
    c.send('/contacts');
    await c.waitFor(/no contacts yet/);
    c.send('/nonsense');
    await c.waitFor(/unknown command/);
    c.send('/quit');
    assert.is(await withTimeout(c.exited, 10_000, 'exit'), 0, c.out());
  } finally {
    c.child.kill();
    await relay.close();
  }
});

test('chat: two people invite, accept, verify and talk', async () => {
  const relay = await startRelay();
  const alice = chat(['--profile', 'alice', '--relay', relay.address, '--data', tempDir()]);
  const bob = chat(['--profile', 'bob', '--relay', relay.address, '--data', tempDir()]);
  try {
    await Promise.all([alice.waitFor(/Type \/help/), bob.waitFor(/Type \/help/)]);
    alice.send('/invite bob');
    const [link] = await alice.waitFor(/sealpost:invite\/[A-Za-z0-9_-]+/);
    bob.send(`/accept ${link} alice`);
    const bobCode = (await bob.waitFor(/alice is connected\. Safety code: (\d{5} \d{5} \d{5} \d{5})/))[1]!;
    const aliceCode = (await alice.waitFor(/bob is connected\. Safety code: (\d{5} \d{5} \d{5} \d{5})/))[1]!;
    assert.is(aliceCode, bobCode);
    alice.send('/verify bob 11111 11111 11111 11111');
    await alice.waitFor(/error: SAFETY_CODE_MISMATCH/);
    alice.send(`/verify bob ${bobCode}`);
    await alice.waitFor(/bob is verified/);
    bob.send('/to alice');
    await bob.waitFor(/talking to alice \(NOT verified/);
    bob.send('hello from the terminal');
    await bob.waitFor(/\[you -> alice\] hello from the terminal/);
    await alice.waitFor(/\[bob\] hello from the terminal/);
    alice.send('/to bob');
    alice.send('hi bob');
    await bob.waitFor(/\[alice \(unverified\)\] hi bob/);
    alice.send('/contacts');
    await alice.waitFor(/bob\s+\d{5} \d{5} \d{5} \d{5}\s+verified/);
    alice.send('/timer 90m');
    await alice.waitFor(/messages with bob disappear after 5400 s/);
    await bob.waitFor(/\[timer alice\] they set it: messages disappear after 5400 s/);
    bob.send('/timer');
    await bob.waitFor(/messages with alice disappear after 5400 s/);
    bob.send('/timer soon');
    await bob.waitFor(/usage: \/timer DURATION\|off/);
    bob.send('/timer off');
    await bob.waitFor(/messages with alice are kept/);
    await alice.waitFor(/\[timer bob\] they set it: messages are kept/);
    alice.send('/quit');
    bob.send('/quit');
    assert.is(await withTimeout(alice.exited, 10_000, 'alice exit'), 0, alice.out());
    assert.is(await withTimeout(bob.exited, 10_000, 'bob exit'), 0, bob.out());
  } finally {
    alice.child.kill();
    bob.child.kill();
    await relay.close();
  }
});

test('chat: a group made, talked in, listed and reviewed from the terminal', async () => {
  const relay = await startRelay();
  const alice = chat(['--profile', 'alice', '--relay', relay.address, '--data', tempDir()]);
  const bob = chat(['--profile', 'bob', '--relay', relay.address, '--data', tempDir()]);
  try {
    await Promise.all([alice.waitFor(/Type \/help/), bob.waitFor(/Type \/help/)]);
    alice.send('/invite bob');
    const [link] = await alice.waitFor(/sealpost:invite\/[A-Za-z0-9_-]+/);
    bob.send(`/accept ${link} alice`);
    const code = (await alice.waitFor(/bob is connected\. Safety code: (\d{5} \d{5} \d{5} \d{5})/))[1]!;
    alice.send(`/verify bob ${code}`);
    await alice.waitFor(/bob is verified/);
    // Bob's KeyPackage follows the handshake: retry until it is in.
    for (let i = 0; ; i++) {
      alice.send('/group create team bob');
      const m = await alice.waitFor(/group team created with 2 members|error: NO_KEY_PACKAGE/);
      if (m[0].startsWith('group team')) break;
      if (i > 50) throw new Error(alice.out());
      await new Promise((r) => setTimeout(r, 200));
    }
    alice.send('checkpoint at 0900');
    await bob.waitFor(/\[team\] alice \(unverified\): checkpoint at 0900/);
    bob.send('/groups');
    await bob.waitFor(/team\s+2 members\s+active/);
    bob.send('/group members team');
    await bob.waitFor(/alice\s+NOT verified\s+admin/);
    bob.send('/group remove team alice');
    await bob.waitFor(/error: .*admin/i);
    alice.send('/group changes team');
    await alice.waitFor(/epoch 1: you added bob/);
    bob.send('/group review team');
    await bob.waitFor(/team: membership marked reviewed/);
    alice.send('/quit');
    bob.send('/quit');
    assert.is(await withTimeout(alice.exited, 10_000, 'alice exit'), 0, alice.out());
    assert.is(await withTimeout(bob.exited, 10_000, 'bob exit'), 0, bob.out());
  } finally {
    alice.child.kill();
    bob.child.kill();
    await relay.close();
  }
});

test('chat: a second device linked with /devices link and --link, listed, then revoked', async () => {
  const relay = await startRelay();
  const phone = chat(['--profile', 'phone', '--relay', relay.address, '--data', tempDir()]);
  let laptop: Chat | null = null;
  try {
    await phone.waitFor(/Type \/help for commands/);
    phone.send('/devices confirm 1234 5678');
    await phone.waitFor(/no link in progress/);
    phone.send('/devices link');
    const [, code] = await phone.waitFor(/--link ([0-9A-Z]{5}-[0-9A-Z]{5})/);
    laptop = chat(['--profile', 'laptop', '--relay', relay.address, '--data', tempDir(), '--link', code!]);
    const [, confirmation] = await laptop.waitFor(/confirmation code on your existing device[^:]*: (\d{4} \d{4})/, 30_000);
    phone.send('/devices confirm 0000 0000');
    await phone.waitFor(/error: LINK_CODE_WRONG: that is not the code the new device shows \(2 tries left\)/, 30_000);
    phone.send(`/devices confirm ${confirmation!}`);
    const [, id] = await phone.waitFor(/device (\S{10}) is linked to your account/, 60_000);
    await laptop.waitFor(/this device is now linked to your account/, 30_000);
    await laptop.waitFor(/Type \/help for commands/);
    phone.send('/devices');
    await phone.waitFor(new RegExp(`${id!.replace(/[-_]/g, '.')}  added .*\\n.*\\(this device\\)|\\(this device\\)[^\\n]*\\n${id!.replace(/[-_]/g, '.')}`));
    laptop.send('/devices');
    await laptop.waitFor(new RegExp(`${id!.replace(/[-_]/g, '.')}  added [^\\n]*\\(this device\\)`));
    phone.send(`/devices revoke ${id!}`);
    await phone.waitFor(/was removed; your contacts stop writing to it/, 30_000);
    await laptop.waitFor(/this device was removed from your account by another device/, 30_000);
    for (const c of [phone, laptop]) c.send('/quit');
    assert.is(await withTimeout(phone.exited, 10_000, 'exit'), 0, phone.out());
  } finally {
    phone.child.kill();
    laptop?.child.kill();
    await relay.close();
  }
});

test('chat: a wrong passphrase is refused with exit code 1', async () => {
  const relay = await startRelay();
  const data = tempDir();
  const first = chat(['--profile', 'p', '--relay', relay.address, '--data', data]);
  await first.waitFor(/Type \/help/);
  first.send('/quit');
  await first.exited;
  const second = chat(['--profile', 'p', '--data', data], 'not it');
  assert.is(await withTimeout(second.exited, 10_000, 'exit'), 1);
  assert.match(second.out(), /wrong passphrase/);
  await relay.close();
});

test.after(cleanup);
test.run();
