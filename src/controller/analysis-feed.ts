import { type PeerRevisionStats, trafficSample, withPeers } from '../analysis/gateway.ts';
import { collectMeasurements } from '../analysis/providers/measure.ts';
import type { ServiceConfig } from '../config/types.ts';
import { alertEvents } from '../core/analysis-alerts.ts';
import { measurementDue, recordMeasurements } from '../core/measure.ts';
import type { Logger } from '../log/logger.ts';
import type { HostAgent } from './agent.ts';
import type { ServiceLedger } from './ledger.ts';

/**
 * Feeds due analyses with a measurement (what to measure: measurementDue in the core): gateway
 * counters of the judged revision and its baseline, plus provider queries. Runs beside the
 * reconcile loop, never blocks it; the core acts on the verdicts.
 */
export class AnalysisFeed {
  private readonly ledger: ServiceLedger;
  private readonly agent: HostAgent;
  private readonly log: Logger;
  private readonly now: () => number;
  /** Fleet mode: the other hosts' counts of the same rollout (none on one host). */
  private readonly peers: (service: string) => readonly PeerRevisionStats[];
  /** Services with a measurement in flight. */
  private readonly measuring = new Set<string>();

  constructor(options: {
    ledger: ServiceLedger;
    agent: HostAgent;
    log: Logger;
    now: () => number;
    peers: (service: string) => readonly PeerRevisionStats[];
  }) {
    this.peers = options.peers;
    this.ledger = options.ledger;
    this.agent = options.agent;
    this.log = options.log;
    this.now = options.now;
  }

  measure(services: ServiceConfig[]): void {
    const askedAt = this.now();
    for (const svc of services) {
      const state = this.ledger.state(svc.name);
      const config = svc.analysis;
      if (!state?.rollout || !config || this.measuring.has(svc.name)) continue;
      const request = measurementDue(svc, state, askedAt);
      if (!request) continue;
      const rollout = state.rollout;
      this.measuring.add(svc.name);
      collectMeasurements(config, {
        vars: request.vars,
        traffic: async () => {
          const opts = { mirror: request.mirror };
          const here = trafficSample(
            await this.agent.trafficStats(),
            svc.name,
            request.revision,
            request.baseline,
            opts,
          );
          return withPeers(here, this.peers(svc.name), opts);
        },
      })
        .then((measurements) => {
          const at = this.now();
          this.ledger.updateRollout(svc.name, rollout, (current) => {
            const next = recordMeasurements(config, current, measurements, askedAt, at);
            return { rollout: next, events: alertEvents(svc.name, current, next) };
          });
        })
        .catch((err: unknown) => this.log.error('analysis measurement failed', { service: svc.name, err }))
        .finally(() => this.measuring.delete(svc.name));
    }
  }
}
