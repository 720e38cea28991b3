// Byte and needle scanners for privacy tests: find secrets, ids, lengths and addresses in
// whatever a process wrote (files, logs, metrics), raw and in the text encodings a careless
// log line would use (hex, base64, base64url at every alignment, JSON byte arrays).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Needle { label: string; bytes: Uint8Array }
export interface Haystack { name: string; bytes: Uint8Array }
export interface Form { form: string; bytes: Uint8Array }
export interface Hit { haystack: string; needle: string; form: string; offset: number }

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');

/** Every offset of `needle` in `hay`. */
export function findAll(hay: Uint8Array, needle: Uint8Array): number[] {
  if (needle.length === 0) return [];
  const h = Buffer.from(hay.buffer, hay.byteOffset, hay.length);
  const n = Buffer.from(needle.buffer, needle.byteOffset, needle.length);
  const out: number[] = [];
  for (let i = h.indexOf(n); i >= 0; i = h.indexOf(n, i + 1)) out.push(i);
  return out;
}

export const contains = (hay: Uint8Array, needle: Uint8Array): boolean =>
  needle.length > 0 && Buffer.from(hay.buffer, hay.byteOffset, hay.length).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.length)) >= 0;

/**
 * The base64 characters that depend only on `needle`'s bytes when it sits at byte offset
 * `shift` (mod 3) inside a longer encoded string: a match of these is a match of the needle
 * wherever a logger put it. Empty when the needle is too short to determine `minChars`.
 */
export function base64Core(needle: Uint8Array, shift: 0 | 1 | 2, urlSafe: boolean, minChars = 8): string {
  const buf = new Uint8Array(shift + needle.length + 3);
  buf.set(needle, shift);
  const enc = b64(buf);
  const startBit = 8 * shift;
  const endBit = 8 * (shift + needle.length);
  const first = Math.ceil(startBit / 6);
  const last = Math.floor(endBit / 6) - 1; // char i covers bits [6i, 6i+6)
  if (last - first + 1 < minChars) return '';
  const core = enc.slice(first, last + 1);
  return urlSafe ? core.replace(/\+/g, '-').replace(/\//g, '_') : core;
}

/**
 * The forms a byte string can take in output: raw; lower and upper hex; base64 and base64url
 * at the three alignments; decimal JSON arrays (`[1,2,3]`, Buffer's toJSON) and the object
 * form `JSON.stringify(Uint8Array)` gives (`{"0":1,"1":2}`). Encoded forms need the needle to
 * be at least `minTextBytes` long (shorter ones collide by chance in random text).
 */
export function encodedForms(bytes: Uint8Array, opts: { minTextBytes?: number } = {}): Form[] {
  const forms: Form[] = [{ form: 'raw', bytes }];
  if (bytes.length < (opts.minTextBytes ?? 8)) return forms;
  const hex = Buffer.from(bytes).toString('hex');
  forms.push({ form: 'hex', bytes: ascii(hex) }, { form: 'HEX', bytes: ascii(hex.toUpperCase()) });
  for (const shift of [0, 1, 2] as const) {
    for (const url of [false, true]) {
      const core = base64Core(bytes, shift, url);
      if (core && !forms.some((f) => Buffer.from(f.bytes).toString('latin1') === core)) {
        forms.push({ form: `${url ? 'base64url' : 'base64'}@${shift}`, bytes: ascii(core) });
      }
    }
  }
  const dec = Array.from(bytes).join(',');
  forms.push({ form: 'json-array', bytes: ascii(dec) });
  const obj = Array.from(bytes.subarray(0, 8)).map((v, i) => `"${i}":${v}`).join(',');
  forms.push({ form: 'json-object', bytes: ascii(obj) });
  return forms;
}

/** Scans every haystack for every needle in every form; returns all hits. */
export function scanNeedles(haystacks: readonly Haystack[], needles: readonly Needle[], opts: { rawOnly?: boolean; minTextBytes?: number } = {}): Hit[] {
  const hits: Hit[] = [];
  for (const n of needles) {
    const forms = opts.rawOnly ? [{ form: 'raw', bytes: n.bytes }] : encodedForms(n.bytes, opts.minTextBytes !== undefined ? { minTextBytes: opts.minTextBytes } : {});
    for (const h of haystacks) {
      for (const f of forms) {
        for (const offset of findAll(h.bytes, f.bytes)) hits.push({ haystack: h.name, needle: n.label, form: f.form, offset });
      }
    }
  }
  return hits;
}

/** A number as the binary integers a record might hold: u16 (if it fits) and u32, both byte orders. */
export function intEncodings(n: number): Form[] {
  const out: Form[] = [];
  if (n >= 0 && n <= 0xffff) {
    const be = new Uint8Array(2); new DataView(be.buffer).setUint16(0, n, false);
    const le = new Uint8Array(2); new DataView(le.buffer).setUint16(0, n, true);
    out.push({ form: 'u16be', bytes: be }, { form: 'u16le', bytes: le });
  }
  const be = new Uint8Array(4); new DataView(be.buffer).setUint32(0, n, false);
  const le = new Uint8Array(4); new DataView(le.buffer).setUint32(0, n, true);
  out.push({ form: 'u32be', bytes: be }, { form: 'u32le', bytes: le });
  return out;
}

/** Offsets where `n` appears as a whole decimal number (not part of a longer number) in `text`. */
export function decimalTokens(text: string, n: number): number[] {
  const re = new RegExp(`(?<![0-9.])${n}(?![0-9]|\\.[0-9])`, 'g');
  const out: number[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m.index);
  return out;
}

/** Pairs of offsets where `a` and `b` both occur within `window` bytes of each other. */
export function coOccurrences(hay: Uint8Array, a: Uint8Array, b: Uint8Array, window: number): Array<[number, number]> {
  const as = findAll(hay, a);
  if (as.length === 0) return [];
  const bs = findAll(hay, b);
  const out: Array<[number, number]> = [];
  for (const i of as) for (const j of bs) if (Math.abs(i - j) <= window) out.push([i, j]);
  return out;
}

/** Every regular file under `dir` (recursively), read whole, named relative to `dir`. */
export function readTree(dir: string): Haystack[] {
  const out: Haystack[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push({ name: relative(dir, p), bytes: new Uint8Array(readFileSync(p)) });
    }
  };
  walk(dir);
  return out;
}

/** One line per hit, capped, for assertion messages. */
export function describeHits(hits: readonly Hit[], max = 20): string {
  const lines = hits.slice(0, max).map((h) => `${h.needle} as ${h.form} in ${h.haystack} at ${h.offset}`);
  if (hits.length > max) lines.push(`… and ${hits.length - max} more`);
  return lines.join('\n');
}
