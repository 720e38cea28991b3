// The client's domain-separation labels (spec/client.md §2). Each is used by exactly one
// construction; none is shared with spec/crypto.md §2.
import { utf8 } from '../crypto/index.js';

export const CLIENT_LABELS = {
  identityBind: utf8('sealpost/v1/identity-bind'),
  invitation: utf8('sealpost/v1/invitation'),
  handshakeTranscript: utf8('sealpost/v1/handshake-transcript'),
  handshakeKey: utf8('sealpost/v1/handshake-key'),
  storeKey: utf8('sealpost/v1/store-key'),
  storeIndex: utf8('sealpost/v1/store-index'),
  storeCheck: utf8('sealpost/v1/store-check'),
  storeRecord: utf8('sealpost/v1/store-record'),
} as const;
