// What an issuer saw against what a relay received and stored (spec/admission.md §10.1): a fetch
// that records a member's token requests and the issuer's answers, and the check that no 8-byte
// run of those appears anywhere on the relay's side.
import * as assert from 'uvu/assert';

/** A fetch that pushes each request body it sends, and the answer's body, into `saw`. */
export function recordingFetch(saw: Uint8Array[]): typeof fetch {
  return async (url, init) => {
    const res = await fetch(url, init);
    const body = new Uint8Array(await res.arrayBuffer());
    if (init?.body instanceof Uint8Array) saw.push(new Uint8Array(init.body as Uint8Array), body);
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

/** Fails on any 8-byte run of `issuerSaw` found in `relaySide` (all-zero and all-one runs, page padding, aside). */
export function assertNothingShared(issuerSaw: readonly Uint8Array[], relaySide: readonly Uint8Array[]): void {
  const windows = new Set<bigint>();
  for (const b of issuerSaw) {
    const v = Buffer.from(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i + 8 <= v.length; i++) windows.add(v.readBigUInt64BE(i));
  }
  assert.ok(windows.size > 1_000, `the issuer's bytes were recorded (${windows.size})`);
  for (const b of relaySide) {
    const v = Buffer.from(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i + 8 <= v.length; i++) {
      const w = v.readBigUInt64BE(i);
      if (w === 0n || w === 0xffffffffffffffffn) continue;
      assert.not.ok(windows.has(w), `a common 8-byte run at ${i}: ${v.subarray(i, i + 8).toString('hex')}`);
    }
  }
}
