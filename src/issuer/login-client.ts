// A native app's login to the issuer (spec/admission.md §3.5, RFC 8252 §7.3): a loopback
// redirect receiver on 127.0.0.1 with a random path, the login URL for the member's browser,
// and a tiny page that posts the URL fragment (where the issuer puts the session, so that no
// server log sees it) back to the receiver. Node only; the SDK's helper calls it.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdmissionError } from '../admission/index.js';
import { randomBytes, toBase64url } from '../crypto/index.js';

export interface IssuerLogin { readonly session: string; readonly expiresAt: number }

export interface LoginOptions {
  /** The issuer's base URL, e.g. https://issuer.example.org */
  readonly issuerUrl: string;
  /** Called with the URL to open in a browser. */
  readonly onLoginUrl: (url: string) => void;
  /** Give up after this long (default 10 minutes, the issuer's own limit for a login). */
  readonly timeoutMs?: number;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>Sealpost login</title><p id="m">Finishing the login…</p>
<script>fetch(location.pathname,{method:'POST',body:location.hash.slice(1)}).then(function(r){
document.getElementById('m').textContent=r.ok?'Logged in. You can close this window.':'The login did not complete.';});history.replaceState(null,'',location.pathname);</script>`;

/**
 * Runs the login: resolves with the session once the browser comes back, ADMISSION_REFUSED if
 * the directory refused the member, ADMISSION_REQUIRED if nothing came back in time.
 */
export function loginWithLoopback(opts: LoginOptions): Promise<IssuerLogin> {
  const path = `/sealpost-login/${toBase64url(randomBytes(16))}`; // unguessable by other local processes
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      server.close();
      setImmediate(() => server.closeAllConnections());
      fn();
    };
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== path) { req.resume(); res.writeHead(404).end(); return; }
      if (req.method === 'GET') { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE); return; }
      if (req.method !== 'POST') { req.resume(); res.writeHead(405).end(); return; }
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { body += c; if (body.length > 1024) req.destroy(); });
      req.on('end', () => {
        const f = new URLSearchParams(body);
        const session = f.get('session'), expires = Number(f.get('expires'));
        if (session !== null && /^[A-Za-z0-9_-]{43}$/.test(session) && Number.isSafeInteger(expires)) {
          res.writeHead(204).end();
          finish(() => resolve({ session, expiresAt: expires }));
        } else if (f.get('error') !== null) {
          res.writeHead(403).end();
          finish(() => reject(new AdmissionError('ADMISSION_REFUSED', `the issuer refused the login (${f.get('error')})`)));
        } else {
          res.writeHead(400).end();
        }
      });
    });
    const timer = setTimeout(() => finish(() => reject(new AdmissionError('ADMISSION_REQUIRED', 'the login did not complete in time'))), opts.timeoutMs ?? 10 * 60_000);
    server.on('error', (e) => finish(() => reject(e)));
    server.listen(0, '127.0.0.1', () => {
      const redirect = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
      const login = new URL('login', opts.issuerUrl.endsWith('/') ? opts.issuerUrl : `${opts.issuerUrl}/`);
      login.searchParams.set('redirect_uri', redirect);
      opts.onLoginUrl(login.href);
    });
  });
}
