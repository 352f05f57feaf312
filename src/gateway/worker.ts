/**
 * Gateway worker process (forked by `main.ts`). Receives the shared listening handle and the settings in
 * an `init` message, serves traffic, applies route tables on request, reports in-flight counts, and drains
 * on SIGTERM/SIGINT, on a `shutdown` message, or when retired (a newer generation took over the socket).
 *
 * When its master dies (kill -9) the worker keeps serving on the shared socket (orphan mode) until a new
 * master answers on the admin socket (ready, or waiting for the port), then drains and exits; without a
 * new master it drains after ORPHAN_MAX_MS.
 */
import type http from 'node:http';
import type net from 'node:net';
import { createLogger } from '../log/logger.ts';
import { nodeHttp } from '../util/builtins.ts';
import { sleep } from '../util/sleep.ts';
import { ConnectionCap } from './connection-cap.ts';
import { SERVING, type ServingState } from './health.ts';
import type { MasterToWorker, WorkerToMaster } from './ipc.ts';
import { IpcLimitSource } from './limit-source.ts';
import { listenWithoutAccepting } from './listener.ts';
import type { RouteTable } from './protocol.ts';
import { Gateway } from './server.ts';

process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

const logger = createLogger({ fields: { component: 'gateway', role: 'worker', pid: process.pid } });
let gateway: Gateway | null = null;
/** How often a worker pushes its counters to the master: at most this much is lost if it crashes. */
const STATS_PUSH_MS = 1000;
/** Longest an orphaned worker (master gone) keeps serving without a new master. */
const ORPHAN_MAX_MS = 60_000;
let stopping = false;
/** `limits.rate` tokens and connection slots from the master (set at init). */
let limits: IpcLimitSource | null = null;
let masterPid = 0;
let adminSocket = '';
/** The master's `PUT /serving`, kept for a gateway not created yet (a `serving` message before `init`). */
let serving: ServingState = SERVING;
/**
 * A retiring worker closes an idle keep-alive connection only once it has been idle for the gateway's
 * `clientIdleTimeout`, the `Keep-Alive: timeout=N` every response announces. A client that honours the
 * hint (Node's agent, undici, most pools) drops the connection before that and one that sends within it
 * gets `Connection: close` on its response; closing sooner races the client's next request, which a
 * client stalled for a moment (GC, a busy machine) writes on the closed connection and loses.
 */
/** How often a retiring worker looks for connections that became idle. */
const RETIRE_SWEEP_MS = 20;
/**
 * Client HTTP connections (not upgraded) and when each was accepted or, once the worker retires, last
 * finished a response.
 */
const connections = new Map<net.Socket, number>();

function trackConnections(gw: Gateway): void {
  gw.server.on('connection', (socket: net.Socket) => {
    // Read by a retiring worker for a connection that arrives while it retires (a TLS handshake that
    // completes then); retire starts the clocks of the others anew.
    connections.set(socket, Date.now());
    socket.once('close', () => connections.delete(socket));
  });
  // WebSocket relays are closed by the gateway with 1001 (see Gateway.shutdown).
  gw.server.on('upgrade', (req: http.IncomingMessage) => connections.delete(req.socket));
}

/** `gateway.maxConnections`: this worker's share, counted at every listener it accepts on. */
function capConnections(gw: Gateway, max: number | undefined): void {
  if (max === undefined) return;
  const cap = new ConnectionCap(max);
  if (gw.plainFront !== null) gw.plainFront.cap = cap;
  else {
    // The plain listener is the HTTP server itself, which also gets the TLS front's sockets: count raw ones.
    gw.server.prependListener('connection', (socket: net.Socket) => {
      if (!(socket as net.Socket & { encrypted?: boolean }).encrypted) cap.admit(socket);
    });
  }
  if (gw.tlsFront !== null) gw.tlsFront.cap = cap;
}

/**
 * Retire = a newer generation (or a new master) serves the same socket: stop accepting without closing
 * idle keep-alive connections at once (a request racing that close would be reset). Busy connections get
 * `Connection: close` on their response; idle ones are closed once idle for `clientIdleTimeout`; then the usual
 * drain (WebSockets 1001, in-flight requests, deadline).
 */
