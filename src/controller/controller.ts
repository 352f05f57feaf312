import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { trafficSample } from '../analysis/gateway.ts';
import { collectMeasurements } from '../analysis/providers/measure.ts';
import { type AnalysisState, analysisDue, stepAnalysis } from '../analysis/run.ts';
import { type ConfigChange, diffConfig } from '../config/diff.ts';
import { substituteRun } from '../config/template.ts';
import type { CutoverConfig, RunSpec, ServiceConfig } from '../config/types.ts';
import { undoOrSwitchBack } from '../core/commands.ts';
import type { Action, CoreEvent, ObservedInstance, Revision, Rollout, ServiceState } from '../core/model.ts';
import { findRevision } from '../core/model.ts';
import { type CommandResult, deploy, initialServiceState, reconcileService } from '../core/service.ts';
import { type HookResult, runHook } from '../hooks/run.ts';
import type { Logger } from '../log/logger.ts';
import { Notifier, noticeFromEvent } from '../notify/notifier.ts';
import { killProcessGroupsSync, type Supervisor } from '../runtime/supervisor.ts';
import type { InstanceSpec, InstanceStatus } from '../runtime/types.ts';
import type { Store, StoredEvent } from '../store/store.ts';
import type { GatewayClient } from './gateway-client.ts';
import { buildRoutes, routesKey } from './routes.ts';

/** Outcome of `applyConfig`. */
export type ApplyResult =
  | { ok: true; applied: boolean; changes: ConfigChange[] }
  | { ok: false; code: 'rollout_in_progress'; message: string; changes: ConfigChange[] };

/** Events that end a rollout (`onRolloutFinished`). */
const ROLLOUT_FINISHED = new Set<CoreEvent['type']>(['RolloutSucceeded', 'RolloutFailed', 'RolloutAborted']);
/** How often the controller reconciles even when nothing reported a change. */
const RECONCILE_INTERVAL_MS = 250;
/** How often a draining instance's in-flight count is read from the gateway. */
const DRAIN_POLL_MS = 50;

/** Observes instances, asks the pure core what to do, persists, then acts (supervisor + gateway). */
export class Controller {
  private current: CutoverConfig;
  private readonly store: Store;
  private readonly supervisor: Supervisor;
  private readonly gateway: GatewayClient;
  private readonly log: Logger;
  private readonly states = new Map<string, ServiceState>();
  /** Instances out of the routing table on their way to being stopped. */
  private readonly leaving = new Set<string>();
  private readonly drains = new Map<string, Promise<void>>();
  /** Last pid written to the store per instance (re-written after a crash restart). */
  private readonly recorded = new Map<string, number>();
  /** Services with an analysis measurement in flight. */
  private readonly measuring = new Set<string>();
  private readonly notifier?: Notifier;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private pushedKey = '';
  private pushing: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly now: () => number;
  /** Emits `service` with a name when that service's state, events or instances changed. */
  private readonly changes = new EventEmitter();
  /** Called after a rollout's outcome (succeeded, failed, aborted) was persisted. */
  onRolloutFinished?: (service: string) => void;

  constructor(opts: {
    config: CutoverConfig;
    store: Store;
    supervisor: Supervisor;
    gateway: GatewayClient;
    log: Logger;
    now?: () => number;
  }) {
    this.current = opts.config;
    this.store = opts.store;
    this.supervisor = opts.supervisor;
    this.gateway = opts.gateway;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    if (opts.config.notifications?.length) {
      this.notifier = new Notifier(opts.config.notifications, opts.log.child({ component: 'notify' }));
    }
  }

  /**
   * Loads state (or creates revision 1 of each service), re-adopts the instances an earlier
   * controller left running (probed, not assumed healthy), publishes routes, then starts the
   * reconcile loop. A rollout in progress resumes where it was.
   */
  async start(): Promise<void> {
    this.load();
    await this.adoptInstances();
    await this.syncRoutes(true).catch(() => {});
    this.supervisor.on('change', (st) => {
      const rec = this.recorded.get(st.id);
      if (st.pid !== undefined && rec !== st.pid) {
        this.recorded.set(st.id, st.pid);
        this.store.putInstance({
          id: st.id,
          service: st.service,
          revision: st.revision,
          pid: st.pid,
          port: st.port,
          createdAt: st.createdAt,
        });
      }
      this.changes.emit('service', st.service);
      this.kick();
    });
    this.timer = setInterval(() => this.kick(), RECONCILE_INTERVAL_MS);
    this.kick();
  }

