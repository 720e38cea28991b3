import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import {
  decodeClientFrame, decodeRelayFrame, encodeFrame, frameTypeCode, isClientTypeCode, ProtocolError,
  ERROR_CODES, FATAL_CLOSE_CODES, type Frame, type FrameType,
} from '../../src/wire/index.js';
import { repoPath } from '../_support/files.js';
import { sampleFrames } from '../spec/constructions.js';

const decodeAny = (bytes: Uint8Array): Frame =>
  isClientTypeCode(bytes[1]!) ? decodeClientFrame(bytes) : decodeRelayFrame(bytes);

function expectError(fn: () => unknown, name: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ProtocolError);
    assert.is((e as ProtocolError).errorName, name);
    return;
  }
  assert.unreachable(`expected ProtocolError ${name}`);
}

// A small seeded PRNG so that generated cases reproduce (xorshift32).
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

test('every sample frame round-trips: decode(encode(x)) == x', () => {
  for (const f of sampleFrames()) assert.equal(decodeAny(encodeFrame(f)), f, f.type);
});

test('generated frames round-trip (random field values, 2,000 cases)', () => {
  const r = rng(0x5ea1);
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
  for (let i = 0; i < 2000; i++) {
    const base = sampleFrames()[i % 20]!;
    const f = { ...base, corr: Math.floor(r() * 2 ** 32) } as Record<string, unknown>;
    for (const [k, v] of Object.entries(f)) {
      if (v instanceof Uint8Array) f[k] = bytes(k === 'envelope' || k === 'delivered' || k === 'token' ? Math.floor(r() * 600) : v.length);
      else if (k === 'msgId') f[k] = Math.floor(r() * Number.MAX_SAFE_INTEGER);
      else if (k === 'ttlSeconds' || k === 'maxFrameBytes') f[k] = Math.floor(r() * 2 ** 32);
      else if (k === 'code') f[k] = Math.floor(r() * 65536);
      else if (typeof v === 'number' && k !== 'corr') f[k] = Math.floor(r() * 256);
    }
    assert.equal(decodeAny(encodeFrame(f as unknown as Frame)), f);
  }
});

test('every truncation and every extra trailing byte is MALFORMED', () => {
  for (const f of sampleFrames()) {
    const enc = encodeFrame(f);
    const hasRest = f.type === 'SEND' || f.type === 'MSG';
    for (let n = 0; n < enc.length; n++) {
      // frames ending in a variable-length field accept any shorter tail beyond the fixed part
      const fixedEnd = hasRest ? enc.length - (f.type === 'SEND' ? 256 : 300) : enc.length;
      if (n >= fixedEnd) continue;
      const decode = isClientTypeCode(enc[1]!) ? decodeClientFrame : decodeRelayFrame;
      expectError(() => decode(enc.subarray(0, n)), 'MALFORMED');
    }
    if (!hasRest) {
      const longer = new Uint8Array(enc.length + 1);
      longer.set(enc);
      expectError(() => decodeAny(longer), 'MALFORMED');
    }
  }
});

test('wrong version, unknown command, relay type from a client', () => {
  const ping = encodeFrame({ type: 'PING', corr: 1 });
  expectError(() => decodeClientFrame(Uint8Array.of(2, ...ping.subarray(1))), 'VERSION');
  expectError(() => decodeClientFrame(Uint8Array.of(0, ...ping.subarray(1))), 'VERSION');
  expectError(() => decodeClientFrame(Uint8Array.of(1, 0x3f, 0, 0, 0, 1)), 'UNKNOWN_COMMAND');
  expectError(() => decodeClientFrame(encodeFrame({ type: 'OK', corr: 1 })), 'MALFORMED');
  expectError(() => decodeRelayFrame(ping), 'MALFORMED');
  expectError(() => decodeRelayFrame(Uint8Array.of(1, 0xbf, 0, 0, 0, 1)), 'MALFORMED');
  // a u64 above 2^53-1 cannot be represented exactly and is refused
  const ack = encodeFrame({ type: 'ACK', corr: 1, readId: new Uint8Array(32), msgId: 0 });
  ack[38] = 0xff;
  expectError(() => decodeClientFrame(ack), 'MALFORMED');
});

test('the encoder refuses values that do not fit the layout', () => {
  assert.throws(() => encodeFrame({ type: 'SUB', corr: 1, readId: new Uint8Array(31) }), RangeError);
  assert.throws(() => encodeFrame({ type: 'HELLO', corr: 1, minVersion: 256, maxVersion: 1, clientNonce: new Uint8Array(32) }), RangeError);
  assert.throws(() => encodeFrame({ type: 'ACK', corr: 1, readId: new Uint8Array(32), msgId: -1 }), RangeError);
});

// The spec's tables and the code must name the same frames and errors.
const spec = readFileSync(repoPath('spec', 'protocol.md'), 'utf8');

test('frame type codes match spec/protocol.md §3', () => {
  const rows = [...spec.matchAll(/^\| (0x[0-9a-f]{2}) \| (\w+)\s+\| (C→R|R→C) \|/gm)];
  assert.is(rows.length, 20);
  for (const [, hex, name, dir] of rows) {
    const type = (dir === 'R→C' && name === 'HELLO' ? 'SERVER_HELLO' : name) as FrameType;
    assert.is(frameTypeCode(type), Number(hex), `${name} ${dir}`);
  }
});

test('error codes and close codes match spec/protocol.md §7', () => {
  const rows = [...spec.matchAll(/^\| (\d+)\s+\| (\w+)\s+\| (yes \((\d+)\)|no)/gm)];
  assert.is(rows.length, Object.keys(ERROR_CODES).length);
  for (const [, code, name, , close] of rows) {
    assert.is(ERROR_CODES[name as keyof typeof ERROR_CODES], Number(code), name);
    assert.is(FATAL_CLOSE_CODES[name as keyof typeof ERROR_CODES], close ? Number(close) : undefined, name);
  }
});

test.run();
