// Part of suite e (relay.ts): the added cost of CREATE on a closed relay (spec/protocol.md
// §5.12: one RFC 9497 Evaluate per CREATE and the spent id in the mailbox's transaction)
// against an open one. Two relay processes with the same settings, one closed with a fresh
// organisation (bench/lib/organisation.ts); rounds alternate between them so that both see the
// same machine, and the table reports medians. Tokens are issued before the clock starts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelayConnection } from '../../src/client/node/connection.js';
import { createMailbox, newMailboxKeys } from '../../src/client/mailbox.js';
import { now, percentile } from '../lib/measure.js';
import { makeOrganisation } from '../lib/organisation.js';
import { relayCpuUs, RelayProcess } from '../lib/relay-process.js';
import { fmt, type Table } from '../lib/report.js';

export interface CreateRun {
  readonly creates: number;
  readonly createsPerSec: number;
  /** CREATE → CREATED, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Relay process CPU per CREATE, µs. */
  readonly cpuUsPerCreate: number;
}

export interface AdmissionResult { readonly rounds: number; readonly connections: number; readonly open: readonly CreateRun[]; readonly closed: readonly CreateRun[] }

/** CREATE limits lifted: the benchmark measures the check, not the budgets. */
const LIFTED_CREATES = { mailboxCreatesPerHour: 1_000_000_000, mailboxCreateBurst: 1_000_000_000, keyOpsPerSecond: 1_000_000, keyOpsBurst: 1_000_000 } as const;

async function createRound(relay: RelayProcess, conns: readonly RelayConnection[], perConnection: number, tokens: Uint8Array[] | null): Promise<CreateRun> {
  const latencies: number[] = [];
  const s0 = await relay.sample();
  const t0 = now();
  await Promise.all(conns.map(async (conn) => {
    for (let i = 0; i < perConnection; i++) {
      const keys = newMailboxKeys();
      const token = tokens?.pop();
      const t = now();
      await createMailbox(conn, keys, token ? { token } : {});
      latencies.push(now() - t);
    }
  }));
  const seconds = (now() - t0) / 1000;
  const s1 = await relay.sample();
  const n = latencies.length;
  return { creates: n, createsPerSec: n / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), cpuUsPerCreate: relayCpuUs(s0, s1) / n };
}

export async function measureAdmission(opts: { quick: boolean; maxLifetimeMs: number; status(s: string): void }): Promise<AdmissionResult> {
  const rounds = opts.quick ? 2 : 4;
  const connections = 4;
  const perConnection = opts.quick ? 25 : 250;
  const dirs = [mkdtempSync(join(tmpdir(), 'sealpost-bench-')), mkdtempSync(join(tmpdir(), 'sealpost-bench-')), mkdtempSync(join(tmpdir(), 'sealpost-bench-'))];
  const org = makeOrganisation(dirs[2]!);
  const base = { host: '127.0.0.1', port: 0, metricsPort: null, logLevel: 'error', ...LIFTED_CREATES };
  opts.status('relay: open and closed relays for CREATE');
  const open = await RelayProcess.start({ ...base, dataDir: dirs[0] }, opts.maxLifetimeMs);
  const conns: RelayConnection[] = [];
  try {
    const closed = await RelayProcess.start({ ...base, dataDir: dirs[1], ...org.relayOptions }, opts.maxLifetimeMs);
    try {
      const openConns = await Promise.all(Array.from({ length: connections }, () => RelayConnection.connect(open.address)));
      const closedConns = await Promise.all(Array.from({ length: connections }, () => RelayConnection.connect(closed.address)));
      conns.push(...openConns, ...closedConns);
      const tokens = org.tokens((rounds + 1) * connections * perConnection);
      // Warm-up (JIT, LMDB growth), not recorded.
      await createRound(open, openConns, 20, null);
      await createRound(closed, closedConns, 20, tokens);
      const openRuns: CreateRun[] = [], closedRuns: CreateRun[] = [];
      for (let k = 0; k < rounds; k++) {
        opts.status(`relay: CREATE open vs closed, round ${k + 1} of ${rounds}`);
        openRuns.push(await createRound(open, openConns, perConnection, null));
        closedRuns.push(await createRound(closed, closedConns, perConnection, tokens));
      }
      return { rounds, connections, open: openRuns, closed: closedRuns };
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      await closed.stop().catch(() => closed.kill());
    }
  } finally {
    await open.stop().catch(() => open.kill());
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

export function admissionTable(a: AdmissionResult): Table {
  const med = (xs: readonly CreateRun[], f: (r: CreateRun) => number): number => percentile(xs.map(f), 50);
  const row = (name: string, xs: readonly CreateRun[]): string[] => [
    name, fmt(med(xs, (r) => r.createsPerSec)), fmt(med(xs, (r) => r.p50Ms)), fmt(med(xs, (r) => r.p99Ms)), fmt(med(xs, (r) => r.cpuUsPerCreate)),
  ];
  const added = med(a.closed, (r) => r.cpuUsPerCreate) - med(a.open, (r) => r.cpuUsPerCreate);
  return {
    title: `CREATE on an open vs a closed relay (${a.connections} connections, one CREATE in flight each, alternating rounds, median of ${a.rounds})`,
    columns: ['relay', 'CREATE/s', 'p50 ms', 'p99 ms', 'relay CPU µs/CREATE'],
    rows: [row('open', a.open), row('closed (admission token)', a.closed)],
    notes: [
      `Added relay CPU per CREATE on the closed relay: ${fmt(added)} µs (the token's RFC 9497 Evaluate and its spent id, written in the mailbox's transaction).`,
      `Each round: ${fmt(a.open[0]?.creates ?? 0)} CREATEs per relay; tokens issued before the clock starts. Relay CPU counts every thread of the relay process; the load generator shares the machine.`,
    ],
  };
}
