// The protocol client on Node's socket, for tools, tests and benchmarks that speak to a relay
// directly: `RelayConnection.connect(address, opts)`.
import { RelayConnection as Core, type ConnectOptions } from '../connection.js';
import { wsConnector } from './ws-socket.js';

export { ConnectionClosedError, RequestTimeoutError, type Command, type ConnectOptions } from '../connection.js';
export type RelayConnection = Core;
export const RelayConnection = {
  connect: (address: string, opts: ConnectOptions = {}): Promise<Core> => Core.connect(wsConnector, address, opts),
};
