import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AddressError, formatRelayAddress, parseRelayAddress, webSocketUrl } from '../../src/wire/index.js';

const fp = new Uint8Array(32).map((_, i) => i * 7);

test('addresses round-trip for ws, wss and IPv6 hosts', () => {
  for (const a of [
    { tls: false, host: '127.0.0.1', port: 8787, fingerprint: fp },
    { tls: true, host: 'relay.example.org', port: 443, fingerprint: fp },
    { tls: false, host: '[::1]', port: 1, fingerprint: fp },
  ]) {
    const text = formatRelayAddress(a);
    assert.equal(parseRelayAddress(text), a);
  }
  assert.is(webSocketUrl(parseRelayAddress(formatRelayAddress({ tls: true, host: 'h', port: 9, fingerprint: fp }))), 'wss://h:9/');
});

test('malformed addresses are refused with BAD_ADDRESS', () => {
  const good = formatRelayAddress({ tls: false, host: 'h', port: 80, fingerprint: fp });
  for (const bad of ['', 'ws://h:80', good.replace('ws://', 'http://'), good.replace(':80', ':0'), good.replace(':80', ':70000'),
    good.replace('@', ''), good.slice(0, 20) + '!' + good.slice(21), 'sealpost:invite/abc']) {
    assert.throws(() => parseRelayAddress(bad), (e: unknown) => e instanceof AddressError && e.code === 'BAD_ADDRESS', bad);
  }
});

test.run();
