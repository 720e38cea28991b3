// A small network lab for tests that need relays at distinct addresses (spec/federation.md): one
// network namespace per host, each with a veth into a bridge that lives in a hub namespace of
// its own (so the host's firewall rules never see the traffic), and one veth from the test's
// own namespace into the bridge. Names are unique per run; cleanup() and process exit remove it
// all. Needs root and iproute2.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Why the lab cannot be built here (a one-line note for the skip), or null when it can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the test as root, as CI does)';
  if (spawnSync('ip', ['-V']).error) return 'iproute2 is missing (apt-get install iproute2)';
  return null;
}

export interface Lab {
  /** The namespace of a host (for `ip netns exec`). */
  ns(host: string): string;
  /** The IPv4 address of a host. */
  addr(host: string): string;
  /** The test process's own address on the lab's network. */
  readonly self: string;
  /** Remote addresses of the TCP connections open in a host's namespace (its connection table). */
  peersOf(host: string): string[];
  cleanup(): void;
}

const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }); };

export function makeLab(hosts: readonly string[]): Lab {
  const tag = randomBytes(3).toString('hex');
  const net = `10.${100 + randomBytes(1)[0]! % 100}.${randomBytes(1)[0]! % 250}`;
  const hub = `sp${tag}hub`;
  const names = new Map(hosts.map((h, i) => [h, { ns: `sp${tag}${h}`, addr: `${net}.${i + 2}`, veth: `v${tag}${i}` }]));
  const selfVeth = `v${tag}s`;
  const created: string[] = [];
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    for (const ns of created.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    spawnSync('ip', ['link', 'del', selfVeth]);
  };
  process.once('exit', cleanup);
  // Interrupted (Ctrl-C, a runner's timeout): clean up, then end as the signal would.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { cleanup(); process.exit(128 + (sig === 'SIGINT' ? 2 : 15)); });
  try {
    ip('netns', 'add', hub);
    created.push(hub);
    ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', hub, 'link', 'set', 'br0', 'up');
    const plug = (veth: string, into: string | null, addr: string): void => {
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}h`);
      ip('link', 'set', `${veth}h`, 'netns', hub);
      ip('-n', hub, 'link', 'set', `${veth}h`, 'master', 'br0');
      ip('-n', hub, 'link', 'set', `${veth}h`, 'up');
      const n = into === null ? [] : ['-n', into];
      if (into !== null) ip('link', 'set', veth, 'netns', into);
      ip(...n, 'addr', 'add', `${addr}/24`, 'dev', veth);
      ip(...n, 'link', 'set', veth, 'up');
      if (into !== null) ip(...n, 'link', 'set', 'lo', 'up');
    };
    for (const h of names.values()) {
      ip('netns', 'add', h.ns);
      created.push(h.ns);
      plug(h.veth, h.ns, h.addr);
    }
    plug(selfVeth, null, `${net}.1`);
  } catch (e) {
    cleanup();
    throw e;
  }
  const get = (host: string) => {
    const h = names.get(host);
    if (!h) throw new Error(`no host ${host} in the lab`);
    return h;
  };
  return {
    ns: (host) => get(host).ns,
    addr: (host) => get(host).addr,
    self: `${net}.1`,
    peersOf: (host) => {
      const out = execFileSync('ip', ['netns', 'exec', get(host).ns, 'ss', '-tnH'], { encoding: 'utf8' });
      return out.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/)[4]!.replace(/:\d+$/, ''));
    },
    cleanup,
  };
}
