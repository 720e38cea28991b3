// The messages that relays and mailbox owners sign (spec/crypto.md §4, §5). Each binds
// the connection's two nonces, so a proof works on one connection only.
import { abytes, concat } from './bytes.js';
import { LABELS } from './labels.js';

const n32 = (b: Uint8Array, name: string): Uint8Array => abytes(b, name, 32);

/** Signed by the relay identity key in its HELLO. */
export const relayHelloMessage = (clientNonce: Uint8Array, helloBodyWithoutSig: Uint8Array): Uint8Array =>
  concat(LABELS.relayHello, n32(clientNonce, 'clientNonce'), abytes(helloBodyWithoutSig, 'body'));

/** Signed by a mailbox's read key to authenticate a read session. */
export const readAuthMessage = (serverNonce: Uint8Array, clientNonce: Uint8Array, readId: Uint8Array): Uint8Array =>
  concat(LABELS.readAuth, n32(serverNonce, 'serverNonce'), n32(clientNonce, 'clientNonce'), n32(readId, 'readId'));

/** Signed by the new mailbox's read key in CREATE. */
export const createMessage = (serverNonce: Uint8Array, clientNonce: Uint8Array, createBodyWithoutSig: Uint8Array): Uint8Array =>
  concat(LABELS.create, n32(serverNonce, 'serverNonce'), n32(clientNonce, 'clientNonce'), abytes(createBodyWithoutSig, 'body'));

/** Signed by the new read key in ROTATE. */
export const rotateMessage = (serverNonce: Uint8Array, clientNonce: Uint8Array, rotateBodyWithoutSig: Uint8Array): Uint8Array =>
  concat(LABELS.rotate, n32(serverNonce, 'serverNonce'), n32(clientNonce, 'clientNonce'), abytes(rotateBodyWithoutSig, 'body'));
