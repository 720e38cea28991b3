// The SDK's browser build (spec/client.md §12.1): its import graph names no Node built-in,
// `lmdb` or `ws`; in real headless Chromium it chats with a Node client through a real relay
// process; it refuses a relay whose key does not match the address; and the IndexedDB store
// holds the same records as the Node store: its raw entries, copied into an LMDB profile,
// open in Node with the same passphrase.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { builtinModules } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import type { Client as BrowserClient } from '../../src/client/browser/index.js';
import { Client, type Message } from '../../src/client/index.js';
import { openLmdbRecords } from '../../src/client/node/lmdb-records.js';
import { BLANK_PAGE, buildBundles, haveChromium, launchChromium, removeTempDirs, servePages, startRelayProcess, tempDir, type Child } from '../_support/browser.js';
import { repoPath } from '../_support/files.js';

const PASS = 'a browser passphrase';
/** Test profiles use a cheap scrypt cost (the header records it, spec/client.md §7.1). */
const KDF = { N: 1 << 10, r: 8, p: 1 };

type Bundles = Awaited<ReturnType<typeof buildBundles>>;
let bundles: Bundles;
let relay: Child & { address: string; dataDir: string };
let pages: { url: string; close(): Promise<void> };
let browser: Browser;
let page: Page;
let node: Client;

declare global { interface Window { sp: typeof import('../../src/client/browser/index.js'); client: BrowserClient; inbox: Message[] } }

const isBuiltin = (p: string): boolean => p.startsWith('node:') || builtinModules.includes(p.split('/')[0]!);

if (haveChromium('browser/sdk')) {
  test.before(async () => {
    bundles = await buildBundles();
    relay = await startRelayProcess();
    pages = await servePages({ '/': BLANK_PAGE, '/sealpost.js': { type: 'text/javascript', file: repoPath('.build', 'src', 'browser', 'sealpost.js') } });
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    await page.goto(pages.url);
    await page.evaluate(async () => { window.sp = (await import('/sealpost.js' as string)) as Window['sp']; });
    node = await Client.open({ dataDir: tempDir('sealpost-node-'), relay: relay.address, passphrase: PASS, kdf: KDF });
  });

  test.after(async () => {
    await node?.close();
    await browser?.close();
    await pages?.close();
    await relay?.stop();
    removeTempDirs();
  });

  test('the browser bundles import no Node built-in, lmdb or ws, and leave out the Node backend and threads', () => {
    for (const b of bundles.filter((x) => x.name === 'sdk' || x.name === 'web')) {
      const inputs = Object.keys(b.metafile.inputs);
      const imports = Object.values(b.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
      assert.ok(inputs.some((f) => f.endsWith('client/client.js')), `${b.name}: the walk sees the client`);
      assert.equal(imports.filter(isBuiltin), [], `${b.name}: no Node built-in`);
      assert.equal(inputs.filter((f) => /node_modules\/(lmdb|ws)\/|\/client\/node\/|crypto\/native\.js$|pool\/threads\.js$|\/relay\//.test(f)), [], `${b.name}: no Node-only module`);
      assert.ok(inputs.some((f) => f.endsWith('crypto/native.browser.js')), `${b.name}: the stand-in replaced native.js`);
      console.log(`  ${b.name} bundle: ${(b.bytes / 1024).toFixed(1)} KiB, ${(b.gzipBytes / 1024).toFixed(1)} KiB gzipped`);
    }
  });

  test('a browser client and a Node client invite, accept, verify and chat through a relay process', async () => {
    await page.evaluate(async ([relayAddress, pass, kdf]) => {
      window.client = await window.sp.Client.open({ dataDir: 'carol', relay: relayAddress!, passphrase: pass as string, kdf: kdf as { N: number; r: number; p: number } });
      window.inbox = [];
      window.client.on('message', (m) => { window.inbox.push(m); });
    }, [relay.address, PASS, KDF] as const);
    const link = await node.createInvitation({ name: 'Carol' });
    const nodeSide = new Promise<{ id: string; safetyCode: string }>((resolve) => node.once('contact', resolve));
    const browserSide = await page.evaluate(async (l) => {
      const c = await window.client.acceptInvitation(l, { name: 'Node' });
      return { id: c.id, safetyCode: c.safetyCode };
    }, link);
    const n = await nodeSide;
    assert.is(browserSide.safetyCode, n.safetyCode);
    await node.verifyContact(n.id, browserSide.safetyCode);
    const verified = await page.evaluate(async ([id, code]) => (await window.client.verifyContact(id!, code!)).verified, [browserSide.id, n.safetyCode]);
    assert.ok(verified);

    const got = new Promise<Message>((resolve) => node.once('message', resolve));
    await page.evaluate(async (id) => { await window.client.send(id, 'from Chromium'); }, browserSide.id);
    assert.is((await got).text, 'from Chromium');
    assert.ok((await got).verified);
    await node.send(n.id, 'from Node');
    await page.waitForFunction(() => window.inbox.some((m) => m.text === 'from Node'), undefined, { timeout: 15_000 });
    assert.equal(await page.evaluate(() => window.client.history(window.client.contacts()[0]!.id).map((h) => `${h.direction}:${h.text}`)), ['out:from Chromium', 'in:from Node']);
  });

  test("a relay whose key does not match the address's fingerprint is refused (RELAY_HANDSHAKE)", async () => {
    const forged = relay.address.replace(/\/\/(.)/, (_m, c: string) => `//${c === 'A' ? 'B' : 'A'}`);
    const code = await page.evaluate(async ([addr, pass, kdf]) => {
      const c = await window.sp.Client.open({ dataDir: 'mallory', relay: addr!, passphrase: pass as string, kdf: kdf as { N: number; r: number; p: number } });
      try { await c.createInvitation(); return 'no error'; } catch (e) { return (e as { code?: string }).code ?? String(e); } finally { await c.close(); }
    }, [forged, PASS, KDF] as const);
    assert.is(code, 'RELAY_HANDSHAKE');
  });

  test('the IndexedDB entries are the Node store format: copied into LMDB, they open in Node', async () => {
    const want = await page.evaluate(() => window.client.contacts().map((c) => `${c.name} ${c.safetyCode} ${c.verified}`));
    const entries = await page.evaluate(async () => {
      await window.client.close();
      const open = indexedDB.open('sealpost:carol');
      const db = await new Promise<IDBDatabase>((res, rej) => { open.onsuccess = () => res(open.result); open.onerror = () => rej(open.error); });
      const store = db.transaction('records').objectStore('records');
      const get = <T>(r: IDBRequest<T>): Promise<T> => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      const [keys, values] = await Promise.all([get(store.getAllKeys()), get(store.getAll())]);
      db.close();
      return keys.map((k, i) => [Array.from(new Uint8Array(k as ArrayBuffer)), Array.from(values[i] as Uint8Array)]);
    });
    const dir = tempDir('sealpost-copied-');
    const lmdb = await openLmdbRecords(dir);
    await lmdb.commit(entries.map(([k, v]) => ({ key: Uint8Array.from(k!), value: Uint8Array.from(v!) })));
    await lmdb.close();
    const copy = await Client.open({ dataDir: dir, passphrase: PASS });
    try {
      assert.equal(copy.contacts().map((c) => `${c.name} ${c.safetyCode} ${c.verified}`), want);
      assert.equal(copy.history(copy.contacts()[0]!.id).map((h) => h.text), ['from Chromium', 'from Node']);
    } finally {
      await copy.close();
    }
  });
}

test.run();
