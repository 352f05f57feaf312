/**
 * The builtins the gateway worker's modules use, loaded with `require`.
 *
 * An ESM `import` of a builtin builds its named exports by reading every property once, which runs the
 * lazy getters a CommonJS `require` leaves alone: `http.WebSocket` loads Node's bundled undici, and
 * crypto's and util's getters load more. Measured on Node 24.21 (RSS of a fresh process): importing
 * node:http costs 16 MB, requiring it 3 MB; node:net, stream, fs, path, os and perf_hooks together 4.7 MB
 * imported, 0.5 MB required.
 * node:http2 (9 MB more) and node:tls (6 MB) are loaded on first use: a worker without TLS, h2c or
 * HTTP/2 instances never needs them. Types still come from `import type`.
 */

import type * as CryptoModule from 'node:crypto';
import type * as FsModule from 'node:fs';
import type HttpModule from 'node:http';
import type Http2Module from 'node:http2';
import { createRequire } from 'node:module';
import type NetModule from 'node:net';
import type OsModule from 'node:os';
import type PathModule from 'node:path';
import type * as StreamModule from 'node:stream';
import type TlsModule from 'node:tls';
import type * as UtilModule from 'node:util';

const require = createRequire(import.meta.url);

export const nodeHttp = require('node:http') as typeof HttpModule;
export const nodeCrypto = require('node:crypto') as typeof CryptoModule;
export const nodeUtil = require('node:util') as typeof UtilModule;
export const nodeNet = require('node:net') as typeof NetModule;
export const nodeStream = require('node:stream') as typeof StreamModule;
export const nodeFs = require('node:fs') as typeof FsModule;
export const nodePath = require('node:path') as typeof PathModule;
export const nodeOs = require('node:os') as typeof OsModule;

let http2: typeof Http2Module | null = null;

export function nodeHttp2(): typeof Http2Module {
  http2 ??= require('node:http2') as typeof Http2Module;
  return http2;
}

let tls: typeof TlsModule | null = null;

export function nodeTls(): typeof TlsModule {
  tls ??= require('node:tls') as typeof TlsModule;
  return tls;
}
