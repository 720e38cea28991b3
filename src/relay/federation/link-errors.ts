// The closed set of link errors (spec/federation.md §7): each has its wire code, sent in
// LINK_ERR before the link closes, and the WebSocket close code that follows.
import { CodedError, codedGuard } from '../../coded-error.js';

export const LINK_ERRORS = {
  MALFORMED: { code: 1, close: 4001 },
  VERSION: { code: 2, close: 4002 },
  HANDSHAKE: { code: 3, close: 4003 },
  NOT_PARTNER: { code: 20, close: 4010 },
  PEER_AUTH: { code: 21, close: 4011 },
  LINK_LIMIT: { code: 22, close: 4012 },
} as const;

export type LinkErrorCode = keyof typeof LINK_ERRORS;
const BY_WIRE = new Map<number, LinkErrorCode>(Object.entries(LINK_ERRORS).map(([k, v]) => [v.code, k as LinkErrorCode]));
export const linkErrorOfWire = (code: number): LinkErrorCode | undefined => BY_WIRE.get(code);

export class LinkError extends CodedError<LinkErrorCode> {}
export const isLinkError = codedGuard(LinkError);

/**
 * Why a link was refused or dropped, as counted in `sealpost_peer_refused_total{reason}` (never
 * by peer address): the link errors, and `wrong_key` on the dialing side when the peer's key is
 * not the pinned one.
 */
export type RefusalReason = 'not_partner' | 'peer_auth' | 'wrong_key' | 'malformed' | 'version' | 'handshake' | 'link_limit';
export const refusalReason = (code: LinkErrorCode): RefusalReason => code.toLowerCase() as RefusalReason;
