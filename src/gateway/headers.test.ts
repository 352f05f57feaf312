import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildUpstreamHeaders,
  declaredLength,
  filterResponseHeaders,
  type RequestHeadInfo,
} from './headers.ts';

function info(): RequestHeadInfo {
  return { host: undefined, contentLength: undefined, chunked: false, requestId: undefined };
}

test('request headers: hop-by-hop removed first, gateway fields appended last', () => {
  const i = info();
  const out = buildUpstreamHeaders(
    [
      'Host',
      'h.test',
      'Connection',
      'keep-alive, X-Forwarded-Host, X-Foo, Host',
      'X-Foo',
      '1',
      'TE',
      'trailers',
      'Transfer-Encoding',
      'chunked',
      'Upgrade',
      'h2c',
      'Expect',
      '100-continue',
      'Proxy-Connection',
      'close',
      'Keep-Alive',
      '5',
      'X-Forwarded-Proto',
      'https',
      'X-Request-Id',
      'abc',
      'Accept',
      '*/*',
    ],
    '10.1.2.3',
    i,
    () => 'generated',
  );
  assert.deepEqual(out, [
    'Host',
    'h.test',
    'Accept',
    '*/*',
    'x-forwarded-for',
    '10.1.2.3',
    'x-forwarded-proto',
    'http',
    'x-forwarded-host',
    'h.test',
    'x-request-id',
    'abc',
    'traceparent',
    i.traceparent,
  ]);
  assert.match(i.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'a trace is started');
  assert.equal(i.chunked, true);
  assert.equal(i.host, 'h.test');
});

test('response headers: hop-by-hop and Connection-named fields removed', () => {
  const raw = [
    'Content-Type',
    'text/plain',
    'Connection',
    'close, X-Internal',
    'X-Internal',
    'secret',
    'Transfer-Encoding',
    'chunked',
    'Keep-Alive',
    'timeout=5',
    'Set-Cookie',
    'a=1',
    'Set-Cookie',
    'b=2',
  ];
  assert.deepEqual(filterResponseHeaders(raw), [
    'Content-Type',
    'text/plain',
    'Set-Cookie',
    'a=1',
    'Set-Cookie',
    'b=2',
  ]);
});

test('declaredLength: a plain-digits Content-Length in any case, else -1 (the body then streams as before)', () => {
  assert.equal(declaredLength(['Content-Type', 'text/plain', 'content-length', '2']), 2);
  assert.equal(declaredLength(['CONTENT-LENGTH', '0']), 0);
  assert.equal(declaredLength(['Content-Type', 'text/plain']), -1);
  assert.equal(declaredLength(['Content-Length', '2, 2']), -1);
  assert.equal(declaredLength(['Content-Length', '']), -1);
  assert.equal(declaredLength(['Content-Length', '1e3']), -1);
});
