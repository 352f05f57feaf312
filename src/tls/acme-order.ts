/**
 * One ACME order for one host over HTTP-01 (RFC 8555 section 7.4): order, publish each challenge
 * token through the responder, tell the CA, wait for the verdict, finalize with a fresh key's CSR,
 * download the chain. Tokens are withdrawn whatever the outcome.
 */
import type { Client } from 'acme-client';
import type { Logger } from '../log/logger.ts';
import { newEcKeyPem } from './acme-account.ts';
import { loadAcme } from './acme-lib.ts';

/** Serves `/.well-known/acme-challenge/<token>` on every plain listener the CA may reach. */
export interface ChallengeResponder {
  /** Resolves once every listener answers `keyAuthorization` for `token`. */
  publish(token: string, keyAuthorization: string): Promise<void>;
  withdraw(token: string): Promise<void>;
}

export interface OrderedCertificate {
  certPem: string;
  keyPem: string;
}

/** Orders a certificate for `host`; a failure's message names the host and the stage that failed. */
export async function orderCertificate(
  client: Client,
  host: string,
  responder: ChallengeResponder,
  logger: Logger,
): Promise<OrderedCertificate> {
  let stage = 'creating the order';
  const published: string[] = [];
  try {
    let order = await client.createOrder({ identifiers: [{ type: 'dns', value: host }] });
    stage = 'reading the authorizations';
    const authorizations = await client.getAuthorizations(order);
    for (const authz of authorizations) {
      // An authorization the CA still holds as valid (recent earlier order) needs no challenge.
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === 'http-01');
      if (challenge === undefined) {
        stage = 'choosing a challenge';
        throw new Error(`the CA offered no http-01 challenge for ${authz.identifier.value}`);
      }
      stage = 'publishing the http-01 token';
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      await responder.publish(challenge.token, keyAuthorization);
      published.push(challenge.token);
      stage = 'validating the http-01 challenge';
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    }
    stage = 'waiting for the order to be ready';
    // The polled object lacks the order's own URL, which finalizing and downloading need.
    order = { ...(await client.waitForValidStatus(order)), url: order.url };
    stage = 'finalizing the order';
    const keyPem = newEcKeyPem();
    const [, csr] = await (await loadAcme()).crypto.createCsr({ commonName: host, altNames: [host] }, keyPem);
    const finalized = await client.finalizeOrder(order, csr);
    stage = 'downloading the certificate';
    const certPem = await client.getCertificate(finalized);
    return { certPem, keyPem };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(`acme order for ${host} failed while ${stage}: ${detail || 'no detail from the CA'}`, {
      cause: err,
    });
  } finally {
    for (const token of published) {
      try {
        await responder.withdraw(token);
      } catch (err) {
        logger.warn('acme challenge token not withdrawn', { host, token, error: String(err) });
      }
    }
  }
}
