/**
 * The ACME account: one key, kept in the certificate store and reused for ever, and the account URL
 * at the current CA, so a restart signs with the same account without asking the CA again.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Client } from 'acme-client';
import type { Logger } from '../log/logger.ts';
import { loadAcme } from './acme-lib.ts';
import type { CertStore } from './cert-store.ts';

export interface AccountOptions {
  directory: string;
  /** Contact address; '' registers without one. */
  email: string;
  store: CertStore;
  logger: Logger;
  /** How the client polls orders and challenges for a final status. */
  poll: PollPolicy;
}

export interface PollPolicy {
  /** First wait between status polls (doubling after each). */
  minMs: number;
  maxMs: number;
  attempts: number;
}

/** A new P-256 key (PKCS#8 PEM): small, fast to sign with, accepted by every ACME CA. */
export function newEcKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A client signed by the stored account (created at the CA, and its key stored, the first time). */
export async function openAccount(opts: AccountOptions): Promise<Client> {
  const { store, directory, logger } = opts;
  let accountKey = await store.loadAccountKey();
  if (accountKey === undefined) {
    accountKey = newEcKeyPem();
    await store.saveAccountKey(accountKey);
    logger.info('acme account key created', { dir: store.dir });
  }
  const saved = await store.loadAccount();
  const accountUrl = saved !== undefined && saved.directory === directory ? saved.url : undefined;
  const { Client: AcmeClient } = await loadAcme();
  const client = new AcmeClient({
    directoryUrl: directory,
    accountKey,
    ...(accountUrl === undefined ? {} : { accountUrl }),
    backoffMin: opts.poll.minMs,
    backoffMax: opts.poll.maxMs,
    backoffAttempts: opts.poll.attempts,
  });
  if (accountUrl === undefined) {
    // newAccount with a known key returns the existing account, so this is safe to repeat.
    await client.createAccount({
      termsOfServiceAgreed: true,
      ...(opts.email === '' ? {} : { contact: [`mailto:${opts.email}`] }),
    });
    const url = client.getAccountUrl();
    await store.saveAccount({ directory, url });
    logger.info('acme account registered', { directory, account: url });
  }
  return client;
}
