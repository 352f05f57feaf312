import http from 'node:http';
import type { ServingState } from '../gateway/health.ts';
import type { CertificateStatus } from '../gateway/master-certs.ts';
import type { InflightReport, RouteService, RouteTable, StatsReport } from '../gateway/protocol.ts';

export interface GatewayHealth {
  ok: boolean;
  pid: number;
  workers: number;
  workerPids: number[];
  generation?: number;
  retiringPids?: number[];
  version: number;
}

/** Answer of the gateway's `POST /reload` (see ReloadResult in src/gateway/admin.ts). */
export interface GatewayReload {
  pid: number;
  generation: number;
  workerPids: number[];
  retiring: number[];
  /** Certificate files the reload refused (the ones loaded before stay in force). */
  certificateErrors?: string[];
}

/** Talks to the gateway master's admin API over its Unix socket. */
export class GatewayClient {
  private lastVersion = 0;
  readonly socketPath: string;

  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  private request(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request(
        {
          socketPath: this.socketPath,
          method,
          path,
          agent: false,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 500) >= 300) {
              reject(new Error(`gateway ${method} ${path}: ${res.statusCode} ${text.trim()}`));
              return;
            }
            try {
              resolve(text ? JSON.parse(text) : {});
            } catch {
              reject(new Error(`gateway ${method} ${path}: invalid JSON`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`gateway ${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Pushes a table; resolves once every gateway worker applied it. */
  async putRoutes(services: RouteService[]): Promise<number> {
    // Versions must grow across controller restarts too, so they start from the clock.
    const version = Math.max(this.lastVersion + 1, Date.now());
    this.lastVersion = version;
    const table: RouteTable = { version, services };
    await this.request('PUT', '/routes', table);
    return version;
  }

  async inflight(): Promise<Record<string, number>> {
    const r = (await this.request('GET', '/inflight', undefined, 3_000)) as InflightReport;
    return r.instances ?? {};
  }

  /** Traffic counters merged over the gateway workers (see StatsReport). */
  async stats(timeoutMs = 3_000): Promise<StatsReport> {
    return (await this.request('GET', '/stats', undefined, timeoutMs)) as StatsReport;
  }

  /** The master's /healthz (`pid` follows a master re-exec), or null when nothing answers. */
  async health(): Promise<GatewayHealth | null> {
    try {
      return (await this.request('GET', '/healthz', undefined, 1_000)) as GatewayHealth;
    } catch {
      return null;
    }
  }

  /** New worker generation on the same socket, or (`master`) a new master process inheriting it. */
  async reload(master: boolean): Promise<GatewayReload> {
    return (await this.request(
      'POST',
      master ? '/reload?master=1' : '/reload',
      undefined,
      60_000,
    )) as GatewayReload;
  }

  /** Every certificate the gateway serves (static and ACME), with its state. */
  async certificates(): Promise<CertificateStatus[]> {
    const r = (await this.request('GET', '/certs', undefined, 3_000)) as {
      certificates: CertificateStatus[];
    };
    return r.certificates;
  }

  /** Forces an ACME renewal; resolves once the new certificate serves (ACME orders take a while). */
  async renewCertificate(host: string): Promise<CertificateStatus> {
    return (await this.request(
      'POST',
      `/certs/renew?host=${encodeURIComponent(host)}`,
      undefined,
      180_000,
    )) as CertificateStatus;
  }

  /**
   * The gateway's load balancer health check passes (`true`) or fails (`false`, e.g. `host drain`) from
   * now on; requests are served either way. Resolves once every gateway worker applied it.
   */
  async setServing(serving: boolean, reason?: string): Promise<void> {
    const body: ServingState = serving || reason === undefined ? { serving } : { serving, reason };
    await this.request('PUT', '/serving', body);
  }

  /** Whether the gateway's health check is to pass (what `setServing` set last; persisted). */
  async serving(): Promise<ServingState> {
    return (await this.request('GET', '/serving', undefined, 3_000)) as ServingState;
  }

  async healthy(): Promise<boolean> {
    try {
      await this.request('GET', '/healthz', undefined, 1_000);
      return true;
    } catch {
      return false;
    }
  }
}
