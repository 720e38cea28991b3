// Suite h: the crypto core in Chromium (Debian's, headless), next to Node: @noble against
// WebCrypto's X25519 and Ed25519 in the page, sealed envelopes per second in the page and in
// Node on both backends, the passphrase derivation that unlocking a profile costs, and the
// size of the browser bundles. WebCrypto is measured, not used: the core's backend interface
// is synchronous (src/crypto/backend.ts) and WebCrypto answers with promises (spec/client.md §12.1).
import { join } from 'node:path';
import {
  DEFAULT_SCRYPT_PARAMS, derivePassphraseKey, ed25519KeyPair, ed25519Sign, ed25519Verify, openEnvelope, randomBytes, sealEnvelope,
  withBackend, x25519, x25519KeyPair, type BackendName,
} from '../../src/crypto/index.js';
import type { PageResult } from '../browser/page.js';
import { BLANK_PAGE, buildPageBundles, chromiumInstalled, INSTALL_HINT, launchChromium, servePages } from '../lib/chromium.js';
import { measureInterleaved, now, type Case } from '../lib/measure.js';
import { fmt, fmtMs, fmtRatio, type Table } from '../lib/report.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

/** Without Chromium the suite measures nothing and says how to install it. */
export type BrowserSuiteResult = BrowserResult | { readonly skipped: string };

export interface BrowserResult {
  readonly chromium: PageResult & { readonly version: string };
  /** The same operations in this Node process, per backend. */
  readonly node: ReadonlyArray<{ readonly name: string; readonly opsPerSec: number }>;
  /** Full runs only, like the page's. */
  readonly nodeScryptMs?: number;
  readonly bundles: ReadonlyArray<{ readonly name: string; readonly bytes: number; readonly gzipBytes: number }>;
}

const BACKENDS: readonly BackendName[] = ['node', 'noble'];

function measureNode(budgetMs: number): Array<{ name: string; opsPerSec: number }> {
  const a = x25519KeyPair(), b = x25519KeyPair();
  const signer = ed25519KeyPair();
  const msg = randomBytes(64);
  const sig = ed25519Sign(signer.seed, msg);
  const mailbox = x25519KeyPair(), sender = x25519KeyPair();
  const body = randomBytes(1024 - 49 - 4 - 32 - 32 - 16);
  const envelopes = Array.from({ length: 16 }, () => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, bucket: 1024 }));
  let k = 0;
  const cases: Case[] = BACKENDS.flatMap((be) => [
    { name: `${be} x25519`, fn: () => withBackend(be, () => x25519(a.secretKey, b.publicKey)) },
    { name: `${be} ed25519 sign`, fn: () => withBackend(be, () => ed25519Sign(signer.seed, msg)) },
    { name: `${be} ed25519 verify`, fn: () => withBackend(be, () => ed25519Verify(sig, msg, signer.publicKey)) },
    { name: `${be} envelope seal 1 KiB`, fn: () => withBackend(be, () => sealEnvelope({ mailboxKey: mailbox.publicKey, sender, body, bucket: 1024 })) },
    { name: `${be} envelope open 1 KiB`, fn: () => withBackend(be, () => openEnvelope({ mailboxSecret: mailbox.secretKey, mailboxKey: mailbox.publicKey, envelope: envelopes[k++ & 15]! })) },
  ]);
  return measureInterleaved(cases, budgetMs).map((r) => ({ name: r.name, opsPerSec: r.opsPerSec }));
}

async function runBrowser(ctx: SuiteContext): Promise<BrowserSuiteResult> {
  if (!chromiumInstalled()) return { skipped: INSTALL_HINT };
  ctx.progress.bar('browser: bundles', 0, 4);
  const pageJs = join(ctx.root, '.build', 'bench-output', 'browser-page.js');
  const built = await buildPageBundles(ctx.root, [{ name: 'bench-page', entry: join(ctx.root, '.build', 'bench', 'browser', 'page.js'), out: pageJs }]);
  const pages = await servePages({ '/': BLANK_PAGE, '/page.js': { type: 'text/javascript', file: pageJs } });
  const browser = await launchChromium();
  try {
    ctx.progress.bar('browser: Chromium', 1, 4);
    const page = await browser.newPage();
    await page.goto(pages.url);
    const chromium = await page.evaluate(async ([budget, quick]) => {
      const m = (await import('/page.js' as string)) as typeof import('../browser/page.js');
      return m.run(budget, quick);
    }, [ctx.budgetMs * 0.6, ctx.quick] as const);
    ctx.progress.bar('browser: Node', 2, 4);
    const node = measureNode(ctx.budgetMs * 0.4);
    let nodeScryptMs: { nodeScryptMs?: number } = {};
    if (!ctx.quick) {
      ctx.progress.bar('browser: scrypt on Node', 3, 4);
      const t0 = now();
      await derivePassphraseKey('a passphrase to time', randomBytes(16), DEFAULT_SCRYPT_PARAMS);
      nodeScryptMs = { nodeScryptMs: now() - t0 };
    }
    return {
      chromium: { ...chromium, version: browser.version() }, node, ...nodeScryptMs,
      bundles: built.filter((b) => b.name !== 'bench-page').map(({ name, bytes, gzipBytes }) => ({ name, bytes, gzipBytes })),
    };
  } finally {
    await browser.close();
    await pages.close();
  }
}