  private loaded = false;

  /** Loads the services' state (or creates revision 1 of each); idempotent, synchronous. */
  load(): void {
    if (this.loaded) return;
    this.loaded = true;
    const stored = this.store.loadServices();
    const changed: ServiceState[] = [];
    const events: CoreEvent[] = [];
    const now = this.now();
    for (const svc of this.services()) {
      let s = stored.get(svc.name);
      if (!s) {
        s = initialServiceState(svc.name, svc.version, svc.run, now);
        changed.push(s);
        events.push({ service: svc.name, type: 'RolloutStarted', revision: 1, message: 'first revision' });
      } else if (s.rollout) {
        // Time the controller was down is not the new revision's fault; a hook that was running
        // died with the old controller and runs again (hooks must be idempotent).
        const hooks = Object.fromEntries(
          Object.entries(s.rollout.hooks ?? {}).filter(([, h]) => h?.status !== 'running'),
        );
        s = { ...s, rollout: { ...s.rollout, lastProgressAt: now, hooks } };
        changed.push(s);
        this.log.info('resuming rollout', { service: svc.name, revision: s.rollout?.to });
      }
      this.states.set(svc.name, s);
    }
    this.record(changed, events, now);
  }

  /** Instances recorded by an earlier run: adopted when alive and still known, else cleaned up. */
  private async adoptInstances(): Promise<void> {
    await Promise.all(
      this.store.instances().map(async (rec) => {
        const svc = this.service(rec.service);
        const state = this.states.get(rec.service);
        const revision = state && findRevision(state, rec.revision);
        let adopted = false;
        if (svc && revision && rec.pid) {
          const st = await this.supervisor.adopt(this.instanceSpec(svc, revision, rec.id), {
            pid: rec.pid,
            port: rec.port,
            createdAt: rec.createdAt,
          });
          adopted = st !== undefined;
          if (st?.pid) this.recorded.set(rec.id, st.pid);
        }
        if (!adopted) {
          if (rec.pid) killProcessGroupsSync([rec.pid]);
          this.store.deleteInstance(rec.id);
          this.log.info('forgot instance of an earlier run', { service: rec.service, instance: rec.id });
        }
      }),
    );
  }

  /** The config in effect (`apply` replaces the services part live). */
  /** The gateway master's admin API (`cutover reload` goes through it). */
  get gatewayAdmin(): GatewayClient {
    return this.gateway;
  }

  get config(): CutoverConfig {
    return this.current;
  }

