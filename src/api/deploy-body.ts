/** The body of `POST /v1/services/NAME/deploy` (single host and fleet alike): a version and run overrides. */
import type http from 'node:http';
import { applyRunOverrides } from '../config/overrides.ts';
import type { RunSpec, ServiceConfig } from '../config/types.ts';
import { onlyKeys, readJson } from './body.ts';
import { ApiError } from './errors.ts';

const VERSION_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** The revision to deploy: `version` and the service's run spec with `set` applied; 400 on bad input. */
export async function readDeployBody(
  req: http.IncomingMessage,
  svc: ServiceConfig,
  configDir: string,
): Promise<{ version: string; run: RunSpec }> {
  const body = await readJson(req);
  onlyKeys(body, ['version', 'set']);
  if (typeof body.version !== 'string' || !VERSION_RE.test(body.version)) {
    throw new ApiError(400, 'invalid_body', 'version: required, letters, digits, ".", "_" or "-" (e.g. v2)');
  }
  const sets = body.set ?? [];
  if (!Array.isArray(sets) || sets.some((x) => typeof x !== 'string')) {
    throw new ApiError(400, 'invalid_body', 'set: must be a list of "KEY=VALUE" strings');
  }
  const o = applyRunOverrides(svc.run, sets as string[], configDir);
  if (!o.ok) {
    const text = o.issues
      .map((i) => `${i.path}: ${i.message}${i.line ? ` (line ${i.line})` : ''}`)
      .join('; ');
    throw new ApiError(400, 'invalid_body', text, o.issues);
  }
  return { version: body.version, run: o.run };
}
