// The Double Ratchet (spec/ratchet.md): state and limits (§4.1, §8), the algorithm (§3–§5),
// byte layouts (§6–§7) and errors (§9).
export * from './errors.js';
export * from './state.js';
export * from './ratchet.js';
export {
  decodeHeader, decodeMessage, decodeState, encodeHeader, encodeState, HANDSHAKE_KEM_HEADER_LENGTH, HEADER_LENGTH, HYBRID_HEADER_LENGTH, MIN_MESSAGE_LENGTH,
  type RatchetHeader, type RatchetMessage,
} from './codec.js';
export {
  PQ_CHUNK, PQ_CHUNK_OVERHEAD, PQ_FIELD_MAX, PQ_FIELD_MIN, PQ_RESTART_AFTER, chunkCount, type PqState,
} from './pq.js';