  /**
   * `cutover apply`: validates nothing (the caller did), diffs against the config in effect and
   * applies what can be applied live: route, traffic, probe, replica and timeout changes at the
   * next reconcile; a changed version or run template becomes a new revision rolled out with the
   * service's strategy; added services start, removed ones are drained and stopped. Gateway and
   * control settings need a restart and are reported, not applied. All or nothing: a new
   * revision for a service that is mid-rollout refuses the whole apply.
   */
  applyConfig(next: CutoverConfig, dryRun: boolean): ApplyResult {
    const changes = diffConfig(this.current, next);
    const revised = [
      ...new Set(changes.filter((c) => c.effect === 'new-revision').map((c) => c.path.split('.')[1] ?? '')),
    ];
    const busy = revised.filter((n) => this.states.get(n)?.rollout);
    if (busy.length > 0) {
      return {
        ok: false,
        code: 'rollout_in_progress',
        message: `service ${busy.map((n) => `"${n}"`).join(', ')} is rolling out; apply again when it has finished (nothing was changed)`,
        changes,
      };
    }
    if (dryRun || changes.length === 0) return { ok: true, applied: false, changes };
    const now = this.now();
    const previous = this.current;
    this.current = { ...next, gateway: previous.gateway, control: previous.control };
    const changed: ServiceState[] = [];
    const events: CoreEvent[] = [];
    for (const c of changes) {
      const name = c.path.split('.')[1] ?? '';
      if (c.effect === 'added') {
        const svc = next.services[name];
        const s = initialServiceState(name, svc.version, svc.run, now);
        this.states.set(name, s);
        changed.push(s);
        events.push({
          service: name,
          type: 'RolloutStarted',
          revision: 1,
          message: 'service added by apply',
        });
      } else if (c.effect === 'removed') {
        const svc = previous.services[name];
        this.states.delete(name);
        this.store.deleteService(name);
        for (const i of this.instances(name)) this.startDrain(svc, i.id, 'service removed');
      }
    }
    for (const name of revised) {
      const svc = next.services[name];
      const state = this.states.get(name);
      if (!svc || !state) continue;
      const r = deploy(svc, state, svc.version, svc.run, now, 'deploy', 'from apply');
      if (r.ok) {
        this.states.set(name, r.state);
        changed.push(r.state);
        events.push(...r.events);
      }
    }
    for (const name of new Set(changes.map((c) => c.path.split('.')[1] ?? ''))) {
      if (name && this.current.services[name]) {
        events.push({
          service: name,
          type: 'ConfigApplied',
          message: `config applied (${changes.filter((c) => c.path.split('.')[1] === name).length} changes)`,
        });
      }
    }
    this.record(changed, events, now);
    this.log.info('config applied', { changes: changes.length });
    this.kick();
    return { ok: true, applied: true, changes };
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
    return this.supervisor.list().filter((i) => !service || i.service === service);
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
    return this.leaving.has(id);
  }

  /** Persists states and events together, then tells the webhooks. */
  private record(states: ServiceState[], events: CoreEvent[], now: number): void {
    this.store.commit(states, events, now);
    for (const name of new Set([...states.map((s) => s.name), ...events.map((e) => e.service)]))
      this.changes.emit('service', name);
    for (const e of events) {
      const version = e.revision
        ? this.states.get(e.service)?.revisions.find((r) => r.number === e.revision)?.version
        : undefined;
      const notice = noticeFromEvent(e, version);
      if (notice) this.notifier?.notify(notice);
      if (e.type === 'RolloutSucceeded') this.runPostPromotion(e.service, e.revision);
      if (ROLLOUT_FINISHED.has(e.type)) this.onRolloutFinished?.(e.service);
    }
  }

  /** Replaces a service's state with `fn(state)` if the same rollout is still running; persists. */
  private updateRollout(
    service: string,
    rollout: Rollout,
    fn: (r: Rollout) => Rollout,
    events: CoreEvent[] = [],
  ): void {
    const cur = this.states.get(service);
    const cr = cur?.rollout;
    if (!cur || !cr || cr.to !== rollout.to || cr.startedAt !== rollout.startedAt) return;
    const next: ServiceState = { ...cur, rollout: fn(cr) };
    this.states.set(service, next);
    this.record([next], events, this.now());
    this.kick();
  }

