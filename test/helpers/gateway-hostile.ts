/** Raw-socket helpers for the hostile-input gateway tests: exact bytes in, exact bytes out. */
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { sleep } from '../../src/util/sleep.ts';
import { closeServer } from './gateway-helpers.ts';

export interface RawResult {
  /** Everything the gateway sent, latin1. */
  text: string;
  /** The gateway closed the connection (false: we gave up after `waitMs` and closed it ourselves). */
  closedByServer: boolean;
  /** ms from the first write to the close. */
  ms: number;
  /** Chunks (writes and pauses) not yet sent when the connection ended: the server cut us short. */
  unsent: number;
}

/**
 * Connects, writes `chunks` (strings are latin1; numbers are pauses in ms), then reads until the server
 * closes or `waitMs` passes (generous: it only turns a connection left open into `closedByServer: false`). `halfClose` ends our side after writing (note: node:http drops a request whose
 * client half-closed before the response; send `Connection: close` to have the gateway close instead).
 */
export function rawSend(
  port: number,
  chunks: ReadonlyArray<string | Buffer | number>,
  opts: { waitMs?: number; halfClose?: boolean } = {},
): Promise<RawResult> {
  const waitMs = opts.waitMs ?? 10_000;
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let start = 0;
    let serverClosed = false;
    let done = false;
    let sent = 0;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({
        text: Buffer.concat(got).toString('latin1'),
        closedByServer: serverClosed,
        ms: Date.now() - start,
        unsent: chunks.length - sent,
      });
    };
    const timer = setTimeout(finish, waitMs);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => {
      serverClosed = true;
      finish();
    });
    s.on('close', () => {
      serverClosed = true;
      finish();
    });
    s.on('error', () => {});
    s.once('connect', async () => {
      start = Date.now();
      for (const c of chunks) {
        if (s.destroyed) return;
        if (typeof c === 'number') await sleep(c);
        else s.write(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
        sent++;
      }
      if (opts.halfClose) s.end();
    });
  });
}

/** Status codes of the responses in `text`, in order (null when the bytes are not well-formed responses). */
export function parseResponses(text: string): number[] | null {
  const buf = Buffer.from(text, 'latin1');
  const out: number[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end === -1) return null;
    const lines = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 ([1-5][0-9]{2}) [\x20-\x7e]*$/.exec(lines[0]);
    if (m === null) return null;
    const status = Number(m[1]);
    let length: number | null = null;
    let chunked = false;
    for (const line of lines.slice(1)) {
      const h = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\x20-\x7e\x80-\xff\t]*?)[ \t]*$/.exec(line);
      if (h === null) return null;
      const name = h[1].toLowerCase();
      if (name === 'content-length') {
        if (!/^[0-9]+$/.test(h[2]) || length !== null) return null;
        length = Number(h[2]);
      }
      if (name === 'transfer-encoding') chunked = h[2].toLowerCase() === 'chunked';
    }
    pos = end + 4;
    if (status < 200) {
      out.push(status);
      continue;
    }
    if (chunked) {
      for (;;) {
        const le = buf.indexOf('\r\n', pos);
        if (le === -1) return null;
        const size = Number.parseInt(buf.subarray(pos, le).toString('latin1').split(';')[0], 16);
        if (Number.isNaN(size)) return null;
        pos = le + 2 + size + 2;
        if (pos > buf.length) return null;
        if (size === 0) break;
      }
    } else if (length !== null) {
      if (pos + length > buf.length) return null;
      pos += length;
    } else if (status !== 204 && status !== 304) {
      pos = buf.length; // close-delimited
    }
    out.push(status);
  }
  return out;
}

export interface SeenRequest {
  method: string;
  url: string;
  httpVersion: string;
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body ended normally (false: the gateway cut it). */
  complete: boolean;
  upgrade: boolean;
}

export interface RecordingUpstream {
  port: number;
  /** Every request head the upstream parsed (recorded when the head arrives, before any body). */
  seen: SeenRequest[];
  /**
   * Parse errors the upstream's own strict parser hit. Connection resets and a request cut short
   * (HPE_INVALID_EOF_STATE: the gateway aborted a body it had started to relay) are not parse errors.
   */
  parseErrors: string[];
  truncated: number;
}

/** A strict node:http upstream that records every request head it receives; answers 200 / 101. */
export async function recordingUpstream(t: TestContext): Promise<RecordingUpstream> {
  const state: RecordingUpstream = { port: 0, seen: [], parseErrors: [], truncated: 0 };
  /** Upgraded sockets are not closed by closeAllConnections(): tracked so that cleanup cannot hang. */
  const upgraded = new Set<net.Socket>();
  // An upgrade has no body to wait for: it is complete when its head arrives.
  const seen = (req: http.IncomingMessage, upgrade: boolean): SeenRequest => ({
    method: req.method!,
    url: req.url!,
    httpVersion: req.httpVersion,
    rawHeaders: req.rawHeaders,
    headers: req.headers,
    body: '',
    complete: upgrade,
    upgrade,
  });
  const server = http.createServer((req, res) => {
    const rec = seen(req, false);
    state.seen.push(rec);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      rec.body = Buffer.concat(chunks).toString('latin1');
      rec.complete = true;
      res.end(`ok ${rec.body.length}`);
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    state.seen.push(seen(req, true));
    socket.on('error', () => {});
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.end(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (err.code === 'HPE_INVALID_EOF_STATE') state.truncated++;
    else if (typeof err.code === 'string' && err.code.startsWith('HPE_')) state.parseErrors.push(err.code);
    socket.destroy();
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  t.after(() => {
    for (const s of upgraded) s.destroy();
    return closeServer(server);
  });
  return state;
}
