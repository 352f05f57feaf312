/**
 * The memory rows of `npm run bench`: resident memory of the whole gateway (master + every worker, VmRSS
 * summed over its process tree) idle, with N idle keep-alive client connections (each sent one complete
 * request and got its answer), and with N open WebSockets proxied to an upstream WebSocket server;
 * Cutover beside nginx with the same worker count. Each target is started fresh for these rows (nothing
 * of the throughput rows stays in its heap), the client is its own process (bench/lib/idle-clients.ts),
 * and the upstream is bench/lib/ws-upstream.ts.
 *
 * fd limits: every process here is started through `sh -c 'ulimit -n 65536'` (a WebSocket holds two fds
 * in the proxy: client and upstream); raising the hard limit needs root (or CAP_SYS_RESOURCE), otherwise
 * the soft limit is raised to the hard one and the notes say when that is below what the rows need.
 */

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fmtInt, table } from './format.ts';
import { startGateway } from './gateway-target.ts';
import type { Options } from './options.ts';
import { freePort, type Managed, type Procs, sleep, tailOf } from './procs.ts';
import { treeRss } from './rss.ts';
import { type Env, nginxCommon, nginxPrefix, startNginx, waitHttpOk } from './targets.ts';

const NOFILE = 65_536;
const IDLE_CLIENTS = path.join(import.meta.dirname, 'idle-clients.ts');
const WS_UPSTREAM = path.join(import.meta.dirname, 'ws-upstream.ts');
/** Time for lazily freed or allocated memory to show in RSS before a sample. */
const SETTLE_MS = 2000;

export interface MemoryContext {
  procs: Procs;
  env: Env;
  o: Options;
  hasNginx: boolean;
  log: (msg: string) => void;
}

interface Phase {
  /** kB over the tree; processes counted. */
  rssKb: number;
  procs: number;
  /** kB per process (master first), for the JSON. */
  byProcess?: { pid: number; name: string; rssKb: number }[];
  open?: number;
  failed?: number;
  setupMs?: number;
  errors?: string[];
}

export interface MemoryTarget {
  name: 'cutover' | 'nginx';
  workers: number;
  idle: Phase;
  keepAlive?: Phase;
  /** Idle RSS of the fresh process the WebSocket phase ran on: its baseline. */
  idleBeforeWs?: Phase;
  webSocket?: Phase;
  error?: string;
}