  /**
   * Feeds due analyses with a measurement: gateway counters of the judged revision and its
   * baseline (same window), plus provider queries. Runs beside the reconcile loop, never blocks
   * it; the pure core acts on the verdicts.
   */
  private measure(): void {
    const now = this.now();
    for (const svc of this.services()) {
      const state = this.states.get(svc.name);
      const r = state?.rollout;
      const cfg = svc.analysis;
      if (!state || !r || !cfg || this.measuring.has(svc.name)) continue;
      const due = (a?: AnalysisState) => a !== undefined && a.phase === 'Running' && analysisDue(a, now);
      if (!due(r.analysis) && !due(r.stepAnalysis)) continue;
      const bg = svc.strategy.type === 'blueGreen';
      const post = bg && r.analysisStage === 'post';
      const mirror = svc.strategy.type === 'canary' && (r.canaryWeight ?? 0) === 0 && r.mirror !== undefined;
      const version = state.revisions.find((x) => x.number === r.to)?.version ?? '';
      const vars = {
        service: svc.name,
        revision: String(r.to),
        version,
        role: bg ? (post ? 'stable' : 'preview') : 'canary',
      };
      this.measuring.add(svc.name);
      collectMeasurements(cfg, {
        vars,
        traffic: async () =>
          trafficSample(await this.gateway.stats(), svc.name, r.to, post ? undefined : state.stable, {
            mirror,
          }),
      })
        .then((m) => {
          const at = this.now();
          this.updateRollout(svc.name, r, (cr) => ({
            ...cr,
            analysis: cr.analysis && due(cr.analysis) ? stepAnalysis(cfg, cr.analysis, m, at) : cr.analysis,
            stepAnalysis:
              cr.stepAnalysis && due(cr.stepAnalysis)
                ? stepAnalysis(cfg, cr.stepAnalysis, m, at)
                : cr.stepAnalysis,
          }));
        })
        .catch((err: unknown) => this.log.error('analysis measurement failed', { service: svc.name, err }))
        .finally(() => this.measuring.delete(svc.name));
    }
  }

  /** Runs a gating hook for a rollout and records its outcome in the rollout (the core acts on it). */
  private runGateHook(service: string, hook: 'preRollout' | 'prePromotion', revision: number): void {
    const svc = this.service(service);
    const state = this.states.get(service);
    const r = state?.rollout;
    const cfg = svc?.hooks?.[hook];
    if (!svc || !state || !r || !cfg || r.to !== revision || r.hooks?.[hook]) return;
    const started = this.now();
    this.updateRollout(service, r, (cr) => ({
      ...cr,
      hooks: { ...cr.hooks, [hook]: { status: 'running', at: started } },
    }));
    const version = state.revisions.find((x) => x.number === revision)?.version ?? '';
    const target = this.instances(service).find(
      (i) => i.revision === revision && i.ready && !this.leaving.has(i.id),
    );
    runHook(cfg, {
      service,
      revision,
      version,
      targetUrl: target ? `http://127.0.0.1:${target.port}` : undefined,
      cwd: svc.run.cwd,
      log: this.log.child({ service, hook }),
    })
      .catch(
        (err: unknown): HookResult => ({
          ok: false,
          output: '',
          durationMs: 0,
          error: (err as Error).message,
        }),
      )
      .then((res) => {
        const at = this.now();
        const message = `${hook} hook ${res.ok ? 'succeeded' : `failed: ${res.error ?? ''}`} (${res.durationMs} ms)${res.output ? `\n${res.output}` : ''}`;
        this.updateRollout(
          service,
          r,
          (cr) => ({
            ...cr,
            hooks: {
              ...cr.hooks,
              [hook]: { status: res.ok ? 'ok' : 'failed', error: res.error, output: res.output, at },
            },
          }),
          [{ service, type: res.ok ? 'HookSucceeded' : 'HookFailed', revision, message }],
        );
      });
  }

  /** postPromotion: runs after a rollout succeeded; its outcome is recorded, there is nothing left to abort. */
  private runPostPromotion(service: string, revision: number | undefined): void {
    const svc = this.service(service);
    const cfg = svc?.hooks?.postPromotion;
    if (!svc || !cfg || revision === undefined) return;
    const version = this.states.get(service)?.revisions.find((x) => x.number === revision)?.version ?? '';
    const target = this.instances(service).find((i) => i.revision === revision && i.ready);
    void runHook(cfg, {
      service,
      revision,
      version,
      targetUrl: target ? `http://127.0.0.1:${target.port}` : undefined,
      cwd: svc.run.cwd,
      log: this.log.child({ service, hook: 'postPromotion' }),
    }).then(
      (res) =>
        this.record(
          [],
          [
            {
              service,
              type: res.ok ? 'HookSucceeded' : 'HookFailed',
              revision,
              message: `postPromotion hook ${res.ok ? 'succeeded' : `failed: ${res.error ?? ''}`}${res.output ? `\n${res.output}` : ''}`,
            },
          ],
          this.now(),
        ),
      (err: unknown) => this.log.error('postPromotion hook failed to run', { service, err }),
    );
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
    for (const a of actions) this.apply(a);
    await this.syncRoutes();
  }

