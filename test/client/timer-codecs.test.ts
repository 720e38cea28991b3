// The timer payloads (spec/client.md §5.3): round trips, the exact layout, and every malformed
// form refused with MalformedError.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePayload, encodePayload, newPayload } from '../../src/client/payload.js';
import { MalformedError } from '../../src/wire/bytes-codec.js';

const ID = new Uint8Array(16).fill(0xab);
const AT = 1_700_000_000_123;
const ACCOUNT = new Uint8Array(32).fill(7);
const HEADER = 2 + 16 + 8 + 4 + 4;

function malformed(b: Uint8Array, what: string): void {
  assert.throws(() => decodePayload(b), (e: unknown) => e instanceof MalformedError, what);
}
const encoded = (p: Parameters<typeof newPayload>[0]): Uint8Array => encodePayload(newPayload(p, AT, ID));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('timer payloads round-trip, with and without the account', () => {
  for (const content of [
    { type: 'timer', seconds: 0, account: null },
    { type: 'timer', seconds: 3600, account: null },
    { type: 'timer', seconds: 0xffffffff, account: ACCOUNT },
    { type: 'text', text: 'gone soon', timer: 30 },
    { type: 'text', text: '', timer: 1 },
    { type: 'sent', accounts: [ACCOUNT, new Uint8Array(32).fill(8)], text: 'à tous', timer: 86_400 },
  ] as const) {
    const p = { ...newPayload(content as never, AT, ID), senderSerial: 2, recipientSerial: 5 };
    assert.equal(decodePayload(encodePayload(p)), p);
  }
});

test('the layout: type 0x0D, 0x0E, 0x0F and the seconds as a big-endian u32 after the header (spec/client.md §5.3)', () => {
  const head = (type: number): string => `02${type.toString(16).padStart(2, '0')}${'ab'.repeat(16)}${AT.toString(16).padStart(16, '0')}0000000000000000`;
  assert.is(hex(encoded({ type: 'timer', seconds: 3600, account: null })), `${head(0x0d)}00000e10`);
  assert.is(hex(encoded({ type: 'timer', seconds: 60, account: ACCOUNT })), `${head(0x0d)}0000003c${'07'.repeat(32)}`);
  assert.is(hex(encoded({ type: 'text', text: 'hi', timer: 30 })), `${head(0x0e)}0000001e6869`);
  assert.is(hex(encoded({ type: 'sent', accounts: [ACCOUNT], text: 'hi', timer: 30 })), `${head(0x0f)}0000001e0001${'07'.repeat(32)}6869`);
  // Off is the plain types, which clients from before timers read (spec/client.md §5.3).
  assert.is(encoded({ type: 'text', text: 'hi', timer: 0 })[1], 0x01);
  assert.is(encoded({ type: 'sent', accounts: [ACCOUNT], text: 'hi' })[1], 0x0b);
});

test('every malformed timer payload is refused', () => {
  const timer = encoded({ type: 'timer', seconds: 60, account: ACCOUNT });
  malformed(timer.subarray(0, HEADER + 3), 'seconds cut short');
  malformed(timer.subarray(0, HEADER + 4 + 31), 'an account of 31 bytes');
  malformed(Uint8Array.of(...timer, 0), 'an account of 33 bytes');
  malformed(Uint8Array.of(...timer.subarray(0, HEADER + 4), 1), 'one byte after the seconds');
  const text = encoded({ type: 'text', text: 'hi', timer: 30 });
  malformed(text.subarray(0, HEADER + 2), 'timed text: seconds cut short');
  malformed(Uint8Array.of(...text.subarray(0, HEADER), 0, 0, 0, 0, 0x68), 'timed text with a timer of 0');
  malformed(Uint8Array.of(...text.subarray(0, HEADER + 4), 0xff), 'timed text that is not UTF-8');
  const sent = encoded({ type: 'sent', accounts: [ACCOUNT], text: 'hi', timer: 30 });
  malformed(Uint8Array.of(...sent.subarray(0, HEADER), 0, 0, 0, 0, ...sent.subarray(HEADER + 4)), 'timed copy with a timer of 0');
  malformed(Uint8Array.of(...sent.subarray(0, HEADER + 4), 0, 0, ...sent.subarray(HEADER + 6 + 32)), 'timed copy naming no account');
  malformed(Uint8Array.of(...sent.subarray(0, HEADER + 4), 1, 1, ...sent.subarray(HEADER + 6)), 'timed copy naming 257 accounts');
  malformed(sent.subarray(0, HEADER + 6 + 31), 'timed copy: account cut short');
  malformed(Uint8Array.of(...sent.subarray(0, HEADER + 6 + 32), 0xff), 'timed copy that is not UTF-8');
  malformed(Uint8Array.of(2, 0x10, ...text.subarray(2)), 'a type after the timed ones');
});

test('encoding refuses a timer outside 0 .. 2^32-1', () => {
  for (const seconds of [-1, 0.5, 2 ** 32, Number.NaN]) {
    assert.throws(() => encodePayload(newPayload({ type: 'timer', seconds, account: null })), RangeError);
    if (seconds !== 0.5 && !Number.isNaN(seconds)) assert.throws(() => encodePayload(newPayload({ type: 'text', text: 'x', timer: seconds })), RangeError);
  }
});

test('fuzz: mutated timer payloads decode to a payload that encodes back to the same bytes, or are malformed', () => {
  let x = 0x9e3779b9; // xorshift32, seeded: the same cases every run
  const rand = (n: number): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n; };
  const seeds = [
    encoded({ type: 'timer', seconds: 60, account: ACCOUNT }),
    encoded({ type: 'timer', seconds: 0, account: null }),
    encoded({ type: 'text', text: 'hello', timer: 30 }),
    encoded({ type: 'sent', accounts: [ACCOUNT], text: 'hi', timer: 30 }),
  ];
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    const b = Uint8Array.from(seeds[rand(seeds.length)]!);
    const edits = 1 + rand(3);
    let m: Uint8Array = b;
    for (let k = 0; k < edits; k++) {
      const op = rand(3);
      if (op === 0) m[rand(m.length)] = rand(256);
      else if (op === 1) m = m.subarray(0, rand(m.length + 1));
      else m = Uint8Array.of(...m, rand(256));
    }
    // The type byte is steered to the timer types half the time, so that their branches are hit often.
    if (m.length > 1 && rand(2) === 0) m[1] = 13 + rand(3);
    let p;
    try { p = decodePayload(m); } catch (e) {
      assert.ok(e instanceof MalformedError, `not a MalformedError: ${String(e)}`);
      continue;
    }
    decoded++;
    if (m[0] === 2 && [1, 11, 13, 14, 15].includes(m[1]!)) assert.is(hex(encodePayload(p)), hex(m), 'one encoding per payload');
  }
  assert.ok(decoded > 1000, `only ${decoded} mutations decoded: the fuzz does not reach the content`);
});

test.run();
