// A quick SDK end-to-end measurement for iterating on the client: one configuration of the
// "SDK end to end" suite (bench/suites/sdk.ts), printed as one JSON line. The relay runs in
// its own process; Alice and Bob (two SDK Clients, public API only) run in this one.
//
//   npx tsc -p tsconfig.json && node .build/bench/sdk-quick.js [--messages 2000] [--window 64]
//        [--warmup 200] [--primitives-ms 1000] [--relay-prof DIR]
//
// --relay-prof DIR writes a CPU profile of the relay process to DIR; for this process's own
// profile run node with --cpu-prof (node --cpu-prof --cpu-prof-dir DIR .build/bench/sdk-quick.js).
import { measureMessagePrimitives } from './lib/message-primitives.js';
import { SdkPair } from './lib/sdk-pair.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const num = (k: string, d: number): number => {
  const v = args.has(k) ? Number(args.get(k)) : d;
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${k} needs a whole number, got ${args.get(k)}`);
  return v;
};
const MESSAGES = num('messages', 2000);
const WINDOW = Math.max(1, num('window', 64));
const WARMUP = num('warmup', 200);
const PRIMITIVES_MS = num('primitives-ms', 1000);
const relayProf = args.get('relay-prof');

const r2 = (x: number): number => Math.round(x * 100) / 100;

const pair = await SdkPair.start(relayProf ? { relay: { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', relayProf] } } : {});
try {
  // Warm-up (JIT, LMDB files), not reported.
  if (WARMUP > 0) await pair.run(WARMUP, WINDOW);
  const r = await pair.run(MESSAGES, WINDOW);
  const p = PRIMITIVES_MS > 0 ? measureMessagePrimitives(PRIMITIVES_MS) : null;
  console.log(JSON.stringify({
    messages: r.messages, window: r.window, delivered: r.delivered, seconds: r2(r.wallMs / 1000),
    messagesPerSec: Math.round(r.messagesPerSec),
    latencyMs: { p50: r2(r.p50Ms), p95: r2(r.p95Ms), p99: r2(r.p99Ms), sendOkP50: r2(r.sendP50Ms) },
    clientCpuMsPerMsg: r2(r.clientCpuUsPerMsg / 1000), clientSystemMsPerMsg: r2(r.clientSysUsPerMsg / 1000),
    relayCpuMsPerMsg: Math.round(r.relayCpuUsPerMsg) / 1000, relaySystemMsPerMsg: Math.round(r.relaySysUsPerMsg) / 1000,
    ...(p ? {
      primitivesUs: { ratchetStep: r2(p.ratchetStepUs), envelopeSeal: r2(p.envelopeSealUs), envelopeOpen: r2(p.envelopeOpenUs), deliverySealOpen: r2(p.deliverySealOpenUs), sum: r2(p.sumUs) },
      clientCpuRatio: r2(r.clientCpuUsPerMsg / p.sumUs),
    } : {}),
    relayCommits: {
      writesPerMsg: r2(r.relay.writesPerMessage), commitsPerMsg: r2(r.relay.commitsPerMessage), meanBatch: r2(r.relay.meanBatch),
      singleWritePct: Math.round(r.relay.singleWritePct), batches: r.relay.batches,
      framesInPerMsg: Object.fromEntries(Object.entries(r.relay.framesInPerMessage).map(([k, v]) => [k, r2(v)])),
    },
  }));
} finally {
  await pair.close();
}
