/** Messages between the gateway master and its workers (Node IPC, JSON serialization). */
import type { ServingState } from './health.ts';
import type { ConnGrant, LimitAsk, RateGrant } from './limit-source.ts';
import type {
  CertificateMaterial,
  GatewaySettings,
  ListenerCounters,
  RouteTable,
  ServiceStats,
} from './protocol.ts';

export type MasterToWorker =
  /**
   * Sent with the listening handle as the second argument of `child.send`. `masterPid` lets a worker
   * whose master died recognise the master that replaces it (see worker.ts, orphan mode). `accept` false:
   * a cold start holds connections in the backlog; the worker accepts once it gets `accept`.
   */
  | {
      type: 'init';
      settings: GatewaySettings;
      table: RouteTable;
      generation: number;
      masterPid: number;
      accept: boolean;
      /** With `settings.tls`: the certificates in force (PEM). */
      certs?: CertificateMaterial[];
      /** Whether the health check passes (admin `PUT /serving`), known before the worker accepts. */
      serving: ServingState;
    }
  /**
   * Sent with the TLS listening handle (`settings.tls`) right before `init` and `accept`: one handle per
   * message is all Node's IPC carries.
   */
  | { type: 'tls-listener' }
  /** A new certificate set (ACME issued or renewed one, files reloaded): used by the next handshake. */
  | { type: 'certs'; id: number; certs: CertificateMaterial[] }
  /** ACME HTTP-01 tokens the plain listener answers (`/.well-known/acme-challenge/TOKEN`), the whole set. */
  | { type: 'challenges'; id: number; tokens: Record<string, string> }
  /** The health check passes or fails from now on (admin `PUT /serving`); answered with `done`. */
  | { type: 'serving'; id: number; state: ServingState }
  /** Start accepting (the cold start is over); sent with the listening handle again. */
  | { type: 'accept' }
  | { type: 'routes'; id: number; table: RouteTable }
  /** Tokens of a `limits.rate` bucket for a worker's `rate-take`; a connection slot for `conn-take`. */
  | RateGrant
  | ConnGrant
  | { type: 'inflight'; id: number }
  | { type: 'stats'; id: number }
  /** Stop accepting, drain, exit (the master stops). */
  | { type: 'shutdown' }
  /** Same, because a newer generation of workers (or a new master) took over the socket. */
  | { type: 'retire' };

export type WorkerToMaster =
  /** Code loaded, waiting for `init`. */
  | { type: 'booted' }
  | { type: 'listening' }
  /** Has its table; does not accept yet (cold start, see `accept` in init). */
  | { type: 'held' }
  | { type: 'ack'; id: number; version: number }
  /** Reply to `certs` / `challenges` / `serving`. */
  | { type: 'done'; id: number }
  /** A TLS handshake named a host no certificate covers (ACME may get one on demand). */
  | { type: 'cert-wanted'; host: string }
  | { type: 'inflight'; id: number; instances: Record<string, number> }
  /**
   * A worker needs tokens of a `limits.rate` bucket or gives back tokens it did not spend; takes or
   * releases a `limits.maxConnectionsPerClient` slot.
   */
  | LimitAsk
  | { type: 'stats'; id: number; services: Record<string, ServiceStats>; listeners?: ListenerCounters };

/**
 * Between an old master and the new master it re-executed (`POST /reload?master=1`, SIGUSR2). The new
 * master inherits the listening socket as fd `CUTOVER_LISTEN_FD` and this IPC channel (`CUTOVER_TAKEOVER=1`).
 */
export type OldMasterToNew =
  /** A route table the old master applied after the new one was started (the new one applies it too). */
  | { type: 'routes'; table: RouteTable }
  /** Likewise a serving state (admin `PUT /serving`). */
  | { type: 'serving'; state: ServingState };

export type NewMasterToOld =
  /** The new master's workers listen on the inherited socket and it serves the admin socket. */
  { type: 'ready'; pid: number; workers: number };
