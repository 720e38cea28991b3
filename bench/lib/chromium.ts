// Debian's Chromium for the browser bench and the browser tests (spec/client.md §12.1):
// driven by playwright-core, which never downloads a browser; pages served from loopback (a
// secure context, as IndexedDB, Web Locks and WebCrypto's X25519/Ed25519 need); page code
// bundled by scripts/build-browser.mjs like the SDK.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';

export const CHROMIUM = process.env['SEALPOST_CHROMIUM'] ?? '/usr/bin/chromium';
export const INSTALL_HINT = `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set SEALPOST_CHROMIUM)`;
/** What Chromium needs here: root (no sandbox), no GPU, and no calls home on a closed network. */
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

export const chromiumInstalled = (): boolean => existsSync(CHROMIUM);

/** Headless Chromium with a fresh profile of its own (playwright makes and removes it). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

export interface ExtraBundle { readonly name: string; readonly entry: string; readonly out: string }
export interface BuiltBundle extends ExtraBundle {
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly metafile: { inputs: Record<string, { imports: Array<{ path: string; external?: boolean }> }> };
}

/** The SDK and web client bundles, built from compiled code under `<root>/.build/src`, and `extra` page code. */
export async function buildPageBundles(root: string, extra: readonly ExtraBundle[] = []): Promise<BuiltBundle[]> {
  const script = join(root, 'scripts', 'build-browser.mjs');
  const { buildBrowser } = (await import(script)) as { buildBrowser(root: string, extra: readonly ExtraBundle[]): Promise<BuiltBundle[]> };
  return buildBrowser(join(root, '.build', 'src'), extra);
}

/** A file or text a page server answers with. */
export interface Route { readonly type: string; readonly file?: string; readonly body?: string }

export const BLANK_PAGE: Route = { type: 'text/html; charset=utf-8', body: '<!doctype html><meta charset="utf-8"><title>sealpost</title>' };

/** A static server on 127.0.0.1 and a free port: `routes` maps each path to its answer; everything else is 404. */
export async function servePages(routes: Readonly<Record<string, Route>>): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const r = routes[(req.url ?? '/').split('?')[0]!];
    if (!r) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': r.type, 'cache-control': 'no-store' });
    res.end(r.file !== undefined ? readFileSync(r.file) : r.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
