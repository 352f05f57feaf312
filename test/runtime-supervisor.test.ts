import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/log/logger.ts';
import { processAlive as alive } from '../src/runtime/process-group.ts';
import { Supervisor, type SupervisorOptions } from '../src/runtime/supervisor.ts';
import type { InstanceSpec, InstanceStatus } from '../src/runtime/types.ts';
import { sleep } from '../src/util/sleep.ts';
import { waitFor as waitUntil } from './helpers/wait.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/runtime-server.mjs', import.meta.url));
const sh = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const NODE = sh(process.execPath);

interface Info {
  pid: number;
  grandchild?: number;
  /** GET /health requests answered so far (the liveness probe's). */
  healthChecks: number;
  port: number;
  env: Record<string, string | undefined>;
}

function getJson<T>(port: number, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const get = (port: number, path: string) => getJson<unknown>(port, path).catch(() => undefined);

function isDead(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Asserts that `pid` is no longer running right now (gone, or a zombie waiting for init to reap it)
 * and then that `process.kill(pid, 0)` throws ESRCH once init has reaped it (this container's init
 * reaps orphans only every second or two).
 */
async function assertGone(pid: number, what: string): Promise<void> {
  const running = () => !isDead(pid) && alive(pid);
  // A SIGKILL sent a moment ago may still be in flight, and a busy machine tears a process down slowly.
  await waitUntil(() => !running(), 5000, `${what} ${pid} to stop running`);
  const until = Date.now() + 5000;
  while (!isDead(pid) && Date.now() < until) await sleep(25);
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `${what} ${pid} still exists`);
}

async function assertGroupGone(pgid: number): Promise<void> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    try {
      process.kill(-pgid, 0);
    } catch {
      break;
    }
    await sleep(25);
  }
  assert.throws(() => process.kill(-pgid, 0), { code: 'ESRCH' }, `process group ${pgid} still exists`);
}

/** Kills the process (and its group) outright; used only to clean up after a failed assertion. */
function reap(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {}
  }
}

/** Probes /health every 100 ms; two failures in a row restart the process. */
const LIVENESS: InstanceSpec['liveness'] = {
  path: '/health',
  intervalMs: 100,
  timeoutMs: 500,
  successThreshold: 1,
  failureThreshold: 2,
  initialDelayMs: 0,
};

