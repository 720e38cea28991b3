// `sealpost web --relay ADDRESS [--host H] [--port P]` (spec/client.md §13): serves the web
// client, one HTML page and its script, on loopback by default. The page runs the SDK in
// the browser and talks to the relay itself; this server only hands out the two files and
// sees nothing of what the page does. http://127.0.0.1 is a secure context, so IndexedDB,
// Web Locks and WebCrypto work; anything else needs https:// in front (README).
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRelayAddress } from '../wire/index.js';

const USAGE = 'usage: sealpost web --relay ADDRESS [--host 127.0.0.1] [--port 8080]';
/** The bundled web client, built by scripts/build-browser.mjs next to this folder. */
const APP = new URL('../web/static/app.js', import.meta.url);

const CSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data:; connect-src ws: wss:; base-uri 'none'; form-action 'none'";

const escapeAttr = (s: string): string => s.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page: the relay address rides in a meta tag; app.js builds everything else. */
export function pageHtml(relay: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="sealpost-relay" content="${escapeAttr(relay)}"><title>Sealpost</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:0;background:#f4f4f2;color:#222}
main{max-width:860px;margin:0 auto;padding:16px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px;margin:0 0 12px}
h1{font-size:20px}h2{font-size:16px;margin:0 0 8px}
input{font:inherit;padding:4px 6px;min-width:16em}button{font:inherit;padding:4px 10px;margin:2px}
.cols{display:grid;grid-template-columns:260px 1fr;gap:12px}
.contact{display:block;width:100%;text-align:left}.contact.on{font-weight:bold}
.verified{color:#176b2c}.unverified{color:#a15c00}
#log{height:260px;overflow-y:auto;border:1px solid #eee;padding:6px;margin:6px 0}
.in{color:#123e7a}.out{color:#333;text-align:right}
.link{word-break:break-all;font:12px monospace}.code{font:18px monospace;letter-spacing:1px}
#qr{width:min(100%,360px);image-rendering:pixelated}
#status{min-height:1.4em;color:#a11}
</style></head>
<body><main><h1>Sealpost</h1><p id="status" role="status"></p><div id="app">Loading…</div></main>
<script type="module" src="/app.js"></script></body></html>
`;
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.writeHead(status, {
    'content-type': type, 'content-security-policy': CSP, 'cache-control': 'no-store',
    'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY',
  });
  res.end(body);
}

interface WebArgs { relay: string; host: string; port: number }

function parseArgs(argv: readonly string[]): WebArgs | string {
  const out: WebArgs = { relay: '', host: '127.0.0.1', port: 8080 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i], value = argv[++i];
    if (value === undefined) return `${flag} needs a value`;
    if (flag === '--relay') out.relay = value;
    else if (flag === '--host') out.host = value;
    else if (flag === '--port') out.port = Number(value);
    else return `unknown option ${flag}`;
  }
  try { parseRelayAddress(out.relay); } catch { return 'a --relay ADDRESS (sealpost+ws[s]://FINGERPRINT@HOST:PORT) is required'; }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) return '--port must be 0 .. 65535';
  return out;
}

/** Serves until SIGINT/SIGTERM; resolves with the exit code. */
export async function webCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { console.log(USAGE); return 0; }
  const args = parseArgs(argv);
  if (typeof args === 'string') { console.error(`sealpost web: ${args}\n${USAGE}`); return 2; }
  let app: Uint8Array;
  try {
    app = readFileSync(APP);
  } catch {
    console.error(`sealpost web: ${APP.pathname} is missing: build it with \`npm run build\``);
    return 1;
  }
  const page = pageHtml(args.relay);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/') return send(res, 200, 'text/html; charset=utf-8', page);
    if (path === '/app.js') return send(res, 200, 'text/javascript; charset=utf-8', app);
    send(res, 404, 'text/plain', 'not found\n');
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(args.port, args.host, resolve); });
  const { port } = server.address() as AddressInfo;
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  console.log(`Sealpost web client: http://${host}:${port}/  (relay ${args.relay})`);
  return new Promise<number>((done) => {
    const stop = (): void => { server.close(() => done(0)); server.closeAllConnections(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
