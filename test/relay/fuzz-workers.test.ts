// The fuzz suite again, with the relay's crypto on one worker thread: whatever a client
// sends, the answers match the spec's oracle and the relay carries on.
process.env['SEALPOST_TEST_CRYPTO_WORKERS'] = '1';
await import('./fuzz.test.js');
