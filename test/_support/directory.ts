/// <reference path="./oidc-provider.d.ts" />
// A real OpenID Connect directory (oidc-provider, a certified implementation) in-process, with
// test users that can be disabled, and a real issuer (src/issuer) in front of an organisation
// directory made by the admin functions. Everything on loopback, on free ports, stopped by
// stop(). `memberRequest` talks to the issuer from 127.0.0.2, so privacy scans can look for
// the member's address apart from the directory's and the issuer's.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, toBase64url } from '../../src/crypto/index.js';
import { Directory } from '../../src/issuer/directory.js';
import { startIssuer, type Issuer, type IssuerOptions } from '../../src/issuer/server.js';
import { createOrganisation, type OrgSetup } from './org-setup.js';

export const MEMBER_ADDRESS = '127.0.0.2';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, host, () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface TestDirectory {
  readonly issuerUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Known users and whether the directory lets them in; tests flip `enabled`. */
  readonly users: Map<string, { enabled: boolean }>;
  stop(): Promise<void>;
}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { s += c; if (s.length > 4096) req.destroy(); });
    req.on('end', () => resolve(new URLSearchParams(s)));
    req.on('error', reject);
  });
}

/**
 * Starts oidc-provider with one confidential client (secret, PKCE S256, refresh tokens) and a
 * minimal login interaction: a form with a user name; an unknown or disabled user is answered
 * `access_denied`, as a directory answers a non-member. findAccount refuses a disabled user,
 * so the refresh grant fails once an account is disabled.
 */
