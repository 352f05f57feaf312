import { EventEmitter } from 'node:events';
import type { PeerRevisionStats } from '../analysis/gateway.ts';
import { diffConfig } from '../config/diff.ts';
import type { CutoverConfig, RunSpec, ServiceConfig } from '../config/types.ts';
import { finishedSummary } from '../core/analysis-summary.ts';
import { type ApplyResult, planApply } from '../core/apply.ts';
import { undoOrSwitchBack } from '../core/commands.ts';
import { startDrill } from '../core/drill.ts';
import type { Action, CoreEvent, DrillSetting, Rollout, ServiceState } from '../core/model.ts';
import { findRevision } from '../core/model.ts';
import { resumeServices } from '../core/resume.ts';
import { sameRollout } from '../core/rollout.ts';
import { type CommandResult, deploy, reconcileService } from '../core/service.ts';
import type { CertificateStatus } from '../gateway/master-certs.ts';
import type { StatsReport } from '../gateway/protocol.ts';
import type { Logger } from '../log/logger.ts';
import { noticeFromEvent } from '../notify/notice.ts';
import { Notifier } from '../notify/notifier.ts';
import type { InstanceStatus } from '../runtime/types.ts';
import type { Store, StoredEvent } from '../store/types.ts';
import type { HostAgent } from './agent.ts';
import { AnalysisFeed } from './analysis-feed.ts';
import { AnalysisRuns } from './analysis-runs.ts';
import { CertificateWatch } from './cert-watch.ts';
import { EjectionWatch } from './ejection-watch.ts';
import type { GatewayReload } from './gateway-client.ts';
import { HookRunner } from './hook-runner.ts';
import { InstanceLifecycle } from './instances.ts';
import type { RolloutChange, ServiceLedger } from './ledger.ts';
import { buildRoutes, routesKey } from './routes.ts';

/** Events that end a rollout (`onRolloutFinished`). */
const ROLLOUT_FINISHED = new Set<CoreEvent['type']>([
  'RolloutSucceeded',
  'RolloutFailed',
  'RolloutAborted',
  'DrillFinished',
]);
/** How often the controller reconciles even when nothing reported a change. */
const RECONCILE_INTERVAL_MS = 250;
/** How long a shutdown waits for webhooks still being sent. */
const NOTIFY_FLUSH_MS = 3_000;

/** The gateway's admin operations the control API offers (`cutover reload`). */
export interface GatewayAdmin {
  reload(master: boolean): Promise<GatewayReload>;
  certificates(): Promise<CertificateStatus[]>;
  renewCertificate(host: string): Promise<CertificateStatus>;
}

/**
 * The shell around the pure core: observes the host's instances, asks the core what to do,
 * stores the decision, then acts through the host's agent (instances, gateway routes).
 */
export class Controller implements ServiceLedger {
  private current: CutoverConfig;
  private readonly store: Store;
  private readonly agent: HostAgent;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly notifier?: Notifier;
  private readonly states = new Map<string, ServiceState>();
  private readonly fleet: InstanceLifecycle;
  private readonly hooks: HookRunner;
  private readonly analyses: AnalysisFeed;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private loaded = false;
  private stopped = false;
  private pushedKey = '';
  private pushing: Promise<void> = Promise.resolve();
  /** Emits `service` with a name when that service's state, events or instances changed. */
  private readonly changes = new EventEmitter();
  /** The gateway's certificates (with `gateway.tls`): events, notifications, status. */
  readonly certs: CertificateWatch | null;
  readonly ejections: EjectionWatch;
  /** Called after a rollout's outcome (succeeded, failed, aborted) was persisted. */
  onRolloutFinished?: (service: string) => void;
  /** Fleet mode: the other hosts' gateway counts of a service's rollout, summed into its analysis. */
  peerTraffic?: (service: string) => readonly PeerRevisionStats[];
  /** Analyses of finished rollouts, for /metrics. */
  readonly analysisRuns = new AnalysisRuns();
  /** Version of the last routing table every gateway worker applied (0: none yet). */
  routesVersion = 0;

  constructor(opts: {
    config: CutoverConfig;
    store: Store;
    agent: HostAgent;
    log: Logger;
    now?: () => number;
  }) {
    this.current = opts.config;
    this.store = opts.store;
    this.agent = opts.agent;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    if (opts.config.notifications?.length) {
      this.notifier = new Notifier(opts.config.notifications, opts.log.child({ component: 'notify' }));
    }
    this.certs =
      opts.config.gateway.tls === undefined
        ? null
        : new CertificateWatch({
            read: () => this.agent.certificates(),
            services: () => this.services(),
            tell: (events) => this.tell(events),
            log: opts.log.child({ component: 'certs' }),
          });
    this.ejections = new EjectionWatch({
      read: () => this.agent.trafficStats(),
      tell: (events) => this.tell(events),
      log: opts.log.child({ component: 'ejections' }),
    });
    const { agent, store, log, now } = this;
    this.fleet = new InstanceLifecycle({
      agent,
      store,
      log,
      now,
      dataDir: opts.config.control.dataDir,
      tell: (event) => this.tell([event]),
      publishRoutes: () => this.syncRoutes(),
      instanceChanged: (service) => {
        this.changes.emit('service', service);
        this.kick();
      },
      changed: () => this.kick(),
    });
    this.hooks = new HookRunner({
      ledger: this,
      log,
      now,
      service: (name) => this.service(name),
      instances: (service) => this.instances(service),
      isLeaving: (id) => this.isLeaving(id),
    });
    this.analyses = new AnalysisFeed({
      ledger: this,
      agent,
      log,
      now,
      peers: (service) => this.peerTraffic?.(service) ?? [],
    });
  }

