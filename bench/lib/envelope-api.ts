// The sealed-envelope construction the benchmarks measure (spec/crypto.md §9).
export { openEnvelope, sealEnvelope } from '../../src/crypto/pool/envelope-pending.js';
