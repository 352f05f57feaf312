/** `/metrics` families for the gateway's TLS certificates (from its GET /certs). */
import type { CertificateStatus } from '../gateway/master-certs.ts';
import { families, type MetricFamily } from './text.ts';

const FAMILIES = {
  expiry: [
    'cutover_certificate_expiry_timestamp_seconds',
    'gauge',
    'When the certificate serving these hosts expires (Unix time)',
  ],
  renewal: [
    'cutover_certificate_renewal_timestamp_seconds',
    'gauge',
    'When the certificate is renewed (ACME) or should be replaced (static)',
  ],
  failed: [
    'cutover_certificate_failed',
    'gauge',
    '1 when the last ACME order or file load for these hosts failed (the previous certificate stays in use)',
  ],
  failures: ['cutover_certificate_order_failures', 'gauge', 'Failed ACME orders in a row for the host'],
} as const;

export function certificateFamilies(certs: readonly CertificateStatus[]): MetricFamily[] {
  if (certs.length === 0) return [];
  const f = families(FAMILIES);
  for (const c of certs) {
    const labels = { hosts: c.hosts.join(','), source: c.source };
    if (c.notAfter !== undefined) f.expiry.samples.push({ labels, value: Date.parse(c.notAfter) / 1000 });
    if (c.renewAt !== undefined) f.renewal.samples.push({ labels, value: Date.parse(c.renewAt) / 1000 });
    f.failed.samples.push({ labels, value: c.state === 'failed' ? 1 : 0 });
    if (c.source === 'acme') f.failures.samples.push({ labels, value: c.failures ?? 0 });
  }
  return Object.values(f);
}
