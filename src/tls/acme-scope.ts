/**
 * acme-client talks through one axios instance shared by the whole process. A custom CA (pebble's, a
 * private ACME server's) and a request timeout are attached per request, and only to requests for the
 * ACME server's own origin, so trusting that CA never leaks into any other HTTPS the process makes.
 */
import { Agent } from 'node:https';
import { loadAcme } from './acme-lib.ts';

/** An ACME request that hangs this long fails (the order is then retried after its back-off). */
export const ACME_REQUEST_TIMEOUT_MS = 30_000;

export interface AcmeScope {
  /** Removes the interceptor and closes the agent's sockets. */
  close(): void;
}

/**
 * Routes requests to `directory`'s origin through an agent that trusts `caCert` (instead of the system
 * roots) when given, with a timeout. Other origins are left untouched.
 */
export async function scopeAcmeRequests(directory: string, caCert: string | undefined): Promise<AcmeScope> {
  const acmeAxios = (await loadAcme()).axios;
  const origin = new URL(directory).origin;
  const agent = caCert === undefined ? undefined : new Agent({ ca: caCert, keepAlive: false });
  const id = acmeAxios.interceptors.request.use((config) => {
    if (config.url === undefined || !sameOrigin(config.url, origin)) return config;
    if (agent !== undefined) config.httpsAgent = agent;
    if (!config.timeout) config.timeout = ACME_REQUEST_TIMEOUT_MS;
    return config;
  });
  return {
    close() {
      acmeAxios.interceptors.request.eject(id);
      agent?.destroy();
    },
  };
}

function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}
