// What `sealpost admin counts` reads from a relay's /metrics (Prometheus text): aggregates only
// (mailboxes, envelopes queued and accepted, admission tokens spent per epoch). Metric names
// are the relay's (src/relay/metrics.ts); a metric the relay does not serve is left out.
export interface RelayCounts {
  mailboxes?: number;
  envelopesQueued?: number;
  envelopesAccepted?: number;
  /** sealpost_admission_tokens_spent_total{epoch="n"}, when the relay is closed. */
  tokensSpent: Record<string, number>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;

export function parseRelayMetrics(text: string): RelayCounts {
  const out: RelayCounts = { tokensSpent: {} };
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (m === null) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    switch (m[1]) {
      case 'sealpost_mailboxes': out.mailboxes = value; break;
      case 'sealpost_queue_envelopes': out.envelopesQueued = value; break;
      case 'sealpost_envelopes_in_total': out.envelopesAccepted = value; break;
      case 'sealpost_admission_tokens_spent_total': {
        const epoch = /(?:^|,)epoch="(\d+)"/.exec(m[2] ?? '')?.[1];
        if (epoch !== undefined) out.tokensSpent[epoch] = (out.tokensSpent[epoch] ?? 0) + value;
        break;
      }
    }
  }
  return out;
}

export async function fetchRelayCounts(url: string): Promise<RelayCounts> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return parseRelayMetrics(await res.text());
}
