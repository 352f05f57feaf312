import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { crossSite, csrfRefusal } from './session-auth.ts';

const req = (headers: Record<string, string>) =>
  ({ headers: { host: '127.0.0.1:8081', ...headers } }) as unknown as http.IncomingMessage;

test('crossSite: Sec-Fetch-Site and Origin must say same origin when a browser sends them', () => {
  const cases: Array<[Record<string, string>, boolean, boolean]> = [
    // headers, tls, refused
    [{}, false, false],
    [{ 'sec-fetch-site': 'same-origin' }, false, false],
    [{ 'sec-fetch-site': 'none' }, false, false],
    [{ 'sec-fetch-site': 'same-site' }, false, true],
    [{ 'sec-fetch-site': 'cross-site' }, false, true],
    [{ origin: 'http://127.0.0.1:8081' }, false, false],
    [{ origin: 'https://127.0.0.1:8081' }, false, true],
    [{ origin: 'https://127.0.0.1:8081' }, true, false],
    [{ origin: 'http://127.0.0.1:9999' }, false, true],
    [{ origin: 'null' }, false, true],
  ];
  for (const [h, tls, refused] of cases) {
    assert.equal(crossSite(req(h), tls) !== undefined, refused, JSON.stringify({ h, tls }));
  }
});

test('csrfRefusal: the session token in X-CSRF-Token, and a same-origin request', () => {
  assert.equal(csrfRefusal(req({ 'x-csrf-token': 'secret' }), 'secret', false), undefined);
  assert.match(csrfRefusal(req({}), 'secret', false) ?? '', /x-csrf-token/);
  assert.match(csrfRefusal(req({ 'x-csrf-token': 'secreT' }), 'secret', false) ?? '', /x-csrf-token/);
  assert.match(
    csrfRefusal(req({ 'x-csrf-token': 'secret', origin: 'http://evil.test' }), 'secret', false) ?? '',
    /Origin http:\/\/evil\.test/,
  );
});
