// A TCP proxy on loopback in front of a real relay, for tests of a relay that stops answering:
// it forwards both ways until `silence()`, then drops what the relay sends while keeping the
// connections open (a hung relay, as a client sees it). Closed by `close()`.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** From now on, bytes from the relay are dropped. */
  silence(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let silent = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) { sockets.add(s); s.on('error', () => s.destroy()); s.on('close', () => sockets.delete(s)); }
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => { if (!silent) client.write(d); });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    silence: () => { silent = true; },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

/** The same relay address with another port (the fingerprint is the relay's). */
export const withPort = (address: string, port: number): string => address.replace(/:(\d+)\/?$/, `:${port}`);
