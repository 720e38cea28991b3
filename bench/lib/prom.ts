// Reads samples out of Prometheus text exposition (what the relay serves on /metrics), so that
// the benchmarks read the relay's own counters (commit batches, frames by type) from outside
// the SDK. Only sample lines `name{labels} value`; comments and malformed lines are skipped.

/** Samples whose metric name starts with one of `prefixes`, as `name{labels}` → value. */
export function promSamples(text: string, prefixes: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (sp <= 0) continue;
    const key = line.slice(0, sp);
    if (!prefixes.some((p) => key.startsWith(p))) continue;
    const v = Number(line.slice(sp + 1));
    if (Number.isFinite(v)) out[key] = v;
  }
  return out;
}

/** A histogram's cumulative buckets (upper bound → count) out of samples, `+Inf` as Infinity. */
export function histogramBuckets(samples: Readonly<Record<string, number>>, name: string): Array<{ le: number; count: number }> {
  const out: Array<{ le: number; count: number }> = [];
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`);
  for (const [k, v] of Object.entries(samples)) {
    const m = re.exec(k);
    if (m) out.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: v });
  }
  return out.sort((a, b) => a.le - b.le);
}
