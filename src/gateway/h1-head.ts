/**
 * The head of a request as it goes to an HTTP/1.1 instance, written as one string: request line, the
 * header list as the gateway built it, Host when the client sent none, and the body's framing.
 *
 * Field names are not validated again: every name comes from a parser that already requires a token
 * (llhttp for HTTP/1 clients, nghttp2 for HTTP/2 ones) or from the gateway's own literals. Values and the
 * path are checked for what would split the head (CR, LF, NUL; a path also for spaces and controls),
 * because the gateway derives some of them (X-Forwarded-*, the path of an absolute-form target).
 */
import { codedError, type UpstreamRequest } from './dispatcher.ts';

const BAD_VALUE = /[\0\r\n]/;
/** A request target is visible ASCII or obs-text: nothing that ends the request line early. */
const BAD_PATH = /[^\u0021-\u00ff]/;

/** Methods whose request is expected to carry content: without a body they say `content-length: 0`. */
function expectsContent(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

function invalid(what: string): Error {
  return codedError(`invalid ${what}`, 'UND_ERR_INVALID_ARG');
}

/** The end of a head whose body goes chunk-framed (requestHead appends it last). */
const CHUNKED_END = 'transfer-encoding: chunked\r\n\r\n';

/** Whether requestHead framed the body as chunked: the head says how the body must be written. */
export function isChunkedHead(head: string): boolean {
  return head.endsWith(CHUNKED_END);
}

/**
 * The request head (ending with the empty line). A stream body without a Content-Length goes chunked;
 * a Buffer body without one gets its length. Throws a `UND_ERR_INVALID_ARG` error for a value that
 * cannot be written.
 */
export function requestHead(opts: UpstreamRequest, authority: string): string {
  const path = opts.path;
  if (BAD_PATH.test(path)) throw invalid('request path');
  let head = `${opts.method} ${path} HTTP/1.1\r\n`;
  let host = false;
  let length = false;
  const list = opts.headers;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i];
    const value = list[i + 1];
    if (BAD_VALUE.test(value)) throw invalid(`value of header ${JSON.stringify(name)}`);
    const n = name.length;
    if (n === 4) {
      if (!host && name.toLowerCase() === 'host') host = true;
    } else if (n === 14 && !length && name.toLowerCase() === 'content-length') length = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!host) head += `host: ${authority}\r\n`;
  if (!length) {
    const body = opts.body;
    if (body === null) {
      if (expectsContent(opts.method)) head += 'content-length: 0\r\n';
    } else if (body instanceof Uint8Array) head += `content-length: ${body.length}\r\n`;
    else return head + CHUNKED_END;
  }
  return `${head}\r\n`;
}
