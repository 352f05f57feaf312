import type { ServiceStatus } from '../../api/status.ts';
import type { FleetView } from '../../fleet/view.ts';
import { help, parse, resolveAddr, servicePath } from '../args.ts';
import { ApiResponseError, ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { formatFleet } from '../fleet-format.ts';
import { formatStatus } from '../format.ts';
import { HELP } from '../help.ts';
import { followEvents } from '../sse.ts';

/** --watch redraws this often even when nothing changed (the clock and the "running" ages move). */
const WATCH_REDRAW_MS = 1000;

/** The fleet (GET /v1/fleet), or undefined when the controller runs a single host (404). */
async function fleetOf(client: ControlClient): Promise<FleetView | undefined> {
  try {
    return await client.json<FleetView>('GET', '/v1/fleet');
  } catch (err) {
    if (err instanceof ApiResponseError && err.status === 404) return undefined;
    throw err;
  }
}

/** This host's status of `service`; null when this host does not know it (404 unknown_service). */
async function thisHost(client: ControlClient, service: string): Promise<ServiceStatus | null> {
  try {
    return await client.json<ServiceStatus>('GET', servicePath(service));
  } catch (err) {
    if (err instanceof ApiResponseError && err.status === 404 && err.code === 'unknown_service') return null;
    throw err;
  }
}

/**
 * `cutover status [SERVICE]`: one service or all, then the fleet section in fleet mode; --watch
 * follows the status stream (this host's services only: the fleet has no stream yet).
 */
export async function cmdStatus(argv: string[]): Promise<number> {
  const { values, positionals } = parse('status', argv, {
    json: { type: 'boolean' },
    watch: { type: 'boolean' },
  });
  if (values.help) return help('status');
  if (positionals.length > 1) throw new UsageError(`status: at most one SERVICE\n\n${HELP.status}`);
  const only = positionals[0];
  const client = new ControlClient(resolveAddr(values.config));
  const local = only ? await thisHost(client, only) : undefined;
  if (only && local === null) {
    // Fleet mode, a service this host does not run: the fleet's view of it is the answer.
    const fleet = await fleetOf(client);
    if (!fleet?.services.some((s) => s.name === only)) {
      await client.json<ServiceStatus>('GET', servicePath(only)); // the controller's own error
    }
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ name: only, fleet }, null, 2)}\n`
        : `${only}: not run on this host\n\n${formatFleet(fleet!, only)}\n`,
    );
    return EXIT.ok;
  }
  const list = only
    ? [local!]
    : (await client.json<{ services: ServiceStatus[] }>('GET', '/v1/services')).services;
  const render = (docs: ServiceStatus[]) =>
    values.json
      ? `${JSON.stringify(only ? docs[0] : { services: docs }, null, 2)}\n`
      : `${docs.map((s) => formatStatus(s)).join('\n\n')}\n`;
  if (!values.watch) {
    const fleet = await fleetOf(client);
    if (!fleet) process.stdout.write(render(list));
    else if (values.json) {
      const doc = only ? { ...list[0], fleet } : { services: list, fleet };
      process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    } else process.stdout.write(`${render(list)}\n${formatFleet(fleet, only)}\n`);
    return EXIT.ok;
  }
  // In the order the controller lists them; a service added later comes last.
  const docs = new Map(list.map((s) => [s.name, s]));
  const draw = () => {
    const text = render([...docs.values()]);
    process.stdout.write(values.json ? text : `\x1b[2J\x1b[H${new Date().toISOString()}\n${text}`);
  };
  draw();
  const timer = setInterval(draw, WATCH_REDRAW_MS);
  try {
    await followEvents(client, only ? `/v1/stream?service=${encodeURIComponent(only)}` : '/v1/stream', {
      deadline: Number.POSITIVE_INFINITY,
      onEvent: (e) => {
        if (e.event === 'removed') {
          docs.delete((JSON.parse(e.data) as { name: string }).name);
          draw();
          return false;
        }
        if (e.event !== 'status') return false;
        const s = JSON.parse(e.data) as ServiceStatus;
        if (only && s.name !== only) return false;
        docs.set(s.name, s);
        draw();
        return false;
      },
    });
  } finally {
    clearInterval(timer);
  }
  return EXIT.ok;
}
