// An organisation for closed-relay tests (spec/admission.md): its key, epoch keys, a signed
// policy and the files a closed relay reads (§7.4), and a small stand-in for the issuer's HTTP
// endpoints GET /policy and POST /tokens (§3.5) built on the pure evaluateIssueRequest, which
// records every request body it saw. Login is not here: a session is a fixed bearer string.
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  checkQuota, encodeEpochSecrets, epochKeyPair, evaluateIssueRequest, finishTokens, isAdmissionError, issuingEpoch, prepareTokens, signPolicy,
  type EpochSecret, type OrgPolicy,
} from '../../src/admission/index.js';
import { ed25519KeyPair, toBase64url, type Ed25519KeyPair } from '../../src/crypto/index.js';

const HOUR = 3_600_000;

export interface EpochWindow { epoch: number; issueFrom: number; issueUntil: number; redeemUntil: number }

export interface Organisation {
  readonly key: Ed25519KeyPair;
  readonly orgPublicKey: string;
  secrets: EpochSecret[];
  policy: OrgPolicy;
  signed: Uint8Array;
  /** Re-signs with these changes, serial + 1, and rewrites the files. */
  update(change: Partial<OrgPolicy> & { windows?: EpochWindow[] }): void;
  /** The relay's settings for this organisation's files. */
  readonly relayOptions: { policyFile: string; orgPublicKey: string; epochSecretsFile: string };
  /** `n` tokens of `epoch`, issued directly (no HTTP). */
  tokens(n: number, epoch?: number): Uint8Array[];
}

/**
 * Epoch 1 closed an hour ago, epoch 2 is issuing now, epoch 3 opens in an hour (default
 * windows). Files are written under `dir`.
 */
export function makeOrganisation(dir: string, opts: { windows?: EpochWindow[]; retentionSeconds?: number; maxDevicesPerMember?: number; now?: number } = {}): Organisation {
  const now = opts.now ?? Date.now();
  const windows = opts.windows ?? [
    { epoch: 1, issueFrom: now - 3 * HOUR, issueUntil: now - 2 * HOUR, redeemUntil: now - HOUR },
    { epoch: 2, issueFrom: now - HOUR, issueUntil: now + HOUR, redeemUntil: now + 2 * HOUR },
    { epoch: 3, issueFrom: now + HOUR, issueUntil: now + 3 * HOUR, redeemUntil: now + 4 * HOUR },
  ];
  const key = ed25519KeyPair();
  const policyFile = join(dir, 'policy.bin');
  const epochSecretsFile = join(dir, 'epoch-secrets.json');
  const org: Organisation = {
    key, orgPublicKey: toBase64url(key.publicKey), secrets: [],
    policy: null as unknown as OrgPolicy, signed: new Uint8Array(0),
    relayOptions: { policyFile, orgPublicKey: toBase64url(key.publicKey), epochSecretsFile },
    update(change) {
      const { windows: w, ...rest } = change;
      if (w) {
        const known = new Map(org.secrets.map((s) => [s.epoch, s]));
        org.secrets = w.map((x) => known.get(x.epoch) ?? epochKeyPair(x.epoch));
      }
      const keys = w ?? org.policy.epochKeys;
      org.policy = {
        ...org.policy, ...rest, serial: (org.policy?.serial ?? 0) + 1, issuedAt: Date.now(),
        epochKeys: keys.map((x) => ({ epoch: x.epoch, publicKey: org.secrets.find((s) => s.epoch === x.epoch)!.publicKey, issueFrom: x.issueFrom, issueUntil: x.issueUntil, redeemUntil: x.redeemUntil })),
      };
      org.signed = signPolicy(org.policy, key.seed);
      writeFileSync(policyFile, org.signed);
      writeFileSync(epochSecretsFile, encodeEpochSecrets(org.secrets), { mode: 0o600 });
    },
    tokens(n, epoch = issuingEpoch(org.policy, Date.now()).epoch) {
      const secret = org.secrets.find((s) => s.epoch === epoch)!;
      const out: Uint8Array[] = [];
      while (out.length < n) {
        const { pending, request } = prepareTokens(epoch, Math.min(64, n - out.length));
        out.push(...finishTokens(pending, evaluateIssueRequest(secret, request), secret.publicKey));
      }
      return out;
    },
  };
  org.policy = {
    serial: 0, issuedAt: now, retentionSeconds: opts.retentionSeconds ?? 7 * 86_400, minTimerSeconds: 0, defaultTimerSeconds: 0,
    maxDevicesPerMember: opts.maxDevicesPerMember ?? 4, partnerRelays: [], epochKeys: [],
  };
  org.update({ windows });
  return org;
}

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
