// `sealpost issuer` as a subprocess: --help, usage errors, a client secret file readable by
// others refused, and a real start against a real directory: it serves the policy, reloads on
// SIGHUP and stops cleanly on SIGTERM.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyPolicy } from '../../src/admission/index.js';
import { repoPath } from '../_support/files.js';
import { freePort, memberRequest, startDirectory } from '../_support/directory.js';
import { createOrganisation } from '../_support/org-setup.js';

const main = repoPath('.build', 'src', 'cli', 'main.js');
const root = mkdtempSync(join(tmpdir(), 'sealpost-issuer-cmd-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [main, 'issuer', ...args], { encoding: 'utf8', timeout: 30_000 });

test('--help, and usage errors exit 2 naming the problem', () => {
  const h = run('--help');
  assert.is(h.status, 0);
  assert.match(h.stdout, /usage: sealpost issuer/);
  const missing = run('--client-file', 'x', '--public-url', 'http://127.0.0.1:1');
  assert.is(missing.status, 2);
  assert.match(missing.stderr, /--directory is required/);
  const loose = join(root, 'loose.json');
  writeFileSync(loose, JSON.stringify({ client_id: 'a', client_secret: 'b' }), { mode: 0o644 });
  const r = run('--directory', 'http://127.0.0.1:1', '--client-file', loose, '--public-url', 'http://127.0.0.1:1');
  assert.is(r.status, 2);
  assert.match(r.stderr, /chmod 600/);
});

test('starts against a real directory, serves the policy, reloads on SIGHUP, stops on SIGTERM', async () => {
  const port = await freePort();
  const dir = await startDirectory([`http://127.0.0.1:${port}/callback`]);
  const org = createOrganisation(join(root, 'org'), { quota: 10, epochs: 1, epochMs: 86_400_000 });
  const clientFile = join(root, 'client.json');
  writeFileSync(clientFile, JSON.stringify({ client_id: dir.clientId, client_secret: dir.clientSecret }), { mode: 0o600 });
  const child = spawn(process.execPath, [main, 'issuer', '--directory', dir.issuerUrl, '--client-file', clientFile, '--public-url', `http://127.0.0.1:${port}`,
    '--org', org.dir, '--data', join(root, 'data'), '--port', String(port), '--allow-http-directory'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  child.stderr.on('data', (d: Buffer) => { err += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  try {
    const end = Date.now() + 20_000;
    while (!out.includes('listening')) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`issuer did not start: ${out} ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const p = await memberRequest(`http://127.0.0.1:${port}/policy`);
    assert.is(p.status, 200);
    assert.is(verifyPolicy(p.body, org.orgPublicKey).serial, org.policy().serial);
    child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 200));
    assert.is(child.exitCode, null, 'SIGHUP does not stop it');
    child.kill('SIGTERM');
    assert.is(await exited, 0);
    assert.match(err, /SIGTERM, stopping/);
    assert.not.match(err + out, /127\.0\.0\.2/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await dir.stop();
  }
});

test.run();
