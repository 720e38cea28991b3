// Fuzzing support for relay tests: a seeded PRNG, a spec-derived oracle for client frames
// (spec/protocol.md §3, §5.1, §7), frame mutators, and a raw WebSocket client that speaks
// bytes (not the SDK) so that tests can send anything and see exactly what comes back.
//
// The structural oracle (`classifyClientFrame`) is written from the spec's frame table, not
// from src/wire, so that a decoder bug cannot hide behind itself.
import type { Socket } from 'node:net';
import WebSocket from 'ws';

// ---- seeded randomness ------------------------------------------------------------------

/** sfc32: small, fast, good enough for fuzzing, and reproducible from a 32-bit seed. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 2 ** 32) * n);
  }
  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      out[i] = v & 0xff;
      if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }
  /** A child generator (for concurrent workers) whose sequence depends only on this one's seed. */
  fork(): Prng {
    return new Prng(this.u32());
  }
}

/** The seed from FUZZ_SEED (decimal or 0x hex), else a fresh one. Always printed by the caller. */
export function fuzzSeed(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const s = env['FUZZ_SEED'];
  if (s !== undefined && s.trim() !== '') {
    const n = Number(s.trim());
    if (Number.isInteger(n) && n >= 0 && n <= 0xffffffff) return n;
    throw new Error(`FUZZ_SEED must be an integer in [0, 2^32), got ${JSON.stringify(s)}`);
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

// ---- the spec, restated -------------------------------------------------------------------

export const HEADER = 6;
export const BUCKETS: readonly number[] = [256, 1024, 4096, 16384, 65536];

/** Error names and codes (spec/protocol.md §7). */
export const ERR = {
  MALFORMED: 1, VERSION: 2, HANDSHAKE: 3, UNKNOWN_COMMAND: 4, AUTH: 5, QUOTA: 6, SIZE: 7, RATE: 8, LIMIT: 9,
  DUPLICATE: 10, NO_MSG: 11, INVALID: 12, INTERNAL: 13, BUSY: 14, NO_PEER: 15, PEER_DOWN: 16, FORWARD_INVALID: 17,
} as const;
export type ErrName = keyof typeof ERR;
export const ERR_NAME = new Map<number, ErrName>(Object.entries(ERR).map(([k, v]) => [v, k as ErrName]));
export const FATAL_CLOSE: Partial<Record<ErrName, number>> = { MALFORMED: 4001, VERSION: 4002, HANDSHAKE: 4003 };
/** Every close code spec/protocol.md §7 documents. */
export const DOCUMENTED_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1001, 1003, 1009, 4001, 4002, 4003, 4005, 4006, 4008]);

/** Client command codes and their body layouts (spec/protocol.md §3). */
export const CLIENT_TYPES = {
  HELLO: 0x01, CREATE: 0x10, AUTH: 0x11, SUB: 0x12, FETCH: 0x13, ACK: 0x14, UNSUB: 0x15, DEL: 0x16, ROTATE: 0x17, SEND: 0x18, PING: 0x19,
  FORWARD: 0x1a, KEY_QUERY: 0x1b,
} as const;
export type ClientTypeName = keyof typeof CLIENT_TYPES;
const CLIENT_BY_CODE = new Map<number, ClientTypeName>(Object.entries(CLIENT_TYPES).map(([k, v]) => [v, k as ClientTypeName]));
export const clientTypeName = (code: number): ClientTypeName | undefined => CLIENT_BY_CODE.get(code);

/** Relay frame codes and the exact body length of each (or the minimum for `[*]` bodies). */
export const RELAY_TYPES = {
  SERVER_HELLO: { code: 0x81, body: 1 + 32 + 32 + 32 + 1 + 4 + 64, rest: false },
  OK: { code: 0x82, body: 0, rest: false },
  ERR: { code: 0x83, body: 2, rest: false },
  CREATED: { code: 0x84, body: 64, rest: false },
  MSG: { code: 0x85, body: 40, rest: true },
  EMPTY: { code: 0x86, body: 0, rest: false },
  PONG: { code: 0x87, body: 0, rest: false },
  END: { code: 0x88, body: 32, rest: false },
  ROTATED: { code: 0x89, body: 32, rest: false },
  FORWARDED: { code: 0x8a, body: 18, rest: false },
  RELAY_KEY: { code: 0x8b, body: 32 + 32 + 64 + 1, rest: false },
} as const;
export type RelayTypeName = keyof typeof RELAY_TYPES;
const RELAY_BY_CODE = new Map<number, RelayTypeName>(Object.entries(RELAY_TYPES).map(([k, v]) => [v.code, k as RelayTypeName]));

