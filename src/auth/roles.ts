/** Roles a token can have, weakest first. */
export const ROLES = ['viewer', 'deployer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a route needs:
 * - `public`: no token (only `GET /healthz`);
 * - `read`: any valid token (viewer, deployer, admin);
 * - `operate`: deployer on the route's service (`:name`), or admin;
 * - `admin`: admin only.
 */
export type Permission = 'public' | 'read' | 'operate' | 'admin';

/**
 * A route's access rule. `action` names the operation in the audit trail; `{param}` is replaced
 * by that route parameter (e.g. `{op}` -> `promote`). Without it the audit uses `METHOD /path`.
 */
export interface Access {
  perm: Permission;
  action?: string;
}

export const PUBLIC: Access = { perm: 'public' };
export const READ: Access = { perm: 'read' };
export const operate = (action: string): Access => ({ perm: 'operate', action });
export const admin = (action?: string): Access => ({ perm: 'admin', action });
/** Routes that declare no access rule are admin-only (deny by default). */
export const DEFAULT_ACCESS: Access = { perm: 'admin' };

/** Who made a request (a valid token). */
export interface Principal {
  name: string;
  role: Role;
  /** Services a deployer may operate on; empty = all. */
  services: string[];
}

export type Decision = { ok: true } | { ok: false; message: string };

/** Whether `who` may use a route with `access` on `service` (the route's `:name`, if any). */
export function authorize(who: Principal, access: Access, service: string | undefined): Decision {
  switch (access.perm) {
    case 'public':
    case 'read':
      return { ok: true };
    case 'admin':
      return who.role === 'admin'
        ? { ok: true }
        : { ok: false, message: `token "${who.name}" (${who.role}) is not allowed to do this: needs admin` };
    case 'operate': {
      if (who.role === 'admin') return { ok: true };
      if (who.role !== 'deployer') {
        return {
          ok: false,
          message: `token "${who.name}" (${who.role}) is not allowed to do this: needs deployer or admin`,
        };
      }
      if (who.services.length === 0) return { ok: true };
      if (service !== undefined && who.services.includes(service)) return { ok: true };
      return {
        ok: false,
        message: `token "${who.name}" may only operate on ${who.services.map((s) => `"${s}"`).join(', ')}${service ? `, not "${service}"` : ''}`,
      };
    }
  }
}

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** The audit action of a route: its template with `{param}`s filled in, or `METHOD /path`. */
export function actionName(
  access: Access,
  params: Record<string, string>,
  method: string,
  path: string,
): string {
  if (!access.action) return `${method} ${path}`;
  return access.action.replace(/\{(\w+)\}/g, (_m, k: string) => params[k] ?? k);
}
