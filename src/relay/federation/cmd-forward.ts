// FORWARD and KEY_QUERY (spec/federation.md §4, §5): a client's sealed SEND goes to the partner
// relay named by its fingerprint over this relay's link to it, or, when it names this relay,
// is taken here as the destination would (same-relay private routing). This relay learns
// which partner and the envelope's bucket; never the mailbox, the envelope or the answer.
import { FORWARD_OVERHEAD, toBase64url } from '../../crypto/index.js';
import { isEnvelopeBucket, ProtocolError, type ForwardFrame, type KeyQueryFrame, type RelayFrame } from '../../wire/index.js';
import type { RelayContext } from '../context.js';
import type { Maybe } from '../maybe.js';
import type { Session } from '../session.js';
import { takeForwarded, type IntakeResult } from './forward-in.js';

function answered(r: IntakeResult): RelayFrame {
  if ('response' in r) return { type: 'FORWARDED', corr: 0, response: r.response };
  throw new ProtocolError(r.code);
}

export function handleForward(ctx: RelayContext, session: Session, f: ForwardFrame): Maybe<RelayFrame> {
  if (!isEnvelopeBucket(f.sealed.length - FORWARD_OVERHEAD)) throw new ProtocolError('SIZE');
  const fed = ctx.federation;
  if (!fed) throw new ProtocolError('NO_PEER', 'this relay has no federation');
  const fingerprint = toBase64url(f.relay);
  if (fingerprint === ctx.identity.fingerprint) {
    fed.metrics.forwardsOut.inc('local');
    const r = takeForwarded(ctx, fed, session, f.sealed.slice());
    return r instanceof Promise ? r.then(answered) : answered(r);
  }
  const link = fed.linkTo(fingerprint);
  if (!link) { fed.metrics.forwardsOut.inc('no_peer'); throw new ProtocolError('NO_PEER'); }
  if (fed.forwarding >= MAX_FORWARDS_OUT) throw new ProtocolError('BUSY', 'relay-wide bound on forwards in flight');
  fed.forwarding++;
  return link.forward(f.sealed.slice()).then((outcome) => {
    fed.forwarding--;
    if ('response' in outcome) { fed.metrics.forwardsOut.inc('answered'); return { type: 'FORWARDED', corr: 0, response: outcome.response }; }
    fed.metrics.forwardsOut.inc(outcome.code.toLowerCase());
    throw new ProtocolError(outcome.code);
  });
}

/** FORWARDs waiting for a partner, relay-wide (per connection they count as commands in flight). */
export const MAX_FORWARDS_OUT = 65_536;

export function handleKeyQuery(ctx: RelayContext, _session: Session, f: KeyQueryFrame): Maybe<RelayFrame> {
  const fed = ctx.federation;
  const fingerprint = toBase64url(f.relay);
  const id = ctx.identity;
  if (fingerprint === id.fingerprint && fed) {
    return { type: 'RELAY_KEY', corr: 0, signKey: id.signKey, deliveryKey: id.deliveryKey, signature: fed.deliveryKeySignature, powDifficulty: ctx.config.powDifficulty };
  }
  const link = fed?.linkTo(fingerprint);
  if (!link) throw new ProtocolError('NO_PEER');
  return link.partnerKeys().then((k) => {
    if (!k) throw new ProtocolError('PEER_DOWN');
    return { type: 'RELAY_KEY', corr: 0, signKey: k.signKey, deliveryKey: k.deliveryKey, signature: k.signature, powDifficulty: k.powDifficulty };
  });
}
