// The crypto core's worker pool: batch API, transferred buffers, back-pressure.
export {
  CryptoPool, CryptoPoolError, isCryptoPoolError, packBatch, unpackResults,
  type CryptoPoolErrorCode, type CryptoPoolOptions, type CryptoPoolStats,
} from './pool.js';
export type {
  OpenEnvelopeItem, OpenedEnvelope, PoolIn, ResealDeliveryItem, SealDeliveryItem, PoolItemErrorCode, PoolOpName, PoolOps, PoolOut, PoolResult,
  SealEnvelopeItem, SignEd25519Item, VerifyEd25519Item, X25519Item,
} from './ops.js';
