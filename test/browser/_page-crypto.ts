// What test/browser/vectors.test.ts runs inside the page: the Wycheproof checkers and the
// crypto core, bundled for the browser like the SDK (scripts/build-browser.mjs).
export * from '../_support/wycheproof.js';
export { getBackend, availableBackends } from '../../src/crypto/index.js';
