// What test/browser/vectors.test.ts runs inside the page: the Wycheproof and RFC 9180 HPKE
// checkers and the crypto core, bundled for the browser like the SDK (scripts/build-browser.mjs).
export * from '../_support/wycheproof.js';
export { checkVector as checkHpkeVector } from '../_support/hpke-vectors.js';
export { getBackend, availableBackends } from '../../src/crypto/index.js';
