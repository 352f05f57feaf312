/**
 * A real etcd cluster for tests (Debian etcd-server, /usr/bin/etcd): members on free loopback ports,
 * temp data dirs, fast elections. Each member's output goes to `etcd.log` in its data dir, shown when
 * it fails to become healthy. Every process carries CUTOVER_TEST_RUN=<cluster id>; `stop()` kills them
 * all (also the ones a crashed restart left) and removes the data dirs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePorts } from '../../src/runtime/ports.ts';
import { processesWithEnvironment, signalProcess, waitProcessGone } from '../../src/runtime/process-group.ts';
import { sleep } from '../../src/util/sleep.ts';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';
const MARKER = 'CUTOVER_TEST_RUN';
const HEALTH_TIMEOUT_MS = 20_000;
const HEALTH_POLL_MS = 50;
const EXIT_WAIT_MS = 5000;
/** Short raft timings so that elections after a kill take well under a second. */
const HEARTBEAT_MS = 50;
const ELECTION_MS = 500;

export interface EtcdMember {
  name: string;
  clientUrl: string;
  pid(): number | undefined;
  /** SIGKILL, waits for the exit. */
  kill(): Promise<void>;
  /** Restarts with the same data dir and waits until the member reports healthy (needs quorum). */
  start(): Promise<void>;
}

export interface EtcdCluster {
  endpoints: string[];
  members: EtcdMember[];
  /** Kills all members, removes the data dirs. Idempotent. */
  stop(): Promise<void>;
}

/** Serve clients over HTTPS with client-certificate auth: one certificate for both ends (serverAuth and clientAuth). */
export interface EtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

function health(url: string, tls?: EtcdTls): Promise<boolean> {
  return new Promise((resolve) => {
    const get = tls === undefined ? http.get : https.get;
    const certs =
      tls === undefined
        ? {}
        : { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
    const req = get(`${url}/health`, { agent: false, timeout: 1000, ...certs }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => {
        try {
          resolve((JSON.parse(text) as { health?: unknown }).health === 'true');
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function tail(file: string, bytes = 4000): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '(no log)';
  }
}

/** Starts a cluster and waits until every member is healthy. */
export async function startEtcdCluster(
  opts: {
    /** Default 3. */
    members?: number;
    /** Default 127.0.0.1. */
    host?: string;
    /** More etcd flags, e.g. ['--auth-token-ttl', '1']. */
    args?: string[];
    /** Clients over HTTPS with client-certificate auth. */
    tls?: EtcdTls;
  } = {},
): Promise<EtcdCluster> {
  const count = opts.members ?? 3;
  const host = opts.host ?? '127.0.0.1';
  const id = randomUUID();
  const root = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'cutover-etcd-'));
  const specs: Array<{ name: string; clientUrl: string; peerUrl: string; dir: string }> = [];
  for (let i = 0; i < count; i++) {
    const [c, p] = await freePorts(2, host);
    const name = `m${i}`;
    specs.push({
      name,
      clientUrl: `${opts.tls ? 'https' : 'http'}://${host}:${c}`,
      peerUrl: `http://${host}:${p}`,
      dir: path.join(root, name),
    });
  }
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const token = `cutover-test-${id}`;

  const members = specs.map((s) => {
    let child: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    const log = path.join(s.dir, 'etcd.log');
    const spawnIt = () => {
      mkdirSync(s.dir, { recursive: true });
      const fd = openSync(log, 'a');
      child = spawn(
        ETCD_BIN,
        [
          '--name',
          s.name,
          '--data-dir',
          path.join(s.dir, 'data'),
          '--listen-client-urls',
          s.clientUrl,
          '--advertise-client-urls',
          s.clientUrl,
          '--listen-peer-urls',
          s.peerUrl,
          '--initial-advertise-peer-urls',
          s.peerUrl,
          '--initial-cluster',
          initialCluster,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          token,
          '--heartbeat-interval',
          String(HEARTBEAT_MS),
          '--election-timeout',
          String(ELECTION_MS),
          ...(opts.tls === undefined
            ? []
            : [
                '--cert-file',
                opts.tls.certFile,
                '--key-file',
                opts.tls.keyFile,
                '--trusted-ca-file',
                opts.tls.caFile,
                '--client-cert-auth',
              ]),
          ...(opts.args ?? []),
        ],
        { stdio: ['ignore', fd, fd], env: { ...process.env, [MARKER]: id } },
      );
      closeSync(fd);
      const c = child;
      exited = new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) resolve();
        else c.once('exit', () => resolve());
      });
      c.once('error', () => {});
    };
    const waitHealthy = async () => {
      const deadline = Date.now() + HEALTH_TIMEOUT_MS;
      while (!(await health(s.clientUrl, opts.tls))) {
        if (child?.exitCode !== null && child?.exitCode !== undefined)
          throw new Error(`etcd member ${s.name} exited with ${child.exitCode}; log ${log}:\n${tail(log)}`);
        if (Date.now() > deadline)
          throw new Error(
            `etcd member ${s.name} not healthy within ${HEALTH_TIMEOUT_MS} ms; log ${log}:\n${tail(log)}`,
          );
        await sleep(HEALTH_POLL_MS);
      }
    };
    const member: EtcdMember & { spawn(): void; waitHealthy(): Promise<void> } = {
      name: s.name,
      clientUrl: s.clientUrl,
      pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
      kill: async () => {
        if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await exited;
        }
      },
      start: async () => {
        if (member.pid() !== undefined) throw new Error(`etcd member ${s.name} is running already`);
        spawnIt();
        await waitHealthy();
      },
      spawn: spawnIt,
      waitHealthy,
    };
    return member;
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(members.map((m) => m.kill()));
    // Whatever else carries the marker (a member whose handle got lost): kill it too.
    for (const pid of processesWithEnvironment(`${MARKER}=${id}`)) {
      signalProcess(pid, 'SIGKILL');
      await waitProcessGone(pid, EXIT_WAIT_MS);
    }
    rmSync(root, { recursive: true, force: true });
  };

  try {
    for (const m of members) m.spawn();
    await Promise.all(members.map((m) => m.waitHealthy()));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoints: members.map((m) => m.clientUrl),
    members: members.map(({ name, clientUrl, pid, kill, start }) => ({ name, clientUrl, pid, kill, start })),
    stop,
  };
}
