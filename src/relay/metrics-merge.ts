// One /metrics answer for `sealpost relay --processes N` (spec/scale-out.md §1): the primary
// merges its processes' Prometheus texts. Counters and histograms add up, and so do the
// gauges of what each process holds (connections, sockets, cached mailboxes, buffered
// bytes). The gauges that read the shared store (mailboxes, queued envelopes) are the same
// store seen by every process: the highest is taken, not the sum; the store is writable only
// if every process can write (the lowest is taken).

/** Gauges of the shared store, merged by max (a sum would count the store N times). */
const STORE_WIDE = new Set(['sealpost_mailboxes', 'sealpost_queue_envelopes']);
/** Gauges that are 1 only if they are 1 everywhere. */
const ALL_OF = new Set(['sealpost_store_writable']);

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/;

export function mergeMetrics(texts: readonly string[]): string {
  const comments = new Map<string, string[]>(); // metric name -> its # HELP and # TYPE lines
  const order: string[] = []; // series keys in first-seen order
  const series = new Map<string, { name: string; value: number }>();
  let current = '';
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.startsWith('# ')) {
        const name = line.split(' ')[2] ?? '';
        current = name;
        if (!comments.has(name)) comments.set(name, []);
        const lines = comments.get(name)!;
        if (lines.length < 2 && !lines.includes(line)) lines.push(line);
        continue;
      }
      const m = SAMPLE.exec(line);
      if (!m) continue;
      const key = m[1]! + (m[2] ?? '');
      const value = Number(m[3]);
      const known = series.get(key);
      if (!known) {
        series.set(key, { name: current, value });
        order.push(key);
      } else if (STORE_WIDE.has(m[1]!)) {
        known.value = Math.max(known.value, value);
      } else if (ALL_OF.has(m[1]!)) {
        known.value = Math.min(known.value, value);
      } else {
        known.value += value;
      }
    }
  }
  const out: string[] = [];
  let last = '';
  for (const key of order) {
    const s = series.get(key)!;
    if (s.name !== last) { out.push(...(comments.get(s.name) ?? [])); last = s.name; }
    out.push(`${key} ${s.value}`);
  }
  return out.join('\n') + '\n';
}
