/**
 * A real HAProxy (`/usr/sbin/haproxy`) in front of backends on loopback, as a user's load balancer would
 * sit in front of a fleet of gateways: HTTP health checks on `healthPath`, and its admin stats socket to
 * read what it thinks of each server (no sleeps: callers wait for a state). Config in a temp dir, free
 * ports, killed in t.after.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from '../../src/runtime/ports.ts';
import { waitFor } from './wait.ts';

export const HAPROXY = '/usr/sbin/haproxy';
/** How long HAProxy gets to listen and answer on its stats socket. */
const START_TIMEOUT_MS = 10_000;
/** Bound of one stats socket command. */
const COMMAND_TIMEOUT_MS = 3000;

export interface HaproxyBackend {
  /** The server's name in HAProxy (and in `serverStates()`). */
  name: string;
  host: string;
  port: number;
}

export interface HaproxyOptions {
  backends: HaproxyBackend[];
  /** `option httpchk GET <healthPath>`; absent: no health checks (servers are always UP). */
  healthPath?: string;
  /** Check interval and thresholds (HAProxy's `inter`, `fall`, `rise`). */
  interMs?: number;
  fall?: number;
  rise?: number;
  /** `balance` algorithm. */
  balance?: 'roundrobin' | 'leastconn' | 'first';
  /**
   * What an operator sets in front of several hosts: a request whose connection to a dead server
   * failed, or whose reused connection was dead, goes to another one (`retries 3`, `option redispatch`,
   * `retry-on conn-failure empty-response`).
   */
  redispatch?: boolean;
}

/**
 * A server's status as `show stat` reports it: `UP`, `DOWN`, a transition (`UP 1/2`: up, one failed check
 * of the two that take it down), `MAINT`, `DRAIN`, `NOLB`, `no check`.
 */
export type ServerStatus =
  | 'UP'
  | 'DOWN'
  | 'MAINT'
  | 'DRAIN'
  | 'NOLB'
  | 'no check'
  | `${'UP' | 'DOWN'} ${number}/${number}`;

export interface ServerStat {
  status: ServerStatus;
  /** Sessions (requests with http-server-close) sent to it so far (`stot`). */
  sessions: number;
  /** The last health check's result, e.g. `L7OK`, `L7STS` (`check_status`, without the `* ` of one running). */
  check: string;
  /** Requests on it now (`scur`). */
  current: number;
}

export interface RunningHaproxy {
  /** The frontend's port on 127.0.0.1. */
  port: number;
  child: ChildProcess;
  /** Status by server name (only the servers of the backend). */
  serverStates(): Promise<Record<string, ServerStatus>>;
  serverStats(): Promise<Record<string, ServerStat>>;
  /** Any stats socket command (`show servers state`, `show info`), its answer as text. */
  command(cmd: string): Promise<string>;
  /** Waits until `server` reports `status`; `what` names the wait in a timeout. */
  waitForState(server: string, status: ServerStatus, timeoutMs?: number): Promise<void>;
  stdout(): string;
  stop(): Promise<void>;
}

const BACKEND = 'gateways';

export function haproxyConfig(opts: HaproxyOptions, port: number, statsSocket: string): string {
  const inter = opts.interMs ?? 2000;
  const check =
    opts.healthPath === undefined
      ? ''
      : ` check inter ${inter} fall ${opts.fall ?? 3} rise ${opts.rise ?? 2}`;
  return [
    'global',
    `  stats socket ${statsSocket} mode 600 level admin`,
    '  maxconn 512',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout check 1s',
    '',
    'frontend front',
    `  bind 127.0.0.1:${port}`,
    `  default_backend ${BACKEND}`,
    '',
    `backend ${BACKEND}`,
    `  balance ${opts.balance ?? 'roundrobin'}`,
    ...(opts.redispatch
      ? ['  retries 3', '  option redispatch', '  retry-on conn-failure empty-response']
      : []),
    ...(opts.healthPath === undefined
      ? []
      : [`  option httpchk GET ${opts.healthPath}`, '  http-check expect status 200']),
    ...opts.backends.map((b) => `  server ${b.name} ${b.host}:${b.port}${check}`),
    '',
  ].join('\n');
}

export async function startHaproxy(t: TestContext, opts: HaproxyOptions): Promise<RunningHaproxy> {
  if (opts.backends.length === 0) throw new Error('startHaproxy: no backends');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-haproxy-'));
  const statsSocket = path.join(dir, 'stats.sock');
  const port = await freePort();
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(opts, port, statsSocket));
  // -db: foreground, no daemon: one process to kill.
  const child = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  child.once('exit', () => {
    gone = true;
  });
  const stop = async () => {
    if (!gone) child.kill('SIGKILL');
    await exited;
  };
  t.after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const command = (cmd: string) => statsCommand(statsSocket, cmd);
  const serverStats = async (): Promise<Record<string, ServerStat>> => {
    const csv = await command('show stat');
    return parseServerStats(csv, BACKEND);
  };
  const serverStates = async (): Promise<Record<string, ServerStatus>> => {
    const stats = await serverStats();
    return Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, v.status]));
  };

  await waitFor(
    async () => {
      if (gone) throw new Error(`haproxy exited at start:\n${out}`);
      if (!existsSync(statsSocket)) return false;
      try {
        const states = await serverStates();
        return opts.backends.every((b) => b.name in states);
      } catch {
        return false;
      }
    },
    START_TIMEOUT_MS,
    'haproxy to answer on its stats socket',
  );
  return {
    port,
    child,
    serverStates,
    serverStats,
    command,
    waitForState: (server, status, timeoutMs = 10_000) =>
      waitFor(
        async () => (await serverStates())[server] === status,
        timeoutMs,
        `haproxy to report ${server} ${status}`,
      ),
    stdout: () => out,
    stop,
  };
}

/** The servers of `backend` in a `show stat` CSV: status, sessions, last check. */
export function parseServerStats(csv: string, backend: string): Record<string, ServerStat> {
  const lines = csv.split('\n').filter((l) => l !== '');
  const header = lines[0]?.replace(/^# /, '').split(',') ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i === -1) throw new Error(`show stat: no column ${name} in ${JSON.stringify(lines[0])}`);
    return i;
  };
  const [px, sv, status, stot, check, scur] = [
    'pxname',
    'svname',
    'status',
    'stot',
    'check_status',
    'scur',
  ].map(col);
  const out: Record<string, ServerStat> = {};
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f[px] !== backend || f[sv] === 'BACKEND' || f[sv] === 'FRONTEND') continue;
    out[f[sv]] = {
      status: f[status] as ServerStatus,
      sessions: Number(f[stot]),
      check: f[check].replace(/^\* /, ''),
      current: Number(f[scur]),
    };
  }
  return out;
}

/** One command on HAProxy's stats socket (it answers and closes the connection). */
function statsCommand(socketPath: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let text = '';
    s.setEncoding('utf8');
    s.setTimeout(COMMAND_TIMEOUT_MS, () => s.destroy(new Error(`haproxy stats: ${cmd} timed out`)));
    s.on('connect', () => s.write(`${cmd}\n`));
    s.on('data', (d: string) => {
      text += d;
    });
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}
