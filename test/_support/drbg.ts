// The DRBG of the ratchet's vectors (spec/ratchet.md §11): the byte stream
// HMAC-SHA256(seed, u64be(0)) || HMAC-SHA256(seed, u64be(1)) || …, each request taking the next
// bytes in order. `log`, when given, receives a copy of every draw.
import { concat, hmacSha256 } from '../../src/crypto/index.js';

export type Random = (n: number) => Uint8Array;

export function drbg(seed: Uint8Array, log?: Uint8Array[]): Random {
  let counter = 0n;
  let pool: Uint8Array = new Uint8Array(0);
  return (n) => {
    while (pool.length < n) {
      const c = new Uint8Array(8);
      new DataView(c.buffer).setBigUint64(0, counter++);
      pool = concat(pool, hmacSha256(seed, c));
    }
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    log?.push(out.slice());
    return out;
  };
}