  /**
   * Loads state, re-adopts the instances an earlier controller left running (probed, not assumed
   * healthy), publishes routes, then starts the reconcile loop. A rollout in progress resumes.
   */
  async start(): Promise<void> {
    this.load();
    await this.adoptInstances();
    await this.syncRoutes(true).catch(() => {});
    this.fleet.watch();
    this.timer = setInterval(() => this.kick(), RECONCILE_INTERVAL_MS);
    this.certs?.start();
    this.ejections.start();
    this.kick();
  }

  /** Loads the services' state (or creates revision 1 of each); idempotent, synchronous. */
  load(): void {
    if (this.loaded) return;
    this.loaded = true;
    const now = this.now();
    const plan = resumeServices(this.services(), this.store.loadServices(), now);
    for (const [name, state] of plan.states) this.states.set(name, state);
    for (const { service, revision } of plan.resumed)
      this.log.info('resuming rollout', { service, revision });
    this.record(plan.changed, plan.events, now);
  }

  /** Instances recorded by an earlier run: adopted when alive and of a known revision, else cleaned up. */
  private adoptInstances(): Promise<void> {
    return this.fleet.adopt((record) => {
      const svc = this.service(record.service);
      const state = this.states.get(record.service);
      const revision = state && findRevision(state, record.revision);
      return svc && revision ? { svc, revision } : undefined;
    });
  }

  /** The gateway master's admin API (`cutover reload` goes through it). */
  get gatewayAdmin(): GatewayAdmin {
    return {
      reload: (master) => this.agent.reloadGateway(master),
      certificates: () => this.agent.certificates(),
      renewCertificate: (host) => this.agent.renewCertificate(host),
    };
  }

  /** Rewrites the gateway's settings file from the config in effect (set by the composition root). */
  writeGatewaySettings?: (config: CutoverConfig) => void;

  /** After an apply that changed reloadable gateway settings: write them and reload the gateway. */
  async reloadGatewaySettings(): Promise<GatewayReload> {
    this.writeGatewaySettings?.(this.current);
    return this.agent.reloadGateway(false);
  }

  /** The config in effect (`apply` replaces the services part live). */
  get config(): CutoverConfig {
    return this.current;
  }

  /** `cutover apply` (see planApply): the caller validated `next`. */
  applyConfig(next: CutoverConfig, dryRun: boolean): ApplyResult {
    const now = this.now();
    const plan = planApply(this.current, next, diffConfig(this.current, next), this.states, now, dryRun);
    if (!plan.config) return plan.result;
    this.current = plan.config;
    for (const state of plan.states) this.states.set(state.name, state);
    for (const svc of plan.removed) {
      this.states.delete(svc.name);
      this.store.deleteService(svc.name);
      for (const instance of this.instances(svc.name)) this.fleet.drain(svc, instance.id, 'service removed');
      this.changes.emit('service', svc.name);
    }
    this.record(plan.states, plan.events, now);
    this.log.info('config applied', { changes: plan.result.changes.length });
    this.kick();
    return plan.result;
  }

  services(): ServiceConfig[] {
    return Object.values(this.config.services);
  }

  service(name: string): ServiceConfig | undefined {
    return this.config.services[name];
  }

  state(name: string): ServiceState | undefined {
    return this.states.get(name);
  }

  instances(service?: string): InstanceStatus[] {
    return this.fleet.list(service);
  }

  events(opts: { service?: string; limit?: number; afterId?: number }): StoredEvent[] {
    return this.store.events(opts);
  }

  /** Calls `listener` with a service's name whenever its status may have changed (the status stream); returns the unsubscribe. */
  onChange(listener: (service: string) => void): () => void {
    this.changes.on('service', listener);
    return () => this.changes.off('service', listener);
  }

  isLeaving(id: string): boolean {
    return this.fleet.isLeaving(id);
  }

  /** Persists states and events together, then tells the webhooks. */
  private record(states: ServiceState[], events: CoreEvent[], now: number): void {
    this.store.commit(states, events, now);
    for (const name of new Set([...states.map((s) => s.name), ...events.map((e) => e.service)]))
      this.changes.emit('service', name);
    for (const event of events) {
      const state = this.states.get(event.service);
      const version = event.revision && state ? findRevision(state, event.revision)?.version : undefined;
      const notice = noticeFromEvent(event, version);
      if (notice) this.notifier?.notify(notice);
      if (!ROLLOUT_FINISHED.has(event.type)) continue;
      const ended = finishedSummary(states.find((s) => s.name === event.service) ?? state, event);
      if (ended) this.analysisRuns.observe(event.service, ended.summary, ended.drill);
      this.onRolloutFinished?.(event.service);
    }
  }

