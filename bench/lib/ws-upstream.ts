/**
 * The memory rows' upstream (its own process): `GET` -> 200 `ok` (keep-alive), and any `Upgrade:
 * websocket` request -> 101 with the RFC 6455 accept key, after which the socket stays open and whatever
 * arrives is discarded. No `ws` package: the rows need the handshake only, never a frame.
 *
 *   node bench/lib/ws-upstream.ts --port P     (prints {"ready":true,"port":P} once listening)
 */

import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { parseArgs } from 'node:util';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptKey(key: string): string {
  return createHash('sha1').update(`${key}${WS_GUID}`).digest('base64');
}

function main(): void {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
  // Idle keep-alive connections of the proxies' pools must not be closed under them mid-run.
  server.keepAliveTimeout = 120_000;
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    socket.on('error', () => {});
    // Close our side when the proxy closes its: half-open sockets would pile up over the phases.
    socket.on('end', () => socket.destroy());
    socket.setTimeout(0);
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
    );
    socket.resume();
  });
  server.listen({ host: '127.0.0.1', port: Number(values.port), backlog: 4096 }, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

if (import.meta.main) main();
