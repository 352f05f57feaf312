import type net from 'node:net';

/** Writes a complete HTTP/1.1 error response on a raw socket and closes it; `extra`: [name, value, ...]. */
export function writeRawResponse(
  socket: net.Socket,
  status: number,
  reason: string,
  body: string,
  requestId: string | undefined,
  extra: readonly string[] = [],
): void {
  if (socket.destroyed) return;
  let fields = '';
  for (let i = 0; i + 1 < extra.length; i += 2) fields += `${extra[i]}: ${extra[i + 1]}\r\n`;
  const head =
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n` +
    (requestId ? `X-Request-Id: ${requestId}\r\n` : '') +
    fields +
    '\r\n';
  socket.end(head + body, () => socket.destroy());
}