export async function startDirectory(redirectUris: string[], users: string[] = ['alice', 'bob'], fixedPort?: number): Promise<TestDirectory> {
  const { default: Provider } = await import('oidc-provider');
  const port = fixedPort ?? await freePort();
  const issuerUrl = `http://127.0.0.1:${port}`;
  const clientId = 'sealpost-issuer';
  const clientSecret = toBase64url(randomBytes(32));
  const known = new Map(users.map((u) => [u, { enabled: true }]));
  const provider = new Provider(issuerUrl, {
    clients: [{
      client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris,
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access'],
    claims: { openid: ['sub'] },
    cookies: { keys: [toBase64url(randomBytes(32))] },
    findAccount: (_ctx: unknown, id: string) => (known.get(id)?.enabled === true ? { accountId: id, claims: () => ({ sub: id }) } : undefined),
    // The issuer asks for offline_access; the provider then grants a refresh token without a consent prompt.
    issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(g: string): boolean }) => client.grantTypeAllowed('refresh_token'),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 86_400, RefreshToken: 86_400 },
  });
  const handle = provider.callback();
  const server: Server = createServer((req, res) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(req.url ?? '');
    if (m === null) { handle(req, res); return; }
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      if (m[2] === undefined) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<form method="post" action="/interaction/${details.uid}/login"><input name="login"><button>Log in</button></form>`);
        return;
      }
      const login = (await readForm(req)).get('login') ?? '';
      if (known.get(login)?.enabled !== true) {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'not a member' }, { mergeWithLastSubmission: false });
        return;
      }
      const grant = new provider.Grant({ accountId: login, clientId: details.params['client_id']! });
      grant.addOIDCScope('openid offline_access');
      await provider.interactionFinished(req, res, { login: { accountId: login }, consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: false });
    })().catch((e: unknown) => { if (!res.headersSent) { res.writeHead(500); res.end(String((e as Error).message)); } });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    issuerUrl, clientId, clientSecret, users: known,
    stop: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

// ---- a member's HTTP client: manual redirects, a cookie jar, requests from MEMBER_ADDRESS ------

export interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: Uint8Array }

export function memberRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers, localAddress: MEMBER_ADDRESS, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(parts)) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Follows redirects like a browser would, with one cookie jar, until `stop` says so or a non-redirect. */
export class Browser {
  private readonly jar = new Map<string, string>();
  async go(url: string, init: { method?: string; form?: Record<string, string> } = {}, stop: (u: string) => boolean = () => false): Promise<{ url: string; answer?: Answer }> {
    let method = init.method ?? 'GET';
    let body: string | undefined = init.form ? new URLSearchParams(init.form).toString() : undefined;
    for (let hops = 0; hops < 20; hops++) {
      if (stop(url)) return { url };
      const headers: Record<string, string> = {};
      if (this.jar.size > 0) headers['cookie'] = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const answer = await memberRequest(url.split('#')[0]!, { method, headers, ...(body !== undefined ? { body } : {}) });
      const setCookie = answer.headers['set-cookie'];
      for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
        const [pair] = c.split(';');
        const i = pair!.indexOf('=');
        const name = pair!.slice(0, i), value = pair!.slice(i + 1);
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.jar.delete(name); else this.jar.set(name, value);
      }
      const location = answer.headers['location'];
      if (answer.status < 300 || answer.status >= 400 || typeof location !== 'string') return { url, answer };
      url = new URL(location, url).href;
      method = 'GET';
      body = undefined;
    }
    throw new Error('too many redirects');
  }
}

// ---- the issuer in front of the directory --------------------------------------------------------

export interface IssuerFixture {
  readonly directory: TestDirectory;
  readonly issuer: Issuer;
  readonly org: OrgSetup;
  readonly dataDir: string;
  readonly logs: string[];
  /** Logs `user` in through the directory; returns the session (base64url) or the error of the fragment. */
  login(user: string, redirect?: string): Promise<{ session?: string; expires?: number; error?: string }>;
  tokens(session: string | undefined, body: Uint8Array): Promise<Answer>;
  restartIssuer(extra?: Partial<IssuerOptions>): Promise<Issuer>;
  stop(): Promise<void>;
}

/** A directory, an organisation (keys, an epoch open now, a signed policy) and an issuer. */
export async function startIssuerFixture(opts: {
  users?: string[]; quota?: number; epochs?: number; epochMs?: number; issuer?: Partial<IssuerOptions>; now?: () => number;
} = {}): Promise<IssuerFixture> {
  const root = mkdtempSync(join(tmpdir(), 'sealpost-issuer-'));
  const org = createOrganisation(join(root, 'org'), { quota: opts.quota ?? 64, epochs: opts.epochs ?? 2, epochMs: opts.epochMs ?? 86_400_000, ...(opts.now ? { now: opts.now() } : {}) });
  const dataDir = join(root, 'data');
  const port = await freePort();
  const callbackUrl = `http://127.0.0.1:${port}/callback`;
  const directory = await startDirectory([callbackUrl], opts.users);
  const logs: string[] = [];
  const dir = await Directory.discover({ issuer: directory.issuerUrl, clientId: directory.clientId, clientSecret: directory.clientSecret, callbackUrl, allowHttp: true });
  const start = (extra: Partial<IssuerOptions> = {}): Promise<Issuer> => startIssuer({
    orgDir: org.dir, dataDir, directory: dir, port, log: (l) => logs.push(l), ...(opts.now ? { now: opts.now } : {}), ...opts.issuer, ...extra,
  });
  let issuer = await start();
  const fixture: IssuerFixture = {
    directory, org, dataDir, logs,
    get issuer() { return issuer; },
    async login(user, redirect = 'http://127.0.0.1:9/done') {
      const b = new Browser();
      const first = await b.go(`${issuer.url}/login?redirect_uri=${encodeURIComponent(redirect)}`, {}, (u) => u.includes('/interaction/'));
      if (!first.url.includes('/interaction/')) throw new Error(`login did not reach the directory: ${first.answer?.status} ${Buffer.from(first.answer?.body ?? []).toString()}`);
      const done = await b.go(`${first.url}/login`, { method: 'POST', form: { login: user } }, (u) => u.startsWith(redirect));
      if (!done.url.startsWith(redirect)) throw new Error(`login did not come back: ${done.url} ${done.answer?.status} ${Buffer.from(done.answer?.body ?? []).toString()}`);
      const f = new URLSearchParams(new URL(done.url).hash.slice(1));
      return {
        ...(f.get('session') ? { session: f.get('session')! } : {}),
        ...(f.get('expires') ? { expires: Number(f.get('expires')) } : {}),
        ...(f.get('error') ? { error: f.get('error')! } : {}),
      };
    },
    tokens: (session, body) => memberRequest(`${issuer.url}/tokens`, {
      method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...(session ? { authorization: `Bearer ${session}` } : {}) },
    }),
    async restartIssuer(extra) { await issuer.close().catch(() => undefined); issuer = await start(extra); return issuer; },
    async stop() {
      await issuer.close().catch(() => undefined);
      await directory.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return fixture;
}
