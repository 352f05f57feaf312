/**
 * Serves the dashboard (src/dashboard) and the browser builds of its npm dependencies from the
 * control listener: `/` is the page, `/ui/...` its assets. Files are read and gzipped once, at
 * the first request, so a page load costs no disk reads; there is no build step.
 */

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGE_DIR = path.join(ROOT, 'src', 'dashboard');
const MODULES = path.join(ROOT, 'node_modules');

/** Bare imports inside the vendored ES modules, pointed at where they are served. */
const BARE_IMPORTS: Record<string, string> = { preact: '/ui/vendor/preact.mjs' };

/** URL path under /ui/vendor/ -> file in node_modules. */
const VENDOR: Record<string, string> = {
  'preact.mjs': 'preact/dist/preact.module.js',
  'hooks.mjs': 'preact/hooks/dist/hooks.module.js',
  'htm.mjs': 'htm/dist/htm.module.js',
  'uplot.mjs': 'uplot/dist/uPlot.esm.js',
  'uplot.css': 'uplot/dist/uPlot.min.css',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** One servable file, kept plain and gzipped. */
export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

function asset(file: string, rewrite = false): Asset {
  let text = readFileSync(file, 'utf8');
  if (rewrite) {
    for (const [bare, url] of Object.entries(BARE_IMPORTS)) {
      text = text.replaceAll(`from"${bare}"`, `from"${url}"`).replaceAll(`from '${bare}'`, `from '${url}'`);
    }
  }
  const body = Buffer.from(text);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return {
    type: TYPES[path.extname(file)] ?? 'application/octet-stream',
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag,
  };
}

/** Every asset by URL path (`/`, `/ui/app.css`, `/ui/js/main.js`, `/ui/vendor/preact.mjs`, ...). */
export function loadAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>();
  out.set('/', asset(path.join(PAGE_DIR, 'index.html')));
  // Browsers ask for it on every page of the origin, the API's JSON answers included.
  out.set('/favicon.ico', asset(path.join(PAGE_DIR, 'icon.svg')));
  const walk = (dir: string, prefix: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name), `${prefix}${e.name}/`);
      else if (e.name !== 'index.html' && TYPES[path.extname(e.name)])
        out.set(`${prefix}${e.name}`, asset(path.join(dir, e.name)));
    }
  };
  walk(PAGE_DIR, '/ui/');
  for (const [name, file] of Object.entries(VENDOR)) {
    out.set(`/ui/vendor/${name}`, asset(path.join(MODULES, file), name.endsWith('.mjs')));
  }
  return out;
}

/** Whether the client takes gzip (`Accept-Encoding: gzip`, not with q=0). */
function acceptsGzip(req: http.IncomingMessage): boolean {
  const h = req.headers['accept-encoding'];
  if (typeof h !== 'string') return false;
  return h.split(',').some((p) => {
    const [name, ...params] = p.trim().split(';');
    if (name.trim().toLowerCase() !== 'gzip' && name.trim() !== '*') return false;
    const q = params.map((x) => x.trim()).find((x) => x.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * Answers GET/HEAD of a dashboard path; false when `pathname` is not one (the API handles it).
 * Assets are public: they hold no data, everything shown comes from the API under a session.
 */
export function serveAsset(
  assets: Map<string, Asset>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
): boolean {
  if (pathname !== '/' && pathname !== '/favicon.ico' && !pathname.startsWith('/ui/')) return false;
  const a = assets.get(pathname);
  if (!a || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  res.setHeader('vary', 'accept-encoding');
  res.setHeader('etag', a.etag);
  // The page itself is revalidated each load; assets too (they change with an upgrade).
  res.setHeader('cache-control', 'no-cache');
  if (req.headers['if-none-match'] === a.etag) {
    res.writeHead(304);
    res.end();
    return true;
  }
  const gz = acceptsGzip(req);
  const body = gz ? a.gzip : a.body;
  res.writeHead(200, {
    'content-type': a.type,
    'content-length': body.length,
    ...(gz ? { 'content-encoding': 'gzip' } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