/** CREATE body without the token: readKey, sendId, deliveryKey, accessVerifier, flags, ttl, tokenLength, signature. */
const CREATE_FIXED = 32 * 4 + 1 + 4 + 2 + 64;
const CREATE_TOKEN_LENGTH_AT = HEADER + 32 * 4 + 1 + 4;

/** Whether `body` has exactly the layout of client type `t` (spec/protocol.md §3). */
export function clientBodyFits(t: ClientTypeName, frame: Uint8Array): boolean {
  const body = frame.length - HEADER;
  switch (t) {
    case 'HELLO': return body === 34;
    case 'CREATE': {
      if (body < CREATE_FIXED) return false;
      const tokenLength = (frame[CREATE_TOKEN_LENGTH_AT]! << 8) | frame[CREATE_TOKEN_LENGTH_AT + 1]!;
      return body === CREATE_FIXED + tokenLength;
    }
    case 'AUTH': return body === 96;
    case 'SUB': case 'FETCH': case 'UNSUB': case 'DEL': return body === 32;
    case 'ACK': return body === 40;
    case 'ROTATE': return body === 32 * 4 + 64;
    case 'SEND': return body >= 64;
    case 'PING': return body === 0;
    case 'FORWARD': return body >= 32;
    case 'KEY_QUERY': return body === 32;
  }
}

/** A decoded relay frame: enough structure to check it against the spec table. */
export interface RelayFrameView {
  type: RelayTypeName;
  version: number;
  corr: number;
  body: Uint8Array;
  /** ERR code, when type is ERR. */
  code?: number;
}

/** Parses a frame the relay sent; throws with a description when it is not a valid relay frame. */
export function parseRelayFrame(bytes: Uint8Array): RelayFrameView {
  if (bytes.length < HEADER) throw new Error(`relay frame of ${bytes.length} bytes is shorter than a header`);
  if (bytes[0] !== 1) throw new Error(`relay frame version ${bytes[0]}`);
  const type = RELAY_BY_CODE.get(bytes[1]!);
  if (!type) throw new Error(`relay frame type 0x${bytes[1]!.toString(16)} is not a relay type`);
  const spec = RELAY_TYPES[type];
  const body = bytes.subarray(HEADER);
  if (spec.rest ? body.length < spec.body : body.length !== spec.body) throw new Error(`${type} body of ${body.length} bytes`);
  const corr = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(2);
  const view: RelayFrameView = { type, version: 1, corr, body };
  if (type === 'ERR') view.code = (body[0]! << 8) | body[1]!;
  return view;
}

/** What the relay must do with a frame (spec/protocol.md §3, §5, §7). */
export type Expectation =
  /** ERR with one of `errs`, then close with that error's code. */
  | { kind: 'fatal'; errs: ErrName[] }
  /** Close with `close`, no ERR (1003 text, 1009 too big). */
  | { kind: 'close'; close: number }
  /** A response: one of `types`, or a non-fatal ERR with one of `errs`. */
  | { kind: 'reply'; types: RelayTypeName[]; errs: ErrName[] };

/** Every legitimate non-fatal answer to a well-formed command, before knowing anything else. */
export const REPLIES: Record<Exclude<ClientTypeName, 'HELLO'>, { types: RelayTypeName[]; errs: ErrName[] }> = {
  CREATE: { types: ['CREATED'], errs: ['AUTH', 'INVALID', 'DUPLICATE', 'LIMIT', 'BUSY', 'RATE'] },
  AUTH: { types: ['OK'], errs: ['AUTH', 'LIMIT', 'BUSY', 'RATE'] },
  SUB: { types: ['OK'], errs: ['AUTH', 'LIMIT', 'BUSY'] },
  FETCH: { types: ['MSG', 'EMPTY'], errs: ['AUTH', 'BUSY'] },
  ACK: { types: ['OK'], errs: ['AUTH', 'NO_MSG', 'BUSY'] },
  UNSUB: { types: ['OK'], errs: ['AUTH', 'BUSY'] },
  DEL: { types: ['OK'], errs: ['AUTH', 'BUSY'] },
  ROTATE: { types: ['ROTATED'], errs: ['AUTH', 'INVALID', 'DUPLICATE', 'BUSY', 'RATE'] },
  SEND: { types: ['OK'], errs: ['SIZE', 'AUTH', 'QUOTA', 'RATE', 'BUSY'] },
  PING: { types: ['PONG'], errs: [] },
  // spec/federation.md §4, §5: a relay without that partner answers NO_PEER at once.
  FORWARD: { types: ['FORWARDED'], errs: ['SIZE', 'NO_PEER', 'PEER_DOWN', 'FORWARD_INVALID', 'BUSY'] },
  KEY_QUERY: { types: ['RELAY_KEY'], errs: ['NO_PEER', 'PEER_DOWN'] },
};

