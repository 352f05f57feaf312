import type { CertificateStatus } from '../gateway/master-certs.ts';
import type { RouteService, StatsReport } from '../gateway/protocol.ts';
import { killProcessGroupsSync } from '../runtime/process-group.ts';
import type { Supervisor } from '../runtime/supervisor.ts';
import type { InstanceSpec, InstanceStatus } from '../runtime/types.ts';
import type { GatewayClient, GatewayReload } from './gateway-client.ts';

/** Where an instance recorded by an earlier controller was running. */
export interface RecordedProcess {
  pid: number;
  port: number;
  createdAt: number;
}

/**
 * One host as the controller sees it: the instances running there and the gateway in front of
 * them. Today's only host is this machine (`LocalAgent`); a remote host's agent answers the
 * same questions over the network.
 */
export interface HostAgent {
  /** The instances on the host now (every one started or adopted, until stopped). */
  instances(): InstanceStatus[];
  /** Starts an instance; it is in `instances()` as soon as this returns. */
  startInstance(spec: InstanceSpec): InstanceStatus;
  /** Takes over an instance an earlier controller started; undefined when it is gone. */
  adoptInstance(spec: InstanceSpec, found: RecordedProcess): Promise<InstanceStatus | undefined>;
  /** Kills what is left of an instance that cannot be adopted (its process group). */
  killOrphan(pid: number): void;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once the instance is gone. */
  stopInstance(id: string, stopTimeoutMs: number): Promise<void>;
  /** Lets go of every instance without stopping it: the next controller adopts them. */
  detach(): void;
  /** Called whenever an instance's phase, readiness, pid or restarts change. */
  onInstanceChange(listener: (status: InstanceStatus) => void): void;
  /** Pushes the routing table; resolves with its version once every gateway worker applied it. */
  pushRoutes(services: RouteService[]): Promise<number>;
  /** Requests in flight per instance id, at the gateway. */
  inflight(): Promise<Record<string, number>>;
  /** The gateway's traffic counters per service and revision. */
  trafficStats(): Promise<StatsReport>;
  /** A new gateway worker generation, or (`master`) a new gateway master. */
  reloadGateway(master: boolean): Promise<GatewayReload>;
  /** The certificates the host's gateway serves. */
  certificates(): Promise<CertificateStatus[]>;
  /** A forced ACME renewal of `host`'s certificate at the host's gateway. */
  renewCertificate(host: string): Promise<CertificateStatus>;
}

/** This machine: instances run by the Supervisor, the gateway reached over its admin socket. */
export class LocalAgent implements HostAgent {
  private readonly supervisor: Supervisor;
  private readonly gateway: GatewayClient;

  constructor(supervisor: Supervisor, gateway: GatewayClient) {
    this.supervisor = supervisor;
    this.gateway = gateway;
  }

  instances(): InstanceStatus[] {
    return this.supervisor.list();
  }

  startInstance(spec: InstanceSpec): InstanceStatus {
    return this.supervisor.start(spec);
  }

  adoptInstance(spec: InstanceSpec, found: RecordedProcess): Promise<InstanceStatus | undefined> {
    return this.supervisor.adopt(spec, found);
  }

  killOrphan(pid: number): void {
    killProcessGroupsSync([pid]);
  }

  stopInstance(id: string, stopTimeoutMs: number): Promise<void> {
    return this.supervisor.stop(id, stopTimeoutMs);
  }

  detach(): void {
    this.supervisor.detach();
  }

  onInstanceChange(listener: (status: InstanceStatus) => void): void {
    this.supervisor.on('change', listener);
  }

  pushRoutes(services: RouteService[]): Promise<number> {
    return this.gateway.putRoutes(services);
  }

  inflight(): Promise<Record<string, number>> {
    return this.gateway.inflight();
  }

  trafficStats(): Promise<StatsReport> {
    return this.gateway.stats();
  }

  reloadGateway(master: boolean): Promise<GatewayReload> {
    return this.gateway.reload(master);
  }

  certificates(): Promise<CertificateStatus[]> {
    return this.gateway.certificates();
  }

  renewCertificate(host: string): Promise<CertificateStatus> {
    return this.gateway.renewCertificate(host);
  }
}
