/** The fleet as the control API shows it (`GET /v1/fleet`, `GET /v1/fleet/events`). */
import type { FleetEvent, FleetServiceState, HostReport } from '../core/fleet/model.ts';

export interface FleetHostView {
  name: string;
  /** Its heartbeat lease is alive. */
  live: boolean;
  /** Taken out for maintenance: its gateway fails the load balancer's health check. */
  drained: boolean;
  /** Its last report (absent while lost). */
  report?: HostReport;
}

export interface FleetView {
  /** The host whose controller leads (null: none elected right now). */
  leader: string | null;
  hosts: FleetHostView[];
  services: FleetServiceState[];
}

export interface StoredFleetEvent extends FleetEvent {
  time: number;
}