/**
 * The structural oracle: what the spec says about `frame` on a connection in `phase`, from its
 * bytes alone. Semantic refinement (is this readId authenticated here? does the signature
 * verify?) is the caller's.
 */
export function classifyClientFrame(frame: Uint8Array, phase: 'AWAIT_HELLO' | 'READY', maxFrameBytes: number, isText = false): Expectation {
  if (frame.length > maxFrameBytes) return { kind: 'close', close: 1009 };
  if (isText) return { kind: 'close', close: 1003 };
  const version = frame[0];
  const code = frame[1];
  if (phase === 'AWAIT_HELLO') {
    // Only HELLO is allowed first (§5.1); a frame with another version is VERSION (§3).
    if (frame.length < HEADER) return { kind: 'fatal', errs: ['MALFORMED', 'HANDSHAKE', 'VERSION'] };
    if (code !== CLIENT_TYPES.HELLO) return { kind: 'fatal', errs: version === 1 ? ['HANDSHAKE'] : ['HANDSHAKE', 'VERSION'] };
    if (version !== 1) return { kind: 'fatal', errs: ['VERSION'] };
    if (!clientBodyFits('HELLO', frame)) return { kind: 'fatal', errs: ['MALFORMED'] };
    const min = frame[HEADER]!;
    const max = frame[HEADER + 1]!;
    return min <= 1 && 1 <= max ? { kind: 'reply', types: ['SERVER_HELLO'], errs: [] } : { kind: 'fatal', errs: ['VERSION'] };
  }
  if (frame.length < HEADER) return { kind: 'fatal', errs: ['MALFORMED'] };
  if (version !== 1) return { kind: 'fatal', errs: ['VERSION'] };
  const c = code!;
  if (c >= 0x80 && c <= 0xbf) return { kind: 'fatal', errs: ['MALFORMED'] }; // a relay-only type (§3)
  if (!(c >= 0x01 && c <= 0x3f)) {
    // Outside both ranges the spec names no error; a frame that fits no type is MALFORMED.
    return { kind: 'fatal', errs: ['MALFORMED'] };
  }
  const t = clientTypeName(c);
  if (!t) return { kind: 'reply', types: [], errs: ['UNKNOWN_COMMAND'] };
  if (t === 'HELLO') return clientBodyFits('HELLO', frame) ? { kind: 'fatal', errs: ['HANDSHAKE'] } : { kind: 'fatal', errs: ['HANDSHAKE', 'MALFORMED'] };
  if (!clientBodyFits(t, frame)) return { kind: 'fatal', errs: ['MALFORMED'] };
  const r = REPLIES[t];
  return { kind: 'reply', types: [...r.types], errs: [...r.errs] };
}

/** Reads the corr of a frame, or 0 for one shorter than a header. */
export const corrOf = (frame: Uint8Array): number =>
  frame.length >= HEADER ? new DataView(frame.buffer, frame.byteOffset, frame.length).getUint32(2) : 0;

export function setCorr(frame: Uint8Array, corr: number): Uint8Array {
  if (frame.length >= HEADER) new DataView(frame.buffer, frame.byteOffset, frame.length).setUint32(2, corr >>> 0);
  return frame;
}

