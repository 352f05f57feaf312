/**
 * The llhttp binding node:http itself parses with (`HTTPParser` of `_http_common`), set up to parse
 * responses strictly: none of llhttp's lenient flags.
 *
 * `_http_common` is node:http's own module: undocumented, but loadable since Node 0.x and not deprecated
 * (Node 24 warns about nothing here even with --pending-deprecation). Should a Node version drop or
 * change it, test/gateway-h1-upstream.test.ts fails first.
 */
import { createRequire } from 'node:module';

export interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** Bytes parsed, or the parse error (`code` HPE_*, `reason`). Callbacks run synchronously inside. */
  execute(buf: Buffer): number | Error;
  /** The peer closed: completes a body read until close, or reports a message cut short. */
  finish(): number | Error | undefined;
  close(): void;
  [callback: number]: unknown;
}

interface ParserClass {
  new (): Parser;
  readonly RESPONSE: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
}

const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser?: ParserClass };
if (typeof HTTPParser !== 'function' || typeof HTTPParser.kOnHeadersComplete !== 'number') {
  // Said once at the worker's start, not as a 502 on every request.
  throw new Error(`node ${process.version} has no HTTPParser in _http_common: the gateway needs Node 24`);
}
const Binding: ParserClass = HTTPParser;

const LENIENT_NONE = 0;
/** 0: node's --max-http-header-size (16 KiB by default). */
const MAX_HEADER_SIZE = 0;
const PARSER_RESOURCE = {};

/** What a response parser reports, in order: (fields flushed early)*, head, body chunks, (trailers), complete. */
export interface ResponseEvents {
  /** Fields flushed before the head completes (a long head), or trailers after the body. */
  fields(list: string[]): void;
  /** `fields` undefined: they all came through `fields` first. Returns 1 to skip the body (HEAD, 1xx). */
  head(
    fields: string[] | undefined,
    status: number,
    statusText: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number;
  body(chunk: Buffer): void;
  complete(): void;
}

export function responseParser(events: ResponseEvents): Parser {
  const parser = new Binding();
  parser.initialize(Binding.RESPONSE, PARSER_RESOURCE, MAX_HEADER_SIZE, LENIENT_NONE);
  parser[Binding.kOnHeaders] = (fields: string[]) => events.fields(fields);
  parser[Binding.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    fields: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    statusText: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => events.head(fields, status, statusText, upgrade, keepAlive);
  parser[Binding.kOnBody] = (chunk: Buffer) => events.body(chunk);
  parser[Binding.kOnMessageComplete] = () => events.complete();
  return parser;
}
