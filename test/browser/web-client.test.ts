// The web client in real headless Chromium against a real relay process (spec/client.md
// §12.1, §13): two people in two browser profiles invite (the QR code on the page decodes to
// the link), accept, compare and confirm safety codes, and chat; the profile survives a
// reload, a wrong passphrase is refused, the IndexedDB bytes hold no plaintext, a second tab
// of an open profile is refused with PROFILE_LOCKED, and the relay's files and logs hold no
// plaintext. A screenshot mid-conversation goes to .build/test-output/web-client.png.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import jsQRModule from 'jsqr';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildBundles, haveChromium, launchChromium, removeTempDirs, startRelayProcess, startWebProcess, type Child } from '../_support/browser.js';
import { repoPath } from '../_support/files.js';
import { contains } from '../_support/scan.js';

/** jsqr is CommonJS: Node's default import is its module.exports, the function itself. */
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

const PASS_A = 'alice: a long enough passphrase';
const PASS_B = 'bob: another long passphrase';
const TEXT_A = `hello from the browser ${Math.random().toString(36).slice(2)}`;
const TEXT_B = `and back from bob ${Math.random().toString(36).slice(2)}`;
const OUTPUT = repoPath('.build', 'test-output');

let relay: Child & { address: string; dataDir: string };
let web: Child & { url: string };
let browser: Browser;
let alice: BrowserContext, bob: BrowserContext;
let pa: Page, pb: Page;

async function unlock(page: Page, profile: string, passphrase: string): Promise<void> {
  await page.goto(web.url);
  await page.fill('#profile', profile);
  await page.fill('#passphrase', passphrase);
  await page.click('#open');
}

/** The QR code as the page drew it, read back through a canvas and decoded by jsQR. */
async function decodeQr(page: Page): Promise<string | null> {
  const img = await page.evaluate(async () => {
    const el = document.getElementById('qr') as HTMLImageElement;
    await el.decode();
    const c = document.createElement('canvas');
    c.width = el.naturalWidth;
    c.height = el.naturalHeight;
    const g = c.getContext('2d')!;
    g.drawImage(el, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height);
    return { width: d.width, height: d.height, data: Array.from(d.data) };
  });
  return jsQR(Uint8ClampedArray.from(img.data), img.width, img.height)?.data ?? null;
}

/** Every byte stored in the profile's IndexedDB database, keys and values. */
function rawIndexedDb(page: Page, name: string): Promise<number[]> {
  return page.evaluate(async (db: string) => {
    const open = indexedDB.open(db);
    const conn = await new Promise<IDBDatabase>((res, rej) => { open.onsuccess = () => res(open.result); open.onerror = () => rej(open.error); });
    const store = conn.transaction('records').objectStore('records');
    const get = <T>(r: IDBRequest<T>): Promise<T> => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    const [keys, values] = await Promise.all([get(store.getAllKeys()), get(store.getAll())]);
    conn.close();
    const out: number[] = [];
    for (const k of keys) out.push(...new Uint8Array(k as ArrayBuffer));
    for (const v of values) out.push(...(v as Uint8Array));
    return out;
  }, name);
}

async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(([s, t]) => (document.querySelector(s!)?.textContent ?? '').includes(t!), [selector, text], { timeout: 20_000 });
}

const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => { const p = join(dir, n); return statSync(p).isDirectory() ? files(p) : [p]; });

