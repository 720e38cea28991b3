// A relay in its own process for the end-to-end benchmark (bench/suites/relay.ts).
//   node --expose-gc .build/bench/relay-child.js '{"config": {...}, "maxLifetimeMs": 600000}'
// Prints one JSON line {"type":"ready",...} once listening, then answers commands on stdin,
// one per line: "stats" → {"type":"stats",...} (after a GC when --expose-gc is given; with the
// relay's commit histograms and frame counters from its Prometheus metrics), "cpu" → the same
// line with CPU time and metrics only (no GC, cheap) and
// "close" → drains, prints {"type":"closed"} and exits 0. It also stops by itself when its
// stdin ends (the bench process died) or after maxLifetimeMs.
import { createInterface } from 'node:readline';
import { startRelay, type StartOptions } from '../src/relay/index.js';
import { promSamples } from './lib/prom.js';

// The metrics a benchmark reads: group commits (writes per batch, latency), frames by type,
// envelopes in and out. Taken from the relay's own Prometheus text, as an operator would.
const METRIC_PREFIXES = ['sealpost_commit_', 'sealpost_frames_in_total', 'sealpost_frames_out_total', 'sealpost_envelopes_'];

interface ChildOptions { readonly config: StartOptions; readonly maxLifetimeMs: number }

const opts = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
const say = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n'); };

const relay = await startRelay({
  ...opts.config,
  // Errors only, to stderr; the relay's logs carry no metadata anyway.
  log: (entry) => { if (entry['level'] === 'error') process.stderr.write(JSON.stringify(entry) + '\n'); },
});

let closing = false;
async function stop(code: number): Promise<never> {
  if (!closing) {
    closing = true;
    const hard = setTimeout(() => process.exit(code || 3), 15_000);
    hard.unref();
    await relay.close().catch(() => undefined);
    say({ type: 'closed' });
  }
  process.exit(code);
}

setTimeout(() => void stop(3), opts.maxLifetimeMs ?? 600_000).unref();
const gc = (globalThis as { gc?: () => void }).gc;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'stats') {
    if (gc) { gc(); gc(); }
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    say({
      type: 'stats', tMs: performance.now(), cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rss: mem.rss, heapUsed: mem.heapUsed,
      external: mem.external, arrayBuffers: mem.arrayBuffers, maxRssKiB: process.resourceUsage().maxRSS, ...relay.stats(),
      metrics: promSamples(relay.metricsText(), METRIC_PREFIXES),
    });
  } else if (cmd === 'cpu') {
    // CPU and metrics only, without the forced GC of "stats": a short window (a few hundred
    // SDK messages) would otherwise be charged for two full collections.
    const cpu = process.cpuUsage();
    say({ type: 'stats', tMs: performance.now(), cpuUserUs: cpu.user, cpuSystemUs: cpu.system, metrics: promSamples(relay.metricsText(), METRIC_PREFIXES) });
  } else if (cmd === 'close') {
    void stop(0);
  }
});
rl.on('close', () => void stop(0));
say({ type: 'ready', address: relay.address, port: relay.port, pid: process.pid });
