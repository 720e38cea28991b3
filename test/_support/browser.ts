// Real browsers and real processes for the browser tests (spec/client.md §12.1): Debian's
// Chromium and the page helpers of bench/lib/chromium.ts (shared with the browser bench), a
// relay and the web client's server each in a child process of their own on a free loopback
// port, and the browser bundles built from the compiled tree with scripts/build-browser.mjs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPageBundles, chromiumInstalled, INSTALL_HINT, type BuiltBundle, type ExtraBundle } from '../../bench/lib/chromium.js';
import { repoPath, repoRoot } from './files.js';

const MAIN = repoPath('.build', 'src', 'cli', 'main.js');

export { BLANK_PAGE, launchChromium, servePages, type Route } from '../../bench/lib/chromium.js';

/**
 * Whether Chromium is here; if not, says so in one line (how to install it) so that the
 * file's tests can be skipped and nothing else.
 */
export function haveChromium(file: string): boolean {
  if (chromiumInstalled()) return true;
  console.log(`${file}: skipped: ${INSTALL_HINT}`);
  return false;
}

/**
 * Builds the SDK bundle and the web client's bundle into .build/src (what `sealpost web`
 * serves there), and any `extra` page code of a test, the same way.
 */
export const buildBundles = (extra: readonly ExtraBundle[] = []): Promise<BuiltBundle[]> => buildPageBundles(repoRoot, extra);

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
export async function startRelayProcess(extra: readonly string[] = []): Promise<Child & { address: string; dataDir: string }> {
  const dataDir = tempDir('sealpost-relay-');
  const r = await startCli(['relay', '--host', '127.0.0.1', '--port', '0', '--metrics-port', 'off', '--data', dataDir, '--pow-difficulty', '8', '--log-level', 'debug', ...extra],
    /address: (sealpost\+ws:\/\/\S+)/, 'relay');
  return { ...r, address: r.match[1]!, dataDir };
}

/** `sealpost web --relay ADDRESS` on 127.0.0.1 and a free port. */
export async function startWebProcess(relay: string): Promise<Child & { url: string }> {
  const r = await startCli(['web', '--relay', relay, '--port', '0'], /(http:\/\/127\.0\.0\.1:\d+\/)/, 'web server');
  return { ...r, url: r.match[1]! };
}

