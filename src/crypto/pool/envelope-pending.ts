// Superseded by src/crypto/envelope.ts; kept as a re-export while the pool moves over.
export { openEnvelope, sealEnvelope } from '../envelope.js';
