// The round-trip suite again, with the relay's crypto (signature checks, SEND proofs, the
// delivery layer, ROTATE's re-sealing) on two worker threads: same answers, same order.
process.env['SEALPOST_TEST_CRYPTO_WORKERS'] = '2';
await import('./roundtrip.test.js');
