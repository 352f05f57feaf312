import type { ServiceStatus } from '../../api/status.ts';
import { help, parse, resolveAddr, servicePath } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { formatStatus } from '../format.ts';
import { HELP } from '../help.ts';
import { followEvents } from '../sse.ts';

/** --watch redraws this often even when nothing changed (the clock and the "running" ages move). */
const WATCH_REDRAW_MS = 1000;

/** `cutover status [SERVICE]`: one service or all; --watch follows the status stream. */
export async function cmdStatus(argv: string[]): Promise<number> {
  const { values, positionals } = parse('status', argv, {
    json: { type: 'boolean' },
    watch: { type: 'boolean' },
  });
  if (values.help) return help('status');
  if (positionals.length > 1) throw new UsageError(`status: at most one SERVICE\n\n${HELP.status}`);
  const only = positionals[0];
  const client = new ControlClient(resolveAddr(values.config));
  const list = only
    ? [await client.json<ServiceStatus>('GET', servicePath(only))]
    : (await client.json<{ services: ServiceStatus[] }>('GET', '/v1/services')).services;
  const render = (docs: ServiceStatus[]) =>
    values.json
      ? `${JSON.stringify(only ? docs[0] : { services: docs }, null, 2)}\n`
      : `${docs.map((s) => formatStatus(s)).join('\n\n')}\n`;
  if (!values.watch) {
    process.stdout.write(render(list));
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
