// The command table: one handler per client frame type (spec/protocol.md §5).
import { ProtocolError, type ClientFrame, type RelayFrame } from '../wire/index.js';
import { handleAuth, handleCreate, handleDel, handleRotate } from './cmd-owner.js';
import { handleAck, handleFetch, handleSub, handleUnsub } from './cmd-read.js';
import { handleSend } from './cmd-send.js';
import type { RelayContext } from './context.js';
import type { Maybe } from './crypto-lane.js';
import type { Session } from './session.js';
import { handleForward, handleKeyQuery } from './federation/cmd-forward.js';

type Handler<T extends ClientFrame['type']> =
  (ctx: RelayContext, session: Session, frame: Extract<ClientFrame, { type: T }>, raw: Uint8Array) => Maybe<RelayFrame>;

export const COMMANDS: { [T in ClientFrame['type']]: Handler<T> } = {
  HELLO: () => { throw new ProtocolError('HANDSHAKE', 'second HELLO'); },
  CREATE: handleCreate,
  AUTH: handleAuth,
  SUB: handleSub,
  FETCH: handleFetch,
  ACK: handleAck,
  UNSUB: handleUnsub,
  DEL: handleDel,
  ROTATE: handleRotate,
  SEND: handleSend,
  PING: () => ({ type: 'PONG', corr: 0 }),
  FORWARD: handleForward,
  KEY_QUERY: handleKeyQuery,
};
