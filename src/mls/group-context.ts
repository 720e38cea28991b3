// GroupContext (RFC 9420 §8.1): what every epoch's keys are bound to. Pure codec.
import { readExtensions, writeExtensions, type Extension, PROTOCOL_VERSION_MLS10 } from './extensions.js';
import { MlsError } from './errors.js';
import { TlsReader, TlsWriter, encode } from './tls.js';

export interface GroupContext {
  readonly version: number;
  readonly cipherSuite: number;
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly treeHash: Uint8Array;
  readonly confirmedTranscriptHash: Uint8Array;
  readonly extensions: readonly Extension[];
}

export function writeGroupContext(w: TlsWriter, g: GroupContext): void {
  w.u16(g.version).u16(g.cipherSuite).opaque(g.groupId).u64(g.epoch).opaque(g.treeHash).opaque(g.confirmedTranscriptHash);
  writeExtensions(w, g.extensions);
}
export function readGroupContext(r: TlsReader): GroupContext {
  const version = r.u16();
  if (version !== PROTOCOL_VERSION_MLS10) throw new MlsError('UNSUPPORTED', `protocol version ${version}`);
  return {
    version, cipherSuite: r.u16(), groupId: r.opaque(), epoch: r.u64(), treeHash: r.opaque(),
    confirmedTranscriptHash: r.opaque(), extensions: readExtensions(r),
  };
}
export const encodeGroupContext = (g: GroupContext): Uint8Array => encode(writeGroupContext, g);
