import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { parseHandshakes } from './parse.ts';
import { makeBenchCert } from './tls-certs.ts';

const GENERATOR = path.join(import.meta.dirname, 'handshake-load.ts');

test('the handshake loop makes a full TLS handshake for every connection and counts each response', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-hs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = makeBenchCert(dir);
  let full = 0;
  let resumed = 0;
  const names = new Set<string>();
  const server = tls.createServer(
    { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
    (socket) => {
      if (socket.isSessionReused()) resumed++;
      else full++;
      names.add(String((socket as tls.TLSSocket & { servername?: string | false }).servername));
      socket.once('data', () =>
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'),
      );
      socket.on('error', () => undefined);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as { port: number };

  const args = [GENERATOR, '--port', String(port), '--duration', '1', '--threads', '1', '--concurrency', '2'];
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile(process.execPath, args, { timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
    t.after(() => child.kill('SIGKILL'));
  });
  const r = parseHandshakes(out);
  assert.ok(r.connections > 0, 'no connection completed');
  assert.equal(r.errors, 0);
  assert.equal(resumed, 0, 'a session was resumed: not a full handshake');
  // Every completed connection was a full handshake the server saw (it may see one more in flight at the end).
  assert.ok(full >= r.connections, `server saw ${full} handshakes, generator counted ${r.connections}`);
  assert.deepEqual([...names], [cert.servername]);
  assert.ok(r.rate > 0 && r.p99Ms !== null && r.p50Ms !== null && r.p50Ms <= r.p99Ms);
});
