/**
 * acme-client, loaded on first use. With the axios it brings it adds ~37 MB to a process's RSS, and
 * every gateway master and controller would pay that at start-up even without one ACME certificate.
 */
export type AcmeModule = typeof import('acme-client');

let loading: Promise<AcmeModule> | undefined;

export function loadAcme(): Promise<AcmeModule> {
  loading ??= import('acme-client');
  return loading;
}
