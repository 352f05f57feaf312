// biome-ignore-all lint/suspicious/noTemplateCurlyInString: tests use literal ${NAME} placeholders
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HookConfig } from '../src/config/types.ts';
import { runHook } from '../src/hooks/run.ts';
import { substituteHook } from '../src/hooks/vars.ts';
import { silentLogger } from '../src/log/logger.ts';
import { processAlive as alive } from '../src/runtime/process-group.ts';

const dir = mkdtempSync(join(tmpdir(), 'cutover-hooks-'));
/** Generous on a busy machine, far short of the 100 s the hooks' sleeps would take if nothing killed them. */
const HANG_TIMEOUT = 60_000;
const pids: number[] = [];

after(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

const ctx = (extra: Partial<Parameters<typeof runHook>[1]> = {}) => ({
  service: 'web',
  revision: 7,
  version: 'v1.2.3',
  cwd: dir,
  log: silentLogger,
  ...extra,
});

function readPid(file: string): number {
  const pid = Number(readFileSync(file, 'utf8').trim());
  assert.ok(pid > 0, `pid in ${file}`);
  pids.push(pid);
  return pid;
}

describe('command hooks', () => {
  test('success: exit 0, output captured', async () => {
    const r = await runHook({ command: 'echo hello; echo oops >&2', timeoutMs: 5000 }, ctx());
    assert.equal(r.ok, true);
    assert.equal(r.error, undefined);
    assert.match(r.output, /hello/);
    assert.match(r.output, /oops/);
    assert.ok(Number.isFinite(r.durationMs) && r.durationMs >= 0, `durationMs ${r.durationMs}`);
  });

  test('non-zero exit: not ok, exit code and output', async () => {
    const r = await runHook(
      { command: 'echo migrating; echo "table locked" >&2; exit 3', timeoutMs: 5000 },
      ctx(),
    );
    assert.equal(r.ok, false);
    assert.equal(r.error, 'exit code 3');
    assert.match(r.output, /migrating/);
    assert.match(r.output, /table locked/);
  });

  test('output is bounded to the last 4 KB', async () => {
    const r = await runHook(
      { command: 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done', timeoutMs: 10000 },
      ctx(),
    );
    assert.equal(r.ok, true);
    assert.ok(Buffer.byteLength(r.output) <= 4096, `${Buffer.byteLength(r.output)} bytes`);
    assert.match(r.output, /line 1999\n$/);
    assert.doesNotMatch(r.output, /line 0\n/);
  });

  test('env and placeholders', async () => {
    const r = await runHook(
      {
        command:
          'echo "env=$SERVICE|$REVISION|$VERSION|$TARGET_URL|$PWD"; echo "sub=${SERVICE}|${REVISION}|${VERSION}|${TARGET_URL}|${HOME_UNSET_X:-keep}"',
        timeoutMs: 5000,
      },
      ctx({ targetUrl: 'http://127.0.0.1:4567' }),
    );
    assert.equal(r.ok, true, r.error);
    assert.match(r.output, new RegExp(`env=web\\|7\\|v1\\.2\\.3\\|http://127\\.0\\.0\\.1:4567\\|${dir}`));
    assert.match(r.output, /sub=web\|7\|v1\.2\.3\|http:\/\/127\.0\.0\.1:4567\|keep/);
  });

  test('substituteHook leaves unknown and missing names alone, no rescanning', () => {
    assert.equal(
      substituteHook('${SERVICE} ${TARGET_URL} ${HOME} $SERVICE ${VERSION}', {
        SERVICE: '${VERSION}',
        VERSION: 'v2',
      }),
      '${VERSION} ${TARGET_URL} ${HOME} $SERVICE v2',
    );
  });

  test('missing cwd: not ok, error', async () => {
    const r = await runHook({ command: 'true', timeoutMs: 5000 }, ctx({ cwd: join(dir, 'nope') }));
    assert.equal(r.ok, false);
    assert.ok(r.error);
  });

  // The group's members sleep 100 s: a kill that did not work would hold the test far past its generous
  // timeout, so no wall-clock limit of our own is needed (HANG_TIMEOUT).
  test('timeout kills the whole process group, background processes included', {
    timeout: HANG_TIMEOUT,
  }, async () => {
    const pidFile = join(dir, 'bg.pid');
    const r = await runHook(
      { command: `sleep 100 & echo $! > ${pidFile}; echo started; sleep 100`, timeoutMs: 300 },
      ctx(),
    );
    assert.equal(r.ok, false);
    assert.equal(r.error, 'timed out after 300ms');
    assert.match(r.output, /started/);
    const bg = readPid(pidFile);
    assert.equal(alive(bg), false, 'background sleep is gone');
  });

  test('timeout: SIGKILL after the grace when SIGTERM is ignored', { timeout: HANG_TIMEOUT }, async () => {
    const pidFile = join(dir, 'stubborn.pid');
    const t0 = Date.now();
    const r = await runHook(
      { command: `trap '' TERM; sh -c "trap '' TERM; echo \\$\\$ > ${pidFile}; sleep 100"`, timeoutMs: 200 },
      ctx(),
    );
    const elapsed = Date.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.error, 'timed out after 200ms');
    assert.ok(elapsed >= 2000, `SIGKILL only after the 2 s grace, not after ${elapsed} ms`);
    assert.equal(alive(readPid(pidFile)), false);
  });

  test('a successful hook leaves no background process behind', { timeout: HANG_TIMEOUT }, async () => {
    const pidFile = join(dir, 'stray.pid');
    const r = await runHook(
      { command: `sleep 100 & echo $! > ${pidFile}; echo done`, timeoutMs: 5000 },
      ctx(),
    );
    assert.equal(r.ok, true, r.error);
    assert.match(r.output, /done/);
    assert.equal(alive(readPid(pidFile)), false);
  });

  test('abort signal stops the command', { timeout: HANG_TIMEOUT }, async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const r = await runHook({ command: 'sleep 100', timeoutMs: 10000 }, ctx({ signal: ac.signal }));
    assert.equal(r.ok, false);
    assert.equal(r.error, 'aborted');
  });
});

