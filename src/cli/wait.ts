import type { ServiceStatus } from '../api/status.ts';
import type { Revision } from '../core/model.ts';
import type { FleetView } from '../fleet/view.ts';
import { sleep } from '../util/sleep.ts';
import { parseDurationArg, resolveAddr, servicePath } from './args.ts';
import { ApiResponseError, ControlClient, UnreachableError } from './client.ts';
import { EXIT } from './exit.ts';
import { FLEET_POLL_INTERVAL_MS, fleetWaitOutcome } from './fleet-wait.ts';
import { followEvents } from './sse.ts';

/** How long --wait follows a rollout unless --timeout says otherwise. */
const DEFAULT_WAIT_TIMEOUT_MS = 30 * 60_000;

/** The options of the commands that start or steer a rollout (deploy, undo, promote, ...). */
export const WAIT_OPTIONS = {
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
} as const;

/**
 * For a command that starts or steers a rollout: parses --timeout (a usage error even without
 * --wait, before anything is sent) and connects to the controller. `follow(service, revision)`
 * waits for that revision with --wait and returns the exit code; without --wait it returns 0.
 * `followFleet(service, generation)` does the same for a fleet rollout (an answer with `fleet: true`).
 */
export function rolloutClient(values: { config?: string; wait?: boolean; timeout?: string }): {
  client: ControlClient;
  follow: (service: string, revision: number) => Promise<number>;
  followFleet: (service: string, generation: number) => Promise<number>;
} {
  const timeout = parseDurationArg(values.timeout, '--timeout') ?? DEFAULT_WAIT_TIMEOUT_MS;
  const client = new ControlClient(resolveAddr(values.config));
  const follow = async (service: string, revision: number) =>
    values.wait ? waitForRollout(client, service, revision, timeout) : EXIT.ok;
  const followFleet = async (service: string, generation: number) =>
    values.wait ? waitForFleet(client, service, generation, timeout) : EXIT.ok;
  return { client, follow, followFleet };
}

/** What a fleet-mode command answers (deploy adds the version). */
export interface FleetAnswer {
  fleet: true;
  service: string;
  generation: number;
  message: string;
  version?: string;
}

/** Whether an answer of deploy, undo, abort, pause or resume is the fleet's. */
export function isFleetAnswer(a: unknown): a is FleetAnswer {
  return typeof a === 'object' && a !== null && (a as { fleet?: unknown }).fleet === true;
}

/**
 * `--wait` in fleet mode: polls the fleet until the rollout of `generation` is over (see
 * fleetWaitOutcome), printing progress to stderr when it changes and the outcome to stdout.
 * A controller briefly away (unreachable, 5xx while a leader is elected) is waited for too.
 */
async function waitForFleet(
  client: ControlClient,
  service: string,
  generation: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  const note = (line: string) => {
    if (line === last) return;
    process.stderr.write(`${line}\n`);
    last = line;
  };
  while (Date.now() < deadline) {
    try {
      const o = fleetWaitOutcome(await client.json<FleetView>('GET', '/v1/fleet'), service, generation);
      if (o.done) {
        process.stdout.write(`${o.message}\n`);
        return o.ok ? EXIT.ok : EXIT.failed;
      }
      note(o.progress);
    } catch (err) {
      const away = err instanceof UnreachableError || (err instanceof ApiResponseError && err.status >= 500);
      if (!away) throw err;
      note(`waiting for the controller: ${err.message}`);
    }
    await sleep(Math.max(0, Math.min(FLEET_POLL_INTERVAL_MS, deadline - Date.now())));
  }
  process.stdout.write(
    `timed out waiting for generation ${generation} of ${service} across the fleet; it continues in the background\n`,
  );
  return EXIT.failed;
}

/** One line of progress for stderr: what the rollout is doing, or what serves when none runs. */
function progressLine(s: ServiceStatus): string {
  const r = s.rollout;
  if (!r) return `revision ${s.stable.revision} (${s.stable.version}) serving, phase ${s.phase}`;
  const p = r.progress;
  return `${r.kind === 'rollback' ? 'rolling back to' : 'rolling out'} revision ${r.to} (${r.version}): ${p.available}/${p.replicas} available, ${p.old} old, ${p.draining} draining`;
}

/**
 * `--wait`: follows the rollout to `revision` on the status stream until it finishes; prints
 * progress to stderr as it changes and the outcome to stdout. Returns the exit code: 0 when the
 * revision became stable, 1 when it failed (or was rolled back) or the timeout passed.
 */
async function waitForRollout(
  client: ControlClient,
  service: string,
  revision: number,
  timeoutMs: number,
): Promise<number> {
  let last = '';
  let code: number = EXIT.failed;
  const outcome = await followEvents(client, `/v1/stream?service=${encodeURIComponent(service)}`, {
    deadline: Date.now() + timeoutMs,
    onEvent: async (e) => {
      if (e.event !== 'status') return false;
      const s = JSON.parse(e.data) as ServiceStatus;
      if (s.name !== service) return false;
      const line = progressLine(s);
      if (line !== last) {
        process.stderr.write(`${line}\n`);
        last = line;
      }
      const l = s.lastRollout;
      if (s.rollout || !l) return false;
      if (l.to === revision && l.phase === 'Succeeded' && l.kind !== 'rollback') {
        process.stdout.write(`revision ${revision} of ${service} is stable\n`);
        code = EXIT.ok;
        return true;
      }
      if (l.kind === 'rollback' || l.phase === 'Failed') {
        const hist = await client.json<{ revisions: Revision[] }>('GET', servicePath(service, '/history'));
        const rev = hist.revisions.find((x) => x.number === revision);
        process.stdout.write(
          `revision ${revision} of ${service} failed: ${rev?.message ?? l.message ?? 'rollout failed'}; serving revision ${s.stable.revision} (${s.stable.version})\n`,
        );
        code = EXIT.failed;
        return true;
      }
      return false;
    },
  });
  if (outcome === 'timeout') {
    process.stdout.write(
      `timed out waiting for revision ${revision} of ${service}; it continues in the background\n`,
    );
    return EXIT.failed;
  }
  return code;
}
