/**
 * The gateway's listening socket, held by the master and never accepted on there: bound here, or inherited
 * as a file descriptor (from a previous master, the controller, systemd socket activation). Both the
 * master and the controller (which binds before it starts a gateway) use this module.
 */

import { nodeNet, nodeUtil } from '../util/builtins.ts';
import { sleep } from '../util/sleep.ts';

/** Pause between bind attempts while another process still holds the port. */
const BIND_RETRY_MS = 10;
/** Node's default listen backlog (what a worker's server.listen(handle) uses too). */
const LISTEN_BACKLOG = 511;

/** A libuv TCP handle (what `net._createServerHandle` returns); `fd` is its file descriptor on Unix. */
export interface ServerHandle {
  fd?: number;
  getsockname(out: Record<string, unknown>): number;
  close(cb?: () => void): void;
}

type CreateServerHandle = (
  address: string | null,
  port: number,
  addressType: number,
  fd: number | undefined,
  flags: number,
) => unknown;

function createServerHandle(): CreateServerHandle {
  const create = (nodeNet as unknown as Record<string, unknown>)._createServerHandle as
    | CreateServerHandle
    | undefined;
  if (typeof create !== 'function') throw new Error('this Node version lacks net._createServerHandle');
  return create;
}

/**
 * The bound port. libuv reports a failed bind (EADDRINUSE) only here or at listen(): without this check a
 * worker's listen() on the unbound socket would silently pick a random port.
 */
function portOf(handle: ServerHandle): number {
  const out: Record<string, unknown> = {};
  const err = handle.getsockname(out);
  if (err !== 0 || typeof out.port !== 'number') {
    handle.close();
    const code = err !== 0 ? nodeUtil.getSystemErrorName(err) : 'EINVAL';
    throw Object.assign(new Error(`listening socket unusable: ${code}`), { code });
  }
  return out.port;
}

/** Binds (but does not listen on, so this process never accepts) the shared server socket. */
export function bindListenHandle(host: string, port: number): { handle: ServerHandle; port: number } {
  const result = createServerHandle()(host, port, nodeNet.isIPv6(host) ? 6 : 4, undefined, 0);
  if (typeof result === 'number') {
    const code = nodeUtil.getSystemErrorName(result);
    throw Object.assign(new Error(`cannot bind ${host}:${port}: ${code}`), { code });
  }
  const handle = result as ServerHandle;
  return { handle, port: portOf(handle) };
}

/** Wraps an inherited listening socket (fd from a previous master, the controller or systemd). */
export function handleFromFd(fd: number): { handle: ServerHandle; port: number } {
  const result = createServerHandle()(null, 0, 4, fd, 0);
  if (typeof result === 'number') {
    throw new Error(`cannot use inherited listening socket fd ${fd}: ${nodeUtil.getSystemErrorName(result)}`);
  }
  const handle = result as ServerHandle;
  return { handle, port: portOf(handle) };
}

/** What a listening handle passed over IPC is to a worker before it wraps it in a server. */
interface RawListenHandle {
  listen(backlog: number): number;
  close(): void;
}

/**
 * Puts the shared socket into the listening state without this process accepting on it: the kernel then
 * completes handshakes and queues connections (up to the backlog) until a worker accepts. `handle` must
 * be this process's own copy of the socket (one received over IPC): it is closed right after listen(2),
 * in the same tick, before libuv could poll it, while the master's copy keeps the socket open.
 */
export function listenWithoutAccepting(handle: unknown): void {
  const raw = handle as RawListenHandle;
  const err = raw.listen(LISTEN_BACKLOG);
  raw.close();
  if (err !== 0) throw new Error(`cannot listen on the shared socket: ${nodeUtil.getSystemErrorName(err)}`);
}

/** Binds host:port, retrying while it is in use (EADDRINUSE) for up to waitMs. */
export async function bindWhenFree(
  host: string,
  port: number,
  waitMs: number,
): Promise<{ handle: ServerHandle; port: number }> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    await sleep(BIND_RETRY_MS);
    try {
      return bindListenHandle(host, port);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
    }
  }
}
