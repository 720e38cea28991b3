// Suite: tokens issued per second per core (spec/admission.md §3.5), batches of 1 and 32,
// through the issuer's HTTP path with real sessions: a real OpenID Connect directory
// (oidc-provider) in this process answers the refresh grant the issuer makes at each batch.
// Requests are prepared before timing; the process's CPU time covers the issuer, the
// directory and the HTTP client together, so tokens per CPU-second is a floor for the issuer.
// The VOPRF evaluation alone (evaluateIssueRequest, no HTTP, no directory) is the ceiling.
import { epochKeyPair, evaluateIssueRequest, issuingEpoch, prepareTokens } from '../../src/admission/index.js';
import { startIssuerFixture } from '../../test/_support/directory.js';
import { fmt, type Table } from '../lib/report.js';
import type { Suite, SuiteContext } from '../lib/suite.js';

interface Row { readonly batch: number; readonly batchesPerSec: number; readonly tokensPerSec: number; readonly tokensPerCpuSec: number; readonly msPerBatch: number }
export interface AdmissionBenchResult {
  readonly budgetMs: number;
  readonly sessions: number;
  readonly http: readonly Row[];
  readonly evaluateOnly: readonly { readonly batch: number; readonly tokensPerSec: number }[];
}

const SESSIONS = 4;

async function measureHttp(batch: number, ms: number, fx: Awaited<ReturnType<typeof startIssuerFixture>>, sessions: string[]): Promise<Row> {
  const epoch = issuingEpoch(fx.org.policy(), Date.now()).epoch;
  const requests = Array.from({ length: 8 }, () => prepareTokens(epoch, batch).request);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let batches = 0;
  await Promise.all(sessions.map(async (s, i) => {
    for (let k = i; performance.now() - t0 < ms; k++) {
      const a = await fx.tokens(s, requests[k % requests.length]!);
      if (a.status !== 200) throw new Error(`issuer answered ${a.status}: ${Buffer.from(a.body).toString()}`);
      batches++;
    }
  }));
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1e6;
  return { batch, batchesPerSec: batches / wall, tokensPerSec: (batches * batch) / wall, tokensPerCpuSec: (batches * batch) / cpu, msPerBatch: (wall * 1000 * sessions.length) / batches };
}

function measureEvaluate(batch: number, ms: number): { batch: number; tokensPerSec: number } {
  const key = epochKeyPair(1);
  const request = prepareTokens(1, batch).request;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) { evaluateIssueRequest(key, request); n++; }
  return { batch, tokensPerSec: (n * batch) / ((performance.now() - t0) / 1000) };
}

export async function runAdmission(ctx: SuiteContext): Promise<AdmissionBenchResult> {
  ctx.progress.status('admission: directory, organisation and issuer');
  const users = Array.from({ length: SESSIONS }, (_, i) => `member-${i}`);
  const fx = await startIssuerFixture({ users, quota: 0xffffffff, issuer: { log: () => undefined } });
  try {
    const sessions: string[] = [];
    for (const u of users) sessions.push((await fx.login(u)).session!);
    const slice = ctx.budgetMs / 4;
    const http: Row[] = [];
    for (const batch of [1, 32]) {
      ctx.progress.status(`admission: POST /tokens, batches of ${batch}`);
      await measureHttp(batch, Math.min(300, slice / 4), fx, sessions); // warm-up
      http.push(await measureHttp(batch, slice, fx, sessions));
    }
    ctx.progress.status('admission: evaluation alone');
    const evaluateOnly = [1, 32].map((b) => measureEvaluate(b, slice));
    ctx.progress.done();
    return { budgetMs: ctx.budgetMs, sessions: SESSIONS, http, evaluateOnly };
  } finally { await fx.stop(); }
}

export function admissionTable(r: AdmissionBenchResult): Table {
  return {
    title: 'Admission tokens issued (spec/admission.md §3.5): the issuer\'s HTTP path with real sessions, and the evaluation alone',
    columns: ['batch', 'tokens/s', 'tokens per CPU-second (per core)', 'batches/s', 'ms per batch', 'evaluation alone, tokens/s'],
    rows: r.http.map((h) => [String(h.batch), fmt(h.tokensPerSec), fmt(h.tokensPerCpuSec), fmt(h.batchesPerSec), fmt(h.msPerBatch), fmt(r.evaluateOnly.find((e) => e.batch === h.batch)?.tokensPerSec)]),
    notes: [
      `${r.sessions} members' sessions in parallel, one request in flight each; every batch includes the issuer's refresh grant at the directory (oidc-provider in the same process), the LMDB quota check-and-add and a DLEQ proof for the batch.`,
      'Tokens per CPU-second counts the CPU of the whole process (issuer, directory, HTTP client): a floor for the issuer alone on one core.',
    ],
  };
}

export const admissionSuite: Suite = {
  id: 'admission',
  title: 'j. Admission: tokens issued per second per core, batches of 1 and 32',
  budget: { full: 20_000, quick: 1_000 },
  measure: (ctx) => runAdmission(ctx),
  render: (result) => ({ tables: [admissionTable(result as AdmissionBenchResult)], targets: [] }),
};