/** `sh -c 'ulimit -n N; exec "$@"'`: the fd limit a process gets; falls back to the hard limit. */
export function withNofile(cmd: string, args: string[]): { cmd: string; args: string[] } {
  const script = `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  return { cmd: 'sh', args: ['-c', script, 'sh', cmd, ...args] };
}

/** The fd limit a process started through withNofile gets. */
function effectiveNofile(): number {
  const r = spawnSync(
    'sh',
    ['-c', `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ulimit -n`],
    {
      encoding: 'utf8',
    },
  );
  return Number(r.stdout.trim()) || 0;
}

function readLine(m: Managed, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const out = m.child.stdout;
    if (!out) return reject(new Error(`${what}: stdout not piped`));
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no answer in ${timeoutMs} ms`)), timeoutMs);
    out.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
    void m.exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${c}): ${tailOf(m.logFile)}`));
    });
  });
}

async function sample(root: number | undefined): Promise<Phase> {
  await sleep(SETTLE_MS);
  const r = root === undefined ? { kb: 0, procs: 0, byProcess: [] } : treeRss(root);
  return {
    rssKb: r.kb,
    procs: r.procs,
    byProcess: r.byProcess.map((p) => ({ pid: p.pid, name: p.name, rssKb: p.rssKb })),
  };
}

async function holdClients(ctx: MemoryContext, port: number, mode: 'keepalive' | 'websocket', root: number) {
  const { cmd, args } = withNofile(process.execPath, [
    IDLE_CLIENTS,
    '--port',
    String(port),
    '--count',
    String(ctx.o.memoryConnections),
    '--mode',
    mode,
  ]);
  const logFile = path.join(ctx.env.tmp, `idle-clients-${mode}-${port}.log`);
  const client = ctx.procs.start(`idle-clients ${mode}`, cmd, args, { logFile, pipeStdout: true });
  try {
    const line = JSON.parse(await readLine(client, 'idle-clients', 180_000)) as {
      open: number;
      failed: number;
      ms: number;
      errors: string[];
    };
    ctx.log(`  ${mode}: ${line.open} open, ${line.failed} failed in ${line.ms} ms`);
    const s = await sample(root);
    return { ...s, open: line.open, failed: line.failed, setupMs: line.ms, errors: line.errors };
  } finally {
    await ctx.procs.stop(client);
  }
}

/** A fresh proxy in front of the WebSocket upstream; `stop` ends it. */
type Starter = () => Promise<{ proc: Managed; port: number }>;

/**
 * Each phase gets a fresh process (idle, then loaded): memory the keep-alive phase touched and the heap
 * kept would otherwise count as the WebSocket phase's baseline.
 */
async function measureTarget(
  ctx: MemoryContext,
  name: MemoryTarget['name'],
  start: Starter,
): Promise<MemoryTarget> {
  const t: MemoryTarget = { name, workers: ctx.o.memoryWorkers, idle: { rssKb: 0, procs: 0 } };
  try {
    for (const mode of ['keepalive', 'websocket'] as const) {
      const { proc, port } = await start();
      try {
        const root = proc.child.pid as number;
        const idle = await sample(root);
        ctx.log(
          `memory ${name} (${mode}): idle ${fmtInt(idle.rssKb / 1024)} MB over ${idle.procs} processes`,
        );
        const loaded = await holdClients(ctx, port, mode, root);
        if (mode === 'keepalive') {
          t.idle = idle;
          t.keepAlive = loaded;
        } else {
          t.idleBeforeWs = idle;
          t.webSocket = loaded;
        }
      } finally {
        await ctx.procs.stop(proc);
      }
    }
  } catch (err) {
    t.error = (err as Error).message;
  }
  return t;
}

async function startNginxWs(
  ctx: MemoryContext,
  upstreamPort: number,
): Promise<{ proc: Managed; port: number }> {
  const port = await freePort();
  const prefix = nginxPrefix(ctx.env, 'nginx-memory');
  // Two connections per WebSocket (client, upstream): room for all of them on one worker. nginx allocates
  // worker_connections slots up front, so this is not more than the rows need (it shows in idle MB).
  const common = nginxCommon(ctx.o.memoryWorkers, prefix).replace(
    'worker_connections 8192',
    `worker_connections ${2 * ctx.o.memoryConnections + 1024}`,
  );
  const conf = `${common}
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 600s;
    }
  }
}
`;
  const proc = startNginx(ctx.env, 'nginx-memory', conf);
  await waitHttpOk(`http://127.0.0.1:${port}/`, { ...proc, logFile: path.join(prefix, 'error.log') });
  return { proc, port };
}

export async function runMemoryRows(ctx: MemoryContext): Promise<{ text: string; json: unknown }> {
  const { procs, env, o, log } = ctx;
  const notes: string[] = [];
  const nofile = effectiveNofile();
  if (nofile < 2 * o.memoryConnections + 1024) {
    notes.push(
      `fd limit ${nofile} is below the ${2 * o.memoryConnections + 1024} a proxy worker may need ` +
        '(raising the hard limit, ulimit -Hn, needs CAP_SYS_RESOURCE); a worker that takes most of the ' +
        'connections may run out of fds.',
    );
  }
  const upCmd = withNofile(process.execPath, [WS_UPSTREAM, '--port', '0']);
  const upstream = procs.start('ws-upstream', upCmd.cmd, upCmd.args, {
    logFile: path.join(env.tmp, 'ws-upstream.log'),
    pipeStdout: true,
  });
  const targets: MemoryTarget[] = [];
  try {
    const upPort = (JSON.parse(await readLine(upstream, 'ws-upstream', 10_000)) as { port: number }).port;
    const gwEnv = { ...env, workers: o.memoryWorkers };
    targets.push(
      await measureTarget(ctx, 'cutover', async () => {
        const gw = await startGateway(gwEnv, upPort, {
          main: o.gateway,
          name: 'cutover-memory',
          wrap: withNofile,
        });
        return { proc: gw.proc, port: gw.port };
      }),
    );
    if (ctx.hasNginx) {
      targets.push(await measureTarget(ctx, 'nginx', () => startNginxWs(ctx, upPort)));
    } else notes.push('nginx is not installed: the memory rows show Cutover only.');
  } finally {
    await procs.stop(upstream);
  }
  log(`memory rows done: ${targets.map((t) => t.name).join(', ')}`);
  return { text: memoryText(targets, o, nofile, notes), json: { nofile, targets, notes } };
}

