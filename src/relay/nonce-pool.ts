// Random nonces for the delivery layer, drawn from the crypto core's CSPRNG in batches: one
// getRandomValues call per 2,048 nonces instead of one per envelope. Each nonce is used once.
import { randomBytes } from '../crypto/index.js';

export class NoncePool {
  private buf: Uint8Array = new Uint8Array(0);
  private off = 0;

  constructor(private readonly size = 24, private readonly batch = 2048) {}

  next(): Uint8Array {
    if (this.off + this.size > this.buf.length) {
      this.buf = randomBytes(this.size * this.batch);
      this.off = 0;
    }
    const n = this.buf.subarray(this.off, this.off + this.size);
    this.off += this.size;
    return n;
  }
}
