// Proposals (RFC 9420 §12.1): the seven default types. A proposal's body carries no length, so
// a type we do not know cannot be skipped: it is refused as UNSUPPORTED. Pure codecs.
import { readExtensions, writeExtensions, ProposalType, type Extension } from './extensions.js';
import { MlsError } from './errors.js';
import { readKeyPackage, writeKeyPackage, type KeyPackage } from './key-package.js';
import { readLeafNode, writeLeafNode, type LeafNode } from './leaf-node.js';
import { readPreSharedKeyId, writePreSharedKeyId, type PreSharedKeyId } from './psk-id.js';
import { TlsReader, TlsWriter, decode, encode } from './tls.js';

export interface AddProposal { readonly type: 1; readonly keyPackage: KeyPackage }
export interface UpdateProposal { readonly type: 2; readonly leafNode: LeafNode }
export interface RemoveProposal { readonly type: 3; readonly removed: number }
export interface PreSharedKeyProposal { readonly type: 4; readonly psk: PreSharedKeyId }
export interface ReInitProposal {
  readonly type: 5;
  readonly groupId: Uint8Array;
  /** The new group's version and suite: any value decodes, the commit's validation decides. */
  readonly version: number;
  readonly cipherSuite: number;
  readonly extensions: readonly Extension[];
}
export interface ExternalInitProposal { readonly type: 6; readonly kemOutput: Uint8Array }
export interface GroupContextExtensionsProposal { readonly type: 7; readonly extensions: readonly Extension[] }

export type Proposal =
  | AddProposal | UpdateProposal | RemoveProposal | PreSharedKeyProposal | ReInitProposal
  | ExternalInitProposal | GroupContextExtensionsProposal;
export type ProposalTypeValue = Proposal['type'];

/** The proposal's body alone, without its type (the form of the messages vectors' *_proposal). */
export function writeProposalBody(w: TlsWriter, p: Proposal): void {
  switch (p.type) {
    case 1: writeKeyPackage(w, p.keyPackage); return;
    case 2: writeLeafNode(w, p.leafNode); return;
    case 3: w.u32(p.removed); return;
    case 4: writePreSharedKeyId(w, p.psk); return;
    case 5: w.opaque(p.groupId).u16(p.version).u16(p.cipherSuite); writeExtensions(w, p.extensions); return;
    case 6: w.opaque(p.kemOutput); return;
    case 7: writeExtensions(w, p.extensions); return;
    default: throw new MlsError('UNSUPPORTED', `cannot encode proposal type ${(p as { type: number }).type}`);
  }
}
/** The body of a proposal of the given type; unknown types are UNSUPPORTED. */
export function readProposalBody(r: TlsReader, type: number): Proposal {
  switch (type) {
    case ProposalType.add: return { type, keyPackage: readKeyPackage(r) };
    case ProposalType.update: return { type, leafNode: readLeafNode(r) };
    case ProposalType.remove: return { type, removed: r.u32() };
    case ProposalType.psk: return { type, psk: readPreSharedKeyId(r) };
    case ProposalType.reinit: {
      const groupId = r.opaque();
      const version = r.u16();
      const cipherSuite = r.u16();
      return { type, groupId, version, cipherSuite, extensions: readExtensions(r) };
    }
    case ProposalType.externalInit: return { type, kemOutput: r.opaque() };
    case ProposalType.groupContextExtensions: return { type, extensions: readExtensions(r) };
    default: throw new MlsError('UNSUPPORTED', `proposal type ${type}`);
  }
}
export function writeProposal(w: TlsWriter, p: Proposal): void {
  w.u16(p.type);
  writeProposalBody(w, p);
}
export function readProposal(r: TlsReader): Proposal {
  return readProposalBody(r, r.u16());
}
export const encodeProposal = (p: Proposal): Uint8Array => encode(writeProposal, p);
export const decodeProposal = (b: Uint8Array): Proposal => decode(readProposal, b, 'Proposal');
