// Real browsers and real processes for the browser tests (spec/client.md §12.1): Debian's
// Chromium driven by playwright-core (which never downloads a browser), a relay and the web
// client's server each in a child process of their own on a free loopback port, and the
// browser bundles built from the compiled tree with scripts/build-browser.mjs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { repoPath } from './files.js';

const CHROMIUM = process.env['SEALPOST_CHROMIUM'] ?? '/usr/bin/chromium';
/** What Chromium needs here: root (no sandbox), no GPU, and no calls home on a closed network. */
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];
const MAIN = repoPath('.build', 'src', 'cli', 'main.js');

/**
 * Whether Chromium is here; if not, says so in one line (how to install it) so that the
 * file's tests can be skipped and nothing else.
 */
export function haveChromium(file: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  console.log(`${file}: skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set SEALPOST_CHROMIUM)`);
  return false;
}

/** Headless Chromium with a fresh profile of its own (playwright makes and removes it). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

export interface ExtraBundle { readonly name: string; readonly entry: string; readonly out: string }

/**
 * Builds the SDK bundle and the web client's bundle into .build/src (what `sealpost web`
 * serves there), and any `extra` page code of a test, the same way.
 */
export async function buildBundles(extra: readonly ExtraBundle[] = []): Promise<Array<{ name: string; bytes: number; gzipBytes: number; metafile: { inputs: Record<string, { imports: Array<{ path: string; external?: boolean }> }> } }>> {
  const script = repoPath('scripts', 'build-browser.mjs');
  const { buildBrowser } = (await import(script)) as { buildBrowser(root: string, extra: readonly ExtraBundle[]): Promise<never> };
  return buildBrowser(repoPath('.build', 'src'), extra);
}

export interface Child {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `sealpost <args>` and resolves once a line of its output matches `ready`. */
function startCli(args: string[], ready: RegExp, what: string): Promise<Child & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; } };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { void stop(); reject(new Error(`${what} did not start:\n${text}`)); }, 20_000);
    const onData = (d: Buffer): void => {
      text += d.toString();
      const m = ready.exec(text);
      if (m) { clearTimeout(timer); resolve({ child, match: m, output: () => text, stop }); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited (${code}):\n${text}`)); });
  });
}

const dirs: string[] = [];
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** `sealpost relay` on 127.0.0.1, a free port, a fresh data directory and a low proof-of-work. */
export async function startRelayProcess(): Promise<Child & { address: string; dataDir: string }> {
  const dataDir = tempDir('sealpost-relay-');
  const r = await startCli(['relay', '--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', dataDir, '--pow-difficulty', '8', '--log-level', 'debug'],
    /address: (sealpost\+ws:\/\/\S+)/, 'relay');
  return { ...r, address: r.match[1]!, dataDir };
}

/** `sealpost web --relay ADDRESS` on 127.0.0.1 and a free port. */
export async function startWebProcess(relay: string): Promise<Child & { url: string }> {
  const r = await startCli(['web', '--relay', relay, '--port', '0'], /(http:\/\/127\.0\.0\.1:\d+\/)/, 'web server');
  return { ...r, url: r.match[1]! };
}

/** A file or text a page server answers with. */
export interface Route { readonly type: string; readonly file?: string; readonly body?: string }

/**
 * A static server on 127.0.0.1 and a free port for test pages (a secure context, as the SDK
 * needs): `routes` maps each path to its answer; everything else is 404.
 */
export async function servePages(routes: Readonly<Record<string, Route>>): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const { readFileSync } = await import('node:fs');
  const server = createServer((req, res) => {
    const r = routes[(req.url ?? '/').split('?')[0]!];
    if (!r) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': r.type, 'cache-control': 'no-store' });
    res.end(r.file !== undefined ? readFileSync(r.file) : r.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export const BLANK_PAGE: Route = { type: 'text/html; charset=utf-8', body: '<!doctype html><meta charset="utf-8"><title>test</title>' };