async function retire(): Promise<void> {
  if (stopping) return;
  const gw = gateway;
  if (gw === null) return shutdown('retired');
  stopping = true;
  const started = Date.now();
  gw.draining = true;
  gw.retiring = true;
  // net.Server#close, not http.Server#close (which also closes idle connections). Other processes hold
  // the listening socket, so this only stops this process accepting: nothing queued is reset.
  gw.stopAccepting();
  // From now on every finished response restarts its connection's grace (told by the exchange's own
  // 'close' listener); before, nothing read the times, so no request paid for them. A connection whose
  // last response finished before this moment is treated as if it just had: it gets the whole grace.
  for (const socket of connections.keys()) connections.set(socket, started);
  gw.connectionIdle = (socket) => {
    if (connections.has(socket)) connections.set(socket, Date.now());
  };
  // HTTP/2 clients get GOAWAY: their open streams finish here, new ones go to the new generation.
  gw.h2?.goAway();
  for (const relay of gw.routing.relays()) relay.closeGoingAway('gateway reloading');
  logger.info('worker retiring', { inflight: gw.totalInflight(), connections: connections.size });
  const deadline = started + gw.settings.shutdownTimeoutMs;
  const idleGraceMs = gw.settings.clientIdleTimeoutMs;
  // TLS connections still in their handshake are not HTTP connections yet: wait for them too (bounded by
  // handshakeTimeout), or the exit would reset them.
  while ((connections.size > 0 || (gw.tlsFront?.handshaking ?? 0) > 0) && Date.now() < deadline) {
    const now = Date.now();
    for (const [socket, last] of connections) {
      const busy = (socket as net.Socket & { _httpMessage?: unknown })._httpMessage;
      if (!busy && now - last >= idleGraceMs) socket.destroy();
    }
    await sleep(RETIRE_SWEEP_MS);
  }
  stopping = false;
  await shutdown('retired: a new generation serves the socket', Math.max(0, deadline - Date.now()), true);
}

let accepting = false;
/** The TLS listening handle from the last `tls-listener` message (it precedes `init` and `accept`). */
let tlsHandle: unknown = null;

function accept(gw: Gateway, handle: unknown): void {
  if (accepting) return;
  accepting = true;
  const listening = [gw.listen(handle)];
  if (gw.tlsFront !== null) {
    if (tlsHandle === null) {
      logger.error('worker has tls settings but got no TLS listening socket');
      process.exit(1);
    }
    listening.push(gw.listenTls(tlsHandle));
  }
  Promise.all(listening).then(
    () => {
      send({ type: 'listening' });
      // Unasked (id 0): the master keeps the last counters of a worker that dies (see StatsReport).
      setInterval(
        () => send({ type: 'stats', id: 0, services: gw.statsReport(), listeners: gw.listenerCounters() }),
        STATS_PUSH_MS,
      ).unref();
    },
    (err: Error) => {
      logger.error('worker cannot listen', { error: err });
      process.exit(1);
    },
  );
}

/** False when the master is gone (the message is dropped; 'disconnect' handles the rest). */
function send(msg: WorkerToMaster): boolean {
  if (!process.connected) return false;
  try {
    process.send!(msg);
    return true;
  } catch {
    // master gone: 'disconnect' handles it
    return false;
  }
}

/**
 * Drains and exits. `succeeded`: a new generation or master serves the socket, so the health check keeps
 * passing; otherwise the gateway is going away and it fails from now on (a retiring worker told to stop
 * fails it too).
 */
async function shutdown(why: string, timeoutMs?: number, succeeded = false): Promise<void> {
  if (!succeeded && gateway !== null) gateway.health.stopping = true;
  if (stopping) return;
  stopping = true;
  if (gateway === null) process.exit(0);
  logger.info('worker draining', { reason: why, inflight: gateway.totalInflight() });
  await gateway.shutdown(timeoutMs ?? gateway.settings.shutdownTimeoutMs);
  logger.info('worker stopped');
  process.exit(0);
}

/** Handshakes waiting for a certificate the master is getting (ACME on demand), by host. */
const certWaiters = new Map<string, Array<() => void>>();
/** Longest a TLS handshake for an uncovered host waits for ACME before it gets the default certificate. */
const CERT_WAIT_MS = 15_000;

/** Host names the route table routes (lower-case, not `*`): the ones ACME may get a certificate for. */
let routedHosts = new Set<string>();

function hostsOf(table: RouteTable): Set<string> {
  return new Set(table.services.map((s) => s.host.toLowerCase()).filter((h) => h !== '*'));
}

function certArrival(host: string): Promise<void> {
  return new Promise((resolve) => {
    const list = certWaiters.get(host) ?? [];
    list.push(resolve);
    certWaiters.set(host, list);
    setTimeout(resolve, CERT_WAIT_MS).unref();
  });
}

/** A new certificate set arrived: every waiting handshake looks again (covered now, or the default). */
function certsChanged(): void {
  const waiting = [...certWaiters.values()].flat();
  certWaiters.clear();
  for (const resume of waiting) resume();
}

