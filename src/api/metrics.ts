/**
 * Gathers what `GET /metrics` shows: the controller's status of every service and the gateway's merged
 * counters (asked over the gateway's admin socket at each scrape; the gateway answers in milliseconds),
 * and renders them (src/metrics is a pure function of this snapshot).
 */
import type { Controller } from '../controller/controller.ts';
import { GatewayClient } from '../controller/gateway-client.ts';
import { gatewaySettings } from '../controller/gateway-process.ts';
import type { StatsReport } from '../gateway/protocol.ts';
import { analysisRunFamilies } from '../metrics/analysis-runs.ts';
import { certificateFamilies } from '../metrics/certificates.ts';
import { renderMetrics } from '../metrics/exposition.ts';
import { listenerFamilies } from '../metrics/listeners.ts';
import { CONTENT_TYPE, writeExposition } from '../metrics/text.ts';
import { type ServiceStatus, serviceStatus } from './status.ts';

/** How long a scrape waits for the gateway before showing controller metrics only. */
const GATEWAY_STATS_TIMEOUT_MS = 2_000;

const clients = new Map<string, GatewayClient>();

export function clientFor(c: Controller): GatewayClient {
  const socket = gatewaySettings(c.config).adminSocket;
  let client = clients.get(socket);
  if (client === undefined) {
    client = new GatewayClient(socket);
    clients.set(socket, client);
  }
  return client;
}

export async function gatewayMetrics(c: Controller): Promise<{ contentType: string; text: string }> {
  let gateway: StatsReport | null = null;
  try {
    gateway = await clientFor(c).stats(GATEWAY_STATS_TIMEOUT_MS);
  } catch {
    gateway = null; // shown as cutover_gateway_up 0
  }
  const services: ServiceStatus[] = [];
  for (const svc of c.services()) {
    const s = serviceStatus(c, svc.name);
    if (s !== undefined) services.push(s);
  }
  const certs = [
    ...listenerFamilies(gateway?.listeners),
    ...certificateFamilies(c.certs?.latest() ?? []),
    ...analysisRunFamilies(c.analysisRuns.snapshot()),
  ];
  const text = renderMetrics({ services, gateway }) + (certs.length > 0 ? writeExposition(certs) : '');
  return { contentType: CONTENT_TYPE, text };
}
