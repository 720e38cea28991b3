// The unit per-address limits count by (spec/protocol.md §8): an IPv4 address, or the /64 an
// IPv6 address belongs to (one host usually holds a whole /64, so counting each /128 alone
// would let it open 2^64 times the limit). IPv4-mapped IPv6 addresses count as IPv4. The
// result is only ever a key in memory: it is never logged or stored.

/** The eight 16-bit groups of an IPv6 address, or null if `a` is not one. */
function ipv6Groups(a: string): number[] | null {
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const p of s.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(p)) return null;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  return [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
}

/** The per-address limit key of a socket's remote address. */
export function addressGroup(address: string | undefined): string {
  if (!address) return '';
  let a = address.toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (!a.includes(':')) return a; // IPv4
  const mapped = /^(?:0{0,4}:){0,5}(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a) ?? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  const g = ipv6Groups(a);
  if (!g) return a;
  return g.slice(0, 4).map((x) => x.toString(16)).join(':') + '::/64';
}
