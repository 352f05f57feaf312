import type net from 'node:net';

/** Writes a complete HTTP/1.1 error response on a raw socket and closes it. */
export function writeRawResponse(
  socket: net.Socket,
  status: number,
  reason: string,
  body: string,
  requestId: string | undefined,
): void {
  if (socket.destroyed) return;
  const head =
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n` +
    (requestId ? `X-Request-Id: ${requestId}\r\n` : '') +
    '\r\n';
  socket.end(head + body, () => socket.destroy());
}
