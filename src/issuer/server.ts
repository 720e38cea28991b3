// `sealpost issuer`'s HTTP service (spec/admission.md §3.5): login through the directory,
// sessions, the per-member quota per epoch, token evaluation with the issuing epoch's key and
// the signed policy. Every answer that is not a success is a JSON body {error, message} with a
// code of §8. It logs counts, never a network address, a session, a nonce or an element.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AdmissionError, checkQuota, decodeIssueRequest, evaluateIssueRequest, isAdmissionError, MAX_TOKEN_BATCH, verifyAuditLog, type AdmissionErrorCode,
} from '../admission/index.js';
import { ed25519PublicFromSeed, equalBytes, toBase64url, toHex } from '../crypto/index.js';
import { appendAudit, readAuditLog } from '../admin/org-files.js';
import type { Directory, PendingLogin } from './directory.js';
import { IssuerStore } from './issuer-store.js';
import { issuingKey, loadOrgState, OrgStateHolder } from './org-state.js';
import { bearerSession, encodeSession, newSession, sessionHash, type SessionHash } from './session.js';

/** The bounds of §3.5; each per-session or per-member bound has a global one beside it. */
export interface IssuerLimits {
  /** Largest request body: a full batch is 6 + 32 × 64 bytes. */
  readonly maxBodyBytes: number;
  readonly maxConcurrentRequests: number;
  readonly maxConcurrentPerSession: number;
  readonly maxSessionsPerMember: number;
  readonly maxPendingLogins: number;
  readonly loginTimeoutMs: number;
  /** A session lasts at most this long; a refused refresh of the directory's grant ends it sooner. */
  readonly sessionMs: number;
}

export const DEFAULT_ISSUER_LIMITS: IssuerLimits = {
  maxBodyBytes: 6 + 32 * MAX_TOKEN_BATCH,
  maxConcurrentRequests: 256,
  maxConcurrentPerSession: 2,
  maxSessionsPerMember: 8,
  maxPendingLogins: 10_000,
  loginTimeoutMs: 10 * 60_000,
  sessionMs: 30 * 86_400_000,
};

export interface IssuerOptions {
  readonly orgDir: string;
  readonly dataDir: string;
  readonly directory: Directory;
  readonly host?: string;
  readonly port?: number;
  /** Web apps' redirect URIs, matched exactly; loopback ones (RFC 8252 §7.3) are always allowed. */
  readonly redirectUris?: readonly string[];
  readonly limits?: Partial<IssuerLimits>;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
  /** Reload the organisation's files when they change (default true). */
  readonly watch?: boolean;
}

export interface Issuer {
  readonly url: string;
  readonly port: number;
  /** Reloads the policy, secrets and quota (what SIGHUP does). */
  reload(): boolean;
  /** Appends token-count entries for every epoch whose issuing has ended (§3.5); returns those epochs. */
  logClosedEpochs(): number[];
  /** What the issuer counted since it started: the only figures it logs. */
  stats(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}

const STATUS: Partial<Record<AdmissionErrorCode, number>> = {
  ADMISSION_REQUIRED: 401, ADMISSION_REFUSED: 403, TOKEN_EPOCH: 409, QUOTA_EXCEEDED: 429, ISSUER_UNAVAILABLE: 503, INVALID_ARGUMENT: 400,
};

class HttpError extends Error {
  constructor(readonly status: number, readonly code: AdmissionErrorCode, message: string) { super(message); }
}
const malformed = (message: string): HttpError => new HttpError(400, 'ADMISSION_REFUSED', message);

/** The endpoints a web app's SDK calls from its own origin (fetch), and their CORS answers (§3.5). */
const CORS_PATHS = new Set(['/policy', '/tokens', '/logout']);
const CORS_HEADERS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'sealpost-epoch-key, retry-after' };
const CORS_PREFLIGHT = {
  'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'authorization, content-type', 'access-control-max-age': '600',
};

/** A loopback redirect for native apps (RFC 8252 §7.3): http, 127.0.0.1 or [::1], any port, no fragment. */
export function isLoopbackRedirect(u: string): boolean {
  let url: URL;
  try { url = new URL(u); } catch { return false; }
  return url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === '[::1]') && url.hash === '' && url.username === '' && url.password === '';
}