  private apply(a: Action): void {
    if (a.type === 'start') {
      for (let k = 0; k < a.count; k++) this.startInstance(a.service, a.revision);
    } else if (a.type === 'runHook') {
      this.runGateHook(a.service, a.hook, a.revision);
    } else {
      const svc = this.service(a.service);
      if (svc) this.startDrain(svc, a.instance, a.reason);
    }
  }

  private instanceSpec(svc: ServiceConfig, revision: Revision, id: string): InstanceSpec {
    const run = substituteRun(revision.run, {
      VERSION: revision.version,
      SERVICE: svc.name,
      REVISION: String(revision.number),
    });
    return {
      id,
      service: svc.name,
      revision: revision.number,
      version: revision.version,
      run,
      readiness: svc.readiness,
      liveness: svc.liveness,
      logFile: path.join(this.config.control.dataDir, 'logs', svc.name, `${id}.log`),
      logMaxBytes: svc.logMaxBytes,
      restartBackoffMs: svc.restartBackoffMs,
      restartBackoffMaxMs: svc.restartBackoffMaxMs,
      stopTimeoutMs: svc.stopTimeoutMs,
    };
  }

  private startDrain(svc: ServiceConfig, id: string, reason: string): void {
    if (this.drains.has(id)) return;
    const p = this.drain(svc, id, reason).finally(() => this.drains.delete(id));
    this.drains.set(id, p);
  }

  private startInstance(service: string, revisionNumber: number): void {
    const svc = this.service(service);
    const state = this.states.get(service);
    const revision = state && findRevision(state, revisionNumber);
    if (!svc || !revision) return;
    const id = `${service}-${revisionNumber}-${randomBytes(3).toString('hex')}`;
    const status = this.supervisor.start(this.instanceSpec(svc, revision, id));
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
    const deadline = this.now() + svc.drainTimeoutMs;
    let inflight = 0;
    while (this.now() < deadline) {
      try {
        inflight = (await this.gateway.inflight())[id] ?? 0;
      } catch (err) {
        log.warn('cannot read in-flight count from gateway', { err });
      }
      if (inflight === 0) break;
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    if (inflight > 0) log.warn('drain timeout; stopping with requests in flight', { inflight });
    await this.supervisor.stop(id, svc.stopTimeoutMs);
    this.store.deleteInstance(id);
    this.recorded.delete(id);
    this.leaving.delete(id);
    log.info('instance stopped');
    this.kick();
  }

  /** Pushes the routing table if it changed; serialized so tables arrive in order. */
  syncRoutes(force = false): Promise<void> {
    const next = this.pushing.then(async () => {
      const routes = buildRoutes(this.services(), this.states, this.supervisor.list(), this.leaving);
      const key = routesKey(routes);
      if (!force && key === this.pushedKey) return;
      try {
        const version = await this.gateway.putRoutes(routes);
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
    const r = fn(svc, state);
    if (r.ok) {
      this.record([r.state], r.events, this.now());
      this.states.set(service, r.state);
      for (const e of r.events) this.log.info(e.message, { event: e.type, service, revision: e.revision });
      this.kick();
    }
    return r;
  }

  /**
   * Stops the loop and every instance. Called after the gateway stopped accepting and finished its
   * in-flight requests, so instances are simply stopped (SIGTERM, then SIGKILL after stopTimeout).
   */
  async shutdown(keepRunning = false): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.notifier?.flush(3_000);
    if (keepRunning) {
      // The data plane stays up; the next `cutover up` adopts these instances.
      this.supervisor.detach();
      return;
    }
    await Promise.allSettled([...this.drains.values()]);
    await Promise.allSettled(
      this.supervisor.list().map(async (i) => {
        await this.supervisor.stop(i.id, this.service(i.service)?.stopTimeoutMs ?? 10_000);
        this.store.deleteInstance(i.id);
      }),
    );
  }
}
