// Example service for the Cutover demo and end-to-end tests. Plain JavaScript, no dependencies.
// Endpoints: / (JSON: version, instance, pid), /ready, /health, /slow?ms=N, /ws (WebSocket echo).
// Shuts down gracefully on SIGTERM: stops accepting, finishes in-flight requests, then exits.
import { createHash } from 'node:crypto';
import http from 'node:http';

/** Starts the example service. `opts.crashOnStart` simulates a broken release. */
export function runService(opts) {
  const args = parseArgs(process.argv.slice(2));
  const port = Number(args.port ?? process.env.PORT ?? 3000);
  const version = opts.version ?? args.version ?? process.env.APP_VERSION ?? 'dev';
  const instance = process.env.CUTOVER_INSTANCE ?? `local-${process.pid}`;
  if (opts.crashOnStart) {
    process.stderr.write(`${version}: fatal: ${opts.crashOnStart}\n`);
    setTimeout(() => process.exit(1), 100);
    return;
  }
  const startedAt = Date.now();
  // Knobs for demos, tests and the analysis benchmark (set per revision with --set run.env.X=...).
  const errorRate = Number(process.env.ERROR_RATE ?? opts.errorRate ?? 0);
  const extraLatencyMs = Number(process.env.EXTRA_LATENCY_MS ?? 0);
  const readyAfterMs = Number(process.env.READY_AFTER_MS ?? opts.readyAfterMs ?? 300);
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/ready') {
      const ready = Date.now() - startedAt >= readyAfterMs && !stopping;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
      return res.end(ready ? 'ready\n' : 'not ready\n');
    }
    if (url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('ok\n');
    }
    const body = () =>
      JSON.stringify({
        version,
        instance,
        pid: process.pid,
        path: url.pathname,
        requestId: req.headers['x-request-id'],
      });
    if (url.pathname === '/slow') {
      const ms = Math.min(Number(url.searchParams.get('ms') ?? 1000), 60_000);
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body());
      }, ms);
      return;
    }
    const respond = () => {
      if (errorRate > 0 && Math.random() < errorRate) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        return res.end('internal error\n');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body());
    };
    if (extraLatencyMs > 0) setTimeout(respond, extraLatencyMs);
    else respond();
  });
  server.keepAliveTimeout = 65_000; // longer than the gateway's upstream idle timeout: the gateway closes first
  server.on('upgrade', (req, socket) => acceptWebSocket(req, socket, version, instance, sockets));
  let stopping = false;
  const shutdown = (signal) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${JSON.stringify({ msg: 'shutting down', signal, version, instance })}\n`);
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    for (const s of sockets) s.end(closeFrame(1001));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ msg: 'listening', port, version, instance })}\n`);
  });
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) out[a.slice(2)] = argv[i + 1]?.startsWith('--') ? 'true' : argv[++i];
  }
  return out;
}

function acceptWebSocket(req, socket, version, instance, sockets) {
  const key = req.headers['sec-websocket-key'];
  if (!key) return socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => {});
  socket.write(textFrame(JSON.stringify({ hello: instance, version })));
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const f = parseClientFrame(buf);
      if (!f) return;
      buf = buf.subarray(f.size);
      if (f.opcode === 0x8) {
        socket.end(closeFrame(1000));
        return;
      }
      if (f.opcode === 0x1) socket.write(textFrame(`${version}:${f.payload.toString('utf8')}`));
    }
  });
}

function parseClientFrame(buf) {
  if (buf.length < 2) return null;
  const opcode = buf[0] & 0x0f;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  const masked = (buf[1] & 0x80) !== 0;
  const maskOff = off;
  if (masked) off += 4;
  if (buf.length < off + len) return null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOff + (i % 4)];
  return { opcode, payload, size: off + len };
}

function textFrame(text) {
  const p = Buffer.from(text);
  const head =
    p.length < 126 ? Buffer.from([0x81, p.length]) : Buffer.from([0x81, 126, p.length >> 8, p.length & 255]);
  return Buffer.concat([head, p]);
}

function closeFrame(code) {
  return Buffer.from([0x88, 2, code >> 8, code & 255]);
}
