/** `/metrics` families for the gateway's client listeners (TLS handshakes, HTTP/2 sessions). */
import type { ListenerCounters } from '../gateway/protocol.ts';
import { families, type MetricFamily } from './text.ts';

const FAMILIES = {
  handshakes: [
    'cutover_gateway_tls_handshakes_total',
    'counter',
    'TLS handshakes completed on the HTTPS listener',
  ],
  handshakeErrors: [
    'cutover_gateway_tls_handshake_errors_total',
    'counter',
    'TLS handshakes that failed (bad hello, no shared cipher, timeout, reset)',
  ],
  plainHttp: [
    'cutover_gateway_tls_plain_http_total',
    'counter',
    'Plain HTTP requests sent to the HTTPS listener (answered 400)',
  ],
  h2Opened: [
    'cutover_gateway_http2_sessions_total',
    'counter',
    'HTTP/2 client sessions opened (TLS h2 and h2c)',
  ],
  h2Open: ['cutover_gateway_http2_sessions', 'gauge', 'HTTP/2 client sessions open now'],
} as const;

export function listenerFamilies(c: ListenerCounters | undefined): MetricFamily[] {
  if (c === undefined) return [];
  const f = families(FAMILIES);
  f.handshakes.samples.push({ labels: {}, value: c.tlsHandshakes });
  f.handshakeErrors.samples.push({ labels: {}, value: c.tlsHandshakeErrors });
  f.plainHttp.samples.push({ labels: {}, value: c.plainHttpOnTls });
  f.h2Opened.samples.push({ labels: {}, value: c.h2SessionsOpened });
  f.h2Open.samples.push({ labels: {}, value: c.h2Sessions });
  return Object.values(f);
}
