// The closed set of protocol errors (spec/protocol.md §7): each with its wire code and,
// for fatal ones, the WebSocket close code that follows.
export const ERROR_CODES = {
  MALFORMED: 1,
  VERSION: 2,
  HANDSHAKE: 3,
  UNKNOWN_COMMAND: 4,
  AUTH: 5,
  QUOTA: 6,
  SIZE: 7,
  RATE: 8,
  LIMIT: 9,
  DUPLICATE: 10,
  NO_MSG: 11,
  INVALID: 12,
  INTERNAL: 13,
  BUSY: 14,
  NO_PEER: 15,
  PEER_DOWN: 16,
  FORWARD_INVALID: 17,
  // A closed relay's admission (spec/admission.md §4.3); an open relay never sends these.
  ADMISSION_REQUIRED: 18,
  ADMISSION_REFUSED: 19,
  TOKEN_SPENT: 20,
  TOKEN_EPOCH: 21,
} as const;

export type ErrorName = keyof typeof ERROR_CODES;
export type ErrorCode = (typeof ERROR_CODES)[ErrorName];

const NAMES = new Map<number, ErrorName>(Object.entries(ERROR_CODES).map(([k, v]) => [v, k as ErrorName]));
export const errorName = (code: number): ErrorName | undefined => NAMES.get(code);

/** Close codes for fatal errors (spec/protocol.md §7); other errors leave the connection open. */
export const FATAL_CLOSE_CODES: Partial<Record<ErrorName, number>> = {
  MALFORMED: 4001,
  VERSION: 4002,
  HANDSHAKE: 4003,
};

export const CLOSE_CODES = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  MESSAGE_TOO_BIG: 1009,
  MALFORMED: 4001,
  VERSION: 4002,
  HANDSHAKE: 4003,
  SLOW_READER: 4005,
  TIMEOUT: 4006,
  TOO_MANY_CONNECTIONS: 4008,
} as const;

/** A protocol error: thrown by decoders and handlers, sent as `ERR code`. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly errorName: ErrorName;
  constructor(name: ErrorName, detail?: string) {
    super(detail ? `${name}: ${detail}` : name);
    this.errorName = name;
    this.code = ERROR_CODES[name];
    this.name = 'ProtocolError';
  }
  get fatal(): boolean {
    return FATAL_CLOSE_CODES[this.errorName] !== undefined;
  }
}

export function isProtocolError(e: unknown, name?: ErrorName): e is ProtocolError {
  return e instanceof ProtocolError && (name === undefined || e.errorName === name);
}