describe('http hooks', () => {
  let server: Server;
  let base = '';
  const seen: { method?: string; url?: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url });
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/slow') {
        const t = setTimeout(() => res.end('late'), 5000);
        res.on('close', () => clearTimeout(t));
        return;
      }
      const status = Number(u.searchParams.get('status') ?? 200);
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(u.pathname === '/big' ? 'x'.repeat(5000) : `body ${status}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const http = (
    url: string,
    extra: Partial<NonNullable<HookConfig['http']>> = {},
    timeoutMs = 2000,
  ): HookConfig => ({
    http: { url, method: 'GET', ...extra },
    timeoutMs,
  });

  test('2xx is ok; placeholders substituted in the url', async () => {
    const r = await runHook(
      http('${TARGET_URL}/smoke?s=${SERVICE}&r=${REVISION}&v=${VERSION}'),
      ctx({ targetUrl: base }),
    );
    assert.equal(r.ok, true, r.error);
    assert.match(r.output, /^200 OK\nbody 200$/);
    assert.deepEqual(seen.at(-1), { method: 'GET', url: '/smoke?s=web&r=7&v=v1.2.3' });
  });

  test('method is used; expectStatus must match exactly', async () => {
    const r = await runHook(http(`${base}/x?status=204`, { method: 'POST', expectStatus: 204 }), ctx());
    assert.equal(r.ok, true, r.error);
    assert.equal(seen.at(-1)?.method, 'POST');
    const r2 = await runHook(http(`${base}/x?status=200`, { expectStatus: 204 }), ctx());
    assert.equal(r2.ok, false);
    assert.equal(r2.error, `GET ${base}/x?status=200: 200 (expected 204)`);
    const r3 = await runHook(http(`${base}/x?status=418`, { expectStatus: 418 }), ctx());
    assert.equal(r3.ok, true);
  });

  test('wrong status: not ok, status and body head in output', async () => {
    const r = await runHook(http(`${base}/health?status=503`), ctx());
    assert.equal(r.ok, false);
    assert.equal(r.error, `GET ${base}/health?status=503: 503`);
    assert.match(r.output, /^503 Service Unavailable\nbody 503/);
  });

  test('body is bounded to 1 KB', async () => {
    const r = await runHook(http(`${base}/big`), ctx());
    assert.equal(r.ok, true);
    assert.equal(r.output, `200 OK\n${'x'.repeat(1024)}`);
  });

  test('connection refused', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const r = await runHook(http(`http://127.0.0.1:${port}/`), ctx());
    assert.equal(r.ok, false);
    assert.equal(r.error, `GET http://127.0.0.1:${port}/: ECONNREFUSED`);
  });

  test('timeout', async () => {
    const r = await runHook(http(`${base}/slow`, {}, 300), ctx());
    assert.equal(r.ok, false);
    assert.equal(r.error, 'timed out after 300ms');
    assert.equal(r.output.includes('late'), false, 'the slow answer was not waited for');
  });

  test('missing TARGET_URL: not ok', async () => {
    const r = await runHook(http('${TARGET_URL}/smoke'), ctx());
    assert.equal(r.ok, false);
    assert.ok(r.error);
  });
});
