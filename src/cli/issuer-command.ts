// `sealpost issuer`: the organisation's token issuer (spec/admission.md §3.5) until SIGTERM or
// SIGINT; SIGHUP reloads the policy, the epoch secrets and the quota (so do file changes).
// `sealpost login --issuer URL`: a member's login from the command line (RFC 8252 loopback).
import { readFileSync, statSync } from 'node:fs';
import { AdmissionError, isAdmissionError } from '../admission/index.js';
import { writeFileAtomic } from '../admin/org-files.js';
import { Directory } from '../issuer/directory.js';
import { loginWithLoopback } from '../issuer/login-client.js';
import { startIssuer } from '../issuer/server.js';
import { intOption, parseOptions, UsageError } from './options.js';
import type { CommandIo } from './relay-command.js';

const defaultIo: CommandIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`), env: process.env };

export const ISSUER_HELP = `usage: sealpost issuer --directory URL --client-file FILE --public-url URL [options]

The organisation's token issuer: members log in through the directory (OpenID Connect)
and fetch admission tokens within their quota (spec/admission.md §3.5).

  --directory URL      the directory's OpenID Connect issuer URL (discovery)
  --client-file FILE   JSON {"client_id": ..., "client_secret": ...}, mode 0600
  --public-url URL     this issuer's URL as members reach it (its /callback is the
                       redirect URI registered at the directory)
  --org DIR            the organisation directory of \`sealpost admin\` (default ./sealpost-org,
                       or SEALPOST_ORG): policy, epoch secrets, quota, admin key, audit log
  --data DIR           the issuer's store (default ./sealpost-issuer, or SEALPOST_ISSUER_DATA)
  --host HOST          listen address (default 127.0.0.1: put a TLS proxy in front)
  --port PORT          listen port (default 8443)
  --redirect-uri URI   a web app's redirect URI to allow (repeatable); loopback ones always are
  --scope SCOPE        scopes to ask the directory for (default "openid offline_access")
  --allow-http-directory  accept a directory on plain http (loopback tests only)
  --help               this text

Signals: SIGHUP reloads the organisation's files; SIGTERM/SIGINT stop it (closed epochs'
token counts go to the audit log first).`;

export const LOGIN_HELP = `usage: sealpost login --issuer URL [--out FILE] [--json]

Logs a member in to the organisation's issuer: prints a URL to open in a browser, receives
the answer on a loopback address (RFC 8252), then writes the session to FILE (mode 0600)
or prints it.`;

function readClientFile(path: string): { clientId: string; clientSecret: string } {
  let j: { client_id?: unknown; client_secret?: unknown };
  try { j = JSON.parse(readFileSync(path, 'utf8')) as typeof j; } catch (e) {
    throw new UsageError(`${path}: cannot read the client file (${(e as NodeJS.ErrnoException).code ?? 'not JSON'})`);
  }
  if (typeof j.client_id !== 'string' || typeof j.client_secret !== 'string') throw new UsageError(`${path}: needs "client_id" and "client_secret"`);
  if ((statSync(path).mode & 0o077) !== 0) throw new UsageError(`${path}: the client secret must not be readable by group or others (chmod 600)`);
  return { clientId: j.client_id, clientSecret: j.client_secret };
}

export async function issuerCommand(argv: readonly string[], io: CommandIo = defaultIo): Promise<number> {
  let issuer;
  try {
    const p = parseOptions(argv, {
      flags: ['help', 'allow-http-directory'],
      values: ['directory', 'client-file', 'public-url', 'org', 'data', 'host', 'port', 'scope'],
      repeat: ['redirect-uri'],
    });
    if (p.flags.has('help')) { io.out(ISSUER_HELP); return 0; }
    if (p.rest.length > 0) throw new UsageError(`unexpected argument ${p.rest[0]}`);
    for (const need of ['directory', 'client-file', 'public-url']) if (!p.values.has(need)) throw new UsageError(`--${need} is required (see --help)`);
    const publicUrl = p.values.get('public-url')!.replace(/\/$/, '');
    const client = readClientFile(p.values.get('client-file')!);
    const directory = await Directory.discover({
      issuer: p.values.get('directory')!, ...client, callbackUrl: `${publicUrl}/callback`,
      ...(p.values.has('scope') ? { scope: p.values.get('scope')! } : {}), allowHttp: p.flags.has('allow-http-directory'),
    });
    issuer = await startIssuer({
      orgDir: p.values.get('org') ?? io.env['SEALPOST_ORG'] ?? './sealpost-org',
      dataDir: p.values.get('data') ?? io.env['SEALPOST_ISSUER_DATA'] ?? './sealpost-issuer',
      directory, host: p.values.get('host') ?? '127.0.0.1', port: intOption(p, 'port', 0, 65535) ?? 8443,
      redirectUris: p.repeat.get('redirect-uri') ?? [], log: io.err,
    });
  } catch (e) {
    if (e instanceof UsageError) { io.err(`sealpost issuer: ${e.message}`); return 2; }
    if (e instanceof AdmissionError) { io.err(`sealpost issuer: could not start: ${e.message}`); return 1; }
    throw e;
  }
  io.out(`Sealpost issuer listening on ${issuer.url} (policy at ${issuer.url}/policy). Stop with Ctrl-C; reload with SIGHUP.`);
  const running = issuer;
  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      io.err(`sealpost issuer: ${signal}, stopping`);
      running.close().then(() => done(0), (e: unknown) => { io.err(`sealpost issuer: close failed: ${(e as Error).message}`); done(1); });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => { running.reload(); });
  });
}

export async function loginCommand(argv: readonly string[], io: CommandIo = defaultIo): Promise<number> {
  try {
    const p = parseOptions(argv, { flags: ['help', 'json'], values: ['issuer', 'out', 'timeout'] });
    if (p.flags.has('help')) { io.out(LOGIN_HELP); return 0; }
    const issuerUrl = p.values.get('issuer');
    if (issuerUrl === undefined) throw new UsageError('--issuer URL is required (see --help)');
    const login = await loginWithLoopback({
      issuerUrl, timeoutMs: (intOption(p, 'timeout', 1) ?? 600) * 1000,
      onLoginUrl: (u) => io.err(`Open this URL in your browser to log in:\n  ${u}`),
    });
    const record = { issuer: issuerUrl, session: login.session, expiresAt: login.expiresAt };
    const out = p.values.get('out');
    if (out !== undefined) writeFileAtomic(out, `${JSON.stringify(record)}\n`, 0o600);
    if (p.flags.has('json')) io.out(JSON.stringify(out === undefined ? record : { issuer: issuerUrl, file: out, expiresAt: login.expiresAt }));
    else io.out(out === undefined ? `session: ${login.session}\nexpires: ${new Date(login.expiresAt).toISOString()}` : `logged in; session written to ${out} (expires ${new Date(login.expiresAt).toISOString()})`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) { io.err(`sealpost login: ${e.message}`); return 2; }
    if (isAdmissionError(e)) { io.err(`sealpost login: ${e.message}`); return 1; }
    throw e;
  }
}
