import path from 'node:path';
import type { CutoverConfig } from '../config/types.ts';

/** Options of `cutover service install`. */
export interface UnitOptions {
  /** Absolute path of the config file. */
  configFile: string;
  /** Absolute path of the Node 24 binary. */
  node: string;
  /** Absolute path of bin/cutover.mjs. */
  bin: string;
  /** Unit base name (default `cutover`). */
  name: string;
  user?: string;
}

/**
 * A systemd service + socket pair. The socket unit owns the public listener, so the port stays
 * open (connections queue in the kernel) even while Cutover itself restarts; the service runs
 * `cutover up --keep-running` with KillMode=process, so `systemctl restart` (e.g. after upgrading
 * Cutover) replaces only the controller: the gateway and the instances keep serving and are
 * adopted by the new controller.
 */
export function systemdUnits(config: CutoverConfig, o: UnitOptions): { service: string; socket: string } {
  const l = config.gateway.listen;
  const listen = l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
  const quote = (s: string) => (/[\s"'\\]/.test(s) ? `"${s.replace(/(["\\])/g, '\\$1')}"` : s);
  const service = `[Unit]
Description=Cutover: zero-downtime releases (${Object.keys(config.services).join(', ') || 'no services'})
Documentation=https://github.com/cutover/cutover#readme
After=network.target
Requires=${o.name}.socket

[Service]
Type=simple
ExecStart=${quote(o.node)} ${quote(o.bin)} up -c ${quote(o.configFile)} --keep-running
WorkingDirectory=${quote(path.dirname(o.configFile))}
${o.user ? `User=${o.user}\n` : ''}Restart=always
RestartSec=1
# Only the controller is stopped on restart; the gateway and instances are adopted afterwards.
KillMode=process
TimeoutStopSec=60
Environment=CUTOVER_LOG_LEVEL=info

[Install]
WantedBy=multi-user.target
`;
  const socket = `[Unit]
Description=Cutover gateway listener (${listen})

[Socket]
ListenStream=${listen}
NoDelay=true
ReusePort=false
Service=${o.name}.service

[Install]
WantedBy=sockets.target
`;
  return { service, socket };
}
