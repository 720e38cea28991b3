// Summarises a V8 CPU profile (.cpuprofile, from node --cpu-prof) by self time: the top
// functions, the top source files, and areas (src/<dir>, a package, node's crypto, ...), as
// percent of all samples. Native frames without a source (a syscall, an addon's C++) count
// towards the area of the nearest JavaScript caller in the area listing, so that an LMDB
// commit counts as the store's. For "where does the CPU go" questions about the benchmarks
// (e.g. sdk-quick under --cpu-prof). Idle time is listed but not part of the areas.
//
//   node .build/bench/profile-summary.js FILE.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const file = process.argv[2];
if (!file) { console.error('usage: profile-summary FILE.cpuprofile [--top N]'); process.exit(2); }
const topIdx = process.argv.indexOf('--top');
const TOP = topIdx > 0 ? Number(process.argv[topIdx + 1]) : 25;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = Math.max(0, profile.timeDeltas[i] ?? 0);
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  total += dt;
});

const cwd = process.cwd();
const where = (url: string): string => {
  if (!url) return '(native)';
  if (url.startsWith('file://')) { try { return relative(cwd, fileURLToPath(url)); } catch { return url; } }
  return url;
};
const fns = new Map<string, number>();
const files = new Map<string, number>();
for (const [id, us] of selfUs) {
  const f = byId.get(id)!.callFrame;
  const name = f.functionName || '(anonymous)';
  const loc = where(f.url);
  const key = f.url ? `${name}  ${loc}:${f.lineNumber + 1}` : name;
  fns.set(key, (fns.get(key) ?? 0) + us);
  files.set(loc, (files.get(loc) ?? 0) + us);
}
// Areas: the nearest frame with a source decides (native frames inherit their caller's).
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const NODE_OTHER = 'node (other internals)';
const SPECIAL = new Set(['(idle)', '(garbage collector)', '(program)', '(root)']);
const areaOfUrl = (url: string): string => {
  const loc = where(url);
  const src = /(?:^|\/)src\/([^/]+)\//.exec(loc);
  if (src) return `src/${src[1]}`;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(loc);
  if (mod) return mod[1]!;
  if (loc.startsWith('node:internal/crypto')) return 'node:crypto';
  if (loc.startsWith('node:')) return NODE_OTHER;
  if (/(?:^|\/)bench\//.test(loc)) return 'bench harness';
  return loc;
};
const areas = new Map<string, number>();
let busy = 0;
for (const [id, us] of selfUs) {
  const name = byId.get(id)!.callFrame.functionName;
  if (name === '(idle)') continue;
  busy += us;
  // Node's own internals (streams, timers, promises) count to the code that called them, unless
  // nothing but node is on the stack (event-loop callbacks, module loading).
  let area = SPECIAL.has(name) ? name : '';
  let fallback = '';
  for (let n: number | undefined = id; !area && n !== undefined; n = parent.get(n)) {
    const url = byId.get(n)!.callFrame.url;
    if (!url) continue;
    const a = areaOfUrl(url);
    if (a === NODE_OTHER) fallback ||= a; else area = a;
  }
  area ||= fallback || '(native, no JS caller)';
  areas.set(area, (areas.get(area) ?? 0) + us);
}

const pct = (us: number): string => `${((us * 100) / total).toFixed(1).padStart(5)} %`;
const list = (m: Map<string, number>, n: number): string[] => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
console.log(`\ntop ${TOP} functions by self time:`);
console.log(list(fns, TOP).join('\n'));
console.log(`\ntop ${Math.min(TOP, 15)} files by self time:`);
console.log(list(files, Math.min(TOP, 15)).join('\n'));
console.log(`\nareas (native frames counted to their JavaScript caller), of ${(busy / 1e6).toFixed(2)} s not idle:`);
console.log([...areas].sort((a, b) => b[1] - a[1]).map(([k, us]) => `${((us * 100) / busy).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`).join('\n'));
