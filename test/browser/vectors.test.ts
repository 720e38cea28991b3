// The crypto core's browser build against the Wycheproof vectors, inside real headless
// Chromium (spec/crypto.md §1): the same checkers and the same files as
// test/crypto/wycheproof.test.ts on Node, bundled for the browser, on the @noble backend (the
// only one a browser build has). Every case of every file must behave as on Node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { BLANK_PAGE, buildBundles, haveChromium, launchChromium, servePages } from '../_support/browser.js';
import { readJson, repoPath } from '../_support/files.js';

const CHECKS: ReadonlyArray<readonly [file: string, checker: string]> = [
  ['x25519_test.json', 'checkX25519'],
  ['ed25519_test.json', 'checkEd25519'],
  ['chacha20_poly1305_test.json', 'checkChaCha20Poly1305'],
  ['xchacha20_poly1305_test.json', 'checkXChaCha20Poly1305'],
  ['aes_gcm_test.json', 'checkAes128Gcm'],
  ['hkdf_sha256_test.json', 'checkHkdfSha256'],
  ['hmac_sha256_test.json', 'checkHmacSha256'],
];

type PageCrypto = Record<string, (file: unknown) => { checked: number; failures: string[] }> & { getBackend(): string; availableBackends(): string[] };
declare global { interface Window { pc: PageCrypto } }

let browser: Browser;
let page: Page;
let pages: { url: string; close(): Promise<void> };

if (haveChromium('browser/vectors')) {
  test.before(async () => {
    const out = repoPath('.build', 'test-output', 'page-crypto.js');
    await buildBundles([{ name: 'page-crypto', entry: repoPath('.build', 'test', 'browser', '_page-crypto.js'), out }]);
    pages = await servePages({ '/': BLANK_PAGE, '/page-crypto.js': { type: 'text/javascript', file: out } });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(pages.url);
    await page.evaluate(async () => { window.pc = (await import('/page-crypto.js' as string)) as PageCrypto; });
  });

  test.after(async () => {
    await browser?.close();
    await pages?.close();
  });

  test('the browser build runs on @noble, its only backend', async () => {
    assert.equal(await page.evaluate(() => [window.pc.getBackend(), window.pc.availableBackends()]), ['noble', ['noble']]);
  });

  for (const [file, checker] of CHECKS) {
    test(`Wycheproof ${file} in Chromium`, async () => {
      const data = readJson<{ numberOfTests: number }>('test', 'vectors', 'wycheproof', file);
      const r = await page.evaluate(([f, c]) => window.pc[c as string]!(f), [data, checker] as const);
      assert.equal(r.failures, []);
      assert.is(r.checked, data.numberOfTests);
    });
  }
}

test.run();
