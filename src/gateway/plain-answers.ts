/**
 * What the plain listener answers itself when the gateway serves HTTPS (`tls`): ACME HTTP-01 challenges
 * (`/.well-known/acme-challenge/TOKEN`, from the tokens the master published) and, with `redirectHttp`,
 * a 308 to the same URL on https. Everything else is routed as usual.
 */
import type { Exchange } from './exchange.ts';

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** What the answers need of their worker. */
export interface PlainAnswersHost {
  /** token -> key authorization. */
  readonly challenges: Map<string, string>;
  /** Redirect to https (`tls.redirectHttp`). */
  readonly redirectHttp: boolean;
  /** The port the HTTPS listener is on (omitted from the Location when 443). */
  tlsPort(): number;
}

export function answerPlain(host: PlainAnswersHost, ex: Exchange, path: string): boolean {
  if (path.startsWith(ACME_CHALLENGE_PREFIX)) {
    const token = path.slice(ACME_CHALLENGE_PREFIX.length);
    const keyAuthorization = host.challenges.get(token);
    if (keyAuthorization === undefined) {
      // Not ours: a service may serve its own challenges (a certificate it manages itself).
      return false;
    }
    ex.answer(200, ['content-type', 'text/plain'], keyAuthorization);
    return true;
  }
  if (!host.redirectHttp) return false;
  const name = hostWithoutPort(ex.host ?? '');
  if (name === '') return false;
  const port = host.tlsPort();
  const location = `https://${name}${port === 443 || port === 0 ? '' : `:${port}`}${path}`;
  ex.answer(
    308,
    ['location', location, 'content-type', 'text/plain; charset=utf-8'],
    `redirecting to ${location}\n`,
  );
  return true;
}

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? '' : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