/** corr values at the edges of u32 (spec/protocol.md §3: 0 is for pushes, clients should not use it). */
export const CORR_EXTREMES: readonly number[] = [0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** Client-range codes that version 1 does not define. */
export const UNKNOWN_CLIENT_CODES: readonly number[] = (() => {
  const out: number[] = [];
  for (let c = 0x01; c <= 0x3f; c++) if (!CLIENT_BY_CODE.has(c)) out.push(c);
  return out;
})();
export const RELAY_RANGE_CODES: readonly number[] = Array.from({ length: 0x40 }, (_, i) => 0x80 + i);
export const OUT_OF_RANGE_CODES: readonly number[] = [0x00, ...Array.from({ length: 0x40 }, (_, i) => 0x40 + i), ...Array.from({ length: 0x40 }, (_, i) => 0xc0 + i)];

// ---- mutators -----------------------------------------------------------------------------

export type MutationName =
  | 'none' | 'bitflip' | 'truncate' | 'extend' | 'version' | 'unknown-type' | 'relay-type' | 'other-type' | 'corr-extreme'
  | 'garbage' | 'token-length' | 'byte-set' | 'header-only';

/** Applies one named mutation to a copy of `frame`. */
export function mutate(rng: Prng, frame: Uint8Array, m: MutationName): Uint8Array {
  const out = frame.slice();
  switch (m) {
    case 'none': return out;
    case 'bitflip': {
      const flips = rng.range(1, 3);
      for (let i = 0; i < flips; i++) {
        if (out.length === 0) break;
        const at = rng.int(out.length);
        out[at] = out[at]! ^ (1 << rng.int(8));
      }
      return out;
    }
    case 'byte-set': {
      if (out.length > 0) out[rng.int(out.length)] = rng.pick([0x00, 0xff, 0x7f, 0x80, rng.int(256)]);
      return out;
    }
    case 'truncate': return out.subarray(0, rng.int(out.length));
    case 'extend': {
      const extra = rng.pick([1, 2, 3, 7, 8, 31, 32, 33, 64, rng.range(1, 300)]);
      const longer = new Uint8Array(out.length + extra);
      longer.set(out);
      longer.set(rng.bytes(extra), out.length);
      return longer;
    }
    case 'version': {
      if (out.length > 0) out[0] = rng.pick([0, 2, 3, 0x7f, 0x80, 0xff, rng.range(2, 255)]);
      return out;
    }
    case 'unknown-type': { if (out.length > 1) out[1] = rng.pick(UNKNOWN_CLIENT_CODES); return out; }
    case 'relay-type': { if (out.length > 1) out[1] = rng.pick(RELAY_RANGE_CODES); return out; }
    case 'other-type': { if (out.length > 1) out[1] = rng.pick(OUT_OF_RANGE_CODES); return out; }
    case 'corr-extreme': return setCorr(out, rng.pick(CORR_EXTREMES));
    case 'garbage': {
      const g = rng.bytes(rng.pick([0, 1, 2, 5, 6, 7, 38, 40, 102, rng.range(0, 400)]));
      if (g.length > 0 && rng.chance(0.6)) g[0] = 1; // often a plausible version, to get past it
      return g;
    }
    case 'token-length': {
      // CREATE: a tokenLength that does not match the bytes that follow.
      if (out.length >= CREATE_TOKEN_LENGTH_AT + 2 && out[1] === CLIENT_TYPES.CREATE) {
        const lie = rng.pick([1, 2, 63, 64, 65, 0xffff, rng.int(0x10000)]);
        out[CREATE_TOKEN_LENGTH_AT] = lie >>> 8;
        out[CREATE_TOKEN_LENGTH_AT + 1] = lie & 0xff;
      }
      return out;
    }
    case 'header-only': return out.subarray(0, Math.min(out.length, HEADER));
  }
}

/** Weighted so that about half the frames keep their structure and reach the command handlers. */
export const MUTATIONS: readonly MutationName[] = [
  'none', 'none', 'none', 'none', 'none', 'none', 'bitflip', 'bitflip', 'bitflip', 'bitflip', 'byte-set', 'corr-extreme', 'corr-extreme',
  'truncate', 'extend', 'version', 'unknown-type', 'relay-type', 'other-type', 'garbage', 'token-length', 'header-only',
];

/** A header with `body` appended: version, type, corr. */
export function rawFrame(version: number, type: number, corr: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HEADER + body.length);
  out[0] = version;
  out[1] = type;
  new DataView(out.buffer).setUint32(2, corr >>> 0);
  out.set(body, HEADER);
  return out;
}

