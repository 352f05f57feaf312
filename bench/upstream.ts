/**
 * Fallback benchmark upstream, used only when nginx is not installed: a `node:http` cluster that
 * answers every request with `200 ok`. Usage: node bench/upstream.ts --port P [--workers N]
 */

import cluster from 'node:cluster';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string' }, workers: { type: 'string', default: '1' } },
});
const port = Number(values.port);
const workers = Math.max(1, Number(values.workers));

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const body = Buffer.from('ok');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  // Longer than any proxy's upstream idle timeout, so the proxy never reuses a closing connection.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