function send(res: ServerResponse, status: number, body: Uint8Array | string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}
function sendError(res: ServerResponse, status: number, code: AdmissionErrorCode, message: string): void {
  const extra: Record<string, string> = status === 401 ? { 'www-authenticate': 'Bearer' } : status === 503 ? { 'retry-after': '1' } : {};
  send(res, status, JSON.stringify({ error: code, message }), { 'content-type': 'application/json', ...extra });
}

/** Reads a body of at most `max` bytes; a longer one is malformed (§3.1 bounds every request). */
function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) { reject(malformed(`a request is at most ${max} bytes`)); req.resume(); return; }
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) { reject(malformed(`a request is at most ${max} bytes`)); req.destroy(); return; }
      parts.push(c);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
    req.on('error', reject);
  });
}

export async function startIssuer(opts: IssuerOptions): Promise<Issuer> {
  const limits: IssuerLimits = { ...DEFAULT_ISSUER_LIMITS, ...opts.limits };
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const now = opts.now ?? Date.now;
  const stats: Record<string, number> = { logins: 0, batches: 0, tokens: 0 };
  const count = (k: string, n = 1): void => { stats[k] = (stats[k] ?? 0) + n; };

  const initial = loadOrgState(opts.orgDir);
  // §6.3: a log that does not verify, or whose key in force is not ours, is not extended.
  const audit = verifyAuditLog(readAuditLog(initial.auditPath), initial.firstAdminKey);
  if (!equalBytes(audit.adminKey, ed25519PublicFromSeed(initial.adminSeed))) {
    throw new AdmissionError('INVALID_ARGUMENT', 'the admin key file is not the key in force in the audit log');
  }
  const holder = new OrgStateHolder(opts.orgDir, initial, (ok, detail) => {
    log(ok ? `issuer: reloaded: ${detail}` : `issuer: reload failed, keeping the previous files: ${detail}`);
    if (ok) armEpochTimer();
  });
  const store = new IssuerStore(opts.dataDir);
  const pending = new Map<string, { login: PendingLogin; redirect: string; expiresAt: number }>();
  const inFlight = new Map<string, number>();
  const chains = new Map<string, Promise<unknown>>();
  let active = 0;
  let epochTimer: NodeJS.Timeout | undefined;

  function logClosedEpochs(): number[] {
    const state = holder.current;
    const t = now();
    const closed = store.unloggedEpochs().filter((e) => {
      const k = state.policy.epochKeys.find((x) => x.epoch === e);
      return k === undefined || k.issueUntil <= t;
    });
    for (const epoch of closed) {
      const counts = store.countsOf(epoch);
      appendAudit(state.auditPath, state.firstAdminKey, state.adminSeed, counts.map((c) => ({ kind: 'token-count', epoch, member: c.member, count: c.count })), t);
      store.markLogged(epoch);
      log(`issuer: epoch ${epoch} closed: ${counts.length} members, ${counts.reduce((a, c) => a + c.count, 0)} tokens, counts appended to the audit log`);
    }
    return closed;
  }

  /** Fires when the issuing epoch ends, to log its counts (§3.5), then re-arms for the next. */
  function armEpochTimer(): void {
    clearTimeout(epochTimer);
    const t = now();
    const next = holder.current.policy.epochKeys.map((k) => k.issueUntil).filter((u) => u > t).sort((a, b) => a - b)[0];
    if (next === undefined) return;
    epochTimer = setTimeout(() => {
      try { logClosedEpochs(); } catch (e) { log(`issuer: could not append token counts: ${(e as Error).message}`); }
      armEpochTimer();
    }, Math.min(next - t + 1, 0x7fffffff));
    epochTimer.unref();
  }

  function sweepPending(t: number): void {
    for (const [k, p] of pending) if (p.expiresAt <= t) pending.delete(k);
  }

  // ---- endpoints (§3.5) -----------------------------------------------------------------------

  async function login(url: URL, res: ServerResponse): Promise<void> {
    const redirect = url.searchParams.get('redirect_uri') ?? '';
    if (!(isLoopbackRedirect(redirect) || (opts.redirectUris ?? []).includes(redirect))) {
      throw new HttpError(400, 'INVALID_ARGUMENT', 'redirect_uri must be a loopback http URI or one of the issuer\'s configured URIs');
    }
    // Redirect to the URI as parsed and checked, not to the raw text (configured URIs match exactly).
    const target = isLoopbackRedirect(redirect) ? new URL(redirect).href : redirect;
    const t = now();
    sweepPending(t);
    if (pending.size >= limits.maxPendingLogins) throw new HttpError(503, 'ISSUER_UNAVAILABLE', 'too many logins in progress');
    const { pending: p, url: auth } = await opts.directory.begin();
    if (pending.size >= limits.maxPendingLogins) throw new HttpError(503, 'ISSUER_UNAVAILABLE', 'too many logins in progress');
    pending.set(p.state, { login: p, redirect: target, expiresAt: t + limits.loginTimeoutMs });
    count('loginsStarted');
    send(res, 302, '', { location: auth.href });
  }

  async function callback(url: URL, res: ServerResponse): Promise<void> {
    const state = url.searchParams.get('state') ?? '';
    const p = pending.get(state);
    pending.delete(state);
    if (p === undefined || p.expiresAt <= now()) throw malformed('unknown or expired login');
    let fragment: string;
    try {
      const grant = await opts.directory.finish(url.searchParams, p.login);
      const secret = newSession();
      const t = now();
      const expiresAt = t + limits.sessionMs;
      store.putSession(sessionHash(secret), { member: grant.sub, createdAt: t, expiresAt, refreshToken: grant.refreshToken ?? null }, limits.maxSessionsPerMember);
      fragment = `session=${encodeSession(secret)}&expires=${expiresAt}`;
      count('logins');
    } catch (e) {
      if (!isAdmissionError(e, 'ADMISSION_REFUSED')) throw e;
      // The member's app learns the refusal on its own redirect URI, as it would learn a session.
      fragment = `error=ADMISSION_REFUSED`;
      count('loginsRefused');
    }
    send(res, 302, '', { location: `${p.redirect}#${fragment}` });
  }

  /** One session's requests run one after the other: the directory may rotate its refresh token. */
  function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    chains.set(key, tail);
    void tail.then(() => { if (chains.get(key) === tail) chains.delete(key); });
    return next;
  }

  async function tokens(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const secret = bearerSession(req.headers.authorization);
    const hash: SessionHash | undefined = secret && sessionHash(secret);
    const session = hash && store.getSession(hash, now());
    if (hash === undefined || session === undefined) {
      req.resume();
      throw new HttpError(401, 'ADMISSION_REQUIRED', 'no session, or an unknown or expired one: log in at /login');
    }
    const key = toHex(hash);
    const mine = inFlight.get(key) ?? 0;
    if (mine >= limits.maxConcurrentPerSession) { req.resume(); throw new HttpError(503, 'ISSUER_UNAVAILABLE', 'too many requests in progress for this session'); }
    inFlight.set(key, mine + 1);
    try {
      const body = await readBody(req, limits.maxBodyBytes);
      let request;
      try { request = decodeIssueRequest(body); } catch (e) { // 400 before anything is asked or counted
        if (isAdmissionError(e, 'ADMISSION_REFUSED')) throw malformed(e.message);
        throw e;
      }
      const n = request.blindedElements.length;
      await serialized(key, async () => {
        const { key: epochKey, secret: epochSecret } = issuingKey(holder.current, now());
        if (request.epoch !== epochKey.epoch) throw new AdmissionError('TOKEN_EPOCH', `epoch ${epochKey.epoch} is issuing, not ${request.epoch}`);
        const s = store.getSession(hash, now()); // again: a logout may have come while this waited
        if (s === undefined) throw new HttpError(401, 'ADMISSION_REQUIRED', 'the session ended');
        // §3.5: the directory says at each batch whether the member is still enabled.
        if (s.refreshToken === null) throw new AdmissionError('ADMISSION_REFUSED', 'the directory gave no refresh grant: log in again');
        let refreshed: string;
        try { refreshed = await opts.directory.recheck(s.member, s.refreshToken); } catch (e) {
          if (isAdmissionError(e, 'ADMISSION_REFUSED')) store.deleteSession(hash);
          throw e;
        }
        store.updateRefreshToken(hash, refreshed);
        // A refused batch counts nothing (§3.5): a cheap quota check first, so a member over
        // quota costs no evaluation, then the evaluation, then the atomic check-and-add.
        checkQuota(store.issued(request.epoch, s.member), n, holder.current.tokensPerEpoch);
        const response = evaluateIssueRequest(epochSecret, body);
        store.addIssued(request.epoch, s.member, n, holder.current.tokensPerEpoch);
        count('batches');
        count('tokens', n);
        send(res, 200, response, { 'content-type': 'application/octet-stream', 'sealpost-epoch-key': toBase64url(epochSecret.publicKey) });
      });
    } finally {
      const left = (inFlight.get(key) ?? 1) - 1;
      if (left === 0) inFlight.delete(key); else inFlight.set(key, left);
    }
  }

  function logout(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const secret = bearerSession(req.headers.authorization);
    if (secret === undefined) throw new HttpError(401, 'ADMISSION_REQUIRED', 'no session');
    store.deleteSession(sessionHash(secret));
    count('logouts');
    send(res, 204, '');
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://issuer.invalid');
    const path = `${req.method ?? ''} ${url.pathname}`;
    switch (path) {
      case 'GET /policy': req.resume(); send(res, 200, holder.current.signedPolicy, { 'content-type': 'application/octet-stream' }); return;
      case 'GET /login': req.resume(); return login(url, res);
      case 'GET /callback': req.resume(); return callback(url, res);
      case 'POST /tokens': return tokens(req, res);
      case 'POST /logout': return logout(req, res);
      default:
        req.resume();
        throw new HttpError(['/policy', '/login', '/callback', '/tokens', '/logout'].includes(url.pathname) ? 405 : 404, 'INVALID_ARGUMENT', `no ${path}`);
    }
  }

  const server: Server = createServer((req, res) => {
    // §3.5 "Web apps": the member endpoints answer any origin. They take no cookie, only the
    // bearer session, so another site's page can read nothing it could not already ask for.
    const cors = CORS_PATHS.has(new URL(req.url ?? '/', 'http://issuer.invalid').pathname);
    if (cors) for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    if (cors && req.method === 'OPTIONS') {
      req.resume();
      send(res, 204, '', CORS_PREFLIGHT);
      return;
    }
    if (active >= limits.maxConcurrentRequests) {
      req.resume();
      count('refusedBusy');
      sendError(res, 503, 'ISSUER_UNAVAILABLE', 'the issuer is at its limit of concurrent requests');
      return;
    }
    active++;
    res.on('close', () => { active--; });
    route(req, res).catch((e: unknown) => {
      let status = 500, code: AdmissionErrorCode = 'ISSUER_UNAVAILABLE', message = 'internal error';
      if (e instanceof HttpError) ({ status, code, message } = e);
      else if (isAdmissionError(e)) {
        ({ code, message } = e);
        status = STATUS[code] ?? 500;
      } else log(`issuer: internal error: ${(e as Error).message}`);
      count(`${status} ${code}`);
      if (!res.headersSent) sendError(res, status, code, message);
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // A broken request is answered without logging who sent it.
  server.on('clientError', (_e, socket) => { count('clientErrors'); socket.destroy(); });

  // §3.5, §6.3: counts of epochs that closed while the issuer was down go in first.
  logClosedEpochs();
  armEpochTimer();
  if (opts.watch !== false) holder.watch();
  const sweeper = setInterval(() => { const t = now(); sweepPending(t); store.sweepSessions(t); }, 60_000);
  sweeper.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  log(`issuer: listening, policy serial ${holder.current.policy.serial}, ${holder.current.secrets.size} epoch secrets, quota ${holder.current.tokensPerEpoch} tokens per member per epoch`);

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    reload: () => holder.reload(),
    logClosedEpochs,
    stats: () => ({ ...stats, sessions: store.sessionCount(), pendingLogins: pending.size }),
    async close() {
      clearTimeout(epochTimer);
      clearInterval(sweeper);
      holder.close();
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
      try { logClosedEpochs(); } catch (e) { log(`issuer: could not append token counts: ${(e as Error).message}`); }
      log(`issuer: stopped; ${Object.entries(stats).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      await store.close();
    },
  };
}