// ---- a raw WebSocket client ---------------------------------------------------------------

export type Received = { kind: 'frame'; bytes: Uint8Array; text: boolean } | { kind: 'close'; code: number; reason: string };

export interface RawClientOptions {
  /** Offer the sealpost.v1 subprotocol (default true). */
  subprotocol?: boolean;
  /** Offer this subprotocol instead (the relay-to-relay one, spec/federation.md §2). */
  protocol?: string;
  /** Answer WebSocket pings (default true, as browsers and ws do). */
  autoPong?: boolean;
  /** Local address to connect from (127.0.0.x on Linux loopback). */
  localAddress?: string;
  /** Largest message accepted from the relay. */
  maxPayload?: number;
}

/**
 * A WebSocket client that sends raw bytes and records everything that comes back, in order:
 * binary and text messages, then the close (code and reason). No protocol logic beyond `hello`.
 */
export class RawClient {
  readonly ws: WebSocket;
  private readonly inbox: Received[] = [];
  private readonly waiters: Array<() => void> = [];
  closeInfo: { code: number; reason: string } | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;
  serverNonce: Uint8Array = new Uint8Array(0);
  clientNonce: Uint8Array = new Uint8Array(0);
  relayDeliveryKey: Uint8Array = new Uint8Array(0);
  powDifficulty = 0;
  maxFrameBytes = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary: boolean) => this.push({ kind: 'frame', bytes: new Uint8Array(data), text: !isBinary }));
    ws.on('error', () => { /* 'close' follows */ });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.push({ kind: 'close', ...this.closeInfo });
        resolve(this.closeInfo);
      });
    });
  }

  /** Opens a connection to ws://127.0.0.1:port/ and waits for it to be open (or closed: 4008). */
  static async open(port: number, opts: RawClientOptions = {}): Promise<RawClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, opts.subprotocol === false ? [] : [opts.protocol ?? 'sealpost.v1'], {
      perMessageDeflate: false,
      autoPong: opts.autoPong ?? true,
      maxPayload: opts.maxPayload ?? 4 << 20,
      handshakeTimeout: 5_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    const c = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('close', () => resolve());
      ws.once('error', (e) => { if (ws.readyState !== WebSocket.CLOSED && ws.readyState !== WebSocket.CLOSING) reject(e); else resolve(); });
    });
    return c;
  }

  get isOpen(): boolean { return this.ws.readyState === WebSocket.OPEN; }
  /** The TCP socket under the WebSocket (to pause reading, or to learn the local port). */
  get socket(): Socket { return (this.ws as unknown as { _socket: Socket })._socket; }

  private push(r: Received): void {
    this.inbox.push(r);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Everything received and not yet taken. */
  get pending(): number { return this.inbox.length; }

  /** The next thing received (a frame or the close), or null after `ms`. */
  async next(ms = 3_000): Promise<Received | null> {
    const deadline = Date.now() + ms;
    while (this.inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.inbox.shift()!;
  }

  send(bytes: Uint8Array): void {
    if (this.isOpen) this.ws.send(bytes, { binary: true });
  }
  sendText(text: string): void {
    if (this.isOpen) this.ws.send(text, { binary: false });
  }

  /** HELLO with a fresh nonce; records the relay's nonce and keys. Throws unless SERVER_HELLO comes back. */
  async hello(clientNonce: Uint8Array, corr = 1): Promise<void> {
    this.clientNonce = clientNonce;
    const body = new Uint8Array(34);
    body[0] = 1;
    body[1] = 1;
    body.set(clientNonce, 2);
    this.send(rawFrame(1, CLIENT_TYPES.HELLO, corr, body));
    const r = await this.next(5_000);
    if (!r || r.kind !== 'frame') throw new Error(`no SERVER_HELLO (${r ? `close ${r.code}` : 'timeout'})`);
    const f = parseRelayFrame(r.bytes);
    if (f.type !== 'SERVER_HELLO') throw new Error(`expected SERVER_HELLO, got ${f.type}`);
    this.serverNonce = f.body.slice(1, 33);
    this.relayDeliveryKey = f.body.slice(65, 97);
    this.powDifficulty = f.body[97]!;
    this.maxFrameBytes = new DataView(f.body.buffer, f.body.byteOffset + 98, 4).getUint32(0);
  }

  /** Closes (1000) and waits, bounded, for the socket to go. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    try {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
      else this.ws.terminate();
    } catch {
      this.ws.terminate();
    }
    const t = setTimeout(() => this.ws.terminate(), 1_000);
    await this.closed;
    clearTimeout(t);
  }
}

// ---- below the frame: raw WebSocket (RFC 6455) over TCP -------------------------------------

/** One WebSocket frame as a client would send it (masked unless `mask: false`), possibly malformed. */
export function wsFrame(o: {
  fin?: boolean; rsv?: number; opcode: number; payload: Uint8Array; mask?: boolean;
  /** The length written in the header (default: the payload's), to lie about it. */
  declaredLength?: number;
  /** Force a length encoding: 7-bit, 16-bit or 64-bit. */
  lengthForm?: 7 | 16 | 64;
}): Uint8Array {
  const len = o.declaredLength ?? o.payload.length;
  const form = o.lengthForm ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const mask = o.mask !== false;
  const head: number[] = [((o.fin === false ? 0 : 1) << 7) | (((o.rsv ?? 0) & 7) << 4) | (o.opcode & 0x0f)];
  const m = mask ? 0x80 : 0;
  if (form === 7) head.push(m | (len & 0x7f));
  else if (form === 16) head.push(m | 126, (len >>> 8) & 0xff, len & 0xff);
  else {
    head.push(m | 127);
    const hi = Math.floor(len / 2 ** 32);
    head.push((hi >>> 24) & 0xff, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  const key = mask ? [0x12, 0x34, 0x56, 0x78] : [];
  const body = o.payload.slice();
  if (mask) for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i % 4]!;
  return new Uint8Array([...head, ...key, ...body]);
}

/** Server-to-client frames (unmasked) parsed from a byte stream; stops at an incomplete frame. */
export function parseServerFrames(buf: Uint8Array): Array<{ fin: boolean; opcode: number; payload: Uint8Array }> {
  const out: Array<{ fin: boolean; opcode: number; payload: Uint8Array }> = [];
  let o = 0;
  while (o + 2 <= buf.length) {
    const b0 = buf[o]!;
    const b1 = buf[o + 1]!;
    let len = b1 & 0x7f;
    let p = o + 2;
    if (len === 126) { if (p + 2 > buf.length) break; len = (buf[p]! << 8) | buf[p + 1]!; p += 2; }
    else if (len === 127) { if (p + 8 > buf.length) break; len = Number(new DataView(buf.buffer, buf.byteOffset + p, 8).getBigUint64(0)); p += 8; }
    if (b1 & 0x80) p += 4; // a server must not mask; tolerate it here, the caller checks
    if (p + len > buf.length) break;
    out.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: buf.subarray(p, p + len) });
    o = p + len;
  }
  return out;
}

/** A TCP connection that has completed the WebSocket upgrade by hand; collects what the server sends. */
export class RawTcpWebSocket {
  private chunks: Buffer[] = [];
  ended = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.chunks.push(d));
    socket.on('close', () => { this.ended = true; });
    socket.on('error', () => { this.ended = true; });
  }

  static async open(port: number): Promise<RawTcpWebSocket> {
    const { connect } = await import('node:net');
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const key = Buffer.from(Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0xff)).toString('base64');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sealpost.v1\r\n\r\n`);
    const c = new RawTcpWebSocket(socket);
    const deadline = Date.now() + 3_000;
    for (;;) {
      const all = Buffer.concat(c.chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = all.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${head.split('\r\n')[0]}`);
        c.chunks = [all.subarray(end + 4)];
        return c;
      }
      if (c.ended || Date.now() > deadline) throw new Error('no upgrade response');
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  write(bytes: Uint8Array): void {
    if (!this.ended) this.socket.write(bytes);
  }

  /** Everything received after the upgrade so far. */
  received(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }

  /** Waits until a close frame arrives (or `enough` holds), the socket ends, or `ms` pass; returns the frames seen. */
  async settle(ms: number, enough?: (frames: Array<{ opcode: number }>) => boolean): Promise<Array<{ fin: boolean; opcode: number; payload: Uint8Array }>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const frames = parseServerFrames(this.received());
      if (this.ended || frames.some((f) => f.opcode === 8) || enough?.(frames) || Date.now() > deadline) return frames;
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
