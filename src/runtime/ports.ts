import { createServer } from 'node:net';

/**
 * Returns a TCP port that was free on `host` a moment ago (listen on port 0, read it, close).
 * Another process may grab it before the caller binds it; callers that can retry should.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port;
}

/**
 * Synchronous variant for callers that must know the port at once (Supervisor.start): binds a
 * listener on port 0 of the unspecified address (`::`, dual-stack, or `0.0.0.0`; Node binds those
 * synchronously, unlike an explicit host), reads the port and closes it again. A port free on the
 * wildcard address is free on 127.0.0.1 too. Same race as `freePort`.
 */
export function freePortSync(): number {
  const server = createServer();
  server.on('error', () => {});
  server.listen({ port: 0, exclusive: true });
  const addr = server.address();
  server.close();
  if (addr === null || typeof addr === 'string') throw new Error('freePortSync: could not bind a port');
  return addr.port;
}

/**
 * `n` distinct TCP ports free on `host` a moment ago. One after another, `freePort` may hand out the
 * same port twice (the first was closed again before the second was asked for); these are all held at
 * once before any is closed. Same race with other processes as `freePort`.
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.unref();
            server.once('error', reject);
            server.listen({ host, port: 0, exclusive: true }, () => {
              const addr = server.address();
              if (addr === null || typeof addr === 'string')
                reject(new Error(`freePorts: unexpected address ${String(addr)}`));
              else resolve(addr.port);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(
      servers.map(
        (s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())),
      ),
    );
  }
}
