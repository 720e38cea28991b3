// Prometheus metrics: counters, gauges and histograms only, with labels drawn from closed sets
// (frame types, error names, close codes). Never a mailbox id, a key or an address.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const escapeLabel = (v: string): string => v.replace(/["\\\n]/g, '_');

interface Metric { readonly name: string; readonly help: string; readonly type: 'counter' | 'gauge' | 'histogram'; render(): string[] }

/** A counter, optionally with one label whose values come from a closed set. */
export class Counter implements Metric {
  readonly type = 'counter' as const;
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, private readonly label?: string) {}
  inc(labelValue = '', n = 1): void {
    this.values.set(labelValue, (this.values.get(labelValue) ?? 0) + n);
  }
  get(labelValue = ''): number { return this.values.get(labelValue) ?? 0; }
  total(): number { let t = 0; for (const v of this.values.values()) t += v; return t; }
  /** Values by label value (for the periodic stats log line). */
  byLabel(): Record<string, number> { return Object.fromEntries(this.values); }
  render(): string[] {
    if (this.values.size === 0) return this.label ? [] : [`${this.name} 0`];
    return [...this.values].map(([k, v]) => `${this.name}${this.label ? `{${this.label}="${escapeLabel(k)}"}` : ''} ${v}`);
  }
}

export class Gauge implements Metric {
  readonly type = 'gauge' as const;
  private value = 0;
  constructor(readonly name: string, readonly help: string, private readonly collect?: () => number) {}
  set(v: number): void { this.value = v; }
  inc(n = 1): void { this.value += n; }
  dec(n = 1): void { this.value -= n; }
  get(): number { return this.collect ? this.collect() : this.value; }
  render(): string[] { return [`${this.name} ${this.get()}`]; }
}

export class Histogram implements Metric {
  readonly type = 'histogram' as const;
  private readonly counts: number[];
  private sum = 0;
  private n = 0;
  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[]) {
    this.counts = new Array<number>(buckets.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.n++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) { this.counts[i]!++; break; }
  }
  get count(): number { return this.n; }
  render(): string[] {
    const out: string[] = [];
    let acc = 0;
    this.buckets.forEach((b, i) => { acc += this.counts[i]!; out.push(`${this.name}_bucket{le="${b}"} ${acc}`); });
    out.push(`${this.name}_bucket{le="+Inf"} ${this.n}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.n}`);
    return out;
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  add<M extends Metric>(m: M): M { this.metrics.push(m); return m; }
  /** Prometheus text exposition format, version 0.0.4. */
  render(): string {
    const lines: string[] = [];
    for (const m of this.metrics) lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    return lines.join('\n') + '\n';
  }
}

export interface RelayMetrics {
  readonly registry: MetricsRegistry;
  readonly connections: Gauge;
  readonly connectionsTotal: Counter;
  readonly connectionsRejected: Counter;
  readonly sockets: Gauge;
  readonly upgradeTimeouts: Counter;
  readonly closes: Counter;
  readonly framesIn: Counter;
  readonly framesOut: Counter;
  readonly envelopesIn: Counter;
  readonly envelopesOut: Counter;
  readonly envelopesExpired: Counter;
  readonly mailboxesExpired: Counter;
  readonly errors: Counter;
  readonly slowReadersShed: Counter;
  readonly storeWritable: Gauge;
  readonly storeUnwritable: Counter;
  readonly storeWriteFailures: Counter;
  readonly tokensSpent: Counter;
  readonly admissionRefusals: Counter;
  readonly commitLatency: Histogram;
  readonly commitBatch: Histogram;
  /** Records one durable write; writes completing in the same event-loop turn count as one batch. */
  commit(latencyMs: number): void;
}

