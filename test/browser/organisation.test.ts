// The SDK in a browser as a member of an organisation (spec/client.md §10.1, spec/admission.md
// §3.5 "Web apps"): in real headless Chromium, on its own origin, the browser build fetches the
// signed policy and a batch of tokens from the real issuer (a real OpenID Connect directory
// behind it), creates a mailbox on a closed relay process with one of them, and chats with a
// Node member. The issuer's CORS answers are what let the page read them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ORG_FILES } from '../../src/admin/org-files.js';
import type { Client as BrowserClient } from '../../src/client/browser/index.js';
import { Client, type Message } from '../../src/client/index.js';
import { toBase64url } from '../../src/crypto/index.js';
import { BLANK_PAGE, buildBundles, haveChromium, launchChromium, removeTempDirs, servePages, startRelayProcess, tempDir, type Child } from '../_support/browser.js';
import { startIssuerFixture, type IssuerFixture } from '../_support/directory.js';
import { repoPath } from '../_support/files.js';

const PASS = 'a browser passphrase';
const KDF = { N: 1 << 10, r: 8, p: 1 };

let fx: IssuerFixture;
let relay: Child & { address: string; dataDir: string };
let pages: { url: string; close(): Promise<void> };
let browser: Browser;
let page: Page;
let node: Client;

declare global { interface Window { sp: typeof import('../../src/client/browser/index.js'); member: BrowserClient; memberInbox: Message[] } }

if (haveChromium('browser/organisation')) {
  test.before(async () => {
    await buildBundles();
    fx = await startIssuerFixture({ users: ['alice', 'bob'] });
    const org = fx.org;
    relay = await startRelayProcess(['--policy-file', join(org.dir, ORG_FILES.policy), '--epoch-secrets-file', join(org.dir, ORG_FILES.secrets), '--org-public-key', toBase64url(org.orgPublicKey)]);
    pages = await servePages({ '/': BLANK_PAGE, '/sealpost.js': { type: 'text/javascript', file: repoPath('.build', 'src', 'browser', 'sealpost.js') } });
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    await page.goto(pages.url);
    await page.evaluate(async () => { window.sp = (await import('/sealpost.js' as string)) as Window['sp']; });
    const bob = await fx.login('bob');
    node = await Client.open({
      dataDir: tempDir('sealpost-node-'), relay: relay.address, passphrase: PASS, kdf: KDF,
      organisation: { issuerUrl: fx.issuer.url, orgPublicKey: fx.org.orgPublicKey, session: bob.session! },
    });
    await node.admission!.refresh();
  });

  test.after(async () => {
    await node?.close();
    await browser?.close();
    await pages?.close();
    await relay?.stop();
    await fx?.stop();
    removeTempDirs();
  });

  test('a browser member fetches policy and tokens from the issuer across origins, creates a mailbox on the closed relay and chats', async () => {
    const alice = await fx.login('alice');
    assert.ok(alice.session);
    assert.not.equal(new URL(pages.url).origin, new URL(fx.issuer.url).origin, 'the page and the issuer are different origins');
    const got = await page.evaluate(async ([relayAddress, pass, kdf, issuerUrl, orgKey, session]) => {
      window.member = await window.sp.Client.open({
        dataDir: 'member', relay: relayAddress!, passphrase: pass as string, kdf: kdf as { N: number; r: number; p: number },
        organisation: { issuerUrl: issuerUrl as string, orgPublicKey: orgKey as string, session: session as string },
      });
      window.memberInbox = [];
      window.member.on('message', (m) => { window.memberInbox.push(m); });
      const r = await window.member.admission!.refresh();
      return { ...r, link: await window.member.createInvitation({ name: 'Alice' }), left: window.member.admission!.tokens() };
    }, [relay.address, PASS, KDF, fx.issuer.url, toBase64url(fx.org.orgPublicKey), alice.session] as const);
    assert.is(got.serial, fx.org.policy().serial);
    assert.ok(got.tokens >= 1, 'a batch reached the page');
    assert.is(got.left, got.tokens - 1, 'the invitation\'s mailbox spent one token');

    const aliceSide = page.evaluate(() => new Promise<string>((resolve) => window.member.once('contact', (c) => resolve(c.id))));
    const contact = await node.acceptInvitation(got.link);
    const aliceContact = await aliceSide;
    await node.send(contact.id, 'from a Node member');
    await page.waitForFunction(() => window.memberInbox.length >= 1, undefined, { timeout: 15_000 });
    const inbox = await page.evaluate(() => window.memberInbox.map((m) => m.text));
    assert.equal(inbox, ['from a Node member']);
    const back = new Promise<Message>((resolve) => node.once('message', resolve));
    await page.evaluate(async (id) => { await window.member.send(id, 'from the browser'); }, aliceContact);
    assert.is((await back).text, 'from the browser');
  });

  test.run();
}
