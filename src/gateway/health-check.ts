/**
 * A worker's answer to the load balancer's health check (`gateway.health`): for any Host, on every
 * listener, before routing, never counted as a service request. What it says is health.ts (pure).
 */

import { nodeOs } from '../util/builtins.ts';
import type { Exchange } from './exchange.ts';
import { healthAnswer, healthPathOf, isHealthRequest, SERVING, type ServingState } from './health.ts';
import type { GatewaySettings } from './protocol.ts';

export class HealthCheck {
  /** The health check path, or null when it is off. */
  readonly path: string | null;
  /** What the health check reports as `host`. */
  readonly hostName: string;
  /** Whether the health check passes (the master's `PUT /serving`). */
  serving: ServingState = SERVING;
  /**
   * The gateway stops (not a retiring generation, whose successor serves on): the health check fails from
   * the first moment of the drain.
   */
  stopping = false;
  /** Version of the table routed with (0: none yet). */
  routesVersion = 0;
  /** Health checks answered (`ListenerCounters.healthChecks`). */
  answered = 0;

  constructor(settings: Pick<GatewaySettings, 'health' | 'hostName'>) {
    this.path = healthPathOf(settings);
    this.hostName = settings.hostName ?? nodeOs.hostname();
  }

  /** Answers `ex` and returns true when it is a health check; false: route it. */
  answer(ex: Exchange, path: string): boolean {
    if (this.path === null || !isHealthRequest(ex.req.method, path, this.path)) return false;
    this.answered++;
    const { status, body } = healthAnswer({
      serving: this.serving,
      stopping: this.stopping,
      routesVersion: this.routesVersion,
      hostName: this.hostName,
    });
    ex.unlogged = true;
    // A new list each time: answer() appends the framing headers to it.
    ex.answer(status, ['content-type', 'application/json', 'cache-control', 'no-store'], body);
    return true;
  }
}