export function createRelayMetrics(gauges: { queued: () => number; mailboxes: () => number; cached: () => number; outbound: () => number }): RelayMetrics {
  const r = new MetricsRegistry();
  const commitLatency = r.add(new Histogram('sealpost_commit_latency_seconds', 'Time from issuing a store write to its durable commit',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]));
  const commitBatch = r.add(new Histogram('sealpost_commit_batch_size', 'Store writes made durable together (one group commit)',
    [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]));
  r.add(new Gauge('sealpost_queue_envelopes', 'Envelopes queued in all mailboxes', gauges.queued));
  r.add(new Gauge('sealpost_mailboxes', 'Mailboxes stored', gauges.mailboxes));
  r.add(new Gauge('sealpost_mailboxes_cached', 'Mailbox states held in memory', gauges.cached));
  r.add(new Gauge('sealpost_outbound_buffered_bytes', 'Bytes waiting in all connections\' send buffers', gauges.outbound));
  let inBatch = 0;
  const flushBatch = (): void => { commitBatch.observe(inBatch); inBatch = 0; };
  return {
    registry: r,
    connections: r.add(new Gauge('sealpost_connections', 'Open WebSocket connections')),
    connectionsTotal: r.add(new Counter('sealpost_connections_total', 'Connections accepted')),
    connectionsRejected: r.add(new Counter('sealpost_connections_rejected_total', 'Connections refused by a connection limit (4008, or closed at accept)')),
    sockets: r.add(new Gauge('sealpost_sockets', 'Open TCP connections counted against the limits, before and after the upgrade')),
    upgradeTimeouts: r.add(new Counter('sealpost_upgrade_timeouts_total', 'Connections closed for not completing the WebSocket upgrade in time')),
    closes: r.add(new Counter('sealpost_closes_total', 'Connections closed, by close code', 'code')),
    framesIn: r.add(new Counter('sealpost_frames_in_total', 'Frames received, by type', 'type')),
    framesOut: r.add(new Counter('sealpost_frames_out_total', 'Frames sent, by type', 'type')),
    envelopesIn: r.add(new Counter('sealpost_envelopes_in_total', 'Envelopes accepted (durably committed)')),
    envelopesOut: r.add(new Counter('sealpost_envelopes_out_total', 'Envelopes delivered (pushed or fetched)')),
    envelopesExpired: r.add(new Counter('sealpost_envelopes_expired_total', 'Envelopes deleted by the expiry sweeper')),
    mailboxesExpired: r.add(new Counter('sealpost_mailboxes_expired_total', 'Unused mailboxes deleted by the expiry sweeper')),
    errors: r.add(new Counter('sealpost_errors_total', 'ERR frames sent, by error name', 'code')),
    slowReadersShed: r.add(new Counter('sealpost_slow_readers_shed_total', 'Connections closed (4005) because all send buffers together passed maxBufferedBytesTotal')),
    storeWritable: r.add(new Gauge('sealpost_store_writable', '1 while the store takes writes that add data, 0 during a disk-full or commit-failure episode')),
    storeUnwritable: r.add(new Counter('sealpost_store_unwritable_total', 'Episodes in which store writes were refused or failed')),
    tokensSpent: r.add(new Counter('sealpost_admission_tokens_spent_total', 'Admission tokens spent by CREATEs of a closed relay, by epoch (epochs are few and public)', 'epoch')),
    admissionRefusals: r.add(new Counter('sealpost_admission_refusals_total', 'CREATEs a closed relay refused for their token, by error name', 'code')),
    storeWriteFailures: r.add(new Counter('sealpost_store_write_failures_total', 'Store writes that failed or were refused (answered INTERNAL), by operation', 'op')),
    commitLatency,
    commitBatch,
    commit(latencyMs: number): void {
      commitLatency.observe(latencyMs / 1000);
      if (inBatch++ === 0) setImmediate(flushBatch);
    },
  };
}

/** The metrics listener: GET /healthz and GET /metrics, nothing else. */
export async function startMetricsServer(host: string, port: number, render: () => string | Promise<string>, healthy: () => boolean): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET' }).end();
      } else if (path === '/healthz') {
        const ok = healthy();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'draining');
      } else if (path === '/metrics') {
        // The primary of --processes answers after asking its processes (metrics-merge.ts).
        Promise.resolve(render()).then(
          (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
          () => res.writeHead(500).end(),
        );
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      }
    } catch {
      res.writeHead(500).end();
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  return { port: (server.address() as AddressInfo).port, server };
}
