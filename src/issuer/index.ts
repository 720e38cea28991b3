// The organisation's token issuer (spec/admission.md §3.5): the HTTP service, its OpenID
// Connect relying party, its store, and the loopback login that native apps and the SDK use.
export { startIssuer, isLoopbackRedirect, DEFAULT_ISSUER_LIMITS, type Issuer, type IssuerLimits, type IssuerOptions } from './server.js';
export { Directory, type DirectoryOptions } from './directory.js';
export { loginWithLoopback, type IssuerLogin, type LoginOptions } from './login-client.js';
export { IssuerStore, readIssuerTotals } from './issuer-store.js';
