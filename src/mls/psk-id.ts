// PreSharedKeyID and PSKLabel (RFC 9420 §8.4): which pre-shared key a proposal or a Welcome
// injects into the key schedule. Pure codecs.
import { MlsError } from './errors.js';
import { TlsReader, TlsWriter, encode } from './tls.js';

/** PSKType code points (§8.4). */
export const PskType = { external: 1, resumption: 2 } as const;
/** ResumptionPSKUsage code points (§8.4). */
export const ResumptionPskUsage = { application: 1, reinit: 2, branch: 3 } as const;
export type ResumptionPskUsageValue = 1 | 2 | 3;

export type PreSharedKeyId =
  | { readonly psktype: 1; readonly pskId: Uint8Array; readonly pskNonce: Uint8Array }
  | {
    readonly psktype: 2; readonly usage: ResumptionPskUsageValue; readonly pskGroupId: Uint8Array;
    readonly pskEpoch: bigint; readonly pskNonce: Uint8Array;
  };

export function writePreSharedKeyId(w: TlsWriter, p: PreSharedKeyId): void {
  w.u8(p.psktype);
  if (p.psktype === 1) w.opaque(p.pskId);
  else w.u8(p.usage).opaque(p.pskGroupId).u64(p.pskEpoch);
  w.opaque(p.pskNonce);
}
export function readPreSharedKeyId(r: TlsReader): PreSharedKeyId {
  const psktype = r.u8();
  if (psktype === PskType.external) {
    const pskId = r.opaque();
    return { psktype, pskId, pskNonce: r.opaque() };
  }
  if (psktype === PskType.resumption) {
    const usage = r.u8();
    if (usage !== 1 && usage !== 2 && usage !== 3) throw new MlsError('MALFORMED', `resumption psk usage ${usage}`);
    const pskGroupId = r.opaque();
    const pskEpoch = r.u64();
    return { psktype, usage, pskGroupId, pskEpoch, pskNonce: r.opaque() };
  }
  throw new MlsError('MALFORMED', `psktype ${psktype}`);
}
export const encodePreSharedKeyId = (p: PreSharedKeyId): Uint8Array => encode(writePreSharedKeyId, p);

/** PSKLabel { PreSharedKeyID id; uint16 index; uint16 count; } (§8.4), the context of each PSK's expansion. */
export function pskLabel(id: PreSharedKeyId, index: number, count: number): Uint8Array {
  const w = new TlsWriter(96);
  writePreSharedKeyId(w, id);
  return w.u16(index).u16(count).finish();
}