describe('Supervisor', () => {
  let dir: string;
  let sup: Supervisor;
  let events: { s: InstanceStatus; at: number }[];
  let spawned: number[];
  let logs: { msg: string; [field: string]: unknown }[];
  let seq = 0;

  /** The supervisor's log lines with this message, oldest first. */
  const logged = (msg: string) => logs.filter((l) => l.msg === msg);
  /** How each stopped instance's last process exited, from the "instance stopped" log lines. */
  const stoppedExits = () =>
    logged('instance stopped').map((l) => {
      const exit = l.lastExit as InstanceStatus['lastExit'];
      return exit && { code: exit.code, signal: exit.signal };
    });

  const make = (opts: Partial<SupervisorOptions> = {}) => {
    const log = createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line)) });
    sup = new Supervisor({ log, ...opts });
    sup.on('change', (s) => {
      events.push({ s, at: Date.now() });
      if (s.pid !== undefined && !spawned.includes(s.pid)) spawned.push(s.pid);
    });
    return sup;
  };

  const spec = (args: string, over: Partial<InstanceSpec> = {}): InstanceSpec => {
    const id = `web-${++seq}`;
    return {
      id,
      service: 'web',
      revision: 7,
      version: 'v7',
      run: { command: `${NODE} ${sh(FIXTURE)} --port \${PORT} ${args}`, cwd: dir, env: {} },
      readiness: {
        path: '/ready',
        intervalMs: 100,
        timeoutMs: 500,
        successThreshold: 1,
        failureThreshold: 2,
        initialDelayMs: 0,
      },
      logFile: join(dir, 'logs', 'web', `${id}.log`),
      logMaxBytes: 1_000_000,
      restartBackoffMs: 200,
      restartBackoffMaxMs: 800,
      stopTimeoutMs: 1000,
      ...over,
    };
  };

  /** Resolves with the first status (current or from a later 'change') that satisfies `pred`. */
  const waitFor = (id: string, pred: (s: InstanceStatus) => boolean, timeoutMs = 5000, what = 'condition') =>
    new Promise<InstanceStatus>((resolve, reject) => {
      const now = sup.get(id);
      if (now && pred(now)) return resolve(now);
      const timer = setTimeout(() => {
        sup.off('change', onChange);
        reject(new Error(`timed out waiting for ${what}; status: ${JSON.stringify(sup.get(id))}`));
      }, timeoutMs);
      const onChange = (s: InstanceStatus) => {
        if (s.id !== id || !pred(s)) return;
        clearTimeout(timer);
        sup.off('change', onChange);
        resolve(s);
      };
      sup.on('change', onChange);
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-runtime-'));
    events = [];
    spawned = [];
    logs = [];
  });

  afterEach(async () => {
    await sup?.stopAll(500);
    for (const pid of spawned) if (!isDead(pid)) reap(pid);
    rmSync(dir, { recursive: true, force: true });
  });

  test('starts an instance with the PORT and INSTANCE placeholders substituted and reports it ready', async () => {
    make();
    const s = spec('', { run: { command: '', cwd: '', env: {} } });
    s.run = {
      command: `${NODE} ${sh(FIXTURE)} --port \${PORT} --name \${INSTANCE}`,
      cwd: dir,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal placeholder for the supervisor
      env: { GREETING: 'hello ${INSTANCE} on ${PORT}' },
    };
    const initial = sup.start(s);
    assert.equal(initial.phase, 'starting');
    assert.equal(initial.ready, false);
    assert.ok(initial.port > 0);
    assert.ok(initial.pid! > 0);
    assert.deepEqual(
      sup.list().map((i) => i.id),
      [s.id],
    );
    const ready = await waitFor(s.id, (x) => x.ready, 5000, 'ready');
    assert.equal(ready.phase, 'running');
    assert.ok(ready.readySince! >= initial.createdAt);
    const info = await getJson<Info & { argv: string[] }>(initial.port, '/info');
    assert.equal(info.port, initial.port);
    assert.deepEqual(info.argv.slice(0, 4), ['--port', String(initial.port), '--name', s.id]);
    assert.deepEqual(info.env, {
      PORT: String(initial.port),
      CUTOVER_INSTANCE: s.id,
      CUTOVER_SERVICE: 'web',
      CUTOVER_REVISION: '7',
      CUTOVER_VERSION: 'v7',
      GREETING: `hello ${s.id} on ${initial.port}`,
    });
    assert.deepEqual(sup.pids(), [initial.pid]);
    await sup.stop(s.id, 2000);
    await assertGone(info.pid, 'instance');
    await assertGone(initial.pid!, 'shell');
  });

  test('readiness waits for successThreshold successes, keeps the last error and turns false after failureThreshold failures', async () => {
    make();
    const s = spec('--listen-delay-ms 300 --not-ready-ms 900');
    s.readiness = { ...s.readiness, successThreshold: 3, failureThreshold: 3 };
    const t0 = Date.now();
    const { port } = sup.start(s);
    const seen = new Set<string>();
    const sampler = setInterval(() => {
      const e = sup.get(s.id)?.lastProbeError;
      if (e) seen.add(e);
    }, 20);
    const ready = await waitFor(s.id, (x) => x.ready, 5000, 'ready');
    clearInterval(sampler);
    const tookReady = Date.now() - t0;
    assert.ok(seen.has('GET /ready: ECONNREFUSED'), [...seen].join(', '));
    assert.ok(seen.has('GET /ready: 503'), [...seen].join(', '));
    assert.equal(ready.lastProbeError, 'GET /ready: 503');
    // Ready from ~900 ms; then 3 consecutive successes at 100 ms intervals are needed.
    assert.ok(tookReady >= 900 + 150, `ready after ${tookReady}ms`);

    await get(port, '/unready');
    const t1 = Date.now();
    const unready = await waitFor(s.id, (x) => !x.ready, 3000, 'not ready');
    const tookUnready = Date.now() - t1;
    assert.ok(tookUnready >= 180, `not ready after ${tookUnready}ms (3 failures at 100 ms)`);
    assert.equal(unready.readySince, undefined);
    assert.equal(unready.phase, 'running', 'a live but unready process is still running');
    assert.equal(unready.restarts, 0);
  });

  test('a crashing instance is restarted with growing backoff delays and counted restarts', async () => {
    make();
    const s = spec('--crash-after-ms 100');
    sup.start(s);
    await waitFor(s.id, (x) => x.restarts >= 4 && x.phase === 'starting', 10_000, '4 restarts');
    // Backoff delay = time from entering 'backoff' to the next spawn (phase 'starting' with a pid).
    const delays: number[] = [];
    let backoffAt: number | undefined;
    for (const { s: e, at } of events) {
      if (e.phase === 'backoff' && backoffAt === undefined) backoffAt = at;
      if (e.phase === 'starting' && e.pid !== undefined && backoffAt !== undefined) {
        delays.push(at - backoffAt);
        backoffAt = undefined;
      }
    }
    const expected = [200, 400, 800, 800];
    assert.ok(delays.length >= 4, `delays ${delays}`);
    // The delays the supervisor chose, exactly; the measured ones prove each was waited (a busy machine only
    // makes them longer, so there is no upper bound).
    const chosen = logged('restarting instance after backoff').map((l) => l.delayMs);
    assert.deepEqual(chosen.slice(0, 4), expected, `chosen delays ${chosen}`);
    expected.forEach((want, i) => {
      assert.ok(delays[i] >= want - 20, `delay ${i}: ${delays[i]}ms, want ${want}ms`);
    });
    const st = sup.get(s.id)!;
    assert.equal(st.lastExit!.code, 3);
    assert.equal(st.lastExit!.signal, null);
    assert.ok(st.restarts >= 4);
    const backoffs = events.filter((e) => e.s.phase === 'backoff');
    assert.ok(backoffs.length >= 4, `${backoffs.length} backoff events`);
    assert.equal(
      backoffs.every((e) => !e.s.ready && e.s.pid === undefined),
      true,
      'in backoff the instance is neither ready nor has a pid',
    );
    const pids = [...new Set(events.map((e) => e.s.pid).filter((p) => p !== undefined))];
    assert.ok(pids.length >= 5, 'each restart is a new process');
    for (const pid of pids.slice(0, -1)) await assertGone(pid, 'crashed process');
  });

  test('crash backoff starts over after the instance stayed up and ready', async () => {
    make({ stableResetMs: 300 });
    const s = spec('--crash-after-ms 700');
    sup.start(s);
    await waitFor(s.id, (x) => x.restarts >= 3 && x.phase === 'starting', 10_000, '3 restarts');
    const delays: number[] = [];
    let backoffAt: number | undefined;
    for (const { s: e, at } of events) {
      if (e.phase === 'backoff' && backoffAt === undefined) backoffAt = at;
      if (e.phase === 'starting' && e.pid !== undefined && backoffAt !== undefined) {
        delays.push(at - backoffAt);
        backoffAt = undefined;
      }
    }
    assert.ok(delays.length > 0, 'no restart delay measured');
    for (const d of delays) assert.ok(d >= 180, `delay ${d}ms should be the initial 200ms`);
    const chosen = logged('restarting instance after backoff').map((l) => l.delayMs);
    assert.ok(chosen.length >= 3, `chosen delays ${chosen}`);
    assert.ok(
      chosen.every((d) => d === 200),
      `chosen delays ${chosen} should stay at the initial 200ms`,
    );
  });

  test('the remaining processes of a crashed instance are killed before it restarts', async () => {
    make();
    const s = spec('--grandchild --crash-after-ms 600', { restartBackoffMs: 1000 });
    const { port } = sup.start(s);
    await waitFor(s.id, (x) => x.ready, 5000, 'ready');
    const info = await getJson<Info>(port, '/info');
    assert.ok(info.grandchild);
    spawned.push(info.grandchild, info.pid);
    await waitFor(s.id, (x) => x.phase === 'backoff', 5000, 'backoff');
    await assertGone(info.pid, 'crashed process');
    await assertGone(info.grandchild, 'grandchild of the crashed process');
  });

  test('a failing liveness probe restarts the process', async () => {
    make();
    const s = spec('--health-fail-after-ms 800', {
      liveness: LIVENESS,
    });
    const first = sup.start(s);
    await waitFor(s.id, (x) => x.ready, 5000, 'ready');
    const restarted = await waitFor(s.id, (x) => x.restarts === 1 && x.pid !== undefined, 5000, 'restart');
    assert.notEqual(restarted.pid, first.pid);
    assert.equal(restarted.lastProbeError, 'GET /health: 500');
    assert.deepEqual(
      { code: restarted.lastExit!.code, signal: restarted.lastExit!.signal },
      { code: 0, signal: null },
      'the fixture exits 0 on SIGTERM',
    );
    await assertGone(first.pid!, 'unhealthy process');
    await waitFor(s.id, (x) => x.ready, 5000, 'ready again');
    const log = readFileSync(s.logFile, 'utf8');
    assert.match(log, /SIGTERM received/);
  });

  test('liveness does not kill a slow starter before it was first ready', async () => {
    make();
    // /health answers 503 until the fixture is ready at ~1.5 s; liveness would kill it after 2 probes.
    const s = spec('--not-ready-ms 1500', {
      liveness: LIVENESS,
    });
    const first = sup.start(s);
    const ready = await waitFor(s.id, (x) => x.ready, 5000, 'ready');
    // Several liveness probes after the first ready, more than failureThreshold: any verdict is made by now.
    const probes = (await getJson<Info>(first.port, '/info')).healthChecks;
    await waitUntil(
      async () => (await getJson<Info>(first.port, '/info')).healthChecks >= probes + 3,
      5000,
      'three liveness probes after ready',
    );
    const now = sup.get(s.id)!;
    assert.equal(now.restarts, 0);
    assert.equal(now.pid, first.pid);
    assert.equal(ready.pid, first.pid);
    assert.equal(now.ready, true);
  });

  test('stop sends SIGTERM and waits for the graceful exit', async () => {
    make();
    const s = spec('');
    const { port } = sup.start(s);
    await waitFor(s.id, (x) => x.ready, 5000, 'ready');
    const info = await getJson<Info>(port, '/info');
    const stopping = sup.stop(s.id, 5000);
    assert.equal(sup.get(s.id)?.phase, 'stopping');
    assert.equal(sup.get(s.id)?.ready, false);
    await stopping;
    // SIGTERM was enough: no SIGKILL after the stop timeout, and the process exited by itself.
    assert.deepEqual(logged('instance did not exit after SIGTERM; sending SIGKILL'), []);
    assert.deepEqual(stoppedExits(), [{ code: 0, signal: null }]);
    assert.equal(sup.get(s.id), undefined);
    assert.deepEqual(sup.list(), []);
    const last = events.at(-1)!.s;
    assert.equal(last.phase, 'stopped');
    assert.equal(last.ready, false);
    assert.equal(last.pid, undefined);
    await assertGone(info.pid, 'instance');
    assert.match(readFileSync(s.logFile, 'utf8'), /SIGTERM received, shutting down gracefully/);
    await sup.stop(s.id, 5000); // idempotent
  });

  test('a process that ignores SIGTERM is SIGKILLed after stopTimeout', async () => {
    make();
    const s = spec('--ignore-sigterm');
    const { port } = sup.start(s);
    await waitFor(s.id, (x) => x.ready, 5000, 'ready');
    const info = await getJson<Info>(port, '/info');
    const t0 = Date.now();
    await sup.stop(s.id, 500);
    const took = Date.now() - t0;
    assert.ok(took >= 480, `stop took ${took}ms, less than stopTimeout`);
    assert.equal(logged('instance did not exit after SIGTERM; sending SIGKILL').length, 1, 'SIGKILLed');
    assert.deepEqual(stoppedExits(), [{ code: null, signal: 'SIGKILL' }]);
    await assertGone(info.pid, 'instance');
    assert.match(readFileSync(s.logFile, 'utf8'), /SIGTERM ignored/);
  });

  test('a grandchild that ignores SIGTERM dies with the process group', async () => {
    make();
    const s = spec('--grandchild-ignore-sigterm');
    const { port, pid } = sup.start(s);
    await waitFor(s.id, (x) => x.ready, 5000, 'ready');
    const info = await getJson<Info>(port, '/info');
    assert.ok(info.grandchild);
    spawned.push(info.grandchild);
    const t0 = Date.now();
    await sup.stop(s.id, 400);
    assert.ok(Date.now() - t0 >= 380, 'stop waits for the whole group, not just the shell');
    await assertGone(info.pid, 'instance');
    await assertGone(info.grandchild, 'grandchild');
    await assertGroupGone(pid!);
  });

  test('stopping an instance in backoff cancels its restart', async () => {
    make();
    const s = spec('--crash-after-ms 50', { restartBackoffMs: 800 });
    sup.start(s);
    await waitFor(s.id, (x) => x.phase === 'backoff', 5000, 'backoff');
    await sup.stop(s.id, 1000);
    const n = events.length;
    // Part of the scenario: wait past the moment the restart was due (800 ms after entering backoff).
    await sleep(1000);
    assert.equal(events.length, n, 'no event after stop');
    assert.deepEqual(sup.list(), []);
    assert.ok(spawned.length > 0, 'no process was spawned');
    for (const pid of spawned) await assertGone(pid, 'process');
  });

  test('a spawn that fails (missing cwd) goes to backoff with the error recorded', async () => {
    make();
    const s = spec('');
    s.run = { ...s.run, cwd: join(dir, 'does-not-exist') };
    sup.start(s);
    const st = await waitFor(s.id, (x) => x.phase === 'backoff', 3000, 'backoff');
    assert.equal(st.ready, false);
    assert.match(sup.get(s.id)!.lastError ?? '', /ENOENT/);
  });

  test('the log file receives stdout and stderr and stays bounded', async () => {
    make({ logCheckIntervalMs: 200 });
    const max = 50_000;
    // ~2 KB every 20 ms = ~100 KB/s, i.e. ~20 KB between two size checks.
    const s = spec('--spam-ms 20', { logMaxBytes: max });
    sup.start(s);
    await waitFor(s.id, (x) => x.ready, 5000, 'ready');
    let peak = 0;
    // Sample for at least 2.5 s and until the log was rotated (a busy machine writes the spam more slowly).
    const until = Date.now() + 2500;
    for (let i = 0; Date.now() < until || !existsSync(`${s.logFile}.1`); i++) {
      assert.ok(i < 400, 'log not rotated to .1 within 20 s');
      const a = existsSync(s.logFile) ? statSync(s.logFile).size : 0;
      const b = existsSync(`${s.logFile}.1`) ? statSync(`${s.logFile}.1`).size : 0;
      peak = Math.max(peak, a + b);
      await sleep(50);
    }
    assert.ok(existsSync(`${s.logFile}.1`), 'rotated once to .1');
    assert.ok(peak <= 2 * max + 60_000, `log + .1 peaked at ${peak} bytes (max ${max})`);
    const both = readFileSync(`${s.logFile}.1`, 'utf8') + readFileSync(s.logFile, 'utf8');
    assert.match(both, /^OUT \d+ x+$/m);
    assert.match(both, /^ERR \d+ x+$/m);
    await sup.stop(s.id, 1000);
    assert.match(readFileSync(s.logFile, 'utf8'), /\[cutover\] .* exited code=0 signal=null/);
  });

  test('stopAll leaves no process or process group behind', async () => {
    make();
    const specs = [
      spec(''),
      spec('--ignore-sigterm'),
      spec('--grandchild'),
      spec('--grandchild-ignore-sigterm'),
    ];
    const started = specs.map((s) => sup.start(s));
    await Promise.all(specs.map((s) => waitFor(s.id, (x) => x.ready, 8000, `${s.id} ready`)));
    const infos = await Promise.all(started.map((st) => getJson<Info>(st.port, '/info')));
    const pgids = sup.pids();
    assert.deepEqual([...pgids].sort(), started.map((st) => st.pid!).sort());
    const pids = infos.flatMap((i) => (i.grandchild ? [i.pid, i.grandchild] : [i.pid]));
    spawned.push(...pids);
    assert.equal(pids.length, 6);
    await sup.stopAll(500);
    assert.deepEqual(sup.list(), []);
    assert.deepEqual(sup.pids(), []);
    for (const pid of pids) await assertGone(pid, 'process');
    for (const pgid of pgids) await assertGroupGone(pgid);
  });
});
