// Domain-separation labels (spec/crypto.md §2). No two constructions share one.
import { utf8 } from './bytes.js';

export const LABELS = {
  relayFingerprint: utf8('sealpost/v1/relay-fp'),
  relayHello: utf8('sealpost/v1/relay-hello'),
  readId: utf8('sealpost/v1/read-id'),
  sendId: utf8('sealpost/v1/send-id'),
  access: utf8('sealpost/v1/access'),
  create: utf8('sealpost/v1/create'),
  readAuth: utf8('sealpost/v1/read-auth'),
  rotate: utf8('sealpost/v1/rotate'),
  deliver: utf8('sealpost/v1/deliver'),
  pow: utf8('sealpost/v1/pow'),
  envelope: utf8('sealpost/v1/envelope'),
  senderAuth: utf8('sealpost/v1/sender-auth'),
  sas: utf8('sealpost/v1/sas'),
  accountSas: utf8('sealpost/v1/account-sas'),
  forward: utf8('sealpost/v1/forward'),
  forwardResponse: utf8('sealpost/v1/forward-response'),
  forwardNonce: utf8('sealpost/v1/forward-nonce'),
  relayDeliveryKey: utf8('sealpost/v1/relay-dk'),
  peerAccept: utf8('sealpost/v1/peer-accept'),
  peerAuth: utf8('sealpost/v1/peer-auth'),
  peerKeys: utf8('sealpost/v1/peer-keys'),
} as const;