process.on('message', (msg: MasterToWorker, handle: unknown) => {
  switch (msg.type) {
    case 'init': {
      if (gateway !== null) return;
      masterPid = msg.masterPid;
      adminSocket = msg.settings.adminSocket;
      const gw = new Gateway(msg.settings, logger);
      gateway = gw;
      limits = new IpcLimitSource(send, () => process.connected, msg.settings.workers);
      gw.routing.useLimitSource(limits);
      // Older masters send no serving state.
      if (msg.serving !== undefined) serving = msg.serving;
      gw.health.serving = serving;
      trackConnections(gw);
      capConnections(gw, msg.settings.maxConnectionsPerWorker);
      // The table first: a worker never accepts a connection it has no routes for.
      gw.applyTable(msg.table);
      routedHosts = hostsOf(msg.table);
      if (msg.certs !== undefined) gw.tlsFront?.setCertificates(msg.certs);
      if (gw.tlsFront !== null) {
        gw.tlsFront.contexts.onMissing = (host) => {
          // Only a routed host is worth asking for: names scanners make up get the default at once.
          if (msg.settings.tls?.acme === undefined || !routedHosts.has(host.toLowerCase()))
            return Promise.resolve();
          send({ type: 'cert-wanted', host });
          return certArrival(host);
        };
      }
      if (msg.accept) {
        accept(gw, handle);
        return;
      }
      // Cold start: the socket listens (the kernel queues connections) but nobody accepts them yet.
      try {
        listenWithoutAccepting(handle);
        if (gw.tlsFront !== null && tlsHandle !== null) listenWithoutAccepting(tlsHandle);
      } catch (err) {
        logger.error('worker cannot listen', { error: err });
        process.exit(1);
      }
      send({ type: 'held' });
      return;
    }
    case 'accept':
      if (gateway !== null && !stopping) accept(gateway, handle);
      return;
    case 'tls-listener':
      tlsHandle = handle;
      return;
    case 'certs':
      gateway?.tlsFront?.setCertificates(msg.certs);
      certsChanged();
      send({ type: 'done', id: msg.id });
      return;
    case 'serving':
      serving = msg.state;
      if (gateway !== null) gateway.health.serving = msg.state;
      send({ type: 'done', id: msg.id });
      return;
    case 'challenges':
      if (gateway !== null) gateway.challenges = new Map(Object.entries(msg.tokens));
      send({ type: 'done', id: msg.id });
      return;
    case 'routes':
      gateway?.applyTable(msg.table);
      routedHosts = hostsOf(msg.table);
      send({ type: 'ack', id: msg.id, version: msg.table.version });
      return;
    case 'rate-grant':
    case 'conn-grant':
      limits?.answered(msg);
      return;
    case 'inflight':
      send({ type: 'inflight', id: msg.id, instances: gateway?.inflight() ?? {} });
      return;
    case 'stats':
      send({
        type: 'stats',
        id: msg.id,
        services: gateway?.statsReport() ?? {},
        ...(gateway === null ? {} : { listeners: gateway.listenerCounters() }),
      });
      return;
    case 'shutdown':
      void shutdown('master asked');
      return;
    case 'retire':
      void retire();
      return;
  }
});

send({ type: 'booted' });

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGHUP', () => {});
// The master is gone (crashed or killed): keep serving until a new master is there, then leave.
process.on('disconnect', () => {
  limits?.disconnected();
  if (stopping) return;
  if (gateway === null || adminSocket === '') {
    void shutdown('master disconnected');
    return;
  }
  logger.warn('master gone; serving on until a new master takes over', { masterPid });
  const started = Date.now();
  const poll = async () => {
    if (stopping) return;
    const h = await healthz(adminSocket);
    // A new master still holding connections at a cold start accepts nothing yet: serve on meanwhile.
    if (h !== null && h.pid !== masterPid && h.ok && !h.holding) {
      // The new master's workers serve the same socket (it was inherited): retire gently.
      logger.info('new master took over', { pid: h.pid });
      void retire();
      return;
    }
    if (h !== null && h.pid !== masterPid && h.waitingForPort) {
      void shutdown(`new master ${h.pid} waits for the port`, undefined, true);
      return;
    }
    if (Date.now() - started > ORPHAN_MAX_MS) {
      void shutdown('master gone and no new master');
      return;
    }
    setTimeout(poll, 50);
  };
  void poll();
});

/** The admin /healthz of whatever master serves the admin socket now (null: none answers). */
interface MasterHealth {
  pid: number;
  ok: boolean;
  waitingForPort?: boolean;
  holding?: boolean;
}

function healthz(socketPath: string): Promise<MasterHealth | null> {
  return new Promise((resolve) => {
    const req = nodeHttp.get({ socketPath, path: '/healthz', agent: false, timeout: 1000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text) as MasterHealth);
        } catch {
          resolve(null);
        }
      });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}
process.on('uncaughtException', (err) => {
  logger.error('worker crashed', { error: err, stack: err.stack });
  process.exit(1);
});
