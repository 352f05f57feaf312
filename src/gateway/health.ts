/**
 * The load balancer's health endpoint (`health.path`, default `/_cutover/health`): which requests it is,
 * and what it answers. Pure; the worker (server.ts) feeds it its state.
 *
 * A balancer must stop sending to a gateway *before* that gateway stops accepting, so the answer turns 503
 * as soon as the gateway is stopping or was told not to serve (a host drain), while every request is still
 * served. A retiring worker (reload, master re-exec) keeps answering 200: the gateway as a whole still
 * serves, and a 503 from it would make a balancer flap.
 */
import { DEFAULT_HEALTH_PATH } from '../config/defaults.ts';
import type { GatewaySettings } from './protocol.ts';

/** Whether the gateway is to pass its health check (admin `PUT /serving`), and why not. */
export interface ServingState {
  serving: boolean;
  /** Why not (`host drain`); only with `serving: false`. */
  reason?: string;
}

export const SERVING: ServingState = { serving: true };
/** Longest `reason` kept (it goes into every 503 answer). */
export const MAX_REASON_LENGTH = 200;
/** The reason a 503 gives when the gateway was told `serving: false` without one. */
const DEFAULT_NOT_SERVING_REASON = 'not serving';

/** What a health answer depends on, in one worker. */
export interface HealthView {
  serving: ServingState;
  /** The gateway is stopping (SIGTERM, the master stops): draining, no longer a place to send to. */
  stopping: boolean;
  /** Version of the route table the worker routes with (0: none yet). */
  routesVersion: number;
  hostName: string;
}

export interface HealthAnswer {
  status: 200 | 503;
  body: string;
}

/** The health path from the settings, or null when the endpoint is off. */
export function healthPathOf(settings: Pick<GatewaySettings, 'health'>): string | null {
  if (settings.health === false) return null;
  return settings.health?.path ?? DEFAULT_HEALTH_PATH;
}

/** A GET or HEAD of exactly the health path (the query is ignored). */
export function isHealthRequest(method: string | undefined, target: string, healthPath: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (!target.startsWith(healthPath)) return false;
  return target.length === healthPath.length || target.charCodeAt(healthPath.length) === 63; /* ? */
}

export function healthAnswer(view: HealthView): HealthAnswer {
  if (view.stopping) return unavailable('draining', 'gateway shutting down');
  if (!view.serving.serving)
    return unavailable('draining', view.serving.reason ?? DEFAULT_NOT_SERVING_REASON);
  if (view.routesVersion <= 0) return unavailable('starting', 'no route table yet');
  return {
    status: 200,
    body: JSON.stringify({ status: 'serving', host: view.hostName, routesVersion: view.routesVersion }),
  };
}

function unavailable(status: 'draining' | 'starting', reason: string): HealthAnswer {
  return { status: 503, body: JSON.stringify({ status, reason }) };
}

/** A `PUT /serving` body as a ServingState, or the problem with it. */
export function parseServing(body: unknown): ServingState | { error: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { error: 'body must be a JSON object {"serving": true|false, "reason"?: "..."}' };
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'serving' && k !== 'reason') return { error: `unknown field "${k}" (serving, reason)` };
  if (typeof o.serving !== 'boolean') return { error: 'serving must be true or false' };
  if (o.reason !== undefined && typeof o.reason !== 'string') return { error: 'reason must be a string' };
  if (typeof o.reason === 'string' && o.reason.length > MAX_REASON_LENGTH)
    return { error: `reason must be at most ${MAX_REASON_LENGTH} characters` };
  if (o.serving) return SERVING;
  return o.reason === undefined || o.reason === ''
    ? { serving: false }
    : { serving: false, reason: o.reason };
}
