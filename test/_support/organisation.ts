// A stand-in for the issuer's HTTP endpoints GET /policy and POST /tokens (spec/admission.md
// §3.5), built on the pure evaluateIssueRequest, which records every request body it saw; the
// organisation itself is bench/lib/organisation.ts. Login is not here: a session is a fixed
// bearer string.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkQuota, evaluateIssueRequest, isAdmissionError, issuingEpoch } from '../../src/admission/index.js';
import { toBase64url } from '../../src/crypto/index.js';
import type { Organisation } from '../../bench/lib/organisation.js';

export { makeOrganisation, type Organisation, type EpochWindow } from '../../bench/lib/organisation.js';

export interface IssuerStandIn {
  readonly url: string;
  /** Every POST /tokens body, as received. */
  readonly requests: Uint8Array[];
  /** Every response body sent for /tokens. */
  readonly responses: Uint8Array[];
  /** Sessions (bearer strings) the issuer accepts; remove one to disable a member. */
  readonly sessions: Set<string>;
  /** Makes the next answers show another key in Sealpost-Epoch-Key (a key-tagging issuer). */
  showKey: Uint8Array | null;
  close(): Promise<void>;
}

const body = (req: IncomingMessage): Promise<Uint8Array> => new Promise((resolve, reject) => {
  const parts: Buffer[] = [];
  req.on('data', (d: Buffer) => parts.push(d));
  req.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
  req.on('error', reject);
});

/** The §3.5 status of an admission code. */
const STATUS: Record<string, number> = { ADMISSION_REQUIRED: 401, ADMISSION_REFUSED: 400, TOKEN_EPOCH: 409, QUOTA_EXCEEDED: 429 };

/** GET /policy and POST /tokens of spec/admission.md §3.5 on 127.0.0.1, with a per-session quota. */
export async function startIssuerStandIn(org: Organisation, opts: { quota?: number } = {}): Promise<IssuerStandIn> {
  const issued = new Map<string, number>();
  const quota = opts.quota ?? 1_000;
  const fail = (res: import('node:http').ServerResponse, status: number, error: string): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error, message: error.toLowerCase() }));
  };
  const standIn: IssuerStandIn = {
    url: '', requests: [], responses: [], sessions: new Set(['member-session']), showKey: null,
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url === '/policy') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(org.signed));
        return;
      }
      if (req.method !== 'POST' || req.url !== '/tokens') { fail(res, 404, 'NOT_FOUND'); return; }
      const bytes = await body(req);
      const session = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (session === undefined) { fail(res, 401, 'ADMISSION_REQUIRED'); return; }
      if (!standIn.sessions.has(session)) { fail(res, 403, 'ADMISSION_REFUSED'); return; }
      standIn.requests.push(bytes);
      try {
        const epoch = issuingEpoch(org.policy, Date.now());
        const secret = org.secrets.find((s) => s.epoch === epoch.epoch)!;
        const count = bytes[5] ?? 0;
        checkQuota(issued.get(session) ?? 0, count, quota);
        const answer = evaluateIssueRequest(secret, bytes);
        issued.set(session, (issued.get(session) ?? 0) + count);
        standIn.responses.push(answer);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'sealpost-epoch-key': toBase64url(standIn.showKey ?? secret.publicKey) }).end(Buffer.from(answer));
      } catch (e) {
        if (isAdmissionError(e)) fail(res, STATUS[e.code] ?? 400, e.code);
        else fail(res, 500, 'INTERNAL');
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  (standIn as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return standIn;
}