if (haveChromium('browser/web-client')) {
  test.before(async () => {
    await buildBundles();
    relay = await startRelayProcess();
    web = await startWebProcess(relay.address);
    browser = await launchChromium();
    alice = await browser.newContext();
    bob = await browser.newContext();
    pa = await alice.newPage();
    pb = await bob.newPage();
  });

  test.after(async () => {
    await browser?.close();
    await web?.stop();
    await relay?.stop();
    removeTempDirs();
  });

  test('two people invite (QR), accept, verify and chat in two browser profiles', async () => {
    await Promise.all([unlock(pa, 'alice', PASS_A), unlock(pb, 'bob', PASS_B)]);
    await pa.fill('#invite-name', 'Bob');
    await pa.click('#invite');
    const link = (await pa.waitForSelector('#invite-link')).textContent();
    const linkText = await link;
    assert.match(linkText ?? '', /^sealpost:invite\//);
    assert.is(await decodeQr(pa), linkText, 'the QR code decodes to the link');

    await pb.fill('#accept-link', linkText!);
    await pb.fill('#accept-name', 'Alice');
    await pb.click('#accept');
    await pb.waitForSelector('#safety-code');
    await pa.waitForSelector('.contact');
    await pa.click('.contact');
    await waitForText(pa, '#conversation h2', 'not verified');
    const [codeA, codeB] = [await pa.textContent('#safety-code'), await pb.textContent('#safety-code')];
    assert.match(codeA ?? '', /^\d{5}( \d{5}){3}$/);
    assert.is(codeA, codeB, 'both see the same safety code');

    await pb.fill('#code-input', '00000 00000 00000 00000');
    await pb.click('#verify');
    await pb.waitForFunction(() => document.getElementById('status')!.dataset['code'] === 'SAFETY_CODE_MISMATCH');
    for (const p of [pa, pb]) {
      await p.fill('#code-input', codeA!);
      await p.click('#verify');
      await waitForText(p, '#contacts', '✓ verified');
    }

    await pa.fill('#text', TEXT_A);
    await pa.click('#send');
    await waitForText(pb, '#log', TEXT_A);
    await pb.fill('#text', TEXT_B);
    await pb.press('#text', 'Enter');
    await waitForText(pa, '#log', TEXT_B);
    mkdirSync(OUTPUT, { recursive: true });
    await pa.screenshot({ path: join(OUTPUT, 'web-client.png'), fullPage: true });
  });

  test('a second tab of an open profile is refused with PROFILE_LOCKED', async () => {
    const tab = await alice.newPage();
    await unlock(tab, 'alice', PASS_A);
    await tab.waitForFunction(() => document.getElementById('status')!.dataset['code'] === 'PROFILE_LOCKED');
    assert.match((await tab.textContent('#status')) ?? '', /another tab/);
    await tab.close();
  });

  test('the IndexedDB profile holds no plaintext', async () => {
    const raw = Uint8Array.from(await rawIndexedDb(pa, 'sealpost:alice'));
    assert.ok(raw.length > 1000, `${raw.length} bytes stored`);
    for (const s of [TEXT_A, TEXT_B, 'Bob', PASS_A, 'sealpost:invite']) assert.not.ok(contains(raw, new TextEncoder().encode(s)), `"${s}" is not stored in the clear`);
  });

  test('the profile survives a reload: a wrong passphrase is refused, the right one opens contacts and history', async () => {
    await pa.reload();
    await unlock(pa, 'alice', 'not the passphrase');
    await pa.waitForFunction(() => document.getElementById('status')!.dataset['code'] === 'WRONG_PASSPHRASE');
    assert.match((await pa.textContent('#status')) ?? '', /passphrase does not open/);
    await pa.fill('#passphrase', PASS_A);
    await pa.click('#open');
    await waitForText(pa, '#contacts', 'Bob ✓ verified');
    await pa.click('.contact');
    await waitForText(pa, '#log', TEXT_A);
    await waitForText(pa, '#log', TEXT_B);
    // And it still talks: a message after the reload arrives.
    await pa.fill('#text', 'after the reload');
    await pa.click('#send');
    await waitForText(pb, '#log', 'after the reload');
  });

  test("the relay's files and logs hold no plaintext of the browser session", () => {
    const hay = [...files(relay.dataDir).map((f) => readFileSync(f)), Buffer.from(relay.output())];
    for (const s of [TEXT_A, TEXT_B, 'after the reload', 'Alice', 'Bob']) {
      for (const h of hay) assert.not.ok(contains(h, Buffer.from(s)), `"${s}" is not in the relay's files or logs`);
    }
  });
}

test.run();
