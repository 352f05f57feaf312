import { trafficSample } from '../analysis/gateway.ts';
import { collectMeasurements } from '../analysis/measure.ts';
import type { CutoverConfig, RunSpec, ServiceConfig } from '../config/types.ts';
import { type ApplyResult, planApply } from '../core/apply.ts';
import { undoOrSwitchBack } from '../core/commands.ts';
import {
  type HookOutcome,
  hookFinished,
  hookStarted,
  hookWanted,
  postPromotionEvent,
} from '../core/hook-runs.ts';
import { measurementDue, recordMeasurements } from '../core/measure.ts';
import type { Action, CoreEvent, ObservedInstance, Rollout, ServiceState } from '../core/model.ts';
import { findRevision } from '../core/model.ts';
import { resumeServices } from '../core/resume.ts';
import { sameRollout } from '../core/rollout.ts';
import { type CommandResult, deploy, reconcileService } from '../core/service.ts';
import { runHook } from '../hooks/index.ts';
import type { Logger } from '../log/logger.ts';
import { Notifier, noticeFromEvent } from '../notify/index.ts';
import type { InstanceStatus } from '../runtime/types.ts';
import type { Store, StoredEvent } from '../store/types.ts';
import type { HostAgent } from './agent.ts';
import { awaitIdle } from './drain.ts';
import type { GatewayReload } from './gateway-client.ts';
import { instanceSpec, newInstanceId } from './instance-spec.ts';
import { buildRoutes, routesKey } from './routes.ts';

/** How often the controller reconciles even when nothing reported a change. */
const RECONCILE_INTERVAL_MS = 250;
/** How long a shutdown waits for webhooks still being sent. */
const NOTIFY_FLUSH_MS = 3_000;
/** Stop timeout of an instance whose service is no longer configured. */
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** The gateway's admin operations the control API offers (`cutover reload`). */
export interface GatewayAdmin {
  reload(master: boolean): Promise<GatewayReload>;
}

/**
 * The shell around the pure core: observes the host's instances, asks the core what to do,
 * stores the decision, then acts through the host's agent (instances, gateway routes).
 */