  tell(events: CoreEvent[]): void {
    this.record([], events, this.now());
  }

  updateRollout(service: string, rollout: Rollout, change: (current: Rollout) => RolloutChange): void {
    const state = this.states.get(service);
    if (!state?.rollout || !sameRollout(state.rollout, rollout)) return;
    const changed = change(state.rollout);
    const next: ServiceState = { ...state, rollout: changed.rollout };
    this.states.set(service, next);
    this.record([next], changed.events, this.now());
    this.kick();
  }

  /** Schedules a reconcile; coalesces bursts of changes into one pass. */
  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    setImmediate(() => {
      this.reconcile()
        .catch((err: unknown) => this.log.error('reconcile failed', { err }))
        .finally(() => {
          this.running = false;
          if (this.again) {
            this.again = false;
            this.kick();
          }
        });
    });
  }

  private async reconcile(): Promise<void> {
    this.analyses.measure(this.services());
    const now = this.now();
    const changed: ServiceState[] = [];
    const events: CoreEvent[] = [];
    const actions: Action[] = [];
    for (const svc of this.services()) {
      const state = this.states.get(svc.name);
      if (!state) continue;
      const plan = reconcileService(svc, state, this.fleet.observe(svc.name), now);
      if (plan.state !== state) {
        this.states.set(svc.name, plan.state);
        changed.push(plan.state);
      }
      events.push(...plan.events);
      actions.push(...plan.actions);
    }
    // Write-ahead: what we decided is durable before we act on it.
    this.record(changed, events, now);
    for (const e of events)
      this.log.info(e.message, { event: e.type, service: e.service, revision: e.revision });
    for (const action of actions) this.act(action);
    await this.syncRoutes();
  }

  private act(action: Action): void {
    if (action.type === 'runHook') {
      this.hooks.run(action);
      return;
    }
    const svc = this.service(action.service);
    if (!svc) return;
    if (action.type === 'drain') {
      this.fleet.drain(svc, action.instance, action.reason);
      return;
    }
    const state = this.states.get(action.service);
    const revision = state && findRevision(state, action.revision);
    if (!revision) return;
    for (let k = 0; k < action.count; k++) this.fleet.start(svc, revision);
  }

  /** Pushes the routing table if it changed; serialized so tables arrive in order. */
  syncRoutes(force = false): Promise<void> {
    const next = this.pushing.then(async () => {
      const routes = buildRoutes(this.services(), this.states, this.agent.instances(), this.fleet.leavingIds);
      const key = routesKey(routes);
      if (!force && key === this.pushedKey) return;
      try {
        const version = await this.agent.pushRoutes(routes);
        this.pushedKey = key;
        this.routesVersion = version;
        this.log.debug('routes pushed', { version });
      } catch (err) {
        this.pushedKey = '';
        this.log.error('cannot push routes to gateway', { err });
        throw err;
      }
    });
    this.pushing = next.catch(() => {});
    return next;
  }

  /** Runs a pure command against a service's state; persists and applies it when accepted. */
  run(
    service: string,
    fn: (svc: ServiceConfig, s: ServiceState, now: number) => CommandResult,
  ): CommandResult {
    return this.command(service, (svc, s) => fn(svc, s, this.now()));
  }

  deploy(service: string, version: string, run?: RunSpec): CommandResult {
    return this.command(service, (svc, s) => deploy(svc, s, version, run ?? svc.run, this.now()));
  }

  /** The gateway's traffic counters now. */
  trafficStats(): Promise<StatsReport> {
    return this.agent.trafficStats();
  }

  drill(service: string, setting: DrillSetting): CommandResult {
    return this.command(service, (svc, s) => startDrill(svc, s, setting, this.now()));
  }

  undo(service: string, toRevision?: number): CommandResult {
    return this.command(service, (svc, s) => undoOrSwitchBack(svc, s, this.now(), toRevision));
  }

  private command(
    service: string,
    fn: (svc: ServiceConfig, s: ServiceState) => CommandResult,
  ): CommandResult {
    const svc = this.service(service);
    const state = this.states.get(service);
    if (!svc || !state) throw new Error(`unknown service "${service}"`);
    const result = fn(svc, state);
    if (result.ok) {
      this.record([result.state], result.events, this.now());
      this.states.set(service, result.state);
      for (const e of result.events)
        this.log.info(e.message, { event: e.type, service, revision: e.revision });
      this.kick();
    }
    return result;
  }

  /**
   * Stops the loop and every instance. Called after the gateway stopped accepting and finished its
   * in-flight requests, so instances are simply stopped (SIGTERM, then SIGKILL after stopTimeout).
   */
  async shutdown(keepRunning = false): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.certs?.stop();
    this.ejections.stop();
    await this.notifier?.flush(NOTIFY_FLUSH_MS);
    // keepRunning: the data plane stays up; the next `cutover up` adopts these instances.
    await this.fleet.shutdown(keepRunning, (service) => this.service(service)?.stopTimeoutMs);
  }
}
