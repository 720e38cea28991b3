// sealpost/admission: closed deployments' building blocks (spec/admission.md): anonymous
// admission tokens, the signed organisation policy and the audit log. Pure functions; the
// issuer service, the closed relay's check and `sealpost admin` are built on them.
export * from './errors.js';
export * from './token.js';
export * from './policy.js';
export * from './audit-log.js';
export * from './epoch-secrets.js';