export class Controller {
  private current: CutoverConfig;
  private readonly store: Store;
  private readonly agent: HostAgent;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly notifier?: Notifier;
  private readonly states = new Map<string, ServiceState>();
  /** Instances out of the routing table on their way to being stopped. */
  private readonly leaving = new Set<string>();
  private readonly drains = new Map<string, Promise<void>>();
  /** Last pid written to the store per instance (re-written after a crash restart). */
  private readonly recorded = new Map<string, number>();
  /** Services with an analysis measurement in flight. */
  private readonly measuring = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private loaded = false;
  private stopped = false;
  private pushedKey = '';
  private pushing: Promise<void> = Promise.resolve();

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
  }

  /**
   * Loads state, re-adopts the instances an earlier controller left running (probed, not assumed
   * healthy), publishes routes, then starts the reconcile loop. A rollout in progress resumes.
   */
  async start(): Promise<void> {
    this.load();
    await this.adoptInstances();
    await this.syncRoutes(true).catch(() => {});
    this.agent.onInstanceChange((status) => {
      if (status.pid !== undefined && this.recorded.get(status.id) !== status.pid) {
        this.recorded.set(status.id, status.pid);
        this.store.putInstance({
          id: status.id,
          service: status.service,
          revision: status.revision,
          pid: status.pid,
          port: status.port,
          createdAt: status.createdAt,
        });
      }
      this.kick();
    });
    this.timer = setInterval(() => this.kick(), RECONCILE_INTERVAL_MS);
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

  /** Instances recorded by an earlier run: adopted when alive and still known, else cleaned up. */
  private async adoptInstances(): Promise<void> {
    await Promise.all(
      this.store.instances().map(async (record) => {
        const svc = this.service(record.service);
        const state = this.states.get(record.service);
        const revision = state && findRevision(state, record.revision);
        let adopted = false;
        if (svc && revision && record.pid) {
          const spec = instanceSpec(svc, revision, record.id, this.config.control.dataDir);
          const status = await this.agent.adoptInstance(spec, {
            pid: record.pid,
            port: record.port,
            createdAt: record.createdAt,
          });
          adopted = status !== undefined;
          if (status?.pid) this.recorded.set(record.id, status.pid);
        }
        if (!adopted) {
          if (record.pid) this.agent.killOrphan(record.pid);
          this.store.deleteInstance(record.id);
          this.log.info('forgot instance of an earlier run', {
            service: record.service,
            instance: record.id,
          });
        }
      }),
    );
  }

  /** The gateway master's admin API (`cutover reload` goes through it). */
  get gatewayAdmin(): GatewayAdmin {
    return { reload: (master) => this.agent.reloadGateway(master) };
  }

  /** The config in effect (`apply` replaces the services part live). */
  get config(): CutoverConfig {
    return this.current;
  }

  /** `cutover apply` (see planApply): the caller validated `next`. */
  applyConfig(next: CutoverConfig, dryRun: boolean): ApplyResult {
    const now = this.now();
    const plan = planApply(this.current, next, this.states, now, dryRun);
    if (!plan.config) return plan.result;
    this.current = plan.config;
    for (const state of plan.states) this.states.set(state.name, state);
    for (const svc of plan.removed) {
      this.states.delete(svc.name);
      this.store.deleteService(svc.name);
      for (const instance of this.instances(svc.name)) this.startDrain(svc, instance.id, 'service removed');
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
    return this.agent.instances().filter((i) => !service || i.service === service);
  }

  events(opts: { service?: string; limit?: number; afterId?: number }): StoredEvent[] {
    return this.store.events(opts);
  }

  isLeaving(id: string): boolean {
    return this.leaving.has(id);
  }

  /** Persists states and events together, then tells the webhooks. */
  private record(states: ServiceState[], events: CoreEvent[], now: number): void {
    this.store.commit(states, events, now);
    for (const event of events) {
      const version = event.revision
        ? this.states.get(event.service)?.revisions.find((r) => r.number === event.revision)?.version
        : undefined;
      const notice = noticeFromEvent(event, version);
      if (notice) this.notifier?.notify(notice);
    }
  }

  /** Replaces a service's rollout with `change(rollout)` if the same rollout still runs; persists. */
  private updateRollout(
    service: string,
    rollout: Rollout,
    change: (current: Rollout) => { rollout: Rollout; events: CoreEvent[] },
  ): void {
    const state = this.states.get(service);
    if (!state?.rollout || !sameRollout(state.rollout, rollout)) return;
    const changed = change(state.rollout);
    const next: ServiceState = { ...state, rollout: changed.rollout };
    this.states.set(service, next);
    this.record([next], changed.events, this.now());
    this.kick();
  }

  /**
   * Feeds due analyses with a measurement (what to measure: measurementDue). Runs beside the
   * reconcile loop, never blocks it; the pure core acts on the verdicts.
   */
  private measure(): void {
    const askedAt = this.now();
    for (const svc of this.services()) {
      const state = this.states.get(svc.name);
      const config = svc.analysis;
      if (!state?.rollout || !config || this.measuring.has(svc.name)) continue;
      const request = measurementDue(svc, state, askedAt);
      if (!request) continue;
      const rollout = state.rollout;
      this.measuring.add(svc.name);
      collectMeasurements(config, {
        vars: request.vars,
        traffic: async () =>
          trafficSample(await this.agent.trafficStats(), svc.name, request.revision, request.baseline, {
            mirror: request.mirror,
          }),
      })
        .then((measurements) => {
          const at = this.now();
          this.updateRollout(svc.name, rollout, (current) => ({
            rollout: recordMeasurements(config, current, measurements, askedAt, at),
            events: [],
          }));
        })
        .catch((err: unknown) => this.log.error('analysis measurement failed', { service: svc.name, err }))
        .finally(() => this.measuring.delete(svc.name));
    }
  }

  /** Runs a service's hook against a ready instance of `revision` (none before it has one). */
  private runServiceHook(
    svc: ServiceConfig,
    hook: Action & { type: 'runHook' },
    ready: (i: InstanceStatus) => boolean,
  ): Promise<HookOutcome> | undefined {
    const config = svc.hooks?.[hook.hook];
    if (!config) return undefined;
    const version =
      this.states.get(svc.name)?.revisions.find((r) => r.number === hook.revision)?.version ?? '';
    const target = this.instances(svc.name).find((i) => i.revision === hook.revision && ready(i));
    return runHook(config, {
      service: svc.name,
      revision: hook.revision,
      version,
      targetUrl: target ? `http://127.0.0.1:${target.port}` : undefined,
      cwd: svc.run.cwd,
      log: this.log.child({ service: svc.name, hook: hook.hook }),
    });
  }

  /**
   * A hook the core asked for. A gating hook's run and outcome are recorded in the rollout (the
   * core acts on them); postPromotion's outcome is an event, there is nothing left to abort.
   */
  private runHookAction(action: Action & { type: 'runHook' }): void {
    const { service, hook, revision } = action;
    const svc = this.service(service);
    if (!svc) return;
    if (hook === 'postPromotion') {
      this.runServiceHook(svc, action, (i) => i.ready)?.then(
        (outcome) => this.record([], [postPromotionEvent(service, revision, outcome)], this.now()),
        (err: unknown) => this.log.error('postPromotion hook failed to run', { service, err }),
      );
      return;
    }
    const rollout = this.states.get(service)?.rollout;
    if (!rollout || !svc.hooks?.[hook] || !hookWanted(rollout, hook, revision)) return;
    const startedAt = this.now();
    this.updateRollout(service, rollout, (current) => ({
      rollout: hookStarted(current, hook, startedAt),
      events: [],
    }));
    const running = this.runServiceHook(svc, action, (i) => i.ready && !this.leaving.has(i.id));
    running
      ?.catch(
        (err: unknown): HookOutcome => ({
          ok: false,
          output: '',
          durationMs: 0,
          error: (err as Error).message,
        }),
      )
      .then((outcome) => {
        const at = this.now();
        this.updateRollout(service, rollout, (current) => hookFinished(service, current, hook, outcome, at));
      });
  }

  /** Schedules a reconcile; coalesces bursts of changes into one pass. */
  kick(): void {
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

  private observe(service: string): ObservedInstance[] {
    return this.instances(service).map((i) => ({
      id: i.id,
      revision: i.revision,
      state: this.leaving.has(i.id) ? 'draining' : i.ready && i.phase === 'running' ? 'ready' : 'starting',
      readySince: i.readySince,
      restarts: i.restarts,
    }));
  }

  private async reconcile(): Promise<void> {
    this.measure();
    const now = this.now();
    const changed: ServiceState[] = [];
    const events: CoreEvent[] = [];
    const actions: Action[] = [];
    for (const svc of this.services()) {
      const state = this.states.get(svc.name);
      if (!state) continue;
      const plan = reconcileService(svc, state, this.observe(svc.name), now);
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
    if (action.type === 'start') {
      for (let k = 0; k < action.count; k++) this.startInstance(action.service, action.revision);
    } else if (action.type === 'runHook') {
      this.runHookAction(action);
    } else {
      const svc = this.service(action.service);
      if (svc) this.startDrain(svc, action.instance, action.reason);
    }
  }

  private startDrain(svc: ServiceConfig, id: string, reason: string): void {
    if (this.drains.has(id)) return;
    const drained = this.drain(svc, id, reason).finally(() => this.drains.delete(id));
    this.drains.set(id, drained);
  }

  private startInstance(service: string, revisionNumber: number): void {
    const svc = this.service(service);
    const state = this.states.get(service);
    const revision = state && findRevision(state, revisionNumber);
    if (!svc || !revision) return;
    const id = newInstanceId(service, revisionNumber);
    const status = this.agent.startInstance(instanceSpec(svc, revision, id, this.config.control.dataDir));
    if (status.pid) this.recorded.set(id, status.pid);
    this.store.putInstance({
      id,
      service,
      revision: revisionNumber,
      pid: status.pid,
      port: status.port,
      createdAt: status.createdAt,
    });
    this.log.info('instance started', { service, revision: revisionNumber, instance: id, port: status.port });
  }

  /**
   * Drain before signal: leave the routing table (acknowledged by every gateway worker), wait until
   * the gateway reports no request in flight (or drainTimeout), then SIGTERM, then SIGKILL.
   */
  private async drain(svc: ServiceConfig, id: string, reason: string): Promise<void> {
    const service = svc.name;
    this.leaving.add(id);
    const log = this.log.child({ service, instance: id });
    log.info('instance draining', { reason });
    this.record([], [{ service, type: 'InstanceDraining', message: `${id}: ${reason}` }], this.now());
    await this.syncRoutes();
    const inflight = await awaitIdle(this.agent, id, this.now() + svc.drainTimeoutMs, this.now, log);
    if (inflight > 0) log.warn('drain timeout; stopping with requests in flight', { inflight });
    await this.agent.stopInstance(id, svc.stopTimeoutMs);
    this.store.deleteInstance(id);
    this.recorded.delete(id);
    this.leaving.delete(id);
    log.info('instance stopped');
    this.kick();
  }

  /** Pushes the routing table if it changed; serialized so tables arrive in order. */
  syncRoutes(force = false): Promise<void> {
    const next = this.pushing.then(async () => {
      const routes = buildRoutes(this.services(), this.states, this.agent.instances(), this.leaving);
      const key = routesKey(routes);
      if (!force && key === this.pushedKey) return;
      try {
        const version = await this.agent.pushRoutes(routes);
        this.pushedKey = key;
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
    await this.notifier?.flush(NOTIFY_FLUSH_MS);
    if (keepRunning) {
      // The data plane stays up; the next `cutover up` adopts these instances.
      this.agent.detach();
      return;
    }
    await Promise.allSettled([...this.drains.values()]);
    await Promise.allSettled(
      this.agent.instances().map(async (i) => {
        await this.agent.stopInstance(
          i.id,
          this.service(i.service)?.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
        );
        this.store.deleteInstance(i.id);
      }),
    );
  }
}
