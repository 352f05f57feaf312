import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { loadAssets, serveAsset } from './dashboard-static.ts';

function get(port: number, p: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>(
    (resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: p, headers, method, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      });
      req.on('error', reject);
      req.end();
    },
  );
}

test('the dashboard assets: page, own modules, vendored preact/htm/uPlot with bare imports pointed at their URLs', () => {
  const assets = loadAssets();
  for (const p of [
    '/',
    '/ui/app.css',
    '/ui/js/main.js',
    '/ui/vendor/preact.mjs',
    '/ui/vendor/hooks.mjs',
    '/ui/vendor/uplot.mjs',
  ]) {
    assert.ok(assets.get(p), p);
  }
  const hooks = assets.get('/ui/vendor/hooks.mjs')?.body.toString() ?? '';
  assert.match(hooks, /from"\/ui\/vendor\/preact\.mjs"/);
  assert.doesNotMatch(hooks, /from"preact"/);
  for (const [p, a] of assets) {
    assert.deepEqual(gunzipSync(a.gzip), a.body, p);
    assert.doesNotMatch(a.body.toString(), /<script>|\son[a-z]+="/i, `${p}: no inline script or handler`);
  }
});

test('serveAsset: gzip when accepted, plain otherwise, 304 on the etag, not for other paths or methods', async (t) => {
  const assets = loadAssets();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!serveAsset(assets, req, res, url.pathname)) {
      res.writeHead(404);
      res.end('api');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const gz = await get(port, '/', { 'accept-encoding': 'br, gzip;q=0.8' });
  assert.equal(gz.status, 200);
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.match(gunzipSync(gz.body).toString(), /<script type="module" src="\/ui\/js\/main\.js">/);
  const plain = await get(port, '/ui/js/main.js', { 'accept-encoding': 'gzip;q=0' });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.match(String(plain.headers['content-type']), /^text\/javascript/);
  assert.ok(plain.body.length > 0);
  const again = await get(port, '/ui/js/main.js', { 'if-none-match': String(plain.headers.etag) });
  assert.equal(again.status, 304);
  assert.equal((await get(port, '/ui/nope.js')).status, 404);
  assert.equal((await get(port, '/v1/services')).status, 404);
  assert.equal((await get(port, '/', {}, 'POST')).status, 404);
});