function tables(r: BrowserResult): Table[] {
  const page = new Map(r.chromium.rates.map((x) => [x.name, x.opsPerSec]));
  const node = new Map(r.node.map((x) => [x.name, x.opsPerSec]));
  const ops = (n: number | undefined): string => (n === undefined ? '–' : fmt(n));
  const vs = [
    ['X25519 (shared secret)', 'x25519', 'webcrypto x25519'],
    ['X25519, peer key from raw bytes', 'x25519', 'webcrypto x25519 raw key'],
    ['Ed25519 sign', 'ed25519 sign', 'webcrypto ed25519 sign'],
    ['Ed25519 verify', 'ed25519 verify', 'webcrypto ed25519 verify'],
  ] as const;
  const envelope = ['envelope seal 1 KiB', 'envelope open 1 KiB'] as const;
  return [
    {
      title: `Chromium ${r.chromium.version}: @noble (what the SDK uses) against WebCrypto, ops/s`,
      columns: ['operation', 'noble', 'WebCrypto, one at a time', 'WebCrypto, 32 in flight', 'WebCrypto (32) ÷ noble'],
      rows: vs.map(([label, n, w]) => [label, ops(page.get(`noble ${n}`)), ops(page.get(w)), ops(page.get(`${w} x32`)), fmtRatio((page.get(`${w} x32`) ?? NaN) / (page.get(`noble ${n}`) ?? NaN))]),
      notes: ['WebCrypto is asynchronous: "one at a time" awaits each call; "32 in flight" starts 32 and awaits them together.'],
    },
    {
      title: 'Sealed envelopes (1 KiB bucket) and primitives: Chromium next to Node, ops/s',
      columns: ['operation', 'Chromium (noble)', 'Node (noble)', 'Node (node:crypto)'],
      rows: [...envelope, 'x25519', 'ed25519 sign', 'ed25519 verify'].map((op) => [op, ops(page.get(`noble ${op}`)), ops(node.get(`noble ${op}`)), ops(node.get(`node ${op}`))]),
    },
    {
      title: 'Unlocking a profile (scrypt N=2^17, r=8, p=1, @noble/hashes) and the browser bundles',
      columns: ['what', 'value'],
      rows: [
        ...(r.nodeScryptMs === undefined
          ? [['scrypt', 'timed in full runs only']]
          : [['scrypt in Chromium', fmtMs(r.chromium.scryptMs)], ['scrypt in Node', fmtMs(r.nodeScryptMs)]]),
        ...r.bundles.map((b) => [`${b.name} bundle (minified)`, `${fmt(b.bytes / 1024)} KiB, ${fmt(b.gzipBytes / 1024)} KiB gzipped`]),
      ],
    },
  ];
}

export const browserSuite: Suite = {
  id: 'browser',
  title: 'h. The crypto core in Chromium: @noble against WebCrypto, envelopes next to Node, bundle size',
  budget: { full: 30_000, quick: 2_000 },
  measure: (ctx) => runBrowser(ctx),
  render: (result) => ('skipped' in (result as BrowserSuiteResult) ? { tables: [], targets: [], notes: [`Not measured: ${(result as { skipped: string }).skipped}.`] } : {
    tables: tables(result as BrowserResult),
    targets: [],
    notes: ['The SDK runs @noble in browsers. WebCrypto has X25519 and Ed25519 in Chromium, but only behind promises, and the crypto core\'s backend interface is synchronous (a ratchet step, an envelope open, a signature check are plain calls), so WebCrypto is measured here and not used.'],
  }),
};
