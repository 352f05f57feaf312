/**
 * The WebSocket upgrade path: the same admission checks and routing as a plain request, then the handshake
 * checks, an instance for the service (and traffic role), and a relay that owns both sockets from there.
 */
import type net from 'node:net';
import type { GatewayRequest } from './client-messages.ts';
import { buildUpstreamHeaders, type RequestHeadInfo } from './headers.ts';
import { checkRequestHead, checkWebSocketHandshake, rejectionBody, STATUS_TEXT } from './limits.ts';
import type { GatewaySettings, UpstreamRole } from './protocol.ts';
import type { RateLimited } from './rate-limit.ts';
import { writeRawResponse } from './raw-response.ts';
import { noRouteBody, type Routing } from './table.ts';
import type { RoutedService, Upstream } from './upstream.ts';
import { type RelayHost, WsRelay } from './websocket.ts';

/** What the upgrade path needs of its worker. */
export interface UpgradeHost extends RelayHost {
  readonly settings: GatewaySettings;
  readonly routing: Routing;
  readonly draining: boolean;
  readonly retiring: boolean;
  readonly rejected: WeakSet<net.Socket>;
  readonly makeRequestId: () => string;
  readonly trusted: (peer: string | undefined) => boolean;
}

export function handleUpgrade(gw: UpgradeHost, req: GatewayRequest, socket: net.Socket, head: Buffer): void {
  socket.on('error', noop);
  if (gw.rejected.has(socket)) {
    socket.destroy();
    return;
  }
  const info: RequestHeadInfo = {
    host: undefined,
    contentLength: undefined,
    chunked: false,
    requestId: undefined,
  };
  const peer = socket.remoteAddress;
  const headers = buildUpstreamHeaders(req.rawHeaders, peer, info, gw.makeRequestId, gw.trusted(peer));
  // A retiring worker relays the upgrade like a plain request in the same spot (served, with
  // `Connection: close`): the WebSocket is then closed with 1001 with the others when the drain begins,
  // and its client reconnects to the new generation. Only a stopping gateway turns it away.
  if (gw.draining && !gw.retiring) {
    writeRawResponse(socket, 503, 'Service Unavailable', 'cutover: gateway shutting down\n', info.requestId);
    return;
  }
  const rejection = checkRequestHead(req, gw.settings, true);
  if (rejection !== null) {
    gw.rejected.add(socket);
    const reason = STATUS_TEXT[rejection.status];
    writeRawResponse(socket, rejection.status, reason, rejectionBody(rejection), info.requestId);
    return;
  }
  const invalid = checkWebSocketHandshake(req);
  if (invalid !== null) {
    gw.rejected.add(socket);
    const body = `cutover: bad upgrade request: ${invalid}\n`;
    writeRawResponse(socket, 400, 'Bad Request', body, info.requestId);
    return;
  }
  const path = req.url!;
  const service = gw.routing.router.match(info.host, path);
  if (service === undefined) {
    writeRawResponse(socket, 404, 'Not Found', noRouteBody(info.host, path), info.requestId);
    return;
  }
  const first = pickFor(service, req, path);
  const chosen = first.up;
  if (chosen === null) {
    refuseNoInstance(socket, service, first.role, info.requestId);
    return;
  }
  let text = `GET ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  text += 'connection: Upgrade\r\nupgrade: websocket\r\n\r\n';
  const upstreamHead = Buffer.from(text, 'latin1');
  const requestId = info.requestId!;
  const relay = (): void => {
    if (socket.destroyed) return;
    if (!chosen.retired) {
      new WsRelay(gw, service, chosen, socket, upstreamHead, head, requestId, first.role);
      return;
    }
    // The table moved on while a limit was asked.
    const now = gw.routing.current(service);
    const again = pickFor(now, req, path);
    if (again.up === null) refuseNoInstance(socket, now, again.role, requestId);
    else new WsRelay(gw, now, again.up, socket, upstreamHead, head, requestId, again.role);
  };
  // The service's limits count an upgrade like any request: its connection takes a slot of
  // maxConnectionsPerClient (held while the WebSocket is open), and it spends a rate token.
  const rateStage = (): void => {
    const rate = service.rate;
    if (rate === null) {
      relay();
      return;
    }
    const key = rate.keyOf(req.headers, path, peer);
    const now = Date.now();
    if (rate.take(key, now)) relay();
    else rate.wait(key, new WaitingUpgrade(socket, requestId), chosen.stats, relay, now);
  };
  const conns = service.connections;
  if (conns !== null && peer !== undefined && !conns.holds(socket, peer)) {
    conns.wait(socket, peer, new WaitingUpgrade(socket, requestId), chosen.stats, rateStage);
    return;
  }
  rateStage();
}

/** The instance for a new WebSocket of `service` (by traffic role when it has `traffic`). */
function pickFor(
  service: RoutedService,
  req: GatewayRequest,
  path: string,
): { up: Upstream | null; role: UpstreamRole | null } {
  if (service.traffic === null) return { up: service.pickLongLived(), role: null };
  const role = service.traffic.decide(req.headers, path);
  return { up: service.groupFor(role)?.pick(null) ?? null, role };
}

function refuseNoInstance(
  socket: net.Socket,
  service: RoutedService,
  role: UpstreamRole | null,
  requestId: string | undefined,
): void {
  const body = role === 'preview' ? service.noPreviewBody : service.noInstanceBody;
  writeRawResponse(socket, 503, 'Service Unavailable', body, requestId);
}

/** An upgrade waiting for a limit (a connection slot, a rate token): 429 on the raw socket, or gone with it. */
class WaitingUpgrade implements RateLimited {
  readonly #socket: net.Socket;
  readonly #requestId: string;
  finished = false;

  constructor(socket: net.Socket, requestId: string) {
    this.#socket = socket;
    this.#requestId = requestId;
    socket.once('close', () => {
      this.finished = true;
    });
  }

  sendLimited(status: number, body: string, retryAfterSeconds: number, extra?: readonly string[]): void {
    this.finished = true;
    const fields = ['Retry-After', `${retryAfterSeconds}`, ...(extra ?? [])];
    writeRawResponse(this.#socket, status, 'Too Many Requests', body, this.#requestId, fields);
  }
}

function noop(): void {}
