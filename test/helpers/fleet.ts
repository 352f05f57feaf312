/**
 * A fleet on one machine: a real etcd cluster, N hosts as separate `cutover up` processes on
 * their own loopback addresses (127.0.0.2, .3 ...), and a real HAProxy in front of their
 * gateways with health checks on the gateways' health endpoint.
 */
import { writeFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { freePort } from '../../src/runtime/ports.ts';
import { Cluster, type ClusterOptions, ROOT } from './cluster.ts';
import { type EtcdCluster, startEtcdCluster } from './etcd.ts';
import { type RunningHaproxy, startHaproxy } from './haproxy.ts';

/** Bound of a host's start and first healthy service: generous, a fleet on a loaded 2-core machine starts slowly. */
const STARTUP_BOUND_MS = 90_000;

export interface FleetOptions {
  hosts?: number;
  replicas?: number;
  /** The strategy of `web`, YAML flow map. */
  strategy?: string;
  /** Extra keys of service `web`, YAML lines indented by 4 spaces. */
  serviceYaml?: string;
  /** Extra keys of `cluster`, YAML lines indented by 2 spaces. */
  clusterYaml?: string;
  leaseTtl?: string;
  /** etcd endpoints of host `i` (default: every member); e.g. through a proxy the test can cut. */
  endpointsOf?: (i: number, etcd: EtcdCluster) => string[] | Promise<string[]>;
}

/** One host of the fleet: a `cutover up` with a `cluster:` section. */
export class FleetHost extends Cluster {
  readonly name: string;
  private readonly fleetConfig: () => string;
  endpoints: string[] = [];

  constructor(name: string, bindHost: string, fleetConfig: () => string) {
    super();
    this.name = name;
    this.bindHost = bindHost;
    this.fleetConfig = fleetConfig;
  }

  override async writeConfig(): Promise<void> {
    this.gatewayPort ||= await freePort(this.bindHost);
    this.controlPort ||= await freePort(this.bindHost);
    writeFileSync(
      this.configFile,
      this.fleetConfig()
        .replaceAll('@ENDPOINTS@', this.endpoints.join(', '))
        .replaceAll('@HOST@', this.name)
        .replaceAll('@ADDR@', this.bindHost)
        .replaceAll('@GATEWAY_PORT@', String(this.gatewayPort))
        .replaceAll('@CONTROL_PORT@', String(this.controlPort)),
    );
  }

  /** Starts `cutover up`; resolves once its control API answers. */
  async start(): Promise<void> {
    await this.writeConfig();
    await this.launch();
    await this.waitFor(
      async () => (await this.api('GET', '/healthz', undefined, null)).status === 200,
      STARTUP_BOUND_MS,
      `host ${this.name} up`,
    );
  }

  /** Starts it again on the same ports and data dir (after a kill). */
  async startAgain(): Promise<void> {
    await this.launch();
    await this.waitFor(
      async () => (await this.api('GET', '/healthz', undefined, null)).status === 200,
      STARTUP_BOUND_MS,
      `host ${this.name} back`,
    );
  }

  override async up(_o?: ClusterOptions): Promise<void> {
    await this.start();
  }
}

export interface FleetViewLike {
  leader: string | null;
  hosts: Array<{
    name: string;
    live: boolean;
    drained: boolean;
    report?: {
      drained: boolean;
      services: Record<
        string,
        { stable: { version: string }; outcome: string; generation: number; ready: number; total: number }
      >;
    };
  }>;
  services: Array<{
    name: string;
    desired: { version: string };
    generation: number;
    rollout?: { phase: string; wave: string[]; done: string[]; message: string };
    lastRollout?: { phase: string; reason?: string; message: string };
  }>;
}

export class Fleet {
  etcd!: EtcdCluster;
  haproxy!: RunningHaproxy;
  hosts: FleetHost[] = [];
  private readonly opts: FleetOptions;

  constructor(opts: FleetOptions = {}) {
    this.opts = opts;
  }

  config(): string {
    const o = this.opts;
    return `cluster:
  etcd: { endpoints: [@ENDPOINTS@] }
  host: @HOST@
  advertise: @ADDR@
  leaseTtl: ${o.leaseTtl ?? '2s'}
${o.clusterYaml ?? ''}gateway:
  listen: @ADDR@:@GATEWAY_PORT@
  workers: 1
  # Above HAProxy's server timeout: HAProxy, not the gateway, closes idle keep-alive connections.
  clientIdleTimeout: 60s
control:
  listen: @ADDR@:@CONTROL_PORT@
  dataDir: ./data
services:
  web:
    route: { host: "*", pathPrefix: / }
    version: v1
    replicas: ${o.replicas ?? 2}
    run:
      command: "${process.execPath} ${ROOT}examples/releases/\${VERSION}/server.mjs --port \${PORT}"
      # The same path on every host, as in a real fleet (a relative cwd would differ per test host).
      cwd: ${ROOT}
      env: { APP_VERSION: "\${VERSION}" }
    # Quick to become ready, slow to be taken out: two missed probes of 200 ms (a loaded CI machine) took
    # a host's only instance out of its table (503 "no ready instance" beside the test's own faults); now
    # it takes a second of misses. An instance that exits is noticed at once either way.
    readiness: { path: /ready, interval: 200ms, timeout: 200ms, successThreshold: 1, failureThreshold: 5 }
    drainTimeout: 30s
    stopTimeout: 5s
    restartBackoff: 200ms
    restartBackoffMax: 1s
    strategy: ${o.strategy ?? '{ type: rolling, hostsAtOnce: 1, maxSurge: 1, maxUnavailable: 0, progressDeadline: 10s }'}
${o.serviceYaml ?? ''}`;
  }

  /** etcd, every host, HAProxy; resolves once every host's `web` is Healthy and HAProxy sees every gateway UP. */
  async start(t: TestContext): Promise<void> {
    await this.startHosts();
    await this.startFront(t);
  }

  /** etcd and every host, until each host's `web` is Healthy and a leader is elected. */
  async startHosts(): Promise<void> {
    this.etcd = await startEtcdCluster({ members: 3 });
    const n = this.opts.hosts ?? 3;
    for (let i = 0; i < n; i++) {
      const h = new FleetHost(`web-${i + 1}`, `127.0.0.${i + 2}`, () => this.config());
      h.endpoints = (await this.opts.endpointsOf?.(i, this.etcd)) ?? this.etcd.endpoints;
      this.hosts.push(h);
    }
    await Promise.all(this.hosts.map((h) => h.start()));
    await this.waitFor(async () => {
      const v = await this.view();
      return v.hosts.filter((h) => h.live).length === n && v.leader !== null;
    }, 'every host live and a leader');
    for (const h of this.hosts) {
      await h.waitFor(
        async () => (await h.status()).phase === 'Healthy',
        STARTUP_BOUND_MS,
        `web healthy on ${h.name}`,
      );
    }
  }

  /** HAProxy in front of every gateway, health-checking `/_cutover/health`. */
  async startFront(t: TestContext): Promise<void> {
    this.haproxy = await startHaproxy(t, {
      backends: this.hosts.map((h) => ({ name: h.name, host: h.bindHost, port: h.gatewayPort })),
      healthPath: '/_cutover/health',
      interMs: 200,
      fall: 2,
      rise: 2,
      redispatch: true,
    });
    await this.waitFor(async () => {
      const s = await this.haproxy.serverStates();
      return this.hosts.every((h) => s[h.name] === 'UP');
    }, 'HAProxy sees every gateway UP');
  }

  /** The fleet as host `via` sees it. */
  async view(via: FleetHost = this.hosts[0]): Promise<FleetViewLike> {
    const r = await via.api<FleetViewLike>('GET', '/v1/fleet');
    if (r.status !== 200)
      throw new Error(`GET /v1/fleet on ${via.name}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  service(v: FleetViewLike, name = 'web'): FleetViewLike['services'][number] | undefined {
    return v.services.find((s) => s.name === name);
  }

  async waitFor(fn: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
    const first = this.hosts.find((h) => h.upExit !== undefined) ?? this.hosts[0];
    await first.waitFor(fn, timeoutMs, what);
  }

  leaderHost(v: FleetViewLike): FleetHost {
    const h = this.hosts.find((x) => x.name === v.leader);
    if (!h) throw new Error(`no leader in ${JSON.stringify(v)}`);
    return h;
  }

  /** Kills every process of every host, HAProxy and etcd; removes their directories. */
  async destroy(): Promise<void> {
    for (const h of this.hosts) h.destroy();
    await this.etcd?.stop();
  }
}
