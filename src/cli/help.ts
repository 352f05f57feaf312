import { SNAPSHOT_INTERVAL_MS } from '../store/snapshot.ts';
import { FLEET_POLL_INTERVAL_MS } from './fleet-wait.ts';

/** The text of `cutover --help` and of `cutover COMMAND --help`, by command. */
export const HELP: Record<string, string> = {
  main: `cutover — zero-downtime releases for HTTP and WebSocket services

Usage: cutover <command> [options]

Commands:
  up                  run gateway, supervisor and controller in the foreground
  deploy SERVICE      roll out a new version (--version V [--set run.env.K=V] [--wait])
  status [SERVICE]    show services, rollouts and instances, and the fleet's hosts (--json, --watch)
  history SERVICE     list revisions (--json)
  undo SERVICE        roll back to the previous (or --to-revision N) revision (--wait)
  promote SERVICE     canary: pass the current pause (--full: skip all steps);
                      blue-green: switch all traffic to the preview side
  abort SERVICE       all traffic back to stable at once; the new revision is drained
  pause SERVICE       freeze a rollout's steps; resume SERVICE continues
  retry SERVICE       start the last failed/aborted rollout again
  drill SERVICE       rollback fire drill: a canary of stable with an injected fault that analysis
                      must take back (--fault errors:5%|latency:300ms, --json)
  set-weight SERVICE N  canary share of traffic (0..100), applied at once
  rules SERVICE       show traffic rules; --file FILE replaces them, --reset restores the config's
  limits SERVICE      show the traffic policy (balancer, limits, outliers, timeouts, retries);
                      --file FILE replaces it, --reset restores the config's
  logs SERVICE        show instance logs (--instance ID, -f, --tail N)
  dashboard           print the web dashboard's URL (--open: open it in a browser)
  events [SERVICE]    show the event log (--json; --fleet: the fleet's events)
  host drain|resume NAME  fleet mode: take a host out of the load balancer's rotation / back
  cluster import      fleet mode: share this host's own tokens and audit entries with the fleet (admin)
  validate            check a config file and change nothing
  apply               apply a changed config file to the running controller (--dry-run)
  service install     write systemd units (socket activation, restarts keep serving)
  reload [--master]   reload the gateway (new code/settings) without dropping a connection (admin)
  certs [renew HOST]  list the gateway's TLS certificates / force an ACME renewal (admin)
  token create|list|revoke  manage API tokens (admin)
  audit [verify]      show the audit trail of mutating requests / check it was not tampered with (admin)
  state check|restore check the state database / restore it from its last snapshot (controller stopped)

Global options:
  -c, --config FILE   config file (default ./cutover.yaml); the CLI finds the controller
                      from its control.listen, or from CUTOVER_ADDR (host:port) if set
  --token TOKEN       API token (default: CUTOVER_TOKEN, else the admin token in the config's
                      dataDir when the CLI runs where the controller does)
  -h, --help          help for a command

Exit codes: 0 ok, 1 the operation failed (rollout failed/rolled back, refused),
            2 bad usage or invalid config, 3 controller unreachable.`,
  up: `Usage: cutover up [-c FILE] [--keep-running]

Runs the gateway, the process supervisor and the controller in the foreground.
SIGINT/SIGTERM: the gateway stops accepting and finishes in-flight requests, then every
instance is stopped (SIGTERM, SIGKILL after stopTimeout). Nothing is left running.
--keep-running: on SIGINT/SIGTERM only the controller exits; the gateway keeps serving and
the instances keep running, and the next \`cutover up\` adopts them (upgrades of Cutover,
systemd restarts). The same happens after a crash of the controller.
Logs are JSON lines on stderr.`,
  deploy: `Usage: cutover deploy SERVICE --version V [--set run.env.KEY=VALUE ...] [--wait] [--timeout 10m]

Creates a new revision from the service's run template with \${VERSION}=V and rolls it out
with the service's strategy. --set overrides run.command, run.cwd or run.env.KEY for this
revision. --wait: follow the rollout; exit 0 when it succeeded, 1 when it failed (Cutover
then rolls back automatically).
Fleet mode (cluster: in the config): the version rolls out across the service's hosts in waves
(hostsAtOnce at a time, each host with the service's strategy) under a new generation. --wait
follows the fleet (it looks every ${FLEET_POLL_INTERVAL_MS} ms): exit 0 once every host runs it, 1 when a host failed
and every host was rolled back (the reason is printed).`,
  status: `Usage: cutover status [SERVICE] [--json] [--watch]

Phase (Healthy, Progressing, Degraded), stable revision, rollout progress and instances.
--watch redraws every second until interrupted (this host's services only).
Fleet mode: then the fleet: the leading host, a table of hosts (live or LOST, drained, and per
service the stable version, outcome, ready/total instances and the generation acted on; a host
behind its assignment is marked lagging) and per service its fleet rollout (phase, from -> to,
hosts done, wave, message) or the version desired on every host. --json adds a "fleet" key.`,
  dashboard: `Usage: cutover dashboard [-c FILE] [--open]

Prints the URL of the web dashboard (served by cutover up on control.listen at /) and, with a
local config, where the admin token to sign in with is. --open opens it with xdg-open.`,
  history: `Usage: cutover history SERVICE [--json]

Revisions: number (* = stable), version, created, outcome (stable, superseded, failed,
progressing, pending; "(drill)" for a drill's canary), the analysis summary of its last
rollout (verdict, time to verdict, each metric with its samples) and the message.`,
  drill: `Usage: cutover drill SERVICE [--fault errors:5%|latency:300ms[@N%]] [--weight 20] [--timeout 60s] [--json]

A rollback fire drill: starts a canary of the current stable revision (same version and run
spec, a new revision marked as a drill) that takes --weight % of the traffic while the gateway
injects the fault into that canary's responses only (errors:N%: 503 on N% of them;
latency:D: D more on every one, or on N% with @N%). The service's analysis should take it back.
Reports whether and how fast it did, how many requests saw the fault, and that the stable
revision kept serving (it never changes). Exit 0 when analysis aborted the drill within
--timeout, 1 otherwise. Needs services.SERVICE.analysis; not in fleet mode.`,
  undo: `Usage: cutover undo SERVICE [--to-revision N] [--wait] [--timeout 10m]

Rolls the service back to the previous good revision (or revision N) with its strategy;
the rolled-back-to spec becomes a new revision. Fleet mode: rolls every host back to the
version before the last fleet rollout, in waves; --wait follows it across the fleet.`,
  logs: `Usage: cutover logs SERVICE [--instance ID] [-f|--follow] [--tail N]

Prints the captured stdout/stderr of the service's live instances (or of one instance,
live or stopped), each line prefixed with its instance id.`,
  events: `Usage: cutover events [SERVICE] [--json] [--limit N]
       cutover events --fleet [SERVICE] [--json] [--limit N]

The event log of this host's controller, oldest first. --fleet: the fleet's events instead
(time, service, type, host, message): fleet rollouts and their waves, hosts done, assigned and
lost, rollbacks. --limit N: the newest N.`,
  host: `Usage: cutover host drain NAME [--json]
       cutover host resume NAME [--json]
       cutover host remove NAME [--json]

Fleet mode. drain takes host NAME out of the load balancer's rotation for maintenance: its
gateway fails its health check while its instances keep running (and keep following the
fleet's rollouts). resume puts it back. remove forgets a host that left the fleet for good
(refused while it is live): services on all hosts and rollouts no longer wait for it. An
unknown host is refused (exit 1).`,
  cluster: `Usage: cutover cluster import [--json]

Fleet mode, admin. Moves what this host kept alone before it joined the fleet into etcd: its API
tokens (all but its own admin token; a name the fleet already has is kept as the fleet has it)
and its audit entries (each host ships its entries into the fleet's audit chain by itself too;
import waits until every one is in). Exit 0 when the fleet's audit chain verifies, 1 otherwise.
Each host keeps its own revision history (cutover history on that host).`,
  service: `Usage: cutover service install [-c FILE] [--name cutover] [--user USER] [--dir DIR] [--print]

Writes NAME.service and NAME.socket (default dir /etc/systemd/system). The socket unit owns
the gateway's listener (connections queue while Cutover restarts); the service runs
\`cutover up --keep-running\` with KillMode=process, so \`systemctl restart NAME\` replaces only
the controller and the new one adopts the running gateway and instances.
Then: systemctl daemon-reload && systemctl enable --now NAME.socket NAME.service
--print writes both units to stdout instead. Windows: see the README (nssm).`,
  reload: `Usage: cutover reload [-c FILE] [--master] [--json]

Reloads the gateway without dropping or resetting a connection. A new generation of gateway workers
(code and gateway settings re-read from disk, e.g. after upgrading Cutover) starts on the SAME
listening socket; once every new worker listens with the current routes, the old ones stop
accepting, finish in-flight requests (keep-alive clients get Connection: close, WebSockets a
1001 close) and exit. --master also replaces the gateway master process: the new master inherits
the listening socket, takes over the admin socket, starts its workers, then the old master drains
and exits (the controller follows the new pid). gateway.tls certificate files are re-read too: a
replaced certificate serves every new handshake once the reload answers; one that does not load
(bad PEM, key not matching, expired) is refused, the one before stays in force, and the command
says so and exits 1. Also: SIGHUP (workers) / SIGUSR2 (master) to the gateway master, whose pid is
in <dataDir>/gateway.pid.`,
  certs: `Usage: cutover certs [-c FILE] [--json]
       cutover certs renew HOST [--json]

Lists the certificates the gateway serves on its HTTPS listener (gateway.tls): the hosts each
covers, where it comes from (static: files in tls.certificates; acme: obtained automatically),
its state (valid, ordering, failed), issuer, expiry and when it is renewed (a third of its
lifetime before expiry), and the last error. A host whose certificate could not be obtained or
whose file was refused keeps the certificate it had. \`renew HOST\` forces a new ACME order for
HOST now and answers once the new certificate serves (admin). Replaced certificate files are
picked up by \`cutover reload\`.`,
  apply: `Usage: cutover apply [-c FILE] [--dry-run]

Validates the file (every problem listed, nothing changes when it is invalid), shows the
difference with the running config and applies it: route, traffic, probe, replica and
timeout changes live; a changed version or run template becomes a new revision rolled out
with the service's strategy; added services start, removed ones are drained and stopped.
gateway.tls (certificates, acme, redirect, hsts) and gateway.http2 changes reload the gateway (a new
worker generation on the same sockets: new handshakes use them, no connection dropped); other
gateway/control changes need a restart (reported, not applied). Refused as a whole while a
changed service is rolling out. --dry-run shows the difference only.`,
  promote: `Usage: cutover promote SERVICE [--full]

Canary: continues past the current indefinite (or timed) pause; --full skips every remaining
step and promotes the canary now. Blue-green: switches all new requests to the preview side
once it has full size and is ready; the old side stays warm for scaleDownDelay.`,
  abort: `Usage: cutover abort SERVICE

Sends all traffic back to the stable revision at once and drains the new one. Blue-green after
the switch (within scaleDownDelay): switches back instantly. Status shows Aborted; the next
deploy or retry starts again. Fleet mode: rolls every host back to the version the fleet ran
before the rollout; --wait follows that (exit 1 once rolled back).`,
  pause: `Usage: cutover pause SERVICE

Freezes the rollout's steps (weights and instances stay as they are) until resume.
Fleet mode: no new wave starts until resume; the running wave finishes.`,
  resume: `Usage: cutover resume SERVICE

Continues a paused rollout (fleet mode: the paused fleet rollout, with its next wave).`,
  retry: `Usage: cutover retry SERVICE [--wait]

Starts the last failed or aborted rollout again, from the first step.`,
  'set-weight': `Usage: cutover set-weight SERVICE WEIGHT

Sets the canary's share of traffic (0..100) of a running canary rollout, at once, without
restarting anything. Later setWeight steps still apply.`,
  rules: `Usage: cutover rules SERVICE [--file FILE | --reset] [--json]

Without options: shows the traffic rules in effect. --file FILE (YAML or JSON, the same
shape as a service's "traffic" key: stickyBy, rules) validates and replaces them at runtime;
--reset goes back to the config file's rules.`,
  limits: `Usage: cutover limits SERVICE [--file FILE | --reset] [--json]

Without options: shows the traffic policy in effect (loadBalancer, limits, outlierDetection,
timeouts, retries) and whether it comes from the config file or a runtime change. --file FILE
(YAML or JSON with those keys, as in the service's config) validates it like the config file and
replaces the whole policy at runtime: a key it leaves out is off. Nothing changes when it is
invalid (exit 2, every problem as key.path: message). --reset goes back to the config file's
policy. The answer comes once every gateway worker applies it; no instance restarts. A runtime
policy outlives a restart of the controller and \`cutover apply\` until --reset.
--json prints the policy in the config file's shape (its "policy" is a valid --file).`,
  token: `Usage: cutover token create --name NAME --role viewer|deployer|admin [--service NAME]...
       cutover token list [--json]
       cutover token revoke NAME

create prints the new token alone on stdout (it is shown only once; Cutover stores a hash).
Roles: viewer reads everything; deployer also deploys, promotes, aborts, pauses, resumes,
retries, undoes and changes weight/rules/limits of its --service services (all when none given);
admin can do everything, including tokens and the audit trail. revoke takes effect at once.
The "admin" token is the local one in <dataDir>/admin.token: delete that file and restart
\`cutover up\` to rotate it.`,
  audit: `Usage: cutover audit [--service S] [--json] [--limit N]
       cutover audit verify [--json]

Lists the audit trail: every mutating API request, allowed or refused, with time, actor (token
name or "anonymous"), role, action, service and revision, parameters (secrets redacted),
source address and outcome. Entries are hash-chained; verify recomputes the chain and reports
the first edited or deleted entry (exit 0 intact, 1 broken). In fleet mode both show the
fleet's chain in etcd (every host's entries, with a HOST column), from any host.`,
  validate: `Usage: cutover validate [-c FILE]

Checks the config file; prints every problem as FILE:LINE: path.to.key: what is wrong.
Exit 0 when valid, 2 when not.`,
  state: `Usage: cutover state check [-c FILE] [--json]
       cutover state restore [-c FILE] [--force] [--json]

check verifies <dataDir>/state.db and its snapshot (SQLite quick_check); exit 0 sound, 1 damaged.
restore puts the last snapshot (<dataDir>/state.snapshot.db, taken at start-up, after every
finished rollout, every ${SNAPSHOT_INTERVAL_MS / 60_000} minutes and at a clean stop) in place of a damaged
state.db, which is kept as state.db.damaged-<time>. The controller must not run (a running gateway and its
instances may: the next \`cutover up\` adopts them). An intact state.db is only replaced with
--force, since what changed after the snapshot is lost.`,
};
