import type { ServiceConfig } from '../config/types.ts';
import type { CoreEvent, ObservedInstance, Revision } from '../core/model.ts';
import type { Logger } from '../log/logger.ts';
import type { InstanceStatus } from '../runtime/types.ts';
import type { InstanceRecord, Store } from '../store/types.ts';
import type { HostAgent } from './agent.ts';
import { awaitIdle } from './drain.ts';
import { instanceSpec, newInstanceId } from './instance-spec.ts';

/** Stop timeout of an instance whose service is no longer configured. */
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export interface InstanceLifecycleOptions {
  agent: HostAgent;
  store: Store;
  log: Logger;
  now: () => number;
  /** Where instance logs go (`<dataDir>/logs/<service>/<instance>.log`). */
  dataDir: string;
  /** Records an event (an instance draining). */
  tell: (event: CoreEvent) => void;
  /** Publishes the routing table (an instance leaves it before it is stopped). */
  publishRoutes: () => Promise<void>;
  /** An instance of `service` changed (phase, readiness, pid, restarts). */
  instanceChanged: (service: string) => void;
  /** Something changed that the next reconcile should see. */
  changed: () => void;
}

/**
 * A host's instances as the controller runs them: started, adopted after a restart, drained
 * before they are stopped, and recorded in the store so the next controller finds them.
 */
export class InstanceLifecycle {
  private readonly options: InstanceLifecycleOptions;
  /** Instances out of the routing table on their way to being stopped. */
  private readonly leaving = new Set<string>();
  private readonly drains = new Map<string, Promise<void>>();
  /** Last pid written to the store per instance (re-written after a crash restart). */
  private readonly recorded = new Map<string, number>();

  constructor(options: InstanceLifecycleOptions) {
    this.options = options;
  }

  list(service?: string): InstanceStatus[] {
    return this.options.agent.instances().filter((i) => !service || i.service === service);
  }

  isLeaving(id: string): boolean {
    return this.leaving.has(id);
  }

  /** The ids leaving the routing table (the routes leave them out). */
  get leavingIds(): ReadonlySet<string> {
    return this.leaving;
  }

  /** What the core plans with. */
  observe(service: string): ObservedInstance[] {
    return this.list(service).map((i) => ({
      id: i.id,
      revision: i.revision,
      state: this.leaving.has(i.id) ? 'draining' : i.ready && i.phase === 'running' ? 'ready' : 'starting',
      readySince: i.readySince,
      restarts: i.restarts,
    }));
  }

  /** Keeps the store's pids current (a crashed instance restarts with a new one). */
  watch(): void {
    const { agent } = this.options;
    agent.onInstanceChange((status) => {
      if (status.pid !== undefined && this.recorded.get(status.id) !== status.pid) this.record(status);
      this.options.instanceChanged(status.service);
    });
  }

  /** Instances recorded by an earlier run: adopted when alive and still known, else cleaned up. */
  async adopt(
    known: (record: InstanceRecord) => { svc: ServiceConfig; revision: Revision } | undefined,
  ): Promise<void> {
    const { agent, store, log, dataDir } = this.options;
    await Promise.all(
      store.instances().map(async (record) => {
        const found = known(record);
        let adopted = false;
        if (found && record.pid) {
          const spec = instanceSpec(found.svc, found.revision, record.id, dataDir);
          const status = await agent.adoptInstance(spec, {
            pid: record.pid,
            port: record.port,
            createdAt: record.createdAt,
          });
          adopted = status !== undefined;
          if (status?.pid) this.recorded.set(record.id, status.pid);
        }
        if (!adopted) {
          if (record.pid) agent.killOrphan(record.pid);
          store.deleteInstance(record.id);
          log.info('forgot instance of an earlier run', { service: record.service, instance: record.id });
        }
      }),
    );
  }

  start(svc: ServiceConfig, revision: Revision): void {
    const { agent, log, dataDir } = this.options;
    const id = newInstanceId(svc.name, revision.number);
    const status = agent.startInstance(instanceSpec(svc, revision, id, dataDir));
    this.record(status);
    log.info('instance started', {
      service: svc.name,
      revision: revision.number,
      instance: id,
      port: status.port,
    });
  }

  /** Writes where an instance runs to the store (and remembers the pid written). */
  private record(status: InstanceStatus): void {
    if (status.pid !== undefined) this.recorded.set(status.id, status.pid);
    this.options.store.putInstance({
      id: status.id,
      service: status.service,
      revision: status.revision,
      pid: status.pid,
      port: status.port,
      createdAt: status.createdAt,
    });
  }

  /** Starts draining an instance (once; a drain already under way goes on). */
  drain(svc: ServiceConfig, id: string, reason: string): void {
    if (this.drains.has(id)) return;
    const drained = this.drainAndStop(svc, id, reason).finally(() => this.drains.delete(id));
    this.drains.set(id, drained);
  }

  /**
   * Drain before signal: leave the routing table (acknowledged by every gateway worker), wait until
   * the gateway reports no request in flight (or drainTimeout), then SIGTERM, then SIGKILL.
   */
  private async drainAndStop(svc: ServiceConfig, id: string, reason: string): Promise<void> {
    const { agent, store, now, tell, publishRoutes, changed } = this.options;
    const service = svc.name;
    this.leaving.add(id);
    const log = this.options.log.child({ service, instance: id });
    log.info('instance draining', { reason });
    tell({ service, type: 'InstanceDraining', message: `${id}: ${reason}` });
    await publishRoutes();
    const inflight = await awaitIdle(agent, id, now() + svc.drainTimeoutMs, now, log);
    if (inflight > 0) log.warn('drain timeout; stopping with requests in flight', { inflight });
    await agent.stopInstance(id, svc.stopTimeoutMs);
    store.deleteInstance(id);
    this.recorded.delete(id);
    this.leaving.delete(id);
    log.info('instance stopped');
    changed();
  }

  /**
   * `keepRunning`: lets go of every instance (the next `cutover up` adopts them). Else finishes
   * the drains, then stops every instance (the gateway already finished its requests).
   */
  async shutdown(
    keepRunning: boolean,
    stopTimeoutOf: (service: string) => number | undefined,
  ): Promise<void> {
    const { agent, store } = this.options;
    if (keepRunning) {
      agent.detach();
      return;
    }
    await Promise.allSettled([...this.drains.values()]);
    await Promise.allSettled(
      agent.instances().map(async (i) => {
        await agent.stopInstance(i.id, stopTimeoutOf(i.service) ?? DEFAULT_STOP_TIMEOUT_MS);
        store.deleteInstance(i.id);
      }),
    );
  }
}
