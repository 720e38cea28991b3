// Two clients in separate processes (spec/client.md §4): the peer runs as a child node
// process from .build and talks to an in-process client through a real relay.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Contact } from '../../src/client/index.js';
import { cleanup, inbox, nextEvent, openClient, startRelay, tempDir, withTimeout } from './_helpers.js';

const PEER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'peer.js');

test('a client in another process accepts an invitation, codes agree, messages go both ways', async () => {
  const relay = await startRelay();
  const alice = await openClient(relay.address);
  const child = spawn(process.execPath, [PEER, relay.address, tempDir(), await alice.createInvitation({ name: 'peer' })], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const lines: Array<Record<string, string>> = [];
    let stderr = '';
    const waiters: Array<() => void> = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, i)) as Record<string, string>);
        buf = buf.slice(i + 1);
        for (const w of waiters.splice(0)) w();
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const line = async (event: string): Promise<Record<string, string>> => {
      for (;;) {
        const l = lines.find((x) => x['event'] === event);
        if (l) return l;
        await withTimeout(new Promise<void>((r) => waiters.push(r)), 15_000, `child ${event} (stderr: ${stderr})`);
      }
    };
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

    const contact = await nextEvent<Contact>(alice, 'contact', 15_000);
    const peer = await line('contact');
    assert.is(peer['safetyCode'], contact.safetyCode);
    await alice.verifyContact(contact.id, peer['safetyCode']!);
    const aIn = inbox(alice);
    await alice.send(contact.id, 'ping');
    const [echo] = await aIn.until(1, 15_000);
    assert.is(echo!.text, 'echo: ping');
    assert.is(echo!.verified, true);
    await alice.send(contact.id, 'bye');
    assert.is(await withTimeout(exited, 15_000, 'child exit'), 0, stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await alice.close();
    await relay.close();
  }
});

test.after(cleanup);
test.run();
