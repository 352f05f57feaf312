import { type Access, admin, isRole, ROLES } from '../auth/roles.ts';
import { ADMIN_TOKEN_NAME, TOKEN_NAME_RE } from '../auth/tokens.ts';
import { type Handler, onlyKeys, readJson } from './body.ts';
import { ApiError } from './errors.ts';
import type { Security } from './guard.ts';

/** Token requests are small. */
const MAX_BODY_BYTES = 64 * 1024;

/** Same shape as the control API's routes: method, path pattern, handler, access. */
export type SecurityRoute = [string, RegExp, Handler, Access];

export function limitParam(url: URL, def: number, max: number): number {
  const raw = url.searchParams.get('limit');
  if (raw === null) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ApiError(400, 'invalid_query', 'limit: must be an integer >= 1');
  return Math.min(n, max);
}

/** Token and audit endpoints (all admin-only). `services()` lists the configured service names. */
export function securityRoutes(sec: Security, services: () => string[]): SecurityRoute[] {
  return [
    [
      'POST',
      /^\/v1\/tokens$/,
      async (req, res) => {
        const body = await readJson(req, MAX_BODY_BYTES);
        onlyKeys(body, ['name', 'role', 'services']);
        const { name, role } = body;
        if (typeof name !== 'string' || !TOKEN_NAME_RE.test(name)) {
          throw new ApiError(400, 'invalid_body', 'name: required, 1-64 letters, digits, ".", "_" or "-"');
        }
        if (!isRole(role))
          throw new ApiError(400, 'invalid_body', `role: must be one of ${ROLES.join(', ')}`);
        const list = body.services ?? [];
        if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) {
          throw new ApiError(400, 'invalid_body', 'services: must be a list of service names');
        }
        const wanted = [...new Set(list as string[])];
        if (wanted.length > 0 && role !== 'deployer') {
          throw new ApiError(400, 'invalid_body', 'services: only deployer tokens are limited to services');
        }
        const known = services();
        const unknown = wanted.filter((s) => !known.includes(s));
        if (unknown.length > 0) {
          throw new ApiError(
            400,
            'invalid_body',
            `services: unknown service ${unknown.map((s) => `"${s}"`).join(', ')} (services: ${known.join(', ')})`,
          );
        }
        const made = await sec.tokenWrites.create(name, role, wanted);
        if (!made) throw new ApiError(409, 'token_exists', `a token named "${name}" already exists`);
        res.statusCode = 201;
        return { ...made.info, token: made.token };
      },
      admin('token.create'),
    ],
    ['GET', /^\/v1\/tokens$/, async () => ({ tokens: sec.tokens.list() }), admin()],
    [
      'DELETE',
      /^\/v1\/tokens\/(?<token>[^/]+)$/,
      async (_req, _res, p) => {
        if (p.token === ADMIN_TOKEN_NAME) {
          throw new ApiError(
            409,
            'protected_token',
            `the "${ADMIN_TOKEN_NAME}" token is the local admin token; to rotate it, delete <dataDir>/admin.token and restart cutover up`,
          );
        }
        if (!(await sec.tokenWrites.revoke(p.token)))
          throw new ApiError(404, 'unknown_token', `no token named "${p.token}"`);
        return { revoked: p.token };
      },
      admin('token.revoke'),
    ],
    [
      'GET',
      /^\/v1\/audit$/,
      async (_req, _res, _p, url) => {
        const service = url.searchParams.get('service') ?? undefined;
        return { entries: sec.audit.list({ service, limit: limitParam(url, 100, 100_000) }) };
      },
      admin(),
    ],
    ['GET', /^\/v1\/audit\/verify$/, async () => sec.audit.verify(), admin()],
  ];
}
