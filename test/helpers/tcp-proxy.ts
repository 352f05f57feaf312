/**
 * A TCP forwarder a test can cut: stands between one host and etcd, so the host alone loses
 * etcd (a partition) while the rest of the fleet keeps it. Cut connections hang like a dropped
 * network (nothing is answered, nothing is reset) until `heal()`.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(
  target: { host: string; port: number },
  host = '127.0.0.1',
): Promise<TcpProxy> {
  let cut = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (cut) {
      client.pause();
      return;
    }
    const upstream = net.connect(target);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cut() {
      cut = true;
      // Open connections go silent: both directions stop, like a dropped link.
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    heal() {
      cut = false;
      // What hung is gone for good (as after a real partition the peers' timeouts fire); new connections flow.
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
