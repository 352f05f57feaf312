/**
 * `npm start`: a self-contained showcase on loopback. Starts `cutover up` on the example service
 * (4 instances of v1), drives steady load through the gateway, rolls out v2, then the broken v3
 * (which fails and is rolled back automatically), and ends with a summary of failed requests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceStatus } from '../src/api/status.ts';
import { ControlClient } from '../src/cli/client.ts';
import { freePort } from '../src/runtime/ports.ts';
import { sleep } from '../src/util/sleep.ts';
import { startLoad } from '../test/helpers/load.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tty = process.stdout.isTTY;

const dir = mkdtempSync(path.join(tmpdir(), 'cutover-demo-'));
const gatewayPort = await freePort();
const controlPort = await freePort();
const configFile = path.join(dir, 'cutover.yaml');
writeFileSync(
  configFile,
  `gateway:
  listen: 127.0.0.1:${gatewayPort}
control:
  listen: 127.0.0.1:${controlPort}
  dataDir: ./data
services:
  web:
    route: { host: "*", pathPrefix: / }
    version: v1
    replicas: 4
    run:
      command: "${process.execPath} ${ROOT}examples/releases/\${VERSION}/server.mjs --port \${PORT}"
      env: { APP_VERSION: "\${VERSION}" }
    readiness: { path: /ready, interval: 250ms, timeout: 250ms, failureThreshold: 2 }
    drainTimeout: 10s
    stopTimeout: 5s
    restartBackoff: 250ms
    restartBackoffMax: 2s
    strategy: { type: rolling, maxSurge: 1, maxUnavailable: 0, progressDeadline: 6s }
`,
);

let up: ChildProcess | undefined;
let upLog = '';
let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  if (up?.pid && up.exitCode === null) {
    const exited = new Promise((r) => up?.once('exit', r));
    process.kill(up.pid, 'SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
  }
  rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup().finally(() => process.exit(130));
});

let client = new ControlClient(`127.0.0.1:${controlPort}`);
const status = () => client.json<ServiceStatus>('GET', '/v1/services/web');

function bar(s: ServiceStatus): string {
  return s.instances
    .map((i) => {
      const mark =
        i.state === 'ready' ? '●' : i.state === 'draining' ? '◌' : i.state === 'backoff' ? '✖' : '○';
      return `${mark} ${i.version}`;
    })
    .join('  ');
}

async function watchRollout(
  title: string,
  load: ReturnType<typeof startLoad>,
  revision: number,
): Promise<boolean> {
  console.log(`\n== ${title}`);
  let last = '';
  for (;;) {
    const s = await status();
    const r = s.rollout;
    const what = r
      ? `${r.kind === 'rollback' ? 'rolling back to' : 'rolling out'} r${r.to} ${r.version}: ${r.progress.available}/${r.progress.replicas} available, ${r.progress.old} old, ${r.progress.draining} draining`
      : `r${s.stable.revision} ${s.stable.version} ${s.phase}`;
    const rep = load.report;
    const line = `  ${bar(s).padEnd(44)} | ${what.padEnd(70)} | sent ${rep.sent} failed ${rep.failed}`;
    if (tty) process.stdout.write(`\r\x1b[2K${line}`);
    else if (line.replace(/sent \d+/, '') !== last) console.log(line);
    last = line.replace(/sent \d+/, '');
    if (!r && s.lastRollout) {
      const l = s.lastRollout;
      if (l.to === revision && l.phase === 'Succeeded' && l.kind !== 'rollback') {
        if (tty) process.stdout.write('\n');
        console.log(`  ✔ revision ${revision} is stable`);
        return true;
      }
      if (l.kind === 'rollback') {
        if (tty) process.stdout.write('\n');
        console.log(`  ✖ revision ${revision} failed and was rolled back: ${l.message ?? ''}`);
        return false;
      }
    }
    await sleep(250);
  }
}

try {
  console.log('Cutover demo: 4 instances of the example service behind the Cutover gateway');
  console.log(`  gateway http://127.0.0.1:${gatewayPort}  control 127.0.0.1:${controlPort}  data ${dir}`);
  up = spawn(process.execPath, [path.join(ROOT, 'bin/cutover.mjs'), 'up', '-c', configFile], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  up.stderr?.on('data', (c: Buffer) => {
    upLog += c.toString();
  });
  const deadline = Date.now() + 30_000;
  const tokenFile = path.join(dir, 'data', 'admin.token');
  for (;;) {
    // The controller writes its admin token on first start; the demo acts as the local admin.
    if (existsSync(tokenFile))
      client = new ControlClient(`127.0.0.1:${controlPort}`, {
        token: readFileSync(tokenFile, 'utf8').trim(),
      });
    try {
      if ((await status()).phase === 'Healthy') break;
    } catch {}
    if (Date.now() > deadline || up.exitCode !== null) throw new Error(`cutover up did not start:\n${upLog}`);
    await sleep(200);
  }
  console.log('  ✔ v1 is up (● ready  ○ starting  ◌ draining  ✖ crashed)');
  const load = startLoad(gatewayPort, { concurrency: 6, pauseMs: 2 });
  await sleep(1500);

  const d2 = await client.json<{ revision: number }>('POST', '/v1/services/web/deploy', { version: 'v2' });
  await watchRollout(
    'cutover deploy web --version v2   (rolling: maxSurge 1, maxUnavailable 0)',
    load,
    d2.revision,
  );
  await sleep(1000);
  const d3 = await client.json<{ revision: number }>('POST', '/v1/services/web/deploy', { version: 'v3' });
  await watchRollout('cutover deploy web --version v3   (broken: crashes at start-up)', load, d3.revision);
  await sleep(1000);
  const rep = await load.stop();

  console.log('\n== Summary');
  console.log(`  requests sent:   ${rep.sent}`);
  console.log(`  requests failed: ${rep.failed}`);
  console.log(
    `  served by:       ${Object.entries(rep.versions)
      .map(([v, n]) => `${v} ${n}`)
      .join(', ')}`,
  );
  if (rep.failures.length) console.log(`  failures: ${rep.failures.join(' | ')}`);
  const hist = await client.json<{
    revisions: Array<{ number: number; version: string; outcome: string; message?: string }>;
  }>('GET', '/v1/services/web/history');
  console.log('  history:');
  for (const r of hist.revisions)
    console.log(`    r${r.number} ${r.version} ${r.outcome}${r.message ? ` (${r.message})` : ''}`);
  process.exitCode = rep.failed === 0 ? 0 : 1;
} catch (err) {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  console.log('\nstopping cutover up (gateway drains, instances stop) ...');
  await cleanup();
  console.log('done.');
}
