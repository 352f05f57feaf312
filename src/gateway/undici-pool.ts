/**
 * undici's Pool without the rest of undici. The package's index loads fetch, WebSocket, caches, mocks
 * and more: ~29 MB of RSS in every gateway worker, of which the Pool and its HTTP/1.1 client are ~14.
 * undici 7 has no "exports" map, so the path is part of its published layout; every gateway test
 * goes through it.
 */
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
