// ProposalOrRef and Commit (RFC 9420 §12.4). Pure codecs.
import { MlsError } from './errors.js';
import { readProposal, writeProposal, type Proposal } from './proposals.js';
import { TlsReader, TlsWriter, decode, encode } from './tls.js';
import { readUpdatePath, writeUpdatePath, type UpdatePath } from './update-path.js';

/** ProposalOrRefType code points (§12.4). */
export const ProposalOrRefType = { proposal: 1, reference: 2 } as const;

export type ProposalOrRef =
  | { readonly type: 1; readonly proposal: Proposal }
  /** A ProposalRef (§5.2): RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent). */
  | { readonly type: 2; readonly reference: Uint8Array };

export interface Commit {
  readonly proposals: readonly ProposalOrRef[];
  readonly path?: UpdatePath | undefined;
}

export function writeProposalOrRef(w: TlsWriter, p: ProposalOrRef): void {
  w.u8(p.type);
  if (p.type === 1) writeProposal(w, p.proposal);
  else w.opaque(p.reference);
}
export function readProposalOrRef(r: TlsReader): ProposalOrRef {
  const type = r.u8();
  if (type === ProposalOrRefType.proposal) return { type, proposal: readProposal(r) };
  if (type === ProposalOrRefType.reference) return { type, reference: r.opaque() };
  throw new MlsError('MALFORMED', `ProposalOrRefType ${type}`);
}
export function writeCommit(w: TlsWriter, c: Commit): void {
  w.vector(c.proposals, writeProposalOrRef).optional(c.path, writeUpdatePath);
}
export function readCommit(r: TlsReader): Commit {
  const proposals = r.vector(readProposalOrRef);
  return { proposals, path: r.optional(readUpdatePath) };
}
export const encodeCommit = (c: Commit): Uint8Array => encode(writeCommit, c);
export const decodeCommit = (b: Uint8Array): Commit => decode(readCommit, b, 'Commit');
