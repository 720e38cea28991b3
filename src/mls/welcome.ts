// GroupSecrets, EncryptedGroupSecrets and Welcome (RFC 9420 §12.4.3.1). Pure codecs.
import { readPreSharedKeyId, writePreSharedKeyId, type PreSharedKeyId } from './psk-id.js';
import { readHpkeCiphertext, writeHpkeCiphertext, type HpkeCiphertext } from './hpke-ciphertext.js';
import { TlsReader, TlsWriter, decode, encode } from './tls.js';

export interface GroupSecrets {
  readonly joinerSecret: Uint8Array;
  /** optional<PathSecret>: the path secret of the joiner's and the committer's common ancestor. */
  readonly pathSecret?: Uint8Array | undefined;
  readonly psks: readonly PreSharedKeyId[];
}
export interface EncryptedGroupSecrets {
  /** The KeyPackageRef of the joiner's KeyPackage. */
  readonly newMember: Uint8Array;
  readonly encryptedGroupSecrets: HpkeCiphertext;
}
export interface Welcome {
  readonly cipherSuite: number;
  readonly secrets: readonly EncryptedGroupSecrets[];
  readonly encryptedGroupInfo: Uint8Array;
}


export function writeGroupSecrets(w: TlsWriter, g: GroupSecrets): void {
  w.opaque(g.joinerSecret).optional(g.pathSecret, (x, s) => void x.opaque(s)).vector(g.psks, writePreSharedKeyId);
}
export function readGroupSecrets(r: TlsReader): GroupSecrets {
  const joinerSecret = r.opaque();
  const pathSecret = r.optional((x) => x.opaque());
  return { joinerSecret, pathSecret, psks: r.vector(readPreSharedKeyId) };
}
export const encodeGroupSecrets = (g: GroupSecrets): Uint8Array => encode(writeGroupSecrets, g);
export const decodeGroupSecrets = (b: Uint8Array): GroupSecrets => decode(readGroupSecrets, b, 'GroupSecrets');

export function writeEncryptedGroupSecrets(w: TlsWriter, e: EncryptedGroupSecrets): void {
  w.opaque(e.newMember);
  writeHpkeCiphertext(w, e.encryptedGroupSecrets);
}
export function readEncryptedGroupSecrets(r: TlsReader): EncryptedGroupSecrets {
  const newMember = r.opaque();
  return { newMember, encryptedGroupSecrets: readHpkeCiphertext(r) };
}

/** The cipher suite decodes as any value; joining checks it against the KeyPackage (§12.4.3.1). */
export function writeWelcome(w: TlsWriter, m: Welcome): void {
  w.u16(m.cipherSuite).vector(m.secrets, writeEncryptedGroupSecrets).opaque(m.encryptedGroupInfo);
}
export function readWelcome(r: TlsReader): Welcome {
  const cipherSuite = r.u16();
  const secrets = r.vector(readEncryptedGroupSecrets);
  return { cipherSuite, secrets, encryptedGroupInfo: r.opaque() };
}
export const encodeWelcome = (m: Welcome): Uint8Array => encode(writeWelcome, m);
export const decodeWelcome = (b: Uint8Array): Welcome => decode(readWelcome, b, 'Welcome');
