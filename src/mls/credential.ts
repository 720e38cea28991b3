// Credentials (RFC 9420 §5.3). Sealpost members use basic credentials whose identity is the
// account's identity key (spec/groups.md §3); x509 is decoded so that foreign messages parse,
// and refused at validation. Pure codecs.
import { MlsError } from './errors.js';
import { CredentialType } from './extensions.js';
import { TlsReader, TlsWriter } from './tls.js';

export type Credential =
  | { readonly type: 1; readonly identity: Uint8Array }
  | { readonly type: 2; readonly certificates: readonly Uint8Array[] }
  | { readonly type: number; readonly unknown: true };

export function writeCredential(w: TlsWriter, c: Credential): void {
  w.u16(c.type);
  if ('identity' in c) w.opaque(c.identity);
  else if ('certificates' in c) w.vector(c.certificates, (x, cert) => void x.opaque(cert));
  else throw new MlsError('UNSUPPORTED', `cannot encode credential type ${c.type}`);
}
export function readCredential(r: TlsReader): Credential {
  const type = r.u16();
  if (type === CredentialType.basic) return { type: 1, identity: r.opaque() };
  if (type === CredentialType.x509) return { type: 2, certificates: r.vector((x) => x.opaque()) };
  throw new MlsError('UNSUPPORTED', `credential type ${type}`);
}
