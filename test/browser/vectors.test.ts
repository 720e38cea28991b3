// The crypto core's browser build against the Wycheproof and RFC 9180 HPKE vectors, inside
// real headless Chromium (spec/crypto.md §1): the same checkers and the same files as
// test/crypto/wycheproof.test.ts and test/crypto/hpke-rfc9180.test.ts on Node, bundled for the
// browser, on the @noble backend (the only one a browser build has). Every case of every file
// must behave as on Node.
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

  for (const file of ['rfc9180_x25519_sha256_chacha20poly1305.json', 'rfc9180_x25519_sha256_aes128gcm.json']) {
    test(`RFC 9180 ${file} in Chromium: every value of every vector matches`, async () => {
      const vectors = readJson<Array<{ mode: number; encryptions: unknown[]; exports: unknown[] }>>('test', 'vectors', 'hpke', file);
      const results = await page.evaluate((vs) => vs.map((v) => window.pc['checkHpkeVector']!(v)), vectors);
      results.forEach((r, i) => {
        const v = vectors[i]!;
        assert.equal(r.failures, [], `vector ${i}`);
        // As on Node: key pairs, Encap+Decap, KeySchedule, setup enc, nonces, ct, pt, 2 per export, single-shot.
        assert.is(r.checked, (v.mode >= 2 ? 6 : 4) + 3 + 5 + 1 + 3 * v.encryptions.length + 2 * v.exports.length + 3, `vector ${i}: values compared`);
      });
    });
  }

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