/** kB per connection between two samples; null when a phase is missing or opened nothing. */
export function perConnKb(base: Phase | undefined, loaded: Phase | undefined): number | null {
  const open = loaded?.open;
  if (!base || !loaded || !open) return null;
  return (loaded.rssKb - base.rssKb) / open;
}

function memoryText(targets: MemoryTarget[], o: Options, nofile: number, notes: string[]): string {
  const mb = (p: Phase | undefined): string => (p ? (p.rssKb / 1024).toFixed(1) : '-');
  const kb = (x: number | null): string => (x === null ? '-' : x.toFixed(1));
  const opened = (p: Phase | undefined): string =>
    p ? `${p.open ?? 0}/${(p.open ?? 0) + (p.failed ?? 0)}` : '-';
  const cut = targets.find((t) => t.name === 'cutover');
  const ng = targets.find((t) => t.name === 'nginx');
  const ratio = (a: number | null, b: number | null): string =>
    a === null || !b ? '-' : `${(a / b).toFixed(1)}x`;
  const rows: string[][] = [
    [
      'target',
      'workers',
      'procs',
      'idle MB',
      'keep-alive MB',
      'KB/keep-alive',
      'ok',
      'WebSocket MB',
      'KB/WebSocket',
      'ok',
    ],
  ];
  for (const t of targets) {
    rows.push([
      t.name,
      String(t.workers),
      String(t.idle.procs),
      mb(t.idle),
      mb(t.keepAlive),
      kb(perConnKb(t.idle, t.keepAlive)),
      opened(t.keepAlive),
      mb(t.webSocket),
      kb(perConnKb(t.idleBeforeWs, t.webSocket)),
      opened(t.webSocket),
    ]);
  }
  if (cut && ng) {
    rows.push([
      'cutover/nginx',
      '',
      '',
      ratio(cut.idle.rssKb, ng.idle.rssKb),
      '',
      ratio(perConnKb(cut.idle, cut.keepAlive), perConnKb(ng.idle, ng.keepAlive)),
      '',
      '',
      ratio(perConnKb(cut.idleBeforeWs, cut.webSocket), perConnKb(ng.idleBeforeWs, ng.webSocket)),
      '',
    ]);
  }
  const lines = [
    ...targets.filter((t) => t.error).map((t) => `${t.name}: ${t.error}`),
    ...targets.flatMap((t) =>
      [t.keepAlive, t.webSocket].flatMap((p) =>
        p?.errors?.length ? [`${t.name}: ${p.errors.join('; ')}`] : [],
      ),
    ),
    ...notes,
    'RSS = VmRSS summed over the proxy process and all its descendants (/proc/PID/status), sampled ' +
      `${SETTLE_MS / 1000} s after the last connection was set up; shared pages (the node or nginx binary) count ` +
      'once per process, as `ps` shows them.',
    'KB/keep-alive = (keep-alive MB - idle MB) / connections open; KB/WebSocket = (WebSocket MB - idle MB of ' +
      'its own fresh process, JSON idleBeforeWs) / WebSockets open: each phase starts the proxy afresh. ' +
      'ok = set up / tried.',
    `Every process of these rows ran with fd limit ${nofile} (sh -c 'ulimit -n ${NOFILE}', see bench/README.md).`,
  ];
  const header =
    `Memory rows: ${fmtInt(o.memoryConnections)} idle connections per phase, ${o.memoryWorkers} worker(s) per ` +
    "proxy (the gateway's default: one per core), upstream bench/lib/ws-upstream.ts\n";
  return `${header}\n${table(rows)}\n\nMemory notes:\n${lines.map((n) => `  - ${n}`).join('\n')}\n`;
}
