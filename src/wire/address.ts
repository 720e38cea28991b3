// Relay addresses (spec/protocol.md §1): sealpost+ws://FINGERPRINT@HOST:PORT.
import { CodedError } from '../coded-error.js';
import { fromBase64url, toBase64url } from '../crypto/bytes.js';

export interface RelayAddress {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly fingerprint: Uint8Array; // 32 bytes
}

export class AddressError extends CodedError<'BAD_ADDRESS'> {
  constructor(message: string) {
    super('BAD_ADDRESS', message);
  }
}

const PATTERN = /^sealpost\+(wss?):\/\/([A-Za-z0-9_-]{43})@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/;

export function parseRelayAddress(text: string): RelayAddress {
  const m = typeof text === 'string' ? PATTERN.exec(text.trim()) : null;
  if (!m) throw new AddressError('expected sealpost+ws://FINGERPRINT@HOST:PORT or sealpost+wss://…');
  const port = Number(m[4]);
  if (port < 1 || port > 65535) throw new AddressError('port out of range');
  let fingerprint: Uint8Array;
  try {
    fingerprint = fromBase64url(m[2]!);
  } catch {
    throw new AddressError('fingerprint is not base64url');
  }
  return { tls: m[1] === 'wss', host: m[3]!, port, fingerprint };
}

export function formatRelayAddress(a: RelayAddress): string {
  return `sealpost+${a.tls ? 'wss' : 'ws'}://${toBase64url(a.fingerprint)}@${a.host}:${a.port}`;
}

/** The WebSocket URL a client dials for an address. */
export function webSocketUrl(a: RelayAddress): string {
  return `${a.tls ? 'wss' : 'ws'}://${a.host}:${a.port}/`;
}
