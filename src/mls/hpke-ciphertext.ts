// HPKECiphertext (RFC 9420 §5.1.3): what EncryptWithLabel returns, as the Welcome and the
// UpdatePath carry it. A pure codec, apart from suite.ts so that the codecs load no crypto.
import type { TlsReader, TlsWriter } from './tls.js';

export interface HpkeCiphertext { readonly kemOutput: Uint8Array; readonly ciphertext: Uint8Array }

export function writeHpkeCiphertext(w: TlsWriter, c: HpkeCiphertext): void {
  w.opaque(c.kemOutput).opaque(c.ciphertext);
}
export function readHpkeCiphertext(r: TlsReader): HpkeCiphertext {
  const kemOutput = r.opaque();
  return { kemOutput, ciphertext: r.opaque() };
}
