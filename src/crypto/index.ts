// sealpost/crypto: the crypto core's public surface (spec/crypto.md).
export * from './errors.js';
export * from './types.js';
export type { BackendName } from './backend.js';
export {
  abytes, compareBytes, concat, equalBytes, fromBase64url, fromHex, fromUtf8, toBase64url, toHex, utf8, wipe,
} from './bytes.js';
export * from './primitives.js';
export * from './ml-kem.js';
export * from './labels.js';
export * from './ids.js';
export * from './padding.js';
export * from './pow.js';
export * from './send-proof.js';
export * from './sas.js';
export * from './delivery.js';
export * from './proofs.js';
export * from './hpke.js';
export * from './passphrase.js';
export * from './pool/index.js';
export * from './envelope.js';
export * from './oprf.js';
export * from './forward.js';
